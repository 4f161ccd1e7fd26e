/**
 * Composed operations: switchover and failover (ARCHITECTURE.md section 5, mysql-field-notes.md
 * "Switchover"/"Failover"), plus `runOperation`, which executes whatever single operation the
 * decider (src/topology) chose. Every step is safe to repeat; before promoting, each procedure
 * checks that no other reachable instance is writable, so a retried or overlapping sync cannot
 * create a second writable primary.
 */
import type { Flavor } from "../api/cluster.js";
import { MYSQL_PORT } from "../api/constants.js";
import { chooseFailoverCandidate, type RankedInstance } from "../topology/candidates.js";
import { receivedGtids } from "../topology/rules.js";
import type { Operation } from "../topology/types.js";
import {
  changeSource,
  demoteToReplica,
  isWritable,
  killClientConnections,
  promote,
  readPrimaryPosition,
  setReadOnly,
  stopReceiving,
  waitForGtid,
  type SourceOptions,
} from "./act.js";
import { connect, type Session } from "./connection.js";
import { probe } from "./observe.js";
import type { SemiSyncSourceOptions } from "./sql/index.js";

/** An instance to act on: its pod name and pod IP (port 3306 unless given). */
export interface Member {
  name: string;
  host: string;
  port?: number;
}

/** Credentials, time bounds and the semi-sync plan for the primary an operation opens. */
export interface OperationConfig {
  flavor: Flavor;
  operator: { user: string; password: string };
  replication: { user: string; password: string };
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  /** How long a candidate may take to apply what the old primary / its relay log holds. */
  catchUpTimeoutSeconds: number;
  /** Semi-sync source settings for the promoted primary (decision.semiSync). */
  semiSync: SemiSyncSourceOptions;
}

/** What an operation did: the primary afterwards, timed steps, and non-fatal problems. */
export interface OperationResult {
  primary: string | undefined;
  steps: { step: string; ms: number }[];
  warnings: string[];
}

/** Raised when an operation stops before promoting anything; nothing unsafe was left behind. */
export class OperationAborted extends Error {
  override name = "OperationAborted";
}

class Recorder {
  readonly steps: { step: string; ms: number }[] = [];
  readonly warnings: string[] = [];
  private last = performance.now();
  mark(step: string): void {
    const t = performance.now();
    this.steps.push({ step, ms: Math.round((t - this.last) * 10) / 10 });
    this.last = t;
  }
  result(primary: string | undefined): OperationResult {
    return { primary, steps: this.steps, warnings: this.warnings };
  }
}

function open(cfg: OperationConfig, m: Member, connectTimeoutMs = cfg.connectTimeoutMs): Promise<Session> {
  return connect({
    host: m.host,
    name: m.name,
    port: m.port ?? MYSQL_PORT,
    user: cfg.operator.user,
    password: cfg.operator.password,
    connectTimeoutMs,
    queryTimeoutMs: cfg.queryTimeoutMs,
  });
}

