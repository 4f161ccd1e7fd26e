/**
 * Contract of /hooks/mysqldatabase/* through the hook server (docs/app-objects.md): customize
 * relates the cluster, its pods and its credentials Secret; sync answers Invalid for a bad or
 * system name (nothing touched), Pending (with a resync) while there is no cluster, primary or
 * operator Secret; malformed requests are 400; finalize without anything created finalizes.
 * The SQL itself runs in test/integration/app-objects*.test.ts.
 */
import request from "supertest";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { createApp } from "../../src/server/app.js";
import { body, clusterRelated, databaseObject, runningCluster } from "../helpers/app-objects.js";
import { pod } from "../helpers/metacontroller.js";

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const app = createApp({ logger: pino({ level: "silent" }), now: () => new Date("2026-11-04T12:00:00Z"), generatePassword: () => "pw" }).app;

async function sync(parent: AnyObj, related: AnyObj[]): Promise<AnyObj> {
  const r = await request(app)
    .post("/hooks/mysqldatabase/sync")
    .send(body(parent as never, related as never));
  expect(r.status, r.text).toBe(200);
  return r.body as AnyObj;
}

describe("POST /hooks/mysqldatabase/customize", () => {
  it("relates the cluster, its database pods and its apps-credentials Secret (nothing more)", async () => {
    const r = await request(app)
      .post("/hooks/mysqldatabase/customize")
      .send({ parent: databaseObject("orders", { clusterName: "shop" }) });
    expect(r.status).toBe(200);
    const rules = r.body.relatedResources as AnyObj[];
    expect(rules).toContainEqual({ apiVersion: "metamysql.dev/v1alpha1", resource: "mysqlclusters", namespace: "shop-ns", names: ["shop"] });
    expect(rules).toContainEqual(
      expect.objectContaining({ resource: "pods", labelSelector: { matchLabels: expect.objectContaining({ "app.kubernetes.io/instance": "shop" }) } }),
    );
    expect(rules).toContainEqual({ apiVersion: "v1", resource: "secrets", namespace: "shop-ns", names: ["shop-apps-credentials"] });
    expect(rules.filter((r) => r["resource"] === "secrets")).toHaveLength(1);
  });
  it("an unusable clusterName relates nothing", async () => {
    const r = await request(app)
      .post("/hooks/mysqldatabase/customize")
      .send({ parent: databaseObject("orders", { clusterName: "Not A Name" }) });
    expect(r.body).toEqual({ relatedResources: [] });
  });
});

describe("POST /hooks/mysqldatabase/sync", () => {
  it.each([
    [{ clusterName: "shop", name: "mysql" }, /system schema/],
    [{ clusterName: "shop", name: "INFORMATION_SCHEMA" }, /system schema/],
    [{ clusterName: "shop", name: "metamysql" }, /system schema/],
    [{ clusterName: "shop", name: "a b" }, /not a schema name/],
    [{ clusterName: "shop", deletionPolicy: "Sometimes" }, /deletionPolicy/],
    [{}, /clusterName/],
  ])("Invalid: %j", async (spec, message) => {
    const res = await sync(databaseObject("orders", spec), clusterRelated("shop", "shop-0", { 0: "127.0.99.10" }, "op"));
    expect(res["status"]).toMatchObject({ state: "Invalid", message: expect.stringMatching(message) });
    expect(res["status"]["conditions"]).toEqual([expect.objectContaining({ type: "Ready", status: "False", reason: "InvalidSpec" })]);
    expect(res["children"]).toEqual([]);
  });
  it("metadata.name that is no schema name needs spec.name", async () => {
    const res = await sync(databaseObject("orders.v2", { clusterName: "shop" }), []);
    expect(res["status"]).toMatchObject({ state: "Invalid", message: expect.stringMatching(/metadata.name orders.v2 is not a schema name; set spec.name/) });
  });
  it.each([
    ["no cluster", [], /MySQLCluster shop not found/],
    ["no primary yet", [runningCluster("shop", undefined), pod("shop", 0)], /no writable primary yet/],
    ["the primary's pod is missing", [runningCluster("shop", "shop-1"), pod("shop", 0)], /primary shop-1 of shop has no pod IP/],
    ["no apps-credentials Secret", [runningCluster("shop", "shop-0"), pod("shop", 0)], /Secret shop-apps-credentials of shop not found/],
  ])("Pending with a resync: %s", async (_what, related, message) => {
    const res = await sync(databaseObject("orders", { clusterName: "shop" }), related);
    expect(res["status"]).toMatchObject({ state: "Pending", message: expect.stringMatching(message) });
    expect(res["resyncAfterSeconds"]).toBeGreaterThan(0);
  });
  it("a primary that refuses the connection is Pending (nothing listens on 127.0.99.10), never Failed", async () => {
    const res = await sync(databaseObject("orders", { clusterName: "shop" }), clusterRelated("shop", "shop-0", { 0: "127.0.99.10" }, "op"));
    expect(res["status"]).toMatchObject({ state: "Pending" });
    expect(res["resyncAfterSeconds"]).toBeGreaterThan(0);
  });
  it("a changed schema name is Invalid (immutable where CEL does not run)", async () => {
    const res = await sync(
      databaseObject("orders", { clusterName: "shop", name: "other" }, { status: { state: "Ready", database: "orders", cluster: "shop" } }),
      [],
    );
    expect(res["status"]).toMatchObject({ state: "Invalid", message: expect.stringMatching(/immutable \(was orders, now other\)/) });
  });
  it("a malformed request or another kind is 400", async () => {
    expect(
      (
        await request(app)
          .post("/hooks/mysqldatabase/sync")
          .send({ parent: { kind: "MySQLDatabase" } })
      ).status,
    ).toBe(400);
    const wrongKind = body({ ...databaseObject("orders", { clusterName: "shop" }), kind: "MySQLUser" } as never, []);
    expect((await request(app).post("/hooks/mysqldatabase/sync").send(wrongKind)).status).toBe(400);
  });
});

describe("POST /hooks/mysqldatabase/finalize", () => {
  it("nothing created (no recorded schema): finalized at once", async () => {
    const r = await request(app)
      .post("/hooks/mysqldatabase/finalize")
      .send(body(databaseObject("orders", { clusterName: "shop", deletionPolicy: "Delete" }) as never, [], { finalizing: true }));
    expect(r.body).toMatchObject({ finalized: true, children: [] });
  });
  it("the cluster is gone: finalized (nothing left to drop)", async () => {
    const parent = databaseObject(
      "orders",
      { clusterName: "shop", deletionPolicy: "Delete" },
      { status: { state: "Ready", database: "orders", cluster: "shop" } },
    );
    const r = await request(app)
      .post("/hooks/mysqldatabase/finalize")
      .send(body(parent as never, [], { finalizing: true }));
    expect(r.body).toMatchObject({ finalized: true });
  });
  it("a created schema whose primary is unavailable: waits, Pending with a resync", async () => {
    const parent = databaseObject(
      "orders",
      { clusterName: "shop", deletionPolicy: "Delete" },
      { status: { state: "Ready", database: "orders", cluster: "shop" } },
    );
    const r = await request(app)
      .post("/hooks/mysqldatabase/finalize")
      .send(body(parent as never, [runningCluster("shop", undefined)], { finalizing: true }));
    expect(r.body).toMatchObject({ finalized: false, status: { state: "Pending" } });
    expect(r.body.resyncAfterSeconds).toBeGreaterThan(0);
  });
});
