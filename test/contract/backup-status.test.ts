/**
 * Contract: status.backups, the BackupHealthy condition and the backup metrics through the real
 * HTTP hook server. The backup pods are what Kubernetes would relate: pods of the Jobs of the
 * CronJobs this very hook rendered, with the backup script's termination messages.
 */
import request from "supertest";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { createApp } from "../../src/server/app.js";
import { asObserved, clusterObject, pod, syncRequest, type Obj } from "../helpers/metacontroller.js";
import { cronJobRunName, plusSeconds, runPod } from "../helpers/backup-pods.js";
import { clusterStatusErrors } from "../helpers/crd-schema.js";

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const silent = pino({ level: "silent" });
const NOW = new Date("2026-11-04T12:00:00Z");
let counter = 0;
const newApp = () => createApp({ logger: silent, now: () => NOW, generatePassword: () => `pw${++counter}` }).app;

const PVC = { persistentVolumeClaim: { claimName: "backups" } };
const S3 = { s3: { bucket: "bkp", prefix: "db", endpoint: "http://s3.local:9000", credentialsSecretName: "s3" } };
const NIGHTLY = { name: "nightly", schedule: "0 2 * * *", storage: PVC, keep: 3 };
const HOURLY = { name: "hourly", schedule: "0 * * * *", storage: S3 };
const SPEC = { flavor: "mariadb", instances: 3, storage: { size: "1Gi" }, backups: { schedules: [NIGHTLY, HOURLY] } };

const T1 = "2026-11-02T02:00:00Z";
const T2 = "2026-11-03T02:00:00Z";
const H1 = "2026-11-03T05:00:00Z";

type App = ReturnType<typeof newApp>;

async function post(app: App, hook: string, body: unknown) {
  return request(app)
    .post(`/hooks/${hook}`)
    .send(body as object)
    .set("content-type", "application/json");
}

/** A cluster synced once: its observed children (with the CronJobs) and status. */
async function existingCluster(app: App, spec: unknown = SPEC): Promise<{ parent: Obj; children: Obj[]; cronJob: (name: string) => AnyObj }> {
  const first = await post(app, "mysqlcluster/sync", syncRequest({ parent: clusterObject("shop", spec) }));
  expect(first.status).toBe(200);
  const parent = clusterObject("shop", spec, { status: first.body.status });
  const children = (first.body.children as Obj[]).map((c, i) => asObserved(c, parent, i));
  const cronJob = (name: string) => {
    const cj = children.find((c) => c.kind === "CronJob" && c.metadata.name === `shop-backup-${name}`);
    if (!cj) throw new Error(`no CronJob shop-backup-${name}`);
    return cj;
  };
  return { parent, children, cronJob };
}

const dbPods = () => [pod("shop", 0), pod("shop", 1), pod("shop", 2)];
const condition = (status: AnyObj, type: string) => (status.conditions as AnyObj[]).find((c) => c.type === type);
const seconds = (t: string) => Date.parse(t) / 1000;

