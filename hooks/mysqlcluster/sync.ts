/**
 * POST /hooks/mysqlcluster/sync: parse -> observe -> decide -> act -> respond
 * (ARCHITECTURE.md sections 4 and 5, docs/clustering.md).
 * - An invalid spec answers 200 with `state: Invalid` and the observed children unchanged.
 * - At most one database operation runs per sync; the next step comes with resyncAfterSeconds.
 * - A failed operation throws: the answer is a 500 and nothing is applied, because the decided
 *   status assumed success. The next sync decides again from a fresh observation.
 */
import { MySQLClusterStatusSchema, type Cluster } from "../../src/api/cluster.js";
import { OPERATOR_USER, REPLICATION_USER } from "../../src/api/constants.js";
import { redactSecrets } from "../../src/api/redact.js";
import { ordinalOf } from "../../src/api/k8s.js";
import type { SyncResponse } from "../../src/api/metacontroller.js";
import { parseCluster, type SpecIssue } from "../../src/api/parse.js";
import { OperationDeferred, runOperation, type OperationConfig } from "../../src/mysql/index.js";
import { backupPrimary, backupSources } from "../../src/backup/sources.js";
import { backupHealthCondition, deriveBackupsStatus } from "../../src/backup/status.js";
import { findObserved, renderChildren } from "../../src/render/children.js";
import type { Credentials } from "../../src/render/credentials.js";
import { childNames } from "../../src/api/names.js";
import { unchangedChild } from "../../src/api/unchanged.js";
import { forbiddenChanges } from "../../src/api/spec-changes.js";
import { decide, type Decision, type InstanceObservation } from "../../src/topology/index.js";
import type { HookContext } from "../shared/context.js";
import { recordClusterMetrics, recordOperation, recordScheduleMetrics } from "./metrics.js";
import { observeInstances } from "./observe.js";
import { parseSyncRequest, podsToProbe, type ParsedSync } from "./request.js";
import { initializingStatus, invalidStatus, statusFromDecision } from "./status.js";
import { credentialsOf } from "./credentials.js";
import { cachedConfig } from "./config-cache.js";
import { cachedSpecParse } from "./spec-cache.js";

/** Seconds a candidate may take to catch up inside one operation (cut to the sync budget). */
export const CATCH_UP_TIMEOUT_SECONDS = 4;

/**
 * How SYNC_BUDGET_MS is spent (docs/clustering.md "Budget"): probes of the non-primary
 * instances end by this share of it, the primary's probe (read last) by OBSERVE_SHARE; the
 * operation gets the rest but RESPOND_RESERVE_MS, kept to render and answer.
 */
export const OBSERVE_OTHERS_SHARE = 0.3;
export const OBSERVE_SHARE = 0.5;
export const RESPOND_RESERVE_MS = 250;
/**
 * A sync that waited longer than this share of the budget (behind another sync of the same
 * cluster on this server) does not observe at all: probes cut short would make healthy
 * instances look down. It answers like a deferred operation.
 */
export const MAX_QUEUED_SHARE = 0.25;
/** An operation other than switchover/failover is not started with less than this left. */
export const MIN_OPERATION_MS = 1000;

/** The response for an invalid spec: every observed child as it was, status Invalid. */
export function invalidResponse(parsed: ParsedSync, issues: SpecIssue[], now: Date): SyncResponse {
  const previous = MySQLClusterStatusSchema.safeParse(parsed.parent.status ?? {});
  return {
    status: invalidStatus(parsed.parent.status, issues, previous.success ? previous.data.conditions : undefined, now),
    children: parsed.children.map(unchangedChild),
  };
}

/**
 * The answer when the decided operation was deferred (another hook replica's operation holds
 * the lock, or the budget is spent): the previous status and every observed child unchanged,
 * so nothing is assumed done, and a resync soon.
 */
function deferredResponse(cluster: Cluster, parsed: ParsedSync, resyncAfterSeconds: number): SyncResponse {
  return { status: cluster.status, children: parsed.children.map(unchangedChild), resyncAfterSeconds };
}

/** StatefulSet replicas: never below the current primary's ordinal + 1 (switch over first). */
function desiredReplicas(cluster: Cluster, primary: string): number {
  const ordinal = primary ? ordinalOf(cluster.name, primary) : undefined;
  return Math.max(cluster.spec.instances, ordinal === undefined ? 0 : ordinal + 1);
}

/**
 * Runs the decided operation within the budget (`deadline`, a performance.now() time). Returns
 * "deferred" when it did not start (lock held elsewhere, budget spent): nothing was changed.
 */
