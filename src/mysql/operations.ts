/**
 * Composed operations: switchover and failover (ARCHITECTURE.md section 5, mysql-field-notes.md
 * "Switchover"/"Failover"), plus `runOperation`, which executes whatever single operation the
 * decider (src/topology) chose. Every step is safe to repeat; before promoting, each procedure
 * checks that no other reachable instance is writable, so a retried or overlapping sync cannot
 * create a second writable primary.
 *
 * Mutual exclusion (docs/clustering.md "One operation at a time"): before its first write, an
 * operation takes the advisory lock OPERATION_LOCK with GET_LOCK(..., 0) in its session to EVERY
 * instance it touches, and holds it until its sessions close. A lock held elsewhere defers the
 * operation (OperationDeferred) before it changed anything.
 *
 * Budget: `deadline` bounds every connect and statement; catch-up waits are cut so that the
 * promote and what follows still fit (PROMOTE_RESERVE_MS); an operation that cannot fit its
 * shortest useful run is deferred before it starts.
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
import { requestRebuild } from "./agent-client.js";
import { connect, wrapError, type Session } from "./connection.js";
import { z } from "zod";
import { probe } from "./observe.js";
import type { SemiSyncSourceOptions } from "./sql/index.js";

/** An instance to act on: its pod name and pod IP (port 3306 unless given). */
export interface Member {
  name: string;
  host: string;
  port?: number;
  /**
   * The operator password this instance accepts, when it differs from `cfg.operator.password`
   * (a password rotation in progress: docs/clustering.md "Rotating passwords").
   */
  password?: string;
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
  /**
   * `performance.now()` time by which the operation must be over (the sync budget): connects
   * and statements are cut to it, catch-up waits leave PROMOTE_RESERVE_MS for what follows.
   */
  deadline?: number;
  /** The pods' agents (token, port): the `rebuild` operation. */
  agent?: { token: string; port: number };
}

/** Name of the advisory lock every operation holds on each instance it touches. */
export const OPERATION_LOCK = "metamysql.operation";

/**
 * wait_timeout of an operation's sessions: if the hook dies without its socket being closed
 * (node lost), the server drops the idle session, and with it the lock, after this long.
 */
export const OPERATION_SESSION_IDLE_SECONDS = 30;

/** Time kept after a catch-up wait for the promote, repoints and demote. */
export const PROMOTE_RESERVE_MS = 2000;

/** Shortest catch-up wait worth starting a switchover or failover for. */
export const MIN_CATCH_UP_SECONDS = 1;

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

/**
 * Raised when an operation did not start: another operation holds the lock on one of its
 * instances (`reason` "lock"), or what remains of the budget cannot fit it ("budget"). Nothing
 * was changed; the sync answers with what it observed and resyncs soon.
 */
export class OperationDeferred extends Error {
  override name = "OperationDeferred";
  constructor(
    message: string,
    readonly reason: "lock" | "budget",
  ) {
    super(message);
  }
}

/** Milliseconds left until the operation's deadline (Infinity without one). */
function remainingMs(cfg: OperationConfig): number {
  return cfg.deadline === undefined ? Number.POSITIVE_INFINITY : cfg.deadline - performance.now();
}

/**
 * Seconds a catch-up wait may take now: the configured bound, cut so that PROMOTE_RESERVE_MS
 * remain afterwards. Below MIN_CATCH_UP_SECONDS the caller must not go on.
 */
export function catchUpSeconds(cfg: OperationConfig): number {
  const left = Math.floor((remainingMs(cfg) - PROMOTE_RESERVE_MS) / 1000);
  return Math.min(cfg.catchUpTimeoutSeconds, Math.max(0, left));
}

