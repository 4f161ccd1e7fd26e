/**
 * MariaDB 10.11+ SQL (mysql-field-notes.md: every statement here ran for real with mysql2).
 */
import { OPERATOR_USER } from "../../api/constants.js";
import type { BoundQuery, ChangeSourceOptions, Dialect, SemiSyncSourceOptions } from "./dialect.js";
import { intLiteral, quoteString } from "./escape.js";

const selectGlobals = [
  "SELECT @@server_id AS server_id",
  "@@version AS version",
  "@@read_only AS read_only",
  "@@read_only AS super_read_only",
  "@@gtid_binlog_state AS gtid_state",
  "@@gtid_binlog_pos AS gtid_binlog_pos",
  "@@gtid_current_pos AS gtid_executed",
  "@@gtid_slave_pos AS gtid_slave_pos",
].join(", ");

function changeSource(o: ChangeSourceOptions): string {
  const parts = [
    `MASTER_HOST=${quoteString(o.host)}`,
    `MASTER_PORT=${intLiteral(o.port, "port")}`,
    `MASTER_USER=${quoteString(o.user)}`,
    `MASTER_PASSWORD=${quoteString(o.password)}`,
    "MASTER_USE_GTID=slave_pos",
    `MASTER_CONNECT_RETRY=${intLiteral(o.connectRetrySeconds ?? 1, "connect retry")}`,
    `MASTER_HEARTBEAT_PERIOD=${intLiteral(o.heartbeatSeconds ?? 1, "heartbeat period")}`,
  ];
  if (o.demote) parts.push("MASTER_DEMOTE_TO_SLAVE=1");
  return `CHANGE MASTER TO ${parts.join(", ")}`;
}

function waitForGtid(gtid: string, timeoutSeconds: number): BoundQuery {
  return { sql: "SELECT MASTER_GTID_WAIT(?, ?) AS r", values: [gtid, timeoutSeconds] };
}

function semiSyncSource(o: SemiSyncSourceOptions): string[] {
  if (o.enabled && o.waitCount !== 1) {
    throw new Error(`MariaDB semi-sync waits for exactly one acknowledgement (asked for ${o.waitCount})`);
  }
  if (!o.enabled) return ["SET GLOBAL rpl_semi_sync_master_enabled=OFF"];
  return [
    "SET GLOBAL rpl_semi_sync_master_wait_point='AFTER_SYNC'",
    `SET GLOBAL rpl_semi_sync_master_timeout=${intLiteral(o.timeoutMs, "semi-sync timeout")}`,
    "SET GLOBAL rpl_semi_sync_master_enabled=ON",
  ];
}

/** The MariaDB dialect. */
export const mariadbDialect: Dialect = {
  flavor: "mariadb",
  selectGlobals,
  showSemiSyncVariables: "SHOW GLOBAL VARIABLES LIKE 'rpl_semi_sync%'",
  showSemiSyncStatus: "SHOW GLOBAL STATUS LIKE 'Rpl_semi_sync%'",
  showReplicaStatus: "SHOW SLAVE STATUS",
  selectClientSessions: {
    sql:
      "SELECT ID AS id, USER AS user, COMMAND AS command FROM information_schema.PROCESSLIST " +
      "WHERE ID <> CONNECTION_ID() AND USER NOT IN (?, 'system user', 'event_scheduler') " +
      "AND COMMAND NOT IN ('Binlog Dump', 'Daemon', 'Slave_IO', 'Slave_SQL', 'Slave_worker')",
    values: [OPERATOR_USER],
  },
  selectReceiverThread: "SELECT ID AS id FROM information_schema.PROCESSLIST WHERE COMMAND = 'Slave_IO'",
  startReplica: () => "START SLAVE",
  stopReplica: () => "STOP SLAVE",
  stopReceiving: () => "STOP SLAVE IO_THREAD",
  startApplier: () => "START SLAVE SQL_THREAD",
  resetReplicaAll: () => "RESET SLAVE ALL",
  changeSource,
  waitForGtid,
  setReadOnly: (readOnly) => [`SET GLOBAL read_only=${readOnly ? "ON" : "OFF"}`],
  semiSyncSource,
  semiSyncReplica: (enabled) => [`SET GLOBAL rpl_semi_sync_slave_enabled=${enabled ? "ON" : "OFF"}`],
};
