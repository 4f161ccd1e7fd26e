/**
 * Pure and small parts of the local runtime: the 3-way apply, the object store's API-server
 * semantics (in memory), StatefulSet admission, selectors, pod IPs, the controller manifest and
 * image flavors. The parts that touch the host (the store's file, the state dir lock, the TCP
 * proxy, the installed server) are tested in test/integration/local-parts-on-host.test.ts.
 */
import { describe, expect, it } from "vitest";
import { applyUpdate, LAST_APPLIED_ANNOTATION, merge, withLastApplied } from "../../src/local/metacontroller/apply.js";
import { parseCompositeController, parseGoDuration } from "../../src/local/metacontroller/controller-config.js";
import { allocateIp, defaultIpPrefix, parseIpPrefix } from "../../src/local/node/ipam.js";
import { matchesSelector, type KObject } from "../../src/local/apiserver/objects.js";
import { validateStatefulSetUpdate } from "../../src/local/controllers/statefulset.js";
import { ObjectStore, StoreError } from "../../src/local/apiserver/store.js";
import { flavorOfImage } from "../../src/local/node/binaries.js";
import { RestartBackoff } from "../../src/local/kubelet/restart-backoff.js";
import { MetacontrollerCustomizeResponseSchema, MetacontrollerSyncResponseSchema } from "../../src/api/metacontroller.js";
import { readFileSync } from "node:fs";
import { join } from "node:path";

describe("3-way apply (Metacontroller's dynamic apply)", () => {
  it("merges maps, removes fields dropped since the last apply, keeps others' fields", () => {
    expect(merge({ a: 1, b: 2, keep: 3 }, { a: 1, b: 2 }, { a: 5 })).toEqual({ a: 5, keep: 3 });
  });
  it("merges lists of objects by a conventional key and replaces other lists", () => {
    const observed = [
      { name: "x", value: "1", extra: true },
      { name: "y", value: "2" },
    ];
    expect(
      merge(
        observed,
        [
          { name: "x", value: "1" },
          { name: "y", value: "2" },
        ],
        [{ name: "x", value: "9" }],
      ),
    ).toEqual([{ name: "x", value: "9", extra: true }]);
    expect(merge(["a", "b"], ["a"], ["c"])).toEqual(["c"]);
  });
  it("keeps status and system metadata, records the last applied configuration", () => {
    const created = withLastApplied({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "m" }, data: { a: "1" } });
    const observed: KObject = { ...created, metadata: { ...created.metadata, uid: "u", resourceVersion: "7" }, status: { x: 1 } };
    const next = applyUpdate(observed, { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "m", uid: "other" }, data: { b: "2" } });
    expect(next.data).toEqual({ b: "2" });
    expect(next.metadata.uid).toBe("u");
    expect(next.status).toEqual({ x: 1 });
    expect(JSON.parse(next.metadata.annotations?.[LAST_APPLIED_ANNOTATION] ?? "{}")).toMatchObject({ data: { b: "2" } });
  });
});

describe("ObjectStore", () => {
  const sts = (replicas: number): KObject => ({ apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "s" }, spec: { replicas, serviceName: "x" } });
  it("bumps generation on spec changes only, keeps status on main-resource updates, checks resourceVersion", () => {
    const store = new ObjectStore();
    const a = store.create(sts(1));
    expect(a.metadata).toMatchObject({ namespace: "default", generation: 1 });
    const b = store.updateStatus({ ...a, status: { replicas: 1 } });
    const c = store.update({ ...b, metadata: { ...b.metadata, labels: { l: "1" } }, status: { replicas: 99 } });
    expect(c.metadata.generation).toBe(1);
    expect(c.status).toEqual({ replicas: 1 });
    const d = store.update({ ...c, spec: { replicas: 2, serviceName: "x" } });
    expect(d.metadata.generation).toBe(2);
    expect(() => store.update(c)).toThrow(StoreError);
  });
  it("deletes with finalizers in two steps and garbage collects dependents", () => {
    const store = new ObjectStore();
    const p = store.create({ apiVersion: "x/v1", kind: "P", metadata: { name: "p", finalizers: ["f"] } });
    store.create({
      apiVersion: "v1",
      kind: "ConfigMap",
      metadata: { name: "c", ownerReferences: [{ apiVersion: "x/v1", kind: "P", name: "p", uid: p.metadata.uid ?? "" }] },
    });
    store.delete("x/v1", "P", "default", "p");
    const pending = store.get("x/v1", "P", "default", "p");
    expect(pending?.metadata.deletionTimestamp).toBeDefined();
    store.update({ ...(pending as KObject), metadata: { ...(pending as KObject).metadata, finalizers: [] } });
    expect(store.get("x/v1", "P", "default", "p")).toBeUndefined();
    expect(store.get("v1", "ConfigMap", "default", "c")).toBeUndefined();
  });
  it("rejects changes to immutable StatefulSet fields like the API server", () => {
    const store = new ObjectStore();
    store.addValidator("apps/v1", "StatefulSet", validateStatefulSetUpdate);
    const s = store.create(sts(1));
    expect(() => store.update({ ...s, spec: { replicas: 1, serviceName: "other" } })).toThrow(/Forbidden.*serviceName/);
  });
});

