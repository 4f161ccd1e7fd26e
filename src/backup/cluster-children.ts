/**
 * Backup children of a MySQLCluster (docs/backups.md "Schedules" and "Final backup on delete"):
 * one CronJob per `spec.backups.schedules[]` entry, and the Job of the final backup that the
 * finalize hook renders when `spec.backups.onDelete` is set. Pure and deterministic: the same
 * cluster and sources give byte-identical output (the sources only change with the topology).
 */
import type { BackupSchedule, BackupStorage } from "../api/backup.js";
import { imageFor, type Cluster } from "../api/cluster.js";
import { COMPONENT_BACKUP, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY } from "../api/constants.js";
import type { Child } from "../api/k8s.js";
import { childNames } from "../api/names.js";
import { buildBackupCronJob, buildBackupJob, LABEL_BACKUP, type BackupSource } from "./job.js";

/** Where a cluster-level backup may dump from, as observed by the hook. */
export interface ClusterBackupSources {
  /** Candidates in preference order (src/backup/sources.ts). */
  sources: readonly BackupSource[];
  primary: BackupSource | undefined;
}

/** CronJob of a schedule: `<cluster>-backup-<schedule>`. */
export function scheduleCronJobName(cluster: string, schedule: string): string {
  return `${cluster}-backup-${schedule}`;
}

/** Folder of all scheduled backups of a cluster inside a storage (seeding scans it). */
export function scheduledRoot(cluster: string): string {
  return `${cluster}/scheduled`;
}

/** Folder of one schedule's backups: `<cluster>/scheduled/<schedule>/<UTC timestamp>`. */
export function scheduleDir(cluster: string, schedule: string): string {
  return `${scheduledRoot(cluster)}/${schedule}`;
}

/** Job of the final backup taken when the cluster is deleted. */
export function finalBackupJobName(cluster: string): string {
  return `${cluster}-final-backup`;
}

/** Path of the final backup: `<cluster>/final/<deletion time, compact UTC>`. */
export function finalBackupPath(cluster: string, deletionTimestamp: string | undefined): string {
  const stamp = (deletionTimestamp ?? "").replace(/[-:]/g, "").replace(/\.\d+/, "");
  return `${cluster}/final/${/^\d{8}T\d{6}Z$/.test(stamp) ? stamp : "latest"}`;
}

/** Storage of the final backup: `onDeleteStorage`, else the first schedule's. */
export function finalBackupStorage(cluster: Cluster): BackupStorage | undefined {
  const b = cluster.spec.backups;
  return b?.onDeleteStorage ?? b?.schedules[0]?.storage;
}

/**
 * Label on a schedule's CronJob, its Jobs and their pods: the schedule's name. The cluster's sync
 * tells the runs of each schedule apart by it (src/backup/status.ts); `metamysql.dev/backup`
 * alone (`<cluster>-backup-<schedule>`) could also be a MySQLBackup's name.
 */
export const LABEL_SCHEDULE = "metamysql.dev/schedule";

function labels(cluster: Cluster, backup: string, schedule?: string): Record<string, string> {
  return {
    [LABEL_BACKUP]: backup,
    [LABEL_COMPONENT]: COMPONENT_BACKUP,
    [LABEL_INSTANCE]: cluster.name,
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_NAME]: cluster.spec.flavor,
    ...(schedule !== undefined ? { [LABEL_SCHEDULE]: schedule } : {}),
  };
}

function common(
  cluster: Cluster,
  src: ClusterBackupSources,
): {
  clusterName: string;
  clusterUID: string | undefined;
  flavor: Cluster["spec"]["flavor"];
  image: string;
  backupSecret: string;
  sources: readonly BackupSource[];
  primary: BackupSource | undefined;
} {
  return {
    clusterName: cluster.name,
    clusterUID: cluster.uid,
    flavor: cluster.spec.flavor,
    image: imageFor(cluster.spec),
    backupSecret: childNames(cluster.name).backupSecret,
    sources: src.sources,
    primary: src.primary,
  };
}

function scheduleCronJob(cluster: Cluster, s: BackupSchedule, src: ClusterBackupSources): Child {
  const name = scheduleCronJobName(cluster.name, s.name);
  return buildBackupCronJob({
    ...common(cluster, src),
    name,
    labels: labels(cluster, name, s.name),
    storage: s.storage,
    compression: s.compression,
    target: { dir: scheduleDir(cluster.name, s.name), keep: s.keep },
    schedule: s.schedule,
    timeZone: s.timeZone,
    suspend: s.suspend,
  });
}

/** The CronJobs of `spec.backups.schedules`, in spec order. */
export function buildScheduleCronJobs(cluster: Cluster, src: ClusterBackupSources): Child[] {
  return (cluster.spec.backups?.schedules ?? []).map((s) => scheduleCronJob(cluster, s, src));
}

/** The Job of the final backup (undefined when onDelete is off or no storage is known). */
export function buildFinalBackupJob(cluster: Cluster, src: ClusterBackupSources, deletionTimestamp: string | undefined): Child | undefined {
  const storage = finalBackupStorage(cluster);
  if (!cluster.spec.backups?.onDelete || !storage) return undefined;
  const name = finalBackupJobName(cluster.name);
  const compression = cluster.spec.backups.schedules[0]?.compression ?? "gzip";
  return buildBackupJob({
    ...common(cluster, src),
    name,
    labels: labels(cluster, name),
    storage,
    compression,
    target: { path: finalBackupPath(cluster.name, deletionTimestamp) },
  });
}
