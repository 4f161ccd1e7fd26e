/**
 * Request building for the property tests (test/property): one hook server over real HTTP,
 * baseline clusters synced once (their children as the API server returns them), and the
 * requests the arbitraries describe, as JSON text. Oracles that judge the answers live in the
 * test files; everything here is about building requests.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import fc from "fast-check";
import { pino } from "pino";
import { createApp } from "../../src/server/app.js";
import { EnvConfigSchema } from "../../src/api/env.js";
import { LABEL_BACKUP } from "../../src/backup/job.js";
import { asObserved, clusterObject, type Obj } from "../helpers/metacontroller.js";
import {
  backupSpec,
  clone,
  clusterSpec,
  hostileString,
  hostileValue,
  mutate,
  mutation,
  objectName,
  own,
  POD_IP_PREFIX,
  POD_IP_RE,
  put,
  toJsonText,
  type Json,
  type Mutation,
} from "./arbitraries.js";

export interface HookServer {
  url: string;
  close(): Promise<void>;
}

/** Kept-alive connections to the hook server (fetch costs several times more per request). */
const agent = new http.Agent({ keepAlive: true, maxSockets: 4 });

/** The hook server on an ephemeral loopback port; MySQL timeouts short (probes are refused anyway). */
export async function startServer(): Promise<HookServer> {
  const config = EnvConfigSchema.parse({ MYSQL_CONNECT_TIMEOUT_MS: "300", MYSQL_QUERY_TIMEOUT_MS: "300" });
  const { app } = createApp({ config, logger: pino({ level: "silent" }) });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(0, "127.0.0.1", (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  server.on("connection", (socket) => socket.setNoDelay(true));
  // As startHookServer: idle kept-alive connections stay open (a reused one closed by the server is ECONNRESET).
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  const port = (server.address() as AddressInfo).port;
  return {
    url: `http://127.0.0.1:${port}`,
    close: () =>
      new Promise<void>((resolve) => {
        agent.destroy();
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}

export interface Answer {
  status: number;
  contentType: string;
  text: string;
}

/** One HTTP request to the hook server; the body is sent as is. */
export function request(url: string, method: "GET" | "POST", path: string, text = "", contentType: string | undefined = "application/json"): Promise<Answer> {
  const { hostname, port } = new URL(url);
  const body = Buffer.from(text, "utf8");
  const headers: Record<string, string | number> = method === "POST" ? { "content-length": body.length } : {};
  if (method === "POST" && contentType) headers["content-type"] = contentType;
  return new Promise((resolve, reject) => {
    const req = http.request({ hostname, port, path, method, agent, headers }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("error", reject);
      res.on("end", () =>
        resolve({ status: res.statusCode ?? 0, contentType: String(res.headers["content-type"] ?? ""), text: Buffer.concat(chunks).toString("utf8") }),
      );
    });
    req.setNoDelay(true);
    req.on("error", reject);
    req.end(method === "POST" ? body : undefined);
  });
}

export function post(url: string, path: string, text: string, contentType: string | undefined = "application/json"): Promise<Answer> {
  return request(url, "POST", path, text, contentType);
}

/** A cluster synced once: its spec, status and children as observed. */
export interface Baseline {
  spec: Record<string, Json>;
  status: Record<string, Json>;
  children: Obj[];
}

export const BASELINE_SPECS: Array<Record<string, Json>> = [
  { flavor: "mariadb", instances: 3, storage: { size: "1Gi" } },
  {
    flavor: "mysql",
    instances: 2,
    storage: { size: "1Gi" },
    backups: { schedules: [{ name: "nightly", schedule: "0 3 * * *", storage: { persistentVolumeClaim: { claimName: "backups" } } }], onDelete: true },
  },
  { flavor: "mariadb", instances: 1, credentialsSecretName: "user-creds", storage: { size: "2Gi", storageClassName: "fast" } },
];

/** Syncs each baseline spec once (a new cluster) and keeps what the API server would return. */
export async function baselines(server: HookServer): Promise<Baseline[]> {
  const out: Baseline[] = [];
  for (const spec of BASELINE_SPECS) {
    const parent = clusterObject("shop", spec);
    const body = { parent, children: {}, related: {}, finalizing: false };
    const res = await post(server.url, "/hooks/mysqlcluster/sync", JSON.stringify(body));
    if (res.status !== 200) throw new Error(`baseline sync answered ${res.status}: ${res.text}`);
    const answer = JSON.parse(res.text) as { status: Record<string, Json>; children: Obj[] };
    const observedParent = clusterObject("shop", spec, { status: answer.status });
    // The ConfigMap carries every script (~90 KB): observed here with one file, as an older
    // version may have left it (the sync renders it again), so requests stay small and cheap.
    const children = answer.children.map((c) => (c.kind === "ConfigMap" ? { ...c, data: { "my.cnf": "[mysqld]\nmax_connections=100\n" } } : c));
    out.push({ spec, status: answer.status, children: children.map((c, i) => asObserved(c, observedParent, i)) });
  }
  return out;
}

/** A string for any JSON value (String() throws on an object whose own toString is not a function). */
function text(v: unknown): string {
  return typeof v === "string" ? v : (JSON.stringify(v) ?? "undefined");
}

/** Metacontroller's grouping (`Kind.apiVersion` -> key -> object), keys as own properties. */
function group(objs: readonly Json[], version: "v1" | "v2"): Record<string, Json> {
  const out: Record<string, Json> = {};
  for (const o of objs) {
    const obj = (typeof o === "object" && o !== null && !Array.isArray(o) ? o : {}) as Record<string, Json>;
    const meta = (typeof obj["metadata"] === "object" && obj["metadata"] !== null ? obj["metadata"] : {}) as Record<string, Json>;
    const name = text(meta["name"] ?? "?");
    const typeKey = `${text(obj["kind"])}.${text(obj["apiVersion"])}`;
    // A v1 key is the name; Kubernetes names cannot be `__proto__` (no underscores), and zod's
    // record drops that key, so such a child would vanish before the hook sees it. The hostile
    // name stays in metadata.name (the hooks never read the keys).
    const v1Key = name === "__proto__" ? "proto-key" : name;
    const key = version === "v1" ? v1Key : `${text(meta["namespace"] ?? "shop-ns")}/${name}`;
    if (!Object.prototype.hasOwnProperty.call(out, typeKey)) put(out, typeKey, {});
    put(out[typeKey] as Record<string, Json>, key, o);
  }
  return out;
}

/**
 * Every `podIP` anywhere in the request is one of the loopback addresses where nothing listens:
 * a mutation may have put a hostname or a routable address there, and the hook connects to it.
 */
export function confinePodIPs(value: unknown): void {
  if (typeof value !== "object" || value === null) return;
  for (const key of Object.keys(value)) {
    const v = (value as Record<string, unknown>)[key];
    if (key === "podIP" && typeof v === "string" && v !== "" && !POD_IP_RE.test(v)) put(value as Record<string, unknown>, key, `${POD_IP_PREFIX}77`);
    else confinePodIPs(v);
  }
}

const podArb = fc.record({
  ordinal: fc.oneof({ weight: 5, arbitrary: fc.nat(4) }, { weight: 1, arbitrary: fc.constantFrom<number | string>(9, 10, 99, "01", "-1", "x", "") }),
  ready: fc.boolean(),
  ipLast: fc.option(fc.integer({ min: 1, max: 254 }), { freq: 4 }),
  terminating: fc.boolean(),
  backup: fc.boolean(),
  message: fc.oneof(
    hostileString,
    fc.constantFrom(
      '{"state":"Completed","meta":{"sizeBytes":1e400,"completedAt":"2026-11-01T00:00:00Z","sourceInstance":"shop-1"}}',
      '{"state":"Failed","message":"disk full"}',
      '{"state":"Completed","meta":{"__proto__":{"polluted":"yes"}}}',
    ),
  ),
  job: fc.constantFrom("shop-backup-nightly-29000000", "shop-final-backup", "b1-backup", "b1-remove", "x"),
});

type PodParams = typeof podArb extends fc.Arbitrary<infer T> ? T : never;

function buildPod(cluster: string, p: PodParams): Json {
  const name = `${cluster}-${p.ordinal}`;
  const labels = p.backup
    ? {
        "app.kubernetes.io/component": "backup",
        "app.kubernetes.io/instance": cluster,
        "app.kubernetes.io/managed-by": "metamysql",
        [LABEL_BACKUP]: p.job,
        "job-name": p.job,
      }
    : { "app.kubernetes.io/component": "database", "app.kubernetes.io/instance": cluster, "app.kubernetes.io/managed-by": "metamysql" };
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: p.backup ? `${p.job}-abcde` : name,
      namespace: "shop-ns",
      labels,
      ...(p.terminating ? { deletionTimestamp: "2026-11-01T11:00:00Z" } : {}),
    },
    spec: { containers: [{ name: "mysql", image: "mariadb:11.4" }] },
    status: {
      phase: p.backup ? "Succeeded" : "Running",
      ...(p.ipLast !== null ? { podIP: `${POD_IP_PREFIX}${p.ipLast}` } : {}),
      conditions: [{ type: "Ready", status: p.ready ? "True" : "False" }],
      ...(p.backup
        ? { containerStatuses: [{ name: "backup", state: { terminated: { exitCode: 0, message: p.message, finishedAt: "2026-11-01T00:00:00Z" } } }] }
        : {}),
    },
  } as Json;
}

/** Passwords in the user's Secret: a marker prefix (so the leak check matches nothing else) and hostile characters. */
const password = fc.string({ minLength: 10, maxLength: 30 }).map((s) => `pw-${s}`);

const userSecret = fc.record({
  name: fc.constantFrom("user-creds", "shop-credentials", "other"),
  passwords: fc.tuple(password, password, password),
  asData: fc.boolean(),
  dropKey: seldom(fc.nat(2)),
});

const extraChild = fc.record({
  apiVersion: fc.constantFrom("v1", "apps/v1", "batch/v1", "policy/v1", "discovery.k8s.io/v1"),
  kind: fc.oneof(fc.constantFrom("StatefulSet", "Secret", "ConfigMap", "Service", "CronJob", "Job", "PersistentVolumeClaim", "Deployment"), hostileString),
  name: objectName,
  body: hostileValue,
  lastApplied: fc.option(fc.oneof(hostileString, fc.constant("{}"), fc.constant('{"apiVersion":"v1","kind":"Secret","metadata":{"name":"x"}}'))),
});

function buildExtraChild(c: ExtraChild): Json {
  const meta: Record<string, Json> = { name: c.name, namespace: "shop-ns", uid: "u-extra", resourceVersion: "7" };
  if (c.lastApplied !== null) meta["annotations"] = { "metacontroller.k8s.io/last-applied-configuration": c.lastApplied };
  return { apiVersion: c.apiVersion, kind: c.kind, metadata: meta, spec: c.body, ...(c.kind === "Secret" ? { data: { k: "c2VjcmV0LXZhbHVlLTEyMzQ=" } } : {}) };
}
type ExtraChild = typeof extraChild extends fc.Arbitrary<infer T> ? T : never;

/** Null most of the time (one in eight is a value); `fc.option`'s freq is the odds of null. */
function seldom<T>(arb: fc.Arbitrary<T>): fc.Arbitrary<T | null> {
  return fc.oneof({ weight: 7, arbitrary: fc.constant(null) }, { weight: 1, arbitrary: arb });
}

/** Mostly no mutation (a request whose objects stay well-formed reaches the hook's logic), sometimes some. */
function rarely<T>(arb: fc.Arbitrary<T[]>): fc.Arbitrary<T[]> {
  return fc.oneof({ weight: 3, arbitrary: fc.constant([] as T[]) }, { weight: 1, arbitrary: arb });
}

/** Describes one MySQLCluster hook request; `build` turns it into a body for a baseline. */
export const clusterRequest = fc.record({
  baseline: fc.nat(),
  name: fc.oneof({ weight: 8, arbitrary: fc.constant("shop") }, { weight: 1, arbitrary: objectName }),
  namespace: fc.option(fc.oneof(fc.constant("shop-ns"), objectName), { freq: 10 }),
  spec: fc.oneof({ weight: 3, arbitrary: fc.constant(null) }, { weight: 3, arbitrary: clusterSpec }, { weight: 1, arbitrary: hostileValue }),
  specMutations: fc.array(mutation, { maxLength: 2 }),
  status: fc.constantFrom("baseline", "primary", "none", "hostile"),
  primary: fc.nat(3),
  statusMutations: fc.array(mutation, { maxLength: 2 }),
  keepChild: fc.array(fc.boolean(), { minLength: 16, maxLength: 16 }),
  dropLastApplied: fc.boolean(),
  childMutations: rarely(fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 2 })),
  extraChildren: fc.array(extraChild, { maxLength: 2 }),
  pods: fc.array(podArb, { maxLength: 4 }),
  podMutations: rarely(fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 1 })),
  userSecret: fc.option(userSecret, { freq: 2 }),
  extraRelated: fc.oneof({ weight: 8, arbitrary: fc.constant([] as Json[]) }, { weight: 1, arbitrary: fc.array(hostileValue, { minLength: 1, maxLength: 1 }) }),
  finalizing: fc.oneof({ weight: 12, arbitrary: fc.boolean() }, { weight: 1, arbitrary: hostileValue }),
  deletionTimestamp: fc.option(fc.constantFrom("2026-11-02T11:59:00Z", "yesterday"), { freq: 2 }),
  annotations: seldom(fc.dictionary(hostileString, fc.oneof({ weight: 8, arbitrary: hostileString }, { weight: 1, arbitrary: hostileValue }), { maxKeys: 2 })),
  version: fc.constantFrom<"v1" | "v2">("v1", "v2"),
  bodyMutations: seldom(fc.array(mutation, { minLength: 1, maxLength: 2 })),
});
export type ClusterRequest = typeof clusterRequest extends fc.Arbitrary<infer T> ? T : never;

