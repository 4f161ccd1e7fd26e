/**
 * POST /hooks/mysqlcluster/finalize: tear the cluster down in order. The StatefulSet goes first
 * (its pods stop through their preStop hooks); the Secret, ConfigMap and Services stay until no
 * pod is left, so terminating pods keep their configuration. `finalized: true` only once the
 * observed world is clean. PersistentVolumeClaims are retained by the StatefulSet's policy.
 */
import { MySQLClusterStatusSchema } from "../../src/api/cluster.js";
import { mergeConditions } from "../../src/api/conditions.js";
import { CONDITION_READY, REASON } from "../../src/api/constants.js";
import type { SyncResponse } from "../../src/api/metacontroller.js";
import { unchangedChild } from "../../src/render/unchanged.js";
import type { HookContext } from "../context.js";
import { parseSyncRequest } from "./request.js";

/** Seconds between finalize calls while pods are still stopping. */
export const FINALIZE_RESYNC_SECONDS = 2;

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
  if (!stsLeft && podsLeft === 0) {
    return { status: { ...prevStatus, message: "deleted; data volumes retained" }, children: [], finalized: parsed.request.finalizing };
  }
  const message = `deleting: ${podsLeft} pod(s) still stopping`;
  const conditions = mergeConditions(prevStatus.conditions, [
    ...(prevStatus.conditions ?? []).filter((c) => c.type !== CONDITION_READY),
    { type: CONDITION_READY, status: "False", reason: REASON.Finalizing, message },
  ], ctx.now());
  return {
    status: { ...prevStatus, message, conditions },
    children: parsed.children.filter((c) => c.kind !== "StatefulSet").map(unchangedChild),
    resyncAfterSeconds: FINALIZE_RESYNC_SECONDS,
    finalized: false,
  };
}
