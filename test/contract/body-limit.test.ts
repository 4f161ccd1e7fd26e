/**
 * BODY_LIMIT against the largest legitimate request: a 9-instance cluster with every child
 * (Secrets included), its 9 pods as the API server returns them (managedFields, full status),
 * and the pods of 4 backup schedules' retained Jobs. README "Security model" quotes the sizes.
 */
import request from "supertest";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { createApp } from "../../src/server/app.js";
import { EnvConfigSchema } from "../../src/api/env.js";
import { asObserved, clusterObject, syncRequest, type Obj } from "../helpers/metacontroller.js";
import { runPod, plusSeconds } from "../helpers/backup-pods.js";

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const silent = pino({ level: "silent" });
const NOW = new Date("2026-11-04T12:00:00Z");
let counter = 0;
const app = createApp({ logger: silent, now: () => NOW, generatePassword: () => `password-${++counter}`.padEnd(32, "x") }).app;

const LIMIT_BYTES = (() => {
  const m = /^([0-9]+)(kb|mb)$/.exec(EnvConfigSchema.parse({}).BODY_LIMIT);
  if (!m) throw new Error("BODY_LIMIT format");
  return Number(m[1]) * (m[2] === "kb" ? 1024 : 1024 * 1024);
})();

const PVC = { persistentVolumeClaim: { claimName: "backups" } };
const S3 = { s3: { bucket: "bkp", prefix: "orders", endpoint: "http://s3.local:9000", credentialsSecretName: "s3" } };
const SCHEDULES = [
  { name: "nightly", schedule: "0 2 * * *", storage: PVC, keep: 14 },
  { name: "hourly", schedule: "0 * * * *", storage: S3, keep: 48 },
  { name: "weekly", schedule: "0 3 * * 0", storage: S3, keep: 8 },
  { name: "monthly", schedule: "0 4 1 * *", storage: PVC, keep: 12 },
];
/** The largest spec a user would write: 9 instances, every optional part, a few patches. */
const SPEC = {
  flavor: "mysql",
  version: "8.4",
  instances: 9,
  memberWeights: Object.fromEntries(Array.from({ length: 9 }, (_, i) => [String(i), 100 - i * 10])),
  storage: { size: "200Gi", storageClassName: "fast-ssd" },
  resources: { requests: { cpu: "2", memory: "8Gi" }, limits: { memory: "8Gi" } },
  mysqlConfig: { max_connections: 1000, innodb_buffer_pool_size: "5G", innodb_redo_log_capacity: "2G", slow_query_log: "ON", long_query_time: "0.5" },
  durability: "lossless",
  failover: { enabled: true, delaySeconds: 10 },
  service: { type: "LoadBalancer", annotations: { "service.beta.kubernetes.io/aws-load-balancer-scheme": "internal" } },
  backups: { schedules: SCHEDULES, onDelete: true },
  patches: Array.from({ length: 5 }, (_, i) => ({
    target: { kind: "StatefulSet" },
    patch: [{ op: "add", path: `/spec/template/metadata/annotations/example.com~1patch-${i}`, value: `value-${i}-${"x".repeat(200)}` }],
  })),
};

/** managedFields as the API server records them: one `f:` entry per field the manager set. */
function fieldsV1(value: unknown): unknown {
  if (Array.isArray(value)) return {};
  if (typeof value !== "object" || value === null) return {};
  return Object.fromEntries(Object.entries(value).map(([k, v]) => [`f:${k}`, fieldsV1(v)]));
}

function withManagedFields(obj: AnyObj, managers: string[]): AnyObj {
  const { metadata, ...rest } = obj;
  metadata.managedFields = managers.map((manager) => ({
    manager,
    operation: "Update",
    apiVersion: obj.apiVersion,
    time: "2026-11-01T10:00:00Z",
    fieldsType: "FieldsV1",
    fieldsV1: fieldsV1(rest),
  }));
  return obj;
}

