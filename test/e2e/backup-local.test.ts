/**
 * Backups and restore end to end through the local runtime with real mariadbd processes,
 * mariadb-dump, rclone and a local S3 server (s3rver): MySQLBackup to a PVC and to S3, failure
 * cases ending Failed with a reason, a scheduled backup with keep, and a new cluster restored
 * through initDB.fromBackup with equal checksums that replicates new writes without errant
 * GTIDs, and a MySQLBackup with deletionPolicy Delete finalized after its cluster is gone.
 * docs/backups.md. Pod IPs 127.40.N.*.
 */
import { existsSync, mkdirSync, readdirSync, rmSync, symlinkSync } from "node:fs";
import { dirname, join } from "node:path";
import type { RowDataPacket } from "mysql2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateLayout } from "../../src/local/node/statedir.js";
import type { KObject } from "../../src/local/apiserver/objects.js";
import { eventually, healthyCluster, leftoverPids, podTarget, query, startTestRuntime, statusOf, tempStateDir, type TestRuntime } from "../helpers/local.js";

// s3rver ships no types.
// eslint-disable-next-line @typescript-eslint/ban-ts-comment
// @ts-ignore
import S3rver from "s3rver";

const ROWS = 100_000;
let a: TestRuntime;
let b: TestRuntime | undefined;
let s3: { close(): Promise<void> } | undefined;
let s3Endpoint = "";
const s3Dir = tempStateDir("s3");

interface Target {
  host: string;
  port: number;
  password: string;
}

function clusterOf(t: TestRuntime): KObject {
  const c = t.rt.cluster();
  if (!c) throw new Error("no cluster");
  return c;
}

const healthy = (t: TestRuntime, instances: number): Promise<string> => healthyCluster(t, instances, 240_000);

async function checksum(target: Target): Promise<{ count: number; checksum: string }> {
  const c = await query<RowDataPacket>(target, "SELECT COUNT(*) AS n FROM app.t", 10_000);
  const s = await query<RowDataPacket>(target, "CHECKSUM TABLE app.t, app.u", 20_000);
  return { count: Number(c[0]?.n), checksum: s.map((r) => String(r.Checksum)).join(",") };
}

async function backupDone(t: TestRuntime, name: string): Promise<Record<string, unknown>> {
  return await eventually(
    () => {
      const st = statusOf(t.rt.store.get("metamysql.dev/v1alpha1", "MySQLBackup", "default", name));
      return st.state === "Completed" || st.state === "Failed" ? st : undefined;
    },
    180_000,
    `backup ${name} to finish`,
  );
}

function applyBackup(t: TestRuntime, name: string, spec: Record<string, unknown>): void {
  t.rt.applyObject({ apiVersion: "metamysql.dev/v1alpha1", kind: "MySQLBackup", metadata: { name }, spec });
}

beforeAll(async () => {
  const server = new S3rver({ port: 0, address: "127.0.0.1", silent: true, directory: s3Dir, configureBuckets: [{ name: "backups" }] });
  const addr = (await server.run()) as { port: number };
  s3 = server as { close(): Promise<void> };
  s3Endpoint = `http://127.0.0.1:${addr.port}`;
  a = await startTestRuntime({ ipPrefix: "127.40.1", resyncPeriodSeconds: 5, hookLogLevel: "warn" });
}, 60_000);

afterAll(async () => {
  for (const t of [a, b]) {
    if (!t) continue;
    await t.rt.stop();
    expect(leftoverPids(t.stateDir)).toEqual([]);
  }
  await s3?.close();
  if (!process.env.KEEP_STATE) for (const t of [a, b]) if (t) rmSync(t.stateDir, { recursive: true, force: true });
  rmSync(s3Dir, { recursive: true, force: true });
}, 180_000);

