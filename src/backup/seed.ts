/**
 * Seeding instances from a backup (`spec.initDB.fromBackup`, docs/backups.md), as an additive
 * change of the StatefulSet's pod template, only when initDB.fromBackup is set:
 * - PVC storage: the backup's claim is mounted read-only at /backup-source and the entrypoint
 *   restores from /backup-source/<path>.
 * - S3 storage: an init container (backup tools image) downloads meta.json and the dump into
 *   the emptyDir /seed (only while the data dir is not initialized); the entrypoint restores it.
 * - Backup schedules: a fresh data dir (scale-up, re-seed) seeds from the newest complete backup
 *   of this cluster in the first schedule's storage (withLatestSeed), before initDB.fromBackup.
 * The entrypoint (seed.sh check) refuses an incomplete backup (no meta.json), one whose meta.json
 * is unsigned or not signed by the expected key (this cluster's own for its scheduled backups,
 * the key in initDB.fromBackup.signingKeySecretName for a restore), a damaged one (sha256, which
 * the signature covers), one with a malformed GTID position, and one of another flavor or major
 * version. The keys are mounted as files (only `signing-key`, never the password next to it),
 * only into the containers that verify: the database container and `fetch-latest-seed`.
 */
import type { Cluster } from "../api/cluster.js";
import { CONFIG_DIR, CONFIG_VOLUME, DATA_DIR, DATA_VOLUME, SECRET_BACKUP_SIGNING_KEY, SIGNING_KEY_DIR } from "../api/constants.js";
import { childNames } from "../api/names.js";
import type { Child } from "../api/k8s.js";
import { scheduledRoot } from "./cluster-children.js";
import { BACKUP_TOOLS_IMAGE, OWN_SIGNING_KEY_DIR, OWN_SIGNING_KEY_FILE, signingKeyVolume, storageEnv } from "./job.js";
import { BACKUP_COMMON_SH, SEED_SH } from "./scripts/embedded.js";

const SOURCE_DIR = "/backup-source";
const SEED_DIR = "/seed";
const LATEST_DIR = "/backup-latest";
/** The key of the cluster that took an initDB.fromBackup backup. */
const SOURCE_KEY_DIR = `${SIGNING_KEY_DIR}/source`;
const OWN_KEY_VOLUME = "signing-key";
const SOURCE_KEY_VOLUME = "seed-signing-key";

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
  // This cluster's own key: its scheduled backups are signed with it.
  const ownKeyMount = { name: OWN_KEY_VOLUME, mountPath: OWN_SIGNING_KEY_DIR, readOnly: true };
  volumes.push(signingKeyVolume(OWN_KEY_VOLUME, childNames(cluster.name).backupSecret));
  mounts.push(ownKeyMount);
  env.push({ name: "METAMYSQL_SIGNING_KEY_FILE", value: OWN_SIGNING_KEY_FILE });
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
    fetchContainer(
      "fetch-latest-seed",
      "fetch-latest",
      { name: "seed-latest", mountPath: LATEST_DIR },
      [
        { name: "METAMYSQL_SEED_SCAN", value: LATEST_DIR },
        { name: "METAMYSQL_SIGNING_KEY_FILE", value: OWN_SIGNING_KEY_FILE },
        { name: "METAMYSQL_SEED_S3_PATH", value: scheduledRoot(cluster.name) },
        { name: "METAMYSQL_CLUSTER", value: cluster.name },
        ...(cluster.uid ? [{ name: "METAMYSQL_CLUSTER_UID", value: cluster.uid }] : []),
        ...storageEnv(schedule.storage),
      ],
      [ownKeyMount],
    ),
  );
  podSpec["initContainers"] = init;
}

/**
 * An init container (tools image) that downloads a backup from S3 into an emptyDir while the
 * data dir is uninitialized (`seed.sh fetch|fetch-latest`, run from the pod's config volume,
 * ConfigMap `<c>-config`); the data dir is mounted read-only only to see whether it is.
 */
function fetchContainer(name: string, phase: string, target: { name: string; mountPath: string }, env: unknown[], extraMounts: unknown[] = []): Obj {
  return {
    name,
    image: BACKUP_TOOLS_IMAGE,
    imagePullPolicy: "IfNotPresent",
    command: ["bash", `${CONFIG_DIR}/seed.sh`, phase],
    env: [...env, { name: "METAMYSQL_DATA_DIR", value: DATA_DIR }],
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true },
    volumeMounts: [
      { name: DATA_VOLUME, mountPath: DATA_DIR, readOnly: true },
      { name: CONFIG_VOLUME, mountPath: CONFIG_DIR, readOnly: true },
      target,
      ...extraMounts,
    ],
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
  // The key of the cluster that took the backup (docs/backups.md "Signed backups").
  volumes.push(signingKeyVolume(SOURCE_KEY_VOLUME, from.signingKeySecretName));
  mounts.push({ name: SOURCE_KEY_VOLUME, mountPath: SOURCE_KEY_DIR, readOnly: true });
  env.push({ name: "METAMYSQL_SEED_KEY_FILE", value: `${SOURCE_KEY_DIR}/${SECRET_BACKUP_SIGNING_KEY}` });
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
