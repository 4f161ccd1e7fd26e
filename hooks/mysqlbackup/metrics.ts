/**
 * Backup metrics (docs/backups.md): time and size of the last successful backup per cluster.
 */
import type { MySQLBackupStatus } from "../../src/api/backup.js";
import type { HookMetrics } from "../../src/metrics.js";

/** Newest completion time seen per metrics registry and cluster (gauges only go forward). */
const newest = new WeakMap<HookMetrics, Map<string, number>>();

/** Records a completed backup (keeps the newest per cluster). */
export function recordBackupMetrics(m: HookMetrics, namespace: string, cluster: string, status: MySQLBackupStatus): void {
  if (status.state !== "Completed" || !status.completedAt) return;
  const at = Date.parse(status.completedAt) / 1000;
  if (!Number.isFinite(at)) return;
  let seen = newest.get(m);
  if (!seen) newest.set(m, (seen = new Map()));
  const key = `${namespace}/${cluster}`;
  if ((seen.get(key) ?? -1) > at) return;
  seen.set(key, at);
  const labels = { namespace, cluster };
  m.backupLastSuccess.set(labels, at);
  if (status.sizeBytes !== undefined) m.backupLastSize.set(labels, status.sizeBytes);
}
