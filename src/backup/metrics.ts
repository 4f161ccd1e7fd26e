/**
 * Backup metrics (docs/backups.md): time and size of the last successful backup per cluster,
 * whichever path took it (a MySQLBackup, a schedule's run, the final backup on delete).
 */
import type { MySQLBackupStatus } from "../api/backup.js";
import type { HookMetrics } from "../metrics/registry.js";

/** Newest completion time seen per metrics registry and cluster (gauges only go forward). */
const newest = new WeakMap<HookMetrics, Map<string, number>>();

/** A completed backup of a cluster: when it became complete and its size. */
export interface BackupSuccess {
  completedAt: string | undefined;
  sizeBytes?: number | undefined;
}

/** Records a completed backup of `cluster`; the gauges keep the newest one per cluster. */
export function recordBackupSuccess(m: HookMetrics, namespace: string, cluster: string, backup: BackupSuccess): void {
  if (!backup.completedAt) return;
  const at = Date.parse(backup.completedAt) / 1000;
  if (!Number.isFinite(at)) return;
  let seen = newest.get(m);
  if (!seen) newest.set(m, (seen = new Map()));
  const key = `${namespace}/${cluster}`;
  if ((seen.get(key) ?? -1) > at) return;
  seen.set(key, at);
  const labels = { namespace, cluster };
  m.backupLastSuccess.set(labels, at);
  if (backup.sizeBytes !== undefined) m.backupLastSize.set(labels, backup.sizeBytes);
}

/** Records a completed MySQLBackup (keeps the newest per cluster). */
export function recordBackupMetrics(m: HookMetrics, namespace: string, cluster: string, status: MySQLBackupStatus): void {
  if (status.state !== "Completed") return;
  recordBackupSuccess(m, namespace, cluster, { completedAt: status.completedAt, sizeBytes: status.sizeBytes });
}
