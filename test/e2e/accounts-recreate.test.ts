/**
 * The credentials Secret is the source of truth (issue 10 item 7), end to end through the local
 * runtime with real mariadbd and the real hook server: a cluster deleted (its PVCs retained) and
 * re-created under the same name gets a NEW generated Secret, and still becomes Healthy, with the
 * new passwords working, the old ones refused, the data kept and no errant GTIDs. Pod IPs
 * 127.20.90.0/24.
 */
import { rmSync } from "node:fs";
import type { RowDataPacket } from "mysql2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPERATOR_USER } from "../../src/api/constants.js";
import { healthyCluster, leftoverPids, podTarget, query, startTestRuntime, statusOf, type TestRuntime } from "../helpers/local.js";

const NAME = "acct";
const manifest = {
  apiVersion: "metamysql.dev/v1alpha1",
  kind: "MySQLCluster",
  metadata: { name: NAME },
  spec: {
    flavor: "mariadb",
    instances: 2,
    mysqlConfig: { innodb_buffer_pool_size: "32M", innodb_log_file_size: "8M", performance_schema: "OFF", max_connections: 50 },
  },
};
let t: TestRuntime;

function secretData(): Record<string, string> {
  const secret = t.rt.store.get("v1", "Secret", "default", `${NAME}-credentials`);
  return (secret?.data ?? {}) as Record<string, string>;
}
const decoded = (b64: string | undefined): string => Buffer.from(b64 ?? "", "base64").toString("utf8");

async function gtidState(pod: string, password: string): Promise<string> {
  const rows = await query<{ s: string } & RowDataPacket>({ ...podTarget(t, pod), password }, "SELECT @@gtid_binlog_state AS s");
  return String(rows[0]?.s ?? "");
}

beforeAll(async () => {
  t = await startTestRuntime({ ipPrefix: "127.20.90", resyncPeriodSeconds: 5, hookLogLevel: "warn" });
}, 60_000);

afterAll(async () => {
  await t?.rt.stop();
  if (t) {
    expect(leftoverPids(t.stateDir)).toEqual([]);
    rmSync(t.stateDir, { recursive: true, force: true });
  }
}, 120_000);

describe("re-created on retained volumes with a new Secret (local runtime, MariaDB)", () => {
  let first: Record<string, string> = {};
  let primary = "";

  it("a first cluster writes data", async () => {
    await t.rt.apply(manifest);
    primary = await healthyCluster(t, 2);
    first = secretData();
    const root = podTarget(t, primary);
    await query(root, "CREATE DATABASE keep");
    await query(root, "CREATE TABLE keep.t (id INT PRIMARY KEY)");
    await query(root, "INSERT INTO keep.t VALUES (7)");
  }, 240_000);

  it("deleted (PVCs kept, Secret gone) and re-created: Healthy with the new passwords, old refused, data and GTIDs intact", async () => {
    const before = await gtidState(primary, decoded(first["root-password"]));
    await t.rt.deleteCluster(240_000);
    expect(t.rt.store.get("v1", "Secret", "default", `${NAME}-credentials`)).toBeUndefined();
    expect(t.rt.store.list({ kind: "PersistentVolumeClaim" }).length).toBe(2);

    await t.rt.apply(manifest);
    const now = await healthyCluster(t, 2);
    const second = secretData();
    for (const key of ["root-password", "operator-password", "replication-password"]) expect(second[key]).not.toBe(first[key]);
    expect(statusOf(t.rt.cluster()).state).toBe("Healthy");

    const root = decoded(second["root-password"]);
    const operator = decoded(second["operator-password"]);
    for (const pod of [`${NAME}-0`, `${NAME}-1`]) {
      const target = podTarget(t, pod);
      expect(target.password).toBe(root);
      expect(await query<{ id: number } & RowDataPacket>(target, "SELECT id FROM keep.t")).toEqual([{ id: 7 }]);
      await expect(query({ ...target, password: decoded(first["root-password"]) }, "SELECT 1")).rejects.toThrow(/Access denied/);
      expect(await query<{ u: string } & RowDataPacket>({ ...target, user: OPERATOR_USER, password: operator }, "SELECT CURRENT_USER() AS u")).toEqual([
        { u: `${OPERATOR_USER}@%` },
      ]);
      await expect(query({ ...target, user: OPERATOR_USER, password: decoded(first["operator-password"]) }, "SELECT 1")).rejects.toThrow(/Access denied/);
      // Converging wrote nothing to the binary log: every instance holds the GTIDs of before, no more.
      expect(await gtidState(pod, root)).toBe(before);
    }
    // Replication runs again with the new replication password: a write reaches the replica.
    await query(podTarget(t, now), "INSERT INTO keep.t VALUES (8)");
    const replica = now === `${NAME}-0` ? `${NAME}-1` : `${NAME}-0`;
    await expect
      .poll(async () => (await query<{ n: number } & RowDataPacket>(podTarget(t, replica), "SELECT COUNT(*) AS n FROM keep.t"))[0]?.n, { timeout: 30_000 })
      .toBe(2);
    expect(await gtidState(replica, root)).toBe(await gtidState(now, root));
  }, 480_000);
});
