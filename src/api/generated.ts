/**
 * The custom resources of metamysql and every file generated from their zod schemas
 * (`npm run gen` writes them; test/unit/crd.test.ts fails when one is stale).
 * ARCHITECTURE.md section 2.
 */
import { renderApiDocs } from "./api-docs.js";
import { BACKUP_KIND, BACKUP_PLURAL, BACKUP_SHORT_NAME, MySQLBackupSpecSchema, MySQLBackupStatusSchema, RESERVED_BACKUP_NAME_RULE } from "./backup.js";
import { MySQLClusterSpecSchema, MySQLClusterStatusSchema } from "./cluster.js";
import { GROUP, CLUSTER_KIND, CLUSTER_PLURAL, CLUSTER_SHORT_NAME, VERSION } from "./constants.js";
import { renderCrdYaml, type CrdDefinition } from "./crd.js";

/**
 * Longest MySQLCluster name: the StatefulSet `<name>` labels its pods with
 * `controller-revision-hash: <name>-<hash of up to 10 characters>`, a label value of at most 63.
 */
export const MAX_CLUSTER_NAME_LENGTH = 52;
/** Cluster names become Service names (`<name>`, `<name>-ro`), which must be DNS-1035 labels. */
export const CLUSTER_NAME_PATTERN = "^[a-z]([-a-z0-9]*[a-z0-9])?$";

/** The MySQLCluster CustomResourceDefinition (ARCHITECTURE.md section 2). */
export const MYSQLCLUSTER_CRD: CrdDefinition = {
  group: GROUP,
  kind: CLUSTER_KIND,
  plural: CLUSTER_PLURAL,
  singular: CLUSTER_KIND.toLowerCase(),
  shortNames: [CLUSTER_SHORT_NAME],
  categories: ["metamysql"],
  scope: "Namespaced",
  metadataName: {
    pattern: CLUSTER_NAME_PATTERN,
    maxLength: MAX_CLUSTER_NAME_LENGTH,
    description: "Lower-case DNS label of at most 52 characters: it names the StatefulSet and the Services.",
  },
  versions: [
    {
      name: VERSION,
      served: true,
      storage: true,
      description: "MySQLCluster runs a highly available MySQL or MariaDB cluster with one writable primary and read-only replicas.",
      spec: MySQLClusterSpecSchema,
      status: MySQLClusterStatusSchema,
      printerColumns: [
        { name: "State", type: "string", jsonPath: ".status.state", description: "Cluster state." },
        { name: "Primary", type: "string", jsonPath: ".status.currentPrimary", description: "Pod of the writable primary." },
        { name: "Ready", type: "integer", jsonPath: ".status.readyInstances", description: "Ready instances." },
        { name: "Instances", type: "integer", jsonPath: ".spec.instances", description: "Desired instances." },
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ],
    },
  ],
};

/** The MySQLBackup CustomResourceDefinition (docs/backups.md). */
export const MYSQLBACKUP_CRD: CrdDefinition = {
  group: GROUP,
  kind: BACKUP_KIND,
  plural: BACKUP_PLURAL,
  singular: BACKUP_KIND.toLowerCase(),
  shortNames: [BACKUP_SHORT_NAME],
  categories: ["metamysql"],
  scope: "Namespaced",
  metadataName: {
    pattern: CLUSTER_NAME_PATTERN,
    maxLength: MAX_CLUSTER_NAME_LENGTH,
    description: "Lower-case DNS label of at most 52 characters: it names the backup Job and the backup's folder; not `scheduled` or `final`.",
    rules: [RESERVED_BACKUP_NAME_RULE],
  },
  versions: [
    {
      name: VERSION,
      served: true,
      storage: true,
      description: "MySQLBackup takes one logical backup of a MySQLCluster (a Job) to a PersistentVolumeClaim or S3; a finished backup is never re-run.",
      spec: MySQLBackupSpecSchema,
      specDefault: false,
      status: MySQLBackupStatusSchema,
      printerColumns: [
        { name: "Cluster", type: "string", jsonPath: ".spec.clusterName", description: "Backed-up cluster." },
        { name: "State", type: "string", jsonPath: ".status.state", description: "Backup state." },
        { name: "Size", type: "integer", jsonPath: ".status.sizeBytes", description: "Bytes stored." },
        { name: "Location", type: "string", jsonPath: ".status.location", description: "Where the backup is." },
        { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
      ],
    },
  ],
};

/** A file `npm run gen` writes, relative to the repository root. */
export interface GeneratedFile {
  path: string;
  render(): string;
}

/** Every generated file, in the order `npm run gen` writes them. */
export const GENERATED_FILES: readonly GeneratedFile[] = [
  {
    path: "deploy/crds/mysqlclusters.yaml",
    render: () => renderCrdYaml(MYSQLCLUSTER_CRD, "src/api/cluster.ts"),
  },
  {
    path: "deploy/crds/mysqlbackups.yaml",
    render: () => renderCrdYaml(MYSQLBACKUP_CRD, "src/api/backup.ts"),
  },
  {
    path: "docs/api.md",
    render: () => renderApiDocs([MYSQLCLUSTER_CRD, MYSQLBACKUP_CRD], "src/api/cluster.ts and src/api/backup.ts"),
  },
];
