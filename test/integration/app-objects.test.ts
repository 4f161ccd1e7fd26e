/**
 * MySQLDatabase and MySQLUser against real MariaDB (docs/app-objects.md): a primary and a
 * replica on 127.10.91.x, the operator account exactly as accounts.sh creates it, the hooks
 * reached through the hook server. Schemas and accounts are created on the primary through the
 * binary log (the replica gets them), grants are exactly the declared ones, a new password in
 * the Secret rotates it, both deletion policies, and nothing metamysql did not create is touched.
 */
import request from "supertest";
import mysql from "mysql2/promise";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createApp } from "../../src/server/app.js";
import { REPLICATION_USER } from "../../src/api/constants.js";
import { body, clusterRelated, databaseObject, secret, userObject } from "../helpers/app-objects.js";
import { destroyConnection, MariaDBHarness, TEST_PASSWORDS, type MariaDBInstance } from "../helpers/mariadb.js";
import type { Obj } from "../helpers/metacontroller.js";

const h = new MariaDBHarness({ subnet: 91 });
let primary: MariaDBInstance;
let replica: MariaDBInstance;
const app = createApp({ logger: pino({ level: "silent" }), now: () => new Date("2026-11-04T12:00:00Z"), generatePassword: () => "pw" }).app;

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function related(extra: Obj[] = []): Obj[] {
  return [...clusterRelated("db", "db-0", { 0: primary.host, 1: replica.host }, TEST_PASSWORDS.apps), ...extra];
}

/** Runs sync like Metacontroller: the status (and children) it returns are fed back, until it settles. */
async function converge(kind: "mysqldatabase" | "mysqluser", parent: Obj, rel: Obj[]): Promise<{ parent: Obj; res: AnyObj }> {
  let current = parent;
  let children: Obj[] = [];
  let res: AnyObj = {};
  for (let n = 0; n < 3; n++) {
    const r = await request(app)
      .post(`/hooks/${kind}/sync`)
      .send(body(current, rel, { children }));
    expect(r.status, JSON.stringify(r.body ?? r.text)).toBe(200);
    res = r.body as AnyObj;
    current = { ...current, status: res["status"] };
    children = (res["children"] as Obj[]).map((c) => ({ ...c, metadata: { ...c.metadata, namespace: "shop-ns" } }));
    if (res["status"]["state"] !== "Pending") break;
  }
  return { parent: current, res };
}

async function finalize(kind: "mysqldatabase" | "mysqluser", parent: Obj): Promise<AnyObj> {
  const r = await request(app)
    .post(`/hooks/${kind}/finalize`)
    .send(body({ ...parent, metadata: { ...parent.metadata, deletionTimestamp: "2026-11-04T12:00:00Z" } }, related(), { finalizing: true }));
  expect(r.status).toBe(200);
  return r.body as AnyObj;
}

async function rows(i: MariaDBInstance, sql: string, values: unknown[] = []): Promise<AnyObj[]> {
  return z.array(z.record(z.string(), z.unknown())).parse(await h.rootQuery(i, sql, values));
}