describe("backups through the local runtime", () => {
  let primary = "";
  let source: { count: number; checksum: string };

  it("backs up a 3-instance cluster with 100k rows to a PVC, from a replica, with its GTID position", async () => {
    await a.rt.apply({
      apiVersion: "metamysql.dev/v1alpha1",
      kind: "MySQLCluster",
      metadata: { name: "src" },
      spec: { flavor: "mariadb", instances: 3, storage: { size: "1Gi" } },
    });
    primary = await healthy(a, 3);
    const p = podTarget(a, primary);
    await query(p, "CREATE DATABASE app", 10_000);
    await query(p, "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64), n DOUBLE)", 10_000);
    await query(p, `INSERT INTO app.t SELECT seq, md5(seq), seq / 7 FROM app.seq_1_to_${ROWS}`, 60_000);
    await query(p, "CREATE TABLE app.u (id INT PRIMARY KEY, b BLOB) ENGINE=InnoDB", 10_000);
    await query(p, "INSERT INTO app.u SELECT seq, unhex(md5(seq)) FROM app.seq_1_to_1000", 10_000);
    await query(p, "CREATE PROCEDURE app.p() SELECT 1", 10_000);
    await query(p, "CREATE USER 'appuser'@'%' IDENTIFIED BY 'app-pw'", 10_000);
    source = await checksum(p);
    expect(source.count).toBe(ROWS);
    a.rt.store.create({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "backups", namespace: "default" },
      spec: { accessModes: ["ReadWriteMany"], resources: { requests: { storage: "5Gi" } } },
    });
    const started = Date.now();
    applyBackup(a, "b1", { clusterName: "src", storage: { persistentVolumeClaim: { claimName: "backups" } }, compression: "gzip" });
    const st = await backupDone(a, "b1");
    process.stderr.write(`backup to PVC: ${JSON.stringify(st)} in ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    expect(st.state).toBe("Completed");
    expect(st.sourceInstance).not.toBe(primary);
    expect(String(st.gtidPosition)).toMatch(/^\d+-\d+-\d+/);
    expect(Number(st.sizeBytes)).toBeGreaterThan(1_000_000);
    expect(st.location).toBe("pvc://backups/src/b1");
    const dir = join(stateLayout(a.stateDir).pvcDir("default", "backups"), "src", "b1");
    expect(readdirSync(dir).sort()).toEqual(["dump.sql.gz", "meta.json"]);
  }, 400_000);

  it("an instance initialized before the backup account existed gets it on its next start, without a GTID of its own", async () => {
    const replica = a.rt.status().pods.find((x) => x.name !== primary)?.name ?? "";
    const t = podTarget(a, replica);
    // What an older operator left: no backup account. Every start converges the accounts.
    await query(t, "SET STATEMENT sql_log_bin=0 FOR DROP USER 'metamysql_backup'@'%'");
    a.rt.deletePod(replica);
    await eventually(
      async () => {
        if (!a.rt.allPodsReady() || statusOf(clusterOf(a)).state !== "Healthy") return false;
        const rows = await query<RowDataPacket>(podTarget(a, replica), "SELECT COUNT(*) AS n FROM mysql.user WHERE user = 'metamysql_backup'");
        return Number(rows[0]?.n) === 1;
      },
      120_000,
      `${replica} to come back with the backup account`,
    );
    // Still a clean replica: every GTID it holds came from the primary.
    const p = podTarget(a, primary);
    const [pg, rg] = await Promise.all(
      [p, podTarget(a, replica)].map(async (x) => String((await query<RowDataPacket>(x, "SELECT @@gtid_binlog_state AS g"))[0]?.g)),
    );
    expect(rg).toBe(pg);
  }, 200_000);

  it("backs up to S3 (rclone against a local S3 server) with credentials only from the Secret", async () => {
    a.rt.applyObject({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "s3-creds" },
      stringData: { "access-key-id": "S3RVER", "secret-access-key": "S3RVER" },
      data: { "access-key-id": Buffer.from("S3RVER").toString("base64"), "secret-access-key": Buffer.from("S3RVER").toString("base64") },
    });
    applyBackup(a, "b2", {
      clusterName: "src",
      storage: { s3: { bucket: "backups", prefix: "team", endpoint: s3Endpoint, forcePathStyle: true, credentialsSecretName: "s3-creds" } },
      compression: "zstd",
    });
    const st = await backupDone(a, "b2");
    expect(st.state, String(st.message)).toBe("Completed");
    expect(st.location).toBe("s3://backups/team/src/b2");
    expect(existsSync(join(s3Dir, "backups", "team", "src", "b2", "meta.json._S3rver_object"))).toBe(true);
    const logs = readdirSync(stateLayout(a.stateDir).logsDir).filter((f) => f.startsWith("b2-backup"));
    expect(logs.length).toBeGreaterThan(0);
  }, 200_000);

  it("ends Failed with the reason: missing bucket, bad credentials (never printed)", async () => {
    a.rt.applyObject({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "bad-creds" },
      data: { "access-key-id": Buffer.from("nobody").toString("base64"), "secret-access-key": Buffer.from("x").toString("base64") },
    });
    const s3spec = (bucket: string, creds: string) => ({ s3: { bucket, endpoint: s3Endpoint, credentialsSecretName: creds } });
    applyBackup(a, "nobucket", { clusterName: "src", storage: s3spec("missing-bucket", "s3-creds") });
    applyBackup(a, "badcreds", { clusterName: "src", storage: s3spec("backups", "bad-creds") });
    const nb = await backupDone(a, "nobucket");
    const bc = await backupDone(a, "badcreds");
    expect(nb.state).toBe("Failed");
    expect(String(nb.message)).toMatch(/missing-bucket.*not usable/);
    expect(bc.state).toBe("Failed");
    expect(String(bc.message)).toMatch(/not usable|403|denied|InvalidAccessKeyId/i);
    expect(String(bc.message)).not.toContain("S3RVER");
  }, 200_000);

  it("restores into a new cluster through initDB.fromBackup: equal checksums, replication of new writes, no errant GTIDs", async () => {
    b = await startTestRuntime({ ipPrefix: "127.40.2", resyncPeriodSeconds: 5, stateDir: tempStateDir("restore"), hookLogLevel: "warn" });
    // The same ReadWriteMany volume, seen from the second "cluster".
    b.rt.store.create({
      apiVersion: "v1",
      kind: "PersistentVolumeClaim",
      metadata: { name: "backups", namespace: "default" },
      spec: { accessModes: ["ReadWriteMany"], resources: { requests: { storage: "5Gi" } } },
    });
    const shared = stateLayout(b.stateDir).pvcDir("default", "backups");
    mkdirSync(dirname(shared), { recursive: true });
    symlinkSync(stateLayout(a.stateDir).pvcDir("default", "backups"), shared);
    // The key that signed src's backups (docs/backups.md "Signed backups"), copied like a user would.
    const srcKey = (a.rt.store.get("v1", "Secret", "default", "src-backup-credentials") as { data?: Record<string, string> } | undefined)?.data?.[
      "signing-key"
    ];
    expect(srcKey).toBeDefined();
    b.rt.applyObject({ apiVersion: "v1", kind: "Secret", metadata: { name: "src-signing-key" }, data: { "signing-key": srcKey } });
    const started = Date.now();
    await b.rt.apply({
      apiVersion: "metamysql.dev/v1alpha1",
      kind: "MySQLCluster",
      metadata: { name: "dst" },
      spec: {
        flavor: "mariadb",
        instances: 3,
        storage: { size: "1Gi" },
        initDB: { fromBackup: { storage: { persistentVolumeClaim: { claimName: "backups" } }, path: "src/b1", signingKeySecretName: "src-signing-key" } },
      },
    });
    const dstPrimary = await healthy(b, 3);
    process.stderr.write(`restore of 100k rows into 3 instances: healthy after ${((Date.now() - started) / 1000).toFixed(1)} s\n`);
    const bt = b;
    for (const pod of bt.rt.status().pods) expect(await checksum(podTarget(bt, pod.name))).toEqual(source);
    const p = podTarget(bt, dstPrimary);
    const users = await query<RowDataPacket>(p, "SELECT COUNT(*) AS n FROM mysql.user WHERE user='appuser'");
    expect(Number(users[0]?.n)).toBe(1);
    await query(p, "INSERT INTO app.t VALUES (1000001, 'after restore', 1)");
    const gtid = String((await query<RowDataPacket>(p, "SELECT @@gtid_current_pos AS g"))[0]?.g);
    for (const pod of bt.rt.status().pods) {
      await eventually(
        async () => {
          const rows = await query<RowDataPacket>(podTarget(bt, pod.name), "SELECT COUNT(*) AS n FROM app.t WHERE id = 1000001");
          return Number(rows[0]?.n) === 1;
        },
        30_000,
        `${pod.name} to replicate the new row`,
      );
      const g = String((await query<RowDataPacket>(podTarget(bt, pod.name), "SELECT @@gtid_current_pos AS g"))[0]?.g);
      expect(g).toBe(gtid);
    }
    const instances = (statusOf(clusterOf(bt)).instances ?? []) as Array<{ role: string }>;
    expect(instances.map((i) => i.role).sort()).toEqual(["primary", "replica", "replica"]);
  }, 400_000);

  it("a MySQLBackup with deletionPolicy Delete deleted after its cluster is finalized: its remove Job runs from the backup's own ConfigMap", async () => {
    const bt = b;
    if (!bt) throw new Error("the restore test did not start the second runtime");
    applyBackup(bt, "gone", { clusterName: "dst", storage: { persistentVolumeClaim: { claimName: "backups" } }, deletionPolicy: "Delete" });
    const st = await backupDone(bt, "gone");
    expect(st.state, String(st.message)).toBe("Completed");
    expect(bt.rt.store.get("v1", "ConfigMap", "default", "gone-backup-script")).toBeDefined();
    const stored = join(stateLayout(a.stateDir).pvcDir("default", "backups"), "dst", "gone");
    expect(existsSync(join(stored, "meta.json"))).toBe(true);
    await bt.rt.deleteCluster(240_000);
    expect(bt.rt.store.get("v1", "ConfigMap", "default", "dst-config")).toBeUndefined();
    bt.rt.deleteObject("metamysql.dev/v1alpha1", "MySQLBackup", "gone");
    await eventually(
      () => bt.rt.store.get("metamysql.dev/v1alpha1", "MySQLBackup", "default", "gone") === undefined,
      120_000,
      "MySQLBackup gone to be finalized",
    );
    expect(existsSync(stored)).toBe(false);
  }, 400_000);
});
