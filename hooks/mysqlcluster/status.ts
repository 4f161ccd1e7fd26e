/**
 * Status documents that do not come from the topology decider: an invalid spec, and the
 * parts every status shares (endpoints, per-instance data taken from the observed pods).
 */
import type { ClusterBackupsStatus } from "../../src/api/backup.js";
import type { Cluster, InstanceStatus, MySQLClusterStatus } from "../../src/api/cluster.js";
import { weightOf } from "../../src/api/cluster.js";
import { mergeConditions, type ConditionInput } from "../../src/api/conditions.js";
import { CONDITION_AVAILABLE, CONDITION_READY, CONDITION_ROLLOUT_PROGRESSING, CONDITION_SPEC_VALID, MYSQL_PORT, REASON } from "../../src/api/constants.js";
import { isPodReady, type Pod } from "../../src/api/k8s.js";
import type { SpecIssue } from "../../src/api/parse.js";
import { childNames, podName } from "../../src/api/names.js";
import type { Decision } from "../../src/topology/index.js";

/** `host:port` of the read-write and read-only Services. */
export function endpointsOf(name: string, namespace: string): { readWrite: string; readOnly: string } {
  const names = childNames(name);
  return {
    readWrite: `${names.readWrite}.${namespace}.svc:${MYSQL_PORT}`,
    readOnly: `${names.readOnly}.${namespace}.svc:${MYSQL_PORT}`,
  };
}

/**
 * The status for an invalid spec: the previous status kept (nothing was acted on), state
 * Invalid, and SpecValid=False naming every offending field.
 */
export function invalidStatus(
  previous: unknown,
  issues: readonly SpecIssue[],
  previousConditions: MySQLClusterStatus["conditions"],
  now: Date,
): Record<string, unknown> {
  const message = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
  const base = typeof previous === "object" && previous !== null && !Array.isArray(previous) ? { ...(previous as Record<string, unknown>) } : {};
  const others = (previousConditions ?? []).filter((c) => c.type !== CONDITION_SPEC_VALID);
  const conditions = mergeConditions(
    previousConditions,
    [
      ...others.map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
      { type: CONDITION_SPEC_VALID, status: "False", reason: REASON.InvalidSpec, message },
    ],
    now,
  );
  return { ...base, state: "Invalid", message: `invalid spec: ${message}`, conditions };
}

/**
 * The status for an invalid spec while the cluster keeps running on its last valid spec
 * (docs/clustering.md "Invalid spec"): state Invalid and SpecValid=False naming every offending
 * field, as in `invalidStatus`, but the primary, instances, Available and Ready come from this
 * sync's decision, so a failover made meanwhile shows. The backups part is kept from before
 * (schedules are not re-evaluated on an invalid spec).
 */
export function invalidRunningStatus(cluster: Cluster, decision: Decision, issues: readonly SpecIssue[], now: Date): MySQLClusterStatus {
  const message = issues.map((i) => `${i.path}: ${i.message}`).join("; ");
  const running = statusFromDecision(cluster, decision, now);
  const decided = new Set(running.conditions?.map((c) => c.type));
  const kept = (cluster.status.conditions ?? []).filter((c) => !decided.has(c.type));
  const conditions = mergeConditions(
    cluster.status.conditions,
    [
      ...[...(running.conditions ?? []), ...kept]
        .filter((c) => c.type !== CONDITION_SPEC_VALID)
        .map((c) => ({ type: c.type, status: c.status, reason: c.reason, message: c.message })),
      { type: CONDITION_SPEC_VALID, status: "False", reason: REASON.InvalidSpec, message },
    ],
    now,
  );
  return {
    ...running,
    ...(cluster.status.backups ? { backups: cluster.status.backups } : {}),
    state: "Invalid",
    message: `invalid spec: ${message}`,
    conditions,
  };
}

/**
 * Per-instance status before the database layer has a say: one entry per desired ordinal,
 * `pending` until the pod is ready.
 */
export function instancesFromPods(cluster: Cluster, pods: ReadonlyArray<{ ordinal: number; pod: Pod }>): InstanceStatus[] {
  const out: InstanceStatus[] = [];
  const ordinals = new Set<number>([...Array.from({ length: cluster.spec.instances }, (_, i) => i), ...pods.map((p) => p.ordinal)]);
  for (const ordinal of [...ordinals].sort((a, b) => a - b)) {
    const pod = pods.find((p) => p.ordinal === ordinal)?.pod;
    const ready = pod ? isPodReady(pod) : false;
    out.push({
      name: podName(cluster.name, ordinal),
      ordinal,
      role: "pending",
      ready,
      weight: weightOf(cluster.spec, ordinal),
      ...(pod ? {} : { message: "pod not created yet" }),
    });
  }
  return out;
}

/**
 * The backups part of a status (src/backup/status.ts): `status.backups` and the BackupHealthy
 * condition, which is merged with the others but never affects Ready.
 */