async function schemaExists(i: MariaDBInstance, name: string): Promise<boolean> {
  return (await rows(i, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?", [name])).length === 1;
}

async function accountExists(i: MariaDBInstance, user: string, host = "%"): Promise<boolean> {
  return (await rows(i, "SELECT 1 FROM mysql.user WHERE User = ? AND Host = ?", [user, host])).length === 1;
}

async function grants(i: MariaDBInstance, user: string): Promise<string[]> {
  const r = await rows(i, `SHOW GRANTS FOR '${user}'@'%'`);
  return r.map((x) => String(Object.values(x)[0])).sort();
}

async function login(i: MariaDBInstance, user: string, password: string, sql = "SELECT 1"): Promise<void> {
  const conn = await mysql.createConnection({ host: i.host, port: 3306, user, password, connectTimeout: 2000 });
  try {
    await conn.query(sql);
  } finally {
    destroyConnection(conn);
  }
}

/** Waits until the replica applied everything the primary has. */
async function replicated(): Promise<void> {
  const pos = String((await rows(primary, "SELECT @@gtid_binlog_pos AS p"))[0]?.["p"]);
  const r = await rows(replica, "SELECT MASTER_GTID_WAIT(?, 10) AS r", [pos]);
  expect(Number(r[0]?.["r"])).toBe(0);
}

beforeAll(async () => {
  primary = await h.start(0);
  replica = await h.start(1);
  await h.rootQuery(primary, "SET GLOBAL read_only = OFF");
  await h.rootQuery(
    replica,
    `CHANGE MASTER TO MASTER_HOST='${primary.host}', MASTER_PORT=3306, MASTER_USER='${REPLICATION_USER}', MASTER_PASSWORD=?, MASTER_USE_GTID=slave_pos`,
    [TEST_PASSWORDS.replication],
  );
  await h.rootQuery(replica, "START SLAVE");
}, 120_000);

afterAll(async () => {
  await h.stopAll();
});

describe("MySQLDatabase on real MariaDB", () => {
  it("creates the schema on the primary, replicated; Delete drops it on finalize", async () => {
    const { parent, res } = await converge(
      "mysqldatabase",
      databaseObject("orders", { clusterName: "db", deletionPolicy: "Delete", collation: "utf8mb4_bin" }),
      related(),
    );
    expect(res["status"]).toMatchObject({ state: "Ready", database: "orders" });
    await replicated();
    expect(await schemaExists(replica, "orders")).toBe(true);
    expect((await rows(replica, "SELECT DEFAULT_COLLATION_NAME AS c FROM information_schema.SCHEMATA WHERE SCHEMA_NAME='orders'"))[0]?.["c"]).toBe(
      "utf8mb4_bin",
    );
    // A second sync changes nothing (no new GTID: idempotent, nothing written).
    const before = String((await rows(primary, "SELECT @@gtid_binlog_pos AS p"))[0]?.["p"]);
    await converge("mysqldatabase", parent, related());
    expect(String((await rows(primary, "SELECT @@gtid_binlog_pos AS p"))[0]?.["p"])).toBe(before);
    const fin = await finalize("mysqldatabase", parent);
    expect(fin["finalized"]).toBe(true);
    await replicated();
    expect(await schemaExists(primary, "orders")).toBe(false);
    expect(await schemaExists(replica, "orders")).toBe(false);
  });

  it("Retain keeps the schema and its data, and it is no longer managed", async () => {
    const { parent } = await converge("mysqldatabase", databaseObject("keepme", { clusterName: "db" }), related());
    await h.rootQuery(primary, "CREATE TABLE keepme.t (id INT PRIMARY KEY)");
    const fin = await finalize("mysqldatabase", parent);
    expect(fin["finalized"]).toBe(true);
    expect(await schemaExists(primary, "keepme")).toBe(true);
    // A new object naming it does not adopt it.
    const again = await converge("mysqldatabase", databaseObject("keepme", { clusterName: "db", deletionPolicy: "Delete" }, { uid: "another-uid" }), related());
    expect(again.res["status"]).toMatchObject({ state: "Failed", message: expect.stringMatching(/exists and is not managed by metamysql/) });
    await finalize("mysqldatabase", again.parent);
    expect(await schemaExists(primary, "keepme")).toBe(true);
  });

  it("refuses a schema it did not create (Failed) and never drops it", async () => {
    await h.rootQuery(primary, "CREATE DATABASE legacy");
    const { parent, res } = await converge("mysqldatabase", databaseObject("legacy", { clusterName: "db", deletionPolicy: "Delete" }), related());
    expect(res["status"]).toMatchObject({ state: "Failed", message: "schema legacy exists and is not managed by metamysql" });
    await finalize("mysqldatabase", parent);
    expect(await schemaExists(primary, "legacy")).toBe(true);
  });

  it("a system schema is Invalid and untouched", async () => {
    const { res } = await converge("mysqldatabase", databaseObject("x", { clusterName: "db", name: "mysql", deletionPolicy: "Delete" }), related());
    expect(res["status"]).toMatchObject({ state: "Invalid", message: expect.stringMatching(/system schema/) });
  });
});

describe("MySQLUser on real MariaDB", () => {
  const pw = (v: string, rv = "1") => secret("app-pw", { password: v }, { resourceVersion: rv });
  const spec = (grants: unknown[], extra: Record<string, unknown> = {}) => ({
    clusterName: "db",
    passwordSecretKeyRef: { name: "app-pw", key: "password" },
    grants,
    ...extra,
  });

  it("creates the account with exactly the declared grants, revokes what is removed, rotates the password, drops it on delete", async () => {
    await h.rootQuery(primary, "CREATE DATABASE IF NOT EXISTS shop_1");
    await h.rootQuery(primary, "CREATE TABLE IF NOT EXISTS shop_1.items (id INT PRIMARY KEY)");
    await h.rootQuery(primary, "CREATE DATABASE IF NOT EXISTS shopx1");
    let { parent, res } = await converge(
      "mysqluser",
      userObject(
        "shopper",
        spec(
          [
            { privileges: ["select", "INSERT"], database: "shop_1" },
            { privileges: ["UPDATE"], database: "shop_1", table: "items", grantOption: true },
          ],
          { maxUserConnections: 5 },
        ),
      ),
      related([pw("first")]),
    );
    expect(res["status"]).toMatchObject({ state: "Ready", user: "shopper", host: "%", connectionSecret: "shopper-connection" });
    const conn = (res["children"] as AnyObj[]).find((c) => c["metadata"]["name"] === "shopper-connection");
    const dec = (k: string) => Buffer.from(String(conn?.["data"][k]), "base64").toString("utf8");
    expect(dec("password")).toBe("first");
    expect(dec("database")).toBe("shop_1");
    expect(dec("host")).toBe("db.shop-ns.svc");
    expect(dec("readOnlyHost")).toBe("db-ro.shop-ns.svc");
    expect(await grants(primary, "shopper")).toEqual([
      "GRANT SELECT, INSERT ON `shop\\_1`.* TO `shopper`@`%`",
      "GRANT UPDATE ON `shop_1`.`items` TO `shopper`@`%` WITH GRANT OPTION",
      expect.stringMatching(/^GRANT USAGE ON \*\.\* TO `shopper`@`%` IDENTIFIED BY PASSWORD '\*[0-9A-F]+' WITH MAX_USER_CONNECTIONS 5$/),
    ]);
    await login(primary, "shopper", "first", "SELECT * FROM shop_1.items");
    // `_` is literal: the grant does not reach shopx1.
    await expect(login(primary, "shopper", "first", "CREATE TABLE shopx1.t (id INT)")).rejects.toThrow(/denied/);
    await replicated();
    expect(await grants(replica, "shopper")).toEqual(await grants(primary, "shopper"));

    // Remove INSERT and the table grant, add DELETE; rotate the password.
    ({ parent, res } = await converge(
      "mysqluser",
      { ...parent, spec: spec([{ privileges: ["SELECT", "DELETE"], database: "shop_1" }]) },
      related([pw("second", "2")]),
    ));
    expect(res["status"]["state"]).toBe("Ready");
    expect((await grants(primary, "shopper")).filter((g) => !g.includes("USAGE"))).toEqual(["GRANT SELECT, DELETE ON `shop\\_1`.* TO `shopper`@`%`"]);
    await login(primary, "shopper", "second");
    await expect(login(primary, "shopper", "first")).rejects.toThrow(/Access denied/);
    await replicated();
    await login(replica, "shopper", "second");

    // Drift (someone granted more by hand) is undone by the next sync.
    await h.rootQuery(primary, "GRANT DROP ON `shop\\_1`.* TO 'shopper'@'%'");
    await converge("mysqluser", parent, related([pw("second", "2")]));
    expect((await grants(primary, "shopper")).filter((g) => !g.includes("USAGE"))).toEqual(["GRANT SELECT, DELETE ON `shop\\_1`.* TO `shopper`@`%`"]);

    const fin = await finalize("mysqluser", parent);
    expect(fin["finalized"]).toBe(true);
    await replicated();
    expect(await accountExists(primary, "shopper")).toBe(false);
    expect(await accountExists(replica, "shopper")).toBe(false);
  });

  it("deletionPolicy Retain keeps the account", async () => {
    const { parent } = await converge(
      "mysqluser",
      userObject("keeper", spec([{ privileges: ["SELECT"], database: "shop_1" }], { deletionPolicy: "Retain" })),
      related([pw("k")]),
    );
    expect((await finalize("mysqluser", parent))["finalized"]).toBe(true);
    expect(await accountExists(primary, "keeper")).toBe(true);
    await login(primary, "keeper", "k");
  });

  it("never touches an account it did not create, and refuses the operator's and system accounts", async () => {
    await h.rootQuery(primary, "CREATE USER 'legacy'@'%' IDENTIFIED BY 'legacy-pw'");
    const { parent, res } = await converge("mysqluser", userObject("legacy", spec([{ privileges: ["ALL"], database: "shop_1" }])), related([pw("evil")]));
    expect(res["status"]).toMatchObject({ state: "Failed", message: "account legacy@% exists and is not managed by metamysql" });
    expect(res["children"]).toEqual([]);
    await finalize("mysqluser", parent);
    await login(primary, "legacy", "legacy-pw");
    for (const name of ["metamysql", "repl", "metamysql_backup", "root", "mariadb.sys"]) {
      const { res: r } = await converge("mysqluser", userObject("x", spec([], { name })), related([pw("evil")]));
      expect(r["status"]["state"]).toBe("Invalid");
    }
    const { res: sys } = await converge("mysqluser", userObject("x", spec([{ privileges: ["SELECT"], database: "mysql" }])), related([pw("evil")]));
    expect(sys["status"]).toMatchObject({ state: "Invalid", message: expect.stringMatching(/system schema/) });
    expect(await login(primary, "metamysql", TEST_PASSWORDS.operator)).toBeUndefined();
  });

  it("an unknown privilege and a server error are Failed with a message, no password in it", async () => {
    const { res } = await converge("mysqluser", userObject("oops", spec([{ privileges: ["SUPER"], database: "shop_1" }])), related([pw("s3cr3t-pw")]));
    expect(res["status"]).toMatchObject({ state: "Failed", message: expect.stringMatching(/SUPER is not a schema privilege/) });
    const { res: r2 } = await converge(
      "mysqluser",
      userObject("oops2", spec([{ privileges: ["SELECT"], database: "shop_1", table: "no_such_table" }])),
      related([pw("s3cr3t-pw")]),
    );
    expect(r2["status"]["state"]).toBe("Failed");
    expect(r2["status"]["message"]).toMatch(/no_such_table/);
    expect(JSON.stringify(r2["status"])).not.toContain("s3cr3t-pw");
  });

  it("a missing password Secret or key is Pending, saying which", async () => {
    const { res } = await converge("mysqluser", userObject("nopw", spec([])), related());
    expect(res["status"]).toMatchObject({ state: "Pending", message: "password Secret app-pw not found" });
    expect(res["resyncAfterSeconds"]).toBeGreaterThan(0);
    const { res: r2 } = await converge("mysqluser", userObject("nopw", spec([])), related([secret("app-pw", { other: "x" })]));
    expect(r2["status"]).toMatchObject({ state: "Pending", message: expect.stringMatching(/has no key password/) });
  });
});
