/**
 * Pure builders of the backup Jobs (docs/backups.md): the Job of a MySQLBackup (and of the
 * final backup on cluster delete) and the CronJob of a schedule. Every container runs
 * `bash /etc/metamysql/backup.sh <phase>` (src/backup/scripts/backup.sh) from a ConfigMap: the
 * cluster's `<c>-config` for the CronJobs and the final backup (they exist only while the cluster
 * does; src/render/configmap.ts), the MySQLBackup's own `<backup>-backup-script` for its Jobs
 * (buildBackupScriptConfigMap), so a MySQLBackup's Jobs, its remove Job included, never depend on
 * the cluster. Deterministic: the same input gives byte-identical output.
 */
import type { BackupStorage, Compression } from "../api/backup.js";
import { BACKUP_USER, CONFIG_DIR, SECRET_BACKUP_PASSWORD, SECRET_BACKUP_SIGNING_KEY, SIGNING_KEY_DIR } from "../api/constants.js";
import type { Child } from "../api/k8s.js";
import { childNames } from "../api/names.js";
import { renderSettings, SETTINGS_FILE } from "../api/settings.js";
import { BACKUP_COMMON_SH, BACKUP_SH } from "./scripts/embedded.js";

/** Image with bash, rclone, gzip and zstd for the S3 steps (deploy/backup-tools/Dockerfile). */
export const BACKUP_TOOLS_IMAGE = "ghcr.io/metamysql/backup-tools:0.1.0";
/** Label on backup Jobs and their pods: the MySQLBackup (or `<cluster>-<schedule>`) they serve. */
export const LABEL_BACKUP = "metamysql.dev/backup";
/** Where the result (termination message) is written. */
export const RESULT_PATH = "/run/metamysql/result";
export const SCRATCH_DIR = "/scratch";
export const PVC_ROOT = "/backup";
/** The volume of the scripts in backup pods, mounted where the database pods have them. */
const SCRIPTS_VOLUME = "scripts";

/** Where a pod mounts its own cluster's signing key (the scripts' default SIGNING_KEY_FILE). */
export const OWN_SIGNING_KEY_DIR = `${SIGNING_KEY_DIR}/own`;
export const OWN_SIGNING_KEY_FILE = `${OWN_SIGNING_KEY_DIR}/${SECRET_BACKUP_SIGNING_KEY}`;

/** A volume with only the `signing-key` of Secret `secretName` (never the password next to it). */
export function signingKeyVolume(name: string, secretName: string): Record<string, unknown> {
  return { name, secret: { secretName, defaultMode: 0o440, items: [{ key: SECRET_BACKUP_SIGNING_KEY, path: SECRET_BACKUP_SIGNING_KEY }] } };
}

/**
 * The script files of ConfigMap `<c>-config` that backup Jobs run. Only these and settings.env
 * (what they source, src/api/settings.ts) are mounted (`items`): a backup pod needs neither
 * my.cnf nor the entrypoint, and the pod-template hash of the database pods does not cover
 * backup.sh (src/render/configmap.ts).
 */
export const BACKUP_SCRIPT_FILES: Readonly<Record<string, string>> = {
  "backup-common.sh": BACKUP_COMMON_SH,
  "backup.sh": BACKUP_SH,
};

/** The keys a backup pod mounts from its script ConfigMap. */
const BACKUP_POD_FILES = [...Object.keys(BACKUP_SCRIPT_FILES), SETTINGS_FILE].sort();

/** Name of the script ConfigMap a MySQLBackup owns. */
export function backupScriptConfigMapName(backup: string): string {
  return `${backup}-backup-script`;
}

/** The data of a MySQLBackup's own script ConfigMap: backup.sh and what it sources. */
export function backupScriptData(flavor: "mysql" | "mariadb"): Record<string, string> {
  const data: Record<string, string> = { ...BACKUP_SCRIPT_FILES, [SETTINGS_FILE]: renderSettings(flavor) };
  return Object.fromEntries(
    Object.keys(data)
      .sort()
      .map((k) => [k, data[k] ?? ""]),
  );
}

/** The script ConfigMap a MySQLBackup owns (its Jobs mount it instead of `<c>-config`). */
export function buildBackupScriptConfigMap(input: { name: string; labels: Record<string, string>; flavor: "mysql" | "mariadb" }): Child {
  return {
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: input.name, labels: input.labels },
    data: backupScriptData(input.flavor),
  };
}

/** An instance the backup may dump, in preference order (caught-up replicas first). */
export interface BackupSource {
  pod: string;
  ip: string;
}

