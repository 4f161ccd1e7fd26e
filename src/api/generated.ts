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
import { DATABASE_KIND, DATABASE_PLURAL, DATABASE_SHORT_NAME, MySQLDatabaseSpecSchema, MySQLDatabaseStatusSchema } from "./database.js";
import { MySQLUserSpecSchema, MySQLUserStatusSchema, USER_KIND, USER_PLURAL, USER_SHORT_NAME } from "./user.js";

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

/** Printer columns of MySQLDatabase and MySQLUser. */
const APP_OBJECT_COLUMNS = [
  { name: "Cluster", type: "string", jsonPath: ".spec.clusterName", description: "Cluster." },
  { name: "State", type: "string", jsonPath: ".status.state", description: "Pending, Ready, Failed or Invalid." },
  { name: "Message", type: "string", jsonPath: ".status.message", description: "Why, when not Ready.", priority: 1 },
  { name: "Age", type: "date", jsonPath: ".metadata.creationTimestamp" },
] as const;

/** The MySQLDatabase CustomResourceDefinition (docs/app-objects.md). */
export const MYSQLDATABASE_CRD: CrdDefinition = {
  group: GROUP,
  kind: DATABASE_KIND,
  plural: DATABASE_PLURAL,
  singular: DATABASE_KIND.toLowerCase(),
  shortNames: [DATABASE_SHORT_NAME],
  categories: ["metamysql"],
  scope: "Namespaced",
  versions: [
    {
      name: VERSION,
      served: true,
      storage: true,
      description: "MySQLDatabase is one schema on a MySQLCluster, created on its primary and replicated to every instance.",
      spec: MySQLDatabaseSpecSchema,
      specDefault: false,
      status: MySQLDatabaseStatusSchema,
      printerColumns: [
        APP_OBJECT_COLUMNS[0],
        { name: "Database", type: "string", jsonPath: ".status.database", description: "Schema on the server." },
        ...APP_OBJECT_COLUMNS.slice(1),
      ],
    },
  ],
};

/** The MySQLUser CustomResourceDefinition (docs/app-objects.md). */
export const MYSQLUSER_CRD: CrdDefinition = {
  group: GROUP,
  kind: USER_KIND,
  plural: USER_PLURAL,
  singular: USER_KIND.toLowerCase(),
  shortNames: [USER_SHORT_NAME],
  categories: ["metamysql"],
  scope: "Namespaced",
  metadataName: {
    pattern: CLUSTER_NAME_PATTERN,
    maxLength: 52,
    description: "Lower-case DNS label of at most 52 characters: it names the connection Secret `<name>-connection`.",
  },
  versions: [
    {
      name: VERSION,
      served: true,
      storage: true,
      description:
        "MySQLUser is one account on a MySQLCluster: its password from a Secret, exactly the declared grants, and a connection Secret <name>-connection for applications.",
      spec: MySQLUserSpecSchema,
      specDefault: false,
      status: MySQLUserStatusSchema,
      printerColumns: [
        APP_OBJECT_COLUMNS[0],
        { name: "User", type: "string", jsonPath: ".status.user", description: "User name of the account." },
        ...APP_OBJECT_COLUMNS.slice(1),
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
    path: "deploy/crds/mysqldatabases.yaml",
    render: () => renderCrdYaml(MYSQLDATABASE_CRD, "src/api/database.ts"),
  },
  {
    path: "deploy/crds/mysqlusers.yaml",
    render: () => renderCrdYaml(MYSQLUSER_CRD, "src/api/user.ts"),
  },
  {
    path: "docs/api.md",
    render: () =>
      renderApiDocs(
        [MYSQLCLUSTER_CRD, MYSQLBACKUP_CRD, MYSQLDATABASE_CRD, MYSQLUSER_CRD],
        "src/api/cluster.ts, src/api/backup.ts, src/api/database.ts and src/api/user.ts",
      ),
  },
];
