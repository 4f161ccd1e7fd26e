/**
 * The decider as a table of named cases (MOCO style), built with a small fluent builder.
 */
import { describe, expect, it } from "vitest";
import { MySQLClusterSpecSchema, type MySQLClusterSpecInput, type MySQLClusterStatus } from "../../src/api/cluster.js";
import { decide, type DecideInput, type Decision, type InstanceObservation, type InstanceProbe } from "../../src/topology/index.js";
import { RESYNC } from "../../src/topology/rules.js";

const T0 = Date.parse("2030-01-01T00:00:00Z");
const ip = (n: number) => `10.0.0.${n + 1}`;

type InstanceTweak = (o: InstanceObservation, p: InstanceProbe | undefined) => void;

class ClusterBuilder {
  private specInput: MySQLClusterSpecInput;
  private previous: MySQLClusterStatus = {};
  private readonly obs = new Map<number, InstanceObservation>();
  private nowMs = T0;

  constructor(instances: number, flavor: "mariadb" | "mysql" = "mariadb") {
    this.specInput = { flavor, instances };
  }

  spec(patch: Partial<MySQLClusterSpecInput>): this {
    this.specInput = { ...this.specInput, ...patch };
    return this;
  }
  weights(w: Record<string, number>): this {
    return this.spec({ memberWeights: w });
  }
  prev(status: MySQLClusterStatus): this {
    this.previous = { ...this.previous, ...status };
    return this;
  }
  /** Previous status listed `ordinal` with `role` (and the primary, when role is primary). */
  prevRole(ordinal: number, role: "primary" | "replica" | "errant" | "unavailable" | "pending", errant?: string): this {
    const instances = (this.previous.instances ?? []).filter((i) => i.ordinal !== ordinal);
    instances.push({ name: `db-${ordinal}`, ordinal, role, ready: true, weight: 50, ...(errant ? { errantTransactions: errant } : {}) });
    return this.prev({ instances, ...(role === "primary" ? { currentPrimary: `db-${ordinal}` } : {}) });
  }
  at(secondsAfterT0: number): this {
    this.nowMs = T0 + secondsAfterT0 * 1000;
    return this;
  }

  private base(ordinal: number, gtids: string): InstanceProbe {
    return {
      flavor: "mariadb",
      serverId: 100 + ordinal,
      version: "10.11.19-MariaDB",
      readOnly: true,
      superReadOnly: true,
      gtidState: gtids,
      gtidExecuted: gtids,
      gtidBinlogPos: gtids,
      gtidSlavePos: gtids,
      replica: null,
      semiSync: { sourceEnabled: false, replicaEnabled: true, waitCount: 1, timeoutMs: 10000, clients: 0, waitSessions: 0 },
    };
  }
  private put(ordinal: number, probe: InstanceProbe | undefined, error?: string): this {
    this.obs.set(ordinal, {
      name: `db-${ordinal}`,
      ordinal,
      podExists: true,
      podReady: probe !== undefined,
      terminating: false,
      podIP: ip(ordinal),
      probe: probe ? { ok: true, status: { ...probe, flavor: this.specInput.flavor ?? "mysql" } } : { ok: false, error: error ?? "connect ETIMEDOUT" },
    });
    return this;
  }
  /** A fresh instance: read-only, no replication, no GTIDs. */
  fresh(ordinal: number): this {
    return this.put(ordinal, this.base(ordinal, ""));
  }
  /** The current primary: writable, semi-sync source as planned. */
  primary(ordinal: number, gtids = "0-100-10"): this {
    this.prevRole(ordinal, "primary");
    return this.put(ordinal, {
      ...this.base(ordinal, gtids),
      readOnly: false,
      superReadOnly: false,
      semiSync: { sourceEnabled: true, replicaEnabled: true, waitCount: 1, timeoutMs: 86_400_000, clients: 2, waitSessions: 0 },
    });
  }
  /** A healthy replica of `source` that received `received` and applied `executed`. */
  replica(ordinal: number, opts: { source?: number; executed?: string; received?: string; lag?: number; state?: string } = {}): this {
    const executed = opts.executed ?? "0-100-10";
    if (!this.previous.instances?.some((i) => i.ordinal === ordinal)) this.prevRole(ordinal, "replica");
    return this.put(ordinal, {
      ...this.base(ordinal, opts.state ?? executed),
      gtidExecuted: executed,
      gtidBinlogPos: executed,
      replica: {
        sourceHost: ip(opts.source ?? 0),
        sourcePort: 3306,
        sourceUser: "repl",
        ioRunning: "Yes",
        sqlRunning: true,
        receivedGtids: opts.received ?? executed,
        lastIoErrno: 0,
        lastIoError: "",
        lastSqlErrno: 0,
        lastSqlError: "",
        secondsBehindSource: opts.lag ?? 0,
      },
    });
  }
  down(ordinal: number, error = "connect ECONNREFUSED"): this {
    return this.put(ordinal, undefined, error);
  }
  missing(ordinal: number): this {
    this.obs.set(ordinal, { name: `db-${ordinal}`, ordinal, podExists: false, podReady: false, terminating: false, podIP: undefined, probe: undefined });
    return this;
  }
  tweak(ordinal: number, fn: InstanceTweak): this {
    const o = this.obs.get(ordinal);
    if (!o) throw new Error(`no instance ${ordinal}`);
    fn(o, o.probe?.ok ? o.probe.status : undefined);
    return this;
  }
  build(): DecideInput {
    return {
      clusterName: "db",
      spec: MySQLClusterSpecSchema.parse(this.specInput),
      previous: structuredClone(this.previous),
      instances: [...this.obs.values()].map((o) => structuredClone(o)),
      now: new Date(this.nowMs),
    };
  }
}

