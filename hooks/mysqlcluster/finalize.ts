/**
 * POST /hooks/mysqlcluster/finalize: tear the cluster down in order. The StatefulSet goes first
 * (its pods stop through their preStop hooks); the Secret, ConfigMap and Services stay until no
 * pod is left, so terminating pods keep their configuration. `finalized: true` only once the
 * observed world is clean. PersistentVolumeClaims are retained by the StatefulSet's policy.
 * With `spec.backups.onDelete`, the final backup Job runs first and nothing is torn down until
 * it completed; a failed one blocks deletion with a message saying how to proceed
 * (docs/backups.md "Final backup on delete"). An invalid spec at deletion is decided by the last
 * valid spec (recorded on the ConfigMap); without one, a StatefulSet left blocks deletion with a
 * message. Called without `finalizing`, it changes nothing.
 */
import { MySQLClusterStatusSchema } from "../../src/api/cluster.js";
import { mergeConditions } from "../../src/api/conditions.js";
import { CONDITION_READY, REASON } from "../../src/api/constants.js";
import type { SyncResponse } from "../../src/api/metacontroller.js";
import { unchangedChild } from "../../src/api/unchanged.js";
import type { HookContext } from "../shared/context.js";
import { parseSyncRequest } from "./request.js";
import { parseCluster, type SpecIssue } from "../../src/api/parse.js";
import { childNames } from "../../src/api/names.js";
import { lastValidCluster } from "./last-valid.js";
import { ANNOTATION_SKIP_FINAL_BACKUP, finalBackupStep, type FinalBackupStep } from "../../src/backup/final.js";
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

/**
 * The final-backup step when neither the spec nor a last valid one can be read: with a
 * StatefulSet left there may be data a final backup was asked for, so deletion is blocked (as
 * for a failed final backup) until the spec is fixed or the skip annotation says to go ahead.
 */
function unknownSpecStep(parsed: ParsedSync, issues: readonly SpecIssue[]): FinalBackupStep {
  const name = parsed.parent.metadata.name;
  if (!parsed.children.some((c) => c.kind === "StatefulSet")) return { state: "none" };
  if (parsed.parent.metadata.annotations?.[ANNOTATION_SKIP_FINAL_BACKUP] === "true")
    return { state: "none", message: `spec invalid; final backup skipped (annotation ${ANNOTATION_SKIP_FINAL_BACKUP})` };
  const why = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
  return {
    state: "failed",
    message:
      `invalid spec (${why}) and no last valid spec recorded on ConfigMap ${childNames(name).config}: whether spec.backups.onDelete ` +
      `asks for a final backup is unknown, so deletion is blocked; fix the spec, or to delete without a final backup, ` +
      `kubectl annotate mysqlcluster ${name} ${ANNOTATION_SKIP_FINAL_BACKUP}=true`,
  };
}

/** Handles a finalize request body. */
export async function finalizeMySQLCluster(body: unknown, ctx: HookContext): Promise<SyncResponse> {
  const parsed = parseSyncRequest(body);
  const previous = MySQLClusterStatusSchema.safeParse(parsed.parent.status ?? {});
  const prevStatus = previous.success ? previous.data : {};
  if (!parsed.request.finalizing) {
    // Metacontroller honours `finalized` and applies the children even on a normal sync: never
    // claim it unasked, and keep every child (the StatefulSet included) as it is.
    ctx.logger.warn({ cluster: parsed.parent.metadata.name }, "finalize hook called without finalizing=true; nothing changed");
    return { status: prevStatus, children: parsed.children.map(unchangedChild), finalized: false };
  }
  const stsLeft = parsed.children.some((c) => c.kind === "StatefulSet");
  const podsLeft = parsed.pods.length;
  // The final backup (spec.backups.onDelete) comes first: the StatefulSet stays until it completed.
  // An invalid spec at deletion is not read: the last valid one (recorded on the ConfigMap) decides
  // whether a final backup is due, and where it goes.
  const current = parseCluster(parsed.parent);
  const effective = current.ok ? current.cluster : lastValidCluster(parsed);
  const final: FinalBackupStep = effective
    ? finalBackupStep({
        cluster: effective,
        annotations: parsed.parent.metadata.annotations,
        deletionTimestamp: parsed.parent.metadata.deletionTimestamp,
        children: parsed.children,
        pods: parsed.pods.map((p) => p.pod),
        backupPods: parsed.backupPods,
      })
    : unknownSpecStep(parsed, current.ok ? [] : current.issues);
  if (final.state === "running" || final.state === "failed") {
    if (final.state === "failed")
      ctx.logger.warn({ cluster: parsed.parent.metadata.name, reason: final.message }, "final backup failed or undecidable; deletion blocked");
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
  if (effective && stsLeft) await fencePrimaryForDeletion(effective, parsed, ctx);
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
