/**
 * Observe: read-only probes of one server, parsed with zod (never cast). A failed probe is DATA:
 * `readInstanceStatus` never throws, it returns `{ok: false, error}` (style.md, MOCO's nil status).
 */
import { z } from "zod";
import type { Flavor } from "../api/cluster.js";
import { gtidMerge } from "../topology/gtid.js";
import type { InstanceProbe, ProbeResult, ReplicaStatus, SemiSyncStatus } from "../topology/observation.js";
import { connect, MysqlError, type ConnectOptions, type Row, type Session } from "./connection.js";
import { dialectFor } from "./sql/index.js";

const boolish = z.union([z.number(), z.string(), z.boolean(), z.bigint()]).transform((v) => {
  if (typeof v === "boolean") return v;
  if (typeof v === "string") return ["1", "on", "yes", "true"].includes(v.toLowerCase());
  return Number(v) !== 0;
});
const intish = z.union([z.number(), z.string(), z.bigint()]).transform((v, ctx) => {
  const n = Number(v);
  if (!Number.isSafeInteger(n)) {
    ctx.addIssue({ code: "custom", message: `not an integer: ${String(v)}` });
    return z.NEVER;
  }
  return n;
});
const text = z.union([z.string(), z.null()]).transform((v) => (v ?? "").trim());

const GlobalsRowSchema = z.object({
  server_id: intish,
  version: z.string(),
  read_only: boolish,
  super_read_only: boolish,
  gtid_state: text,
  gtid_binlog_pos: text,
  gtid_executed: text,
  gtid_slave_pos: text,
});

const NameValueRowSchema = z
  .object({ Variable_name: z.string(), Value: z.union([z.string(), z.number(), z.null()]) })
  .transform((r) => [r.Variable_name.toLowerCase(), r.Value === null ? "" : String(r.Value)] as const);

/** Columns common to SHOW SLAVE STATUS (MariaDB) and SHOW REPLICA STATUS (MySQL 8.4). */
const ReplicaRowSchema = z.object({
  host: text,
  port: intish,
  user: text,
  io: z.string(),
  sql: z.string(),
  received: text,
  lastIoErrno: intish,
  lastIoError: text,
  lastSqlErrno: intish,
  lastSqlError: text,
  behind: z.union([intish, z.null()]),
  connectionName: z.string().optional(),
});

function replicaRowFields(flavor: Flavor, r: Row): Record<string, unknown> {
  const source = flavor === "mariadb" ? "Master" : "Source";
  const replica = flavor === "mariadb" ? "Slave" : "Replica";
  return {
    host: r[`${source}_Host`],
    port: r[`${source}_Port`],
    user: r[`${source}_User`],
    io: r[`${replica}_IO_Running`],
    sql: r[`${replica}_SQL_Running`],
    received: flavor === "mariadb" ? r["Gtid_IO_Pos"] : r["Retrieved_Gtid_Set"],
    lastIoErrno: r["Last_IO_Errno"],
    lastIoError: r["Last_IO_Error"],
    lastSqlErrno: r["Last_SQL_Errno"],
    lastSqlError: r["Last_SQL_Error"],
    behind: r[`Seconds_Behind_${source}`],
    connectionName: r["Connection_name"],
  };
}

/** Parses SHOW SLAVE/REPLICA STATUS rows (the default channel) into a `ReplicaStatus`. */
export function parseReplicaStatus(flavor: Flavor, rows: readonly Row[]): ReplicaStatus | null {
  const row = rows.find((r) => (r["Connection_name"] ?? "") === "" && (r["Channel_Name"] ?? "") === "") ?? rows[0];
  if (!row) return null;
  const r = ReplicaRowSchema.parse(replicaRowFields(flavor, row));
  const io = r.io === "Yes" || r.io === "Connecting" ? r.io : "No";
  return {
    sourceHost: r.host,
    sourcePort: r.port,
    sourceUser: r.user,
    ioRunning: io,
    sqlRunning: r.sql === "Yes",
    receivedGtids: r.received,
    lastIoErrno: r.lastIoErrno,
    lastIoError: r.lastIoError,
    lastSqlErrno: r.lastSqlErrno,
    lastSqlError: r.lastSqlError,
    secondsBehindSource: r.behind,
  };
}

