/**
 * Cluster-level backups end to end through the local runtime with real mariadbd and
 * mariadb-dump (docs/backups.md): a schedule rendered as a CronJob child and run three times
 * with `metamysql local trigger` keeps exactly `keep: 2` completed backups; a scale-up after the
 * primary purged its binary logs seeds the new replica from the newest completed backup and it
 * catches up (same data, same GTID position, no errant transactions); `local delete` with
 * `onDelete: true` takes a final backup that is complete before finalize lets the cluster go.
 * Pod IPs 127.40.3.*.
 */
import { existsSync, readdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import type { RowDataPacket } from "mysql2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { runLocal } from "../../src/cli/local.js";
import { stateLayout } from "../../src/local/node/statedir.js";
import { eventually, healthyCluster, leftoverPids, podTarget, query, startTestRuntime, statusOf, type TestRuntime } from "../helpers/local.js";

const ROWS = 10_000;
let t: TestRuntime;

function clusterSpec(instances: number): Record<string, unknown> {
  return {
    apiVersion: "metamysql.dev/v1alpha1",
    kind: "MySQLCluster",
    metadata: { name: "sch" },
    spec: {
      flavor: "mariadb",
      // Seeding from the newest backup is under test; cloning from a donor would take precedence (test/e2e/clone.test.ts).
      agent: { enabled: false },
      instances,
      storage: { size: "1Gi" },
      backups: {
        // Never fires during the test (Jan 1st, 00:00): runs come from `local trigger`.
        schedules: [{ name: "nightly", schedule: "0 0 1 1 *", storage: { persistentVolumeClaim: { claimName: "backups" } }, compression: "zstd", keep: 2 }],
        onDelete: true,
      },
    },
  };
}

const target = (name: string): { host: string; port: number; password: string } => podTarget(t, name);
const healthy = (instances: number): Promise<string> => healthyCluster(t, instances);

function pvc(...parts: string[]): string {
  return join(stateLayout(t.stateDir).pvcDir("default", "backups"), ...parts);
}

/** Completed backups (folders with meta.json) of the schedule. */
function completed(): string[] {
  const dir = pvc("sch", "scheduled", "nightly");
  if (!existsSync(dir)) return [];
  return readdirSync(dir)
    .filter((d) => existsSync(join(dir, d, "meta.json")))
    .sort();
}

async function jobDone(name: string): Promise<Record<string, unknown>> {
  return await eventually(
    () => {
      const st = statusOf(t.rt.store.get("batch/v1", "Job", "default", name));
      return st.succeeded || st.failed ? st : undefined;
    },
    120_000,
    `job ${name} to finish`,
  );
}

async function trigger(): Promise<string> {
  const before = new Set(t.rt.store.list({ apiVersion: "batch/v1", kind: "Job" }).map((j) => j.metadata.name));
  expect(await runLocal(["trigger", "sch-backup-nightly", "--state-dir", t.stateDir])).toBe(0);
  const job = t.rt.store.list({ apiVersion: "batch/v1", kind: "Job" }).find((j) => !before.has(j.metadata.name));
  if (!job) throw new Error("trigger created no Job");
  const st = await jobDone(job.metadata.name);
  expect(st.succeeded, JSON.stringify(st)).toBe(1);
  return job.metadata.name;
}

async function gtidPos(name: string): Promise<string> {
  return String((await query<RowDataPacket>(target(name), "SELECT @@gtid_current_pos AS g"))[0]?.g);
}

beforeAll(async () => {
  t = await startTestRuntime({ ipPrefix: "127.40.3", resyncPeriodSeconds: 5, hookLogLevel: "warn", control: true });
  t.rt.store.create({
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: "backups", namespace: "default" },
    spec: { accessModes: ["ReadWriteMany"], resources: { requests: { storage: "5Gi" } } },
  });
}, 60_000);

afterAll(async () => {
  await t?.rt.stop();
  if (t) expect(leftoverPids(t.stateDir)).toEqual([]);
  if (t && !process.env.KEEP_STATE) rmSync(t.stateDir, { recursive: true, force: true });
}, 120_000);