/** A StatefulSet pod as the API server returns it, from the rendered StatefulSet. */
function databasePod(sts: AnyObj, ordinal: number): Obj {
  const template = structuredClone(sts.spec.template) as AnyObj;
  const name = `${sts.metadata.name}-${ordinal}`;
  const containerStatus = (c: AnyObj) => ({
    name: c.name,
    image: c.image,
    imageID: `docker.io/library/mysql@sha256:${"b".repeat(64)}`,
    containerID: `containerd://${"c".repeat(64)}`,
    ready: true,
    restartCount: 0,
    started: true,
    state: { running: { startedAt: "2026-11-01T10:01:00Z" } },
    lastState: {},
  });
  const pod: AnyObj = {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      ...template.metadata,
      name,
      generateName: `${sts.metadata.name}-`,
      namespace: "shop-ns",
      uid: `pod-uid-${ordinal}`,
      resourceVersion: String(5000 + ordinal),
      creationTimestamp: "2026-11-01T10:00:30Z",
      labels: {
        ...template.metadata.labels,
        "apps.kubernetes.io/pod-index": String(ordinal),
        "controller-revision-hash": `${sts.metadata.name}-5d8f7c9b6d`,
        "statefulset.kubernetes.io/pod-name": name,
      },
      ownerReferences: [
        { apiVersion: "apps/v1", kind: "StatefulSet", name: sts.metadata.name, uid: sts.metadata.uid, controller: true, blockOwnerDeletion: true },
      ],
    },
    spec: {
      ...template.spec,
      hostname: name,
      subdomain: sts.spec.serviceName,
      nodeName: `node-${ordinal}.example.internal`,
      volumes: [
        ...(template.spec.volumes ?? []),
        { name: "data", persistentVolumeClaim: { claimName: `data-${name}` } },
        { name: "kube-api-access", projected: { sources: [{ serviceAccountToken: { expirationSeconds: 3607, path: "token" } }] } },
      ],
    },
    status: {
      phase: "Running",
      podIP: `10.1.${ordinal}.17`,
      podIPs: [{ ip: `10.1.${ordinal}.17` }],
      hostIP: `192.168.0.${ordinal + 10}`,
      startTime: "2026-11-01T10:00:31Z",
      qosClass: "Burstable",
      conditions: ["PodReadyToStartContainers", "Initialized", "Ready", "ContainersReady", "PodScheduled"].map((type) => ({
        type,
        status: "True",
        lastProbeTime: null,
        lastTransitionTime: "2026-11-01T10:01:00Z",
      })),
      initContainerStatuses: (template.spec.initContainers ?? []).map((c: AnyObj) => ({
        ...containerStatus(c),
        ready: true,
        state: { terminated: { exitCode: 0, reason: "Completed", startedAt: "2026-11-01T10:00:40Z", finishedAt: "2026-11-01T10:00:50Z" } },
      })),
      containerStatuses: template.spec.containers.map(containerStatus),
    },
  };
  return withManagedFields(pod, ["kube-controller-manager", "kubelet"]) as Obj;
}

async function maximalRequest(): Promise<string> {
  const first = await request(app)
    .post("/hooks/mysqlcluster/sync")
    .send(syncRequest({ parent: clusterObject("orders", SPEC) }));
  expect(first.status).toBe(200);
  const parent = clusterObject("orders", SPEC, { status: first.body.status });
  const children = (first.body.children as Obj[]).map((c, i) => withManagedFields(asObserved(c, parent, i), ["metacontroller"]) as Obj);
  const sts = children.find((c) => c.kind === "StatefulSet") as AnyObj;
  const pods = Array.from({ length: 9 }, (_, i) => databasePod(sts, i));
  // Each schedule's CronJob keeps 3 successful and 3 failed Jobs, one pod each.
  const backupPods = children
    .filter((c) => c.kind === "CronJob")
    .flatMap((cj) =>
      Array.from(
        { length: 6 },
        (_, i) =>
          withManagedFields(
            runPod(cj, { start: plusSeconds("2026-11-01T02:00:00Z", i * 3600), result: i < 3 ? "completed" : "failed", message: "x".repeat(300) }),
            ["kubelet"],
          ) as Obj,
      ),
    );
  const body = syncRequest({ parent, children, related: [...pods, ...backupPods] });
  (body["related"] as Record<string, unknown>)["Pod.v1"] = Object.fromEntries([...pods, ...backupPods].map((p) => [`shop-ns/${p.metadata.name}`, p]));
  return JSON.stringify(body);
}

describe("BODY_LIMIT", () => {
  it("holds the largest legitimate request four times over, and that request syncs", async () => {
    const text = await maximalRequest();
    const bytes = Buffer.byteLength(text);
    // About 0.4 MB today (README "Security model"): the limit keeps 4x headroom for growth.
    expect(bytes).toBeGreaterThan(100 * 1024);
    expect(bytes * 4).toBeLessThanOrEqual(LIMIT_BYTES);
    const res = await request(app).post("/hooks/mysqlcluster/sync").set("content-type", "application/json").send(text);
    expect(res.status).toBe(200);
    expect(res.body.status.instances).toHaveLength(9);
  });

  it("refuses a body over the limit with a 413 and a clear message", async () => {
    const text = JSON.stringify({ parent: { x: "y".repeat(LIMIT_BYTES) } });
    const res = await request(app).post("/hooks/mysqlcluster/sync").set("content-type", "application/json").send(text);
    expect(res.status).toBe(413);
    expect(res.body.error).toMatch(/^malformed request: request entity too large/);
  });
});
