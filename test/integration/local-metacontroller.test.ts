/**
 * The Metacontroller emulation of the local runtime against a small fake hook server: request
 * shapes, apply semantics (create, 3-way update, OnDelete, delete what was omitted), status
 * replacement with observedGeneration, resyncAfterSeconds, retries with backoff on 500 and on a
 * hung hook, triggers from children and related pods, finalize.
 */
import { createServer, type Server } from "node:http";
import type { AddressInfo } from "node:net";
import { afterEach, describe, expect, it } from "vitest";
import { mysqlClusterController } from "../../src/local/metacontroller/controller-config.js";
import { MetacontrollerEmulator, type MetacontrollerEvent } from "../../src/local/metacontroller/metacontroller.js";
import type { KObject } from "../../src/local/apiserver/objects.js";
import { ObjectStore } from "../../src/local/apiserver/store.js";
import { eventually } from "../helpers/local.js";

type Reply = { status: number; body?: unknown } | "hang";
interface Call {
  hook: string;
  body: Record<string, unknown>;
  at: number;
}

let server: Server | undefined;
let emulator: MetacontrollerEmulator | undefined;

afterEach(async () => {
  await emulator?.stop();
  server?.closeAllConnections();
  await new Promise<void>((r) => (server ? server.close(() => r()) : r()));
  server = undefined;
  emulator = undefined;
});

async function fakeHooks(reply: (hook: string, body: Record<string, unknown>) => Reply): Promise<{ url: string; calls: Call[] }> {
  const calls: Call[] = [];
  server = createServer((req, res) => {
    let text = "";
    req.on("data", (c: Buffer) => (text += c.toString()));
    req.on("end", () => {
      const hook = (req.url ?? "").split("/").pop() ?? "";
      const body = JSON.parse(text) as Record<string, unknown>;
      calls.push({ hook, body, at: Date.now() });
      const r = reply(hook, body);
      if (r === "hang") return;
      res.writeHead(r.status, { "content-type": "application/json" }).end(typeof r.body === "string" ? r.body : JSON.stringify(r.body ?? {}));
    });
  });
  await new Promise<void>((r) => server?.listen(0, "127.0.0.1", r));
  return { url: `http://127.0.0.1:${(server?.address() as AddressInfo).port}`, calls };
}