describe("scheduled backups, seeding and the final backup (local runtime)", () => {
  let primary = "";

  it("renders the schedule as a CronJob child; three triggered runs with keep: 2 leave exactly 2 completed backups", async () => {
    await t.rt.apply(clusterSpec(2));
    primary = await healthy(2);
    const p = target(primary);
    await query(p, "CREATE DATABASE app", 10_000);
    await query(p, "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64))", 10_000);
    await query(p, `INSERT INTO app.t SELECT seq, md5(seq) FROM app.seq_1_to_${ROWS}`, 30_000);
    const cj = await eventually(() => t.rt.store.get("batch/v1", "CronJob", "default", "sch-backup-nightly"), 30_000, "the CronJob child");
    expect(cj.metadata.ownerReferences?.[0]?.kind).toBe("MySQLCluster");
    // The CronJob's sources follow the observed topology (the replica first).
    await eventually(
      () =>
        JSON.stringify(t.rt.store.get("batch/v1", "CronJob", "default", "sch-backup-nightly")).includes(`${primary === "sch-0" ? "sch-1" : "sch-0"}=127.40.3.`),
      30_000,
      "sources in the CronJob",
    );

    const seen: string[][] = [];
    for (let i = 0; i < 3; i++) {
      await query(p, `INSERT INTO app.t VALUES (${ROWS + 1 + i}, 'run ${i}')`, 10_000);
      await trigger();
      seen.push(completed());
      await new Promise((r) => setTimeout(r, 1100)); // backup folders are named by the second
    }
    expect(seen.map((s) => s.length)).toEqual([1, 2, 2]);
    expect(seen[2]).not.toContain(seen[0]?.[0]);
    const all = readdirSync(pvc("sch", "scheduled", "nightly"));
    expect(all.sort()).toEqual(seen[2]);
    const meta = JSON.parse(readFileSync(pvc("sch", "scheduled", "nightly", seen[2]?.[1] ?? "", "meta.json"), "utf8")) as Record<string, unknown>;
    expect(meta.cluster).toBe("sch");
    expect(meta.clusterUID).toBe(t.rt.cluster()?.metadata.uid);
    // Folders carry the cluster's uid (retention removes only those), meta.json is signed.
    for (const d of all) expect(d).toMatch(new RegExp(`^\\d{8}T\\d{6}Z-${String(t.rt.cluster()?.metadata.uid)}$`));
    expect(meta.signature).toMatch(/^hmac-sha256:[0-9a-f]{64}$/);
    expect(meta.sourceRole).toBe("replica");
  }, 300_000);

  it("scale-up after PURGE BINARY LOGS seeds the new replica from the newest backup and it catches up", async () => {
    const p = target(primary);
    // Everything up to the newest backup leaves the primary's binary logs.
    await query(p, "FLUSH BINARY LOGS", 10_000);
    const file = String((await query<RowDataPacket>(p, "SHOW MASTER STATUS", 10_000))[0]?.File);
    await eventually(
      async () => {
        await query(p, `PURGE BINARY LOGS TO '${file}'`, 10_000);
        return (await query<RowDataPacket>(p, "SHOW BINARY LOGS", 10_000)).length === 1;
      },
      20_000,
      "the purge",
    );
    // Writes after the backup, which the new replica must get by replication.
    await query(p, `INSERT INTO app.t SELECT seq, 'after purge' FROM app.seq_${ROWS + 101}_to_${ROWS + 600}`, 10_000);
    const newest = completed().at(-1) ?? "";
    await t.rt.apply(clusterSpec(3));
    await healthy(3);
    const log = readFileSync(join(stateLayout(t.stateDir).logsDir, "sch-2.log"), "utf8");
    expect(log).toContain(`seeded from the backup in ${pvc("sch", "scheduled", "nightly", newest)}`);
    const want = await gtidPos(primary);
    await eventually(async () => (await gtidPos("sch-2")) === want, 30_000, "sch-2 to catch up");
    const count = async (n: string): Promise<number> => Number((await query<RowDataPacket>(target(n), "SELECT COUNT(*) AS n FROM app.t", 10_000))[0]?.n);
    expect(await count("sch-2")).toBe(await count(primary));
    expect(await count("sch-2")).toBe(ROWS + 3 + 500);
    const instances = (statusOf(t.rt.cluster()).instances ?? []) as Array<{ name: string; role: string }>;
    expect(instances.map((i) => i.role).sort()).toEqual(["primary", "replica", "replica"]);
  }, 300_000);

  it("local delete with onDelete: true completes the final backup before finalize lets the cluster go", async () => {
    let finalDoneWhileClusterExisted: boolean | undefined;
    let stsAtFinalDone: boolean | undefined;
    const unwatch = t.rt.store.watch((ev) => {
      if (ev.object.kind !== "Job" || ev.object.metadata.name !== "sch-final-backup" || finalDoneWhileClusterExisted !== undefined) return;
      if (!statusOf(ev.object).succeeded) return;
      finalDoneWhileClusterExisted = t.rt.cluster() !== undefined;
      stsAtFinalDone = t.rt.store.get("apps/v1", "StatefulSet", "default", "sch") !== undefined;
    });
    const messages: string[] = [];
    const unwatch2 = t.rt.store.watch((ev) => {
      if (ev.object.kind === "MySQLCluster") messages.push(String(statusOf(ev.object).message ?? ""));
    });
    try {
      await t.rt.deleteCluster(180_000);
    } finally {
      unwatch();
      unwatch2();
    }
    expect(finalDoneWhileClusterExisted).toBe(true);
    expect(stsAtFinalDone).toBe(true);
    expect(messages.some((m) => m.startsWith("taking the final backup to pvc://backups/sch/final/"))).toBe(true);
    const finals = readdirSync(pvc("sch", "final"));
    expect(finals).toHaveLength(1);
    const meta = JSON.parse(readFileSync(pvc("sch", "final", finals[0] ?? "", "meta.json"), "utf8")) as Record<string, unknown>;
    expect(meta.path).toBe(`sch/final/${finals[0]}`);
    expect(String(meta.gtidPosition)).toMatch(/^\d+-\d+-\d+/);
  }, 240_000);
});
