/**
 * accounts.sh (src/render/scripts/accounts.sh), the one definition of the accounts production
 * converges on every start and the tests use: the SQL text it prints per flavor. Runs bash, no
 * server (the SQL runs for real in every test that starts an instance: test/helpers/mariadb.ts,
 * test/integration/accounts-converge.test.ts, the e2e tests).
 */
import { describe, expect, it } from "vitest";
import { unsafeSqlModeFix } from "../../src/mysql/sql/escape.js";
import { accountsSql, statements } from "../helpers/scripts.js";

const PW = { root: "r'oo\\t", operator: "o'p", replication: "r", backup: "b'k" };
/** First statements of every mode: the session's sql_mode without NO_BACKSLASH_ESCAPES (escape.ts), no binary log, grant tables loaded. */
const PREAMBLE = [unsafeSqlModeFix, "SET SESSION sql_log_bin=0", "FLUSH PRIVILEGES"];

/** The GRANT statements of one account, in order. */
function grantsOf(sql: string[], account: string): string[] {
  return sql.filter((s) => s.startsWith("GRANT ") && s.endsWith(` TO ${account}`));
}

/** The schema privileges the apps account may grant to a MySQLUser (src/mysql/app-objects.ts grantablePrivileges). */
const APP_PRIVILEGES =
  "SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, CREATE TEMPORARY TABLES, LOCK TABLES, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EXECUTE, EVENT, TRIGGER";

