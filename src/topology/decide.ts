/**
 * The decider: observation + previous status + now -> new status, at most one operation, the
 * read-only endpoints and a resync delay. PURE (no I/O, no clock). docs/clustering.md mirrors this
 * file: "Decision order" lists the predicates below in the order they are tried.
 */
import type { InstanceRole, InstanceStatus, LastOperation } from "../api/cluster.js";
import { agentEnabled, weightOf } from "../api/cluster.js";
import { chooseBootstrapCandidate, chooseFailoverCandidate, chooseSwitchoverCandidate } from "./candidates.js";
import { errantTransactions, gtidCovers } from "./gtid.js";
import type { InstanceObservation, InstanceProbe } from "./observation.js";
import {
  failoverQuorum,
  isFenced,
  primaryPosition,
  READ_ONLY_MAX_LAG_SECONDS,
  receivedGtids,
  replicatesFrom,
  replicationBroken,
  RESYNC,
  semiSyncDiffers,
  semiSyncPlan,
  SWITCHOVER_MAX_LAG_SECONDS,
  type SemiSyncPlan,
} from "./rules.js";
import { ER_SOURCE_FATAL_READING_BINLOG, repairVerdict } from "./repair.js";
import { pendingUpdate, planRollout, type RolloutGate, type RolloutPlan, type RolloutPod } from "./rollout.js";
import type { Decision, DecideInput, Endpoint, Operation } from "./types.js";

/** One instance with everything derived that predicates need. */
interface View {
  name: string;
  ordinal: number;
  weight: number;
  inSpec: boolean;
  obs: InstanceObservation;
  probe: InstanceProbe | undefined;
  error: string | undefined;
  prevRole: InstanceRole | undefined;
  prevErrant: string | undefined;
  prevSaved: string | undefined;
}

interface Ctx {
  input: DecideInput;
  views: View[];
  plan: SemiSyncPlan;
  /** When the observation started: a new failingSince. */
  nowIso: string;
  /** When the observation ended (now + observeSeconds): the time of an operation decided on it. */
  decidedIso: string;
}

/** Per-instance role assignment and its message, before being turned into InstanceStatus. */
interface RoleOf {
  role: InstanceRole;
  message?: string;
  errant?: string;
  /** The file its extra transactions were saved to before an automatic rebuild. */
  saved?: string;
}

const NO_OP = (reason: string): Operation => ({ type: "none", reason });

function missingObservation(name: string, ordinal: number): InstanceObservation {
  return { name, ordinal, podExists: false, podReady: false, terminating: false, podIP: undefined, probe: undefined };
}

function ordinalFromName(clusterName: string, name: string): number | undefined {
  const m = new RegExp(`^${clusterName.replace(/[.*+?^${}()|[\]\\]/g, "\\$&")}-([0-9]+)$`).exec(name);
  return m?.[1] === undefined ? undefined : Number(m[1]);
}

function buildViews(input: DecideInput): View[] {
  const byOrdinal = new Map<number, InstanceObservation>();
  for (const o of input.instances) byOrdinal.set(o.ordinal, o);
  for (let i = 0; i < input.spec.instances; i++) {
    if (!byOrdinal.has(i)) byOrdinal.set(i, missingObservation(`${input.clusterName}-${i}`, i));
  }
  const primary = input.previous.currentPrimary;
  const pOrdinal = primary ? ordinalFromName(input.clusterName, primary) : undefined;
  if (primary && pOrdinal !== undefined && !byOrdinal.has(pOrdinal)) byOrdinal.set(pOrdinal, missingObservation(primary, pOrdinal));
  const prev = new Map((input.previous.instances ?? []).map((s) => [s.name, s]));
  return [...byOrdinal.values()]
    .sort((a, b) => a.ordinal - b.ordinal)
    .map((obs) => ({
      name: obs.name,
      ordinal: obs.ordinal,
      weight: weightOf(input.spec, obs.ordinal),
      inSpec: obs.ordinal < input.spec.instances,
      obs,
      probe: obs.probe?.ok ? obs.probe.status : undefined,
      error: obs.probe?.ok === false ? obs.probe.error : undefined,
      prevRole: prev.get(obs.name)?.role,
      prevErrant: prev.get(obs.name)?.errantTransactions,
      prevSaved: prev.get(obs.name)?.savedTransactions,
    }));
}

function unreachableReason(v: View): string {
  if (!v.obs.podExists) return "pod does not exist";
  if (v.error) return v.error;
  if (!v.obs.podIP) return "pod has no IP yet";
  return "not probed";
}

