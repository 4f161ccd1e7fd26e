/**
 * The hook endpoint's guards against hostile or broken requests (README "Security model"):
 * deep nesting is a 400 (never a stack overflow), and only the cluster's own pods, below
 * max(spec.instances, StatefulSet replicas), are observed and reported.
 */
import request from "supertest";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { createApp } from "../../src/server/app.js";
import { MAX_JSON_DEPTH, tooDeep } from "../../src/server/json-guard.js";
import { asObserved, clusterObject, pod, syncRequest, type Obj } from "../helpers/metacontroller.js";

const silent = pino({ level: "silent" });
const NOW = new Date("2026-11-02T12:00:00Z");
let counter = 0;
const app = createApp({ logger: silent, now: () => NOW, generatePassword: () => `pw${++counter}` }).app;
const SPEC = { flavor: "mariadb", instances: 3, storage: { size: "1Gi" } };
const DEPTH = 100_000;

/** `[[[...]]]`, DEPTH levels, as JSON text. */
const deepArray = (depth = DEPTH) => `${"[".repeat(depth)}${"]".repeat(depth)}`;

function post(path: string, text: string, headers: Record<string, string> = {}) {
  return request(app)
    .post(path)
    .set({ "content-type": "application/json", ...headers })
    .send(text);
}

async function existingCluster(spec: unknown = SPEC): Promise<{ parent: Obj; children: Obj[] }> {
  const first = await request(app)
    .post("/hooks/mysqlcluster/sync")
    .send(syncRequest({ parent: clusterObject("shop", spec) }));
  expect(first.status).toBe(200);
  const parent = clusterObject("shop", spec, { status: first.body.status });
  return { parent, children: (first.body.children as Obj[]).map((c, i) => asObserved(c, parent, i)) };
}

describe("deeply nested bodies", () => {
  const parentWith = (labels: string, spec = "{}") =>
    `{"apiVersion":"metamysql.dev/v1alpha1","kind":"MySQLCluster","metadata":{"name":"shop","namespace":"shop-ns","labels":${labels}},"spec":${spec}}`;

  it("a 100k-deep label value is a 400 naming where, on every hook", async () => {
    const parent = parentWith(`{"a":${deepArray()}}`);
    for (const path of ["/hooks/mysqlcluster/sync", "/hooks/mysqlcluster/finalize", "/hooks/mysqlcluster/customize", "/hooks/mysqlbackup/sync"]) {
      const res = await post(path, `{"parent":${parent},"children":{},"related":{}}`);
      expect(res.status, path).toBe(400);
      expect(res.body.error).toBe(`malformed request: JSON nested deeper than ${MAX_JSON_DEPTH} levels at $.parent.metadata.labels.a[0][0][0][0]...`);
    }
  });

  it("a 100k-deep patch value is a 400, also through body-parser (the fallback parser)", async () => {
    const spec = `{"flavor":"mariadb","patches":[{"target":{"kind":"StatefulSet"},"patch":[{"op":"add","path":"/metadata/annotations/x","value":${deepArray()}}]}]}`;
    const body = `{"parent":${parentWith("{}", spec)},"children":{},"related":{}}`;
    const plain = await post("/hooks/mysqlcluster/sync", body);
    expect(plain.status).toBe(400);
    expect(plain.body.error).toMatch(/^malformed request: JSON nested deeper than 64 levels at \$\.parent\.spec\.patches\[0\]\.patch\[0\]\.value/);
    // A content type other than the two plain spellings goes through body-parser: same guard.
    const fallback = await post("/hooks/mysqlcluster/sync", body, { "content-type": "application/json; charset=UTF-8" });
    expect(fallback.status).toBe(400);
    expect(fallback.body.error).toMatch(/nested deeper than 64 levels at \$\.parent\.spec\.patches/);
  });

  it("the server keeps answering after deep bodies (no crash, no stuck request)", async () => {
    await post("/hooks/mysqlcluster/sync", `{"x":${deepArray()}}`);
    const ok = await request(app)
      .post("/hooks/mysqlcluster/sync")
      .send(syncRequest({ parent: clusterObject("shop", SPEC) }));
    expect(ok.status).toBe(200);
  });

  it("a patch nested as deep as a realistic one still applies", async () => {
    let value: unknown = "leaf";
    for (let i = 0; i < 30; i++) value = { [`k${i}`]: value };
    const spec = {
      ...SPEC,
      patches: [{ target: { kind: "StatefulSet" }, patch: [{ op: "add", path: "/metadata/annotations", value: { deep: JSON.stringify(value) } }] }],
    };
    const res = await request(app)
      .post("/hooks/mysqlcluster/sync")
      .send(syncRequest({ parent: clusterObject("shop", spec) }));
    expect(res.status).toBe(200);
    expect(tooDeep({ a: value }, MAX_JSON_DEPTH)).toBeUndefined();
  });

  it("tooDeep: counts levels of objects and arrays, scalars are not a level", () => {
    expect(tooDeep(1, 0)).toBeUndefined();
    expect(tooDeep({ a: [1, 2] }, 2)).toBeUndefined();
    expect(tooDeep({ a: [{}] }, 2)).toEqual({ path: "$.a[0]", depth: 3 });
    expect(tooDeep({ "a b": { c: {} } }, 2)).toEqual({ path: '$["a b"].c', depth: 3 });
  });
});