/** What a backup Job needs. */
export interface BackupJobInput {
  name: string;
  labels: Record<string, string>;
  clusterName: string;
  /** The cluster's uid, recorded in meta.json: seeding uses only backups of the same cluster. */
  clusterUID?: string | undefined;
  flavor: "mysql" | "mariadb";
  /** Database image (mariadb-dump / mysqldump and the client). */
  image: string;
  /** Secret `<cluster>-backup-credentials` with the backup account's password. */
  backupSecret: string;
  sources: readonly BackupSource[];
  /** The primary: replicas must have applied its position at the start of the backup. */
  primary?: BackupSource | undefined;
  storage: BackupStorage;
  compression: Compression;
  /** Fixed path (MySQLBackup) or a folder plus retention (schedules: <dir>/<timestamp>). */
  target: { path: string } | { dir: string; keep: number };
  /** "backup" takes one; "remove" deletes `target.path` (deletionPolicy: Delete). */
  mode?: "backup" | "remove";
  /** The ConfigMap holding the scripts (default: the cluster's `<c>-config`). */
  scriptConfigMap?: string | undefined;
}

function s3Env(storage: BackupStorage): unknown[] {
  const s3 = storage.s3;
  if (!s3) return [];
  const key = (name: string, k: string) => ({ name, valueFrom: { secretKeyRef: { name: s3.credentialsSecretName, key: k } } });
  return [
    { name: "METAMYSQL_S3_BUCKET", value: s3.bucket },
    { name: "METAMYSQL_S3_PREFIX", value: (s3.prefix ?? "").replace(/\/+$/, "") },
    { name: "RCLONE_CONFIG_STORE_TYPE", value: "s3" },
    { name: "RCLONE_CONFIG_STORE_PROVIDER", value: s3.endpoint ? "Other" : "AWS" },
    ...(s3.endpoint ? [{ name: "RCLONE_CONFIG_STORE_ENDPOINT", value: s3.endpoint }] : []),
    ...(s3.region ? [{ name: "RCLONE_CONFIG_STORE_REGION", value: s3.region }] : []),
    { name: "RCLONE_CONFIG_STORE_FORCE_PATH_STYLE", value: s3.forcePathStyle === false ? "false" : "true" },
    key("RCLONE_CONFIG_STORE_ACCESS_KEY_ID", "access-key-id"),
    key("RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY", "secret-access-key"),
  ];
}

/** The environment every container of a backup pod shares (no secret values, only references). */
export function storageEnv(storage: BackupStorage): unknown[] {
  return [{ name: "METAMYSQL_STORAGE", value: storage.s3 ? "s3" : "pvc" }, { name: "METAMYSQL_PVC_ROOT", value: PVC_ROOT }, ...s3Env(storage)];
}

function backupEnv(input: BackupJobInput): unknown[] {
  const target =
    "path" in input.target
      ? [{ name: "METAMYSQL_BACKUP_PATH", value: input.target.path }]
      : [
          { name: "METAMYSQL_BACKUP_DIR", value: input.target.dir },
          { name: "METAMYSQL_KEEP", value: String(input.target.keep) },
        ];
  return [
    { name: "METAMYSQL_FLAVOR", value: input.flavor },
    { name: "METAMYSQL_CLUSTER", value: input.clusterName },
    ...(input.clusterUID ? [{ name: "METAMYSQL_CLUSTER_UID", value: input.clusterUID }] : []),
    { name: "METAMYSQL_SOURCES", value: input.sources.map((s) => `${s.pod}=${s.ip}`).join(" ") },
    { name: "METAMYSQL_PRIMARY", value: input.primary ? `${input.primary.pod}=${input.primary.ip}` : "" },
    { name: "METAMYSQL_COMPRESSION", value: input.compression },
    ...target,
    { name: "METAMYSQL_SCRATCH_DIR", value: SCRATCH_DIR },
    { name: "METAMYSQL_RESULT_FILE", value: RESULT_PATH },
    ...storageEnv(input.storage),
  ];
}

/** Only the container that talks to the database gets the backup account's password. */
function databaseEnv(input: BackupJobInput): unknown[] {
  return [
    { name: "METAMYSQL_BACKUP_USER", value: BACKUP_USER },
    { name: "METAMYSQL_BACKUP_PASSWORD", valueFrom: { secretKeyRef: { name: input.backupSecret, key: SECRET_BACKUP_PASSWORD } } },
  ];
}