export interface BuiltRequest {
  text: string;
  /** The body exactly as the server parses it (raw numbers become Infinity etc.). */
  sent: Record<string, unknown>;
}

function finish(request: Record<string, unknown>): BuiltRequest {
  const body = clone(request);
  confinePodIPs(body);
  const text = toJsonText(body);
  return { text, sent: JSON.parse(text) as Record<string, unknown> };
}

function applyIndexed(items: Json[], muts: ReadonlyArray<readonly [number, Mutation]>): Json[] {
  const out = [...items];
  for (const [i, m] of muts) {
    if (out.length === 0) break;
    const at = i % out.length;
    out[at] = mutate(out[at] as Json, [m]);
  }
  return out;
}

/** A customize request carries only the controller and the parent (Metacontroller sends nothing else). */
export function customizeOnly(built: BuiltRequest): BuiltRequest {
  const sent = built.sent as unknown;
  if (typeof sent !== "object" || sent === null || Array.isArray(sent)) return built;
  const body: Record<string, unknown> = {};
  const from = sent as Record<string, unknown>;
  for (const key of ["controller", "parent"]) if (Object.prototype.hasOwnProperty.call(from, key)) put(body, key, from[key]);
  for (const key of Object.keys(from)) if (!["controller", "parent", "children", "related", "finalizing"].includes(key)) put(body, key, from[key]);
  const text = JSON.stringify(body);
  return { text, sent: JSON.parse(text) as Record<string, unknown> };
}

