/**
 * The SQL of MySQLDatabase and MySQLUser (src/mysql/app-objects.ts) at the text level: MySQL 8.4
 * binaries are not available here, so the MySQL flavor is checked as text (the MariaDB flavor also
 * runs for real in test/integration/app-objects*.test.ts). Also the pure parts: grant
 * normalization, the grant diff (exactly the declared grants), reading mysql.db/tables_priv rows,
 * reserved names and the connection Secret.
 */
import { describe, expect, it } from "vitest";
import { reservedSchema, reservedUser } from "../../src/api/app-objects.js";
import { appSql, grantablePrivileges, grantsFromRows, grantStatements, grantTarget, normalizeGrants, type GrantSet } from "../../src/mysql/app-objects.js";
import { connectionValues } from "../../src/render/connection-secret.js";
import { redactSecrets } from "../../src/api/redact.js";

const ACCOUNT = "'app'@'%'";

describe("MySQL 8.4 SQL text (no MySQL 8 binaries here: text level only)", () => {
  it("CREATE USER / ALTER USER ... IDENTIFIED BY with a quoted password and MAX_USER_CONNECTIONS", () => {
    expect(appSql.createUser("app", "%", "p'w\\d", 5)).toBe("CREATE USER 'app'@'%' IDENTIFIED BY 'p\\'w\\\\d' WITH MAX_USER_CONNECTIONS 5");
    expect(appSql.setPassword("app", "10.0.%", "x")).toBe("ALTER USER 'app'@'10.0.%' IDENTIFIED BY 'x'");
    expect(appSql.setMaxUserConnections("app", "%", 0)).toBe("ALTER USER 'app'@'%' WITH MAX_USER_CONNECTIONS 0");
    expect(appSql.dropUser("app", "%")).toBe("DROP USER IF EXISTS 'app'@'%'");
    expect(() => appSql.setMaxUserConnections("app", "%", -1)).toThrow();
  });
  it("the password never survives redaction of a statement", () => {
    expect(redactSecrets(appSql.createUser("app", "%", "s3cr3t'x", 0))).not.toContain("s3cr3t");
    expect(redactSecrets(appSql.setPassword("app", "%", "s3cr3t"))).not.toContain("s3cr3t");
  });
  it("schemas: CREATE/ALTER/DROP DATABASE with quoted identifiers", () => {
    expect(appSql.createDatabase("shop-1", "utf8mb4", "utf8mb4_0900_ai_ci")).toBe(
      "CREATE DATABASE `shop-1` CHARACTER SET `utf8mb4` COLLATE `utf8mb4_0900_ai_ci`",
    );
    expect(appSql.alterDatabase("shop", "latin1", undefined)).toBe("ALTER DATABASE `shop` CHARACTER SET `latin1`");
    expect(appSql.dropDatabase("a`b")).toBe("DROP DATABASE IF EXISTS `a``b`");
  });
  it("MySQL has no DELETE HISTORY; ALL expands to the flavor's schema privileges", () => {
    expect(grantablePrivileges("mysql", false)).not.toContain("DELETE HISTORY");
    expect(grantablePrivileges("mariadb", false)).toContain("DELETE HISTORY");
    const all = normalizeGrants("mysql", [{ privileges: ["ALL PRIVILEGES"], database: "shop", table: "*", grantOption: false }]);
    expect(all).toEqual({ ok: true, grants: [{ database: "shop", table: "*", privileges: grantablePrivileges("mysql", false), grantOption: false }] });
    const onTable = normalizeGrants("mysql", [{ privileges: ["all"], database: "shop", table: "t", grantOption: false }]);
    expect(onTable.ok && onTable.grants[0]?.privileges).toEqual(grantablePrivileges("mysql", true));
  });
  it("REVOKE of removed privileges and the grant option, then GRANT of the missing ones", () => {
    const current: GrantSet[] = [
      { database: "shop_a", table: "*", privileges: ["SELECT", "INSERT"], grantOption: true },
      { database: "old", table: "t", privileges: ["UPDATE"], grantOption: false },
    ];
    const desired: GrantSet[] = [
      { database: "shop_a", table: "*", privileges: ["SELECT", "DELETE"], grantOption: false },
      { database: "new", table: "*", privileges: ["SELECT"], grantOption: true },
    ];
    expect(grantStatements(ACCOUNT, current, desired)).toEqual([
      "REVOKE INSERT ON `shop\\_a`.* FROM 'app'@'%'",
      "REVOKE GRANT OPTION ON `shop\\_a`.* FROM 'app'@'%'",
      "REVOKE UPDATE ON `old`.`t` FROM 'app'@'%'",
      "GRANT DELETE ON `shop\\_a`.* TO 'app'@'%'",
      "GRANT SELECT ON `new`.* TO 'app'@'%' WITH GRANT OPTION",
    ]);
    expect(grantStatements(ACCOUNT, desired, desired)).toEqual([]);
  });
  it("adding only the grant option re-grants the privileges WITH GRANT OPTION", () => {
    const cur: GrantSet[] = [{ database: "d", table: "*", privileges: ["SELECT"], grantOption: false }];
    expect(grantStatements(ACCOUNT, cur, [{ ...cur[0]!, grantOption: true }])).toEqual(["GRANT SELECT ON `d`.* TO 'app'@'%' WITH GRANT OPTION"]);
  });
  it("`_` and `%` are escaped in schema-level targets (never wildcards), not in table-level ones", () => {
    expect(grantTarget("a_b%", "*")).toBe("`a\\_b\\%`.*");
    expect(grantTarget("a_b", "t_1")).toBe("`a_b`.`t_1`");
  });
});