/** Defers the operation (before it changed anything) when the budget cannot fit a catch-up. */
function requireBudgetForCatchUp(cfg: OperationConfig, what: string): void {
  if (catchUpSeconds(cfg) < MIN_CATCH_UP_SECONDS) {
    throw new OperationDeferred(
      `${what} not started: ${Math.max(0, Math.round(remainingMs(cfg)))} ms left of the sync budget, ${MIN_CATCH_UP_SECONDS * 1000 + PROMOTE_RESERVE_MS} ms needed`,
      "budget",
    );
  }
}

const LockRowSchema = z.object({ got: z.union([z.number(), z.string(), z.null()]), holder: z.union([z.number(), z.string(), z.null()]) });

/**
 * Takes OPERATION_LOCK in each session, in name order, without waiting; on the first lock held
 * elsewhere throws OperationDeferred (the locks taken so far go with the sessions). Also bounds
 * the sessions' idle time (OPERATION_SESSION_IDLE_SECONDS).
 */
export async function lockInstances(sessions: ReadonlyMap<string, Session>): Promise<void> {
  for (const name of [...sessions.keys()].sort()) {
    const s = sessions.get(name);
    if (!s) continue;
    let row: z.infer<typeof LockRowSchema>;
    try {
      await s.query(`SET SESSION wait_timeout = ${OPERATION_SESSION_IDLE_SECONDS}`);
      const rows = await s.query("SELECT GET_LOCK(?, 0) AS got, IS_USED_LOCK(?) AS holder", [OPERATION_LOCK, OPERATION_LOCK]);
      row = LockRowSchema.parse(rows[0]);
    } catch (err) {
      throw wrapError(`take the operation lock on ${name}`, err);
    }
    if (Number(row.got) !== 1) {
      throw new OperationDeferred(`another operation holds the lock on ${name} (connection ${String(row.holder ?? "unknown")})`, "lock");
    }
  }
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
    password: m.password ?? cfg.operator.password,
    connectTimeoutMs,
    queryTimeoutMs: cfg.queryTimeoutMs,
    ...(cfg.deadline !== undefined ? { deadline: cfg.deadline } : {}),
  });
}

export function sourceOf(cfg: OperationConfig, m: Member): SourceOptions {
  return {
    host: m.host,
    port: m.port ?? MYSQL_PORT,
    user: cfg.replication.user,
    password: cfg.replication.password,
    semiSyncReplica: cfg.semiSync.enabled,
  };
}

const message = (err: unknown): string => (err instanceof Error ? err.message : String(err));

/**
 * Opens a session to each member (all must answer), takes the operation lock in them and in
 * `alsoLock`, runs `fn`, and closes the sessions (which releases their locks).
 */