/** Parses SHOW GLOBAL VARIABLES/STATUS LIKE 'rpl_semi_sync%' into a `SemiSyncStatus`. */
export function parseSemiSync(flavor: Flavor, variables: readonly Row[], status: readonly Row[]): SemiSyncStatus {
  const vars = new Map(variables.map((r) => NameValueRowSchema.parse(r)));
  const stat = new Map(status.map((r) => NameValueRowSchema.parse(r)));
  const src = flavor === "mariadb" ? "master" : "source";
  const rep = flavor === "mariadb" ? "slave" : "replica";
  const on = (v: string | undefined): boolean => v !== undefined && ["on", "1", "yes"].includes(v.toLowerCase());
  const num = (v: string | undefined, def: number): number => {
    const n = Number(v);
    return v === undefined || v === "" || !Number.isFinite(n) ? def : n;
  };
  return {
    sourceEnabled: on(vars.get(`rpl_semi_sync_${src}_enabled`)),
    replicaEnabled: on(vars.get(`rpl_semi_sync_${rep}_enabled`)),
    waitCount: flavor === "mariadb" ? 1 : num(vars.get("rpl_semi_sync_source_wait_for_replica_count"), 1),
    timeoutMs: num(vars.get(`rpl_semi_sync_${src}_timeout`), 0),
    clients: num(stat.get(`rpl_semi_sync_${src}_clients`), 0),
    waitSessions: num(stat.get(`rpl_semi_sync_${src}_wait_sessions`), 0),
  };
}

/** Reads one instance's status over an open session (throws on failure; see readInstanceStatus). */
export async function probe(session: Session, flavor: Flavor): Promise<InstanceProbe> {
  const d = dialectFor(flavor);
  const [globalsRows, semiVars, semiStatus, replicaRows] = await Promise.all([
    session.query(d.selectGlobals),
    session.query(d.showSemiSyncVariables),
    session.query(d.showSemiSyncStatus),
    session.query(d.showReplicaStatus),
  ]);
  const g = GlobalsRowSchema.parse(globalsRows[0]);
  return {
    flavor,
    serverId: g.server_id,
    version: g.version,
    readOnly: g.read_only,
    superReadOnly: g.super_read_only,
    gtidState: g.gtid_state,
    gtidExecuted: flavor === "mariadb" ? gtidMerge(flavor, g.gtid_executed, g.gtid_binlog_pos) : g.gtid_executed,
    gtidBinlogPos: g.gtid_binlog_pos,
    gtidSlavePos: g.gtid_slave_pos,
    replica: parseReplicaStatus(flavor, replicaRows),
    semiSync: parseSemiSync(flavor, semiVars, semiStatus),
  };
}

/** The server refused the account's password (ER_ACCESS_DENIED_ERROR). */
export function isAccessDenied(err: unknown): boolean {
  return err instanceof MysqlError && (err.errno === 1045 || err.code === "ER_ACCESS_DENIED_ERROR");
}

function describe(err: unknown): string {
  if (err instanceof z.ZodError) return `unexpected server answer: ${err.issues.map((i) => `${i.path.join(".")}: ${i.message}`).join("; ")}`;
  return err instanceof Error ? err.message : String(err);
}

/**
 * Probes one instance: server_id, read-only flags, GTID state/positions, replica status and
 * semi-sync. Never throws: any failure (refused, timeout, hung server, auth, unexpected answer,
 * wrong server_id at a reused address) is returned as `{ok: false, error}`.
 */
export async function readInstanceStatus(opts: ConnectOptions & { flavor: Flavor; expectedServerId?: number }): Promise<ProbeResult> {
  let session: Session | undefined;
  let cut = false;
  const work = (async (): Promise<ProbeResult> => {
    try {
      session = await connect(opts);
      if (cut) return { ok: false, error: `${opts.host}: probe cut at the sync budget` };
      const status = await probe(session, opts.flavor);
      if (opts.expectedServerId !== undefined && status.serverId !== opts.expectedServerId) {
        return { ok: false, error: `${opts.host}: server_id is ${status.serverId}, expected ${opts.expectedServerId}` };
      }
      return { ok: true, status };
    } catch (err) {
      return { ok: false, error: describe(err), ...(isAccessDenied(err) ? { accessDenied: true } : {}) };
    } finally {
      session?.close();
    }
  })();
  if (opts.deadline === undefined) return work;
  // The probe as a whole (several statements) ends by the deadline: past it, the session is
  // destroyed and the probe is a failed one.
  const ms = Math.max(0, Math.floor(opts.deadline - performance.now()));
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<ProbeResult>((resolve) => {
    timer = setTimeout(() => {
      cut = true;
      session?.close();
      resolve({ ok: false, error: `${opts.host}: no complete answer within ${ms} ms (sync budget)` });
    }, ms);
  });
  try {
    return await Promise.race([work, timeout]);
  } finally {
    clearTimeout(timer);
  }
}
