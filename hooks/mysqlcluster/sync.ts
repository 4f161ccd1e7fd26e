/**
 * POST /hooks/mysqlcluster/sync: parse -> observe -> decide -> act -> respond
 * (ARCHITECTURE.md sections 4 and 5, docs/clustering.md).
 * - An invalid spec answers 200 with `state: Invalid` and the observed children unchanged; with a
 *   last valid spec (on the ConfigMap) failover keeps running on it, and only the read-write
 *   Service and `<c>-ro` EndpointSlice follow the primary (docs/clustering.md "Invalid spec").
 * - At most one database operation runs per sync; the next step comes with resyncAfterSeconds.
 * - A failed operation throws: the answer is a 500 and nothing is applied, because the decided
 *   status assumed success. The next sync decides again from a fresh observation.
 */
import { MySQLClusterStatusSchema, type Cluster, type MySQLClusterStatus } from "../../src/api/cluster.js";
import { AGENT_PORT, OPERATOR_USER, REPLICATION_USER } from "../../src/api/constants.js";
import { redactSecrets } from "../../src/api/redact.js";
import { ordinalOf, type Child } from "../../src/api/k8s.js";
import type { SyncResponse } from "../../src/api/metacontroller.js";
import { parseCluster, type SpecIssue } from "../../src/api/parse.js";
import { OperationDeferred, runOperation, type OperationConfig } from "../../src/mysql/index.js";
import { backupPrimary, backupSources } from "../../src/backup/sources.js";
import { backupHealthCondition, deriveBackupsStatus } from "../../src/backup/status.js";
import { findObserved, renderChildren } from "../../src/render/children.js";
import type { AppliedCredentials, Credentials } from "../../src/render/credentials.js";
import { childNames } from "../../src/api/names.js";
import { unchangedChild } from "../../src/api/unchanged.js";
import { forbiddenChanges } from "../../src/api/spec-changes.js";
import { decide, type Decision } from "../../src/topology/index.js";
import type { HookContext } from "../shared/context.js";
import { recordClusterMetrics, recordOperation, recordScheduleMetrics } from "./metrics.js";
import { observeInstances } from "./observe.js";
import { parseSyncRequest, podsToProbe, type ParsedSync } from "./request.js";
import { initializingStatus, invalidRunningStatus, invalidStatus, statusFromDecision } from "./status.js";
import { lastValidCluster } from "./last-valid.js";
import { credentialsOf } from "./credentials.js";
import { memberOf, nextRecord, operatorPasswords, rotateIfDue, rotationState, type ObservedInstance, type RotationState } from "./rotation.js";
import { cachedConfig } from "./config-cache.js";
import { cachedSpecParse } from "./spec-cache.js";
import { rolloutObservation } from "./rollout.js";

/** Seconds a candidate may take to catch up inside one operation (within the sync budget). */
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

/**
 * What a cluster with an invalid spec still does (docs/clustering.md "Invalid spec"): this sync's
 * decision, taken on the last valid spec, and the children that must follow the primary.
 */
export interface StillRunning {
  /** The cluster the decision was taken for (its status). */
  cluster: Cluster;
  /** The cluster by its last valid spec: renders the children that follow the primary. */
  lastValid: Cluster;
  decision: Decision;
  credentials: Credentials;
  backupPassword: string;
  backupSigningKey: string;
  appsPassword: string;
  agentToken: string;
  /** Where the hook server runs (EnvConfig OPERATOR_NAMESPACE): the children render needs it. */
  operatorNamespace: string;
}

/**
 * The response for an invalid spec: status Invalid, every observed child as it was. With a last
 * valid spec (`running`) the status also carries this sync's decision and the read-write Service
 * and the `<c>-ro` EndpointSlice follow the primary, rendered from the last valid spec.
 */
export function invalidResponse(parsed: ParsedSync, issues: SpecIssue[], now: Date, running?: StillRunning): SyncResponse {
  if (!running) {
    const previous = MySQLClusterStatusSchema.safeParse(parsed.parent.status ?? {});
    return {
      status: invalidStatus(parsed.parent.status, issues, previous.success ? previous.data.conditions : undefined, now),
      children: parsed.children.map(unchangedChild),
    };
  }
  return runningInvalidResponse(parsed, issues, now, running);
}

function runningInvalidResponse(parsed: ParsedSync, issues: SpecIssue[], now: Date, running: StillRunning): SyncResponse & { status: MySQLClusterStatus } {
  return {
    status: invalidRunningStatus(running.cluster, running.decision, issues, now),
    children: childrenFollowingPrimary(parsed, running),
    resyncAfterSeconds: running.decision.resyncAfterSeconds,
  };
}