function container(name: string, image: string, phase: string, env: unknown[], storage: BackupStorage, signs = false): Record<string, unknown> {
  const mounts: unknown[] = [
    { name: SCRIPTS_VOLUME, mountPath: CONFIG_DIR, readOnly: true },
    { name: "scratch", mountPath: SCRATCH_DIR },
    { name: "result", mountPath: "/run/metamysql" },
  ];
  // Only the dump container signs meta.json: only it mounts the key.
  if (signs) mounts.push({ name: "signing-key", mountPath: OWN_SIGNING_KEY_DIR, readOnly: true });
  if (storage.persistentVolumeClaim) mounts.push({ name: "backup", mountPath: PVC_ROOT });
  return {
    name,
    image,
    imagePullPolicy: "IfNotPresent",
    command: ["bash", `${CONFIG_DIR}/backup.sh`, phase],
    env,
    securityContext: { allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, runAsNonRoot: true },
    terminationMessagePath: RESULT_PATH,
    terminationMessagePolicy: "FallbackToLogsOnError",
    volumeMounts: mounts,
  };
}

/** The pod template of a backup (dump, and for S3 a preflight before and an upload after). */
export function backupPodTemplate(input: BackupJobInput): Record<string, unknown> {
  const env = backupEnv(input);
  const s3 = input.storage.s3 !== undefined;
  const mode = input.mode ?? "backup";
  const scripts = BACKUP_POD_FILES.map((key) => ({ key, path: key }));
  const configMap = input.scriptConfigMap ?? childNames(input.clusterName).config;
  const volumes: unknown[] = [
    { name: SCRIPTS_VOLUME, configMap: { name: configMap, defaultMode: 0o555, items: scripts } },
    { name: "scratch", emptyDir: {} },
    { name: "result", emptyDir: { medium: "Memory", sizeLimit: "1Mi" } },
  ];
  if (input.storage.persistentVolumeClaim)
    volumes.push({ name: "backup", persistentVolumeClaim: { claimName: input.storage.persistentVolumeClaim.claimName } });
  if (mode !== "remove") volumes.push(signingKeyVolume("signing-key", input.backupSecret));
  let initContainers: unknown[] = [];
  let containers: unknown[];
  const dumpEnv = [...env, ...databaseEnv(input), { name: "METAMYSQL_SIGNING_KEY_FILE", value: OWN_SIGNING_KEY_FILE }];
  if (mode === "remove") {
    containers = [container("remove", s3 ? BACKUP_TOOLS_IMAGE : input.image, "remove", env, input.storage)];
  } else if (s3) {
    initContainers = [
      container("preflight", BACKUP_TOOLS_IMAGE, "preflight", env, input.storage),
      container("dump", input.image, "dump", dumpEnv, input.storage, true),
    ];
    containers = [container("upload", BACKUP_TOOLS_IMAGE, "upload", env, input.storage)];
  } else {
    containers = [container("dump", input.image, "dump", dumpEnv, input.storage, true)];
  }
  return {
    metadata: { labels: input.labels },
    spec: {
      ...(initContainers.length ? { initContainers } : {}),
      // Dumps, restores and removals talk to MySQL and storage, never the Kubernetes API.
      automountServiceAccountToken: false,
      containers,
      enableServiceLinks: false,
      restartPolicy: "Never",
      securityContext: { fsGroup: 999, runAsGroup: 999, runAsNonRoot: true, runAsUser: 999, seccompProfile: { type: "RuntimeDefault" } },
      volumes,
    },
  };
}

/** The Job of one backup: never retried by Kubernetes (a failed backup is reported, not looped). */
export function buildBackupJob(input: BackupJobInput): Child {
  return {
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: input.name, labels: input.labels },
    spec: {
      backoffLimit: 0,
      template: backupPodTemplate(input),
    },
  };
}

/** The CronJob of a schedule; each run writes <dir>/<timestamp> and applies `keep`. */
export function buildBackupCronJob(input: BackupJobInput & { schedule: string; timeZone?: string | undefined; suspend?: boolean | undefined }): Child {
  return {
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: input.name, labels: input.labels },
    spec: {
      concurrencyPolicy: "Forbid",
      failedJobsHistoryLimit: 3,
      jobTemplate: { metadata: { labels: input.labels }, spec: { backoffLimit: 0, template: backupPodTemplate(input) } },
      schedule: input.schedule,
      startingDeadlineSeconds: 300,
      successfulJobsHistoryLimit: 3,
      suspend: input.suspend ?? false,
      ...(input.timeZone ? { timeZone: input.timeZone } : {}),
    },
  };
}
