/**
 * POST /hooks/mysqlcluster/finalize: tear the cluster down in order. The StatefulSet goes first
 * (its pods stop through their preStop hooks); the Secret, ConfigMap and Services stay until no
 * pod is left, so terminating pods keep their configuration. `finalized: true` only once the
 * observed world is clean. PersistentVolumeClaims are retained by the StatefulSet's policy.
 * With `spec.backups.onDelete`, the final backup Job runs first and nothing is torn down until
 * it completed; a failed one blocks deletion with a message saying how to proceed
 * (docs/backups.md "Final backup on delete").
 */
import { MySQLClusterStatusSchema } from "../../src/api/cluster.js";
import { mergeConditions } from "../../src/api/conditions.js";
import { CONDITION_READY, REASON } from "../../src/api/constants.js";
import type { SyncResponse } from "../../src/api/metacontroller.js";
import { unchangedChild } from "../../src/api/unchanged.js";
import type { HookContext } from "../shared/context.js";
import { parseSyncRequest } from "./request.js";
import { parseCluster } from "../../src/api/parse.js";
import { finalBackupStep, type FinalBackupStep } from "../../src/backup/final.js";
import type { Cluster } from "../../src/api/cluster.js";
import { MYSQL_PORT, OPERATOR_USER } from "../../src/api/constants.js";
import { fence, withSession } from "../../src/mysql/index.js";
import { credentialsOf } from "./credentials.js";
import { recordBackupSuccess } from "../../src/backup/metrics.js";
import type { ParsedSync } from "./request.js";

/** Seconds between finalize calls while pods are still stopping. */
export const FINALIZE_RESYNC_SECONDS = 2;

/** Seconds between finalize calls while a failed final backup blocks deletion. */
export const FINAL_BACKUP_FAILED_RESYNC_SECONDS = 30;

/**
 * Makes the primary read-only (sessions killed) before its pod is deleted, so its preStop hook,
 * which waits for the primary to be moved away, returns at once: the whole cluster is going, there
 * is nowhere to switch to. Best effort: a failure is logged and the preStop wait (bounded) remains.
 */
async function fencePrimaryForDeletion(cluster: Cluster, parsed: ParsedSync, ctx: HookContext): Promise<void> {
  const primary = cluster.status.currentPrimary;
  const ip = parsed.pods.find((p) => p.pod.metadata.name === primary)?.pod.status?.podIP;
  const creds = credentialsOf(cluster, parsed, () => "");
  if (!primary || !ip || !creds.ready) return;
  try {
    await withSession(
      {
        host: ip,
        port: MYSQL_PORT,
        user: OPERATOR_USER,
        password: creds.credentials["operator-password"],
        connectTimeoutMs: ctx.config.MYSQL_CONNECT_TIMEOUT_MS,
        queryTimeoutMs: ctx.config.MYSQL_QUERY_TIMEOUT_MS,
      },
      (s) => fence(s, cluster.spec.flavor),
    );
    ctx.logger.info({ primary }, "cluster deleted: primary made read-only before its pod stops");
  } catch (err) {
    ctx.logger.warn({ primary, err: err instanceof Error ? err.message : String(err) }, "could not fence the primary before deletion");
  }
}

/** Handles a finalize request body. */
export async function finalizeMySQLCluster(body: unknown, ctx: HookContext): Promise<SyncResponse> {
  const parsed = parseSyncRequest(body);
  const previous = MySQLClusterStatusSchema.safeParse(parsed.parent.status ?? {});
  const prevStatus = previous.success ? previous.data : {};
  const stsLeft = parsed.children.some((c) => c.kind === "StatefulSet");
  const podsLeft = parsed.pods.length;
  if (!parsed.request.finalizing) {
    // Metacontroller honours `finalized` even on a normal sync; never claim it unasked.
    ctx.logger.warn({ cluster: parsed.parent.metadata.name }, "finalize hook called without finalizing=true");
  }
  // The final backup (spec.backups.onDelete) comes first: the StatefulSet stays until it completed.
  const cluster = parseCluster(parsed.parent);
  const final: FinalBackupStep = cluster.ok
    ? finalBackupStep({
        cluster: cluster.cluster,
        annotations: parsed.parent.metadata.annotations,
        deletionTimestamp: parsed.parent.metadata.deletionTimestamp,
        children: parsed.children,
        pods: parsed.pods.map((p) => p.pod),
        backupPods: parsed.backupPods,
      })
    : { state: "none" };
  if (final.state === "running" || final.state === "failed") {
    if (final.state === "failed") ctx.logger.warn({ cluster: parsed.parent.metadata.name, reason: final.message }, "final backup failed; deletion blocked");
    const conditions = mergeConditions(
      prevStatus.conditions,
      [
        ...(prevStatus.conditions ?? []).filter((c) => c.type !== CONDITION_READY),
        { type: CONDITION_READY, status: "False", reason: REASON.Finalizing, message: final.message },
      ],
      ctx.now(),
    );
    return {
      status: { ...prevStatus, message: final.message, conditions },
      children: [...parsed.children.map(unchangedChild), ...(final.state === "running" && final.job ? [final.job] : [])],
      resyncAfterSeconds: final.state === "running" ? FINALIZE_RESYNC_SECONDS : FINAL_BACKUP_FAILED_RESYNC_SECONDS,
      finalized: false,
    };
  }
  // The final backup counts as the cluster's newest successful backup (metrics only: the status is
  // about to go with the cluster).
  if (final.state === "completed") {
    recordBackupSuccess(ctx.metrics, parsed.parent.metadata.namespace, parsed.parent.metadata.name, {
      completedAt: final.meta.completedAt,
      sizeBytes: final.meta.sizeBytes,
    });
  }
  const done = final.message ? `${final.message}; ` : "";
  if (!stsLeft && podsLeft === 0) {
    return { status: { ...prevStatus, message: `${done}deleted; data volumes retained` }, children: [], finalized: parsed.request.finalizing };
  }
  if (cluster.ok && stsLeft) await fencePrimaryForDeletion(cluster.cluster, parsed, ctx);
  const message = `${done}deleting: ${podsLeft} pod(s) still stopping`;
  const conditions = mergeConditions(
    prevStatus.conditions,
    [
      ...(prevStatus.conditions ?? []).filter((c) => c.type !== CONDITION_READY),
      { type: CONDITION_READY, status: "False", reason: REASON.Finalizing, message },
    ],
    ctx.now(),
  );
  return {
    status: { ...prevStatus, message, conditions },
    children: parsed.children.filter((c) => c.kind !== "StatefulSet").map(unchangedChild),
    resyncAfterSeconds: FINALIZE_RESYNC_SECONDS,
    finalized: false,
  };
}
