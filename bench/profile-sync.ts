/**
 * `tsx bench/profile-sync.ts`: the sync hook's phases timed in-process (no HTTP), on the request
 * `bench:hooks` sends, to see where a sync's CPU time goes, with the request's zod parses shown
 * one by one. ITERATIONS (default 2000). For a full
 * profile: `node --import tsx --cpu-prof bench/profile-sync.ts`.
 */
import { pino } from "pino";
import { EnvConfigSchema } from "../src/api/env.js";
import { parseCluster } from "../src/api/parse.js";
import { createHookMetrics } from "../src/metrics/registry.js";
import { renderChildren } from "../src/render/children.js";
import { syncMySQLCluster } from "../hooks/mysqlcluster/sync.js";
import { parseSyncRequest } from "../hooks/mysqlcluster/request.js";
import { credentialsOf } from "../hooks/mysqlcluster/credentials.js";
import { decide } from "../src/topology/index.js";
import { MySQLClusterObjectSchema } from "../src/api/cluster.js";
import { PodSchema, SecretSchema } from "../src/api/k8s.js";
import { SyncRequestSchema } from "../src/api/metacontroller.js";
import { forbiddenChanges } from "../src/api/spec-changes.js";
import { recordClusterMetrics } from "../hooks/mysqlcluster/metrics.js";
import { asObserved, clusterObject, pod, syncRequest, type Obj } from "../test/helpers/metacontroller.js";

const N = Number(process.env["ITERATIONS"] ?? 2000);
const ctx = {
  config: EnvConfigSchema.parse({}),
  logger: pino({ level: "silent" }),
  metrics: createHookMetrics(),
  now: () => new Date("2026-11-01T12:00:00Z"),
  generatePassword: () => "x".repeat(32),
};
const spec = { flavor: "mariadb", instances: 3, storage: { size: "10Gi" } };
const name = "shop0";
const first = JSON.parse(JSON.stringify(await syncMySQLCluster(syncRequest({ parent: clusterObject(name, spec) }), ctx))) as {
  status: unknown;
  children: Obj[];
};
const parent = clusterObject(name, spec, { status: first.status });
const body = JSON.stringify(
  syncRequest({ parent, children: first.children.map((c, i) => asObserved(c, parent, i)), related: [0, 1, 2].map((i) => pod(name, i, { ip: "" })) }),
);

const totals = new Map<string, number>();
function time<T>(k: string, f: () => T): T {
  const t0 = performance.now();
  const out = f();
  totals.set(k, (totals.get(k) ?? 0) + performance.now() - t0);
  return out;
}
for (let i = 0; i < N; i++) {
  const req = time("JSON.parse", () => JSON.parse(body) as unknown);
  const parsed = time("parseSyncRequest", () => parseSyncRequest(req));
  // The request's parts, each through its zod schema.
  time("  SyncRequestSchema", () => SyncRequestSchema.safeParse(req));
  time("  MySQLClusterObjectSchema", () => MySQLClusterObjectSchema.safeParse(parsed.request.parent));
  time("  PodSchema x3", () => parsed.pods.map((p) => PodSchema.safeParse(p.pod)));
  time("  SecretSchema x2", () => parsed.children.filter((c) => c.kind === "Secret").map((c) => SecretSchema.safeParse(c)));
  const c = time("parseCluster", () => parseCluster(parsed.parent));
  if (!c.ok) throw new Error("invalid");
  const creds = time("credentialsOf", () => credentialsOf(c.cluster, parsed, ctx.generatePassword));
  time("decide", () => decide({ clusterName: c.cluster.name, spec: c.cluster.spec, previous: c.cluster.status, instances: [], now: ctx.now() }));
  time("renderChildren (no config cache)", () =>
    renderChildren({
      cluster: c.cluster,
      observed: parsed.children,
      credentials: creds.credentials,
      backupPassword: creds.backupPassword,
      backupSigningKey: creds.backupSigningKey,
      appsPassword: "apps-pw",
      agentToken: creds.agentToken,
      primary: "shop0-0",
      readOnlyEndpoints: [],
      operatorNamespace: ctx.config.OPERATOR_NAMESPACE,
    }),
  );
  time("forbiddenChanges", () =>
    forbiddenChanges(
      c.cluster,
      parsed.children.find((x) => x.kind === "StatefulSet"),
    ),
  );
  time("recordClusterMetrics", () =>
    recordClusterMetrics(
      ctx.metrics,
      c.cluster,
      c.cluster.status,
      [0, 1, 2].map((o) => ({ name: `shop0-${o}`, ordinal: o, podExists: true, podReady: true, terminating: false, podIP: undefined, probe: undefined })),
    ),
  );
  const out = await timeAsync("syncMySQLCluster (whole)", () => syncMySQLCluster(JSON.parse(body), ctx));
  time("JSON.stringify", () => JSON.stringify(out));
}
async function timeAsync<T>(k: string, f: () => Promise<T>): Promise<T> {
  const t0 = performance.now();
  const out = await f();
  totals.set(k, (totals.get(k) ?? 0) + performance.now() - t0);
  return out;
}
console.log(`request ${(body.length / 1024).toFixed(1)} KiB, ${N} iterations, µs per sync:`);
for (const [k, v] of totals) console.log(`  ${k.padEnd(34)} ${((v / N) * 1000).toFixed(0)}`);
