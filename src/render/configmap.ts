/**
 * ConfigMap `<c>-config` (ARCHITECTURE.md section 3): my.cnf, the container scripts, which are
 * real files (src/render/scripts/*.sh, src/backup/scripts/*.sh) embedded at build time
 * (`npm run gen`), and settings.env, the constants they source (src/api/settings.ts): scripts
 * and settings change together, atomically, even for pods of an older pod template. Contains no
 * secrets: passwords reach the scripts as files of the mounted Secrets (src/render/statefulset.ts).
 *
 * One ConfigMap serves the database pods and the cluster's own backup Jobs (the schedules'
 * CronJobs, and the final-backup Job, which runs while the cluster's children are kept); a
 * MySQLBackup's Jobs mount the backup's own ConfigMap (src/backup/job.ts), since they may outlive
 * the cluster. The pod-template hash that rolls the database pods covers only the files those pods
 * read (`database`): a change to backup.sh alone must not restart every instance; backup Jobs
 * mount only their own files (`items`) and read them when they start.
 */
import { createHash } from "node:crypto";
import type { Cluster } from "../api/cluster.js";
import type { Child } from "../api/k8s.js";
import { BACKUP_SCRIPT_FILES } from "../backup/job.js";
import { SEED_SCRIPT_FILES, seedsFromBackups } from "../backup/seed.js";
import { childNames, standardLabels } from "../api/names.js";
import { renderMyCnf } from "./mycnf.js";
import { renderSettings, SETTINGS_FILE } from "../api/settings.js";
import { ANNOTATION_SPEC } from "../api/constants.js";
import { specAnnotation } from "../api/last-valid-spec.js";
import { ACCOUNTS_SH, ENTRYPOINT_SH, INSTANCE_SH, PROBE_SH } from "./scripts/embedded.js";

/** The files of the ConfigMap, keyed by file name, split by who reads them. */
export interface ConfigFiles {
  /** Read by the database pods (entrypoint, probes, seeding init containers): hashed. */
  database: Record<string, string>;
  /** Read only by backup Jobs: not part of the pod-template hash. */
  backupOnly: Record<string, string>;
}

function sortedKeys(data: Record<string, string>): Record<string, string> {
  return Object.fromEntries(
    Object.keys(data)
      .sort()
      .map((k) => [k, data[k] ?? ""]),
  );
}

/** The files of the ConfigMap: the database pods' and the backup Jobs'. */
export function configFiles(cluster: Cluster): ConfigFiles {
  // Seeding from a backup (docs/backups.md); absent otherwise, so other configs are unchanged.
  const seed = seedsFromBackups(cluster) ? SEED_SCRIPT_FILES : {};
  const database = sortedKeys({
    "accounts.sh": ACCOUNTS_SH,
    "entrypoint.sh": ENTRYPOINT_SH,
    "instance.sh": INSTANCE_SH,
    "my.cnf": renderMyCnf(cluster.spec, cluster.name),
    "probe.sh": PROBE_SH,
    // The flavor and the operator's constants the scripts source (src/api/settings.ts).
    [SETTINGS_FILE]: renderSettings(cluster.spec.flavor, { remoteRoot: cluster.spec.remoteRoot }),
    ...seed,
  });
  const backupOnly = sortedKeys(Object.fromEntries(Object.entries(BACKUP_SCRIPT_FILES).filter(([k]) => !(k in database))));
  return { database, backupOnly };
}

/** The data of the ConfigMap, keyed by file name. */
export function configData(cluster: Cluster): Record<string, string> {
  const { database, backupOnly } = configFiles(cluster);
  return sortedKeys({ ...database, ...backupOnly });
}

/** sha256 of configuration data, put on the pod template so a change rolls the pods. */
export function configHash(data: Record<string, string>): string {
  const h = createHash("sha256");
  for (const key of Object.keys(data).sort()) h.update(`${key}\0${data[key]}\0`);
  return h.digest("hex").slice(0, 16);
}

/**
 * The ConfigMap child. Its annotation `metamysql.dev/spec` records the spec it was rendered from:
 * the last valid spec, should the parent's become invalid (src/api/last-valid-spec.ts).
 */
export function buildConfigMap(cluster: Cluster, data: Record<string, string>): Child {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: {
      name: childNames(cluster.name).config,
      labels: standardLabels(cluster),
      annotations: { [ANNOTATION_SPEC]: specAnnotation(cluster.spec) },
    },
    data,
  };
}