export function buildClusterRequest(r: ClusterRequest, bases: readonly Baseline[]): BuiltRequest {
  const base = bases[r.baseline % bases.length] as Baseline;
  const spec = mutate(r.spec ?? base.spec, r.specMutations);
  const statusBase: Json | undefined =
    r.status === "baseline"
      ? base.status
      : r.status === "primary"
        ? { ...base.status, currentPrimary: `${r.name}-${r.primary}`, state: "Healthy" }
        : r.status === "hostile"
          ? mutate(base.status, r.statusMutations)
          : undefined;
  const metadata: Record<string, Json> = {
    name: r.name,
    uid: "9a1c1f1e-0000-4000-8000-000000000001",
    generation: 2,
    resourceVersion: "1000",
    creationTimestamp: "2026-11-01T10:00:00Z",
  };
  if (r.namespace !== null) metadata["namespace"] = r.namespace;
  if (r.deletionTimestamp !== null) metadata["deletionTimestamp"] = r.deletionTimestamp;
  if (r.annotations !== null) metadata["annotations"] = own(Object.entries(r.annotations));
  const parent: Record<string, Json> = { apiVersion: "metamysql.dev/v1alpha1", kind: "MySQLCluster", metadata, spec };
  if (statusBase !== undefined) parent["status"] = statusBase;

  let children: Json[] = base.children.filter((_, i) => r.keepChild[i % r.keepChild.length]).map((c) => structuredClone(c) as unknown as Json);
  if (r.dropLastApplied) {
    for (const c of children) {
      const ann = (c as { metadata: { annotations?: Record<string, string> } }).metadata.annotations;
      if (ann) delete ann["metacontroller.k8s.io/last-applied-configuration"];
    }
  }
  children = applyIndexed(children, r.childMutations);
  children.push(...r.extraChildren.map(buildExtraChild));

  let related: Json[] = r.pods.map((p) => buildPod(r.name, p));
  related = applyIndexed(related, r.podMutations);
  if (r.userSecret) {
    const [root, operator, replication] = r.userSecret.passwords;
    const values: Record<string, string> = { "root-password": root, "operator-password": operator, "replication-password": replication };
    if (r.userSecret.dropKey !== null) delete values[Object.keys(values)[r.userSecret.dropKey] as string];
    const data: Record<string, Json> = r.userSecret.asData
      ? { data: Object.fromEntries(Object.entries(values).map(([k, v]) => [k, Buffer.from(v).toString("base64")])) }
      : { stringData: values as Record<string, Json> };
    related.push({ apiVersion: "v1", kind: "Secret", metadata: { name: r.userSecret.name, namespace: "shop-ns" }, ...data } as Json);
  }
  related.push(...r.extraRelated);

  let body: Record<string, unknown> = {
    controller: { apiVersion: "metacontroller.k8s.io/v1alpha1", kind: "CompositeController", metadata: { name: "metamysql-mysqlcluster" } },
    parent,
    children: group(children, r.version),
    related: group(related, r.version),
    finalizing: r.finalizing,
  };
  if (r.bodyMutations) body = mutate(body as Json, r.bodyMutations) as unknown as Record<string, unknown>;
  return finish(body);
}