/** Role of a non-primary instance that could not be compared with a primary. */
function roleUnreachableOrUnknown(v: View): RoleOf {
  if (v.prevErrant) return { role: "errant", errant: v.prevErrant, message: "holds transactions the primary lacks" };
  if (!v.probe) {
    const neverMember = v.prevRole === undefined || v.prevRole === "pending";
    return { role: neverMember ? "pending" : "unavailable", message: unreachableReason(v) };
  }
  const broken = replicationBroken(v.probe.replica);
  if (broken) return { role: "unavailable", message: broken };
  return v.probe.replica === null ? { role: "pending", message: "replication not configured" } : { role: "replica" };
}

function toStatus(v: View, r: RoleOf): InstanceStatus {
  const s: InstanceStatus = { name: v.name, ordinal: v.ordinal, role: r.role, ready: v.obs.podReady && v.probe !== undefined, weight: v.weight };
  if (r.message) s.message = r.message;
  if (r.errant) s.errantTransactions = r.errant;
  const saved = r.saved ?? v.prevSaved;
  if (saved) s.savedTransactions = saved;
  return s;
}

function lastOp(ctx: Ctx, op: Operation): LastOperation | undefined {
  const at = ctx.decidedIso;
  switch (op.type) {
    case "bootstrap":
      return { type: "Bootstrap", to: op.target, reason: op.reason, time: at };
    case "switchover":
      return { type: "Switchover", from: op.from, to: op.to, reason: op.reason, time: at };
    case "failover":
      return { type: "Failover", from: op.from, to: op.to, reason: op.reason, time: at };
    case "rejoin":
      return { type: "Rejoin", from: op.target, to: op.source, reason: op.reason, time: at };
    default:
      return ctx.input.previous.lastOperation;
  }
}

function writableOthers(views: readonly View[], primary: string | undefined): View[] {
  return views.filter((v) => v.name !== primary && v.probe !== undefined && !isFenced(v.probe));
}

function fenceOp(targets: readonly View[]): Operation {
  const names = targets.map((v) => v.name);
  return { type: "setReadOnly", targets: names, reason: `${names.join(", ")} writable but not the primary` };
}

function finish(
  ctx: Ctx,
  parts: {
    state: Decision["status"]["state"];
    message: string;
    primary: string;
    roles: Map<string, RoleOf>;
    op: Operation;
    failingSince?: string;
    endpoints: Endpoint[];
    resync: number;
    /** This sync's operation is the switchover that moves the primary off the pod to update next. */
    rolloutSwitch?: boolean;
  },
): Decision {
  const instances = ctx.views
    .filter((v) => v.inSpec || v.obs.podExists || v.name === parts.primary)
    .map((v) => toStatus(v, parts.roles.get(v.name) ?? { role: "pending" }));
  const status: Decision["status"] = { state: parts.state, message: parts.message, currentPrimary: parts.primary, instances };
  if (parts.failingSince) status.failingSince = parts.failingSince;
  const last = lastOp(ctx, parts.op);
  if (last) status.lastOperation = last;
  let resync = parts.op.type === "none" ? parts.resync : RESYNC.afterOperation;
  const decision: Decision = { status, operation: parts.op, semiSync: ctx.plan, readOnlyEndpoints: parts.endpoints, resyncAfterSeconds: resync };
  if (ctx.input.rollout) {
    const rollout = rolloutPlan(ctx, parts);
    decision.rollout = rollout;
    if (rollout.phase === "Paused" || rollout.phase === "Updating") {
      status.message = `${status.message}; ${rollout.phase === "Updating" ? "rollout: " : ""}${rollout.message}`;
      resync = Math.min(resync, RESYNC.converging);
      decision.resyncAfterSeconds = resync;
    }
  }
  return decision;
}

// ---------------------------------------------------------------------------------------------
// Supervised rolling updates (src/topology/rollout.ts, docs/clustering.md "Rolling updates")

function rolloutPods(ctx: Ctx): RolloutPod[] {
  return ctx.views.filter((v) => v.obs.podExists).map((v) => ({ ordinal: v.ordinal, revision: v.obs.revision }));
}

/** Whether the instance's pod runs the StatefulSet's update revision. */
function isUpdated(ctx: Ctx, v: View): boolean {
  const r = ctx.input.rollout;
  return r?.updateRevision !== undefined && v.obs.podExists && v.obs.revision === r.updateRevision;
}