describe("status.backups from the pods of the schedules' Jobs", () => {
  it("reports each schedule's newest run, last completion and failure; BackupHealthy False without touching Ready; metrics", async () => {
    const app = newApp();
    const { parent, children, cronJob } = await existingCluster(app);
    const nightly = cronJob("nightly");
    const hourly = cronJob("hourly");
    const backupPods = [
      runPod(nightly, { start: T1, result: "completed", sizeBytes: 7_340_032 }),
      runPod(nightly, { start: T2, result: "failed", message: "dump of shop-1 failed: Lost connection to server during query" }),
      runPod(hourly, { start: H1, result: "completed", sizeBytes: 1_000_000 }),
    ];
    const withBackups = await post(app, "mysqlcluster/sync", syncRequest({ parent, children, related: [...dbPods(), ...backupPods] }));
    expect(withBackups.status).toBe(200);
    const status = withBackups.body.status as AnyObj;
    const failedJob = cronJobRunName(nightly, T2);
    expect(status.backups).toEqual({
      schedules: [
        {
          name: "nightly",
          state: "Failed",
          job: failedJob,
          startedAt: T2,
          lastCompleted: {
            job: cronJobRunName(nightly, T1),
            location: "pvc://backups/shop/scheduled/nightly/20261102T020000Z",
            path: "shop/scheduled/nightly/20261102T020000Z",
            startedAt: T1,
            completedAt: plusSeconds(T1, 40),
            sizeBytes: 7_340_032,
            gtidPosition: "0-100-42",
            sourceInstance: "shop-1",
          },
          lastFailure: { job: failedJob, startedAt: T2, message: "dump of shop-1 failed: Lost connection to server during query" },
        },
        {
          name: "hourly",
          state: "Completed",
          job: cronJobRunName(hourly, H1),
          startedAt: H1,
          lastCompleted: {
            job: cronJobRunName(hourly, H1),
            location: "s3://bkp/db/shop/scheduled/hourly/20261103T050000Z",
            path: "shop/scheduled/hourly/20261103T050000Z",
            startedAt: H1,
            completedAt: plusSeconds(H1, 40),
            sizeBytes: 1_000_000,
            gtidPosition: "0-100-42",
            sourceInstance: "shop-1",
          },
        },
      ],
      lastSuccessfulBackup: {
        schedule: "hourly",
        completedAt: plusSeconds(H1, 40),
        location: "s3://bkp/db/shop/scheduled/hourly/20261103T050000Z",
        sizeBytes: 1_000_000,
      },
    });
    expect(condition(status, "BackupHealthy")).toEqual({
      type: "BackupHealthy",
      status: "False",
      reason: "BackupFailed",
      message: `schedule nightly: dump of shop-1 failed: Lost connection to server during query (Job ${failedJob})`,
      lastTransitionTime: "2026-11-04T12:00:00Z",
    });
    // What the API server would store: nothing pruned, every type and enum right.
    expect(clusterStatusErrors(status)).toEqual([]);

    // A failed backup does not make the cluster un-Ready: the same sync without backup pods
    // gives the same state and Ready condition.
    const without = await post(newApp(), "mysqlcluster/sync", syncRequest({ parent, children, related: dbPods() }));
    expect(status.state).toBe(without.body.status.state);
    expect(condition(status, "Ready")).toEqual(condition(without.body.status, "Ready"));
    expect(condition(status, "Available")).toEqual(condition(without.body.status, "Available"));

    const metrics = (await request(app).get("/metrics")).text;
    expect(metrics).toContain(`metamysql_backup_last_success_timestamp_seconds{cluster="shop",namespace="shop-ns"} ${seconds(plusSeconds(H1, 40))}`);
    expect(metrics).toContain('metamysql_backup_last_size_bytes{cluster="shop",namespace="shop-ns"} 1000000');
    expect(metrics).toContain('metamysql_backup_schedule_state{cluster="shop",namespace="shop-ns",schedule="nightly",state="Failed"} 1');
    expect(metrics).toContain('metamysql_backup_schedule_state{cluster="shop",namespace="shop-ns",schedule="nightly",state="Completed"} 0');
    expect(metrics).toContain('metamysql_backup_schedule_state{cluster="shop",namespace="shop-ns",schedule="hourly",state="Completed"} 1');
    expect(metrics).toContain(
      `metamysql_backup_schedule_last_success_timestamp_seconds{cluster="shop",namespace="shop-ns",schedule="nightly"} ${seconds(plusSeconds(T1, 40))}`,
    );
  });

  it("answers byte-identically for the same observation (no clock in status.backups)", async () => {
    const app = newApp();
    const { parent, children, cronJob } = await existingCluster(app);
    const related = [...dbPods(), runPod(cronJob("nightly"), { start: T1, result: "completed" }), runPod(cronJob("hourly"), { start: H1, result: "running" })];
    const realApp = createApp({ logger: silent }).app;
    const a = await post(realApp, "mysqlcluster/sync", syncRequest({ parent, children, related }));
    const b = await post(realApp, "mysqlcluster/sync", syncRequest({ parent, children, related: [...related].reverse() }));
    expect(a.status).toBe(200);
    expect(a.text).toBe(b.text);
    expect(condition(a.body.status, "BackupHealthy")).toMatchObject({ status: "Unknown", reason: "NoBackupYet" });
  });

  it("carries entries over once the Jobs' pods are gone, and drops a removed schedule's entry and series", async () => {
    const app = newApp();
    const { parent, children, cronJob } = await existingCluster(app);
    const related = [
      ...dbPods(),
      runPod(cronJob("nightly"), { start: T1, result: "completed" }),
      runPod(cronJob("hourly"), { start: H1, result: "completed" }),
    ];
    const first = await post(app, "mysqlcluster/sync", syncRequest({ parent, children, related }));
    const synced = clusterObject("shop", SPEC, { status: first.body.status });
    // The Jobs (and their pods) were garbage-collected: status replaces, so it must carry over.
    const later = await post(app, "mysqlcluster/sync", syncRequest({ parent: synced, children, related: dbPods() }));
    expect(later.body.status.backups).toEqual(first.body.status.backups);
    expect(condition(later.body.status, "BackupHealthy")).toMatchObject({ status: "True", reason: "BackupsCompleted" });

    const onlyNightly = { ...SPEC, backups: { schedules: [NIGHTLY] } };
    const removed = await post(
      app,
      "mysqlcluster/sync",
      syncRequest({ parent: clusterObject("shop", onlyNightly, { status: first.body.status, generation: 2 }), children, related: dbPods() }),
    );
    expect(removed.body.status.backups.schedules.map((s: AnyObj) => s.name)).toEqual(["nightly"]);
    // The cluster's newest backup (taken by the removed schedule) is still its newest backup.
    expect(removed.body.status.backups.lastSuccessfulBackup.schedule).toBe("hourly");
    expect(clusterStatusErrors(removed.body.status)).toEqual([]);
    const metrics = (await request(app).get("/metrics")).text;
    expect(metrics).not.toContain('schedule="hourly"');
    expect(metrics).toContain('schedule="nightly"');

    // Without schedules there is no BackupHealthy condition.
    const none = await post(
      app,
      "mysqlcluster/sync",
      syncRequest({ parent: clusterObject("shop", { ...SPEC, backups: undefined }, { status: first.body.status, generation: 3 }), children }),
    );
    expect(condition(none.body.status, "BackupHealthy")).toBeUndefined();
  });

  it("customize asks for the backup Jobs' pods of a cluster with schedules", async () => {
    const res = await post(newApp(), "mysqlcluster/customize", { parent: clusterObject("shop", SPEC) });
    expect(res.body.relatedResources).toContainEqual({
      apiVersion: "v1",
      resource: "pods",
      namespace: "shop-ns",
      labelSelector: {
        matchLabels: { "app.kubernetes.io/component": "backup", "app.kubernetes.io/instance": "shop", "app.kubernetes.io/managed-by": "metamysql" },
      },
    });
  });
});

