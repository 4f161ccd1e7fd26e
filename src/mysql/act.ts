/**
 * Act: one idempotent MySQL verb per function (MOCO's dbop.Operator), each over an open
 * `Session` so a composed operation can reuse its connections. Every statement has the
 * session's query timeout. Errors are wrapped with the instance and the verb.
 * ARCHITECTURE.md section 5; mysql-field-notes.md.
 */
import { z } from "zod";
import type { Flavor } from "../api/cluster.js";
import { wrapError, type Session } from "./connection.js";
import { dialectFor, type ChangeSourceOptions, type SemiSyncSourceOptions } from "./sql/index.js";
import { unsafeSqlModeFix } from "./sql/escape.js";
import { parseReplicaStatus } from "./observe.js";

async function run(s: Session, verb: string, statements: readonly string[], timeoutMs?: number): Promise<void> {
  for (const sql of statements) {
    try {
      await s.query(sql, [], timeoutMs);
    } catch (err) {
      throw wrapError(`${verb} on ${s.name ?? s.host}`, err);
    }
  }
}

/** Makes the instance read-only (MySQL: super_read_only, which binds administrators too) or writable. */
export async function setReadOnly(s: Session, flavor: Flavor, readOnly: boolean): Promise<void> {
  await run(s, readOnly ? "set read-only" : "set writable", dialectFor(flavor).setReadOnly(readOnly));
}

const SessionRowSchema = z.object({ id: z.union([z.number(), z.string()]).transform(Number), user: z.string().nullable(), command: z.string().nullable() });

/**
 * Kills every client session except the operator's own account, replication threads (binlog
 * dump, replica threads) and system threads, so that no transaction started before the fence
 * can commit. Returns how many were killed; a session that ended meanwhile is not an error.
 */
export async function killClientConnections(s: Session, flavor: Flavor): Promise<number> {
  const q = dialectFor(flavor).selectClientSessions;
  const rows = (await s.query(q.sql, q.values)).map((r) => SessionRowSchema.parse(r));
  let killed = 0;
  for (const r of rows) {
    try {
      await s.query(`KILL CONNECTION ${Math.trunc(r.id)}`);
      killed++;
    } catch (err) {
      if (z.object({ errno: z.literal(1094) }).safeParse(err).success) continue; // unknown thread: already gone
      throw wrapError(`kill connection ${r.id} on ${s.name ?? s.host}`, err);
    }
  }
  return killed;
}

/**
 * Bound on stopping a receiver. When the source hangs (SIGSTOP, network black hole), the
 * receiver thread sits in a socket read and STOP SLAVE IO_THREAD takes 2-3 s on MariaDB 10.11
 * (the server re-signals the thread every 2 s), longer than the usual query timeout.
 */
export const STOP_RECEIVER_TIMEOUT_MS = 6000;

/**
 * Fences a replica from its source by stopping ONLY the receiver; the applier keeps applying
 * the relay log (MariaDB discards the relay log when both threads stop and restart: field notes).
 */
export async function stopReceiving(s: Session, flavor: Flavor): Promise<void> {
  const d = dialectFor(flavor);
  const before = parseReplicaStatus(flavor, await s.query(d.showReplicaStatus));
  if (before === null) return;
  // Start a stopped applier first, while the receiver still runs: starting it once both threads
  // are stopped would make MariaDB discard the relay log (received, unapplied transactions).
  // When both are already stopped we leave the applier alone for the same reason.
  const startApplier = !before.sqlRunning && before.ioRunning !== "No" && before.lastSqlErrno === 0;
  if (startApplier) await run(s, "stop receiving", [d.startApplier()]);
  if (before.ioRunning !== "No") await killReceiver(s, flavor);
  await run(s, "stop receiving", [d.stopReceiving()], STOP_RECEIVER_TIMEOUT_MS);
}

/**
 * Kills the receiver thread's connection (best effort): a receiver blocked in a read from a hung
 * source ignores STOP ... IO_THREAD for 2-3 s, while KILL shuts its socket down at once. What is
 * in its relay log stays; the STOP that follows then finds it stopped. Any failure (thread gone
 * meanwhile, not allowed) leaves the STOP to do the work.
 */
async function killReceiver(s: Session, flavor: Flavor): Promise<void> {
  try {
    const rows = await s.query(dialectFor(flavor).selectReceiverThread);
    for (const r of rows) {
      const id = z.union([z.number(), z.string()]).transform(Number).safeParse(r["id"]);
      if (id.success && Number.isSafeInteger(id.data)) await s.query(`KILL CONNECTION ${id.data}`);
    }
  } catch {
    // the STOP below still stops it, only more slowly
  }
}

