/**
 * Seeding database pods from S3 through the local runtime, whose kubelet runs the init
 * containers `fetch-seed` and `fetch-latest-seed` (rclone against a local S3 server, s3rver) before
 * real mariadbd processes (docs/backups.md "Seeding new and re-seeded replicas"; s3rver's
 * delimiter listings are fixed to behave like S3, see test/helpers/s3.ts):
 * 1. a cluster restored with `initDB.fromBackup` from S3 is applied before the MySQLBackup it
 *    names exists: `fetch-seed` fails and is restarted with back-off (the pod Pending, not Ready,
 *    Init:CrashLoopBackOff); once the backup is Completed every instance is seeded from it (equal
 *    CHECKSUM TABLE, no errant GTIDs) and new writes replicate to all of them;
 * 2. the same cluster has a schedule on S3: two triggered runs, more writes, PURGE BINARY LOGS on
 *    the primary, then a scale-up seeds the new replica from the newest S3 backup
 *    (`fetch-latest-seed`) and it catches up.
 * Two runtimes (one cluster each): source 127.50.1.*, restored cluster 127.50.2.*.
 */
import { readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { RowDataPacket } from "mysql2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateLayout } from "../../src/local/node/statedir.js";
import { eventually, healthyCluster, leftoverPids, podTarget, query, startTestRuntime, statusOf, tempStateDir, type TestRuntime } from "../helpers/local.js";
import { startS3, type TestS3 } from "../helpers/s3.js";

const ROWS = 20_000;
const s3Dir = tempStateDir("s3seed-s3");
let s3: TestS3 | undefined;
let endpoint = "";
let src: TestRuntime | undefined;
let dst: TestRuntime | undefined;

type Obj = Record<string, unknown>;

interface Target {
  host: string;
  port: number;
  password: string;
}

function rt(t: TestRuntime | undefined): TestRuntime {
  if (!t) throw new Error("runtime not started");
  return t;
}

const target = podTarget;
const healthy = (t: TestRuntime, instances: number): Promise<string> => healthyCluster(t, instances, 60_000);

async function checksum(t: Target): Promise<string> {
  const rows = await query<RowDataPacket>(t, "CHECKSUM TABLE app.t, app.u", 20_000);
  return rows.map((r) => `${String(r.Table)}=${String(r.Checksum)}`).join(",");
}

async function gtid(t: Target): Promise<string> {
  return String((await query<RowDataPacket>(t, "SELECT @@gtid_current_pos AS g", 10_000))[0]?.g);
}

async function count(t: Target): Promise<number> {
  return Number((await query<RowDataPacket>(t, "SELECT COUNT(*) AS n FROM app.t", 10_000))[0]?.n);
}

function s3Storage(): Obj {
  return { s3: { bucket: "backups", prefix: "team", endpoint, forcePathStyle: true, credentialsSecretName: "s3-creds" } };
}

function addS3Secret(t: TestRuntime): void {
  const b64 = (s: string): string => Buffer.from(s).toString("base64");
  t.rt.applyObject({
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: "s3-creds" },
    data: { "access-key-id": b64("S3RVER"), "secret-access-key": b64("S3RVER") },
  });
}

/** The restored cluster: every instance from the MySQLBackup src/full, and a schedule on S3. */
function dstSpec(instances: number): Obj {
  return {
    apiVersion: "metamysql.dev/v1alpha1",
    kind: "MySQLCluster",
    metadata: { name: "dst" },
    spec: {
      flavor: "mariadb",
      // The logical seeding paths under test; cloning from a donor would take precedence (test/e2e/clone.test.ts).
      agent: { enabled: false },
      instances,
      storage: { size: "1Gi" },
      initDB: { fromBackup: { storage: s3Storage(), path: "src/full", signingKeySecretName: "src-signing-key" } },
      // Never fires during the test (Jan 1st, 00:00): runs come from trigger.
      backups: { schedules: [{ name: "hourly", schedule: "0 0 1 1 *", storage: s3Storage(), compression: "zstd", keep: 2 }] },
    },
  };
}