/**
 * The observed children unchanged, except the two that route clients by role: the read-write
 * Service (its selector names the primary) and the `<c>-ro` EndpointSlice (the replicas serving
 * reads), rendered from the last valid spec for this decision. Everything else (StatefulSet,
 * ConfigMap, Secrets, CronJobs) waits for a valid spec.
 */
function childrenFollowingPrimary(parsed: ParsedSync, running: StillRunning): Child[] {
  const { lastValid, decision } = running;
  const names = childNames(lastValid.name);
  const unchanged = parsed.children.map(unchangedChild);
  const rendered = renderChildren({
    cluster: lastValid,
    observed: parsed.children,
    credentials: running.credentials,
    backupPassword: running.backupPassword,
    appsPassword: running.appsPassword,
    backupSigningKey: running.backupSigningKey,
    agentToken: running.agentToken,
    operatorNamespace: running.operatorNamespace,
    primary: decision.status.currentPrimary || undefined,
    readOnlyEndpoints: decision.readOnlyEndpoints.map((e) => ({ podName: e.name, ip: e.ip })),
    config: cachedConfig(lastValid),
  });
  // The last valid spec rendered before; should its patches fail now, nothing moves.
  if (!rendered.ok) return unchanged;
  const moving = rendered.children.filter(
    (c) => (c.kind === "Service" && c.metadata.name === names.readWrite) || (c.kind === "EndpointSlice" && c.metadata.name === names.readOnly),
  );
  const same = (a: Child, b: Child) => a.kind === b.kind && a.metadata.name === b.metadata.name;
  // Only observed children move: an invalid spec adds nothing (a missing one waits for a valid spec).
  return unchanged.map((c) => moving.find((m) => same(m, c)) ?? c);
}

/**
 * A sync whose spec is invalid (or a forbidden change): with a last valid spec recorded on the
 * ConfigMap, observe, decide and act on it as for a valid spec (failover, switchover, rejoin keep
 * running), then answer Invalid with only the children that follow the primary updated. Without
 * one (the spec was never valid) nothing is observed or changed.
 */
async function invalidSync(parsed: ParsedSync, issues: SpecIssue[], now: Date, ctx: HookContext): Promise<SyncResponse> {
  const lastValid = lastValidCluster(parsed);
  if (!lastValid) return invalidResponse(parsed, issues, now);
  // Passwords only come from the observed Secrets here: nothing is generated for an invalid spec.
  const creds = credentialsOf(lastValid, parsed, () => "");
  if (!creds.ready) return invalidResponse(parsed, issues, now);
  const sts = findObserved(parsed.children, "StatefulSet", childNames(lastValid.name).statefulSet);
  const pods = podsToProbe(parsed.pods, lastValid.spec.instances, sts);
  // The same budget as a valid sync (docs/clustering.md "Budget"), counted from the request's arrival.
  const started = performance.now();
  const budget = ctx.config.SYNC_BUDGET_MS - (started - (ctx.receivedAt ?? started));
  const rotation = rotationState(lastValid, parsed, creds.credentials, creds.backupPassword, creds.appsPassword);
  const [operatorPassword, ...fallbackPasswords] = operatorPasswords(rotation);
  const observed = await observeInstances(lastValid, pods, {
    operatorPassword,
    fallbackPasswords,
    connectTimeoutMs: ctx.config.MYSQL_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: ctx.config.MYSQL_QUERY_TIMEOUT_MS,
    primary: lastValid.status.currentPrimary || undefined,
    deadlines: { others: started + budget * OBSERVE_OTHERS_SHARE, primary: started + budget * OBSERVE_SHARE },
  });
  const observeSeconds = (performance.now() - started) / 1000;
  const decision = decide({ clusterName: lastValid.name, spec: lastValid.spec, previous: lastValid.status, instances: observed, now, observeSeconds });
  const done = await act(lastValid, decision, observed, rotation, ctx, started + budget - RESPOND_RESERVE_MS, creds.agentToken);
  // Deferred (lock held elsewhere, budget spent): nothing was done, nothing moves.
  if (done === "deferred") return invalidResponse(parsed, issues, now);
  const response = runningInvalidResponse(parsed, issues, now, stillRunning(lastValid, lastValid, decision, creds, ctx));
  recordClusterMetrics(ctx.metrics, lastValid, response.status, observed);
  return response;
}