/** Stops both replication threads (no-op when stopped). */
export async function stopReplication(s: Session, flavor: Flavor): Promise<void> {
  await run(s, "stop replication", [dialectFor(flavor).stopReplica()]);
}

/**
 * Waits until the instance has applied `gtid` (MASTER_GTID_WAIT / WAIT_FOR_EXECUTED_GTID_SET).
 * Resolves true when reached, false on timeout. The query timeout is the wait plus a margin.
 */
export async function waitForGtid(s: Session, flavor: Flavor, gtid: string, timeoutSeconds: number): Promise<boolean> {
  const q = dialectFor(flavor).waitForGtid(gtid, timeoutSeconds);
  try {
    const rows = await s.query(q.sql, q.values, timeoutSeconds * 1000 + 2000);
    const r = z.object({ r: z.union([z.number(), z.string(), z.null()]) }).parse(rows[0]);
    return r.r !== null && Number(r.r) === 0;
  } catch (err) {
    throw wrapError(`wait for GTID ${gtid} on ${s.name ?? s.host}`, err);
  }
}

/** Sets the semi-sync source (master) side: only ever ON on the current primary (field notes). */
export async function setSemiSyncSource(s: Session, flavor: Flavor, opts: SemiSyncSourceOptions): Promise<void> {
  await run(s, "configure semi-sync source", dialectFor(flavor).semiSyncSource(opts));
}

/** Sets the semi-sync replica side (takes effect when the receiver (re)starts). */
export async function setSemiSyncReplica(s: Session, flavor: Flavor, enabled: boolean): Promise<void> {
  await run(s, "configure semi-sync replica", dialectFor(flavor).semiSyncReplica(enabled));
}

/** Options of `changeSource`: the source pod's IP and the replication account. */
export type SourceOptions = ChangeSourceOptions & { semiSyncReplica: boolean };

/**
 * Points the instance at a source and starts replication: semi-sync source OFF (a replica with
 * it ON stalls its applier), STOP, CHANGE MASTER/REPLICATION SOURCE (GTID auto-positioning,
 * connect retry 1 s), semi-sync replica as asked, START. Idempotent.
 */
export async function changeSource(s: Session, flavor: Flavor, opts: SourceOptions): Promise<void> {
  const d = dialectFor(flavor);
  await run(s, "change source", [
    ...d.semiSyncSource({ enabled: false, timeoutMs: 0, waitCount: 1 }),
    d.stopReplica(),
    unsafeSqlModeFix,
    d.changeSource(opts),
    ...d.semiSyncReplica(opts.semiSyncReplica),
    d.startReplica(),
  ]);
}

/**
 * Promotes the instance to primary: stop and forget replication, semi-sync source as planned
 * (ON before writes are allowed, so the first write is already lossless), then writable.
 * Idempotent: on the current primary it only re-asserts the settings.
 */
export async function promote(s: Session, flavor: Flavor, semiSync: SemiSyncSourceOptions): Promise<void> {
  const d = dialectFor(flavor);
  await run(s, "promote", [d.stopReplica(), d.resetReplicaAll(), ...d.semiSyncSource(semiSync)]);
  await setReadOnly(s, flavor, false);
}

/**
 * Turns a (former) primary into a replica of `source`: read-only first, semi-sync source OFF,
 * then changeSource with MASTER_DEMOTE_TO_SLAVE=1 on MariaDB (its gtid_slave_pos is stale).
 */
export async function demoteToReplica(s: Session, flavor: Flavor, source: SourceOptions): Promise<void> {
  await setReadOnly(s, flavor, true);
  await changeSource(s, flavor, { ...source, demote: true });
}

/** Reads the instance's executed position to wait for: MariaDB gtid_binlog_pos, MySQL gtid_executed. */
export async function readPrimaryPosition(s: Session, flavor: Flavor): Promise<string> {
  const sql = flavor === "mariadb" ? "SELECT @@gtid_binlog_pos AS pos" : "SELECT @@gtid_executed AS pos";
  try {
    const rows = await s.query(sql);
    return z.object({ pos: z.string() }).parse(rows[0]).pos.trim();
  } catch (err) {
    throw wrapError(`read GTID position on ${s.name ?? s.host}`, err);
  }
}

/** Whether the instance is currently writable (read_only and, on MySQL, super_read_only off). */
export async function isWritable(s: Session, flavor: Flavor): Promise<boolean> {
  const sql = flavor === "mariadb" ? "SELECT @@read_only AS ro" : "SELECT @@super_read_only OR @@read_only AS ro";
  try {
    const rows = await s.query(sql);
    return Number(z.object({ ro: z.union([z.number(), z.string()]) }).parse(rows[0]).ro) === 0;
  } catch (err) {
    throw wrapError(`read read_only on ${s.name ?? s.host}`, err);
  }
}
