/**
 * Supervised rolling updates, the pure part (src/topology/rollout.ts and the decider's use of it,
 * docs/clustering.md "Rolling updates"): the partition, the switchover before the primary's pod,
 * and the pauses. Outcomes for one observation each; no sequence of syncs is assumed.
 */
import { describe, expect, it } from "vitest";
import { MySQLClusterSpecSchema, type MySQLClusterStatus } from "../../src/api/cluster.js";
import {
  decide,
  planRollout,
  type DecideInput,
  type InstanceObservation,
  type InstanceProbe,
  type RolloutGate,
  type RolloutObservation,
} from "../../src/topology/index.js";

const OLD = "db-aaaa";
const NEW = "db-bbbb";
const ip = (n: number) => `10.0.0.${n + 1}`;

const open: RolloutGate = { blocked: undefined, primaryOrdinal: 0, primaryUpdatable: "switchover", switching: false };
const obs = (partition: number | undefined, replicas = 3, updateRevision: string | undefined = NEW): RolloutObservation => ({
  exists: true,
  updateRevision,
  partition,
  replicas,
});
const pods = (...revs: string[]) => revs.map((revision, ordinal) => ({ ordinal, revision }));

describe("planRollout: the partition", () => {
  it("holds every pod when all run the update revision, or before the StatefulSet exists", () => {
    expect(planRollout("db", obs(3), pods(NEW, NEW, NEW), open)).toMatchObject({ partition: undefined, phase: "UpToDate" });
    expect(planRollout("db", { exists: false, updateRevision: undefined, partition: undefined, replicas: 0 }, [], open).partition).toBeUndefined();
  });
  it("keeps the observed partition while the StatefulSet's status is not current", () => {
    expect(planRollout("db", { ...obs(2), updateRevision: undefined }, pods(OLD, OLD, NEW), open)).toMatchObject({ partition: 2, phase: "Unknown" });
  });
  it("lowers the partition to the highest stale ordinal when the gate is open and it is not the primary", () => {
    expect(planRollout("db", obs(3), pods(OLD, OLD, OLD), open)).toMatchObject({ partition: 2, phase: "Updating", next: 2 });
    expect(planRollout("db", obs(2), pods(OLD, OLD, NEW), open)).toMatchObject({ partition: 1, next: 1 });
  });
  it("keeps a partition that already reaches the pod being replaced (raising it would re-create it at the old revision)", () => {
    expect(planRollout("db", obs(1), pods(OLD, OLD, NEW), { ...open, blocked: "replica down" })).toMatchObject({ partition: 1, phase: "Updating" });
  });
  it("pauses one above the next stale ordinal while the gate is closed, and says why", () => {
    const plan = planRollout("db", obs(3), pods(OLD, OLD, OLD), { ...open, blocked: "waiting for the cluster to be Healthy (now Degraded)" });
    expect(plan).toMatchObject({ partition: 3, phase: "Paused" });
    expect(plan.message).toMatch(/^rollout paused: waiting for the cluster to be Healthy/);
  });
  it("never lowers the partition onto the primary: it is moved first (or the rollout pauses when nobody can take over)", () => {
    expect(planRollout("db", obs(1), pods(OLD, NEW, NEW), { ...open, primaryOrdinal: 0 })).toMatchObject({ partition: 1, phase: "Updating" });
    expect(planRollout("db", obs(3), pods(OLD, OLD, OLD), { ...open, primaryOrdinal: 2, switching: true })).toMatchObject({ partition: 3 });
    expect(planRollout("db", obs(1), pods(OLD, NEW, NEW), { ...open, primaryOrdinal: 0, primaryUpdatable: "no" })).toMatchObject({
      partition: 1,
      phase: "Paused",
    });
  });
  it("updates a single instance in place (nothing to move to)", () => {
    expect(planRollout("db", obs(1, 1), pods(OLD), { ...open, primaryOrdinal: 0, primaryUpdatable: "alone" })).toMatchObject({ partition: 0 });
  });
  it("counts a missing pod as not updated", () => {
    expect(
      planRollout(
        "db",
        obs(3),
        [
          { ordinal: 0, revision: OLD },
          { ordinal: 1, revision: NEW },
        ],
        { ...open, blocked: "db-2 missing" },
      ),
    ).toMatchObject({
      partition: 3,
      next: 2,
    });
  });
});

// ---------------------------------------------------------------------------------------------
// The decider with a rollout: a healthy 3-instance MariaDB cluster, primary `p`, pod revisions.

function probe(ordinal: number, primary: number): InstanceProbe {
  const isPrimary = ordinal === primary;
  return {
    flavor: "mariadb",
    serverId: 100 + ordinal,
    version: "10.11.19-MariaDB",
    readOnly: !isPrimary,
    superReadOnly: !isPrimary,
    gtidState: "0-100-10",
    gtidExecuted: "0-100-10",
    gtidBinlogPos: "0-100-10",
    gtidSlavePos: "0-100-10",
    replica: isPrimary
      ? null
      : {
          sourceHost: ip(primary),
          sourcePort: 3306,
          sourceUser: "repl",
          ioRunning: "Yes",
          sqlRunning: true,
          receivedGtids: "0-100-10",
          lastIoErrno: 0,
          lastIoError: "",
          lastSqlErrno: 0,
          lastSqlError: "",
          secondsBehindSource: 0,
        },
    semiSync: isPrimary
      ? { sourceEnabled: true, replicaEnabled: true, waitCount: 1, timeoutMs: 86_400_000, clients: 2, waitSessions: 0 }
      : { sourceEnabled: false, replicaEnabled: true, waitCount: 1, timeoutMs: 10000, clients: 0, waitSessions: 0 },
  };
}

