/**
 * A hung primary (issue 12 section 4), end to end through the local runtime with real mariadbd
 * (pod IPs 127.20.70.0/24, lossless, `failover.delaySeconds: 2`): the primary is SIGSTOPped under
 * two writers through `<c>` (one reconnecting at once, one like an application's pool: 2 s
 * connect, 3 s query timeout, reconnect after 50 ms). No pod event announces a hung server (its
 * process is there); the operator's own probes must see it, fail over, and after SIGCONT fence it.
 * Asserted: the failover happens, no acknowledged write of either writer is lost, the old
 * primary is never routed to again (neither `<c>` nor `<c>-ro`) and never writable, it is fenced
 * after SIGCONT and reported (a replica again, or errant by its own unacknowledged tail). How
 * long it took is measured by `MODE=stop npm run bench:failover`, not asserted here.
 */
import type { RowDataPacket } from "mysql2";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { type HaCluster, Writer, settleOldPrimary, startHaCluster } from "../helpers/ha.js";
import { eventually, finishStateDir, leftoverPids, query } from "../helpers/local.js";

let c: HaCluster;
let fast: Writer | undefined;
let client: Writer | undefined;
let failed = false;
beforeEach(({ onTestFailed }) => onTestFailed(() => void (failed = true)));

async function readOnly(name: string): Promise<number> {
  const rows = await query<{ ro: number } & RowDataPacket>(c.pod(name), "SELECT @@read_only AS ro", 2000);
  return Number(rows[0]?.ro);
}

/** Backends (IPs) of a Service's proxy right now. */
function backends(service: string): string[] {
  return (c.rt.proxies.proxy("default", service)?.current() ?? []).map((b) => b.ip);
}

beforeAll(async () => {
  c = await startHaCluster({ ipPrefix: "127.20.70", spec: { failover: { delaySeconds: 2 } }, resyncPeriodSeconds: 30 });
}, 180_000);

afterAll(async () => {
  await Promise.all([fast?.stop(), client?.stop()]);
  await c?.rt.stop();
  if (c) {
    expect(leftoverPids(c.t.stateDir)).toEqual([]);
    finishStateDir(c.t.stateDir, failed);
  }
}, 120_000);

describe("a hung (SIGSTOP) primary", () => {
  it("is failed over without losing an acknowledged write, never routed to again, and fenced and reported after SIGCONT", async () => {
    fast = new Writer(() => c.service()).start();
    client = Writer.realistic(() => c.service(), 500_000_000).start();
    await Promise.all([fast.waitForAcks(100, 30_000), client.waitForAcks(50, 30_000)]);
    const old = c.primary();
    const oldIp = c.pod(old).host;

    // From the failover on, every 20 ms: is the old primary behind `<c>`, or behind `<c>-ro`
    // while it is errant?
    const misrouted: string[] = [];
    let watching = false;
    const watch = setInterval(() => {
      if (!watching) return;
      if (backends(c.name).includes(oldIp)) misrouted.push(`<c> -> ${old}`);
      const role = (c.status().instances ?? []).find((i) => i.name === old)?.role;
      if (role === "errant" && backends(`${c.name}-ro`).includes(oldIp)) misrouted.push(`<c>-ro -> errant ${old}`);
    }, 20);

    c.rt.kill(old, "STOP");
    try {
      await eventually(() => c.primary() !== old, 60_000, `failover away from hung ${old}`);
      watching = true;
      expect(c.status().lastOperation).toMatchObject({ type: "Failover", from: old });
      // Both writers resume on the new primary while the old one is still stopped.
      await Promise.all([fast.waitForAcks(50, 30_000), client.waitForAcks(20, 30_000)]);
      expect((c.status().instances ?? []).find((i) => i.name === old)?.role).toBe("unavailable");
    } finally {
      c.rt.kill(old, "CONT");
    }

    // Fenced once it answers (it was writable when stopped), then a replica again or errant.
    await eventually(async () => (await readOnly(old).catch(() => 0)) === 1, 30_000, `${old} read-only after SIGCONT`);
    await eventually(
      () => {
        const s = (c.status().instances ?? []).find((i) => i.name === old);
        return s && ((s.role === "replica" && !s.message) || (s.role === "errant" && !!s.errantTransactions));
      },
      60_000,
      `${old} rejoined or reported errant`,
    );
    expect(c.primary()).not.toBe(old);
    const primary = c.primary();
    const ids = await c.idsOn(primary);
    expect(fast.lost(ids)).toEqual([]);
    expect(client.lost(ids)).toEqual([]);

    // An errant old primary holds only its own unacknowledged tail and stays read-only; the
    // operator saves that tail and rebuilds it by clone (settleOldPrimary checks all of it).
    await settleOldPrimary(c, old, [fast, client]);
    await c.waitHealthy(120_000, 3);
    await Promise.all([fast.waitForAcks(50, 30_000), client.waitForAcks(20, 30_000)]);
    clearInterval(watch);
    expect(misrouted).toEqual([]);
    const after = await c.idsOn(c.primary());
    expect(fast.lost(after)).toEqual([]);
    expect(client.lost(after)).toEqual([]);
    expect(await readOnly(old)).toBe(1);
  }, 300_000);
});
