/**
 * Automatic rebuild of a diverged instance (issue 12 section 3), end to end through the local
 * runtime with real mariadbd (pod IPs 127.20.95.0/24, lossless, `failover.delaySeconds: 2`): the
 * primary holds a commit no replica received (receivers stopped, the operator's syncs held), is
 * SIGSTOPped under a writer, failed over, then SIGCONTed: it comes back errant by that
 * unacknowledged tail alone. The operator proves it (src/topology/repair.ts), its agent saves the
 * tail with mariadb-binlog into the instance's volume, and the instance is rebuilt by clone.
 * Asserted: Healthy with 3 ready instances, the old primary a read-only replica again without the
 * tail, its saved file named in status and holding the tail's GTID and statement, no acknowledged
 * write lost. Then a replica whose source purged the binary logs it needs (receiver stopped, the
 * operator's syncs held, the primary's logs flushed and purged) is rebuilt by clone with nothing
 * to save, and replicates again.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import type { RowDataPacket } from "mysql2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { SERVER_ID_BASE } from "../../src/api/constants.js";
import { startHookServer } from "../../src/server/app.js";
import { type HaCluster, Writer, startHaCluster } from "../helpers/ha.js";
import { HookInterposer, eventually, finishStateDir, leftoverPids, query } from "../helpers/local.js";

let hooks: { url: string; close(): Promise<void> };
let interposer: HookInterposer;
let c: HaCluster;
let writer: Writer | undefined;
let failed = false;
beforeEach(({ onTestFailed }) => onTestFailed(() => void (failed = true)));

/** How many times the instance's log says the entrypoint rebuilt it by clone. */
function rebuildsLogged(name: string): number {
  const file = join(c.t.stateDir, "logs", `${name}.log`);
  return existsSync(file) ? readFileSync(file, "utf8").split("rebuilt by clone").length - 1 : 0;
}

const binlogPos = async (name: string) => String((await query<{ p: string } & RowDataPacket>(c.pod(name), "SELECT @@gtid_binlog_pos AS p"))[0]?.p);

beforeAll(async () => {
  hooks = await startHookServer({ port: 0, host: "127.0.0.1", logLevel: "silent" });
  interposer = new HookInterposer(hooks.url);
  await interposer.start();
  c = await startHaCluster({
    ipPrefix: "127.20.95",
    hookUrl: interposer.url,
    spec: { flavor: "mariadb", failover: { delaySeconds: 2 } },
    resyncPeriodSeconds: 10,
  });
}, 180_000);

afterAll(async () => {
  await writer?.stop();
  await c?.rt.stop();
  await interposer?.close();
  await hooks?.close();
  if (c) {
    expect(leftoverPids(c.t.stateDir)).toEqual([]);
    finishStateDir(c.t.stateDir, failed);
  }
}, 120_000);