describe("selectors, pod IPs, controller manifests", () => {
  it("matches labels and expressions", () => {
    expect(matchesSelector({ a: "1", b: "2" }, { matchLabels: { a: "1" }, matchExpressions: [{ key: "b", operator: "In", values: ["2"] }] })).toBe(true);
    expect(matchesSelector({ a: "1" }, { matchExpressions: [{ key: "b", operator: "Exists" }] })).toBe(false);
  });
  it("allocates loopback pod IPs in a per-state-dir /24", () => {
    expect(parseIpPrefix("127.20.1")).toBe("127.20.1");
    expect(() => parseIpPrefix("10.0.0")).toThrow(/loopback/);
    expect(allocateIp("127.20.1", ["127.20.1.2"])).toBe("127.20.1.3");
    const p = defaultIpPrefix("/some/dir");
    expect(p).toMatch(/^127\.\d+\.\d+$/);
    expect(["127.10", "127.20", "127.30"].some((x) => p.startsWith(`${x}.`))).toBe(false);
    expect(defaultIpPrefix("/other/dir")).not.toBe(p);
  });
  it("reads the project's CompositeController manifest", () => {
    const text = readFileSync(join(import.meta.dirname, "../../metacontroller/mysqlcluster-controller.yaml"), "utf8");
    const cc = parseCompositeController(text, "http://127.0.0.1:9");
    expect(cc?.hooks.sync).toEqual({ url: "http://127.0.0.1:9/hooks/mysqlcluster/sync", timeoutMs: parseGoDuration("10s") });
    expect(cc?.children.find((c) => c.kind === "Secret")?.updateMethod).toBe("OnDelete");
    expect(cc?.generateSelector).toBe(true);
  });
});

describe("database server images", () => {
  it("maps an image to the server flavor it needs", () => {
    expect(flavorOfImage("docker.io/library/mariadb:11.4")).toBe("mariadb");
    expect(flavorOfImage("docker.io/library/mysql:8.4")).toBe("mysql");
  });
  it("reads the flavor of references pinned by digest, with or without a tag, and with a registry port", () => {
    const digest = `sha256:${"0".repeat(64)}`;
    expect(flavorOfImage(`docker.io/library/mariadb@${digest}`)).toBe("mariadb");
    expect(flavorOfImage(`registry.local:5000/db/mysql:8.4.3@${digest}`)).toBe("mysql");
    expect(flavorOfImage(`registry.local:5000/db/mariadb`)).toBe("mariadb");
    expect(flavorOfImage(`registry.local:5000/db/postgres@${digest}`)).toBeUndefined();
  });
});

describe("CrashLoopBackOff bookkeeping", () => {
  it("restarts at once, then doubles from the base to the max; a long run resets the count", () => {
    const b = new RestartBackoff(10_000, 40_000);
    const delays: number[] = [];
    for (let i = 0; i < 5; i++) {
      b.started(i * 1000);
      delays.push(b.nextDelay(i * 1000 + 500));
      b.restarting();
    }
    expect(delays).toEqual([0, 10_000, 20_000, 40_000, 40_000]);
    expect(b.restartCount).toBe(5);
    b.started(100_000);
    expect(b.nextDelay(100_000 + 10 * 60_000 + 1)).toBe(0);
    expect(b.restartCount).toBe(0);
  });
});

describe("hook responses as the local Metacontroller reads them (src/api/metacontroller.ts)", () => {
  it("takes a null or missing status and children and a zero resync, like Metacontroller", () => {
    expect(MetacontrollerSyncResponseSchema.safeParse({ status: null, children: null, resyncAfterSeconds: 0 }).success).toBe(true);
    expect(MetacontrollerSyncResponseSchema.safeParse({}).success).toBe(true);
    expect(MetacontrollerCustomizeResponseSchema.safeParse({ relatedResources: null }).success).toBe(true);
    const rule = { apiVersion: "v1", resource: "pods", labelSelector: { matchExpressions: [{ key: "a", operator: "Exists" }] } };
    expect(MetacontrollerCustomizeResponseSchema.safeParse({ relatedResources: [rule] }).success).toBe(true);
  });
  it("rejects unknown fields, unnamed children and a negative resync", () => {
    expect(MetacontrollerSyncResponseSchema.safeParse({ status: {}, children: [], extra: 1 }).success).toBe(false);
    expect(MetacontrollerSyncResponseSchema.safeParse({ children: [{ apiVersion: "v1", kind: "Secret", metadata: { name: "" } }] }).success).toBe(false);
    expect(MetacontrollerSyncResponseSchema.safeParse({ resyncAfterSeconds: -1 }).success).toBe(false);
    expect(MetacontrollerCustomizeResponseSchema.safeParse({ relatedResources: [], extra: 1 }).success).toBe(false);
  });
});
