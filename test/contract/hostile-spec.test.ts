/**
 * Regression tests for what the property-based tests (test/property) found: hostile values that
 * made a hook fail instead of answering as ARCHITECTURE.md section 4 specifies.
 */
import request from "supertest";
import { unchangedChild } from "../../src/api/unchanged.js";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { createApp } from "../../src/server/app.js";
import { MySQLClusterSpecSchema } from "../../src/api/cluster.js";
import { asObserved, clusterObject, syncRequest, type Obj } from "../helpers/metacontroller.js";

const app = createApp({ logger: pino({ level: "silent" }), now: () => new Date("2026-11-02T12:00:00Z") }).app;
const SPEC = { flavor: "mariadb", instances: 3, storage: { size: "1Gi" } };

function post(hook: string, body: unknown) {
  return request(app)
    .post(`/hooks/mysqlcluster/${hook}`)
    .send(body as object)
    .set("content-type", "application/json");
}

// zod runs the spec's refinement after the range check failed; it sized an array by `instances`.
describe("spec.instances far out of range (1e308, 2^32, 1e7, -5)", () => {
  const values = [1e308, 2 ** 32, 1e7, -5];

  it("is reported at spec.instances only, not as an exception or a weights issue", () => {
    for (const instances of values) {
      const parsed = MySQLClusterSpecSchema.safeParse({ ...SPEC, instances });
      expect(parsed.success).toBe(false);
      expect(new Set(parsed.error?.issues.map((i) => i.path.join(".")))).toEqual(new Set(["instances"]));
    }
  });

  it("sync answers 200 Invalid with the observed children unchanged; customize answers 200", async () => {
    const first = await post("sync", syncRequest({ parent: clusterObject("shop", SPEC) }));
    expect(first.status).toBe(200);
    const observedParent = clusterObject("shop", SPEC, { status: first.body.status });
    const children = (first.body.children as Obj[]).map((c, i) => asObserved(c, observedParent, i));
    for (const instances of values) {
      const parent = clusterObject("shop", { ...SPEC, instances }, { status: first.body.status });
      const res = await post("sync", syncRequest({ parent, children }));
      expect(res.status).toBe(200);
      expect(res.body.status.state).toBe("Invalid");
      expect(res.body.status.message).toContain("spec.instances");
      const names = (list: Obj[]) => list.map((c) => `${c.kind}/${c.metadata.name}`).sort();
      expect(names(res.body.children as Obj[])).toEqual(names(children));
      const customize = await post("customize", { parent });
      expect(customize.status).toBe(200);
      expect(customize.body.relatedResources.length).toBeGreaterThan(0);
    }
  });
});

// unchangedChild deep-cloned every observed child: a deeply nested one overflowed the stack.
describe("a deeply nested observed child (3000 levels)", () => {
  function deep(levels: number): unknown {
    let v: unknown = "bottom";
    for (let i = 0; i < levels; i++) v = { d: v };
    return v;
  }

  it("is refused by the hooks with a 400 naming where (no object of ours nests that deep), before any recursive code", async () => {
    const job = { apiVersion: "batch/v1", kind: "Job", metadata: { name: "b1-backup", uid: "u1", resourceVersion: "5" }, spec: deep(3000), status: {} };
    const res = await request(app)
      .post("/hooks/mysqlbackup/sync")
      .set("content-type", "application/json")
      .send({
        parent: {
          apiVersion: "metamysql.dev/v1alpha1",
          kind: "MySQLBackup",
          metadata: { name: "b1", namespace: "shop-ns" },
          spec: { clusterName: "shop", storage: { persistentVolumeClaim: { claimName: "backups" } } },
          status: { state: "Running" },
        },
        children: { "Job.batch/v1": { "b1-backup": job } },
        related: {},
      });
    expect(res.status).toBe(400);
    expect(JSON.stringify(res.body)).toMatch(/nested deeper than 64 levels/);
    const child = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "shop-config", uid: "u2" }, data: { a: "b" }, extra: deep(3000) };
    const cluster = await post("sync", syncRequest({ parent: clusterObject("shop", { ...SPEC, instances: 0 }), children: [child as unknown as Obj] }));
    expect(cluster.status).toBe(400);
  });

  it("unchangedChild copes with it anyway (defence in depth: it copies only the levels it changes)", () => {
    const child = { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "shop-config", uid: "u2" }, data: { a: "b" }, extra: deep(3000) };
    const out = unchangedChild(child as never);
    // As JSON text: a deep comparison of 3000 levels would overflow the matcher's stack.
    expect(JSON.stringify(out)).toBe(
      JSON.stringify({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "shop-config" }, data: { a: "b" }, extra: child.extra }),
    );
  });
});
