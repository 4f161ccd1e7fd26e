/**
 * One short-lived mysql2 connection per probe or operation, with a bounded connect timeout, a
 * timeout on every query, and a close that destroys the socket, so that a hung (SIGSTOPped)
 * or unroutable server can never keep a sync, or the process, alive (mysql-field-notes.md:
 * "destroy()/end() only half-close the socket"). ARCHITECTURE.md section 4.
 */
import { Socket } from "node:net";
import mysql from "mysql2";
import { z } from "zod";
import { redactSecrets } from "../api/redact.js";

/** Where and as whom to connect, and the time bounds of every call. */
export interface ConnectOptions {
  host: string;
  /** What errors call the instance (its pod name); the host when absent. */
  name?: string;
  port: number;
  user: string;
  password: string;
  /** Bound on TCP connect + handshake (default 1000 ms). */
  connectTimeoutMs?: number;
  /** Default bound on each query (default 2000 ms). */
  queryTimeoutMs?: number;
  /**
   * A `performance.now()` time (the sync budget's end): connecting and every query are cut to
   * what remains until then, never below MIN_DEADLINE_SLICE_MS (a statement that must still run,
   * e.g. after a promote, gets that much).
   */
  deadline?: number;
}

/** Least time a connect or statement gets once the deadline is (nearly) spent. */
export const MIN_DEADLINE_SLICE_MS = 250;

/** `ms`, cut to what remains until `deadline` (at least MIN_DEADLINE_SLICE_MS). */
export function withinDeadline(ms: number, deadline: number | undefined): number {
  if (deadline === undefined) return ms;
  return Math.max(MIN_DEADLINE_SLICE_MS, Math.min(ms, Math.floor(deadline - performance.now())));
}

/** A row as mysql2 returns it for a SELECT/SHOW: column name -> value (parsed with zod by callers). */
export type Row = Record<string, unknown>;

/** An open session. `close()` is idempotent and never throws. */
export interface Session {
  readonly host: string;
  /** The instance's pod name when known (for error messages). */
  readonly name?: string;
  /** Runs one statement; resolves with its rows ([] for statements without a result set). */
  query(sql: string, values?: readonly (string | number)[], timeoutMs?: number): Promise<Row[]>;
  close(): void;
}

/**
 * An error with the server address and the operation it came from; `code` is mysql2's code.
 * Its message never holds SQL text (a CHANGE MASTER statement holds the replication password):
 * callers name the operation, and the server's message is redacted (`serverMessage`). The
 * driver's error is not kept as `cause`: it carries the statement (`sql`) and the raw message,
 * which error serializers (pino's) would print.
 */
export class MysqlError extends Error {
  override name = "MysqlError";
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly errno: number | undefined,
  ) {
    super(message);
  }
}

const DriverErrorSchema = z.object({
  code: z.string().optional(),
  errno: z.number().optional(),
  message: z.string().optional(),
});

/**
 * The server's (or driver's) message, safe to log: MySQL and MariaDB quote the statement from
 * the point of a syntax error on ("near '...' at line 1"), which may hold a password.
 */
export function serverMessage(message: string): string {
  return redactSecrets(message);
}

/** Wraps anything thrown by mysql2 (or a MysqlError) with context, keeping code/errno; no SQL text. */
export function wrapError(context: string, err: unknown): MysqlError {
  const parsed = DriverErrorSchema.safeParse(err);
  const info = parsed.success ? parsed.data : {};
  if (err instanceof MysqlError) return new MysqlError(`${context}: ${err.message}`, err.code, err.errno);
  const detail = serverMessage(info.message ?? String(err));
  const code = info.code !== undefined ? ` (${info.code}${info.errno !== undefined ? ` ${info.errno}` : ""})` : "";
  return new MysqlError(`${context}: ${detail}${code}`, info.code, info.errno);
}

const RowsSchema = z.array(z.record(z.string(), z.unknown()));

function destroySocket(core: object): void {
  const stream: unknown = Reflect.get(core, "stream");
  if (stream instanceof Socket && !stream.destroyed) stream.destroy();
}

/**
 * Opens a connection. Rejects within about `connectTimeoutMs` whatever the server does; the
 * socket is destroyed on every failure path.
 */
export function connect(opts: ConnectOptions): Promise<Session> {
  const connectTimeoutMs = withinDeadline(opts.connectTimeoutMs ?? 1000, opts.deadline);
  const queryTimeoutMs = opts.queryTimeoutMs ?? 2000;
  const where = `${opts.host}:${opts.port}`;
  const core = mysql.createConnection({
    host: opts.host,
    port: opts.port,
    user: opts.user,
    password: opts.password,
    connectTimeout: connectTimeoutMs,
    multipleStatements: false,
    supportBigNumbers: true,
    bigNumberStrings: false,
    dateStrings: true,
  });
  let closed = false;
  const close = (): void => {
    if (closed) return;
    closed = true;
    try {
      core.destroy();
    } catch {
      // destroying a broken connection may throw; the socket is destroyed below anyway
    }
    destroySocket(core);
  };
  // Late errors (server gone after we are done) must not become unhandled 'error' events.
  core.on("error", () => close());

  const session: Session = {
    host: opts.host,
    ...(opts.name !== undefined ? { name: opts.name } : {}),
    query(sql, values = [], requestedMs = queryTimeoutMs) {
      const timeoutMs = withinDeadline(requestedMs, opts.deadline);
      return new Promise<Row[]>((resolve, reject) => {
        if (closed) {
          reject(new MysqlError(`${where}: connection already closed`, "CLOSED", undefined));
          return;
        }
        // Belt and braces: mysql2's own timeout should fire first.
        const guard = setTimeout(() => {
          close();
          reject(new MysqlError(`${where}: query timed out after ${timeoutMs} ms`, "QUERY_TIMEOUT", undefined));
        }, timeoutMs + 500);
        core.query({ sql, values: [...values], timeout: timeoutMs }, (err: unknown, result: unknown) => {
          clearTimeout(guard);
          if (err) {
            const fatal = DriverErrorSchema.extend({ fatal: z.boolean().optional() }).safeParse(err);
            // Server errors (ER_*) leave the connection usable; fatal/protocol errors do not.
            if (!fatal.success || fatal.data.fatal === true || fatal.data.code?.startsWith("PROTOCOL_")) close();
            // Never the statement: it may hold a password (CHANGE MASTER, CREATE USER).
            reject(wrapError(where, err));
            return;
          }
          const rows = RowsSchema.safeParse(result);
          resolve(rows.success ? rows.data : []);
        });
      });
    },
    close,
  };

  return new Promise<Session>((resolve, reject) => {
    const guard = setTimeout(() => {
      close();
      reject(new MysqlError(`connect ${where}: timed out after ${connectTimeoutMs} ms`, "ETIMEDOUT", undefined));
    }, connectTimeoutMs + 500);
    core.once("connect", () => {
      clearTimeout(guard);
      resolve(session);
    });
    core.once("error", (err: unknown) => {
      clearTimeout(guard);
      close();
      reject(wrapError(`connect ${where}`, err));
    });
  });
}

/** Opens a session, runs `fn`, and always closes (destroys) the connection afterwards. */
export async function withSession<T>(opts: ConnectOptions, fn: (s: Session) => Promise<T>): Promise<T> {
  const s = await connect(opts);
  try {
    return await fn(s);
  } finally {
    s.close();
  }
}