export async function withSessions<T>(
  cfg: OperationConfig,
  members: readonly Member[],
  fn: (s: Map<string, Session>) => Promise<T>,
  alsoLock: ReadonlyMap<string, Session> = new Map(),
): Promise<T> {
  const sessions = new Map<string, Session>();
  try {
    const opened = await Promise.allSettled(members.map((m) => open(cfg, m)));
    opened.forEach((r, i) => {
      const m = members[i];
      if (m && r.status === "fulfilled") sessions.set(m.name, r.value);
    });
    const failed = opened.flatMap((r, i) => (r.status === "rejected" ? [`${members[i]?.name}: ${message(r.reason)}`] : []));
    if (failed.length > 0) throw new OperationAborted(`cannot reach ${failed.join("; ")}`);
    await lockInstances(new Map([...alsoLock, ...sessions]));
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
  /**
   * Leave the old primary fenced (read-only, no replication) instead of demoting it here: the
   * next sync rejoins it. A rolling update's switchover does so: the demotion is not on the
   * clients' path, and the sync answers (moving the Service) that much sooner.
   */
  leaveOldPrimaryFenced?: boolean;
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
  requireBudgetForCatchUp(cfg, "switchover");
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
    return await withSessions(
      cfg,
      [plan.from, plan.to],
      async (core) => {
        const from = must(core, plan.from.name);
        const to = must(core, plan.to.name);
        rec.mark("connect and lock");
        await fence(from, f);
        rec.mark("fence old primary");
        const pos = await readPrimaryPosition(from, f);
        // The wait is cut to the budget (PROMOTE_RESERVE_MS kept for what follows); a candidate
        // that does not catch up in time aborts here, the safe point: nothing was promoted yet,
        // so the old primary is reopened and stays the only writable instance.
        const wait = catchUpSeconds(cfg);
        const caughtUp =
          wait >= MIN_CATCH_UP_SECONDS &&
          (await waitForGtid(to, f, pos, wait).catch(async (err: unknown) => {
            await setReadOnly(from, f, false).catch(() => undefined);
            throw err;
          }));
        if (!caughtUp) {
          await setReadOnly(from, f, false);
          throw new OperationAborted(`${plan.to.name} did not reach ${pos} within ${wait}s (sync budget); ${plan.from.name} reopened`);
        }
        rec.mark("candidate caught up");
        await assertNoOtherWritable(f, new Map([...otherSessions, [plan.from.name, from]]), plan.to.name);
        await promote(to, f, cfg.semiSync);
        rec.mark("promote");
        await repoint(cfg, otherSessions, [...otherSessions.keys()], plan.to, rec);
        rec.mark("repoint replicas");
        if (plan.leaveOldPrimaryFenced) return rec.result(plan.to.name);
        try {
          await demoteToReplica(from, f, sourceOf(cfg, plan.to));
        } catch (err) {
          rec.warnings.push(`demote ${plan.from.name}: ${message(err)}`);
        }
        rec.mark("demote old primary");
        return rec.result(plan.to.name);
      },
      otherSessions,
    );
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
  requireBudgetForCatchUp(cfg, "failover");
  return withSessions(cfg, plan.replicas, async (sessions) => {
    rec.mark("connect and lock");
    if (plan.failed) {
      // Best effort, after the replicas are locked: if the old primary answers at all, it is
      // locked too (an operation running there defers this one) and fenced.
      let s: Session | undefined;
      try {
        s = await open(cfg, plan.failed, Math.min(cfg.connectTimeoutMs, 300));
      } catch {
        // expected: it is down
      }
      if (s) {
        try {
          await lockInstances(new Map([[plan.failed.name, s]]));
          await fence(s, f);
          rec.warnings.push(`old primary ${plan.failed.name} answered and was fenced`);
        } catch (err) {
          if (err instanceof OperationDeferred) throw err;
          // it answered but failed mid-way: as good as down; the replicas are fenced below
        } finally {
          s.close();
        }
      }
      rec.mark("fence old primary (best effort)");
    }
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
    // Cut to the budget. Aborting here is safe: nothing was promoted, every reachable replica's
    // receiver is stopped and the old primary fenced if it answered; the next sync decides again.
    const wait = catchUpSeconds(cfg);
    if (waitFor !== "" && (wait < MIN_CATCH_UP_SECONDS || !(await waitForGtid(target, f, waitFor, wait)))) {
      throw new OperationAborted(`${plan.to} did not apply its relay log (${waitFor}) within ${wait}s (sync budget)`);
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
        ...(op.leaveOldPrimaryFenced ? { leaveOldPrimaryFenced: true } : {}),
      });
    case "rebuild": {
      const m = need(resolve, op.target);
      if (!cfg.agent) throw new OperationAborted(`cannot rebuild ${op.target}: no agent token`);
      const left = cfg.deadline === undefined ? 30_000 : Math.max(1000, cfg.deadline - performance.now());
      const answer = await requestRebuild(
        { host: m.host, port: cfg.agent.port, token: cfg.agent.token, timeoutMs: Math.min(left, 60_000) },
        { ...(op.save ? { save: op.save } : {}), ...(op.savedFile ? { savedFile: op.savedFile } : {}) },
      );
      rec.mark(`rebuild requested (${answer.state}${answer.savedFile ? `, saved ${answer.savedFile}` : ""})`);
      return rec.result(undefined);
    }
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
