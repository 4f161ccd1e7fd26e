/**
 * Seeding instances from a backup (`spec.initDB.fromBackup`, docs/backups.md), as an additive
 * change of the StatefulSet's pod template, only when initDB.fromBackup is set:
 * - PVC storage: the backup's claim is mounted read-only at /backup-source and the entrypoint
 *   restores from /backup-source/<path>.
 * - S3 storage: an init container (backup tools image) downloads meta.json and the dump into
 *   the emptyDir /seed (only while the data dir is not initialized); the entrypoint restores it.
 * - Backup schedules: a fresh data dir (scale-up, re-seed) seeds from the newest complete backup
 *   of this cluster in the first schedule's storage (withLatestSeed), before initDB.fromBackup.
 * The entrypoint (seed.sh check) refuses an incomplete backup (no meta.json), a damaged one
 * (sha256) and one of another flavor or major version.
 */
import type { Cluster } from "../api/cluster.js";
import { CONFIG_DIR, CONFIG_VOLUME, DATA_DIR, DATA_VOLUME } from "../api/constants.js";
import type { Child } from "../api/k8s.js";
import { scheduledRoot } from "./cluster-children.js";
import { BACKUP_TOOLS_IMAGE, storageEnv } from "./job.js";
import { BACKUP_COMMON_SH, SEED_SH } from "./scripts/embedded.js";

const SOURCE_DIR = "/backup-source";
const SEED_DIR = "/seed";
const LATEST_DIR = "/backup-latest";

type Obj = Record<string, unknown>;

/**
 * The files of ConfigMap `<c>-config` that seeding runs (src/backup/scripts/seed.sh and what it
 * sources besides settings.env, which the ConfigMap always holds): the entrypoint runs `seed.sh latest|check|sql|position`, the S3 init containers
 * `seed.sh fetch|fetch-latest`. Only in the ConfigMap of clusters that can seed.
 */
export const SEED_SCRIPT_FILES: Readonly<Record<string, string>> = {
  "backup-common.sh": BACKUP_COMMON_SH,
  "seed.sh": SEED_SH,
};

/** True when fresh instances may seed from a backup (initDB.fromBackup or a backup schedule). */
export function seedsFromBackups(cluster: Cluster): boolean {
  return cluster.spec.initDB?.fromBackup !== undefined || (cluster.spec.backups?.schedules.length ?? 0) > 0;
}

/**
 * Seeding from the newest scheduled backup (docs/backups.md "Seeding new and re-seeded
 * replicas"): the first schedule's storage is where the entrypoint of a fresh data dir looks
 * (`seed.sh latest`), under `<cluster>/scheduled/`, for a complete backup of this cluster (uid).
 */
function withLatestSeed(cluster: Cluster, podSpec: Obj, env: unknown[], mounts: unknown[], volumes: unknown[]): void {
  const schedule = cluster.spec.backups?.schedules[0];
  if (!schedule) return;
  env.push({ name: "METAMYSQL_CLUSTER", value: cluster.name });
  if (cluster.uid) env.push({ name: "METAMYSQL_CLUSTER_UID", value: cluster.uid });
  const claim = schedule.storage.persistentVolumeClaim;
  if (claim) {
    volumes.push({ name: "backup-latest", persistentVolumeClaim: { claimName: claim.claimName, readOnly: true } });
    mounts.push({ name: "backup-latest", mountPath: LATEST_DIR, readOnly: true });
    env.push({ name: "METAMYSQL_SEED_SCAN", value: `${LATEST_DIR}/${scheduledRoot(cluster.name)}` });
    return;
  }
  volumes.push({ name: "seed-latest", emptyDir: {} });
  mounts.push({ name: "seed-latest", mountPath: LATEST_DIR });
  env.push({ name: "METAMYSQL_SEED_SCAN", value: LATEST_DIR });
  const init = (podSpec["initContainers"] as unknown[] | undefined) ?? [];
  init.push(
    fetchContainer("fetch-latest-seed", "fetch-latest", { name: "seed-latest", mountPath: LATEST_DIR }, [
      { name: "METAMYSQL_SEED_SCAN", value: LATEST_DIR },
      { name: "METAMYSQL_SEED_S3_PATH", value: scheduledRoot(cluster.name) },
      { name: "METAMYSQL_CLUSTER", value: cluster.name },
      ...(cluster.uid ? [{ name: "METAMYSQL_CLUSTER_UID", value: cluster.uid }] : []),
      ...storageEnv(schedule.storage),
    ]),
  );
  podSpec["initContainers"] = init;
}

/**
 * An init container (tools image) that downloads a backup from S3 into an emptyDir while the
 * data dir is uninitialized (`seed.sh fetch|fetch-latest`, run from the pod's config volume,
 * ConfigMap `<c>-config`); the data dir is mounted read-only only to see whether it is.
 */
function fetchContainer(name: string, phase: string, target: { name: string; mountPath: string }, env: unknown[]): Obj {
  return {
    name,
    image: BACKUP_TOOLS_IMAGE,
    imagePullPolicy: "IfNotPresent",
    command: ["bash", `${CONFIG_DIR}/seed.sh`, phase],
    env: [...env, { name: "METAMYSQL_DATA_DIR", value: DATA_DIR }],
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true },
    volumeMounts: [{ name: DATA_VOLUME, mountPath: DATA_DIR, readOnly: true }, { name: CONFIG_VOLUME, mountPath: CONFIG_DIR, readOnly: true }, target],
  };
}

/** The StatefulSet with seeding added when the cluster starts from a backup or has schedules. */
export function withSeeding(cluster: Cluster, sts: Child): Child {
  if (!seedsFromBackups(cluster)) return sts;
  const podSpec = ((sts["spec"] as Obj)["template"] as Obj)["spec"] as Obj;
  const containers = podSpec["containers"] as Obj[];
  const main = containers[0];
  if (!main) return sts;
  const env = main["env"] as unknown[];
  const mounts = main["volumeMounts"] as unknown[];
  const volumes = podSpec["volumes"] as unknown[];
  withLatestSeed(cluster, podSpec, env, mounts, volumes);
  const from = cluster.spec.initDB?.fromBackup;
  if (!from) return sts;
  const claim = from.storage.persistentVolumeClaim;
  if (claim) {
    volumes.push({ name: "backup-source", persistentVolumeClaim: { claimName: claim.claimName, readOnly: true } });
    mounts.push({ name: "backup-source", mountPath: SOURCE_DIR, readOnly: true });
    env.push({ name: "METAMYSQL_SEED_DIR", value: `${SOURCE_DIR}/${from.path}` });
    return sts;
  }
  volumes.push({ name: "seed", emptyDir: {} });
  mounts.push({ name: "seed", mountPath: SEED_DIR });
  env.push({ name: "METAMYSQL_SEED_DIR", value: SEED_DIR });
  podSpec["initContainers"] = [
    ...((podSpec["initContainers"] as unknown[] | undefined) ?? []),
    fetchContainer("fetch-seed", "fetch", { name: "seed", mountPath: SEED_DIR }, [
      { name: "METAMYSQL_SEED_DIR", value: SEED_DIR },
      { name: "METAMYSQL_SEED_PATH", value: from.path },
      ...storageEnv(from.storage),
    ]),
  ];
  return sts;
}
