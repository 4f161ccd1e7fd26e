/**
 * One short-lived mysql2 connection per probe or operation, with a bounded connect timeout, a
 * timeout on every query, and a close that destroys the socket, so that a hung (SIGSTOPped)
 * or unroutable server can never keep a sync, or the process, alive (mysql-field-notes.md:
 * "destroy()/end() only half-close the socket"). ARCHITECTURE.md section 4.
 */
import { Socket } from "node:net";
import mysql from "mysql2";
import { z } from "zod";

/** Where and as whom to connect, and the time bounds of every call. */
export interface ConnectOptions {
  host: string;
  port: number;
  user: string;
  password: string;
  /** Bound on TCP connect + handshake (default 1000 ms). */
  connectTimeoutMs?: number;
  /** Default bound on each query (default 2000 ms). */
  queryTimeoutMs?: number;
}

/** A row as mysql2 returns it for a SELECT/SHOW: column name -> value (parsed with zod by callers). */
export type Row = Record<string, unknown>;

/** An open session. `close()` is idempotent and never throws. */
export interface Session {
  readonly host: string;
  /** Runs one statement; resolves with its rows ([] for statements without a result set). */
  query(sql: string, values?: readonly (string | number)[], timeoutMs?: number): Promise<Row[]>;
  close(): void;
}

/** An error with the server address and statement it came from; `code` is mysql2's code. */
export class MysqlError extends Error {
  override name = "MysqlError";
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly errno: number | undefined,
    options?: { cause?: unknown },
  ) {
    super(message, options);
  }
}

const DriverErrorSchema = z.object({
  code: z.string().optional(),
  errno: z.number().optional(),
  message: z.string().optional(),
});

/** Wraps anything thrown by mysql2 with context, keeping code/errno. */
export function wrapError(context: string, err: unknown): MysqlError {
  const parsed = DriverErrorSchema.safeParse(err);
  const info = parsed.success ? parsed.data : {};
  const detail = info.message ?? String(err);
  return new MysqlError(`${context}: ${detail}`, info.code, info.errno, { cause: err });
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
  const connectTimeoutMs = opts.connectTimeoutMs ?? 1000;
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
    query(sql, values = [], timeoutMs = queryTimeoutMs) {
      return new Promise<Row[]>((resolve, reject) => {
        if (closed) {
          reject(new MysqlError(`${where}: connection already closed`, "CLOSED", undefined));
          return;
        }
        // Belt and braces: mysql2's own timeout should fire first.
        const guard = setTimeout(() => {
          close();
          reject(new MysqlError(`${where}: query timed out after ${timeoutMs} ms: ${sql}`, "QUERY_TIMEOUT", undefined));
        }, timeoutMs + 500);
        core.query({ sql, values: [...values], timeout: timeoutMs }, (err: unknown, result: unknown) => {
          clearTimeout(guard);
          if (err) {
            const fatal = DriverErrorSchema.extend({ fatal: z.boolean().optional() }).safeParse(err);
            // Server errors (ER_*) leave the connection usable; fatal/protocol errors do not.
            if (!fatal.success || fatal.data.fatal === true || fatal.data.code?.startsWith("PROTOCOL_")) close();
            reject(wrapError(`${where}: ${sql.slice(0, 120)}`, err));
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
