/**
 * Scale-up by physical clone through the local runtime (docs/clustering.md "Cloning new
 * replicas"): a MariaDB cluster of one instance gets a dataset of a few tens of MB, then its
 * binary logs are purged (so a new replica cannot be built by replicating from the start: only
 * a copy can seed it), then it is scaled to 3. Each new pod's `clone` init container streams a
 * copy from a donor's agent sidecar (real `metamysql agent serve` processes next to real
 * mariadbd, mariadb-backup and mbstream), the entrypoint finishes it at the copy's GTID position,
 * and the operator makes it a replica: the cluster becomes Healthy with 3 instances whose data
 * is the primary's (CHECKSUM TABLE), new writes replicate to all, and the pods' logs say they
 * were cloned. Needs `npm run build` (the agent runs bin/metamysql.js). Pod IPs 127.20.80.*.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { RowDataPacket } from "mysql2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { stateLayout } from "../../src/local/node/statedir.js";
import {
  eventually,
  finishStateDir,
  healthyCluster,
  leftoverPids,
  podTarget,
  query,
  startTestRuntime,
  tempStateDir,
  type TestRuntime,
} from "../helpers/local.js";

const ROWS = 200_000;
let t: TestRuntime | undefined;
let failed = false;

function rt(): TestRuntime {
  if (!t) throw new Error("runtime not started");
  return t;
}

function cluster(instances: number): Record<string, unknown> {
  return {
    apiVersion: "metamysql.dev/v1alpha1",
    kind: "MySQLCluster",
    metadata: { name: "cl" },
    spec: { flavor: "mariadb", instances, storage: { size: "1Gi" } },
  };
}

async function checksum(pod: string): Promise<string> {
  const rows = await query<RowDataPacket>(podTarget(rt(), pod), "CHECKSUM TABLE app.t", 30_000);
  return String(rows[0]?.Checksum);
}

async function count(pod: string): Promise<number> {
  return Number((await query<RowDataPacket>(podTarget(rt(), pod), "SELECT COUNT(*) AS n FROM app.t", 10_000))[0]?.n);
}

function podLog(pod: string): string {
  try {
    return readFileSync(join(stateLayout(rt().stateDir).logsDir, `${pod}.log`), "utf8");
  } catch {
    return "";
  }
}

beforeAll(async () => {
  t = await startTestRuntime({ ipPrefix: "127.20.80", stateDir: tempStateDir("clone"), resyncPeriodSeconds: 5, hookLogLevel: "warn" });
}, 60_000);

afterAll(async () => {
  if (!t) return;
  await t.rt.stop();
  const left = leftoverPids(t.stateDir);
  finishStateDir(t.stateDir, failed || left.length > 0);
  expect(left).toEqual([]);
}, 120_000);

describe("scale-up by physical clone", () => {
  it("scale-up of a cluster with a dataset seeds the new replicas by clone from a donor's agent; they become healthy replicas with the primary's data", async () => {
    try {
      await rt().rt.apply(cluster(1));
      const primary = await healthyCluster(rt(), 1, 120_000);
      const p = podTarget(rt(), primary);
      await query(p, "CREATE DATABASE app", 10_000);
      await query(p, "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(64), n DOUBLE, pad CHAR(100))", 10_000);
      await query(p, `INSERT INTO app.t SELECT seq, md5(seq), seq / 7, repeat('p', 100) FROM app.seq_1_to_${ROWS}`, 120_000);
      // Nothing before this point can be replicated any more: only a copy can seed a new replica.
      await query(p, "FLUSH BINARY LOGS", 10_000);
      await query(p, "PURGE BINARY LOGS BEFORE NOW() + INTERVAL 1 SECOND", 10_000);
      const gtidBinlogState = String((await query<RowDataPacket>(p, "SELECT @@gtid_binlog_state AS s", 10_000))[0]?.s);
      expect(gtidBinlogState).not.toBe("");
      const source = await checksum(primary);

      await rt().rt.apply(cluster(3));
      // The primary may move meanwhile (a rollout of the scaled StatefulSet switches over first).
      // 1 -> 3 turns lossless semi-sync on in my.cnf: the pods roll once; wait for the rollout's end
      // (every pod of the StatefulSet at its update revision).
      await eventually(
        () => {
          const sts = rt().rt.store.get("apps/v1", "StatefulSet", "default", "cl");
          const st = (sts?.status ?? {}) as { updatedReplicas?: number; readyReplicas?: number; currentRevision?: string; updateRevision?: string };
          return (st.updatedReplicas === 3 && st.readyReplicas === 3 && st.currentRevision === st.updateRevision) || undefined;
        },
        300_000,
        "the rollout after the scale-up done",
      );
      const current = await healthyCluster(rt(), 3, 300_000);
      const added = ["cl-1", "cl-2"];
      for (const r of added) {
        // The clone path ran: the init step cloned, the entrypoint finished the copy.
        expect(podLog(r)).toMatch(/"msg":"cloned"/);
        expect(podLog(r)).toContain("metamysql-entrypoint");
        expect(podLog(r)).toMatch(/cloned from cl-\d: accounts converged/);
        expect(await checksum(r)).toBe(source);
      }
      // A donor's agent served each copy.
      expect(
        ["cl-0", "cl-1"]
          .map(podLog)
          .join("")
          .match(/physical copy streamed/g)?.length ?? 0,
      ).toBeGreaterThanOrEqual(2);

      await query(podTarget(rt(), current), "INSERT INTO app.t VALUES (0, 'after the clone', 0, 'x')", 10_000);
      for (const r of ["cl-0", ...added]) await eventually(async () => (await count(r)) === ROWS + 1, 60_000, `${r} replicates the new row`);
    } catch (err) {
      failed = true;
      throw err;
    }
  }, 600_000);
});
