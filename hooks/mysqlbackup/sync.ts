/**
 * POST /hooks/mysqlbackup/sync (docs/backups.md): one MySQLBackup = one Job child and the script
 * ConfigMap `<backup>-backup-script` it mounts (never the cluster's: the remove Job of
 * deletionPolicy Delete must run after the cluster is gone).
 * - Pending until the cluster has an instance to dump; then the Job is rendered once (sources
 *   chosen from the cluster's status) and returned unchanged afterwards.
 * - Running while the Job runs; Completed / Failed from the Job's result (termination message).
 * - A finished backup never runs again: its Job is kept as it is (its pods hold the result) and
 *   is never re-created if someone deletes it.
 */
import {
  backupLocation,
  MySQLBackupSpecSchema,
  MySQLBackupStatusSchema,
  reservedBackupName,
  type MySQLBackupSpec,
  type MySQLBackupStatus,
} from "../../src/api/backup.js";
import { imageFor, MySQLClusterSpecSchema } from "../../src/api/cluster.js";
import { COMPONENT_DATABASE, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY } from "../../src/api/constants.js";
import type { Child } from "../../src/api/k8s.js";
import type { SyncResponse } from "../../src/api/metacontroller.js";
import { issuesOf } from "../../src/api/parse.js";
import { jobOutcome, podsOfJob } from "../../src/backup/job-result.js";
import { backupPrimary, backupSources } from "../../src/backup/sources.js";
import { backupScriptConfigMapName, buildBackupJob, buildBackupScriptConfigMap, LABEL_BACKUP } from "../../src/backup/job.js";
import { childNames } from "../../src/api/names.js";
import { unchangedChild } from "../../src/api/unchanged.js";
import type { HookContext } from "../shared/context.js";
import { recordBackupMetrics } from "../../src/backup/metrics.js";
import { parseBackupSync, type ParsedBackupSync } from "./request.js";

/** Seconds between syncs while a backup waits or runs. */
export const BACKUP_RESYNC_SECONDS = 5;

/** Name of the Job of a MySQLBackup. */
export function backupJobName(backup: string): string {
  return `${backup}-backup`;
}

/** Path of a MySQLBackup inside its storage. */
export function backupPath(cluster: string, backup: string): string {
  return `${cluster}/${backup}`;
}

function finished(status: MySQLBackupStatus): boolean {
  return status.state === "Completed" || status.state === "Failed";
}

/** Labels of a backup's Job and pods (component "backup": not selected as database pods). */
export function backupLabels(cluster: string, backup: string): Record<string, string> {
  return { [LABEL_BACKUP]: backup, [LABEL_COMPONENT]: "backup", [LABEL_INSTANCE]: cluster, [LABEL_MANAGED_BY]: MANAGED_BY };
}

function renderJob(parsed: ParsedBackupSync, spec: MySQLBackupSpec): { job?: Child; configMap?: Child; waiting?: string } {
  const cluster = parsed.cluster;
  if (!cluster) return { waiting: `MySQLCluster ${spec.clusterName} not found` };
  const clusterSpec = MySQLClusterSpecSchema.safeParse((cluster as { spec?: unknown }).spec ?? {});
  if (!clusterSpec.success) return { waiting: `MySQLCluster ${spec.clusterName} has an invalid spec` };
  const dbPods = parsed.pods.filter((p) => p.metadata.labels?.[LABEL_COMPONENT] === COMPONENT_DATABASE);
  const sources = backupSources(spec.clusterName, (cluster as { status?: unknown }).status, dbPods);
  if (sources.length === 0) return { waiting: `no instance of ${spec.clusterName} is running yet` };
  const name = parsed.parent.metadata.name;
  const labels = backupLabels(spec.clusterName, name);
  const scriptConfigMap = backupScriptConfigMapName(name);
  return {
    configMap: buildBackupScriptConfigMap({ name: scriptConfigMap, labels, flavor: clusterSpec.data.flavor }),
    job: buildBackupJob({
      name: backupJobName(name),
      labels: backupLabels(spec.clusterName, name),
      clusterName: spec.clusterName,
      clusterUID: cluster.metadata.uid,
      flavor: clusterSpec.data.flavor,
      image: imageFor(clusterSpec.data),
      backupSecret: childNames(spec.clusterName).backupSecret,
      sources,
      primary: backupPrimary((cluster as { status?: unknown }).status, dbPods),
      storage: spec.storage,
      compression: spec.compression,
      target: { path: backupPath(spec.clusterName, name) },
      scriptConfigMap,
    }),
  };
}