/**
 * Where a rollout moves the primary before its pod is updated: the most preferred ready,
 * caught-up replica (weight > 0) that already runs the update revision; when none does yet (the
 * primary holds the highest ordinal, which a partition always updates first), the most preferred
 * of the others: the old primary is then updated as a replica first.
 */
function rolloutTarget(ctx: Ctx, p: View, roles: Map<string, RoleOf>): View | undefined {
  const candidates = ctx.views.filter(
    (v) =>
      v.name !== p.name && v.inSpec && v.weight > 0 && v.obs.podReady && !v.obs.terminating && roles.get(v.name)?.role === "replica" && isCaughtUp(ctx, p, v),
  );
  const updated = candidates.filter((v) => isUpdated(ctx, v));
  const best = chooseSwitchoverCandidate(updated.length > 0 ? updated : candidates);
  return candidates.find((v) => v.name === best);
}

/** Why the next pod may not be replaced now (undefined: it may). */
function rolloutBlocked(ctx: Ctx, p: View | undefined, state: Decision["status"]["state"]): string | undefined {
  if (state !== "Healthy" || !p) return `waiting for the cluster to be Healthy (now ${state})`;
  // Healthy in the status written before, too: Metacontroller applies the children before the
  // status, so a step decided on this sync's Healthy would replace a pod while the status still
  // says Degraded; one more sync also confirms the health was not a passing moment.
  if (ctx.input.previous.state !== "Healthy") return `waiting for the cluster to stay Healthy (was ${ctx.input.previous.state ?? "unknown"})`;
  const terminating = ctx.views.filter((v) => v.obs.terminating).map((v) => v.name);
  if (terminating.length > 0) return `${terminating.join(", ")} terminating`;
  const behind = ctx.views.filter((v) => v.inSpec && v.name !== p.name && !isCaughtUp(ctx, p, v)).map((v) => v.name);
  if (behind.length > 0) return `${behind.join(", ")} not caught up with ${p.name}`;
  return undefined;
}

function rolloutPlan(
  ctx: Ctx,
  parts: { state: Decision["status"]["state"]; primary: string; roles: Map<string, RoleOf>; rolloutSwitch?: boolean },
): RolloutPlan {
  const p = ctx.views.find((v) => v.name === parts.primary);
  const alone = ctx.views.filter((v) => v.inSpec).length === 1;
  const gate: RolloutGate = {
    blocked: rolloutBlocked(ctx, p, parts.state),
    primaryOrdinal: p?.ordinal,
    primaryUpdatable: alone ? "alone" : p && rolloutTarget(ctx, p, parts.roles) ? "switchover" : "no",
    switching: parts.rolloutSwitch === true,
  };
  return planRollout(ctx.input.clusterName, ctx.input.rollout, rolloutPods(ctx), gate);
}

/**
 * The rollout's planned switchover: the primary's pod is the next to update, the cluster is
 * otherwise Healthy and caught up, and another instance can take over.
 */
function rolloutSwitchover(ctx: Ctx, p: View, roles: Map<string, RoleOf>): Operation | undefined {
  const r = ctx.input.rollout;
  const pending = pendingUpdate(r, rolloutPods(ctx));
  if (!r || !pending || pending.next !== p.ordinal || (r.partition ?? r.replicas) <= pending.next) return undefined;
  if (rolloutBlocked(ctx, p, healthyState(ctx, p, roles, NO_OP(""))) !== undefined) return undefined;
  const to = rolloutTarget(ctx, p, roles);
  if (!to) return undefined;
  const others = ctx.views.filter((v) => v.name !== p.name && v.name !== to.name && v.probe && roles.get(v.name)?.role !== "errant");
  const which = isUpdated(ctx, to) ? "an updated replica" : "no replica is updated yet";
  return {
    type: "switchover",
    from: p.name,
    to: to.name,
    others: others.map((v) => v.name),
    reason: `rolling update: ${p.name} is the next pod to update; switching to ${to.name} (${which})`,
    leaveOldPrimaryFenced: true,
  };
}

// ---------------------------------------------------------------------------------------------
// No primary yet: bootstrap