function podLog(t: TestRuntime, pod: string): string {
  return readFileSync(join(stateLayout(t.stateDir).logsDir, `${pod}.log`), "utf8");
}

/** Completed scheduled backups of dst in the S3 server's directory, oldest first. */
function scheduledBackups(): string[] {
  const dir = join(s3Dir, "backups", "team", "dst", "scheduled", "hourly");
  try {
    return readdirSync(dir)
      .filter((d) => readdirSync(join(dir, d)).includes("meta.json._S3rver_object"))
      .sort();
  } catch {
    return [];
  }
}

beforeAll(async () => {
  s3 = await startS3(s3Dir);
  endpoint = s3.endpoint;
  [src, dst] = await Promise.all([
    startTestRuntime({ ipPrefix: "127.50.1", stateDir: tempStateDir("s3seed-src"), resyncPeriodSeconds: 5, hookLogLevel: "warn" }),
    // A short CrashLoopBackOff (1 s doubling to 2 s) for the init container that waits for the backup.
    startTestRuntime({
      ipPrefix: "127.50.2",
      stateDir: tempStateDir("s3seed-dst"),
      resyncPeriodSeconds: 5,
      hookLogLevel: "warn",
      crashLoopBaseMs: 1000,
      crashLoopMaxMs: 2000,
    }),
  ]);
  addS3Secret(src);
  addS3Secret(dst);
}, 60_000);

afterAll(async () => {
  await Promise.all([src, dst].map(async (t) => t?.rt.stop()));
  for (const t of [src, dst]) if (t) expect(leftoverPids(t.stateDir)).toEqual([]);
  await s3?.close();
  if (!process.env.KEEP_STATE) for (const t of [src, dst]) if (t) rmSync(t.stateDir, { recursive: true, force: true });
  rmSync(s3Dir, { recursive: true, force: true });
}, 120_000);

