/**
 * Input and output of the decider (docs/clustering.md). Names here are the names in the doc.
 */
import type { ClusterState, InstanceStatus, LastOperation, MySQLClusterSpec, MySQLClusterStatus } from "../api/cluster.js";
import type { RankedInstance } from "./candidates.js";
import type { InstanceObservation } from "./observation.js";
import type { RolloutObservation, RolloutPlan } from "./rollout.js";
import type { SaveRange } from "./repair.js";
import type { SemiSyncPlan } from "./rules.js";

/** Everything one decision depends on; identical inputs give identical decisions. */
export interface DecideInput {
  clusterName: string;
  spec: MySQLClusterSpec;
  /** The status we returned last time (from the parent object). */
  previous: MySQLClusterStatus;
  /** One entry per existing pod and per ordinal of the spec (missing pods: podExists false). */
  instances: readonly InstanceObservation[];
  /** When the observation started (the sync's clock). */
  now: Date;
  /**
   * How long the observation took (seconds, default 0). An unavailable primary did not answer
   * for all of it, so it counts towards the failover delay; and the next observation is
   * expected to take as long, so a waiting resync is asked for that much earlier
   * (docs/clustering.md "Resync"). A hung primary costs its probe's whole timeout each time.
   */
  observeSeconds?: number;
  /**
   * The observed StatefulSet, for supervised rolling updates (src/topology/rollout.ts). Without
   * it no rollout is planned (`Decision.rollout` undefined), e.g. on an invalid spec.
   */
  rollout?: RolloutObservation;
}

/** The single operation to perform in this sync. Every operation is idempotent. */
export type Operation =
  | { type: "none"; reason: string }
  /** Open the first primary (promote) on a cluster that never had one. */
  | { type: "bootstrap"; target: string; reason: string }
  /** Make instances read-only that must not be writable (invariant 1). */
  | { type: "setReadOnly"; targets: string[]; reason: string }
  /** (Re)open the current primary: reset replication, semi-sync as planned, read_only off. */
  | { type: "configurePrimary"; target: string; reason: string }
  /**
   * Stop the receiver of errant instances (STOP SLAVE IO_THREAD): an instance that is never a
   * candidate must not acknowledge commits either (docs/clustering.md, invariant 3).
   */
  | { type: "quarantine"; targets: string[]; reason: string }
  /**
   * Rebuild a diverged instance through its agent (src/topology/repair.ts): save `save` (its
   * unacknowledged tail) to `savedFile` in its volume, then replace its data dir by a clone.
   */
  | { type: "rebuild"; target: string; save?: SaveRange; savedFile?: string; reason: string }
  /** Point replicas at the primary's pod IP and start replication. */
  | { type: "configureReplica"; targets: string[]; source: string; reason: string }
  /** Rejoin an instance that holds data but no replication (e.g. a returning old primary). */
  | { type: "rejoin"; target: string; source: string; reason: string }
  /** Planned change of primary: fence `from`, wait for `to`, promote, repoint `others`, demote `from`. */
  | {
      type: "switchover";
      from: string;
      to: string;
      others: string[];
      reason: string;
      /** Skip the demotion of `from` (it stays fenced; the next sync rejoins it): rolling updates. */
      leaveOldPrimaryFenced?: boolean;
    }
  /**
   * Unplanned change: stop receiving on `replicas`, re-check the choice among `candidates`
   * (constrained by `constraining`), wait for `to` to apply its relay log, promote, repoint.
   */
  | {
      type: "failover";
      from: string;
      to: string;
      replicas: string[];
      /** Errant replicas: fenced with the others, but never repointed (they stay quarantined). */
      quarantined: string[];
      candidates: Omit<RankedInstance, "gtids">[];
      constraining: string[];
      reason: string;
    };

export type OperationType = Operation["type"];

/** A read-only endpoint (goes into the `<c>-ro` EndpointSlice). */
export interface Endpoint {
  name: string;
  ip: string;
}

/** The decider's answer. `status` assumes `operation` succeeds; if it fails the hook answers
 * 500 so nothing is written, and the next sync decides again from a fresh observation. */
export interface Decision {
  status: {
    state: ClusterState;
    message: string;
    currentPrimary: string;
    instances: InstanceStatus[];
    failingSince?: string;
    lastOperation?: LastOperation;
  };
  operation: Operation;
  /** Semi-sync settings for whichever instance is (made) primary. */
  semiSync: SemiSyncPlan;
  readOnlyEndpoints: Endpoint[];
  resyncAfterSeconds: number;
  /** The StatefulSet partition and rollout phase (only with `DecideInput.rollout`). */
  rollout?: RolloutPlan;
}