const jobChild = fc.record({
  name: fc.constantFrom("b1-backup", "b1-remove", "other-job"),
  status: fc.oneof(fc.constantFrom<Json>({ active: 1 }, { succeeded: 1 }, { failed: 1 }, {}, { succeeded: 1, failed: 1 }), hostileValue),
});

/** Describes one MySQLBackup hook request. */
export const backupRequest = fc.record({
  name: fc.oneof(
    { weight: 6, arbitrary: fc.constant("b1") },
    { weight: 1, arbitrary: fc.constantFrom("scheduled", "final") },
    { weight: 1, arbitrary: objectName },
  ),
  apiVersion: fc.oneof({ weight: 8, arbitrary: fc.constant("metamysql.dev/v1alpha1") }, { weight: 1, arbitrary: hostileString }),
  spec: fc.oneof({ weight: 4, arbitrary: backupSpec }, { weight: 1, arbitrary: hostileValue }),
  specMutations: fc.array(mutation, { maxLength: 2 }),
  status: fc.oneof(
    fc.constantFrom<Json>({}, { state: "Completed", path: "shop/b1" }, { state: "Running" }, { state: "Failed", message: "x" }, { state: "Pending" }),
    hostileValue,
  ),
  jobs: fc.array(jobChild, { maxLength: 2 }),
  extraChildren: fc.array(extraChild, { maxLength: 2 }),
  childMutations: rarely(fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 1 })),
  cluster: fc.option(
    fc.record({ spec: fc.oneof(fc.constant<Json>({ flavor: "mariadb" }), clusterSpec), status: fc.constantFrom<Json>({}, { currentPrimary: "shop-0" }) }),
    { freq: 4 },
  ),
  pods: fc.array(podArb, { maxLength: 3 }),
  podMutations: rarely(fc.array(fc.tuple(fc.nat(), mutation), { minLength: 1, maxLength: 1 })),
  finalizing: fc.oneof({ weight: 12, arbitrary: fc.boolean() }, { weight: 1, arbitrary: hostileValue }),
  version: fc.constantFrom<"v1" | "v2">("v1", "v2"),
  bodyMutations: seldom(fc.array(mutation, { minLength: 1, maxLength: 2 })),
});
export type BackupRequest = typeof backupRequest extends fc.Arbitrary<infer T> ? T : never;

