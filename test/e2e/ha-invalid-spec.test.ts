/**
 * An invalid spec does not halt failover (issue 10 item 12), through the local runtime with real
 * mariadbd: the cluster keeps running on its last valid spec, recorded on ConfigMap `<c>-config`
 * (docs/clustering.md "Invalid spec"). A SIGKILLed primary is failed over while the spec names an
 * operator-owned option, writes continue through `<c>`, the old primary rejoins, the status stays
 * Invalid and no other child changes; fixing the spec converges Healthy. Pod IPs 127.30.95.0/24.
 *
 * CrashLoopBackOff is shortened to 3 s (first restart immediate, as in Kubernetes): every pod is
 * crashed once first, so the primary killed later stays down past `failover.delaySeconds: 2`.
 */
import { rmSync } from "node:fs";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import type { KObject } from "../../src/local/apiserver/objects.js";
import { Writer, startHaCluster, type HaCluster } from "../helpers/ha.js";
import { eventually, leftoverPids } from "../helpers/local.js";

const NAME = "shop";
let c: HaCluster;
let writer: Writer | undefined;

function child(apiVersion: string, kind: string, name: string): KObject | undefined {
  return c.rt.store.get(apiVersion, kind, "default", name);
}

function specValid(): { status?: string; message?: string } | undefined {
  const conditions = ((c.rt.cluster()?.["status"] as { conditions?: Array<{ type: string; status: string; message: string }> } | undefined)?.conditions ??
    []) as Array<{ type: string; status: string; message: string }>;
  return conditions.find((x) => x.type === "SpecValid");
}

beforeAll(async () => {
  c = await startHaCluster({ ipPrefix: "127.30.95", name: NAME, spec: { failover: { delaySeconds: 2 } }, crashLoopBaseMs: 3000, crashLoopMaxMs: 3000 });
}, 180_000);

afterAll(async () => {
  await writer?.stop();
  await c?.rt.stop();
  if (c) {
    expect(leftoverPids(c.t.stateDir)).toEqual([]);
    if (!process.env.KEEP_STATE) rmSync(c.t.stateDir, { recursive: true, force: true });
  }
}, 120_000);

describe("invalid spec: HA keeps running on the last valid spec (MariaDB, local runtime)", () => {
  it("fails over a SIGKILLed primary while the spec is invalid, writes continue through <c>, nothing else changes; fixing the spec converges Healthy", async () => {
    // Every pod's first crash restarts at once: crash each once so the next crash stays down.
    for (const p of [`${NAME}-0`, `${NAME}-1`, `${NAME}-2`]) {
      c.rt.kill(p, "KILL");
      await eventually(() => c.rt.kubelet.pods().find((x) => x.name === p && x.restarts >= 1 && x.ready), 30_000, `${p} restarted`);
      await c.waitHealthy(60_000, 3);
    }
    writer = new Writer(() => c.service()).start();
    await writer.waitForAcks(50, 20_000);

    // An operator-owned option: the spec is invalid, nothing of it reaches the servers.
    const stsBefore = JSON.stringify((child("apps/v1", "StatefulSet", NAME) as { spec?: unknown } | undefined)?.spec);
    const configBefore = JSON.stringify(child("v1", "ConfigMap", `${NAME}-config`)?.["data"]);
    await c.applySpec({ mysqlConfig: { read_only: "OFF" } });
    await eventually(() => c.status().state === "Invalid", 30_000, "state Invalid");
    expect(specValid()).toMatchObject({ status: "False" });
    expect(specValid()?.message).toContain("spec.mysqlConfig.read_only");

    const old = c.primary();
    expect(old).not.toBe("");
    const killedAt = Date.now();
    c.rt.kill(old, "KILL");
    await eventually(() => c.primary() !== old && c.primary() !== "", 60_000, `failover away from ${old} with an invalid spec`);
    expect(c.status().lastOperation).toMatchObject({ type: "Failover", from: old });
    expect(c.status().state).toBe("Invalid");
    // Writes continue through the read-write Service, which now selects the new primary.
    await writer.waitForAcks(50, 30_000);
    const selector = (child("v1", "Service", NAME) as { spec?: { selector?: Record<string, string> } } | undefined)?.spec?.selector;
    expect(selector?.["statefulset.kubernetes.io/pod-name"]).toBe(c.primary());
    process.stderr.write(`failover with an invalid spec: write gap ${writer.gap(killedAt, Date.now()).ms} ms\n`);
    const ids = await c.idsOn(c.primary());
    expect(writer.lost(ids, Date.now())).toEqual([]);

    // The old primary comes back and rejoins as a replica, still on the last valid spec.
    await eventually(
      () => (c.status().instances ?? []).find((i) => i.name === old && i.role === "replica" && i.ready),
      60_000,
      `${old} rejoined while the spec is invalid`,
    );
    expect(c.status().state).toBe("Invalid");
    // Nothing but the children following the primary changed: the invalid option is nowhere.
    expect(JSON.stringify((child("apps/v1", "StatefulSet", NAME) as { spec?: unknown } | undefined)?.spec)).toBe(stsBefore);
    expect(JSON.stringify(child("v1", "ConfigMap", `${NAME}-config`)?.["data"])).toBe(configBefore);

    // Fixing the spec converges Healthy, with one primary taking writes.
    await c.applySpec({ mysqlConfig: {} });
    await c.waitHealthy(60_000, 3);
    expect(specValid()).toMatchObject({ status: "True" });
    await writer.waitForAcks(50, 20_000);
    const upTo = Date.now();
    expect(writer.lost(await c.idsOn(c.primary()), upTo)).toEqual([]);
  }, 300_000);
});
