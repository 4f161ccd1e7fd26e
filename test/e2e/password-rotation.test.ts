/**
 * Editing the credentials Secret of a running cluster (issue 10 item 7), end to end through the
 * local runtime with real mariadbd, the real hook server and an application writing through
 * `<c>` the whole time: the operator's and the replication passwords change online (through the
 * primary's binary log), root's by a rolling restart of the pods (each start converges it), the
 * probes never depend on a Secret password, and at the end the new passwords work everywhere,
 * the old ones nowhere, nothing acknowledged is lost and the cluster is Healthy. Pod IPs
 * 127.20.91.0/24.
 */
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { OPERATOR_USER, REPLICATION_USER } from "../../src/api/constants.js";
import { type HaCluster, Writer, startHaCluster } from "../helpers/ha.js";
import { createConnection } from "mysql2/promise";
import { destroy, eventually, finishStateDir, leftoverPids } from "../helpers/local.js";

const NAME = "rot";
let c: HaCluster;
let w: Writer;
let failed = false;
beforeEach(({ onTestFailed }) => onTestFailed(() => void (failed = true)));

const decode = (v: unknown): string => Buffer.from(String(v ?? ""), "base64").toString("utf8");
const encode = (v: string): string => Buffer.from(v, "utf8").toString("base64");

/** The newest `<c>-applied-credentials-<revision>`'s data. */
function appliedData(): Record<string, string> {
  const revisions = c.rt.store.list({ kind: "Secret" }).flatMap((o) => {
    const m = new RegExp(`^${NAME}-applied-credentials-(\\d+)$`).exec(o.metadata.name);
    return m ? [Number(m[1])] : [];
  });
  return revisions.length ? secretData(`${NAME}-applied-credentials-${Math.max(...revisions)}`) : {};
}

function secretData(name: string): Record<string, string> {
  const s = c.rt.store.get("v1", "Secret", "default", name);
  return { ...((s?.data ?? {}) as Record<string, string>) };
}

async function canLogin(host: string, user: string, password: string): Promise<boolean> {
  try {
    destroy(await createConnection({ host, port: 3306, user, password, connectTimeout: 3000 }));
    return true;
  } catch {
    return false;
  }
}

beforeAll(async () => {
  c = await startHaCluster({ ipPrefix: "127.20.91", name: NAME, spec: { instances: 3, failover: { delaySeconds: 2 } }, resyncPeriodSeconds: 5 });
  w = new Writer(() => c.service()).start();
  await w.waitForAcks(100, 20_000);
}, 150_000);

afterAll(async () => {
  await w?.stop();
  await c?.rt.stop();
  if (c) {
    expect(leftoverPids(c.t.stateDir)).toEqual([]);
    finishStateDir(c.t.stateDir, failed);
  }
}, 120_000);

describe("rotating the passwords of a running cluster (local runtime, MariaDB)", () => {
  it("a Secret edit rotates operator, replication and root passwords with no write lost", async () => {
    const before = secretData(`${NAME}-credentials`);
    const old = { root: decode(before["root-password"]), operator: decode(before["operator-password"]), replication: decode(before["replication-password"]) };
    const next = { root: "root-Rotated'1", operator: "op-Rotated\\2", replication: 'repl-Rotated"3' };
    const secret = c.rt.store.get("v1", "Secret", "default", `${NAME}-credentials`);
    if (!secret) throw new Error("no credentials Secret");
    // `kubectl edit secret`: the same object with new data.
    c.rt.applyObject({
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: `${NAME}-credentials`, namespace: "default", labels: secret.metadata.labels ?? {} },
      type: "Opaque",
      data: { "root-password": encode(next.root), "operator-password": encode(next.operator), "replication-password": encode(next.replication) },
    });
    c.resync();
    // Service accounts online, then root by the rolling restart: every pod of root generation 1, Healthy.
    await eventually(() => decode(appliedData()["operator-password"]) === next.operator || undefined, 60_000, "the operator password applied online");
    await eventually(
      () => {
        const pods = c.rt.store.list({ kind: "Pod" }).filter((p) => p.metadata.name.startsWith(`${NAME}-`) && /-\d+$/.test(p.metadata.name));
        const rolled = pods.length === 3 && pods.every((p) => p.metadata.annotations?.["metamysql.dev/root-generation"] === "1");
        const s = c.status();
        return (rolled && s.state === "Healthy" && c.rt.status().pods.every((p) => p.ready)) || undefined;
      },
      240_000,
      "every pod restarted for root's new password and the cluster Healthy",
    );
    await c.waitHealthy(60_000, 3);
    c.password = next.root;
    for (const p of c.rt.status().pods) {
      expect(await canLogin(p.ip, "root", next.root), `root with its new password on ${p.name}`).toBe(true);
      expect(await canLogin(p.ip, "root", old.root), `root with its old password on ${p.name}`).toBe(false);
      expect(await canLogin(p.ip, OPERATOR_USER, next.operator), `operator, new, on ${p.name}`).toBe(true);
      expect(await canLogin(p.ip, OPERATOR_USER, old.operator), `operator, old, on ${p.name}`).toBe(false);
      expect(await canLogin(p.ip, REPLICATION_USER, next.replication), `replication, new, on ${p.name}`).toBe(true);
      expect(await canLogin(p.ip, REPLICATION_USER, old.replication), `replication, old, on ${p.name}`).toBe(false);
    }
    await w.waitForAcks(50, 30_000);
    const upTo = Date.now();
    for (const p of c.rt.status().pods) {
      const ids = await eventually(
        async () => {
          const have = await c.idsOn(p.name);
          return w.lost(have, upTo).length === 0 ? have : undefined;
        },
        30_000,
        `every acknowledged write on ${p.name}`,
      );
      expect(w.lost(ids, upTo)).toEqual([]);
    }
    expect(c.status().instances?.every((i) => i.role === "primary" || i.role === "replica")).toBe(true);
  }, 400_000);
});