function decideBootstrap(ctx: Ctx): Decision {
  const inSpec = ctx.views.filter((v) => v.inSpec);
  const roles = new Map<string, RoleOf>(ctx.views.map((v) => [v.name, { role: "pending", message: v.probe ? undefined : unreachableReason(v) }]));
  const base = { primary: "", roles, endpoints: [] as Endpoint[] };
  const missing = inSpec.filter((v) => !v.probe);
  if (missing.length > 0) {
    const message = `waiting for ${missing.map((v) => v.name).join(", ")} to be reachable before choosing the first primary`;
    return finish(ctx, { ...base, state: "Initializing", message, op: NO_OP(message), resync: RESYNC.converging });
  }
  const ranked = inSpec.flatMap((v) => (v.probe ? [{ name: v.name, ordinal: v.ordinal, weight: v.weight, gtids: v.probe.gtidState }] : []));
  const choice = chooseBootstrapCandidate(ctx.input.spec.flavor, ranked);
  if (!choice.ok) {
    const message = `cannot choose a first primary: ${choice.reason}; the instances hold diverging data. Decide which instance's data to keep, re-initialize the others, then set status.currentPrimary`;
    return finish(ctx, { ...base, state: "Lost", message, op: NO_OP(choice.reason), resync: RESYNC.lost });
  }
  const writable = writableOthers(ctx.views, choice.name);
  if (writable.length > 0) {
    const op = fenceOp(writable);
    return finish(ctx, { ...base, state: "Initializing", message: op.reason, op, resync: RESYNC.converging });
  }
  roles.set(choice.name, { role: "primary" });
  const target = ctx.views.find((v) => v.name === choice.name);
  const op: Operation = {
    type: "bootstrap",
    target: choice.name,
    reason: `all ${inSpec.length} instances reachable; ${choice.name} has the highest weight (${target?.weight ?? 0}) among those holding all data`,
  };
  const endpoints = target?.obs.podIP ? [{ name: choice.name, ip: target.obs.podIP }] : [];
  return finish(ctx, { ...base, primary: choice.name, state: "Initializing", message: op.reason, op, endpoints, resync: RESYNC.converging });
}

// ---------------------------------------------------------------------------------------------
// Primary unavailable: wait, fail over, or report Lost

/** Could this instance hold an acknowledged transaction? (conservative; docs "Failover safety") */
function couldHaveAcked(v: View): boolean {
  if (v.probe) return v.probe.replica !== null;
  return v.prevRole !== undefined && v.prevRole !== "pending";
}

function staleEndpoints(views: readonly View[], roles: Map<string, RoleOf>): Endpoint[] {
  return views.flatMap((v) =>
    v.inSpec && v.obs.podReady && !v.obs.terminating && v.obs.podIP && roles.get(v.name)?.role === "replica" ? [{ name: v.name, ip: v.obs.podIP }] : [],
  );
}

function decidePrimaryUnavailable(ctx: Ctx, p: View, why = unreachableReason(p)): Decision {
  const { spec, now, previous } = ctx.input;
  const failingSince = previous.failingSince ?? ctx.nowIso;
  // Unavailable through the end of this observation (a hung primary's probe ran its whole timeout).
  const observed = Math.max(0, ctx.input.observeSeconds ?? 0);
  const elapsed = (now.getTime() - Date.parse(failingSince)) / 1000 + observed;
  const others = ctx.views.filter((v) => v.name !== p.name);
  const roles = new Map<string, RoleOf>([[p.name, { role: "unavailable", message: why }]]);
  for (const v of others) roles.set(v.name, roleUnreachableOrUnknown(v));
  const base = { primary: p.name, roles, failingSince, endpoints: staleEndpoints(others, roles) };
  const down = `primary ${p.name} unavailable since ${failingSince} (${why})`;
  const failed = (message: string, resync: number): Decision => finish(ctx, { ...base, state: "Failed", message, op: NO_OP(message), resync });

  const writable = writableOthers(others, undefined);
  if (writable.length > 0) {
    const op = fenceOp(writable);
    return finish(ctx, { ...base, state: "Failed", message: `${down}; ${op.reason}`, op, resync: RESYNC.afterOperation });
  }
  if (!others.some((v) => v.inSpec)) return failed(`${down}; no replica to fail over to, waiting for it to return`, RESYNC.converging);
  if (!spec.failover.enabled) return failed(`${down}; automatic failover is disabled, waiting for it to return`, RESYNC.converging);
  if (elapsed < spec.failover.delaySeconds) {
    // The next observation ends at the deadline: it starts `observed` seconds before it.
    // Meanwhile, poll (RESYNC.failedPoll) so that a primary that answers again is reopened at once.
    const untilDeadline = spec.failover.delaySeconds - elapsed - observed + RESYNC.failedSlack;
    const remaining = Math.max(RESYNC.failedMin, Math.min(RESYNC.failedPoll, untilDeadline));
    const at = new Date(Date.parse(failingSince) + spec.failover.delaySeconds * 1000).toISOString();
    return failed(`${down}; failover at ${at} unless it returns`, remaining);
  }
  return decideFailover(ctx, p, others, base, down);
}

