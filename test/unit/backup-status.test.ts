/**
 * status.backups and the BackupHealthy condition (src/backup/status.ts), derived from the pods of
 * the schedules' Jobs as Kubernetes reports them (the pods are built from the rendered CronJob's
 * template, so labels, env and volumes are the real ones), and from the previous status.
 */
import { describe, expect, it } from "vitest";
import type { ClusterBackupsStatus } from "../../src/api/backup.js";
import { MySQLClusterSpecSchema, MySQLClusterStatusSchema, type Cluster, type MySQLClusterSpecInput } from "../../src/api/cluster.js";
import type { Pod } from "../../src/api/k8s.js";
import { podsOutcome } from "../../src/backup/job-result.js";
import { backupHealthCondition, deriveBackupsStatus, observedScheduleRuns, scheduleOfPod } from "../../src/backup/status.js";
import { buildScheduleCronJobs, LABEL_SCHEDULE } from "../../src/backup/cluster-children.js";
import { clusterSchemaAt, clusterStatusErrors } from "../helpers/crd-schema.js";
import { statusFromDecision } from "../../hooks/mysqlcluster/status.js";
import type { Decision } from "../../src/topology/index.js";
import { validateValue } from "../../src/api/crd.js";
import { plusSeconds, runPod as podOfRun, type RunPodOptions } from "../helpers/backup-pods.js";

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PVC = { persistentVolumeClaim: { claimName: "backups" } };
const S3 = { s3: { bucket: "bkp", prefix: "db", endpoint: "http://s3.local:9000", credentialsSecretName: "s3" } };
const SRC = { sources: [{ pod: "shop-1", ip: "10.0.0.2" }], primary: { pod: "shop-0", ip: "10.0.0.1" } };
const NIGHTLY = { name: "nightly", schedule: "0 2 * * *", storage: PVC };
const HOURLY = { name: "hourly", schedule: "0 * * * *", storage: S3 };

function cluster(spec: MySQLClusterSpecInput, status: Cluster["status"] = {}): Cluster {
  return {
    name: "shop",
    namespace: "prod",
    uid: "uid-1",
    generation: 1,
    creationTimestamp: "2026-11-01T10:00:00Z",
    spec: MySQLClusterSpecSchema.parse({ flavor: "mariadb", ...spec }),
    status,
  };
}

const ONE = cluster({ backups: { schedules: [NIGHTLY] } });
const TWO = cluster({ backups: { schedules: [NIGHTLY, HOURLY] } });

interface RunOptions extends Omit<RunPodOptions, "withoutLabel"> {
  schedule?: string;
  /** A pod created before the schedule label existed. */
  legacy?: boolean;
  of?: Cluster;
}

/** A pod of a run of the schedule's CronJob as rendered for `of` (default: both schedules). */
function runPod(o: RunOptions): Pod {
  const c = o.of ?? TWO;
  const cj = buildScheduleCronJobs(c, SRC).find((x) => x.metadata.name === `shop-backup-${o.schedule ?? "nightly"}`);
  if (!cj) throw new Error(`no CronJob for ${o.schedule ?? "nightly"}`);
  return podOfRun(cj, { ...o, namespace: "prod", ...(o.legacy ? { withoutLabel: LABEL_SCHEDULE } : {}) }) as Pod;
}

const at = plusSeconds;

const T1 = "2026-11-01T02:00:00Z";
const T2 = "2026-11-02T02:00:00Z";
const T3 = "2026-11-03T02:00:00Z";

function derive(c: Cluster, pods: Pod[]): ClusterBackupsStatus | undefined {
  return deriveBackupsStatus({ cluster: c, backupPods: pods });
}

function withStatus(c: Cluster, backups: ClusterBackupsStatus | undefined, spec?: MySQLClusterSpecInput): Cluster {
  const base = spec ? cluster(spec) : c;
  return { ...base, status: { ...c.status, ...(backups ? { backups } : {}) } };
}