/** What an invalid-spec answer needs to render the children that follow the primary. */
function stillRunning(
  cluster: Cluster,
  lastValid: Cluster,
  decision: Decision,
  creds: { credentials: Credentials; backupPassword: string; backupSigningKey: string; appsPassword: string; agentToken: string },
  ctx: HookContext,
): StillRunning {
  return {
    cluster,
    lastValid,
    decision,
    credentials: creds.credentials,
    backupPassword: creds.backupPassword,
    backupSigningKey: creds.backupSigningKey,
    appsPassword: creds.appsPassword,
    agentToken: creds.agentToken,
    operatorNamespace: ctx.config.OPERATOR_NAMESPACE,
  };
}

/** StatefulSet replicas: never below the current primary's ordinal + 1 (switch over first). */
function desiredReplicas(cluster: Cluster, primary: string): number {
  const ordinal = primary ? ordinalOf(cluster.name, primary) : undefined;
  return Math.max(cluster.spec.instances, ordinal === undefined ? 0 : ordinal + 1);
}

/**
 * The answer when the decided operation was deferred (another hook replica's operation holds
 * the lock, or the budget is spent): the previous status and every observed child unchanged,
 * so nothing is assumed done, and a resync soon.
 */
function deferredResponse(cluster: Cluster, parsed: ParsedSync, resyncAfterSeconds: number): SyncResponse {
  return { status: cluster.status, children: parsed.children.map(unchangedChild), resyncAfterSeconds };
}

/**
 * Runs the decided operation within the budget (`deadline`, a performance.now() time). Returns
 * "deferred" when it did not start (lock held elsewhere, budget spent): nothing was changed.
 */