function decideFailover(
  ctx: Ctx,
  p: View,
  others: View[],
  base: { primary: string; roles: Map<string, RoleOf>; failingSince: string; endpoints: Endpoint[] },
  down: string,
): Decision {
  const lost = (why: string): Decision => finish(ctx, { ...base, state: "Lost", message: `${down}; ${why}`, op: NO_OP(why), resync: RESYNC.lost });
  const ackers = others.filter(couldHaveAcked);
  const reachableAckers = ackers.filter((v) => v.probe);
  const quorum = failoverQuorum(ackers.length, ctx.plan);
  if (reachableAckers.length < quorum) {
    const missing = ackers.filter((v) => !v.probe).map((v) => v.name);
    return lost(
      `only ${reachableAckers.length} of the ${ackers.length} replicas that may hold acknowledged transactions are reachable (need ${quorum}); ` +
        `promoting now could lose acknowledged writes. Bring back ${p.name} or ${missing.join(", ")}; ` +
        `to accept that loss instead, delete the Pod and PVC of ${missing.join(", ")} (a re-created empty instance no longer counts)`,
    );
  }
  const nonErrant = others.filter((v) => v.probe && base.roles.get(v.name)?.role !== "errant");
  const eligible = nonErrant.filter((v) => v.inSpec && v.weight > 0 && !v.obs.terminating && v.probe?.replica !== null);
  const rank = (v: View) => ({ name: v.name, ordinal: v.ordinal, weight: v.weight, gtids: v.probe ? receivedGtids(v.probe) : "" });
  const choice = chooseFailoverCandidate(ctx.input.spec.flavor, eligible.map(rank), nonErrant.map(rank));
  if (!choice.ok) return lost(`${choice.reason}; decide which replica to promote, or bring ${p.name} back`);
  const op: Operation = {
    type: "failover",
    from: p.name,
    to: choice.name,
    replicas: others.filter((v) => v.probe && v.probe.replica !== null).map((v) => v.name),
    quarantined: others.filter((v) => v.probe && v.probe.replica !== null && base.roles.get(v.name)?.role === "errant").map((v) => v.name),
    candidates: eligible.map((v) => ({ name: v.name, ordinal: v.ordinal, weight: v.weight })),
    constraining: nonErrant.map((v) => v.name),
    reason: `${down}; ${choice.name} received the most transactions among eligible replicas`,
  };
  const roles = new Map(base.roles);
  roles.set(choice.name, { role: "primary" });
  for (const v of nonErrant) if (v.name !== choice.name && v.probe?.replica) roles.set(v.name, { role: "replica", message: "being repointed" });
  const to = ctx.views.find((v) => v.name === choice.name);
  const endpoints = to?.obs.podIP ? [{ name: to.name, ip: to.obs.podIP }] : [];
  return finish(ctx, { primary: choice.name, roles, endpoints, state: "Degraded", message: op.reason, op, resync: RESYNC.afterOperation });
}

// ---------------------------------------------------------------------------------------------
// Primary available: enforce read-only, open the primary, switch over, configure replicas

function compareWithPrimary(ctx: Ctx, p: InstanceProbe, v: View): RoleOf {
  if (!v.probe) return roleUnreachableOrUnknown(v);
  let errant: string;
  try {
    errant = errantTransactions(ctx.input.spec.flavor, v.probe.gtidState, p.gtidState);
  } catch (err) {
    return { role: "unavailable", message: `cannot compare GTIDs: ${err instanceof Error ? err.message : String(err)}` };
  }
  if (errant) return { role: "errant", errant, message: "holds transactions the primary lacks; re-seed it from the primary" };
  return roleUnreachableOrUnknown({ ...v, prevErrant: undefined });
}

function primaryNeedsOpening(ctx: Ctx, p: InstanceProbe): string | undefined {
  if (p.readOnly || p.superReadOnly) return "primary is read-only";
  if (p.replica !== null) return "primary still has replication configured";
  if (semiSyncDiffers(ctx.plan, p.semiSync)) return "primary semi-sync settings differ from the plan";
  return undefined;
}