describe("reading a run from its pods (no Job observed)", () => {
  it("Completed with the result's meta; Failed with the script's message; Running otherwise", () => {
    const done = podsOutcome([runPod({ start: T1, result: "completed" })]);
    expect(done).toMatchObject({
      state: "Completed",
      startedAt: T1,
      finishedAt: at(T1, 41),
      meta: { path: "shop/scheduled/nightly/20261101T020000Z", sizeBytes: 1234 },
    });
    expect(podsOutcome([runPod({ start: T1, result: "failed", message: "disk full" })])).toEqual({ state: "Failed", message: "disk full", startedAt: T1 });
    expect(podsOutcome([runPod({ start: T1, result: "running" })])).toEqual({ state: "Running", startedAt: T1 });
  });

  it("an evicted pod and a pod that succeeded without a Completed result are Failed", () => {
    expect(podsOutcome([runPod({ start: T1, result: "evicted" })])).toMatchObject({
      state: "Failed",
      message: "The node was low on resource: ephemeral-storage.",
    });
    expect(podsOutcome([runPod({ start: T1, result: "succeeded-without-result" })])).toMatchObject({ state: "Failed", message: /no completed backup/ });
  });

  it("S3: the upload container's result counts, not the dump's intermediate one", () => {
    expect(podsOutcome([runPod({ schedule: "hourly", start: T1, result: "completed" })])).toMatchObject({ state: "Completed" });
  });
});

describe("which schedule a pod ran for", () => {
  const schedules = TWO.spec.backups?.schedules ?? [];
  it("the schedule label (also on the CronJob and its Job template)", () => {
    const cj = buildScheduleCronJobs(TWO, SRC)[0] as AnyObj;
    expect(cj.metadata.labels[LABEL_SCHEDULE]).toBe("nightly");
    expect(cj.spec.jobTemplate.metadata.labels[LABEL_SCHEDULE]).toBe("nightly");
    expect(cj.spec.jobTemplate.spec.template.metadata.labels[LABEL_SCHEDULE]).toBe("nightly");
    expect(scheduleOfPod("shop", schedules, runPod({ schedule: "hourly", start: T1, result: "running" }))).toBe("hourly");
  });

  it("older pods without the label: the CronJob's label and a <cronjob>-<minute> Job name", () => {
    expect(scheduleOfPod("shop", schedules, runPod({ start: T1, result: "running", legacy: true }))).toBe("nightly");
  });

  it("a MySQLBackup named like a CronJob, the final backup and other clusters' pods are not schedule runs", () => {
    const mysqlBackup = runPod({ start: T1, result: "completed", legacy: true, job: "shop-backup-nightly-backup" });
    expect(scheduleOfPod("shop", schedules, mysqlBackup)).toBeUndefined();
    const final = runPod({ start: T1, result: "completed", legacy: true, job: "shop-final-backup" });
    final.metadata.labels = { ...final.metadata.labels, "metamysql.dev/backup": "shop-final-backup" };
    expect(scheduleOfPod("shop", schedules, final)).toBeUndefined();
    const other = runPod({ start: T1, result: "completed" });
    other.metadata.labels = { ...other.metadata.labels, "app.kubernetes.io/instance": "shop2" };
    expect(scheduleOfPod("shop", schedules, other)).toBeUndefined();
    const removed = runPod({ start: T1, result: "completed" });
    expect(scheduleOfPod("shop", [schedules[1]!], removed)).toBeUndefined();
  });
});

