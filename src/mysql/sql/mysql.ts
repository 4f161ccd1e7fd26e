/**
 * MySQL 8.4 SQL (CHANGE REPLICATION SOURCE TO, SHOW REPLICA STATUS, super_read_only,
 * rpl_semi_sync_source_*). No MySQL server runs in this environment: test/unit/mysql-sql.test.ts
 * checks this text against the documented 8.4 syntax.
 */
import { OPERATOR_USER } from "../../api/constants.js";
import type { BoundQuery, ChangeSourceOptions, Dialect, SemiSyncSourceOptions } from "./dialect.js";
import { intLiteral, quoteString } from "./escape.js";

/** Plugins needed for semi-sync on MySQL (loaded with plugin_load_add in my.cnf, or installed). */
export const MYSQL_SEMI_SYNC_PLUGINS = [
  { name: "rpl_semi_sync_source", library: "semisync_source.so" },
  { name: "rpl_semi_sync_replica", library: "semisync_replica.so" },
] as const;

const selectGlobals = [
  "SELECT @@server_id AS server_id",
  "@@version AS version",
  "@@read_only AS read_only",
  "@@super_read_only AS super_read_only",
  "@@gtid_executed AS gtid_state",
  "'' AS gtid_binlog_pos",
  "@@gtid_executed AS gtid_executed",
  "'' AS gtid_slave_pos",
].join(", ");

function changeSource(o: ChangeSourceOptions): string {
  const parts = [
    `SOURCE_HOST=${quoteString(o.host)}`,
    `SOURCE_PORT=${intLiteral(o.port, "port")}`,
    `SOURCE_USER=${quoteString(o.user)}`,
    `SOURCE_PASSWORD=${quoteString(o.password)}`,
    "SOURCE_AUTO_POSITION=1",
    `SOURCE_CONNECT_RETRY=${intLiteral(o.connectRetrySeconds ?? 1, "connect retry")}`,
    "SOURCE_RETRY_COUNT=86400",
    `SOURCE_HEARTBEAT_PERIOD=${intLiteral(o.heartbeatSeconds ?? 1, "heartbeat period")}`,
    // caching_sha2_password over a non-TLS replication connection needs the server's RSA key.
    "GET_SOURCE_PUBLIC_KEY=1",
  ];
  return `CHANGE REPLICATION SOURCE TO ${parts.join(", ")}`;
}

function waitForGtid(gtid: string, timeoutSeconds: number): BoundQuery {
  return { sql: "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS r", values: [gtid, timeoutSeconds] };
}

function semiSyncSource(o: SemiSyncSourceOptions): string[] {
  if (!o.enabled) return ["SET GLOBAL rpl_semi_sync_source_enabled=OFF"];
  if (o.waitCount < 1) throw new Error(`semi-sync wait count must be at least 1 (got ${o.waitCount})`);
  return [
    "SET GLOBAL rpl_semi_sync_source_wait_point='AFTER_SYNC'",
    `SET GLOBAL rpl_semi_sync_source_timeout=${intLiteral(o.timeoutMs, "semi-sync timeout")}`,
    `SET GLOBAL rpl_semi_sync_source_wait_for_replica_count=${intLiteral(o.waitCount, "semi-sync wait count")}`,
    "SET GLOBAL rpl_semi_sync_source_enabled=ON",
  ];
}

/** INSTALL PLUGIN statements for semi-sync (when not loaded from my.cnf). */
export function installSemiSyncPlugins(): string[] {
  return MYSQL_SEMI_SYNC_PLUGINS.map((p) => `INSTALL PLUGIN ${p.name} SONAME ${quoteString(p.library)}`);
}

/** The MySQL 8.4 dialect. */
export const mysqlDialect: Dialect = {
  flavor: "mysql",
  selectGlobals,
  showSemiSyncVariables: "SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync%'",
  showSemiSyncStatus: "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%'",
  showReplicaStatus: "SHOW REPLICA STATUS",
  selectClientSessions: {
    sql:
      "SELECT ID AS id, USER AS user, COMMAND AS command FROM performance_schema.processlist " +
      "WHERE ID <> CONNECTION_ID() AND USER NOT IN (?, 'system user', 'event_scheduler') " +
      "AND COMMAND NOT IN ('Binlog Dump', 'Binlog Dump GTID', 'Daemon')",
    values: [OPERATOR_USER],
  },
  selectReceiverThread: "SELECT PROCESSLIST_ID AS id FROM performance_schema.threads WHERE NAME = 'thread/sql/replica_io' AND PROCESSLIST_ID IS NOT NULL",
  startReplica: () => "START REPLICA",
  stopReplica: () => "STOP REPLICA",
  stopReceiving: () => "STOP REPLICA IO_THREAD",
  startApplier: () => "START REPLICA SQL_THREAD",
  resetReplicaAll: () => "RESET REPLICA ALL",
  changeSource,
  waitForGtid,
  setReadOnly: (readOnly) => (readOnly ? ["SET GLOBAL super_read_only=ON"] : ["SET GLOBAL super_read_only=OFF", "SET GLOBAL read_only=OFF"]),
  semiSyncSource,
  semiSyncReplica: (enabled) => [`SET GLOBAL rpl_semi_sync_replica_enabled=${enabled ? "ON" : "OFF"}`],
};