describe("automatic rebuild (MariaDB, local runtime)", () => {
  it("a hung old primary errant by its unacknowledged tail is rebuilt automatically after its tail is saved; Healthy, nothing acknowledged lost", async () => {
    writer = new Writer(() => c.service()).start();
    await writer.waitForAcks(50, 30_000);
    const old = c.primary();
    const oldOrdinal = Number(old.split("-").pop());
    const serverId = SERVER_ID_BASE + oldOrdinal;
    const replicas = c.rt
      .status()
      .pods.map((p) => p.name)
      .filter((n) => n !== old);
    const posBefore = await binlogPos(old);
    // A commit binlogged on the primary that no replica receives: it waits for an
    // acknowledgement that cannot come, its client never hears OK.
    interposer.mode = "hang";
    const tailId = 9_000_000 + Math.floor(Math.random() * 100_000);
    let pending: Promise<unknown> | undefined;
    try {
      for (const r of replicas) await query(c.pod(r), "STOP SLAVE IO_THREAD");
      pending = query(c.pod(old), `INSERT INTO app.w (id, at) VALUES (${tailId}, 0)`, 120_000).catch(() => undefined);
      await eventually(async () => (await binlogPos(old)) !== posBefore, 10_000, "the unacknowledged commit in the primary's binary log");
      c.rt.kill(old, "STOP");
    } finally {
      interposer.mode = "pass";
    }
    try {
      await eventually(() => c.primary() !== old, 60_000, `failover away from hung ${old}`);
      expect(c.status().lastOperation).toMatchObject({ type: "Failover", from: old });
      await writer.waitForAcks(30, 30_000);
    } finally {
      c.rt.kill(old, "CONT");
    }
    await pending;
    expect(writer.acks.some((a) => a.id === tailId)).toBe(false);

    // Errant by its own tail, then rebuilt: the saved file named in status, Healthy with 3 ready.
    const saved = await eventually(
      () => (c.status().instances ?? []).find((i) => i.name === old)?.savedTransactions,
      90_000,
      `${old} rebuilt with its tail saved`,
    );
    await c.waitHealthy(240_000, 3);
    const inst = (c.status().instances ?? []).find((i) => i.name === old);
    expect(inst).toMatchObject({ role: "replica", savedTransactions: saved });
    expect(inst?.errantTransactions).toBeUndefined();

    // The saved tail is on the instance's volume and holds the errant transaction.
    expect(saved).toMatch(new RegExp(`^\\.metamysql-saved/errant-0-${serverId}-\\d+\\.sql$`));
    const file = join(c.t.stateDir, "volumes", "default", `data-${old}`, saved);
    expect(existsSync(file)).toBe(true);
    const text = readFileSync(file, "utf8");
    expect(text).toMatch(new RegExp(`GTID 0-${serverId}-\\d+`));
    expect(text).toContain(String(tailId));
    // The old data dir is gone once the clone succeeded; no rebuild marker is left.
    expect(existsSync(join(c.t.stateDir, "volumes", "default", `data-${old}`, ".metamysql-rebuild-old"))).toBe(false);
    expect(existsSync(join(c.t.stateDir, "volumes", "default", `data-${old}`, ".metamysql-rebuild"))).toBe(false);

    // Nothing acknowledged lost; the rebuilt instance replicates and lacks the tail.
    await writer.waitForAcks(30, 30_000);
    const primary = c.primary();
    const upTo = Date.now();
    expect(writer.lost(await c.idsOn(primary), upTo)).toEqual([]);
    await eventually(async () => (await c.idsOn(old)).size >= (await c.idsOn(primary)).size - 50, 30_000, `${old} replicating`);
    expect(await c.idsOn(old)).not.toContain(tailId);
    const ro = await query<{ ro: number } & RowDataPacket>(c.pod(old), "SELECT @@read_only AS ro", 5000);
    expect(Number(ro[0]?.ro)).toBe(1);
  }, 420_000);
  it("a replica whose source purged the binary logs it needs is rebuilt by clone (nothing to save); Healthy, nothing acknowledged lost", async () => {
    await c.waitHealthy(120_000, 3);
    const w = writer ?? new Writer(() => c.service()).start();
    writer = w;
    const primary = c.primary();
    const replica = (c.status().instances ?? []).find((i) => i.name !== primary && i.role === "replica")?.name ?? "";
    expect(replica).not.toBe("");
    const savedBefore = (c.status().instances ?? []).find((i) => i.name === replica)?.savedTransactions;
    const rebuildsBefore = rebuildsLogged(replica);
    // The operator's syncs are held while the replica stops and the primary purges what it needs.
    interposer.mode = "hang";
    try {
      await query(c.pod(replica), "STOP SLAVE");
      const before = w.acks.length;
      await eventually(() => w.acks.length >= before + 20, 30_000, "writes the stopped replica misses");
      await query(c.pod(primary), "FLUSH BINARY LOGS");
      await query(c.pod(primary), "FLUSH BINARY LOGS");
      const logs = await query<{ Log_name: string } & RowDataPacket>(c.pod(primary), "SHOW BINARY LOGS");
      const last = logs[logs.length - 1]?.Log_name ?? "";
      await query(c.pod(primary), `PURGE BINARY LOGS TO '${last}'`);
    } finally {
      interposer.mode = "pass";
    }
    // Restarted by the operator, its receiver fails with 1236; it is rebuilt and replicates again.
    await eventually(
      async () => {
        const s = c.status();
        const inst = (s.instances ?? []).find((i) => i.name === replica);
        if (s.state !== "Healthy" || inst?.role !== "replica" || !c.rt.status().pods.every((p) => p.ready)) return undefined;
        const st = await query<{ Slave_IO_Running: string } & RowDataPacket>(c.pod(replica), "SHOW SLAVE STATUS").catch(() => []);
        return st[0]?.Slave_IO_Running === "Yes" ? true : undefined;
      },
      240_000,
      `${replica} rebuilt and replicating`,
    );
    await c.waitHealthy(60_000, 3);
    expect((c.status().instances ?? []).find((i) => i.name === replica)?.savedTransactions).toBe(savedBefore);
    expect(rebuildsLogged(replica)).toBe(rebuildsBefore + 1);
    await w.waitForAcks(20, 30_000);
    const upTo = Date.now();
    expect(w.lost(await c.idsOn(c.primary()), upTo)).toEqual([]);
    await eventually(async () => (await c.idsOn(replica)).size >= (await c.idsOn(c.primary())).size - 50, 30_000, `${replica} caught up`);
  }, 420_000);
});