describe("status.backups", () => {
  it("nothing without schedules, and nothing before a run was observed", () => {
    expect(derive(cluster({}), [runPod({ start: T1, result: "completed" })])).toBeUndefined();
    expect(derive(ONE, [])).toBeUndefined();
  });

  it("a completed run: state, location from the pod's storage, size, GTID position, source; the cluster's last successful backup", () => {
    const backups = derive(ONE, [runPod({ of: ONE, start: T1, result: "completed", sizeBytes: 5_000_000 })]);
    const job = `shop-backup-nightly-${Date.parse(T1) / 60000}`;
    expect(backups).toEqual({
      schedules: [
        {
          name: "nightly",
          state: "Completed",
          job,
          startedAt: T1,
          lastCompleted: {
            job,
            location: "pvc://backups/shop/scheduled/nightly/20261101T020000Z",
            path: "shop/scheduled/nightly/20261101T020000Z",
            startedAt: T1,
            completedAt: at(T1, 40),
            sizeBytes: 5_000_000,
            gtidPosition: "0-100-42",
            sourceInstance: "shop-1",
          },
        },
      ],
      lastSuccessfulBackup: {
        schedule: "nightly",
        completedAt: at(T1, 40),
        location: "pvc://backups/shop/scheduled/nightly/20261101T020000Z",
        sizeBytes: 5_000_000,
      },
    });
    expect(backupHealthCondition(ONE, backups)).toEqual({
      type: "BackupHealthy",
      status: "True",
      reason: "BackupsCompleted",
      message: "the newest finished run of every schedule completed",
    });
  });

  it("S3 location with the bucket and prefix the pod wrote to", () => {
    const backups = derive(TWO, [runPod({ schedule: "hourly", start: T1, result: "completed" })]);
    expect(backups?.schedules?.[0]?.lastCompleted?.location).toBe("s3://bkp/db/shop/scheduled/hourly/20261101T020000Z");
  });

  it("the location follows the storage the run used, not a storage changed in the spec since", () => {
    const moved = cluster({ backups: { schedules: [{ ...NIGHTLY, storage: { persistentVolumeClaim: { claimName: "elsewhere" } } }] } });
    const backups = derive(moved, [runPod({ of: ONE, start: T1, result: "completed" })]);
    expect(backups?.schedules?.[0]?.lastCompleted?.location).toBe("pvc://backups/shop/scheduled/nightly/20261101T020000Z");
    // A pod whose spec says nothing recognizable falls back to the schedule's storage.
    const bare = runPod({ of: ONE, start: T1, result: "completed" });
    bare.spec = {};
    expect(derive(moved, [bare])?.schedules?.[0]?.lastCompleted?.location).toBe("pvc://elsewhere/shop/scheduled/nightly/20261101T020000Z");
  });

  it("the newest run failed: state Failed, its message, the last completed run kept; BackupHealthy False", () => {
    const pods = [runPod({ start: T1, result: "completed" }), runPod({ start: T2, result: "failed", message: "dump of shop-1 failed: Access denied" })];
    const backups = derive(ONE, pods);
    const e = backups?.schedules?.[0];
    expect(e?.state).toBe("Failed");
    expect(e?.job).toBe(`shop-backup-nightly-${Date.parse(T2) / 60000}`);
    expect(e?.lastFailure).toEqual({ job: e?.job, startedAt: T2, message: "dump of shop-1 failed: Access denied" });
    expect(e?.lastCompleted?.completedAt).toBe(at(T1, 40));
    expect(backups?.lastSuccessfulBackup?.completedAt).toBe(at(T1, 40));
    expect(backupHealthCondition(ONE, backups)).toEqual({
      type: "BackupHealthy",
      status: "False",
      reason: "BackupFailed",
      message: `schedule nightly: dump of shop-1 failed: Access denied (Job ${e?.job})`,
    });
  });

  it("a retry that is still running keeps the failure (no flapping); a completed one clears it", () => {
    const failed = runPod({ start: T1, result: "failed" });
    const running = derive(ONE, [failed, runPod({ start: T2, result: "running" })]);
    expect(running?.schedules?.[0]).toMatchObject({ state: "Running", lastFailure: { startedAt: T1 } });
    expect(backupHealthCondition(ONE, running)?.status).toBe("False");
    const recovered = derive(ONE, [failed, runPod({ start: T2, result: "completed" })]);
    expect(recovered?.schedules?.[0]?.state).toBe("Completed");
    expect(recovered?.schedules?.[0]?.lastFailure).toBeUndefined();
    expect(backupHealthCondition(ONE, recovered)?.status).toBe("True");
  });

  it("orders runs by their pods' start, not by name or input order (manual runs included), deterministically", () => {
    const manual = runPod({ start: T3, result: "failed", job: "manual-retry" });
    const pods = [runPod({ start: T2, result: "completed" }), manual, runPod({ start: T1, result: "completed" })];
    const a = derive(ONE, pods);
    expect(a?.schedules?.[0]).toMatchObject({ state: "Failed", job: "manual-retry" });
    for (const order of [
      [2, 1, 0],
      [1, 0, 2],
      [0, 2, 1],
    ])
      expect(
        JSON.stringify(
          derive(
            ONE,
            order.map((i) => pods[i]!),
          ),
        ),
      ).toBe(JSON.stringify(a));
    expect(observedScheduleRuns(ONE, pods).map((r) => r.outcome.startedAt)).toEqual([T1, T2, T3]);
  });

  it("two schedules: the last successful backup is the newest completion across them; Unknown while one never completed", () => {
    const backups = derive(TWO, [runPod({ start: T2, result: "completed" }), runPod({ schedule: "hourly", start: T1, result: "completed" })]);
    expect(backups?.schedules?.map((s) => s.name)).toEqual(["nightly", "hourly"]);
    expect(backups?.lastSuccessfulBackup).toMatchObject({ schedule: "nightly", completedAt: at(T2, 40) });
    const onlyNightly = derive(TWO, [runPod({ start: T2, result: "completed" }), runPod({ schedule: "hourly", start: T3, result: "running" })]);
    expect(backupHealthCondition(TWO, onlyNightly)).toMatchObject({
      status: "Unknown",
      reason: "NoBackupYet",
      message: "no run of schedule hourly has completed yet",
    });
    // A suspended schedule that never ran is not waited for.
    const suspended = cluster({ backups: { schedules: [NIGHTLY, { ...HOURLY, suspend: true }] } });
    expect(backupHealthCondition(suspended, derive(suspended, [runPod({ start: T2, result: "completed" })]))?.status).toBe("True");
    expect(backupHealthCondition(cluster({ backups: { schedules: [{ ...NIGHTLY, suspend: true }] } }), undefined)?.status).toBe("Unknown");
    expect(backupHealthCondition(cluster({}), undefined)).toBeUndefined();
  });
});