async function act(
  cluster: Cluster,
  decision: Decision,
  observed: readonly ObservedInstance[],
  rotation: RotationState,
  ctx: HookContext,
  deadline: number,
  agentToken: string,
): Promise<"done" | "deferred"> {
  const op = decision.operation;
  if (op.type === "none") return "done";
  // Until a rotation is done the servers hold the applied passwords; each instance is reached
  // with the operator password it accepted when observed (memberOf).
  const cfg: OperationConfig = {
    flavor: cluster.spec.flavor,
    operator: { user: OPERATOR_USER, password: rotation.applied.passwords["operator-password"] },
    replication: { user: REPLICATION_USER, password: rotation.applied.passwords["replication-password"] },
    connectTimeoutMs: ctx.config.MYSQL_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: ctx.config.MYSQL_QUERY_TIMEOUT_MS,
    catchUpTimeoutSeconds: CATCH_UP_TIMEOUT_SECONDS,
    semiSync: { enabled: decision.semiSync.enabled, waitCount: decision.semiSync.waitCount, timeoutMs: decision.semiSync.timeoutMs },
    deadline,
    ...(agentToken ? { agent: { token: agentToken, port: AGENT_PORT } } : {}),
  };
  const resolve = (name: string) => memberOf(observed, name);
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

/**
 * Sets changed service-account passwords online when the cluster can take it (rotation.ts);
 * returns what the servers hold afterwards (the `<c>-applied-credentials` to render), or
 * "deferred". A failed rotation throws (500): nothing is recorded, the next sync retries.
 */
async function rotate(
  cluster: Cluster,
  decision: Decision,
  observed: readonly ObservedInstance[],
  rotation: RotationState,
  ctx: HookContext,
  deadline: number,
): Promise<AppliedCredentials | "deferred"> {
  if (deadline - performance.now() < MIN_OPERATION_MS) return rotation.applied;
  const outcome = await rotateIfDue(rotation, decision, observed, {
    flavor: cluster.spec.flavor,
    connectTimeoutMs: ctx.config.MYSQL_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: ctx.config.MYSQL_QUERY_TIMEOUT_MS,
    catchUpTimeoutSeconds: CATCH_UP_TIMEOUT_SECONDS,
    semiSync: { enabled: decision.semiSync.enabled, waitCount: decision.semiSync.waitCount, timeoutMs: decision.semiSync.timeoutMs },
    deadline,
  });
  switch (outcome.kind) {
    case "deferred":
      ctx.metrics.operationsDeferred.inc({ namespace: cluster.namespace, cluster: cluster.name, operation: "rotatePasswords", reason: "lock" });
      ctx.logger.info({ operation: "rotatePasswords" }, `password rotation deferred: ${outcome.reason}`);
      return "deferred";
    case "waiting":
      ctx.logger.info({ operation: "rotatePasswords" }, `password rotation waits: ${outcome.why}`);
      return outcome.applied;
    case "rotated":
      recordOperation(ctx.metrics, cluster, "rotatePasswords", "success", outcome.ms / 1000);
      ctx.logger.info(
        { operation: "rotatePasswords", accounts: outcome.changed, ms: outcome.ms, warnings: outcome.warnings },
        `passwords rotated online: ${outcome.changed.join(", ")}`,
      );
      return outcome.applied;
    case "none":
      return outcome.applied;
  }
}

/** Handles a sync request body; returns the Metacontroller response. */
export async function syncMySQLCluster(body: unknown, ctx: HookContext): Promise<SyncResponse> {
  const received = ctx.receivedAt ?? performance.now();
  const parsed = parseSyncRequest(body);
  const now = ctx.now();
  const result = parseCluster(parsed.parent, { parseSpec: cachedSpecParse });
  if (!result.ok) return invalidSync(parsed, result.issues, now, ctx);
  const cluster = result.cluster;
  const sts = findObserved(parsed.children, "StatefulSet", childNames(cluster.name).statefulSet);
  const forbidden = forbiddenChanges(cluster, sts);
  if (forbidden.length > 0) return invalidSync(parsed, forbidden, now, ctx);

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
  const rotation = rotationState(cluster, parsed, creds.credentials, creds.backupPassword, creds.appsPassword);
  const [operatorPassword, ...fallbackPasswords] = operatorPasswords(rotation);
  const observed = await observeInstances(cluster, pods, {
    operatorPassword: creds.ready ? operatorPassword : undefined,
    fallbackPasswords,
    connectTimeoutMs: ctx.config.MYSQL_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: ctx.config.MYSQL_QUERY_TIMEOUT_MS,
    primary: cluster.status.currentPrimary || undefined,
    deadlines: { others: started + budget * OBSERVE_OTHERS_SHARE, primary: started + budget * OBSERVE_SHARE },
  });
  // How long the observation took: an unavailable primary counts it towards the failover delay.
  const observeSeconds = (performance.now() - started) / 1000;
  const rollout = rolloutObservation(sts);
  const decision = creds.ready
    ? decide({ clusterName: cluster.name, spec: cluster.spec, previous: cluster.status, instances: observed, now, observeSeconds, rollout })
    : undefined;
  let applied = rotation.applied;
  if (decision) {
    const deadline = started + budget - RESPOND_RESERVE_MS;
    const done = await act(cluster, decision, observed, rotation, ctx, deadline, creds.agentToken);
    if (done === "deferred") return deferredResponse(cluster, parsed, ctx.config.RESYNC_CONVERGING_SECONDS);
    const rotated = await rotate(cluster, decision, observed, rotation, ctx, deadline);
    if (rotated === "deferred") return deferredResponse(cluster, parsed, ctx.config.RESYNC_CONVERGING_SECONDS);
    applied = nextRecord(rotation, rotated);
  }
  const podList = pods.map((p) => p.pod);

  const primary = decision?.status.currentPrimary ?? "";
  const rendered = renderChildren({
    cluster,
    observed: parsed.children,
    credentials: creds.credentials,
    backupPassword: creds.backupPassword,
    backupSigningKey: creds.backupSigningKey,
    appsPassword: creds.appsPassword,
    applied,
    agentToken: creds.agentToken,
    primary: primary || undefined,
    readOnlyEndpoints: (decision?.readOnlyEndpoints ?? []).map((e) => ({ podName: e.name, ip: e.ip })),
    replicas: desiredReplicas(cluster, primary),
    // Without a decision (no credentials yet) the observed partition is kept.
    partition: decision ? decision.rollout?.partition : rollout.partition,
    // Scheduled backups dump the instances this sync observed (docs/backups.md "Schedules").
    config: cachedConfig(cluster),
    operatorNamespace: ctx.config.OPERATOR_NAMESPACE,
    backupSources: decision ? { sources: backupSources(cluster.name, decision.status, podList), primary: backupPrimary(decision.status, podList) } : undefined,
  });
  if (!rendered.ok) {
    // The decision was acted on: the children following the primary still move, by the last valid spec.
    const lastValid = lastValidCluster(parsed);
    const running = decision && lastValid ? stillRunning(cluster, lastValid, decision, creds, ctx) : undefined;
    return invalidResponse(parsed, [rendered.failure], now, running);
  }

  // Scheduled backups, from the pods of their Jobs (docs/backups.md "Schedules"); never affects Ready.
  const backupsStatus = deriveBackupsStatus({ cluster, backupPods: parsed.backupPods });
  const backups = { status: backupsStatus, condition: backupHealthCondition(cluster, backupsStatus) };
  const status = decision ? statusFromDecision(cluster, decision, now, backups) : initializingStatus(cluster, pods, now, creds.problem, backups);
  recordClusterMetrics(ctx.metrics, cluster, status, observed);
  recordScheduleMetrics(ctx.metrics, cluster, backupsStatus);
  const resync = decision?.resyncAfterSeconds ?? ctx.config.RESYNC_CONVERGING_SECONDS;
  return { status, children: rendered.children, resyncAfterSeconds: resync };
}
