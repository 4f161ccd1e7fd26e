/**
 * What the decider knows about the cluster: one `InstanceObservation` per instance, built by the
 * hook from the related Pods plus `readInstanceStatus` (src/mysql/observe.ts). Plain data, no
 * I/O; an unreachable server is an error value here, never an exception (style.md, MOCO).
 */
import type { Flavor } from "../api/cluster.js";

/** Replication as reported by SHOW SLAVE STATUS / SHOW REPLICA STATUS (null: not a replica). */
export interface ReplicaStatus {
  sourceHost: string;
  sourcePort: number;
  sourceUser: string;
  /** Receiver thread: "Yes", "No" or "Connecting". */
  ioRunning: "Yes" | "No" | "Connecting";
  sqlRunning: boolean;
  /** What the receiver has written to the relay log: MariaDB `Gtid_IO_Pos`, MySQL `Retrieved_Gtid_Set`. */
  receivedGtids: string;
  lastIoErrno: number;
  lastIoError: string;
  lastSqlErrno: number;
  lastSqlError: string;
  /** Seconds_Behind_Master/Source; null when the applier is not running. */
  secondsBehindSource: number | null;
}

/** Semi-sync state (source side only matters on the primary). */
export interface SemiSyncStatus {
  /** rpl_semi_sync_master_enabled / rpl_semi_sync_source_enabled (false if the plugin is absent). */
  sourceEnabled: boolean;
  /** rpl_semi_sync_slave_enabled / rpl_semi_sync_replica_enabled. */
  replicaEnabled: boolean;
  /** Acknowledgements a commit waits for (MariaDB: always 1). */
  waitCount: number;
  timeoutMs: number;
  /** Rpl_semi_sync_*_clients: replicas currently able to acknowledge. */
  clients: number;
  /** Rpl_semi_sync_*_wait_sessions: commits waiting for an acknowledgement right now. */
  waitSessions: number;
}

/** The result of a successful probe of one server. */
export interface InstanceProbe {
  flavor: Flavor;
  serverId: number;
  version: string;
  readOnly: boolean;
  /** MySQL super_read_only; MariaDB has none and reports read_only here. */
  superReadOnly: boolean;
  /** Every transaction the instance holds: MariaDB `gtid_binlog_state`, MySQL `gtid_executed`. */
  gtidState: string;
  /** Applied position: MariaDB `gtid_current_pos` merged with `gtid_binlog_pos`, MySQL `gtid_executed`. */
  gtidExecuted: string;
  /** MariaDB `gtid_binlog_pos` ("" on MySQL): what a primary's replicas must reach. */
  gtidBinlogPos: string;
  /** MariaDB `gtid_slave_pos` ("" on MySQL). */
  gtidSlavePos: string;
  replica: ReplicaStatus | null;
  semiSync: SemiSyncStatus;
}

/** A probe result: the status, or why it could not be read (timeout, refused, auth, parse). */
/** A failed probe; `accessDenied` when the server refused the password (a rotation in progress). */
export type ProbeResult = { ok: true; status: InstanceProbe } | { ok: false; error: string; accessDenied?: boolean };

/** One instance (pod ordinal) as the hook sees it. */
export interface InstanceObservation {
  /** Pod name `<cluster>-<ordinal>`. */
  name: string;
  ordinal: number;
  /** Whether the Pod object exists at all. */
  podExists: boolean;
  podReady: boolean;
  /** The Pod has a deletionTimestamp. */
  terminating: boolean;
  podIP: string | undefined;
  /** The pod's `controller-revision-hash` label (the StatefulSet revision it runs). */
  revision?: string | undefined;
  /** Undefined when no probe was attempted (no pod or no IP yet). */
  probe: ProbeResult | undefined;
}