function sourceOf(cfg: OperationConfig, m: Member): SourceOptions {
  return {
    host: m.host,
    port: m.port ?? MYSQL_PORT,
    user: cfg.replication.user,
    password: cfg.replication.password,
    semiSyncReplica: cfg.semiSync.enabled,
  };
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

async function withSessions<T>(cfg: OperationConfig, members: readonly Member[], fn: (s: Map<string, Session>) => Promise<T>): Promise<T> {
  const sessions = new Map<string, Session>();
  try {
    const opened = await Promise.allSettled(members.map((m) => open(cfg, m)));
    opened.forEach((r, i) => {
      const m = members[i];
      if (m && r.status === "fulfilled") sessions.set(m.name, r.value);
    });
    const failed = opened.flatMap((r, i) => (r.status === "rejected" ? [`${members[i]?.name}: ${message(r.reason)}`] : []));
    if (failed.length > 0) throw new OperationAborted(`cannot reach ${failed.join("; ")}`);
    return await fn(sessions);
  } finally {
    for (const s of sessions.values()) s.close();
  }
}

function must(sessions: Map<string, Session>, name: string): Session {
  const s = sessions.get(name);
  if (!s) throw new OperationAborted(`no session to ${name}`);
  return s;
}

/**
 * Fence: kill client sessions, make the instance read-only, kill again. Killing first matters:
 * `SET GLOBAL read_only=1` waits for running commits, and on a primary whose replicas have
 * gone (a resumed hung primary after a failover) commits wait for a semi-sync acknowledgement
 * that never comes; the timed-out SET would also close the session. The second kill ends
 * sessions opened in between (their commits are refused by read_only already).
 */
export async function fence(s: Session, flavor: Flavor): Promise<number> {
  const first = await killClientConnections(s, flavor);
  await setReadOnly(s, flavor, true);
  return first + (await killClientConnections(s, flavor));
}

async function assertNoOtherWritable(flavor: Flavor, sessions: Map<string, Session>, except: string): Promise<void> {
  for (const [name, s] of sessions) {
    if (name !== except && (await isWritable(s, flavor))) {
      throw new OperationAborted(`${name} is writable; refusing to promote ${except} (another operation may be running)`);
    }
  }
}

async function repoint(cfg: OperationConfig, sessions: Map<string, Session>, names: readonly string[], to: Member, rec: Recorder): Promise<void> {
  const results = await Promise.allSettled(names.map((n) => changeSource(must(sessions, n), cfg.flavor, sourceOf(cfg, to))));
  results.forEach((r, i) => {
    if (r.status === "rejected") rec.warnings.push(`repoint ${names[i]} to ${to.name}: ${message(r.reason)}`);
  });
}

/** A planned switchover between two reachable instances. */
export interface SwitchoverPlan {
  from: Member;
  to: Member;
  /** Other replicas to repoint at `to` (unreachable ones are skipped with a warning). */
  others: Member[];
}

/**
 * Switchover: fence the old primary (read_only, kill clients), read its GTID position, wait for
 * the candidate to apply it, check nobody else is writable, promote the candidate, repoint the
 * others, demote the old primary with MASTER_DEMOTE_TO_SLAVE. If the candidate does not catch
 * up in time, the old primary is reopened and OperationAborted is thrown.
 */
export async function switchover(cfg: OperationConfig, plan: SwitchoverPlan): Promise<OperationResult> {
  const rec = new Recorder();
  const f = cfg.flavor;
  const others = (await Promise.allSettled(plan.others.map((m) => open(cfg, m)))).flatMap((r, i) => {
    const m = plan.others[i];
    if (r.status === "rejected" || !m) {
      rec.warnings.push(`skip ${m?.name}: ${r.status === "rejected" ? message(r.reason) : "unknown"}`);
      return [];
    }
    return [[m.name, r.value] as const];
  });
  const otherSessions = new Map(others);
  try {
    return await withSessions(cfg, [plan.from, plan.to], async (core) => {
      const from = must(core, plan.from.name);
      const to = must(core, plan.to.name);
      rec.mark("connect");
      await fence(from, f);
      rec.mark("fence old primary");
      const pos = await readPrimaryPosition(from, f);
      const caughtUp = await waitForGtid(to, f, pos, cfg.catchUpTimeoutSeconds).catch(async (err: unknown) => {
        await setReadOnly(from, f, false).catch(() => undefined);
        throw err;
      });
      if (!caughtUp) {
        await setReadOnly(from, f, false);
        throw new OperationAborted(`${plan.to.name} did not reach ${pos} within ${cfg.catchUpTimeoutSeconds}s; ${plan.from.name} reopened`);
      }
      rec.mark("candidate caught up");
      await assertNoOtherWritable(f, new Map([...otherSessions, [plan.from.name, from]]), plan.to.name);
      await promote(to, f, cfg.semiSync);
      rec.mark("promote");
      await repoint(cfg, otherSessions, [...otherSessions.keys()], plan.to, rec);
      rec.mark("repoint replicas");
      try {
        await demoteToReplica(from, f, sourceOf(cfg, plan.to));
      } catch (err) {
        rec.warnings.push(`demote ${plan.from.name}: ${message(err)}`);
      }
      rec.mark("demote old primary");
      return rec.result(plan.to.name);
    });
  } finally {
    for (const s of otherSessions.values()) s.close();
  }
}

/** A failover decided by the topology decider (its `failover` operation, names resolved). */
export interface FailoverPlan {
  /** The failed primary, when its last address is known (fenced best-effort). */
  failed: Member | undefined;
  /** The decider's choice; re-checked after fencing. */
  to: string;
  /** Every reachable replica: all are fenced (receiver stopped); all but `to` and `quarantined` are repointed. */
  replicas: Member[];
  /** Errant replicas: fenced, never repointed. */
  quarantined: string[];
  candidates: Omit<RankedInstance, "gtids">[];
  constraining: string[];
}

/**
 * Failover: fence the old primary if it answers at all, stop the receiver on every replica
 * (so no acknowledgement can reach the old primary and received sets freeze), re-read what each
 * received and re-check the choice (aborting if it changed), wait for the candidate to apply
 * its relay log, check nobody else is writable, promote, repoint the rest.
 */
export async function failover(cfg: OperationConfig, plan: FailoverPlan): Promise<OperationResult> {
  const rec = new Recorder();
  const f = cfg.flavor;
  if (plan.failed) {
    try {
      const s = await open(cfg, plan.failed, Math.min(cfg.connectTimeoutMs, 300));
      try {
        await fence(s, f);
        rec.warnings.push(`old primary ${plan.failed.name} answered and was fenced`);
      } finally {
        s.close();
      }
    } catch {
      // expected: it is down
    }
    rec.mark("fence old primary (best effort)");
  }
  return withSessions(cfg, plan.replicas, async (sessions) => {
    rec.mark("connect");
    await Promise.all([...sessions.values()].map((s) => stopReceiving(s, f)));
    rec.mark("stop receivers");
    const probes = new Map(await Promise.all([...sessions].map(async ([n, s]) => [n, await probe(s, f)] as const)));
    const ranked = (n: string, extra?: { ordinal: number; weight: number }): RankedInstance => {
      const p = probes.get(n);
      return { name: n, ordinal: extra?.ordinal ?? 0, weight: extra?.weight ?? 0, gtids: p ? receivedGtids(p) : "" };
    };
    const choice = chooseFailoverCandidate(
      f,
      plan.candidates.filter((c) => probes.has(c.name)).map((c) => ranked(c.name, c)),
      plan.constraining.filter((n) => probes.has(n)).map((n) => ranked(n)),
    );
    if (!choice.ok || choice.name !== plan.to) {
      throw new OperationAborted(`after fencing, the best candidate is ${choice.ok ? choice.name : `none (${choice.reason})`}, not ${plan.to}; deciding again`);
    }
    rec.mark("re-check candidate");
    const target = must(sessions, plan.to);
    const p = probes.get(plan.to);
    const waitFor = f === "mariadb" ? (p?.replica?.receivedGtids ?? "") : p ? receivedGtids(p) : "";
    if (waitFor !== "" && !(await waitForGtid(target, f, waitFor, cfg.catchUpTimeoutSeconds))) {
      throw new OperationAborted(`${plan.to} did not apply its relay log (${waitFor}) within ${cfg.catchUpTimeoutSeconds}s`);
    }
    rec.mark("apply relay log");
    await assertNoOtherWritable(f, sessions, plan.to);
    await promote(target, f, cfg.semiSync);
    rec.mark("promote");
    const toMember = plan.replicas.find((m) => m.name === plan.to);
    if (!toMember) throw new OperationAborted(`no address for ${plan.to}`);
    await repoint(
      cfg,
      sessions,
      [...sessions.keys()].filter((n) => n !== plan.to && !plan.quarantined.includes(n)),
      toMember,
      rec,
    );
    rec.mark("repoint replicas");
    return rec.result(plan.to);
  });
}

/** Resolves a pod name to its address, or undefined when it has no IP. */
export type Resolve = (name: string) => Member | undefined;

function need(resolve: Resolve, name: string): Member {
  const m = resolve(name);
  if (!m) throw new OperationAborted(`no address for ${name}`);
  return m;
}

async function onEach(cfg: OperationConfig, members: readonly Member[], fn: (s: Session) => Promise<unknown>): Promise<void> {
  await withSessions(cfg, members, async (sessions) => {
    await Promise.all([...sessions.values()].map(fn));
  });
}

/**
 * Executes the decider's operation (src/topology `Decision.operation`). Throws on failure; the
 * hook then answers 500 so the status that assumed success is not written.
 */
export async function runOperation(cfg: OperationConfig, op: Operation, resolve: Resolve): Promise<OperationResult> {
  const rec = new Recorder();
  const f = cfg.flavor;
  switch (op.type) {
    case "none":
      return rec.result(undefined);
    case "bootstrap":
    case "configurePrimary":
      await onEach(cfg, [need(resolve, op.target)], (s) => promote(s, f, cfg.semiSync));
      rec.mark(op.type);
      return rec.result(op.target);
    case "setReadOnly":
      await onEach(
        cfg,
        op.targets.map((n) => need(resolve, n)),
        (s) => fence(s, f),
      );
      rec.mark("fence");
      return rec.result(undefined);
    case "quarantine":
      await onEach(
        cfg,
        op.targets.map((n) => need(resolve, n)),
        (s) => stopReceiving(s, f),
      );
      rec.mark("stop receivers");
      return rec.result(undefined);
    case "configureReplica": {
      const src = sourceOf(cfg, need(resolve, op.source));
      await onEach(
        cfg,
        op.targets.map((n) => need(resolve, n)),
        (s) => changeSource(s, f, src),
      );
      rec.mark("configure replicas");
      return rec.result(op.source);
    }
    case "rejoin":
      await onEach(cfg, [need(resolve, op.target)], (s) => demoteToReplica(s, f, sourceOf(cfg, need(resolve, op.source))));
      rec.mark("rejoin");
      return rec.result(op.source);
    case "switchover":
      return switchover(cfg, {
        from: need(resolve, op.from),
        to: need(resolve, op.to),
        others: op.others.flatMap((n) => resolve(n) ?? []),
      });
    case "failover":
      return failover(cfg, {
        failed: resolve(op.from),
        to: op.to,
        replicas: op.replicas.map((n) => need(resolve, n)),
        quarantined: op.quarantined,
        candidates: op.candidates,
        constraining: op.constraining,
      });
  }
}