describe("seeding from S3 through the local runtime's init containers", () => {
  let source = "";
  let dstPrimary = "";
  let backupGtid = "";

  it("initDB.fromBackup on S3: fetch-seed retries with back-off until the MySQLBackup exists, then every instance is seeded from it", async () => {
    const a = rt(src);
    const b = rt(dst);
    // While fetch-seed fails: what the pod reported, and what `local status` showed.
    const failing: Array<{ status: Obj; state: string }> = [];
    const unwatch = b.rt.store.watch((ev) => {
      if (ev.object.kind !== "Pod" || ev.object.metadata.name !== "dst-0") return;
      const inits = (statusOf(ev.object).initContainerStatuses ?? []) as Obj[];
      const fetch = inits.find((s) => s.name === "fetch-seed");
      if (!fetch || !(fetch.lastState as Obj).terminated) return;
      failing.push({ status: JSON.parse(JSON.stringify(ev.object.status)) as Obj, state: b.rt.kubelet.pods().find((p) => p.name === "dst-0")?.state ?? "" });
    });
    try {
      await a.rt.apply({
        apiVersion: "metamysql.dev/v1alpha1",
        kind: "MySQLCluster",
        metadata: { name: "src" },
        spec: { flavor: "mariadb", instances: 1, storage: { size: "1Gi" } },
      });
      // The key that will sign src's backups (docs/backups.md "Signed backups"), copied to the
      // restoring side like a user would, before dst exists.
      const srcKey = await eventually(
        () => (a.rt.store.get("v1", "Secret", "default", "src-backup-credentials") as { data?: Record<string, string> } | undefined)?.data?.["signing-key"],
        60_000,
        "src-backup-credentials",
      );
      b.rt.applyObject({ apiVersion: "v1", kind: "Secret", metadata: { name: "src-signing-key" }, data: { "signing-key": srcKey } });
      await b.rt.apply(dstSpec(2));
      const p = target(a, await healthy(a, 1));
      await query(p, "CREATE DATABASE app", 10_000);
      await query(p, "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64), n DOUBLE)", 10_000);
      await query(p, `INSERT INTO app.t SELECT seq, md5(seq), seq / 7 FROM app.seq_1_to_${ROWS}`, 30_000);
      await query(p, "CREATE TABLE app.u (id INT PRIMARY KEY, b BLOB)", 10_000);
      await query(p, "INSERT INTO app.u SELECT seq, unhex(md5(seq)) FROM app.seq_1_to_500", 10_000);
      source = await checksum(p);

      // The backup does not exist yet: fetch-seed has failed and is being restarted.
      await eventually(() => failing.some((f) => f.state === "Init:CrashLoopBackOff"), 30_000, "dst-0 in Init:CrashLoopBackOff");
      const f = failing.find((x) => x.state === "Init:CrashLoopBackOff")?.status ?? {};
      expect(f.phase).toBe("Pending");
      const conditions = (f.conditions ?? []) as Obj[];
      expect(conditions.find((c) => c.type === "Ready")?.status).toBe("False");
      expect(conditions.find((c) => c.type === "Initialized")).toMatchObject({ status: "False", message: "containers with incomplete status: [fetch-seed]" });
      const inits = f.initContainerStatuses as Obj[];
      expect(inits.map((s) => s.name)).toEqual(["fetch-latest-seed", "fetch-seed"]);
      expect((inits[0]?.state as Obj).terminated).toMatchObject({ exitCode: 0, reason: "Completed" });
      expect(((inits[1]?.state as Obj).waiting as Obj).reason).toBe("CrashLoopBackOff");
      expect(((inits[1]?.lastState as Obj).terminated as Obj).reason).toBe("Error");
      expect(Number(inits[1]?.restartCount)).toBeGreaterThanOrEqual(1);
      expect((((f.containerStatuses as Obj[])[0]?.state as Obj).waiting as Obj).reason).toBe("PodInitializing");
      expect(
        b.events.some(
          (e) =>
            e.source === "pod dst-0" &&
            e.reason === "BackOff" &&
            e.message.startsWith("init container fetch-seed failed") &&
            e.message.includes("no completed backup at s3://"),
        ),
      ).toBe(true);
      expect(b.rt.store.get("v1", "Pod", "default", "dst-1")).toBeUndefined();

      a.rt.applyObject({
        apiVersion: "metamysql.dev/v1alpha1",
        kind: "MySQLBackup",
        metadata: { name: "full" },
        spec: { clusterName: "src", storage: s3Storage(), compression: "zstd" },
      });
      const backup = await eventually(
        () => {
          const st = statusOf(a.rt.store.get("metamysql.dev/v1alpha1", "MySQLBackup", "default", "full"));
          return st.state === "Completed" || st.state === "Failed" ? st : undefined;
        },
        60_000,
        "MySQLBackup full",
      );
      expect(backup.state, String(backup.message)).toBe("Completed");
      expect(backup.location).toBe("s3://backups/team/src/full");
      backupGtid = String(backup.gtidPosition);
      expect(backupGtid).toMatch(/^\d+-\d+-\d+$/);
      dstPrimary = await healthy(b, 2);
    } finally {
      unwatch();
    }

    // Each instance ran the init containers once more after the backup appeared, and was seeded from it.
    for (const pod of ["dst-0", "dst-1"]) {
      const st = statusOf(b.rt.store.get("v1", "Pod", "default", pod));
      const inits = st.initContainerStatuses as Obj[];
      expect(inits.map((s) => [s.name, (s.state as { terminated?: Obj }).terminated?.reason])).toEqual([
        ["fetch-latest-seed", "Completed"],
        ["fetch-seed", "Completed"],
      ]);
      const log = podLog(b, pod);
      expect(log).toContain("fetched src/full (");
      expect(log).toMatch(new RegExp(`seeded from the backup in \\S*/${pod}/volumes/seed\\n`));
      expect(await checksum(target(b, pod))).toBe(source);
      // Exactly the backup's position: the restore made no GTID of its own.
      expect(await gtid(target(b, pod))).toBe(backupGtid);
    }
    expect(Number((statusOf(b.rt.store.get("v1", "Pod", "default", "dst-0")).initContainerStatuses as Obj[])[1]?.restartCount)).toBeGreaterThanOrEqual(1);
    // A new write replicates to every instance, and every position is equal.
    const p = target(b, dstPrimary);
    await query(p, "INSERT INTO app.t VALUES (1000001, 'after restore', 1)", 10_000);
    const want = await gtid(p);
    for (const pod of ["dst-0", "dst-1"]) {
      await eventually(async () => (await gtid(target(b, pod))) === want, 30_000, `${pod} to replicate the new row`);
      expect(await count(target(b, pod))).toBe(ROWS + 1);
    }
    const instances = (statusOf(b.rt.cluster()).instances ?? []) as Obj[];
    expect(instances.map((i) => i.role).sort()).toEqual(["primary", "replica"]);
    expect(instances.every((i) => !i.errantTransactions)).toBe(true);
  }, 120_000);

  it("a schedule on S3: after two triggered runs, more writes and PURGE BINARY LOGS, a scale-up seeds the new replica from the newest S3 backup and it catches up", async () => {
    const b = rt(dst);
    const p = target(b, dstPrimary);
    const replica = dstPrimary === "dst-0" ? "dst-1" : "dst-0";
    // The CronJob dumps the ready replica (its sources follow the observed topology).
    await eventually(
      () => JSON.stringify(b.rt.store.get("batch/v1", "CronJob", "default", "dst-backup-hourly") ?? {}).includes(`${replica}=127.50.2.`),
      30_000,
      "the replica in the CronJob's sources",
    );
    for (let i = 0; i < 2; i++) {
      await query(p, `INSERT INTO app.t VALUES (${1000002 + i}, 'scheduled run ${i}', 2)`, 10_000);
      const job = b.rt.cronJobs.trigger("default", "dst-backup-hourly");
      const st = await eventually(
        () => {
          const s = statusOf(b.rt.store.get("batch/v1", "Job", "default", job.metadata.name));
          return s.succeeded || s.failed ? s : undefined;
        },
        60_000,
        `job ${job.metadata.name}`,
      );
      expect(st.succeeded, JSON.stringify(st)).toBe(1);
      if (i === 0) await new Promise((r) => setTimeout(r, 1100)); // backup folders are named by the second
    }
    const runs = scheduledBackups();
    expect(runs).toHaveLength(2);
    const newest = runs[1] ?? "";

    // A new binary log starts at the newest backup's position; writes go on, then every older
    // binary log (what the older backups and the initDB backup would need) is purged.
    await query(p, "FLUSH BINARY LOGS", 10_000);
    const file = String((await query<RowDataPacket>(p, "SHOW MASTER STATUS", 10_000))[0]?.File);
    await query(p, `INSERT INTO app.t SELECT seq, 'after the backups', 3 FROM app.seq_${2_000_001}_to_${2_000_300}`, 10_000);
    await eventually(
      async () => {
        await query(p, `PURGE BINARY LOGS TO '${file}'`, 10_000);
        return (await query<RowDataPacket>(p, "SHOW BINARY LOGS", 10_000)).length === 1;
      },
      20_000,
      "the purge",
    );
    await query(p, "INSERT INTO app.t VALUES (1000010, 'after the purge', 4)", 10_000);

    await b.rt.apply(dstSpec(3));
    await healthy(b, 3);
    const log = podLog(b, "dst-2");
    expect(log).toContain(`fetched hourly/${newest}`);
    expect(log).toMatch(new RegExp(`seeded from the backup in \\S*/seed-latest/hourly/${newest}\\n`));
    const want = await gtid(p);
    await eventually(async () => (await gtid(target(b, "dst-2"))) === want, 30_000, "dst-2 to catch up");
    expect(await count(target(b, "dst-2"))).toBe(await count(p));
    expect(await count(target(b, "dst-2"))).toBe(ROWS + 1 + 2 + 300 + 1);
    expect(await checksum(target(b, "dst-2"))).toBe(await checksum(p));
    const instances = (statusOf(b.rt.cluster()).instances ?? []) as Obj[];
    expect(instances.map((i) => i.role).sort()).toEqual(["primary", "replica", "replica"]);
    expect(instances.every((i) => !i.errantTransactions)).toBe(true);
  }, 120_000);
});
