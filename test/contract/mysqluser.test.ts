/**
 * Contract of /hooks/mysqluser/* through the hook server (docs/app-objects.md): customize also
 * relates the password Secret; sync answers Invalid for bad, operator or system account names
 * and grants on system schemas, Pending naming a missing Secret or key, Failed for an unknown
 * privilege (before any connection), and keeps observed children unchanged when not Ready.
 * The SQL itself runs in test/integration/app-objects*.test.ts.
 */
import request from "supertest";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { createApp } from "../../src/server/app.js";
import { body, clusterRelated, secret, userObject } from "../helpers/app-objects.js";

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const app = createApp({ logger: pino({ level: "silent" }), now: () => new Date("2026-11-04T12:00:00Z"), generatePassword: () => "pw" }).app;
const spec = (extra: Record<string, unknown> = {}) => ({
  clusterName: "shop",
  passwordSecretKeyRef: { name: "app-pw", key: "password" },
  grants: [],
  ...extra,
});
const related = () => [...clusterRelated("shop", "shop-0", { 0: "127.0.99.10" }, "op"), secret("app-pw", { password: "hunter2-secret" })];

async function sync(parent: AnyObj, rel: AnyObj[], children: AnyObj[] = []): Promise<AnyObj> {
  const r = await request(app)
    .post("/hooks/mysqluser/sync")
    .send(body(parent as never, rel as never, { children: children as never }));
  expect(r.status, r.text).toBe(200);
  return r.body as AnyObj;
}

describe("POST /hooks/mysqluser/customize", () => {
  it("relates the cluster, its pods, its credentials Secrets and the password Secret", async () => {
    const r = await request(app)
      .post("/hooks/mysqluser/customize")
      .send({ parent: userObject("app", spec()) });
    expect(r.body.relatedResources).toContainEqual({ apiVersion: "v1", resource: "secrets", namespace: "shop-ns", names: ["app-pw", "shop-apps-credentials"] });
    expect(r.body.relatedResources).toContainEqual(expect.objectContaining({ resource: "mysqlclusters", names: ["shop"] }));
  });
});

describe("POST /hooks/mysqluser/sync", () => {
  it.each([
    [{ name: "metamysql" }, /account of the operator or of the server/],
    [{ name: "repl" }, /account of the operator/],
    [{ name: "metamysql_backup" }, /account of the operator/],
    [{ name: "root" }, /account of the operator/],
    [{ name: "mysql.session" }, /account of the operator/],
    [{ name: "mariadb.sys" }, /account of the operator/],
    [{ name: "bad name!" }, /not a user name/],
    [{ grants: [{ privileges: ["SELECT"], database: "mysql" }] }, /grants\[0\]\.database: mysql is a system schema/],
    [{ grants: [{ privileges: ["SELECT"], database: "performance_schema" }] }, /system schema/],
    [{ grants: [{ privileges: ["SELECT; DROP"], database: "shop" }] }, /privilege name/],
    [{ grants: [{ privileges: ["SELECT"], database: "*" }] }, /schema name/],
    [{ passwordSecretKeyRef: { name: "x" } }, /passwordSecretKeyRef/],
  ])("Invalid: %j", async (extra, message) => {
    const res = await sync(userObject("app", spec(extra)), related());
    expect(res["status"]).toMatchObject({ state: "Invalid", message: expect.stringMatching(message) });
    expect(res["children"]).toEqual([]);
  });
  it("Pending naming the missing Secret, then the missing key", async () => {
    let res = await sync(userObject("app", spec()), clusterRelated("shop", "shop-0", { 0: "127.0.99.10" }, "op"));
    expect(res["status"]).toMatchObject({ state: "Pending", message: "password Secret app-pw not found" });
    res = await sync(userObject("app", spec({ passwordSecretKeyRef: { name: "app-pw", key: "pw" } })), related());
    expect(res["status"]).toMatchObject({ state: "Pending", message: "password Secret app-pw has no key pw (or it is empty)" });
    expect(res["resyncAfterSeconds"]).toBeGreaterThan(0);
  });
  it("an unknown privilege is Failed with the list, before any connection; the password is nowhere in the answer", async () => {
    const res = await sync(userObject("app", spec({ grants: [{ privileges: ["FILE"], database: "shop" }] })), related());
    expect(res["status"]).toMatchObject({ state: "Failed", message: expect.stringMatching(/FILE is not a schema privilege metamysql grants on mariadb/) });
    expect(JSON.stringify(res)).not.toContain("hunter2");
  });
  it("not Ready: the observed connection Secret is kept unchanged (never deleted)", async () => {
    const observed = { ...secret("app-connection", { password: "old" }), metadata: { name: "app-connection", namespace: "shop-ns" } };
    const res = await sync(userObject("app", spec()), clusterRelated("shop", "shop-0", { 0: "127.0.99.10" }, "op"), [observed]);
    expect(res["status"]["state"]).toBe("Pending");
    expect(res["children"]).toEqual([expect.objectContaining({ kind: "Secret", metadata: expect.objectContaining({ name: "app-connection" }) })]);
  });
  it("a changed account (name or host) is Invalid where CEL does not run", async () => {
    const res = await sync(userObject("app", spec({ host: "10.%" }), { status: { state: "Ready", user: "app", host: "%", cluster: "shop" } }), related());
    expect(res["status"]).toMatchObject({ state: "Invalid", message: expect.stringMatching(/account is immutable/) });
  });
});

describe("POST /hooks/mysqluser/finalize", () => {
  it("nothing created: finalized at once", async () => {
    const r = await request(app)
      .post("/hooks/mysqluser/finalize")
      .send(body(userObject("app", spec()) as never, related() as never, { finalizing: true }));
    expect(r.body).toMatchObject({ finalized: true, children: [] });
  });
});