describe("related pods", () => {
  const names = (res: request.Response) => (res.body.status.instances as Array<{ name: string }>).map((i) => i.name);

  it("ignores pods without the cluster's labels (another cluster's, unmanaged, forged)", async () => {
    const { parent, children } = await existingCluster();
    const other = pod("other", 0);
    const unmanaged = pod("shop", 1);
    (unmanaged.metadata["labels"] as Record<string, string>)["app.kubernetes.io/managed-by"] = "someone-else";
    const renamed = pod("shop", 2);
    (renamed.metadata["labels"] as Record<string, string>)["app.kubernetes.io/instance"] = "shop-2";
    const wrongComponent = pod("shop", 0);
    (wrongComponent.metadata["labels"] as Record<string, string>)["app.kubernetes.io/component"] = "cache";
    const res = await request(app)
      .post("/hooks/mysqlcluster/sync")
      .send(syncRequest({ parent, children, related: [other, unmanaged, renamed, wrongComponent] }));
    expect(res.status).toBe(200);
    const instances = res.body.status.instances as Array<{ name: string; message?: string; role: string }>;
    // Every ordinal of the spec is reported, none as an existing pod.
    expect(instances.map((i) => i.name)).toEqual(["shop-0", "shop-1", "shop-2"]);
    for (const i of instances) expect(i.role).toBe("pending");
  });

  it("never observes ordinals at or above max(spec.instances, StatefulSet replicas)", async () => {
    const { parent, children } = await existingCluster();
    const related = [0, 1, 2, 3, 7, 500].map((n) => pod("shop", n));
    const res = await request(app).post("/hooks/mysqlcluster/sync").send(syncRequest({ parent, children, related }));
    expect(res.status).toBe(200);
    expect(names(res)).toEqual(["shop-0", "shop-1", "shop-2"]);
  });

  it("during a scale-down keeps observing the pods the StatefulSet still has", async () => {
    const { parent, children } = await existingCluster({ ...SPEC, instances: 5 });
    // The spec went down to 2 while the StatefulSet still has 5 replicas (primary not moved yet).
    const scaled = clusterObject("shop", { ...SPEC, instances: 2 }, { status: parent["status"] });
    const related = [0, 1, 2, 3, 4, 5].map((n) => pod("shop", n));
    const res = await request(app)
      .post("/hooks/mysqlcluster/sync")
      .send(syncRequest({ parent: scaled, children, related }));
    expect(res.status).toBe(200);
    expect(names(res)).toEqual(["shop-0", "shop-1", "shop-2", "shop-3", "shop-4"]);
  });
});
