import { describe, expect, it } from "vitest";
import { parseReplicaStatus, parseSemiSync } from "../../src/mysql/observe.js";
import { dialectFor, installSemiSyncPlugins, mariadbDialect, mysqlDialect, quoteAccount, quoteIdent, quoteString } from "../../src/mysql/sql/index.js";

const source = { host: "10.0.0.7", port: 3306, user: "repl", password: "p'w\\d\"x" };

describe("escaping", () => {
  it.each([
    ["plain", "abc", "'abc'"],
    ["quote", "a'b", "'a\\'b'"],
    ["backslash", "a\\b", "'a\\\\b'"],
    ["double quote", 'a"b', "'a\\\"b'"],
    ["NUL and newline", "a\0b\nc", "'a\\0b\\nc'"],
    ["injection attempt", "x', MASTER_HOST='evil", "'x\\', MASTER_HOST=\\'evil'"],
  ])("quoteString: %s", (_n, input, expected) => {
    expect(quoteString(input)).toBe(expected);
  });
  it("quotes identifiers and accounts", () => {
    expect(quoteIdent("we`ird")).toBe("`we``ird`");
    expect(() => quoteIdent("")).toThrow();
    expect(quoteAccount("metamysql")).toBe("'metamysql'@'%'");
  });
});

describe("MySQL 8.4 SQL text (documented syntax, no server here)", () => {
  const d = mysqlDialect;
  it("CHANGE REPLICATION SOURCE TO with auto-positioning", () => {
    expect(d.changeSource(source)).toBe(
      "CHANGE REPLICATION SOURCE TO SOURCE_HOST='10.0.0.7', SOURCE_PORT=3306, SOURCE_USER='repl', " +
        "SOURCE_PASSWORD='p\\'w\\\\d\\\"x', SOURCE_AUTO_POSITION=1, SOURCE_CONNECT_RETRY=1, SOURCE_RETRY_COUNT=86400, " +
        "SOURCE_HEARTBEAT_PERIOD=1, GET_SOURCE_PUBLIC_KEY=1",
    );
    expect(d.changeSource({ ...source, demote: true })).not.toMatch(/DEMOTE|MASTER/);
  });
  it("uses REPLICA/SOURCE words only, never SLAVE/MASTER", () => {
    const all = [
      d.showReplicaStatus,
      d.startReplica(),
      d.stopReplica(),
      d.stopReceiving(),
      d.startApplier(),
      d.resetReplicaAll(),
      d.changeSource(source),
      ...d.semiSyncSource({ enabled: true, timeoutMs: 86400000, waitCount: 2 }),
      ...d.semiSyncReplica(true),
    ].join("\n");
    expect(all).not.toMatch(/SLAVE|MASTER/i);
    expect(d.showReplicaStatus).toBe("SHOW REPLICA STATUS");
    expect(d.stopReceiving()).toBe("STOP REPLICA IO_THREAD");
    expect(d.resetReplicaAll()).toBe("RESET REPLICA ALL");
  });
  it("waits with WAIT_FOR_EXECUTED_GTID_SET and placeholders", () => {
    expect(d.waitForGtid("uuid:1-5", 10)).toEqual({ sql: "SELECT WAIT_FOR_EXECUTED_GTID_SET(?, ?) AS r", values: ["uuid:1-5", 10] });
  });
  it("fences with super_read_only and opens both flags", () => {
    expect(d.setReadOnly(true)).toEqual(["SET GLOBAL super_read_only=ON"]);
    expect(d.setReadOnly(false)).toEqual(["SET GLOBAL super_read_only=OFF", "SET GLOBAL read_only=OFF"]);
  });
  it("configures semi-sync source AFTER_SYNC with the wait count, enabling last", () => {
    expect(d.semiSyncSource({ enabled: true, timeoutMs: 86400000, waitCount: 2 })).toEqual([
      "SET GLOBAL rpl_semi_sync_source_wait_point='AFTER_SYNC'",
      "SET GLOBAL rpl_semi_sync_source_timeout=86400000",
      "SET GLOBAL rpl_semi_sync_source_wait_for_replica_count=2",
      "SET GLOBAL rpl_semi_sync_source_enabled=ON",
    ]);
    expect(d.semiSyncSource({ enabled: false, timeoutMs: 0, waitCount: 1 })).toEqual(["SET GLOBAL rpl_semi_sync_source_enabled=OFF"]);
    expect(d.semiSyncReplica(true)).toEqual(["SET GLOBAL rpl_semi_sync_replica_enabled=ON"]);
    expect(installSemiSyncPlugins()).toEqual([
      "INSTALL PLUGIN rpl_semi_sync_source SONAME 'semisync_source.so'",
      "INSTALL PLUGIN rpl_semi_sync_replica SONAME 'semisync_replica.so'",
    ]);
  });
  it("reads @@gtid_executed and super_read_only", () => {
    expect(d.selectGlobals).toContain("@@super_read_only AS super_read_only");
    expect(d.selectGlobals).toContain("@@gtid_executed AS gtid_state");
    expect(d.selectClientSessions.sql).toContain("performance_schema.processlist");
    expect(d.selectClientSessions.sql).toContain("'Binlog Dump GTID'");
  });
});