const cluster = (): KObject => ({
  apiVersion: "metamysql.dev/v1alpha1",
  kind: "MySQLCluster",
  metadata: { name: "c", namespace: "default" },
  spec: { instances: 1 },
});
const cm = (data: Record<string, string>): KObject => ({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c-config" }, data });
const secret = (pw: string): KObject => ({ apiVersion: "v1", kind: "Secret", metadata: { name: "c-credentials" }, data: { pw } });
const customize = { status: 200, body: { relatedResources: [{ apiVersion: "v1", resource: "pods", labelSelector: { matchLabels: { app: "c" } } }] } };

function start(store: ObjectStore, url: string, events: MetacontrollerEvent[] = [], timeoutMs = 1000): MetacontrollerEmulator {
  emulator = new MetacontrollerEmulator({
    store,
    controller: mysqlClusterController(url, { timeoutMs, resyncPeriodSeconds: 3600 }),
    onEvent: (e) => events.push(e),
  });
  emulator.start();
  return emulator;
}

describe("MetacontrollerEmulator", () => {
  it("sends the documented requests and applies children and status like Metacontroller", async () => {
    let children: KObject[] = [secret("one"), cm({ a: "1", b: "2" })];
    const hooks = await fakeHooks((hook) => (hook === "customize" ? customize : { status: 200, body: { status: { state: "Initializing" }, children } }));
    const store = new ObjectStore();
    store.create(cluster());
    start(store, hooks.url);
    await eventually(() => store.get("v1", "ConfigMap", "default", "c-config"), 5000, "the ConfigMap");

    expect(hooks.calls[0]?.hook).toBe("customize");
    const sync = hooks.calls.find((c) => c.hook === "sync")?.body as Record<string, Record<string, unknown>>;
    expect(Object.keys(sync).sort()).toEqual(["children", "controller", "finalizing", "parent", "related"]);
    expect(Object.keys(sync.children ?? {}).sort()).toEqual([
      "ConfigMap.v1",
      "CronJob.batch/v1",
      "EndpointSlice.discovery.k8s.io/v1",
      "Job.batch/v1",
      "NetworkPolicy.networking.k8s.io/v1",
      "PodDisruptionBudget.policy/v1",
      "Secret.v1",
      "Service.v1",
      "StatefulSet.apps/v1",
    ]);
    expect(sync.related).toEqual({ "Pod.v1": {} });
    expect(sync.finalizing).toBe(false);
    expect((sync.parent?.metadata as { uid?: string }).uid).toMatch(/-/);

    const parent = store.get("metamysql.dev/v1alpha1", "MySQLCluster", "default", "c") as KObject;
    expect(parent.metadata.finalizers).toEqual(["metacontroller.io/compositecontroller-metamysql-mysqlcluster"]);
    await eventually(() => (store.get("metamysql.dev/v1alpha1", "MySQLCluster", "default", "c")?.status as { state?: string })?.state, 5000, "status");
    expect(store.get("metamysql.dev/v1alpha1", "MySQLCluster", "default", "c")?.status).toEqual({ state: "Initializing", observedGeneration: 1 });
    const created = store.get("v1", "ConfigMap", "default", "c-config") as KObject;
    expect(created.metadata.ownerReferences).toEqual([
      expect.objectContaining({ kind: "MySQLCluster", name: "c", uid: parent.metadata.uid, controller: true }),
    ]);
    expect(created.metadata.labels?.["controller-uid"]).toBe(parent.metadata.uid);

    // A child seen in the next request: keyed namespace/name, with its status and data.
    const syncs = () => hooks.calls.filter((c) => c.hook === "sync").length;
    const n = syncs();
    emulator?.enqueue("default", "c");
    await eventually(() => syncs() > n, 5000, "another sync");
    const last = hooks.calls.filter((c) => c.hook === "sync").at(-1)?.body as { children: Record<string, Record<string, KObject>> };
    expect(Object.keys(last.children["ConfigMap.v1"] ?? {})).toEqual(["default/c-config"]);

    // InPlace 3-way update drops a removed key; OnDelete never updates the Secret; omitted children are deleted.
    children = [secret("two"), cm({ a: "9" })];
    emulator?.enqueue("default", "c");
    await eventually(() => (store.get("v1", "ConfigMap", "default", "c-config")?.data as Record<string, string>)?.a === "9", 5000, "update");
    expect(store.get("v1", "ConfigMap", "default", "c-config")?.data).toEqual({ a: "9" });
    expect(store.get("v1", "Secret", "default", "c-credentials")?.data).toEqual({ pw: "one" });
    children = [secret("two")];
    emulator?.enqueue("default", "c");
    await eventually(() => !store.get("v1", "ConfigMap", "default", "c-config"), 5000, "deletion of the omitted child");
  });

  it("syncs again after resyncAfterSeconds and when a child or a related pod changes", async () => {
    let resync: number | undefined = 0.3;
    const hooks = await fakeHooks((hook) =>
      hook === "customize" ? customize : { status: 200, body: { status: {}, children: [cm({ a: "1" })], ...(resync ? { resyncAfterSeconds: resync } : {}) } },
    );
    const store = new ObjectStore();
    store.create(cluster());
    start(store, hooks.url);
    await eventually(() => hooks.calls.filter((c) => c.hook === "sync").length >= 3, 5000, "resyncs");
    resync = undefined;
    await new Promise((r) => setTimeout(r, 500));
    const n = hooks.calls.length;
    const pod: KObject = { apiVersion: "v1", kind: "Pod", metadata: { name: "c-0", namespace: "default", labels: { app: "c" } }, spec: {} };
    store.create(pod);
    await eventually(() => hooks.calls.length > n, 5000, "a sync on a related pod");
    const req = hooks.calls.at(-1)?.body as { related: Record<string, Record<string, unknown>> };
    expect(Object.keys(req.related["Pod.v1"] ?? {})).toEqual(["default/c-0"]);
    const m = hooks.calls.length;
    const child = store.get("v1", "ConfigMap", "default", "c-config") as KObject;
    store.update({ ...child, data: { a: "changed" } });
    await eventually(() => hooks.calls.length > m, 5000, "a sync on a child change");
    await eventually(() => (store.get("v1", "ConfigMap", "default", "c-config")?.data as Record<string, string>).a === "1", 5000, "the child restored");
  });

  it("retries a failing or hung hook with exponential backoff and changes nothing", async () => {
    let mode: "ok" | "500" | "hang" = "ok";
    const hooks = await fakeHooks((hook) => {
      if (hook === "customize") return customize;
      if (mode === "500") return { status: 500, body: "boom" };
      if (mode === "hang") return "hang";
      return { status: 200, body: { status: { state: "ok" }, children: [cm({ a: "1" })] } };
    });
    const store = new ObjectStore();
    store.create(cluster());
    const events: MetacontrollerEvent[] = [];
    start(store, hooks.url, events, 400);
    await eventually(() => store.get("v1", "ConfigMap", "default", "c-config"), 5000, "the child");
    await eventually(() => (store.get("metamysql.dev/v1alpha1", "MySQLCluster", "default", "c")?.status as { state?: string })?.state === "ok", 5000, "status");
    const uid = store.get("v1", "ConfigMap", "default", "c-config")?.metadata.uid;
    // The first sync's own writes (child, status) trigger another sync: let it happen before the
    // hook starts failing, so that the failures below form one backoff chain.
    let calls = -1;
    await eventually(
      () => {
        const settled = hooks.calls.length === calls && hooks.calls.filter((c) => c.hook === "sync").length >= 2;
        calls = hooks.calls.length;
        return settled;
      },
      5000,
      "the syncs to settle",
    );

    mode = "500";
    const from = hooks.calls.length;
    const errorsFrom = events.length;
    emulator?.enqueue("default", "c");
    await eventually(() => hooks.calls.length >= from + 8, 10_000, "8 failed calls");
    // The backoff each failure scheduled doubles (client-go's per-item limiter, 5 ms base). The
    // converged schedule is asserted, not wall-clock gaps: under load a sync takes longer, and
    // a watch event may legitimately run the parent before its backoff expires, as in
    // Metacontroller.
    const delays = events
      .slice(errorsFrom)
      .flatMap((e) => (e.type === "SyncError" && /HTTP 500: boom/.test(e.message) ? [e.retryInMs] : []))
      .slice(0, 7);
    expect(delays).toEqual([5, 10, 20, 40, 80, 160, 320]);
    expect(store.get("v1", "ConfigMap", "default", "c-config")?.metadata.uid).toBe(uid);
    expect(emulator?.failures("default", "c")).toBeGreaterThanOrEqual(7);

    mode = "hang";
    const hangFrom = hooks.calls.length;
    await eventually(() => hooks.calls.length >= hangFrom + 2, 15_000, "two hung calls");
    const [a, b] = hooks.calls.slice(hangFrom);
    expect((b?.at ?? 0) - (a?.at ?? 0)).toBeGreaterThanOrEqual(400);
    expect(events.some((e) => e.type === "SyncError" && /timed out after 400 ms/.test(e.message))).toBe(true);
    expect(store.get("v1", "ConfigMap", "default", "c-config")?.metadata.uid).toBe(uid);
    expect((store.get("metamysql.dev/v1alpha1", "MySQLCluster", "default", "c")?.status as { state?: string }).state).toBe("ok");
  }, 40_000);

  it("finalizes a deleted parent, then the children are garbage collected", async () => {
    let finalized = false;
    const hooks = await fakeHooks((hook, body) => {
      if (hook === "customize") return customize;
      if (hook === "finalize") {
        expect(body.finalizing).toBe(true);
        return { status: 200, body: { status: { state: "Finalizing" }, children: [cm({ a: "1" })], finalized, resyncAfterSeconds: 0.1 } };
      }
      return { status: 200, body: { status: {}, children: [cm({ a: "1" })] } };
    });
    const store = new ObjectStore();
    store.create(cluster());
    start(store, hooks.url);
    await eventually(() => store.get("v1", "ConfigMap", "default", "c-config"), 5000, "the child");
    store.delete("metamysql.dev/v1alpha1", "MySQLCluster", "default", "c");
    await eventually(() => hooks.calls.filter((c) => c.hook === "finalize").length >= 2, 5000, "finalize calls");
    expect(store.get("metamysql.dev/v1alpha1", "MySQLCluster", "default", "c")?.metadata.deletionTimestamp).toBeDefined();
    finalized = true;
    await eventually(() => !store.get("metamysql.dev/v1alpha1", "MySQLCluster", "default", "c"), 5000, "the parent gone");
    expect(store.get("v1", "ConfigMap", "default", "c-config")).toBeUndefined();
  });
});
