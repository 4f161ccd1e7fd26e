/**
 * The SQL a flavor speaks, as pure text generators (one module per flavor), so that MySQL 8.4
 * statements are unit-tested at the text level where no MySQL server can run.
 * ARCHITECTURE.md section 1 (`mysql/`: flavors) and mysql-field-notes.md.
 */
import type { Flavor } from "../../api/cluster.js";

/** Where and how a replica connects to its source (always the source pod's IP). */
export interface ChangeSourceOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** MariaDB: MASTER_DEMOTE_TO_SLAVE=1, merging a former primary's own binlog position into
   * gtid_slave_pos so that it asks its new source for the right transactions. MySQL: ignored. */
  demote?: boolean;
  /** Seconds between reconnection attempts (default 1). */
  connectRetrySeconds?: number;
  /** Heartbeat period in seconds (default 1), so a dead source is noticed quickly. */
  heartbeatSeconds?: number;
}

/** Semi-synchronous replication settings of the source side. */
export interface SemiSyncSourceOptions {
  enabled: boolean;
  /** Milliseconds a commit waits for an acknowledgement before degrading to async. */
  timeoutMs: number;
  /** Acknowledgements a commit waits for (MariaDB supports exactly 1). */
  waitCount: number;
}

/** A statement plus its placeholder values (for statements that accept placeholders). */
export interface BoundQuery {
  sql: string;
  values: (string | number)[];
}

/** Everything flavor-specific that observe/act send to a server. */
export interface Dialect {
  readonly flavor: Flavor;
  /** Global variables of interest in one row (columns named as in `GlobalVariablesRow`). */
  readonly selectGlobals: string;
  /** `SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync%'` (plugin variables may be absent on MySQL). */
  readonly showSemiSyncVariables: string;
  /** `SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%'`. */
  readonly showSemiSyncStatus: string;
  /** One row per configured replication channel (zero rows = not a replica). */
  readonly showReplicaStatus: string;
  /** Client sessions to kill when fencing: not ours, not replication, not system threads. */
  readonly selectClientSessions: BoundQuery;
  /** The receiver (replica I/O) thread's connection id, one column `id` (no row when it is not running). */
  readonly selectReceiverThread: string;
  startReplica(): string;
  stopReplica(): string;
  /** Stop only the receiver: the applier keeps applying the relay log (MariaDB relay-log trap). */
  stopReceiving(): string;
  /** Start only the applier (no-op when running). */
  startApplier(): string;
  /** Forget the source entirely (used at promotion). */
  resetReplicaAll(): string;
  changeSource(opts: ChangeSourceOptions): string;
  /** Returns one column `r`: 0 = reached, otherwise timed out or failed. */
  waitForGtid(gtid: string, timeoutSeconds: number): BoundQuery;
  /** Statements that make the instance read-only (MySQL: super_read_only) or writable. */
  setReadOnly(readOnly: boolean): string[];
  semiSyncSource(opts: SemiSyncSourceOptions): string[];
  semiSyncReplica(enabled: boolean): string[];
}