describe("accounts.sh", () => {
  it.each(["mariadb", "mysql"] as const)(
    "%s: the apps account (MySQLDatabase/MySQLUser) holds CREATE USER and the grantable schema privileges, only when its password is given",
    (flavor) => {
      const sql = statements(accountsSql("service", flavor, { ...PW, apps: "a'pp" }));
      expect(sql).toContain("ALTER USER 'metamysql_apps'@'%' IDENTIFIED BY 'a\\'pp'");
      expect(sql.filter((s) => s.startsWith("GRANT ") && s.includes(" TO 'metamysql_apps'@'%'"))).toEqual([
        "GRANT CREATE USER ON *.* TO 'metamysql_apps'@'%'",
        `GRANT ${APP_PRIVILEGES}${flavor === "mariadb" ? ", DELETE HISTORY" : ""} ON *.* TO 'metamysql_apps'@'%' WITH GRANT OPTION`,
      ]);
      // No other account gets GRANT OPTION or CREATE USER.
      expect(sql.filter((s) => s.startsWith("GRANT ") && !s.includes("'metamysql_apps'")).join(";")).not.toMatch(/GRANT OPTION|CREATE USER/);
      expect(statements(accountsSql("service", flavor, PW)).join(";")).not.toContain("metamysql_apps");
    },
  );
  it.each(["mariadb", "mysql"] as const)("%s: least-privilege accounts without binary logging", (flavor) => {
    const sql = statements(accountsSql("service", flavor, PW));
    expect(sql.slice(0, 3)).toEqual(PREAMBLE);
    expect(sql).toContain("CREATE USER IF NOT EXISTS 'metamysql'@'%' IDENTIFIED BY 'o\\'p'");
    expect(sql).toContain("ALTER USER 'metamysql'@'%' IDENTIFIED BY 'o\\'p'");
    expect(grantsOf(sql, "'repl'@'%'")).toEqual(["GRANT REPLICATION SLAVE ON *.* TO 'repl'@'%'"]);
    expect(sql.join(";")).not.toMatch(/SUPER|ALL PRIVILEGES ON|GRANT OPTION(?! FROM)/);
    expect(sql.join(";")).not.toContain("root");
    expect(sql.at(-1)).toBe("FLUSH PRIVILEGES");
  });
  it.each(["mariadb", "mysql"] as const)("%s: every account's privileges are reset before its grants (converging, not adding)", (flavor) => {
    const sql = statements(accountsSql("service", flavor, PW));
    for (const account of ["'metamysql'@'%'", "'repl'@'%'", "'metamysql_backup'@'%'"]) {
      const revoke = sql.indexOf(`REVOKE ALL PRIVILEGES, GRANT OPTION FROM ${account}`);
      expect(revoke).toBeGreaterThan(
        sql.indexOf(`ALTER USER ${account} IDENTIFIED BY ${account.startsWith("'metamysql'") ? "'o\\'p'" : account.startsWith("'repl'") ? "'r'" : "'b\\'k'"}`),
      );
      const firstGrant = sql.findIndex((s) => s.startsWith("GRANT ") && s.endsWith(` TO ${account}`));
      expect(firstGrant).toBeGreaterThan(revoke);
    }
  });
  it("mysql: the operator's privileges (docs/clustering.md lists them), no SELECT on data", () => {
    expect(grantsOf(statements(accountsSql("service", "mysql", PW)), "'metamysql'@'%'")).toEqual([
      "GRANT PROCESS, REPLICATION CLIENT, RELOAD ON *.* TO 'metamysql'@'%'",
      "GRANT SYSTEM_VARIABLES_ADMIN, REPLICATION_SLAVE_ADMIN, CONNECTION_ADMIN ON *.* TO 'metamysql'@'%'",
      "GRANT SELECT ON performance_schema.* TO 'metamysql'@'%'",
    ]);
  });
  it("mariadb: the operator's privileges (docs/clustering.md lists them), no SELECT on data", () => {
    expect(grantsOf(statements(accountsSql("service", "mariadb", PW)), "'metamysql'@'%'")).toEqual([
      "GRANT PROCESS, RELOAD, SLAVE MONITOR, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, READ_ONLY ADMIN, CONNECTION ADMIN ON *.* TO 'metamysql'@'%'",
    ]);
  });
  it.each([
    ["mysql", "SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, REPLICATION CLIENT"],
    ["mariadb", "SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, PROCESS, BINLOG MONITOR, SLAVE MONITOR"],
  ] as const)("%s: the backup account can read and lock, not write or control replication", (flavor, privileges) => {
    const sql = statements(accountsSql("service", flavor, PW));
    expect(sql).toContain("CREATE USER IF NOT EXISTS 'metamysql_backup'@'%' IDENTIFIED BY 'b\\'k'");
    expect(grantsOf(sql, "'metamysql_backup'@'%'")).toEqual([`GRANT ${privileges} ON *.* TO 'metamysql_backup'@'%'`]);
  });
  it("converge: root from inside the pod only by default; root@'%' dropped", () => {
    const sql = statements(accountsSql("converge", "mariadb", PW));
    expect(sql.slice(0, 3)).toEqual(PREAMBLE);
    expect(sql).toContain("ALTER USER 'root'@'localhost' IDENTIFIED BY 'r\\'oo\\\\t'");
    expect(sql).toContain("GRANT ALL PRIVILEGES ON *.* TO 'root'@'localhost' WITH GRANT OPTION");
    expect(sql).toContain("DROP USER IF EXISTS 'root'@'%'");
    expect(sql.filter((s) => s.includes("'root'@'%'") && !s.startsWith("DROP USER"))).toEqual([]);
    expect(sql.filter((s) => s.startsWith("CREATE USER IF NOT EXISTS 'metamysql'"))).toHaveLength(1);
  });
  it.each(["mariadb", "mysql"] as const)("%s converge with spec.remoteRoot: root@'%' with the root password and every privilege", (flavor) => {
    const sql = statements(accountsSql("converge", flavor, PW, { remoteRoot: true }));
    expect(sql).toContain("CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY 'r\\'oo\\\\t'");
    expect(sql).toContain("ALTER USER 'root'@'%' IDENTIFIED BY 'r\\'oo\\\\t'");
    expect(sql).toContain("GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION");
    expect(sql).not.toContain("DROP USER IF EXISTS 'root'@'%'");
  });
  it("a missing password prints no SQL at all, and says which (never a value)", () => {
    expect(() => accountsSql("converge", "mariadb", { operator: "o'p", replication: "r", backup: "b" })).toThrow(/no root-password in /);
    expect(() => accountsSql("service", "mariadb", { operator: "o'p", replication: "r" })).toThrow(/^((?!o'p).)*no backup-password((?!o'p).)*$/s);
  });
});