describe("carrying status.backups over when the Jobs' pods are gone", () => {
  const first = derive(TWO, [
    runPod({ start: T1, result: "completed" }),
    runPod({ schedule: "hourly", start: T2, result: "failed", message: "bucket not found" }),
  ]);

  it("no pod of a schedule observed: its previous entry is kept as it was", () => {
    expect(derive(withStatus(TWO, first), [])).toEqual(first);
    const next = derive(withStatus(TWO, first), [runPod({ start: T3, result: "completed" })]);
    expect(next?.schedules?.[1]).toEqual(first?.schedules?.[1]);
    expect(next?.schedules?.[0]?.lastCompleted?.completedAt).toBe(at(T3, 40));
    expect(backupHealthCondition(TWO, next)?.status).toBe("False");
  });

  it("observed runs only older than what the status recorded: the newer recorded run and completion win", () => {
    const newer = derive(ONE, [runPod({ start: T3, result: "completed" })]);
    const next = derive(withStatus(ONE, newer), [runPod({ start: T1, result: "failed" })]);
    expect(next?.schedules?.[0]).toMatchObject({ state: "Completed", startedAt: T3, lastCompleted: { completedAt: at(T3, 40) } });
    expect(next?.schedules?.[0]?.lastFailure).toBeUndefined();
  });

  it("a schedule removed from the spec loses its entry; the cluster's last successful backup stays", () => {
    const hourlyDone = derive(TWO, [runPod({ start: T1, result: "completed" }), runPod({ schedule: "hourly", start: T2, result: "completed" })]);
    expect(hourlyDone?.lastSuccessfulBackup?.schedule).toBe("hourly");
    const next = derive(withStatus(TWO, hourlyDone, { backups: { schedules: [NIGHTLY] } }), []);
    expect(next?.schedules?.map((s) => s.name)).toEqual(["nightly"]);
    expect(next?.lastSuccessfulBackup).toEqual(hourlyDone?.lastSuccessfulBackup);
  });

  it("the carried-over status goes through the status schema (what parseCluster reads back)", () => {
    const parsed = MySQLClusterStatusSchema.parse({ state: "Healthy", backups: first });
    expect(parsed.backups).toEqual(first);
    // A backups summary that does not parse is dropped, not the whole status.
    const bad = MySQLClusterStatusSchema.parse({
      state: "Healthy",
      currentPrimary: "shop-0",
      backups: { schedules: [{ name: "x", state: "Exploded", job: "j" }] },
    });
    expect(bad).toMatchObject({ state: "Healthy", currentPrimary: "shop-0" });
    expect(bad.backups).toBeUndefined();
  });

  it("every shape validates against the shipped CRD", () => {
    const node = clusterSchemaAt("status.backups");
    const running = derive(ONE, [runPod({ start: T1, result: "failed" }), runPod({ start: T2, result: "running" })]);
    for (const b of [first, running, derive(ONE, [runPod({ start: T1, result: "completed" })])]) expect(validateValue(b, node, "status.backups")).toEqual([]);
  });
});