function isCaughtUp(ctx: Ctx, p: View, v: View): boolean {
  const r = v.probe?.replica ?? null;
  if (!v.probe || !p.probe || !replicatesFrom(r, p.obs.podIP) || r?.ioRunning !== "Yes") return false;
  if (gtidCovers(ctx.input.spec.flavor, v.probe.gtidExecuted, primaryPosition(p.probe))) return true;
  return r.secondsBehindSource !== null && r.secondsBehindSource <= SWITCHOVER_MAX_LAG_SECONDS;
}

function switchoverReason(p: View, bestWeight: number, best: string, instances: number): string | undefined {
  if (p.obs.terminating) return `primary pod ${p.name} is terminating`;
  if (p.ordinal >= instances) return `scale-down to ${instances} instances removes ${p.name}`;
  if (p.weight === 0) return `${p.name} has weight 0`;
  if (bestWeight > p.weight) return `${best} has a higher weight (${bestWeight}) than ${p.name} (${p.weight})`;
  return undefined;
}

function decideSwitchover(ctx: Ctx, p: View, roles: Map<string, RoleOf>): Operation | undefined {
  const candidates = ctx.views.filter(
    (v) => v.name !== p.name && v.inSpec && v.obs.podReady && !v.obs.terminating && roles.get(v.name)?.role === "replica" && isCaughtUp(ctx, p, v),
  );
  // During a rollout a preference (weight) never moves the primary to a pod still to be updated:
  // it would have to move again when that pod's turn comes (docs/clustering.md "Rolling updates").
  const byPreferenceOnly = !p.obs.terminating && p.ordinal < ctx.input.spec.instances && p.weight > 0;
  const rolling = pendingUpdate(ctx.input.rollout, rolloutPods(ctx)) !== undefined;
  const pool = rolling && byPreferenceOnly ? candidates.filter((v) => isUpdated(ctx, v)) : candidates;
  const best = chooseSwitchoverCandidate(pool);
  const bestView = pool.find((v) => v.name === best);
  if (!best || !bestView) return undefined;
  const reason = switchoverReason(p, bestView.weight, best, ctx.input.spec.instances);
  if (!reason) return undefined;
  const others = ctx.views.filter((v) => v.name !== p.name && v.name !== best && v.probe && roles.get(v.name)?.role !== "errant");
  return { type: "switchover", from: p.name, to: best, others: others.map((v) => v.name), reason: `${reason}; switching to ${best}` };
}

function replicaNeedsConfiguring(ctx: Ctx, p: View, v: View): boolean {
  const probe = v.probe;
  if (!probe || !v.inSpec) return false;
  if (probe.semiSync.sourceEnabled) return true;
  if (ctx.plan.enabled && !probe.semiSync.replicaEnabled) return true;
  return !replicatesFrom(probe.replica, p.obs.podIP) || probe.replica?.ioRunning === "No";
}

function healthyEndpoints(p: View, views: readonly View[], roles: Map<string, RoleOf>, op: Operation): Endpoint[] {
  const busy = new Set(op.type === "configureReplica" ? op.targets : op.type === "rejoin" ? [op.target] : []);
  const ready = views.flatMap((v) => {
    const r = v.probe?.replica ?? null;
    const ok =
      v.name !== p.name &&
      v.inSpec &&
      v.obs.podReady &&
      !v.obs.terminating &&
      v.obs.podIP !== undefined &&
      !busy.has(v.name) &&
      roles.get(v.name)?.role === "replica" &&
      replicatesFrom(r, p.obs.podIP) &&
      r?.ioRunning === "Yes" &&
      (r.secondsBehindSource ?? 0) <= READ_ONLY_MAX_LAG_SECONDS;
    return ok && v.obs.podIP ? [{ name: v.name, ip: v.obs.podIP }] : [];
  });
  if (ready.length > 0) return ready;
  return p.obs.podIP ? [{ name: p.name, ip: p.obs.podIP }] : [];
}

/** Errant instances whose receiver still runs (they could acknowledge commits): stop it. */
function quarantineOp(ctx: Ctx, p: View, roles: Map<string, RoleOf>): Operation | undefined {
  const targets = ctx.views.filter((v) => v.name !== p.name && roles.get(v.name)?.role === "errant" && v.probe?.replica && v.probe.replica.ioRunning !== "No");
  if (targets.length === 0) return undefined;
  const names = targets.map((v) => v.name);
  return { type: "quarantine", targets: names, reason: `${names.join(", ")} errant; stopping its receiver so that it cannot acknowledge commits` };
}

