/**
 * The numbers and small rules the decider is built from, each documented in docs/clustering.md
 * under the same name. Pure.
 */
import type { MySQLClusterSpec } from "../api/cluster.js";
import { LOSSLESS_SEMI_SYNC_TIMEOUT_MS } from "../api/constants.js";
import { gtidMerge } from "./gtid.js";
import type { InstanceProbe, ReplicaStatus } from "./observation.js";

/** A replica this far behind (Seconds_Behind_*) is not a switchover candidate. */
export const SWITCHOVER_MAX_LAG_SECONDS = 5;
/** A replica this far behind is taken out of the read-only endpoints. */
export const READ_ONLY_MAX_LAG_SECONDS = 60;
/** IO errors that re-configuring cannot fix (1236: source lacks the requested GTIDs / diverged). */
export const FATAL_IO_ERRNOS: readonly number[] = [1236];

/** Suggested resyncAfterSeconds per outcome (docs/clustering.md "Resync"). */
export const RESYNC = {
  afterOperation: 0.5,
  converging: 2,
  /** Least wait while the primary is down within the delay. */
  failedMin: 0.1,
  /** Added to the wait until the failover deadline, so that the resync lands just past it. */
  failedSlack: 0.05,
  /**
   * Most time between two syncs while the primary is down within the delay: a restarted primary
   * is reopened within this of answering again, not at the next pod event.
   */
  failedPoll: 0.25,
  lost: 5,
  /**
   * Healthy: how soon a hung primary (no pod event: its process is there, it just does not
   * answer) is seen at the latest. Readiness probes would notice only after their failure
   * threshold; this bounds detection to about a second plus the probe's connect timeout.
   */
  healthy: 1,
} as const;

/** Desired semi-sync source settings on the primary. */
export interface SemiSyncPlan {
  enabled: boolean;
  waitCount: number;
  timeoutMs: number;
}

/**
 * SEMI_SYNC_WAIT_COUNT rule: with `durability: lossless` and at least one replica in the spec,
 * the primary waits for exactly ONE acknowledgement (MariaDB cannot wait for more; on MySQL the
 * same rule keeps writes flowing while all but one replica are down or while new replicas are
 * still being created during a scale-up). A single instance, or `async`, runs without semi-sync.
 */
export function semiSyncPlan(spec: MySQLClusterSpec): SemiSyncPlan {
  if (spec.durability !== "lossless" || spec.instances < 2) return { enabled: false, waitCount: 1, timeoutMs: 10_000 };
  return { enabled: true, waitCount: 1, timeoutMs: LOSSLESS_SEMI_SYNC_TIMEOUT_MS };
}

/** True when the primary's semi-sync settings differ from the plan. */
export function semiSyncDiffers(plan: SemiSyncPlan, actual: InstanceProbe["semiSync"]): boolean {
  if (!plan.enabled) return actual.sourceEnabled;
  return !actual.sourceEnabled || actual.waitCount !== plan.waitCount || actual.timeoutMs !== plan.timeoutMs;
}

/**
 * FAILOVER_QUORUM rule: every acknowledged commit is on at least `waitCount` of the replicas that
 * could have acknowledged it, so the reachable ones provably hold it when
 * `reachable >= couldHaveAcked - waitCount + 1`. With `async` nothing is provable and one
 * reachable candidate is enough (documented risk).
 */
export function failoverQuorum(couldHaveAcked: number, plan: SemiSyncPlan): number {
  if (!plan.enabled) return 1;
  return Math.max(1, couldHaveAcked - plan.waitCount + 1);
}

/** What an instance has received: relay log merged with what it applied (MOCO #370: the relay
 * set is empty right after a switchover, so the executed set must be included). */
export function receivedGtids(p: InstanceProbe): string {
  return gtidMerge(p.flavor, p.gtidExecuted, p.replica?.receivedGtids ?? "");
}

/** The position every replica must reach for a primary: MariaDB gtid_binlog_pos, MySQL gtid_executed. */
export function primaryPosition(p: InstanceProbe): string {
  return p.flavor === "mariadb" ? p.gtidBinlogPos : p.gtidExecuted;
}

/** Read-only as the flavor enforces it for administrators too (MySQL: super_read_only). */
export function isFenced(p: InstanceProbe): boolean {
  return p.flavor === "mysql" ? p.superReadOnly : p.readOnly;
}

/** Replication that points at `sourceIP` with both threads running and no errors. */
export function replicatesFrom(r: ReplicaStatus | null, sourceIP: string | undefined): boolean {
  return r !== null && sourceIP !== undefined && r.sourceHost === sourceIP && r.ioRunning !== "No" && r.sqlRunning && r.lastSqlErrno === 0;
}

/**
 * The primary no longer holds the binary logs this replica needs (error 1236 with the purge
 * message: MariaDB "...required binlog files have been purged", MySQL "...the source purged
 * required binary logs"), as opposed to divergence (the same errno, another message).
 */
export function binlogsPurged(r: ReplicaStatus | null): boolean {
  return r !== null && r.lastIoErrno === 1236 && /purged/i.test(r.lastIoError);
}

/** What to do about purged binary logs (docs/backups.md "Seeding new and re-seeded replicas"). */
export const RESEED_HINT =
  " (the primary purged the binary logs this instance needs: re-seed it from the newest completed backup by deleting its PersistentVolumeClaim and pod; a fresh data dir seeds from spec.backups.schedules[0])";

/** An error that needs a human (or a re-seed), as opposed to a stopped or misdirected thread. */
export function replicationBroken(r: ReplicaStatus | null): string | undefined {
  if (r === null) return undefined;
  if (!r.sqlRunning && r.lastSqlErrno !== 0) return `replication applier error ${r.lastSqlErrno}: ${r.lastSqlError}`;
  if (r.ioRunning === "No" && FATAL_IO_ERRNOS.includes(r.lastIoErrno)) {
    return `replication receiver error ${r.lastIoErrno}: ${r.lastIoError}${binlogsPurged(r) ? RESEED_HINT : ""}`;
  }
  return undefined;
}