describe("grants", () => {
  it("an unknown or global privilege is refused with the list", () => {
    const r = normalizeGrants("mariadb", [
      { privileges: ["SELECT"], database: "d", table: "*", grantOption: false },
      { privileges: ["SUPER"], database: "d", table: "*", grantOption: false },
    ]);
    expect(r).toMatchObject({ ok: false, message: expect.stringMatching(/^spec\.grants\[1\]: SUPER is not a schema privilege metamysql grants on mariadb/) });
    expect(normalizeGrants("mysql", [{ privileges: ["EXECUTE"], database: "d", table: "t", grantOption: false }]).ok).toBe(false);
  });
  it("entries for the same target merge; order and case do not matter", () => {
    const r = normalizeGrants("mysql", [
      { privileges: ["insert", "select"], database: "d", table: "*", grantOption: false },
      { privileges: ["SELECT", "create  temporary   tables"], database: "d", table: "*", grantOption: true },
    ]);
    expect(r).toEqual({ ok: true, grants: [{ database: "d", table: "*", privileges: ["SELECT", "INSERT", "CREATE TEMPORARY TABLES"], grantOption: true }] });
  });
  it("reads mysql.db and mysql.tables_priv rows (escaped schema names, Grant, MariaDB's versioning privilege)", () => {
    const got = grantsFromRows(
      [
        { Db: "shop\\_1", Select_priv: "Y", Insert_priv: "N", Grant_priv: "Y", Delete_history_priv: "Y" },
        { Db: "empty", Select_priv: "N" },
      ],
      [{ db: "shop_1", t: "items", p: "Select,Update,Grant,Delete versioning rows" }],
    );
    expect(got).toEqual([
      { database: "shop_1", table: "*", privileges: ["SELECT", "DELETE HISTORY"], grantOption: true },
      { database: "shop_1", table: "items", privileges: ["SELECT", "UPDATE", "DELETE HISTORY"], grantOption: true },
    ]);
  });
});

describe("reserved names", () => {
  it.each([
    "metamysql",
    "repl",
    "metamysql_backup",
    "root",
    "ROOT",
    "mysql.sys",
    "mysql.session",
    "mysql.infoschema",
    "mariadb.sys",
    "mysql.anything",
    "PUBLIC",
  ])("user %s", (u) => {
    expect(reservedUser(u)).toBeDefined();
  });
  it.each(["mysql", "information_schema", "PERFORMANCE_SCHEMA", "sys", "metamysql"])("schema %s", (s) => {
    expect(reservedSchema(s)).toBeDefined();
  });
  it("ordinary names pass", () => {
    expect(reservedUser("app")).toBeUndefined();
    expect(reservedUser("mysqlapp")).toBeUndefined();
    expect(reservedSchema("shop")).toBeUndefined();
  });
});

describe("connection Secret", () => {
  it("in-cluster DNS names of <c> and <c>-ro, a URI with the password encoded, JDBC per flavor", () => {
    const v = connectionValues({
      owner: "app",
      namespace: "prod",
      clusterName: "shop",
      flavor: "mysql",
      username: "app",
      password: "p@ss/w:rd",
      database: "orders",
    });
    expect(v).toEqual({
      host: "shop.prod.svc",
      port: "3306",
      database: "orders",
      username: "app",
      password: "p@ss/w:rd",
      uri: "mysql://app:p%40ss%2Fw%3Ard@shop.prod.svc:3306/orders",
      jdbcUrl: "jdbc:mysql://shop.prod.svc:3306/orders",
      readOnlyHost: "shop-ro.prod.svc",
    });
    const m = connectionValues({
      owner: "app",
      namespace: "prod",
      clusterName: "shop",
      flavor: "mariadb",
      username: "app",
      password: "x",
      database: undefined,
    });
    expect(m.database).toBeUndefined();
    expect(m.jdbcUrl).toBe("jdbc:mariadb://shop.prod.svc:3306/");
  });
});