const cluster = (n = 3, flavor: "mariadb" | "mysql" = "mariadb") => new ClusterBuilder(n, flavor);
const healthy3 = () => cluster().primary(0).replica(1).replica(2);
const failing = (secondsDown: number) =>
  cluster()
    .prev({ failingSince: new Date(T0).toISOString() })
    .at(secondsDown);

interface Case {
  name: string;
  input: () => ClusterBuilder;
  expect: (d: Decision) => void;
}

const roleOf = (d: Decision, n: number) => d.status.instances.find((i) => i.ordinal === n)?.role;
const eps = (d: Decision) => d.readOnlyEndpoints.map((e) => e.name);

const cases: Case[] = [
  {
    name: "bootstrap",
    input: () => cluster().fresh(0).fresh(1).fresh(2),
    expect: (d) => {
      expect(d.operation).toMatchObject({ type: "bootstrap", target: "db-0" });
      expect(d.status).toMatchObject({ state: "Initializing", currentPrimary: "db-0", lastOperation: { type: "Bootstrap", to: "db-0" } });
      expect([roleOf(d, 0), roleOf(d, 1), roleOf(d, 2)]).toEqual(["primary", "pending", "pending"]);
    },
  },
  {
    name: "bootstrap-highest-weight",
    input: () => cluster().fresh(0).fresh(1).fresh(2).weights({ "2": 80, "1": 80 }),
    expect: (d) => expect(d.operation).toMatchObject({ type: "bootstrap", target: "db-1" }),
  },
  {
    name: "bootstrap-waits-for-all-instances",
    input: () => cluster().fresh(0).fresh(1).missing(2),
    expect: (d) => {
      expect(d.operation.type).toBe("none");
      expect(d.status.state).toBe("Initializing");
      expect(d.status.message).toContain("db-2");
      expect(d.status.currentPrimary).toBe("");
    },
  },
  {
    name: "bootstrap-weight-0-never-primary",
    input: () => cluster().fresh(0).fresh(1).fresh(2).weights({ "0": 0 }),
    expect: (d) => expect(d.operation).toMatchObject({ type: "bootstrap", target: "db-1" }),
  },
  {
    name: "bootstrap-fences-writable-first",
    input: () =>
      cluster()
        .fresh(0)
        .fresh(1)
        .fresh(2)
        .tweak(1, (_o, p) => p && (p.readOnly = false)),
    expect: (d) => expect(d.operation).toMatchObject({ type: "setReadOnly", targets: ["db-1"] }),
  },
  {
    name: "bootstrap-keeps-the-data-holder",
    input: () => cluster().fresh(0).fresh(1).replica(2, { executed: "0-100-10" }).prev({ instances: [] }),
    expect: (d) => expect(d.operation).toMatchObject({ type: "bootstrap", target: "db-2" }),
  },
  {
    name: "bootstrap-diverged-is-lost",
    input: () => cluster().fresh(0).replica(1, { executed: "0-101-3" }).replica(2, { executed: "0-102-4" }).prev({ instances: [] }),
    expect: (d) => {
      expect(d.operation.type).toBe("none");
      expect(d.status.state).toBe("Lost");
    },
  },
  {
    name: "configure-replicas-after-bootstrap",
    input: () =>
      cluster()
        .primary(0)
        .fresh(1)
        .fresh(2)
        .prevRole(1, "pending")
        .prevRole(2, "pending")
        .prev({ lastOperation: { type: "Bootstrap", to: "db-0", reason: "r", time: "t" } }),
    expect: (d) => {
      expect(d.operation).toMatchObject({ type: "configureReplica", targets: ["db-1", "db-2"], source: "db-0" });
      expect(roleOf(d, 1)).toBe("replica");
      expect(eps(d)).toEqual(["db-0"]);
      expect(d.status.lastOperation?.type).toBe("Bootstrap");
    },
  },
  {
    name: "healthy",
    input: healthy3,
    expect: (d) => {
      expect(d.operation.type).toBe("none");
      expect(d.status.state).toBe("Healthy");
      expect(d.status.failingSince).toBeUndefined();
      expect(eps(d)).toEqual(["db-1", "db-2"]);
      expect(d.resyncAfterSeconds).toBe(RESYNC.healthy);
      expect(d.semiSync).toEqual({ enabled: true, waitCount: 1, timeoutMs: 86_400_000 });
    },
  },
  {
    name: "degraded-replica-down",
    input: () => healthy3().down(2),
    expect: (d) => {
      expect(d.status.state).toBe("Degraded");
      expect(roleOf(d, 2)).toBe("unavailable");
      expect(d.operation.type).toBe("none");
      expect(eps(d)).toEqual(["db-1"]);
    },
  },
  {
    name: "degraded-replica-errant",
    input: () => healthy3().replica(1, { state: "0-100-10,0-101-1" }),
    expect: (d) => {
      expect(d.status.state).toBe("Degraded");
      expect(d.status.instances[1]).toMatchObject({ role: "errant", errantTransactions: "0-101-1" });
      // Quarantine: an instance that is never a candidate must not acknowledge commits either.
      expect(d.operation).toMatchObject({ type: "quarantine", targets: ["db-1"] });
      expect(eps(d)).toEqual(["db-2"]);
    },
  },
  {
    name: "degraded-replica-errant-quarantined",
    input: () =>
      healthy3()
        .replica(1, { state: "0-100-10,0-101-1" })
        .tweak(1, (_o, p) => p?.replica && Object.assign(p.replica, { ioRunning: "No" })),
    expect: (d) => {
      expect(d.status.state).toBe("Degraded");
      expect(d.status.instances[1]).toMatchObject({ role: "errant", errantTransactions: "0-101-1" });
      expect(d.operation.type).toBe("none");
      expect(eps(d)).toEqual(["db-2"]);
    },
  },
  {
    name: "restarted-primary-reopened-when-it-holds-everything",
    input: () =>
      healthy3().tweak(0, (_o, p) => p && Object.assign(p, { readOnly: true, superReadOnly: true, semiSync: { ...p.semiSync, sourceEnabled: false } })),
    expect: (d) => expect(d.operation).toMatchObject({ type: "configurePrimary", target: "db-0" }),
  },
  {
    name: "restarted-primary-lacking-what-a-replica-received-is-not-reopened",
    input: () =>
      cluster()
        .primary(0, "0-100-10")
        .replica(1, { executed: "0-100-12" })
        .replica(2)
        .tweak(0, (_o, p) => p && Object.assign(p, { readOnly: true, superReadOnly: true })),
    expect: (d) => {
      expect(d.operation.type).toBe("none");
      expect(d.status).toMatchObject({ state: "Failed", currentPrimary: "db-0", failingSince: new Date(T0).toISOString() });
      expect(d.status.instances[0]).toMatchObject({ role: "unavailable", message: expect.stringContaining("lacks transactions db-1 received") });
    },
  },
  {
    name: "restarted-primary-lacking-what-a-replica-received-fails-over-after-the-delay",
    input: () =>
      failing(6)
        .primary(0, "0-100-10")
        .replica(1, { executed: "0-100-12" })
        .replica(2)
        .tweak(0, (_o, p) => p && Object.assign(p, { readOnly: true, superReadOnly: true })),
    expect: (d) => expect(d.operation).toMatchObject({ type: "failover", from: "db-0", to: "db-1" }),
  },
  {
    name: "restarted-primary-reopened-despite-a-replica-own-errant-write",
    input: () =>
      healthy3()
        .replica(1, { state: "0-100-10,0-101-1" })
        .tweak(0, (_o, p) => p && Object.assign(p, { readOnly: true, superReadOnly: true })),
    expect: (d) => {
      expect(d.operation).toMatchObject({ type: "configurePrimary", target: "db-0" });
      expect(d.status.instances[1]).toMatchObject({ role: "errant" });
    },
  },
  {
    name: "degraded-replica-broken-applier",
    input: () => healthy3().tweak(2, (_o, p) => p?.replica && Object.assign(p.replica, { sqlRunning: false, lastSqlErrno: 1062, lastSqlError: "dup" })),
    expect: (d) => {
      expect(roleOf(d, 2)).toBe("unavailable");
      expect(d.status.instances[2]?.message).toContain("1062");
      expect(d.operation.type).toBe("none");
    },
  },
  {
    name: "fence-writable-replica",
    input: () => healthy3().tweak(2, (_o, p) => p && (p.readOnly = false)),
    expect: (d) => expect(d.operation).toMatchObject({ type: "setReadOnly", targets: ["db-2"] }),
  },
  {
    name: "mysql-fence-needs-super-read-only",
    input: () =>
      cluster(3, "mysql")
        .primary(0, "a")
        .replica(1)
        .replica(2)
        .tweak(0, (_o, p) => p && Object.assign(p, { gtidState: "", gtidExecuted: "", gtidBinlogPos: "" }))
        .tweak(1, (_o, p) => p && Object.assign(p, { gtidState: "", gtidExecuted: "", superReadOnly: false, replica: { ...p.replica, receivedGtids: "" } }))
        .tweak(2, (_o, p) => p && Object.assign(p, { gtidState: "", gtidExecuted: "", replica: { ...p.replica, receivedGtids: "" } })),
    expect: (d) => expect(d.operation).toMatchObject({ type: "setReadOnly", targets: ["db-1"] }),
  },
  {
    name: "reopen-restarted-primary",
    input: () => healthy3().tweak(0, (_o, p) => p && (p.readOnly = true)),
    expect: (d) => {
      expect(d.operation).toMatchObject({ type: "configurePrimary", target: "db-0" });
      expect(d.status.currentPrimary).toBe("db-0");
    },
  },
  {
    name: "primary-semi-sync-differs",
    input: () => healthy3().tweak(0, (_o, p) => p && (p.semiSync.sourceEnabled = false)),
    expect: (d) => expect(d.operation).toMatchObject({ type: "configurePrimary", target: "db-0" }),
  },
  {
    name: "replica-with-semi-sync-source-on-is-reconfigured",
    input: () => healthy3().tweak(1, (_o, p) => p && (p.semiSync.sourceEnabled = true)),
    expect: (d) => expect(d.operation).toMatchObject({ type: "configureReplica", targets: ["db-1"] }),
  },
  {
    name: "replica-pointing-at-old-ip-is-repointed",
    input: () => healthy3().replica(2, { source: 5 }),
    expect: (d) => expect(d.operation).toMatchObject({ type: "configureReplica", targets: ["db-2"], source: "db-0" }),
  },
  {
    name: "switchover-by-weight",
    input: () => healthy3().weights({ "2": 90 }),
    expect: (d) => {
      expect(d.operation).toMatchObject({ type: "switchover", from: "db-0", to: "db-2", others: ["db-1"] });
      expect(d.status.currentPrimary).toBe("db-2");
      expect(d.status.lastOperation).toMatchObject({ type: "Switchover", from: "db-0", to: "db-2" });
    },
  },
  {
    name: "no-switchover-on-equal-weight",
    input: () => healthy3().weights({ "0": 60, "1": 60 }),
    expect: (d) => expect(d.operation.type).toBe("none"),
  },
  {
    name: "no-switchover-to-lagging-replica",
    input: () => healthy3().weights({ "1": 90 }).replica(1, { executed: "0-100-5", lag: 100 }),
    expect: (d) => expect(d.operation.type).toBe("none"),
  },
  {
    name: "no-switchover-to-errant-replica",
    input: () => healthy3().weights({ "1": 90 }).replica(1, { state: "0-100-10,0-101-2" }),
    expect: (d) => expect(d.operation).toMatchObject({ type: "quarantine", targets: ["db-1"] }),
  },
  {
    name: "no-switchover-to-quarantined-errant-replica",
    input: () =>
      healthy3()
        .weights({ "1": 90 })
        .replica(1, { state: "0-100-10,0-101-2" })
        .tweak(1, (_o, p) => p?.replica && Object.assign(p.replica, { ioRunning: "No" })),
    expect: (d) => expect(d.operation.type).toBe("none"),
  },
  {
    name: "switchover-terminating",
    input: () => healthy3().tweak(0, (o) => (o.terminating = true)),
    expect: (d) => expect(d.operation).toMatchObject({ type: "switchover", from: "db-0", to: "db-1", reason: expect.stringContaining("terminating") }),
  },
  {
    name: "switchover-scale-down",
    input: () => cluster(2).primary(2).replica(0, { source: 2 }).replica(1, { source: 2 }),
    expect: (d) => expect(d.operation).toMatchObject({ type: "switchover", from: "db-2", to: "db-0", reason: expect.stringContaining("scale-down") }),
  },
  {
    name: "switchover-away-from-weight-0",
    input: () => healthy3().weights({ "0": 0 }),
    expect: (d) => expect(d.operation).toMatchObject({ type: "switchover", from: "db-0", to: "db-1" }),
  },
  {
    name: "failing-since-set-on-first-failure",
    input: () => healthy3().down(0).at(3),
    expect: (d) => {
      expect(d.status.state).toBe("Failed");
      expect(d.status.failingSince).toBe(new Date(T0 + 3000).toISOString());
      expect(d.operation.type).toBe("none");
      // Polls for its return until the deadline.
      expect(d.resyncAfterSeconds).toBe(RESYNC.failedPoll);
    },
  },
  {
    name: "no-failover-before-delay",
    input: () => failing(2).primary(0).replica(1).replica(2).down(0),
    expect: (d) => {
      expect(d.status.state).toBe("Failed");
      expect(d.operation.type).toBe("none");
      expect(d.resyncAfterSeconds).toBe(RESYNC.failedPoll);
      expect(eps(d)).toEqual(["db-1", "db-2"]);
    },
  },
  {
    name: "failover-after-delay",
    input: () => failing(6).primary(0).replica(1).replica(2).down(0),
    expect: (d) => {
      expect(d.operation).toMatchObject({ type: "failover", from: "db-0", to: "db-1", replicas: ["db-1", "db-2"], constraining: ["db-1", "db-2"] });
      expect(d.status).toMatchObject({ currentPrimary: "db-1", state: "Degraded", lastOperation: { type: "Failover", from: "db-0", to: "db-1" } });
      expect(d.status.failingSince).toBeUndefined();
      expect(roleOf(d, 0)).toBe("unavailable");
    },
  },
  {
    name: "failover-chooses-most-received-not-most-applied",
    input: () => failing(6).primary(0).replica(1, { executed: "0-100-9", received: "0-100-12" }).replica(2, { executed: "0-100-11" }).down(0),
    expect: (d) => expect(d.operation).toMatchObject({ type: "failover", to: "db-1" }),
  },
  {
    name: "failover-ties-by-weight-then-ordinal",
    input: () => failing(6).primary(0).replica(1).replica(2).down(0).weights({ "2": 70 }),
    expect: (d) => expect(d.operation).toMatchObject({ type: "failover", to: "db-2" }),
  },
  {
    name: "failover-disabled",
    input: () =>
      failing(60)
        .primary(0)
        .replica(1)
        .replica(2)
        .down(0)
        .spec({ failover: { enabled: false, delaySeconds: 5 } }),
    expect: (d) => {
      expect(d.status.state).toBe("Failed");
      expect(d.operation.type).toBe("none");
      expect(d.status.message).toContain("disabled");
    },
  },
  {
    name: "lost-not-enough-replicas",
    input: () => failing(6).primary(0).replica(1).replica(2).down(0).down(2),
    expect: (d) => {
      expect(d.status.state).toBe("Lost");
      expect(d.operation.type).toBe("none");
      expect(d.status.message).toMatch(/only 1 of the 2 replicas .*\(need 2\)/);
      expect(d.status.message).toContain("db-2");
      expect(d.status.currentPrimary).toBe("db-0");
    },
  },
  {
    name: "failover-ignores-never-configured-unreachable-instance",
    input: () => failing(6).primary(0).replica(1).down(0).down(2).prevRole(2, "pending"),
    expect: (d) => expect(d.operation).toMatchObject({ type: "failover", to: "db-1", replicas: ["db-1"] }),
  },
  {
    name: "async-failover-with-replica-down",
    input: () => failing(6).primary(0).replica(1).replica(2).down(0).down(2).spec({ durability: "async" }),
    expect: (d) => {
      expect(d.operation).toMatchObject({ type: "failover", to: "db-1" });
      expect(d.semiSync.enabled).toBe(false);
    },
  },
  {
    name: "errant-never-promoted",
    input: () => failing(6).primary(0).replica(1, { received: "0-100-20" }).replica(2).down(0).prevRole(1, "errant", "0-101-1"),
    expect: (d) => {
      expect(d.operation).toMatchObject({ type: "failover", to: "db-2", constraining: ["db-2"], quarantined: ["db-1"] });
      expect(d.status.instances[1]).toMatchObject({ role: "errant", errantTransactions: "0-101-1" });
    },
  },
  {
    name: "weight-0-never-primary",
    input: () => failing(6).primary(0).replica(1).replica(2).down(0).weights({ "1": 0 }),
    expect: (d) => expect(d.operation).toMatchObject({ type: "failover", to: "db-2" }),
  },
  {
    name: "weight-0-replica-ahead-is-lost",
    input: () => failing(6).primary(0).replica(1, { received: "0-100-15" }).replica(2).down(0).weights({ "1": 0 }),
    expect: (d) => {
      expect(d.status.state).toBe("Lost");
      expect(d.status.message).toContain("db-1");
    },
  },
  {
    name: "failover-fences-writable-replica-first",
    input: () =>
      failing(6)
        .primary(0)
        .replica(1)
        .replica(2)
        .down(0)
        .tweak(2, (_o, p) => p && (p.readOnly = false)),
    expect: (d) => {
      expect(d.operation).toMatchObject({ type: "setReadOnly", targets: ["db-2"] });
      expect(d.status.currentPrimary).toBe("db-0");
    },
  },
  {
    name: "failing-since-cleared-when-primary-returns",
    input: () => failing(3).primary(0).replica(1).replica(2),
    expect: (d) => {
      expect(d.status.state).toBe("Healthy");
      expect(d.status.failingSince).toBeUndefined();
    },
  },
  {
    name: "rejoin-old-primary-subset",
    input: () =>
      cluster()
        .primary(1, "0-100-10,0-101-15")
        .replica(2, { source: 1, executed: "0-100-10,0-101-15" })
        .fresh(0)
        .tweak(0, (_o, p) => p && Object.assign(p, { gtidState: "0-100-10", gtidExecuted: "0-100-10", gtidBinlogPos: "0-100-10" }))
        .prevRole(0, "unavailable"),
    expect: (d) => {
      expect(d.operation).toMatchObject({ type: "rejoin", target: "db-0", source: "db-1" });
      expect(d.status.lastOperation).toMatchObject({ type: "Rejoin", from: "db-0", to: "db-1" });
    },
  },
  {
    name: "diverged-old-primary-is-errant",
    input: () =>
      cluster()
        .primary(1, "0-100-10,0-101-15")
        .replica(2, { source: 1, executed: "0-100-10,0-101-15" })
        .fresh(0)
        .tweak(0, (_o, p) => p && Object.assign(p, { gtidState: "0-100-12", gtidExecuted: "0-100-12", gtidBinlogPos: "0-100-12" }))
        .prevRole(0, "unavailable"),
    expect: (d) => {
      expect(d.operation.type).toBe("none");
      expect(d.status.instances[0]).toMatchObject({ role: "errant", errantTransactions: "0-100-12" });
      expect(eps(d)).toEqual(["db-2"]);
    },
  },
  {
    name: "single-instance",
    input: () =>
      cluster(1)
        .primary(0)
        .tweak(0, (_o, p) => p && (p.semiSync.sourceEnabled = false)),
    expect: (d) => {
      expect(d.status.state).toBe("Healthy");
      expect(d.semiSync.enabled).toBe(false);
      expect(eps(d)).toEqual(["db-0"]);
    },
  },
  {
    name: "single-instance-down-waits",
    input: () => failing(60).spec({ instances: 1 }).primary(0).down(0),
    expect: (d) => {
      expect(d.status.state).toBe("Failed");
      expect(d.operation.type).toBe("none");
    },
  },
  {
    name: "scale-up-configures-new-replica-without-blocking",
    input: () => healthy3().spec({ instances: 4 }).fresh(3),
    expect: (d) => {
      expect(d.operation).toMatchObject({ type: "configureReplica", targets: ["db-3"] });
      expect(d.semiSync.waitCount).toBe(1);
      expect(eps(d)).toEqual(["db-1", "db-2"]);
    },
  },
];

