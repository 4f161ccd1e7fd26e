/**
 * Supervised rolling updates (ARCHITECTURE.md section 5 invariant 7, docs/clustering.md
 * "Rolling updates"). PURE: the StatefulSet partition to render, from the observed pods'
 * `controller-revision-hash`, the StatefulSet's `status.updateRevision`, the cluster's health and
 * the primary's ordinal. The hooks never delete a pod: the StatefulSet controller replaces the
 * pods at ordinals >= partition, highest first, and the partition is lowered one ordinal at a
 * time, only while the cluster is Healthy and every replica is caught up.
 */

/** What the hook read from the observed StatefulSet. */
export interface RolloutObservation {
  /** Whether the StatefulSet exists yet. */
  exists: boolean;
  /**
   * `status.updateRevision`, only when the status is current (`status.observedGeneration` has
   * reached `metadata.generation`); undefined otherwise: the controller has not yet seen our
   * last change and the pods' revisions cannot be compared.
   */
  updateRevision: string | undefined;
  /** `spec.updateStrategy.rollingUpdate.partition` as observed (undefined: none). */
  partition: number | undefined;
  /** `spec.replicas` as observed. */
  replicas: number;
}

/** One pod as the rollout sees it (a missing pod is absent from the list). */
export interface RolloutPod {
  ordinal: number;
  /** Its `controller-revision-hash` label. */
  revision: string | undefined;
}

/** Why the cluster cannot take the next step now (undefined: it can), and where the primary is. */
export interface RolloutGate {
  blocked: string | undefined;
  primaryOrdinal: number | undefined;
  /**
   * Whether the primary can be moved before its pod is updated: a switchover candidate exists,
   * or the cluster has a single instance (updating it means a short outage, nothing to move to).
   */
  primaryUpdatable: "switchover" | "alone" | "no";
  /** True when this sync's operation is the switchover that moves the primary off `next`. */
  switching: boolean;
}

/**
 * UpToDate: every pod runs the StatefulSet's update revision. Updating: a pod is being replaced
 * or the primary is being moved first. Paused: a pod is due but the cluster is not Healthy (or a
 * replica not caught up). Unknown: the StatefulSet's status is not current (keep what was said).
 */
export type RolloutPhase = "UpToDate" | "Updating" | "Paused" | "Unknown";

export interface RolloutPlan {
  /**
   * Partition to render. undefined: hold every pod (the renderer uses the StatefulSet's
   * replicas, so a template change alone never replaces a pod).
   */
  partition: number | undefined;
  phase: RolloutPhase;
  message: string;
  /** The ordinal whose pod is replaced next (undefined when up to date or unknown). */
  next?: number;
}

/** The pending update: the highest ordinal whose pod does not run the update revision. */
export function pendingUpdate(obs: RolloutObservation | undefined, pods: readonly RolloutPod[]): { next: number; stale: number[] } | undefined {
  if (!obs?.exists || obs.updateRevision === undefined) return undefined;
  const byOrdinal = new Map(pods.map((p) => [p.ordinal, p.revision]));
  const stale: number[] = [];
  for (let o = obs.replicas - 1; o >= 0; o--) if (byOrdinal.get(o) !== obs.updateRevision) stale.push(o);
  const next = stale[0];
  return next === undefined ? undefined : { next, stale };
}

/**
 * The partition for this sync (docs/clustering.md "Rolling updates"):
 * - no StatefulSet, or every pod updated: hold everything (partition = replicas);
 * - the StatefulSet's status not current: keep the observed partition;
 * - the partition already reaches the next stale ordinal: keep it (its pod is being replaced;
 *   raising it would re-create that pod at the old revision);
 * - otherwise lower it to the next stale ordinal only when the gate is open and the primary is
 *   not that ordinal (it is moved first by a switchover); else keep it just above.
 */
export function planRollout(clusterName: string, obs: RolloutObservation | undefined, pods: readonly RolloutPod[], gate: RolloutGate): RolloutPlan {
  if (!obs?.exists) return { partition: undefined, phase: "UpToDate", message: "every instance runs the current pod template" };
  if (obs.updateRevision === undefined) {
    return { partition: obs.partition, phase: "Unknown", message: "waiting for the StatefulSet controller to observe the last change" };
  }
  const pending = pendingUpdate(obs, pods);
  if (!pending) return { partition: undefined, phase: "UpToDate", message: "every instance runs the current pod template" };
  const { next, stale } = pending;
  const name = `${clusterName}-${next}`;
  const progress = `${obs.replicas - stale.length} of ${obs.replicas} instances updated`;
  const current = obs.partition ?? obs.replicas;
  if (current <= next) return { partition: current, phase: "Updating", message: `updating ${name} (${progress})`, next };
  const hold = next + 1;
  if (gate.switching) return { partition: hold, phase: "Updating", message: `moving the primary off ${name} before updating it (${progress})`, next };
  if (gate.blocked) return { partition: hold, phase: "Paused", message: `rollout paused: ${gate.blocked} (${progress})`, next };
  if (gate.primaryOrdinal === next) {
    if (gate.primaryUpdatable === "alone") return { partition: next, phase: "Updating", message: `updating ${name}, the only instance (${progress})`, next };
    if (gate.primaryUpdatable === "no") {
      return { partition: hold, phase: "Paused", message: `rollout paused: no replica can take over from the primary ${name} (${progress})`, next };
    }
    return { partition: hold, phase: "Updating", message: `moving the primary off ${name} before updating it (${progress})`, next };
  }
  return { partition: next, phase: "Updating", message: `updating ${name} (${progress})`, next };
}
