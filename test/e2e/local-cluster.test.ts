/**
 * End to end through the local runtime with real mariadbd processes and the real hook server
 * (behind an interposer that can rewrite, fail or hang its answers): ordered start, rendered
 * configuration, Service proxies, status, crash restart, hang, hook failures, scaling, delete.
 * ARCHITECTURE.md section 6.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { connect } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { parse } from "yaml";
import { startHookServer } from "../../src/server/app.js";
import { deepEqual, type KObject } from "../../src/local/apiserver/objects.js";
import { HookInterposer, connectTo, destroy, eventually, leftoverPids, query, startTestRuntime, type TestRuntime } from "../helpers/local.js";

const EXAMPLE = join(import.meta.dirname, "../../deploy/examples/mariadb.yaml");
const manifest = parse(readFileSync(EXAMPLE, "utf8")) as { metadata: { name: string }; spec: Record<string, unknown> };
const NAME = manifest.metadata.name;

let hooks: { url: string; close(): Promise<void> };
let interposer: HookInterposer;
let t: TestRuntime;
let password = "";

function pod(name: string): { host: string; port: number; password: string } {
  const p = t.rt.status().pods.find((x) => x.name === name);
  if (!p) throw new Error(`no pod ${name}`);
  return { host: p.ip, port: 3306, password };
}

function service(name: string): { host: string; port: number; password: string } {
  const addr = t.rt.status().services[name];
  if (!addr) throw new Error(`no service ${name}`);
  return { host: "127.0.0.1", port: Number(addr.split(":")[1]), password };
}

async function serverId(target: { host: string; port: number; password: string }): Promise<number> {
  const rows = await query<{ id: number } & import("mysql2").RowDataPacket>(target, "SELECT @@server_id AS id");
  return Number(rows[0]?.id);
}

function eventIndex(source: string, pattern: RegExp): number {
  return t.events.findIndex((e) => e.source === source && pattern.test(e.message));
}

function resync(): void {
  t.rt.metacontroller.enqueue("default", NAME);
}

beforeAll(async () => {
  hooks = await startHookServer({ port: 0, host: "127.0.0.1", logLevel: "silent" });
  interposer = new HookInterposer(hooks.url);
  await interposer.start();
  t = await startTestRuntime({ hookUrl: interposer.url, ipPrefix: "127.20.1", hookTimeoutMs: 3000, resyncPeriodSeconds: 5 });
}, 60_000);

afterAll(async () => {
  await t?.rt.stop();
  await interposer?.close();
  await hooks?.close();
  if (t) {
    expect(leftoverPids(t.stateDir)).toEqual([]);
    rmSync(t.stateDir, { recursive: true, force: true });
  }
}, 120_000);

describe("local runtime: a 3-instance MariaDB cluster from deploy/examples", () => {
  it("starts the pods in ordinal order, each after the previous is ready", async () => {
    const started = Date.now();
    await t.rt.apply(manifest);
    await t.rt.waitFor(() => t.rt.allPodsReady() && t.rt.status().pods.length === 3, 120_000, "3 ready pods");
    const elapsed = Date.now() - started;
    process.stderr.write(`local up: all 3 pods ready after ${(elapsed / 1000).toFixed(1)} s\n`);
    for (const i of [1, 2]) {
      const created = eventIndex(`statefulset ${NAME}`, new RegExp(`create Pod ${NAME}-${i}$`));
      const prevReady = eventIndex(`pod ${NAME}-${i - 1}`, /^ready$/);
      expect(created).toBeGreaterThan(prevReady);
      expect(prevReady).toBeGreaterThanOrEqual(0);
    }
    password = t.rt.credentials()?.password ?? "";
    expect(password).not.toBe("");
    // NetworkPolicy <c> is applied like every child (owned by the cluster), not enforced locally.
    const policies = t.rt.store.list({ kind: "NetworkPolicy" });
    expect(policies.map((p) => p.metadata.name)).toEqual([NAME]);
    expect(policies[0]?.metadata.ownerReferences?.[0]).toMatchObject({ kind: "MySQLCluster", name: NAME, controller: true });
  }, 150_000);

  it("runs each instance with the rendered configuration", async () => {
    for (const i of [0, 1, 2]) {
      const rows = await query<{ id: number; ro: number; lb: number; addr: string } & import("mysql2").RowDataPacket>(
        pod(`${NAME}-${i}`),
        "SELECT @@server_id AS id, @@read_only AS ro, @@log_bin AS lb, @@bind_address AS addr",
      );
      // Every instance starts read-only; only the operator opens the primary (orchestration).
      const primary = (t.rt.cluster() as KObject & { status?: { currentPrimary?: string } }).status?.currentPrimary;
      expect(rows[0]).toMatchObject({ id: 100 + i, ro: primary === `${NAME}-${i}` ? 0 : 1, lb: 1, addr: pod(`${NAME}-${i}`).host });
    }
    const data = readdirSync(join(t.stateDir, "volumes", "default"));
    expect(data.sort()).toEqual([`data-${NAME}-0`, `data-${NAME}-1`, `data-${NAME}-2`]);
  }, 30_000);

  it("writes the status returned by the sync hook to the cluster", async () => {
    await eventually(
      () => {
        const last = interposer
          .callsTo("/sync")
          .filter((c) => c.status === 200)
          .at(-1);
        const cluster = t.rt.cluster() as KObject;
        const status = { ...(cluster.status as Record<string, unknown>) };
        expect(status.observedGeneration).toBe(cluster.metadata.generation);
        delete status.observedGeneration;
        return last && deepEqual(status, (last.response as { status: unknown }).status);
      },
      20_000,
      "the CR status to equal the last sync answer",
    );
  }, 30_000);

  it("routes each Service's proxy by its selector or EndpointSlice; an established connection stays with its backend when that endpoint leaves (kube-proxy's conntrack)", async () => {
    // <c>-instances (selector, all pods): round robin reaches every instance.
    const ids = new Set<number>();
    for (let i = 0; i < 6; i++) ids.add(await serverId(service(`${NAME}-instances`)));
    expect([...ids].sort()).toEqual([100, 101, 102]);

    // <c> selects the primary by pod name; <c>-ro follows its EndpointSlice. Steer both.
    let primary = `${NAME}-1`;
    let readable = [`${NAME}-0`, `${NAME}-2`];
    interposer.rewrite = (res) => {
      for (const child of res.children as KObject[]) {
        if (child.kind === "Service" && child.metadata.name === NAME) {
          (child.spec as { selector: Record<string, string> }).selector["statefulset.kubernetes.io/pod-name"] = primary;
        }
        if (child.kind === "EndpointSlice" && child.metadata.name === `${NAME}-ro`) {
          child.endpoints = [0, 1, 2].map((i) => ({
            addresses: [pod(`${NAME}-${i}`).host],
            conditions: { ready: readable.includes(`${NAME}-${i}`) },
          }));
        }
      }
      return res;
    };
    resync();
    await eventually(async () => (await serverId(service(NAME))) === 101, 15_000, "the rw service to reach shop-1");
    const ro = new Set<number>();
    for (let i = 0; i < 6; i++) ro.add(await serverId(service(`${NAME}-ro`)));
    expect([...ro].sort()).toEqual([100, 102]);

    const held = await connectTo(service(NAME));
    try {
      await held.query("SELECT 1");
      primary = `${NAME}-2`;
      readable = [`${NAME}-1`];
      resync();
      await eventually(async () => (await serverId(service(NAME))) === 102, 15_000, "the rw service to reach shop-2");
      // New connections go to the new endpoint; the established one still reaches shop-1.
      const [rows] = await held.query({ sql: "SELECT @@server_id AS id", timeout: 2000 });
      expect((rows as Array<{ id: number }>)[0]?.id).toBe(101);
      expect(await serverId(service(`${NAME}-ro`))).toBe(101);
    } finally {
      destroy(held);
    }
    interposer.rewrite = undefined;
    resync();
  }, 60_000);

  it("restarts a killed instance with its data intact", async () => {
    // Written on the primary (a write on a replica would be errant), replicated to the target.
    const primary = (t.rt.cluster() as KObject & { status?: { currentPrimary?: string } }).status?.currentPrimary ?? `${NAME}-0`;
    const target = primary === `${NAME}-1` ? `${NAME}-2` : `${NAME}-1`;
    await query(pod(primary), "CREATE DATABASE IF NOT EXISTS keep");
    await query(pod(primary), "CREATE TABLE IF NOT EXISTS keep.t (id INT PRIMARY KEY)");
    await query(pod(primary), "REPLACE INTO keep.t VALUES (42)");
    await eventually(
      async () => {
        const r = await query<{ n: number } & import("mysql2").RowDataPacket>(pod(target), "SELECT COUNT(*) AS n FROM keep.t WHERE id = 42").catch(() => []);
        return r[0]?.n === 1 ? true : undefined;
      },
      20_000,
      "the row replicated to the target",
    );
    const before = t.rt.status().pods.find((p) => p.name === target);
    t.rt.kill(target, "KILL");
    await eventually(
      () => {
        const p = t.rt.status().pods.find((x) => x.name === target);
        return p && p.pid !== before?.pid && p.pid !== null && p.ready;
      },
      60_000,
      "the killed pod to be ready again",
    );
    const rows = await query<{ id: number } & import("mysql2").RowDataPacket>(pod(target), "SELECT id FROM keep.t");
    expect(rows.map((r) => r.id)).toEqual([42]);
    expect(t.rt.kubelet.pods().find((p) => p.name === target)?.restarts).toBe(1);
    expect(eventIndex(`pod ${target}`, /container exited \(signal SIGKILL\)/)).toBeGreaterThanOrEqual(0);
  }, 90_000);

  it("hangs an instance with SIGSTOP (port accepts, never answers) until SIGCONT", async () => {
    const target = pod(`${NAME}-2`);
    t.rt.kill(`${NAME}-2`, "STOP");
    try {
      const greeting = await new Promise<string>((resolve) => {
        const sock = connect({ host: target.host, port: 3306 });
        let connected = false;
        sock.once("connect", () => (connected = true));
        sock.once("data", () => {
          sock.destroy();
          resolve("answered");
        });
        sock.once("error", () => resolve("error"));
        setTimeout(() => {
          sock.destroy();
          resolve(connected ? "silent" : "no-connect");
        }, 1500);
      });
      expect(greeting).toBe("silent");
    } finally {
      t.rt.kill(`${NAME}-2`, "CONT");
    }
    expect(await serverId(target)).toBe(102);
  }, 30_000);

  it("retries a hook that hangs or answers 500 with backoff, and deletes nothing", async () => {
    const uids = () =>
      t.rt.store
        .all()
        .filter((o) => o.kind !== "Pod" && o.kind !== "MySQLCluster")
        .map((o) => `${o.kind}/${o.metadata.name}/${o.metadata.uid}`)
        .sort();
    const before = uids();
    const pids = t.rt.status().pods.map((p) => p.pid);

    try {
      interposer.mode = "hang";
      const hangStart = interposer.calls.length;
      resync();
      await eventually(() => interposer.calls.length >= hangStart + 2, 15_000, "a retry after the webhook timeout");
      const [h1, h2] = interposer.calls.slice(hangStart);
      expect((h2?.at ?? 0) - (h1?.at ?? 0)).toBeGreaterThanOrEqual(2900);

      interposer.mode = "500";
      const failStart = interposer.calls.length;
      const eventsStart = t.events.length;
      await eventually(() => interposer.calls.length >= failStart + 8, 20_000, "8 failed calls");
      // Exponential backoff, read from the delays the retries were scheduled with (what each
      // SyncError reports), not from wall-clock gaps, which CPU load stretches and squeezes.
      const delays = t.events
        .slice(eventsStart)
        .filter((e) => e.reason === "SyncError" && /HTTP 500: injected failure/.test(e.message))
        .map((e) => {
          const m = /retrying in ([\d.]+) (ms|s)$/.exec(e.message);
          return m ? Number(m[1]) * (m[2] === "s" ? 1000 : 1) : NaN;
        });
      expect(delays.length).toBeGreaterThanOrEqual(5);
      for (let i = 1; i < delays.length; i++) expect(delays[i]).toBeGreaterThanOrEqual(delays[i - 1] ?? 0);
      expect(delays.at(-1)).toBeGreaterThanOrEqual((delays[0] ?? 0) * 16);
      expect(uids()).toEqual(before);
      expect(t.rt.status().pods.map((p) => p.pid)).toEqual(pids);
    } finally {
      // A failed assertion must not leave the hooks failing for the tests after this one.
      interposer.mode = "pass";
    }

    const okStart = interposer.calls.length;
    await eventually(() => interposer.calls.slice(okStart).some((c) => c.status === 200 && c.path.endsWith("/sync")), 40_000, "a successful sync");
    expect(uids()).toEqual(before);
  }, 90_000);

  it("scales 3 -> 5 -> 2 in ordinal order, keeping every data dir", async () => {
    await t.rt.apply({ ...manifest, spec: { ...manifest.spec, instances: 5 } });
    await t.rt.waitFor(() => t.rt.allPodsReady() && t.rt.status().pods.length === 5, 120_000, "5 ready pods");
    expect(eventIndex(`statefulset ${NAME}`, /create Pod shop-4$/)).toBeGreaterThan(eventIndex(`pod ${NAME}-3`, /^ready$/));
    for (const i of [3, 4]) expect(await serverId(pod(`${NAME}-${i}`))).toBe(100 + i);

    await t.rt.apply({ ...manifest, spec: { ...manifest.spec, instances: 2 } });
    await t.rt.waitFor(() => t.rt.allPodsReady() && t.rt.status().pods.length === 2, 240_000, "2 ready pods");
    expect(t.rt.status().pods.map((p) => p.name)).toEqual([`${NAME}-0`, `${NAME}-1`]);
    const del4 = eventIndex(`statefulset ${NAME}`, /delete Pod shop-4 /);
    const gone4 = eventIndex(`pod ${NAME}-4`, /stopped and removed/);
    const del3 = eventIndex(`statefulset ${NAME}`, /delete Pod shop-3 /);
    expect(del4).toBeGreaterThanOrEqual(0);
    expect(gone4).toBeGreaterThan(del4);
    expect(del3).toBeGreaterThan(gone4);
    for (const i of [0, 1, 2, 3, 4]) {
      expect(existsSync(join(t.stateDir, "volumes", "default", `data-${NAME}-${i}`, "mysql"))).toBe(true);
    }
    const rows = await query<{ id: number } & import("mysql2").RowDataPacket>(pod(`${NAME}-1`), "SELECT id FROM keep.t");
    expect(rows.map((r) => r.id)).toEqual([42]);
  }, 400_000);

  it("deletes the cluster through the finalize hook, stops every process and keeps the data dirs", async () => {
    await t.rt.deleteCluster(240_000);
    expect(interposer.callsTo("/finalize").length).toBeGreaterThan(0);
    expect(t.rt.cluster()).toBeUndefined();
    expect(t.rt.supervisor.running()).toEqual([]);
    expect(t.rt.store.list({ kind: "StatefulSet" })).toEqual([]);
    expect(t.rt.store.list({ kind: "NetworkPolicy" })).toEqual([]);
    for (const i of [0, 1, 2, 3, 4]) {
      expect(existsSync(join(t.stateDir, "volumes", "default", `data-${NAME}-${i}`, "mysql"))).toBe(true);
    }
    expect(t.rt.store.list({ kind: "PersistentVolumeClaim" }).length).toBe(5);
  }, 300_000);
});