describe("MariaDB SQL text", () => {
  const d = mariadbDialect;
  it("CHANGE MASTER TO with slave_pos, and MASTER_DEMOTE_TO_SLAVE on demotion", () => {
    expect(d.changeSource(source)).toBe(
      "CHANGE MASTER TO MASTER_HOST='10.0.0.7', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='p\\'w\\\\d\\\"x', " +
        "MASTER_USE_GTID=slave_pos, MASTER_CONNECT_RETRY=1, MASTER_HEARTBEAT_PERIOD=1",
    );
    expect(d.changeSource({ ...source, demote: true })).toMatch(/, MASTER_DEMOTE_TO_SLAVE=1$/);
  });
  it("stops only the IO thread to fence (relay-log trap)", () => {
    expect(d.stopReceiving()).toBe("STOP SLAVE IO_THREAD");
    expect(d.waitForGtid("0-100-5", 3)).toEqual({ sql: "SELECT MASTER_GTID_WAIT(?, ?) AS r", values: ["0-100-5", 3] });
  });
  it("semi-sync master: exactly one ack, AFTER_SYNC", () => {
    expect(d.semiSyncSource({ enabled: true, timeoutMs: 5, waitCount: 1 })).toEqual([
      "SET GLOBAL rpl_semi_sync_master_wait_point='AFTER_SYNC'",
      "SET GLOBAL rpl_semi_sync_master_timeout=5",
      "SET GLOBAL rpl_semi_sync_master_enabled=ON",
    ]);
    expect(() => d.semiSyncSource({ enabled: true, timeoutMs: 5, waitCount: 2 })).toThrow(/exactly one/);
  });
  it("reads gtid_binlog_state/pos, current and slave pos", () => {
    for (const v of ["@@gtid_binlog_state", "@@gtid_binlog_pos", "@@gtid_current_pos", "@@gtid_slave_pos"]) expect(d.selectGlobals).toContain(v);
  });
  it("rejects bad integers instead of emitting them", () => {
    expect(() => d.changeSource({ ...source, port: -1 })).toThrow();
    expect(() => dialectFor("mysql").semiSyncSource({ enabled: true, timeoutMs: 1.5, waitCount: 1 })).toThrow();
  });
});

describe("row parsing", () => {
  it("parses SHOW REPLICA STATUS (MySQL column names)", () => {
    const r = parseReplicaStatus("mysql", [
      {
        Source_Host: "10.0.0.7",
        Source_Port: 3306,
        Source_User: "repl",
        Replica_IO_Running: "Connecting",
        Replica_SQL_Running: "Yes",
        Retrieved_Gtid_Set: "uuid-ish",
        Last_IO_Errno: 2003,
        Last_IO_Error: "can't connect",
        Last_SQL_Errno: 0,
        Last_SQL_Error: "",
        Seconds_Behind_Source: null,
        Channel_Name: "",
      },
    ]);
    expect(r).toMatchObject({ sourceHost: "10.0.0.7", ioRunning: "Connecting", sqlRunning: true, lastIoErrno: 2003, secondsBehindSource: null });
    expect(parseReplicaStatus("mysql", [])).toBeNull();
  });
  it("parses SHOW SLAVE STATUS (MariaDB column names) and rejects garbage", () => {
    const row = {
      Master_Host: "127.0.0.1",
      Master_Port: "3306",
      Master_User: "repl",
      Slave_IO_Running: "Yes",
      Slave_SQL_Running: "No",
      Gtid_IO_Pos: "0-100-5",
      Last_IO_Errno: 0,
      Last_IO_Error: "",
      Last_SQL_Errno: 1950,
      Last_SQL_Error: "strict mode",
      Seconds_Behind_Master: null,
      Connection_name: "",
    };
    expect(parseReplicaStatus("mariadb", [row])).toMatchObject({ receivedGtids: "0-100-5", sqlRunning: false, lastSqlErrno: 1950 });
    expect(() => parseReplicaStatus("mariadb", [{ ...row, Master_Port: "x" }])).toThrow();
  });
  it("parses semi-sync variables and status", () => {
    const s = parseSemiSync(
      "mysql",
      [
        { Variable_name: "rpl_semi_sync_source_enabled", Value: "ON" },
        { Variable_name: "rpl_semi_sync_source_wait_for_replica_count", Value: "2" },
        { Variable_name: "rpl_semi_sync_source_timeout", Value: "86400000" },
      ],
      [{ Variable_name: "Rpl_semi_sync_source_clients", Value: "3" }],
    );
    expect(s).toEqual({ sourceEnabled: true, replicaEnabled: false, waitCount: 2, timeoutMs: 86400000, clients: 3, waitSessions: 0 });
  });
});
