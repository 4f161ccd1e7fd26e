/**
 * accounts.sh (src/render/scripts/accounts.sh), the one definition of the accounts production
 * creates and the tests use: the SQL text it prints per flavor. Runs bash, no server (the SQL runs
 * for real in every test that starts an instance: test/helpers/mariadb.ts, the e2e tests).
 */
import { describe, expect, it } from "vitest";
import { unsafeSqlModeFix } from "../../src/mysql/sql/escape.js";
import { accountsSql, statements } from "../helpers/scripts.js";

const PW = { root: "r'oo\\t", operator: "o'p", replication: "r", backup: "b'k" };
/** First statement of every mode: the session's sql_mode without NO_BACKSLASH_ESCAPES (escape.ts). */
const SQL_MODE = unsafeSqlModeFix;

describe("accounts.sh", () => {
  it.each(["mariadb", "mysql"] as const)("%s: least-privilege accounts without binary logging", (flavor) => {
    const sql = statements(accountsSql("service", flavor, PW));
    expect(sql.slice(0, 2)).toEqual([SQL_MODE, "SET SESSION sql_log_bin=0"]);
    expect(sql).toContain("CREATE USER IF NOT EXISTS 'metamysql'@'%' IDENTIFIED BY 'o\\'p'");
    expect(sql).toContain("GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'");
    expect(sql.join(";")).not.toMatch(/SUPER|ALL PRIVILEGES/);
    expect(sql.join(";")).not.toContain("root");
    expect(sql.at(-1)).toBe("FLUSH PRIVILEGES");
  });
  it("mysql: the operator's static and dynamic privileges, one GRANT each", () => {
    const sql = statements(accountsSql("service", "mysql", PW));
    expect(sql).toContain("GRANT RELOAD, PROCESS, SELECT, REPLICATION CLIENT ON *.* TO 'metamysql'@'%'");
    expect(sql).toContain(
      "GRANT SYSTEM_VARIABLES_ADMIN, REPLICATION_SLAVE_ADMIN, CONNECTION_ADMIN, BINLOG_ADMIN, BACKUP_ADMIN, CLONE_ADMIN ON *.* TO 'metamysql'@'%'",
    );
  });
  it("mariadb: the operator's privileges", () => {
    expect(statements(accountsSql("service", "mariadb", PW))).toContain(
      "GRANT RELOAD, PROCESS, SELECT, REPLICATION SLAVE ADMIN, SLAVE MONITOR, BINLOG MONITOR, REPLICATION MASTER ADMIN, READ_ONLY ADMIN, BINLOG ADMIN, CONNECTION ADMIN ON *.* TO 'metamysql'@'%'",
    );
  });
  it.each([
    ["mysql", "SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, REPLICATION CLIENT"],
    ["mariadb", "SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, BINLOG MONITOR, SLAVE MONITOR"],
  ] as const)("%s: the backup account can read and lock, not write or control replication", (flavor, privileges) => {
    const sql = statements(accountsSql("service", flavor, PW));
    expect(sql).toContain("CREATE USER IF NOT EXISTS 'metamysql_backup'@'%' IDENTIFIED BY 'b\\'k'");
    expect(sql).toContain(`GRANT ${privileges} ON *.* TO 'metamysql_backup'@'%'`);
  });
  it("init: root local and remote with the root password, then the service accounts", () => {
    const sql = statements(accountsSql("init", "mariadb", PW));
    expect(sql.slice(0, 2)).toEqual([SQL_MODE, "SET SESSION sql_log_bin=0"]);
    expect(sql).toContain("ALTER USER 'root'@'localhost' IDENTIFIED BY 'r\\'oo\\\\t'");
    expect(sql).toContain("GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION");
    expect(sql.filter((s) => s.startsWith("CREATE USER IF NOT EXISTS 'metamysql'"))).toHaveLength(1);
  });
  it("upgrade: only the backup account; seed: this cluster's passwords on restored accounts", () => {
    const up = statements(accountsSql("upgrade", "mariadb", { backup: "b" }));
    expect(up).toEqual([
      SQL_MODE,
      "SET SESSION sql_log_bin=0",
      "CREATE USER IF NOT EXISTS 'metamysql_backup'@'%' IDENTIFIED BY 'b'",
      "ALTER USER 'metamysql_backup'@'%' IDENTIFIED BY 'b'",
      "GRANT SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, BINLOG MONITOR, SLAVE MONITOR ON *.* TO 'metamysql_backup'@'%'",
      "FLUSH PRIVILEGES",
    ]);
    expect(statements(accountsSql("seed", "mariadb", PW))).toContain("ALTER USER 'metamysql'@'%' IDENTIFIED BY 'o\\'p'");
  });
  it("a missing password prints no SQL at all", () => {
    expect(() => accountsSql("init", "mariadb", { operator: "o" })).toThrow(/accounts.sh init failed/);
  });
});
