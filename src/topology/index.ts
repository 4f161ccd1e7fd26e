/**
 * The pure topology decider (ARCHITECTURE.md sections 1 and 5, docs/clustering.md).
 */
export { decide } from "./decide.js";
export type { DecideInput, Decision, Endpoint, Operation, OperationType } from "./types.js";
export type { InstanceObservation, InstanceProbe, ProbeResult, ReplicaStatus, SemiSyncStatus } from "./observation.js";
export { chooseBootstrapCandidate, chooseFailoverCandidate, chooseSwitchoverCandidate, type RankedInstance, type Choice } from "./candidates.js";
export * from "./rules.js";
export * from "./gtid.js";
export { planRollout, pendingUpdate, type RolloutObservation, type RolloutPlan, type RolloutPod, type RolloutGate, type RolloutPhase } from "./rollout.js";
