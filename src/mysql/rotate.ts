/**
 * Online password rotation (docs/clustering.md "Rotating passwords"): each service account sets
 * its own new password on the primary, through the binary log, so every replica (and every
 * future one) gets it; the replicas are then re-pointed with the new replication password.
 * Setting one's own password needs no privilege, so the operator account stays without
 * CREATE USER (it cannot touch root or any other account). Idempotent: an account that already
 * accepts its new password is skipped, so a rotation cut short is finished by the next sync.
 */
import type { Flavor } from "../api/cluster.js";
import { MYSQL_PORT } from "../api/constants.js";
import { connect, wrapError, type Session } from "./connection.js";
import { changeSource, readPrimaryPosition, waitForGtid, isWritable } from "./act.js";
import { isAccessDenied } from "./observe.js";
import { catchUpSeconds, OperationAborted, sourceOf, withSessions, type Member, type OperationConfig, type OperationResult } from "./operations.js";
import { quoteString, unsafeSqlModeFix } from "./sql/escape.js";

/** One account whose password changes from `from` (what the servers hold) to `to`. */
export interface PasswordChange {
  user: string;
  from: string;
  to: string;
}

export interface RotationPlan {
  /** The writable primary; `password` is the operator password it accepts now. */
  primary: Member;
  /** The reachable replicas (each with the operator password it accepts now). */
  replicas: readonly Member[];
  /** The service accounts to change (not the operator: see `operator`). */
  accounts: readonly PasswordChange[];
  /** The operator account's change, made last, in the operation's own session. */
  operator?: PasswordChange;
  /** Re-point the replicas with cfg.replication (the replication password changed). */
  repoint: boolean;
}

/** The statement that sets the session user's own password (no privilege needed). */
export function ownPasswordStatement(flavor: Flavor, password: string): string {
  return flavor === "mariadb" ? `SET PASSWORD = PASSWORD(${quoteString(password)})` : `ALTER USER USER() IDENTIFIED BY ${quoteString(password)}`;
}

async function setOwnPassword(s: Session, flavor: Flavor, password: string, who: string): Promise<void> {
  for (const sql of [unsafeSqlModeFix, ownPasswordStatement(flavor, password)]) {
    try {
      await s.query(sql);
    } catch (err) {
      throw wrapError(`set the password of ${who} on ${s.name ?? s.host}`, err);
    }
  }
}

/**
 * Logs in as the account with its old password and sets the new one; "already" when the old one
 * is refused and the new one accepted (done by an earlier sync).
 */
async function changeAccount(cfg: OperationConfig, primary: Member, change: PasswordChange): Promise<"changed" | "already"> {
  const login = (password: string) =>
    connect({
      host: primary.host,
      name: primary.name,
      port: primary.port ?? MYSQL_PORT,
      user: change.user,
      password,
      connectTimeoutMs: cfg.connectTimeoutMs,
      queryTimeoutMs: cfg.queryTimeoutMs,
      ...(cfg.deadline !== undefined ? { deadline: cfg.deadline } : {}),
    });
  let session: Session;
  try {
    session = await login(change.from);
  } catch (err) {
    if (!isAccessDenied(err)) throw err;
    const check = await login(change.to);
    check.close();
    return "already";
  }
  try {
    await setOwnPassword(session, cfg.flavor, change.to, change.user);
    return "changed";
  } finally {
    session.close();
  }
}

/**
 * Rotates the passwords: under the operation lock of every instance, on the writable primary
 * each account sets its own password (operator last); if the replication password changed, each
 * replica is re-pointed with it; then the replicas are given time to apply the changes.
 */
export async function rotatePasswords(cfg: OperationConfig, plan: RotationPlan): Promise<OperationResult> {
  const steps: { step: string; ms: number }[] = [];
  const warnings: string[] = [];
  let last = performance.now();
  const mark = (step: string) => {
    const t = performance.now();
    steps.push({ step, ms: Math.round((t - last) * 10) / 10 });
    last = t;
  };
  await withSessions(cfg, [plan.primary, ...plan.replicas], async (sessions) => {
    const primary = sessions.get(plan.primary.name);
    if (!primary) throw new OperationAborted(`no session to ${plan.primary.name}`);
    if (!(await isWritable(primary, cfg.flavor))) throw new OperationAborted(`${plan.primary.name} is not writable: passwords are rotated on the primary only`);
    for (const change of plan.accounts) {
      const done = await changeAccount(cfg, plan.primary, change);
      mark(`${change.user}: ${done}`);
    }
    if (plan.operator && plan.primary.password !== plan.operator.to) {
      await setOwnPassword(primary, cfg.flavor, plan.operator.to, plan.operator.user);
      mark(`${plan.operator.user}: changed`);
    }
    // Re-point before waiting: a replica whose receiver reconnected since the change (a restart)
    // is refused with the old replication password and would never catch up otherwise.
    if (plan.repoint) {
      for (const r of plan.replicas) {
        const s = sessions.get(r.name);
        if (s) await changeSource(s, cfg.flavor, sourceOf(cfg, plan.primary));
      }
      mark("replicas re-pointed");
    }
    // The replicas get the changes through replication; one that is slow is reached with either
    // password meanwhile (the hook's fallback), so waiting is for the record, not a condition.
    const position = await readPrimaryPosition(primary, cfg.flavor);
    for (const r of plan.replicas) {
      const s = sessions.get(r.name);
      if (!s) continue;
      const seconds = Math.max(1, catchUpSeconds(cfg));
      if (!(await waitForGtid(s, cfg.flavor, position, seconds))) warnings.push(`${r.name} had not applied the password change after ${seconds} s`);
    }
    mark("replicas applied");
  });
  return { primary: plan.primary.name, steps, warnings };
}