describe("BackupHealthy is independent of Ready", () => {
  it("a Healthy cluster whose newest backup failed stays Ready=True and Available=True", () => {
    const c = cluster({ instances: 2, backups: { schedules: [NIGHTLY] } });
    const backups = derive(c, [runPod({ of: c, start: T1, result: "failed", message: "bucket not found" })]);
    const decision: Decision = {
      status: {
        state: "Healthy",
        message: "2/2 instances healthy",
        currentPrimary: "shop-0",
        instances: [
          { name: "shop-0", ordinal: 0, role: "primary", ready: true, weight: 50 },
          { name: "shop-1", ordinal: 1, role: "replica", ready: true, weight: 50 },
        ],
      },
      operation: { type: "none" },
      semiSync: { enabled: true, waitCount: 1, timeoutMs: 1 },
      readOnlyEndpoints: [],
      resyncAfterSeconds: 30,
    } as unknown as Decision;
    const status = statusFromDecision(c, decision, new Date("2026-11-04T12:00:00Z"), { status: backups, condition: backupHealthCondition(c, backups) });
    const byType = Object.fromEntries((status.conditions ?? []).map((x) => [x.type, x.status]));
    expect(byType).toEqual({ Available: "True", BackupHealthy: "False", Ready: "True", SpecValid: "True" });
    expect(status.state).toBe("Healthy");
    expect(status.backups).toEqual(backups);
    expect(clusterStatusErrors(status)).toEqual([]);
  });

  it("the condition keeps its transition time while its status does not change", () => {
    const c = cluster({ backups: { schedules: [NIGHTLY] } });
    const failed = derive(c, [runPod({ of: c, start: T1, result: "failed" })]);
    const decision = {
      status: { state: "Healthy", message: "ok", currentPrimary: "shop-0", instances: [] },
      operation: { type: "none" },
      semiSync: {},
      readOnlyEndpoints: [],
      resyncAfterSeconds: 30,
    } as unknown as Decision;
    const first = statusFromDecision(c, decision, new Date("2026-11-04T12:00:00Z"), { status: failed, condition: backupHealthCondition(c, failed) });
    const again = derive(withStatus(c, failed), [runPod({ of: c, start: T1, result: "failed" }), runPod({ of: c, start: T2, result: "running" })]);
    const second = statusFromDecision({ ...c, status: first }, decision, new Date("2026-11-05T12:00:00Z"), {
      status: again,
      condition: backupHealthCondition(c, again),
    });
    const cond = (st: typeof first) => st.conditions?.find((x) => x.type === "BackupHealthy");
    expect(cond(second)?.status).toBe("False");
    expect(cond(second)?.lastTransitionTime).toBe("2026-11-04T12:00:00Z");
  });
});
