/**
 * my.cnf for each flavor: the options the operator owns (replication, GTIDs, read-only start,
 * semi-sync wiring), then the user's `spec.mysqlConfig`, sorted. Per-pod values (server_id,
 * report_host, paths) are passed on the command line by entrypoint.sh.
 */
import type { MySQLClusterSpec } from "../api/cluster.js";
import { normalizeOptionName } from "../api/cluster.js";
// Semi-sync timeout for `durability: lossless` (24 h: the primary never silently degrades to
// asynchronous replication): the same value the operator sets at promotion.
import { LOSSLESS_SEMI_SYNC_TIMEOUT_MS } from "../api/constants.js";

/** For `async` the plugin stays loaded but disabled; the timeout only matters if enabled by hand. */
export const ASYNC_SEMI_SYNC_TIMEOUT_MS = 10000;

function ownedOptions(spec: MySQLClusterSpec): Array<[string, string]> {
  // Semi-sync replica side (and, on MariaDB, crash recovery as a replica) only where a commit can
  // be acknowledged by another instance: with one instance nothing could hold a truncated commit.
  const lossless = spec.durability === "lossless" && spec.instances > 1;
  const timeout = String(lossless ? LOSSLESS_SEMI_SYNC_TIMEOUT_MS : ASYNC_SEMI_SYNC_TIMEOUT_MS);
  if (spec.flavor === "mariadb") {
    return [
      ["binlog_format", "ROW"],
      ["gtid_strict_mode", "ON"],
      ["log_bin", "mysql-bin"],
      ["log_slave_updates", "ON"],
      ["read_only", "ON"],
      ["relay_log", "relay-bin"],
      ["rpl_semi_sync_master_enabled", "OFF"],
      ["rpl_semi_sync_master_timeout", timeout],
      ["rpl_semi_sync_master_wait_point", "AFTER_SYNC"],
      ["rpl_semi_sync_slave_enabled", lossless ? "ON" : "OFF"],
      ["skip_slave_start", "ON"],
    ];
  }
  return [
    ["enforce_gtid_consistency", "ON"],
    ["gtid_mode", "ON"],
    ["log_bin", "mysql-bin"],
    ["log_replica_updates", "ON"],
    ["plugin_load_add", "semisync_source.so"],
    ["plugin_load_add", "semisync_replica.so"],
    ["read_only", "ON"],
    ["relay_log", "relay-bin"],
    ["rpl_semi_sync_replica_enabled", lossless ? "ON" : "OFF"],
    ["rpl_semi_sync_source_enabled", "OFF"],
    ["rpl_semi_sync_source_timeout", timeout],
    ["rpl_semi_sync_source_wait_point", "AFTER_SYNC"],
    ["skip_replica_start", "ON"],
    ["super_read_only", "ON"],
  ];
}

/** Defaults a user may override through `spec.mysqlConfig`. */
function defaultOptions(): Array<[string, string]> {
  return [
    ["character_set_server", "utf8mb4"],
    // InnoDB's redo log is flushed at every commit. The binary log is not fsynced per commit
    // (sync_binlog stays at the server default): with AFTER_SYNC semi-sync every acknowledged
    // commit is on a replica before the client hears OK, and measured here sync_binlog=1 widened
    // the window in which a killed primary holds unacknowledged commits (docs/clustering.md).
    ["innodb_flush_log_at_trx_commit", "1"],
    ["max_connections", "500"],
    ["skip_name_resolve", "ON"],
  ];
}

/** The rendered my.cnf text (deterministic). */
export function renderMyCnf(spec: MySQLClusterSpec, clusterName: string): string {
  const user = new Map<string, string>();
  for (const key of Object.keys(spec.mysqlConfig).sort()) {
    user.set(normalizeOptionName(key), String(spec.mysqlConfig[key]));
  }
  const defaults = defaultOptions().filter(([k]) => !user.has(k));
  const lines = [
    `# Rendered by metamysql for MySQLCluster ${clusterName}. Do not edit: set spec.mysqlConfig.`,
    "[mysqld]",
    "# owned by the operator",
    ...ownedOptions(spec).map(([k, v]) => `${k} = ${v}`),
    "# defaults",
    ...defaults.map(([k, v]) => `${k} = ${v}`),
  ];
  if (user.size > 0) {
    lines.push("# spec.mysqlConfig");
    for (const [k, v] of [...user.entries()].sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) lines.push(`${k} = ${v}`);
  }
  return `${lines.join("\n")}\n`;
}