export function buildBackupRequest(r: BackupRequest): BuiltRequest {
  const spec = mutate(r.spec, r.specMutations);
  const parent: Record<string, Json> = {
    apiVersion: r.apiVersion,
    kind: "MySQLBackup",
    metadata: { name: r.name, namespace: "shop-ns", uid: "b-uid", generation: 1 },
    spec,
    status: r.status,
  };
  let children: Json[] = r.jobs.map((j) => ({
    apiVersion: "batch/v1",
    kind: "Job",
    metadata: { name: j.name, namespace: "shop-ns", uid: `job-${j.name}` },
    spec: { template: { spec: { containers: [{ name: "backup", image: "x" }] } } },
    status: j.status,
  }));
  children.push({
    apiVersion: "v1",
    kind: "ConfigMap",
    metadata: { name: `${r.name}-backup-script`, namespace: "shop-ns" },
    data: { "backup.sh": "#!/bin/sh" },
  });
  children = applyIndexed(children, r.childMutations);
  children.push(...r.extraChildren.map(buildExtraChild));
  const related: Json[] = applyIndexed(
    r.pods.map((p) => buildPod("shop", p)),
    r.podMutations,
  );
  if (r.cluster) {
    related.push({
      apiVersion: "metamysql.dev/v1alpha1",
      kind: "MySQLCluster",
      metadata: { name: "shop", namespace: "shop-ns", uid: "c-uid" },
      spec: r.cluster.spec,
      status: r.cluster.status,
    });
  }
  let body: Record<string, unknown> = {
    controller: { apiVersion: "metacontroller.k8s.io/v1alpha1", kind: "CompositeController", metadata: { name: "metamysql-mysqlbackup" } },
    parent,
    children: group(children, r.version),
    related: group(related, r.version),
    finalizing: r.finalizing,
  };
  if (r.bodyMutations) body = mutate(body as Json, r.bodyMutations) as unknown as Record<string, unknown>;
  return finish(body);
}