/**
 * Automatic rebuild (src/topology/repair.ts, docs/clustering.md "Automatic rebuild"): an errant
 * instance whose extra transactions are provably unacknowledged, or a replica whose source purged
 * the binary logs it needs. Instances that may not be rebuilt keep their role; their message says
 * why.
 */
function rebuildOp(ctx: Ctx, p: View, pp: InstanceProbe, roles: Map<string, RoleOf>): Operation | undefined {
  const { spec } = ctx.input;
  for (const v of ctx.views) {
    const role = roles.get(v.name);
    const probe = v.probe;
    if (v.name === p.name || !v.inSpec || !probe || v.obs.terminating || !role) continue;
    const purged = probe.replica?.lastIoErrno === ER_SOURCE_FATAL_READING_BINLOG;
    if (role.role !== "errant" && !(role.role === "unavailable" && purged)) continue;
    const verdict = repairVerdict({
      mode: spec.repair.errant,
      flavor: spec.flavor,
      durability: spec.durability,
      agentEnabled: agentEnabled(spec),
      lastOperation: ctx.input.previous.lastOperation,
      primaryState: pp.gtidState,
      candidate: { name: v.name, serverId: probe.serverId, gtidState: probe.gtidState, ioErrno: probe.replica?.lastIoErrno },
      peers: ctx.views
        .filter((o) => o.inSpec && o.name !== p.name && o.name !== v.name)
        .map((o) => ({ name: o.name, gtidState: o.probe?.gtidState, receivedGtids: o.probe?.replica?.receivedGtids ?? "" })),
    });
    if (!verdict.rebuild) {
      roles.set(v.name, { ...role, message: `${role.message ?? role.role}; not rebuilt automatically: ${verdict.reason}` });
      continue;
    }
    return {
      type: "rebuild",
      target: v.name,
      ...(verdict.save ? { save: verdict.save } : {}),
      ...(verdict.savedFile ? { savedFile: verdict.savedFile } : {}),
      reason: verdict.reason,
    };
  }
  return undefined;
}

function nextReplicaOp(ctx: Ctx, p: View, roles: Map<string, RoleOf>): Operation | undefined {
  const fixable = ctx.views.filter((v) => v.name !== p.name && roles.get(v.name)?.role !== "errant" && roles.get(v.name)?.role !== "unavailable");
  const todo = fixable.filter((v) => replicaNeedsConfiguring(ctx, p, v));
  const rejoin = todo.find((v) => v.probe?.replica === null && v.probe.gtidState !== "" && v.prevRole !== "pending" && v.prevRole !== undefined);
  const configure = todo.filter((v) => v !== rejoin);
  if (configure.length > 0) {
    const names = configure.map((v) => v.name);
    return { type: "configureReplica", targets: names, source: p.name, reason: `${names.join(", ")} not replicating from ${p.name}` };
  }
  if (rejoin) {
    return { type: "rejoin", target: rejoin.name, source: p.name, reason: `${rejoin.name} holds no transactions ${p.name} lacks; rejoining it as a replica` };
  }
  return undefined;
}

function healthyState(ctx: Ctx, p: View, roles: Map<string, RoleOf>, op: Operation): "Healthy" | "Degraded" | "Initializing" {
  const replicasOk = ctx.views.every(
    (v) => v.name === p.name || (v.inSpec ? roles.get(v.name)?.role === "replica" && v.obs.podReady && !roles.get(v.name)?.message : false),
  );
  if (op.type === "none" && replicasOk && p.obs.podReady && !p.obs.terminating && p.inSpec) return "Healthy";
  const pending = ctx.views.some((v) => roles.get(v.name)?.role === "pending");
  return pending && ctx.input.previous.lastOperation?.type === "Bootstrap" ? "Initializing" : "Degraded";
}

function problems(ctx: Ctx, p: View, roles: Map<string, RoleOf>): string[] {
  const out: string[] = [];
  if (p.obs.terminating) out.push(`${p.name} terminating`);
  for (const v of ctx.views) {
    const r = roles.get(v.name);
    if (v.name !== p.name && r && r.role !== "replica") out.push(`${v.name} ${r.role}${r.message ? `: ${r.message}` : ""}`);
  }
  return out;
}

