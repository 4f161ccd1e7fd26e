/**
 * Per-cluster and per-instance Prometheus series: state, readiness, replication lag, GTID
 * positions (as transaction counts), and operation counters. What churns lives here, never in
 * status (ARCHITECTURE.md section 2).
 */
import { BackupRunStateSchema, type ClusterBackupsStatus } from "../../src/api/backup.js";
import type { Cluster, MySQLClusterStatus } from "../../src/api/cluster.js";
import { ClusterStateSchema } from "../../src/api/cluster.js";
import type { HookMetrics } from "../../src/metrics/registry.js";
import { gtidTransactionCount, type InstanceObservation } from "../../src/topology/index.js";
import { recordBackupSuccess } from "../../src/backup/metrics.js";

/** Updates the gauges of one cluster from the status and the probes of this sync. */
export function recordClusterMetrics(m: HookMetrics, cluster: Cluster, status: MySQLClusterStatus, observed: readonly InstanceObservation[]): void {
  const base = { namespace: cluster.namespace, cluster: cluster.name };
  for (const state of ClusterStateSchema.options) m.clusterState.set({ ...base, state }, status.state === state ? 1 : 0);
  m.clusterInstances.set(base, cluster.spec.instances);
  m.instanceReady.deleteMatching(base);
  m.instanceUp.deleteMatching(base);
  m.instanceLag.deleteMatching(base);
  m.instanceGtid.deleteMatching(base);
  m.instanceReadOnly.deleteMatching(base);
  for (const o of observed) {
    const labels = { ...base, instance: o.name };
    m.instanceReady.set(labels, o.podReady ? 1 : 0);
    m.instanceUp.set(labels, o.probe?.ok ? 1 : 0);
    if (!o.probe?.ok) continue;
    const s = o.probe.status;
    m.instanceReadOnly.set(labels, s.readOnly ? 1 : 0);
    m.instanceGtid.set({ ...labels, set: "executed" }, gtidTransactionCount(s.flavor, s.gtidExecuted));
    if (s.replica) {
      m.instanceGtid.set({ ...labels, set: "received" }, gtidTransactionCount(s.flavor, s.replica.receivedGtids));
      if (s.replica.secondsBehindSource !== null) m.instanceLag.set(labels, s.replica.secondsBehindSource);
    }
  }
}

/** Counts and times one operation. */
export function recordOperation(m: HookMetrics, cluster: Cluster, type: string, result: "success" | "failure", seconds: number): void {
  const labels = { namespace: cluster.namespace, cluster: cluster.name, operation: type, result };
  m.operations.inc(labels);
  m.operationDuration.observe({ operation: type }, seconds);
}

/**
 * Backup series from `status.backups` (src/backup/status.ts): the newest run's state and last
 * completion per schedule (series of removed schedules disappear), and the cluster's newest
 * successful backup, shared with MySQLBackup completions (the newest of all paths wins).
 */
export function recordScheduleMetrics(m: HookMetrics, cluster: Cluster, backups: ClusterBackupsStatus | undefined): void {
  const base = { namespace: cluster.namespace, cluster: cluster.name };
  m.backupScheduleState.deleteMatching(base);
  m.backupScheduleLastSuccess.deleteMatching(base);
  for (const e of backups?.schedules ?? []) {
    const labels = { ...base, schedule: e.name };
    for (const state of BackupRunStateSchema.options) m.backupScheduleState.set({ ...labels, state }, e.state === state ? 1 : 0);
    const at = e.lastCompleted?.completedAt ? Date.parse(e.lastCompleted.completedAt) / 1000 : Number.NaN;
    if (Number.isFinite(at)) m.backupScheduleLastSuccess.set(labels, at);
  }
  const last = backups?.lastSuccessfulBackup;
  if (last) recordBackupSuccess(m, cluster.namespace, cluster.name, { completedAt: last.completedAt, sizeBytes: last.sizeBytes });
}
