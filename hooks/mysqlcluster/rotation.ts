/**
 * Online password rotation (docs/clustering.md "Rotating passwords"). The Secret says which
 * passwords the accounts should have; `<c>-applied-credentials` records which ones the servers
 * hold. While they differ, the hook logs in with either, and once the cluster is healthy with
 * nothing else to do, each service account sets its new password on the primary through the
 * binary log (src/mysql/rotate.ts); then the new passwords are recorded as applied. Root, which
 * logs in from inside the pod only, changes by a rolling restart instead (its generation is on the
 * pod template), each start converging it to the Secret.
 */
import type { Cluster } from "../../src/api/cluster.js";
import { APPS_USER, BACKUP_USER, OPERATOR_USER, REPLICATION_USER } from "../../src/api/constants.js";
import { SecretSchema } from "../../src/api/k8s.js";
import { OperationDeferred, rotatePasswords, type Member, type OperationConfig, type PasswordChange } from "../../src/mysql/index.js";
import {
  desiredApplied,
  readAppliedCredentials,
  sameApplied,
  type AppliedCredentials,
  type AppliedKey,
  type Credentials,
} from "../../src/render/credentials.js";
import type { Decision, InstanceObservation } from "../../src/topology/index.js";
import type { ParsedSync } from "./request.js";

/** Desired (the Secrets) and applied (what the servers hold) passwords of one sync. */
export interface RotationState {
  desired: Record<AppliedKey, string>;
  applied: AppliedCredentials;
}

/** The rotation state; without a record, the servers hold the desired passwords. */
export function rotationState(cluster: Cluster, parsed: ParsedSync, credentials: Credentials, backupPassword: string, appsPassword: string): RotationState {
  const desired = desiredApplied(credentials, backupPassword, appsPassword);
  const secrets = parsed.children.flatMap((c) => {
    if (c.kind !== "Secret") return [];
    const s = SecretSchema.safeParse(c);
    return s.success ? [s.data] : [];
  });
  const applied = readAppliedCredentials(cluster.name, secrets) ?? { passwords: { ...desired }, rootGeneration: 0, revision: 0 };
  return { desired, applied };
}

/** Operator passwords to try, in order: what the servers hold, then the new one. */
export function operatorPasswords(state: RotationState): string[] {
  const { applied, desired } = state;
  return [...new Set([applied.passwords["operator-password"], desired["operator-password"]])];
}

const SERVICE_ACCOUNTS: ReadonlyArray<{ key: AppliedKey; user: string }> = [
  { key: "backup-password", user: BACKUP_USER },
  { key: "apps-password", user: APPS_USER },
  { key: "replication-password", user: REPLICATION_USER },
  { key: "operator-password", user: OPERATOR_USER },
];

/** The service accounts whose password changes (root is not one: see `withRoot`). */
export function pendingChanges(state: RotationState): PasswordChange[] {
  return SERVICE_ACCOUNTS.flatMap(({ key, user }) =>
    state.applied.passwords[key] === state.desired[key] ? [] : [{ user, from: state.applied.passwords[key], to: state.desired[key] }],
  );
}

/**
 * Root's change is recorded at once: a new generation on the pod template rolls the pods, and
 * each start converges root to the mounted Secret (no hook can log in as root).
 */
export function withRoot(state: RotationState, applied: AppliedCredentials): AppliedCredentials {
  if (applied.passwords["root-password"] === state.desired["root-password"]) return applied;
  return { ...applied, passwords: { ...applied.passwords, "root-password": state.desired["root-password"] }, rootGeneration: applied.rootGeneration + 1 };
}

/** The record to render: the observed revision while unchanged, the next one otherwise. */
export function nextRecord(state: RotationState, applied: AppliedCredentials): AppliedCredentials {
  return sameApplied(applied, state.applied) ? state.applied : { ...applied, revision: state.applied.revision + 1 };
}

/** An observed instance with the operator password it accepted. */
export type ObservedInstance = InstanceObservation & { operatorPassword?: string };

/** A member for operations: its pod IP and the operator password it accepts. */
export function memberOf(observed: readonly ObservedInstance[], name: string): Member | undefined {
  const o = observed.find((i) => i.name === name);
  if (!o?.podIP) return undefined;
  return { name, host: o.podIP, ...(o.operatorPassword !== undefined ? { password: o.operatorPassword } : {}) };
}

export type RotationOutcome =
  | { kind: "none"; applied: AppliedCredentials }
  | { kind: "waiting"; applied: AppliedCredentials; why: string }
  | { kind: "rotated"; applied: AppliedCredentials; changed: string[]; ms: number; warnings: string[] }
  | { kind: "deferred"; reason: string };

/**
 * Rotates the service accounts' passwords when they differ from the applied ones and the
 * cluster can take it: this sync decided nothing else, the primary is reachable and writable.
 * Replicas that are down now get the change through replication when they return (the normal
 * sync re-points them with the new replication password). Throws when the rotation failed.
 */
export async function rotateIfDue(
  state: RotationState,
  decision: Decision,
  observed: readonly ObservedInstance[],
  cfg: Omit<OperationConfig, "replication" | "operator">,
): Promise<RotationOutcome> {
  const changes = pendingChanges(state);
  const applied = withRoot(state, state.applied);
  if (changes.length === 0) return { kind: "none", applied };
  if (decision.operation.type !== "none") return { kind: "waiting", applied, why: `${decision.operation.type} first` };
  const primaryName = decision.status.currentPrimary;
  const primary = primaryName ? memberOf(observed, primaryName) : undefined;
  const primaryObs = observed.find((o) => o.name === primaryName);
  if (!primary || !primaryObs?.probe?.ok) return { kind: "waiting", applied, why: "no reachable primary" };
  const replicas = decision.status.instances
    .filter((i) => i.role === "replica" && !i.errantTransactions)
    .flatMap((i) => {
      const o = observed.find((x) => x.name === i.name);
      const m = memberOf(observed, i.name);
      return o?.probe?.ok && m ? [m] : [];
    });
  const operator = changes.find((c) => c.user === OPERATOR_USER);
  const started = performance.now();
  let warnings: string[];
  try {
    ({ warnings } = await rotatePasswords(
      {
        ...cfg,
        operator: { user: OPERATOR_USER, password: state.applied.passwords["operator-password"] },
        replication: { user: REPLICATION_USER, password: state.desired["replication-password"] },
      },
      {
        primary,
        replicas,
        accounts: changes.filter((c) => c.user !== OPERATOR_USER),
        ...(operator ? { operator } : {}),
        repoint: changes.some((c) => c.user === REPLICATION_USER),
      },
    ));
  } catch (err) {
    if (err instanceof OperationDeferred) return { kind: "deferred", reason: err.message };
    throw new Error(`password rotation failed: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const passwords = { ...applied.passwords };
  for (const { key, user } of SERVICE_ACCOUNTS) if (changes.some((c) => c.user === user)) passwords[key] = state.desired[key];
  return { kind: "rotated", applied: { ...applied, passwords }, changed: changes.map((c) => c.user), ms: Math.round(performance.now() - started), warnings };
}
