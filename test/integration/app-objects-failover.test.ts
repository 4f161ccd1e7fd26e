/**
 * MySQLDatabase and MySQLUser across a failover (docs/app-objects.md), on real MariaDB at
 * 127.10.92.x: while the primary named in the cluster's status is read-only (fenced) or gone,
 * the objects are Pending (with a resync); once the status names the new primary they converge
 * there by themselves, and what was created before the failover is still owned and managed.
 */
import request from "supertest";
import { pino } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { createApp } from "../../src/server/app.js";
import { REPLICATION_USER } from "../../src/api/constants.js";
import { body, clusterRelated, databaseObject, secret, userObject } from "../helpers/app-objects.js";
import { MariaDBHarness, TEST_PASSWORDS, type MariaDBInstance } from "../helpers/mariadb.js";
import type { Obj } from "../helpers/metacontroller.js";

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const h = new MariaDBHarness({ subnet: 92 });
let a: MariaDBInstance;
let b: MariaDBInstance;
const app = createApp({ logger: pino({ level: "silent" }), now: () => new Date("2026-11-04T12:00:00Z"), generatePassword: () => "pw" }).app;
const pwSecret = secret("fo-pw", { password: "fo-secret" });

function related(primaryName: string | undefined): Obj[] {
  return [...clusterRelated("db", primaryName, { 0: a.host, 1: b.host }, TEST_PASSWORDS.apps), pwSecret];
}

async function sync(kind: "mysqldatabase" | "mysqluser", parent: Obj, rel: Obj[]): Promise<{ parent: Obj; res: AnyObj }> {
  const r = await request(app).post(`/hooks/${kind}/sync`).send(body(parent, rel));
  expect(r.status, JSON.stringify(r.body ?? r.text)).toBe(200);
  const res = r.body as AnyObj;
  return { parent: { ...parent, status: res["status"] }, res };
}

async function rows(i: MariaDBInstance, sql: string, values: unknown[] = []): Promise<AnyObj[]> {
  return z.array(z.record(z.string(), z.unknown())).parse(await h.rootQuery(i, sql, values));
}

async function follow(replica: MariaDBInstance, source: MariaDBInstance): Promise<void> {
  await h.rootQuery(
    replica,
    `CHANGE MASTER TO MASTER_HOST='${source.host}', MASTER_PORT=3306, MASTER_USER='${REPLICATION_USER}', MASTER_PASSWORD=?, MASTER_USE_GTID=slave_pos`,
    [TEST_PASSWORDS.replication],
  );
  await h.rootQuery(replica, "START SLAVE");
}

async function caughtUp(replica: MariaDBInstance, source: MariaDBInstance): Promise<void> {
  const pos = String((await rows(source, "SELECT @@gtid_binlog_pos AS p"))[0]?.["p"]);
  expect(Number((await rows(replica, "SELECT MASTER_GTID_WAIT(?, 10) AS r", [pos]))[0]?.["r"])).toBe(0);
}

beforeAll(async () => {
  a = await h.start(0);
  b = await h.start(1);
  await h.rootQuery(a, "SET GLOBAL read_only = OFF");
  await follow(b, a);
}, 120_000);

afterAll(async () => {
  await h.stopAll();
});

describe("MySQLDatabase and MySQLUser across a failover", () => {
  it("Pending while the named primary is read-only or unreachable, then converge on the new primary", async () => {
    // Before: both objects Ready on db-0.
    let db = (await sync("mysqldatabase", databaseObject("fo_db", { clusterName: "db", deletionPolicy: "Delete" }), related("db-0"))).parent;
    let user = (
      await sync(
        "mysqluser",
        userObject("fo-user", {
          clusterName: "db",
          passwordSecretKeyRef: { name: "fo-pw", key: "password" },
          grants: [{ privileges: ["SELECT"], database: "fo_db" }],
        }),
        related("db-0"),
      )
    ).parent;
    expect((db["status"] as AnyObj)["state"]).toBe("Ready");
    expect((user["status"] as AnyObj)["state"]).toBe("Ready");
    await caughtUp(b, a);

    // The primary is fenced (read-only) while the status still names it: Pending, nothing changes.
    await h.rootQuery(a, "SET GLOBAL read_only = ON");
    const changed = { ...user, spec: { ...(user["spec"] as AnyObj), grants: [{ privileges: ["SELECT", "INSERT"], database: "fo_db" }] } };
    let out = await sync("mysqluser", changed, related("db-0"));
    expect(out.res["status"]).toMatchObject({ state: "Pending", message: expect.stringMatching(/writable primary/) });
    expect(out.res["resyncAfterSeconds"]).toBeGreaterThan(0);
    // The old primary dies; failover promotes db-1 (as the cluster hook would) but the status still names db-0.
    await h.kill(a);
    await h.rootQuery(b, "STOP SLAVE");
    await h.rootQuery(b, "RESET SLAVE ALL");
    await h.rootQuery(b, "SET GLOBAL read_only = OFF");
    out = await sync("mysqluser", out.parent, related("db-0"));
    expect(out.res["status"]["state"]).toBe("Pending");
    const newDb = await sync("mysqldatabase", databaseObject("fo_db2", { clusterName: "db" }), related("db-0"));
    expect(newDb.res["status"]["state"]).toBe("Pending");

    // The cluster's status names db-1: everything converges there, the pre-failover objects still owned.
    out = await sync("mysqluser", out.parent, related("db-1"));
    expect(out.res["status"]).toMatchObject({ state: "Ready", message: expect.stringMatching(/on db-1$/) });
    const g = (await rows(b, "SHOW GRANTS FOR 'fo-user'@'%'")).map((r) => String(Object.values(r)[0]));
    expect(g).toContain("GRANT SELECT, INSERT ON `fo\\_db`.* TO `fo-user`@`%`");
    expect((await sync("mysqldatabase", newDb.parent, related("db-1"))).res["status"]["state"]).toBe("Ready");
    db = (await sync("mysqldatabase", db, related("db-1"))).parent;
    expect((db["status"] as AnyObj)["state"]).toBe("Ready");
    user = out.parent;

    // Finalize on the new primary drops what was created on the old one (owned, replicated).
    const fin = await request(app)
      .post("/hooks/mysqldatabase/finalize")
      .send(body(db, related("db-1"), { finalizing: true }));
    expect(fin.body["finalized"]).toBe(true);
    expect(await rows(b, "SELECT 1 FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = 'fo_db'")).toEqual([]);
    const finU = await request(app)
      .post("/hooks/mysqluser/finalize")
      .send(body(user, related("db-1"), { finalizing: true }));
    expect(finU.body["finalized"]).toBe(true);
    expect(await rows(b, "SELECT 1 FROM mysql.user WHERE User = 'fo-user'")).toEqual([]);
  });
});