describe("metamysql_backup_last_success_timestamp_seconds: the newest backup of the cluster, whichever path took it", () => {
  const backupObject = (name: string, completedAt: string, sizeBytes: number) => ({
    apiVersion: "metamysql.dev/v1alpha1",
    kind: "MySQLBackup",
    metadata: { name, namespace: "shop-ns", uid: `uid-${name}`, generation: 1 },
    spec: { clusterName: "shop", storage: PVC },
    status: { state: "Completed", completedAt, sizeBytes },
  });
  const lastSuccess = async (app: App) =>
    /metamysql_backup_last_success_timestamp_seconds\{cluster="shop",namespace="shop-ns"\} (\S+)/.exec((await request(app).get("/metrics")).text)?.[1];

  it("MySQLBackup, schedule and final backup completions feed the same per-cluster gauge, which only moves forward", async () => {
    const app = newApp();
    const { parent, children, cronJob } = await existingCluster(app, { ...SPEC, backups: { schedules: [NIGHTLY], onDelete: true } });
    // A MySQLBackup completed after the scheduled run...
    await post(app, "mysqlbackup/sync", { parent: backupObject("adhoc", "2026-11-02T09:00:00Z", 42), children: {}, related: {} });
    expect(await lastSuccess(app)).toBe(String(seconds("2026-11-02T09:00:00Z")));
    // ...is not overwritten by the older scheduled one;
    await post(
      app,
      "mysqlcluster/sync",
      syncRequest({ parent, children, related: [...dbPods(), runPod(cronJob("nightly"), { start: T1, result: "completed" })] }),
    );
    expect(await lastSuccess(app)).toBe(String(seconds("2026-11-02T09:00:00Z")));
    // a newer scheduled run moves it forward.
    await post(
      app,
      "mysqlcluster/sync",
      syncRequest({ parent, children, related: [...dbPods(), runPod(cronJob("nightly"), { start: T2, result: "completed", sizeBytes: 99 })] }),
    );
    expect(await lastSuccess(app)).toBe(String(seconds(plusSeconds(T2, 40))));
    expect((await request(app).get("/metrics")).text).toContain('metamysql_backup_last_size_bytes{cluster="shop",namespace="shop-ns"} 99');

    // The final backup on delete: a completed final-backup Job seen by finalize.
    const deleting = { ...parent, metadata: { ...parent.metadata, deletionTimestamp: "2026-11-04T11:59:00Z" } };
    const finalJob: Obj = {
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name: "shop-final-backup",
        namespace: "shop-ns",
        labels: { "metamysql.dev/backup": "shop-final-backup", "app.kubernetes.io/component": "backup", "app.kubernetes.io/instance": "shop" },
      },
      spec: {},
      status: { succeeded: 1 },
    };
    const finalMeta = { path: "shop/final/20261104T115900Z", sizeBytes: 555, completedAt: "2026-11-04T11:59:45Z" };
    const finalPod: Obj = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name: "shop-final-backup-abcde",
        namespace: "shop-ns",
        labels: {
          "metamysql.dev/backup": "shop-final-backup",
          "app.kubernetes.io/component": "backup",
          "app.kubernetes.io/instance": "shop",
          "app.kubernetes.io/managed-by": "metamysql",
          "job-name": "shop-final-backup",
        },
      },
      status: {
        phase: "Succeeded",
        containerStatuses: [{ name: "dump", state: { terminated: { exitCode: 0, message: JSON.stringify({ state: "Completed", meta: finalMeta }) } } }],
      },
    };
    const fin = await post(
      app,
      "mysqlcluster/finalize",
      syncRequest({ parent: deleting, children: [...children, finalJob], related: [...dbPods(), finalPod], finalizing: true }),
    );
    expect(fin.status).toBe(200);
    expect(fin.body.status.message).toMatch(/^final backup completed: pvc:\/\/backups\/shop\/final\/20261104T115900Z; deleting/);
    expect(await lastSuccess(app)).toBe(String(seconds("2026-11-04T11:59:45Z")));
    expect((await request(app).get("/metrics")).text).toContain('metamysql_backup_last_size_bytes{cluster="shop",namespace="shop-ns"} 555');
  });
});