async function act(
  cluster: Cluster,
  decision: Decision,
  observed: readonly InstanceObservation[],
  credentials: Credentials,
  ctx: HookContext,
  deadline: number,
): Promise<"done" | "deferred"> {
  const op = decision.operation;
  if (op.type === "none") return "done";
  const cfg: OperationConfig = {
    flavor: cluster.spec.flavor,
    operator: { user: OPERATOR_USER, password: credentials["operator-password"] },
    replication: { user: REPLICATION_USER, password: credentials["replication-password"] },
    connectTimeoutMs: ctx.config.MYSQL_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: ctx.config.MYSQL_QUERY_TIMEOUT_MS,
    catchUpTimeoutSeconds: CATCH_UP_TIMEOUT_SECONDS,
    semiSync: { enabled: decision.semiSync.enabled, waitCount: decision.semiSync.waitCount, timeoutMs: decision.semiSync.timeoutMs },
    deadline,
  };
  const resolve = (name: string) => {
    const o = observed.find((i) => i.name === name);
    return o?.podIP ? { name, host: o.podIP } : undefined;
  };
  const started = performance.now();
  const deferred = (err: OperationDeferred) => {
    ctx.metrics.operationsDeferred.inc({ namespace: cluster.namespace, cluster: cluster.name, operation: op.type, reason: err.reason });
    ctx.logger.info({ operation: op.type, reason: op.reason, deferredBy: err.reason }, `${op.type} deferred: ${err.message}`);
    return "deferred" as const;
  };
  if (op.type !== "switchover" && op.type !== "failover" && deadline - started < MIN_OPERATION_MS) {
    return deferred(new OperationDeferred(`${op.type} not started: ${Math.max(0, Math.round(deadline - started))} ms left of the sync budget`, "budget"));
  }
  try {
    const result = await runOperation(cfg, op, resolve);
    const ms = Math.round(performance.now() - started);
    recordOperation(ctx.metrics, cluster, op.type, "success", ms / 1000);
    ctx.logger.info(
      { operation: op.type, reason: op.reason, primary: result.primary, ms, steps: result.steps, warnings: result.warnings.map(redactSecrets) },
      `${op.type}: ${op.reason}`,
    );
    return "done";
  } catch (err) {
    if (err instanceof OperationDeferred) return deferred(err);
    const ms = Math.round(performance.now() - started);
    recordOperation(ctx.metrics, cluster, op.type, "failure", ms / 1000);
    throw new Error(`${op.type} failed (${op.reason}): ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** Handles a sync request body; returns the Metacontroller response. */
export async function syncMySQLCluster(body: unknown, ctx: HookContext): Promise<SyncResponse> {
  const received = ctx.receivedAt ?? performance.now();
  const parsed = parseSyncRequest(body);
  const now = ctx.now();
  const result = parseCluster(parsed.parent, { parseSpec: cachedSpecParse });
  if (!result.ok) return invalidResponse(parsed, result.issues, now);
  const cluster = result.cluster;
  const sts = findObserved(parsed.children, "StatefulSet", childNames(cluster.name).statefulSet);
  const forbidden = forbiddenChanges(cluster, sts);
  if (forbidden.length > 0) return invalidResponse(parsed, forbidden, now);

  // Only the cluster's pods below max(spec.instances, StatefulSet replicas) are observed.
  const pods = podsToProbe(parsed.pods, cluster.spec.instances, sts);
  const creds = credentialsOf(cluster, parsed, ctx.generatePassword);
  // The budget counts from the request's arrival; observe and operation share what is left.
  const started = performance.now();
  const queuedMs = started - received;
  if (queuedMs > ctx.config.SYNC_BUDGET_MS * MAX_QUEUED_SHARE) {
    ctx.metrics.operationsDeferred.inc({ namespace: cluster.namespace, cluster: cluster.name, operation: "sync", reason: "budget" });
    ctx.logger.info({ queuedMs: Math.round(queuedMs) }, `sync deferred: waited ${Math.round(queuedMs)} ms behind another sync of this cluster`);
    return deferredResponse(cluster, parsed, ctx.config.RESYNC_CONVERGING_SECONDS);
  }
  const budget = ctx.config.SYNC_BUDGET_MS - queuedMs;
  const observed = await observeInstances(cluster, pods, {
    operatorPassword: creds.ready ? creds.credentials["operator-password"] : undefined,
    connectTimeoutMs: ctx.config.MYSQL_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: ctx.config.MYSQL_QUERY_TIMEOUT_MS,
    primary: cluster.status.currentPrimary || undefined,
    deadlines: { others: started + budget * OBSERVE_OTHERS_SHARE, primary: started + budget * OBSERVE_SHARE },
  });
  const decision = creds.ready ? decide({ clusterName: cluster.name, spec: cluster.spec, previous: cluster.status, instances: observed, now }) : undefined;
  if (decision) {
    const done = await act(cluster, decision, observed, creds.credentials, ctx, started + budget - RESPOND_RESERVE_MS);
    if (done === "deferred") return deferredResponse(cluster, parsed, ctx.config.RESYNC_CONVERGING_SECONDS);
  }
  const podList = pods.map((p) => p.pod);

  const primary = decision?.status.currentPrimary ?? "";
  const rendered = renderChildren({
    cluster,
    observed: parsed.children,
    credentials: creds.credentials,
    backupPassword: creds.backupPassword,
    primary: primary || undefined,
    readOnlyEndpoints: (decision?.readOnlyEndpoints ?? []).map((e) => ({ podName: e.name, ip: e.ip })),
    replicas: desiredReplicas(cluster, primary),
    // Scheduled backups dump the instances this sync observed (docs/backups.md "Schedules").
    config: cachedConfig(cluster),
    backupSources: decision ? { sources: backupSources(cluster.name, decision.status, podList), primary: backupPrimary(decision.status, podList) } : undefined,
  });
  if (!rendered.ok) return invalidResponse(parsed, [rendered.failure], now);

  // Scheduled backups, from the pods of their Jobs (docs/backups.md "Schedules"); never affects Ready.
  const backupsStatus = deriveBackupsStatus({ cluster, backupPods: parsed.backupPods });
  const backups = { status: backupsStatus, condition: backupHealthCondition(cluster, backupsStatus) };
  const status = decision ? statusFromDecision(cluster, decision, now, backups) : initializingStatus(cluster, pods, now, creds.problem, backups);
  recordClusterMetrics(ctx.metrics, cluster, status, observed);
  recordScheduleMetrics(ctx.metrics, cluster, backupsStatus);
  const resync = decision?.resyncAfterSeconds ?? ctx.config.RESYNC_CONVERGING_SECONDS;
  return { status, children: rendered.children, resyncAfterSeconds: resync };
}