function decidePrimaryAvailable(ctx: Ctx, p: View, pp: InstanceProbe): Decision {
  const roles = new Map<string, RoleOf>([[p.name, { role: "primary" }]]);
  for (const v of ctx.views) if (v.name !== p.name) roles.set(v.name, compareWithPrimary(ctx, pp, v));
  const opening = primaryNeedsOpening(ctx, pp);
  const writable = writableOthers(ctx.views, p.name);
  const op: Operation =
    (writable.length > 0 ? fenceOp(writable) : undefined) ??
    (opening ? { type: "configurePrimary", target: p.name, reason: opening } : undefined) ??
    quarantineOp(ctx, p, roles) ??
    decideSwitchover(ctx, p, roles) ??
    nextReplicaOp(ctx, p, roles) ??
    rebuildOp(ctx, p, pp, roles) ??
    rolloutSwitchover(ctx, p, roles) ??
    NO_OP("nothing to do");
  let primary = p.name;
  if (op.type === "switchover") {
    primary = op.to;
    roles.set(op.to, { role: "primary" });
    roles.set(p.name, { role: "replica", message: op.leaveOldPrimaryFenced ? "fenced by switchover; rejoins next" : "demoted by switchover" });
  }
  if (op.type === "configureReplica") for (const t of op.targets) roles.set(t, { role: "replica", message: "replication being configured" });
  if (op.type === "rejoin") roles.set(op.target, { role: "replica", message: "rejoining" });
  if (op.type === "rebuild") {
    const r = roles.get(op.target);
    roles.set(op.target, { ...(r ?? { role: "unavailable" }), message: op.reason, ...(op.savedFile ? { saved: op.savedFile } : {}) });
  }
  const state = healthyState(ctx, p, roles, op);
  const issues = problems(ctx, p, roles);
  const message = op.type !== "none" ? op.reason : state === "Healthy" ? `primary ${p.name}; all replicas replicating` : issues.join("; ") || "converging";
  const endpoints = healthyEndpoints(p, ctx.views, roles, op);
  const resync = state === "Healthy" ? RESYNC.healthy : RESYNC.converging;
  const rolloutSwitch = op.type === "switchover" && op.reason.startsWith("rolling update:");
  return finish(ctx, { primary, roles, state, message, op, endpoints, resync, rolloutSwitch });
}

/**
 * RESTARTED_PRIMARY rule: a read-only primary (typically restarted after a crash) is reopened
 * only when it holds every transaction of its own lineage that a replica received. MariaDB with
 * `rpl_semi_sync_slave_enabled` truncates binlogged but uncommitted transactions at crash
 * recovery, and a crash can lose an unsynced binlog tail; a replica may have received (and
 * acknowledged) them. Reopening would then fork the history: the primary is treated as
 * unavailable instead (failover after the delay). Extra transactions carrying the replica's
 * own server_id are the replica's errant writes and do not count here (MariaDB; on MySQL every
 * extra transaction counts).
 */
function replicasAheadOfPrimary(ctx: Ctx, p: View, pp: InstanceProbe): string[] {
  if (!pp.readOnly && !pp.superReadOnly) return [];
  return ctx.views.flatMap((v) => {
    const probe = v.probe;
    if (v.name === p.name || !probe || probe.replica === null || v.prevErrant) return [];
    try {
      const extra = errantTransactions(ctx.input.spec.flavor, probe.gtidState, pp.gtidState);
      const foreign =
        ctx.input.spec.flavor === "mariadb" ? extra.split(",").filter((g) => g !== "" && g.split("-")[1] !== String(probe.serverId)) : extra ? [extra] : [];
      return foreign.length > 0 ? [v.name] : [];
    } catch {
      return [];
    }
  });
}

/**
 * Decides the cluster's next status and the one operation to run (docs/clustering.md
 * "Decision order"). Deterministic: identical inputs give identical output.
 */
export function decide(input: DecideInput): Decision {
  const decidedAt = new Date(input.now.getTime() + Math.max(0, input.observeSeconds ?? 0) * 1000);
  const ctx: Ctx = { input, views: buildViews(input), plan: semiSyncPlan(input.spec), nowIso: input.now.toISOString(), decidedIso: decidedAt.toISOString() };
  const name = input.previous.currentPrimary;
  const p = name ? ctx.views.find((v) => v.name === name) : undefined;
  if (!p) return decideBootstrap(ctx);
  if (!p.probe) return decidePrimaryUnavailable(ctx, p);
  const ahead = replicasAheadOfPrimary(ctx, p, p.probe);
  if (ahead.length > 0) return decidePrimaryUnavailable(ctx, p, `read-only and lacks transactions ${ahead.join(", ")} received; not reopened`);
  return decidePrimaryAvailable(ctx, p, p.probe);
}
