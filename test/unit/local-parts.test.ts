/**
 * Pure and small parts of the local runtime: the 3-way apply, the object store's API-server
 * semantics, StatefulSet admission, pod IPs, the state dir lock and the TCP proxy.
 */
import { createServer, connect, type Server } from "node:net";
import { afterAll, describe, expect, it } from "vitest";
import { applyUpdate, LAST_APPLIED_ANNOTATION, merge, withLastApplied } from "../../src/local/metacontroller/apply.js";
import { parseCompositeController, parseGoDuration } from "../../src/local/metacontroller/controller-config.js";
import { allocateIp, defaultIpPrefix, parseIpPrefix } from "../../src/local/node/ipam.js";
import { matchesSelector, type KObject } from "../../src/local/apiserver/objects.js";
import { TcpProxy } from "../../src/local/proxy/proxy.js";
import { acquireLock, stateLayout } from "../../src/local/node/statedir.js";
import { validateStatefulSetUpdate } from "../../src/local/controllers/statefulset.js";
import { ObjectStore, StoreError } from "../../src/local/apiserver/store.js";
import { eventually, tempStateDir } from "../helpers/local.js";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";

describe("3-way apply (Metacontroller's dynamic apply)", () => {
  it("merges maps, removes fields dropped since the last apply, keeps others' fields", () => {
    expect(merge({ a: 1, b: 2, keep: 3 }, { a: 1, b: 2 }, { a: 5 })).toEqual({ a: 5, keep: 3 });
  });
  it("merges lists of objects by a conventional key and replaces other lists", () => {
    const observed = [{ name: "x", value: "1", extra: true }, { name: "y", value: "2" }];
    expect(merge(observed, [{ name: "x", value: "1" }, { name: "y", value: "2" }], [{ name: "x", value: "9" }])).toEqual([
      { name: "x", value: "9", extra: true },
    ]);
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
    store.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c", ownerReferences: [{ apiVersion: "x/v1", kind: "P", name: "p", uid: p.metadata.uid ?? "" }] } });
    store.delete("x/v1", "P", "default", "p");
    const pending = store.get("x/v1", "P", "default", "p");
    expect(pending?.metadata.deletionTimestamp).toBeDefined();
    store.update({ ...(pending as KObject), metadata: { ...(pending as KObject).metadata, finalizers: [] } });
    expect(store.get("x/v1", "P", "default", "p")).toBeUndefined();
    expect(store.get("v1", "ConfigMap", "default", "c")).toBeUndefined();
  });
  it("persists to its file", () => {
    const file = join(tempStateDir("store"), "store.json");
    const store = new ObjectStore({ file });
    store.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "1" } });
    store.flush();
    expect(new ObjectStore({ file }).get("v1", "ConfigMap", "default", "c")?.data).toEqual({ a: "1" });
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

describe("state dir lock", () => {
  it("refuses a second holder and takes over a stale lock", () => {
    const layout = stateLayout(tempStateDir("lock"));
    const lock = acquireLock(layout);
    // Same process holds it: a second acquire is refused with a clear message.
    expect(() => acquireLock(layout)).toThrow(/is in use by a running "metamysql local up"/);
    lock.release();
    // A lock left by a dead process is stale.
    writeFileSync(layout.lockFile, JSON.stringify({ pid: 2 ** 22 + 12345 }));
    acquireLock(layout).release();
  });
});

describe("TcpProxy", () => {
  const servers: Server[] = [];
  const echo = async (host: string, tag: string): Promise<number> => {
    const s = createServer((sock) => sock.end(tag));
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, host, r));
    return (s.address() as { port: number }).port;
  };
  const read = (port: number): Promise<string> =>
    new Promise((resolve) => {
      let out = "";
      const c = connect({ host: "127.0.0.1", port });
      c.on("data", (d) => (out += d.toString()));
      c.on("close", () => resolve(out));
      c.on("error", () => resolve("error"));
    });
  afterAll(() => servers.forEach((s) => s.close()));

  it("round-robins over the backends, refuses without endpoints, closes connections to removed backends", async () => {
    const pa = await echo("127.20.3.2", "a");
    const pb = await echo("127.20.3.3", "b");
    const proxy = new TcpProxy();
    const port = await proxy.listen(0);
    expect(await read(port)).toBe("error");
    proxy.setBackends([{ ip: "127.20.3.2", port: pa }, { ip: "127.20.3.3", port: pb }]);
    expect([await read(port), await read(port)].sort()).toEqual(["a", "b"]);

    const hold = createServer(() => undefined);
    servers.push(hold);
    await new Promise<void>((r) => hold.listen(0, "127.20.3.4", r));
    proxy.setBackends([{ ip: "127.20.3.4", port: (hold.address() as { port: number }).port }]);
    const c = connect({ host: "127.0.0.1", port });
    const closed = new Promise<void>((r) => c.on("close", () => r()));
    c.on("error", () => undefined);
    await eventually(() => proxy.connections() === 1, 2000, "an open connection");
    proxy.setBackends([{ ip: "127.20.3.2", port: pa }]);
    await closed;
    expect(await read(port)).toBe("a");
    await proxy.close();
  });
});

describe("database server check", () => {
  it("names the missing server for a flavor", async () => {
    const { missingServerMessage, flavorOfImage } = await import("../../src/local/node/binaries.js");
    expect(flavorOfImage("docker.io/library/mariadb:11.4")).toBe("mariadb");
    expect(flavorOfImage("docker.io/library/mysql:8.4")).toBe("mysql");
    expect(missingServerMessage("mariadb")).toBeUndefined();
    // On these machines mysqld is MariaDB's alias: flavor mysql must say so.
    expect(missingServerMessage("mysql")).toMatch(/flavor mysql needs MySQL Server/);
  });
});