export interface BackupsPart {
  status: ClusterBackupsStatus | undefined;
  condition: ConditionInput | undefined;
}

/** The status while no orchestration decision exists yet (state Initializing). */
export function initializingStatus(
  cluster: Cluster,
  pods: ReadonlyArray<{ ordinal: number; pod: Pod }>,
  now: Date,
  note?: string,
  backups?: BackupsPart,
): MySQLClusterStatus {
  const instances = instancesFromPods(cluster, pods);
  const ready = instances.filter((i) => i.ready).length;
  const conditions = mergeConditions(
    cluster.status.conditions,
    [
      { type: CONDITION_AVAILABLE, status: "False", reason: REASON.NoPrimary, message: "no writable primary yet" },
      {
        type: CONDITION_READY,
        status: "False",
        reason: ready === cluster.spec.instances ? REASON.Initializing : REASON.InstancesNotReady,
        message: `${ready}/${cluster.spec.instances} instances ready`,
      },
      { type: CONDITION_SPEC_VALID, status: "True", reason: REASON.SpecValid, message: "spec is valid" },
      ...(backups?.condition ? [backups.condition] : []),
    ],
    now,
  );
  return {
    state: "Initializing",
    message: note ?? `${ready}/${cluster.spec.instances} instances ready`,
    readyInstances: ready,
    instances,
    endpoints: endpointsOf(cluster.name, cluster.namespace),
    ...(backups?.status ? { backups: backups.status } : {}),
    conditions,
  };
}

/**
 * The RolloutProgressing condition from the decider's rollout plan; while the StatefulSet's
 * status is not current (phase Unknown) the previous condition is kept (none before: none yet),
 * so a step's own generation bump does not flip it.
 */
function rolloutCondition(cluster: Cluster, decision: Decision): ConditionInput | undefined {
  const plan = decision.rollout;
  if (!plan) return undefined;
  switch (plan.phase) {
    case "Updating":
      return { type: CONDITION_ROLLOUT_PROGRESSING, status: "True", reason: REASON.Updating, message: plan.message };
    case "Paused":
      return { type: CONDITION_ROLLOUT_PROGRESSING, status: "False", reason: REASON.Paused, message: plan.message };
    case "UpToDate":
      return { type: CONDITION_ROLLOUT_PROGRESSING, status: "False", reason: REASON.UpToDate, message: plan.message };
    case "Unknown": {
      const prev = cluster.status.conditions?.find((c) => c.type === CONDITION_ROLLOUT_PROGRESSING);
      return prev ? { type: prev.type, status: prev.status, reason: prev.reason, message: prev.message } : undefined;
    }
  }
}

/**
 * The status of a valid cluster from the decider's answer: its fields, the Service endpoints,
 * ready count and the standard conditions. Contains nothing that churns (no GTIDs except an
 * errant list, no lag, no probe times).
 */
export function statusFromDecision(cluster: Cluster, decision: Decision, now: Date, backups?: BackupsPart): MySQLClusterStatus {
  const d = decision.status;
  const readyInstances = d.instances.filter((i) => i.ready && i.ordinal < cluster.spec.instances).length;
  const writable = d.currentPrimary !== "" && (d.state === "Healthy" || d.state === "Degraded");
  const conditions = mergeConditions(
    cluster.status.conditions,
    [
      writable
        ? { type: CONDITION_AVAILABLE, status: "True", reason: REASON.PrimaryWritable, message: `${d.currentPrimary} accepts writes` }
        : {
            type: CONDITION_AVAILABLE,
            status: "False",
            reason: d.currentPrimary ? REASON.PrimaryUnavailable : REASON.NoPrimary,
            message: d.message,
          },
      d.state === "Healthy"
        ? { type: CONDITION_READY, status: "True", reason: REASON.AllInstancesReady, message: `${readyInstances}/${cluster.spec.instances} instances ready` }
        : { type: CONDITION_READY, status: "False", reason: d.state, message: d.message },
      { type: CONDITION_SPEC_VALID, status: "True", reason: REASON.SpecValid, message: "spec is valid" },
      ...(backups?.condition ? [backups.condition] : []),
      ...[rolloutCondition(cluster, decision)].filter((c): c is ConditionInput => c !== undefined),
    ],
    now,
  );
  const status: MySQLClusterStatus = {
    state: d.state,
    message: d.message,
    ...(d.currentPrimary ? { currentPrimary: d.currentPrimary } : {}),
    readyInstances,
    instances: d.instances,
    ...(d.failingSince ? { failingSince: d.failingSince } : {}),
    ...(d.lastOperation ? { lastOperation: d.lastOperation } : cluster.status.lastOperation ? { lastOperation: cluster.status.lastOperation } : {}),
    endpoints: endpointsOf(cluster.name, cluster.namespace),
    ...(backups?.status ? { backups: backups.status } : {}),
    conditions,
  };
  return status;
}