describe("decide", () => {
  it.each(cases.map((c) => [c.name, c] as const))("%s", (_name, c) => {
    const input = c.input().build();
    const d = decide(input);
    c.expect(d);
    // Deterministic, whatever the order of observations.
    expect(decide({ ...input, instances: [...input.instances].reverse() })).toEqual(d);
    // Hot-loop rule: no GTIDs in status except errant transactions.
    const { instances, ...rest } = d.status;
    expect(JSON.stringify(rest)).not.toMatch(/\b\d+-1\d\d-\d+\b/);
    for (const i of instances) expect(JSON.stringify({ ...i, errantTransactions: undefined })).not.toMatch(/\b\d+-1\d\d-\d+\b/);
  });

  it("counts a hung primary's observation towards the delay and resyncs so that the next observation ends at the deadline", () => {
    // A hung primary: its probe ran the whole 1 s connect timeout.
    const first = decide({ ...healthy3().down(0, "connect 10.0.0.1:3306: timed out after 1000 ms").at(0).build(), observeSeconds: 1 });
    expect(first.status).toMatchObject({ state: "Failed", failingSince: new Date(T0).toISOString() });
    // Unavailable for 1 s of the 5 s delay: polled meanwhile.
    expect(first.resyncAfterSeconds).toBe(RESYNC.failedPoll);
    // 3.8 s in: the next observation (1 s) must end at T0 + 5 s, so it starts 0.2 s later.
    const last = decide({ ...failing(2.8).primary(0).replica(1).replica(2).down(0).build(), observeSeconds: 1 });
    expect(last.resyncAfterSeconds).toBeCloseTo(5 - 3.8 - 1 + RESYNC.failedSlack);
    const early = decide({ ...failing(3.9).primary(0).replica(1).replica(2).down(0).build(), observeSeconds: 1 });
    expect(early.operation.type).toBe("none");
    const atDeadline = decide({ ...failing(4.05).primary(0).replica(1).replica(2).down(0).build(), observeSeconds: 1 });
    expect(atDeadline.operation).toMatchObject({ type: "failover", from: "db-0" });
    // Recorded when it was decided (the observation's end), never before the deadline.
    expect(atDeadline.status.lastOperation?.time).toBe(new Date(T0 + 5050).toISOString());
    // Never a hot loop, however long the observation took.
    expect(decide({ ...failing(4.9).primary(0).replica(1).replica(2).down(0).build(), observeSeconds: 0.05 }).resyncAfterSeconds).toBeGreaterThanOrEqual(
      RESYNC.failedMin,
    );
  });

  it("is stable while waiting for the failover delay (no hot loop)", () => {
    const a = decide(failing(1).primary(0).replica(1).replica(2).down(0).build());
    const b = decide(failing(2).primary(0).replica(1).replica(2).down(0).build());
    expect(b.status).toEqual(a.status);
  });

  it("carries lastOperation over when nothing happens", () => {
    const last = { type: "Switchover" as const, from: "db-1", to: "db-0", reason: "r", time: "2029-01-01T00:00:00.000Z" };
    expect(decide(healthy3().prev({ lastOperation: last }).build()).status.lastOperation).toEqual(last);
  });

  it("converges: after the switchover is applied, the same spec decides nothing more", () => {
    const after = cluster().weights({ "2": 90 }).primary(2).replica(0, { source: 2 }).replica(1, { source: 2 }).build();
    expect(decide(after).operation.type).toBe("none");
  });
});