/** Handles a sync request body. */
export async function syncMySQLBackup(body: unknown, ctx: HookContext): Promise<SyncResponse> {
  const parsed = parseBackupSync(body);
  const prevParsed = MySQLBackupStatusSchema.safeParse(parsed.parent.status ?? {});
  const previous: MySQLBackupStatus = prevParsed.success ? prevParsed.data : {};
  const kept = parsed.children.map(unchangedChild);
  const specResult = MySQLBackupSpecSchema.safeParse(parsed.parent.spec ?? {});
  if (!specResult.success) {
    const message = `invalid spec: ${issuesOf("spec", specResult.error)
      .map((i) => `${i.path}: ${i.message}`)
      .join("; ")}`;
    return { status: { ...previous, state: "Failed", message }, children: kept };
  }
  const spec = specResult.data;
  const name = parsed.parent.metadata.name;
  // A reserved name never gets a Job: its folder is the cluster's scheduled or final backups.
  const reserved = reservedBackupName(name);
  if (reserved) return { status: { ...previous, state: "Failed", message: `invalid: ${reserved}` }, children: kept };
  const path = backupPath(spec.clusterName, name);
  const base: MySQLBackupStatus = { ...previous, location: backupLocation(spec.storage, path), path };
  if (finished(previous)) {
    recordBackupMetrics(ctx.metrics, parsed.parent.metadata.namespace, spec.clusterName, previous);
    return { status: base, children: kept };
  }

  const job = parsed.children.find((c) => c.kind === "Job" && c.metadata.name === backupJobName(name));
  if (!job) {
    const rendered = renderJob(parsed, spec);
    if (!rendered.job)
      return { status: { ...base, state: "Pending", message: rendered.waiting ?? "waiting" }, children: kept, resyncAfterSeconds: BACKUP_RESYNC_SECONDS };
    const others = kept.filter((c) => !(c.kind === "ConfigMap" && c.metadata.name === rendered.configMap?.metadata.name));
    const created = rendered.configMap ? [rendered.configMap, rendered.job] : [rendered.job];
    // The cluster's uid: deletionPolicy Delete removes only a stored backup whose meta.json names it.
    const clusterUID = parsed.cluster?.metadata.uid;
    return {
      status: { ...base, state: "Pending", message: "backup Job created", ...(clusterUID ? { clusterUID } : {}) },
      children: [...others, ...created],
      resyncAfterSeconds: BACKUP_RESYNC_SECONDS,
    };
  }
  const outcome = jobOutcome(job, podsOfJob(job.metadata.name, parsed.pods));
  if (outcome.state === "Running") {
    return {
      status: { ...base, state: "Running", message: "dumping", ...(outcome.startedAt ? { startedAt: outcome.startedAt } : {}) },
      children: kept,
      resyncAfterSeconds: BACKUP_RESYNC_SECONDS,
    };
  }
  if (outcome.state === "Failed") {
    const status: MySQLBackupStatus = { ...base, state: "Failed", message: outcome.message, ...(outcome.startedAt ? { startedAt: outcome.startedAt } : {}) };
    ctx.logger.warn({ backup: name, reason: outcome.message }, "backup failed");
    return { status, children: kept };
  }
  const m = outcome.meta;
  const status: MySQLBackupStatus = {
    ...base,
    state: "Completed",
    message: `backup of ${m.sourceInstance ?? "?"} completed`,
    ...(m.sizeBytes !== undefined ? { sizeBytes: m.sizeBytes } : {}),
    ...(m.gtidPosition !== undefined ? { gtidPosition: m.gtidPosition } : {}),
    ...(m.sourceInstance ? { sourceInstance: m.sourceInstance } : {}),
    ...(m.serverVersion ? { serverVersion: m.serverVersion } : {}),
    ...(m.startedAt ? { startedAt: m.startedAt } : {}),
    ...(m.completedAt ? { completedAt: m.completedAt } : {}),
  };
  recordBackupMetrics(ctx.metrics, parsed.parent.metadata.namespace, spec.clusterName, status);
  return { status, children: kept };
}