function input(opts: {
  primary: number;
  revisions: string[];
  partition?: number;
  previousState?: MySQLClusterStatus["state"];
  weights?: Record<string, number>;
}): DecideInput {
  const instances: InstanceObservation[] = opts.revisions.map((revision, ordinal) => ({
    name: `db-${ordinal}`,
    ordinal,
    podExists: true,
    podReady: true,
    terminating: false,
    podIP: ip(ordinal),
    revision,
    probe: { ok: true, status: probe(ordinal, opts.primary) },
  }));
  return {
    clusterName: "db",
    spec: MySQLClusterSpecSchema.parse({ flavor: "mariadb", instances: opts.revisions.length, memberWeights: opts.weights ?? {} }),
    previous: {
      state: opts.previousState ?? "Healthy",
      currentPrimary: `db-${opts.primary}`,
      instances: instances.map((i) => ({
        name: i.name,
        ordinal: i.ordinal,
        role: i.ordinal === opts.primary ? "primary" : "replica",
        ready: true,
        weight: 50,
      })),
    },
    instances,
    now: new Date("2030-01-01T00:00:00Z"),
    rollout: obs(opts.partition ?? opts.revisions.length, opts.revisions.length),
  };
}

describe("decide with a rollout", () => {
  it("a Healthy cluster with every pod updated holds all pods and says UpToDate", () => {
    const d = decide(input({ primary: 0, revisions: [NEW, NEW, NEW] }));
    expect(d.operation.type).toBe("none");
    expect(d.rollout).toMatchObject({ partition: undefined, phase: "UpToDate" });
  });
  it("replaces replicas first: the highest stale ordinal that is not the primary", () => {
    const d = decide(input({ primary: 0, revisions: [OLD, OLD, OLD] }));
    expect(d.operation.type).toBe("none");
    expect(d.rollout).toMatchObject({ partition: 2, phase: "Updating" });
    expect(d.status.state).toBe("Healthy");
  });
  it("waits for a second Healthy observation (the status Metacontroller writes after the children)", () => {
    const d = decide(input({ primary: 0, revisions: [OLD, OLD, NEW], partition: 2, previousState: "Degraded" }));
    expect(d.rollout).toMatchObject({ partition: 2, phase: "Paused" });
    expect(d.status.message).toMatch(/rollout paused: waiting for the cluster to stay Healthy/);
  });
  it("switches over to an updated replica when the primary's pod is next, without lowering the partition", () => {
    const d = decide(input({ primary: 0, revisions: [OLD, NEW, NEW], partition: 1 }));
    expect(d.operation).toMatchObject({ type: "switchover", from: "db-0", to: "db-1", leaveOldPrimaryFenced: true });
    expect(d.rollout?.partition).toBe(1);
    expect(d.status.currentPrimary).toBe("db-1");
  });
  it("moves a primary on the highest ordinal to a not-yet-updated replica before anything is replaced", () => {
    const d = decide(input({ primary: 2, revisions: [OLD, OLD, OLD] }));
    expect(d.operation).toMatchObject({ type: "switchover", from: "db-2", to: "db-0" });
    expect(d.rollout?.partition).toBe(3);
  });
  it("does not move the primary for a weight to a pod still to be updated (it would move again)", () => {
    const d = decide(input({ primary: 2, revisions: [OLD, OLD, NEW], partition: 2, weights: { "0": 90 } }));
    expect(d.operation.type).toBe("none");
    expect(d.rollout).toMatchObject({ partition: 1 });
  });
  it("pauses while a replica lags, and while the cluster is Degraded", () => {
    const lagging = input({ primary: 0, revisions: [OLD, OLD, OLD] });
    const r = lagging.instances[1]?.probe;
    if (r?.ok && r.status.replica) {
      r.status.replica.secondsBehindSource = 30;
      r.status.gtidExecuted = "0-100-5";
    }
    expect(decide(lagging).rollout).toMatchObject({ partition: 3, phase: "Paused" });
    const base = input({ primary: 0, revisions: [OLD, OLD, OLD] });
    const degraded: DecideInput = {
      ...base,
      instances: base.instances.map((o) => (o.ordinal === 2 ? { ...o, podReady: false, probe: { ok: false, error: "connect ECONNREFUSED" } } : o)),
    };
    const d = decide(degraded);
    expect(d.status.state).toBe("Degraded");
    expect(d.rollout).toMatchObject({ partition: 3, phase: "Paused" });
    expect(d.status.message).toMatch(/rollout paused/);
  });
  it("is deterministic: the same observation gives the same plan", () => {
    expect(decide(input({ primary: 2, revisions: [OLD, NEW, NEW], partition: 1 }))).toEqual(
      decide(input({ primary: 2, revisions: [OLD, NEW, NEW], partition: 1 })),
    );
  });
});
