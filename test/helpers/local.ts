/**
 * Helpers for the local-runtime tests: a runtime in a temporary state dir (pod IPs in
 * 127.20.0.0/16), an interposing hook server that forwards to the real one and can fail, hang
 * or rewrite answers, SQL over mysql2 with bounded timeouts, and the check that no process a
 * runtime started is left behind (by the PIDs it recorded).
 */
import { startLocalHookServer } from "../../src/cli/hook-server.js";
import { mkdtempSync, rmSync } from "node:fs";
import { createServer, request, type IncomingMessage, type Server } from "node:http";
import { tmpdir } from "node:os";
import { dirname, join } from "node:path";
import type { AddressInfo } from "node:net";
import { createConnection, type Connection, type RowDataPacket } from "mysql2/promise";
import { pidAlive, pidCommandLine, readPidLog } from "../../src/local/node/process.js";
import type { RuntimeEvent } from "../../src/local/narration.js";
import { LocalRuntime, type LocalRuntimeOptions } from "../../src/local/runtime.js";
import type { KObject } from "../../src/local/apiserver/objects.js";
import { stateLayout } from "../../src/local/node/statedir.js";

/**
 * Removes a test's or benchmark's state dir, unless it failed or KEEP_STATE is set: then it is
 * kept (the store, logs/events.log with the runtime's events, logs/<pod>.log with each server's
 * log, the volumes) and its path printed, so a rare failure can be read afterwards (issue 16).
 */
export function finishStateDir(dir: string, failed: boolean): void {
  if (failed || process.env["KEEP_STATE"]) {
    process.stderr.write(
      `state dir kept${failed ? " (failed run)" : ""}: ${dir} (events: ${stateLayout(dir).eventsLog}, server logs: ${stateLayout(dir).logsDir})\n`,
    );
    return;
  }
  rmSync(dir, { recursive: true, force: true });
}

/** A fresh temporary state dir. */
export function tempStateDir(tag: string): string {
  return mkdtempSync(join(tmpdir(), `mm-${tag}-`));
}

/** A runtime plus the events it reported. */
export interface TestRuntime {
  rt: LocalRuntime;
  events: RuntimeEvent[];
  stateDir: string;
}

/** Starts a runtime; its events are collected (and echoed when LOCAL_TEST_VERBOSE is set). */
export async function startTestRuntime(opts: Partial<LocalRuntimeOptions> & { ipPrefix: string; stateDir?: string }): Promise<TestRuntime> {
  const stateDir = opts.stateDir ?? tempStateDir("rt");
  const events: RuntimeEvent[] = [];
  const rt = await LocalRuntime.start({
    startHookServer: startLocalHookServer,
    ...opts,
    stateDir,
    control: opts.control ?? false,
    onEvent: (ev) => {
      events.push(ev);
      if (process.env.LOCAL_TEST_VERBOSE) process.stderr.write(`${ev.time.toISOString().slice(11, 23)} ${ev.source.padEnd(22)} ${ev.message}\n`);
      opts.onEvent?.(ev);
    },
  });
  return { rt, events, stateDir };
}

/** PIDs recorded in a state dir's log that are still alive (must be empty after a stop). */
export function leftoverPids(stateDir: string): Array<{ pid: number; label: string }> {
  // A PID still alive counts only while it runs what was started under it: over a long run the
  // kernel reuses PIDs (pid_max wraps), and another program's process is not ours.
  const layout = stateLayout(stateDir);
  const podRoot = dirname(dirname(layout.podDir("ns", "pod")));
  const same = (e: { pid: number; label: string; command: string }): boolean => {
    const now = pidCommandLine(e.pid);
    if (now === "") return false;
    // A container's entrypoint execs the server: then its command line names the pod's files.
    if (/mariadbd|mysqld/.test(now) && e.label.startsWith("container ")) return now.includes(podRoot);
    return now.startsWith(e.command.split(" ").slice(0, 2).join(" "));
  };
  return readPidLog(layout.pidLog)
    .filter((e) => pidAlive(e.pid) && same(e))
    .map((e) => ({ pid: e.pid, label: e.label }));
}

/** One query with bounded connect and query timeouts; the connection is always destroyed. */
export async function query<T extends RowDataPacket>(
  target: { host: string; port: number; password: string; user?: string },
  sql: string,
  timeoutMs = 3000,
): Promise<T[]> {
  const conn = await createConnection({
    host: target.host,
    port: target.port,
    user: target.user ?? "root",
    password: target.password,
    connectTimeout: timeoutMs,
  });
  try {
    const [rows] = await conn.query<T[]>({ sql, timeout: timeoutMs });
    return rows;
  } finally {
    destroy(conn);
  }
}

/** Opens a connection (caller destroys it with `destroy`). */
export async function connectTo(target: { host: string; port: number; password: string }, timeoutMs = 3000): Promise<Connection> {
  return await createConnection({ host: target.host, port: target.port, user: "root", password: target.password, connectTimeout: timeoutMs });
}

/** Destroys a mysql2 connection including its socket (end() only half-closes). */
export function destroy(conn: Connection): void {
  const inner = (conn as unknown as { connection?: { stream?: { destroy(): void } } }).connection;
  inner?.stream?.destroy();
  conn.destroy();
}

/** Polls `fn` until it returns a truthy value. */
export async function eventually<T>(fn: () => T | Promise<T>, timeoutMs: number, what: string): Promise<NonNullable<T>> {
  const deadline = Date.now() + timeoutMs;
  let last: unknown;
  while (Date.now() < deadline) {
    try {
      const v = await fn();
      if (v) return v as NonNullable<T>;
    } catch (err) {
      last = err;
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`timed out waiting for ${what}${last ? `: ${String(last)}` : ""}`);
}

/** The status of an object (empty when it has none). */
export function statusOf(obj: KObject | undefined): Record<string, unknown> {
  return (obj?.status ?? {}) as Record<string, unknown>;
}

/** Where to connect to a pod of the runtime's cluster, as root. */
export function podTarget(t: TestRuntime, pod: string): { host: string; port: number; password: string } {
  const p = t.rt.status().pods.find((x) => x.name === pod);
  if (!p) throw new Error(`no pod ${pod}`);
  return { host: p.ip, port: 3306, password: t.rt.credentials()?.password ?? "" };
}

/** Waits until the cluster has `instances` ready pods and is Healthy; returns the primary's name. */
export async function healthyCluster(t: TestRuntime, instances: number, timeoutMs = 180_000): Promise<string> {
  let last: Record<string, unknown> = {};
  try {
    return await eventually(
      () => {
        last = statusOf(t.rt.cluster());
        return t.rt.allPodsReady() && t.rt.status().pods.length === instances && last.state === "Healthy" ? String(last.currentPrimary) : undefined;
      },
      timeoutMs,
      `a healthy cluster of ${instances}`,
    );
  } catch (err) {
    throw new Error(`${String(err)}; last status: ${JSON.stringify({ state: last.state, message: last.message, instances: last.instances })}`, { cause: err });
  }
}

/** A recorded hook call. */
export interface HookCall {
  path: string;
  at: number;
  status: number;
  /** When the answer was sent (undefined while in flight or hung). */
  doneAt?: number;
  request: unknown;
  response: unknown;
}

/** How the interposer answers. */
export type InterposerMode = "pass" | "500" | "hang";

/**
 * A hook server in front of the real one: records each call, forwards it (mode "pass", with an
 * optional rewrite of sync answers), answers 500, or never answers (mode "hang").
 */
export class HookInterposer {
  mode: InterposerMode = "pass";
  rewrite: ((response: Record<string, unknown>, request: Record<string, unknown>) => Record<string, unknown>) | undefined;
  readonly calls: HookCall[] = [];
  url = "";
  private server: Server | undefined;
  private readonly hung = new Set<IncomingMessage>();

  constructor(private readonly upstream: string) {}

  async start(): Promise<void> {
    this.server = createServer((req, res) => {
      const chunks: Buffer[] = [];
      req.on("data", (c: Buffer) => chunks.push(c));
      req.on("end", () => {
        const body = Buffer.concat(chunks).toString("utf8");
        const path = req.url ?? "/";
        const call: HookCall = { path, at: Date.now(), status: 0, request: JSON.parse(body || "null"), response: undefined };
        this.calls.push(call);
        if (this.mode === "hang") {
          this.hung.add(req);
          return;
        }
        if (this.mode === "500") {
          call.status = 500;
          res.writeHead(500, { "content-type": "text/plain" }).end("injected failure");
          return;
        }
        const up = request(`${this.upstream}${path}`, { method: "POST", headers: { "content-type": "application/json" } }, (ures) => {
          const out: Buffer[] = [];
          ures.on("data", (c: Buffer) => out.push(c));
          ures.on("end", () => {
            let text = Buffer.concat(out).toString("utf8");
            call.status = ures.statusCode ?? 0;
            call.doneAt = Date.now();
            if (call.status === 200) {
              let parsed = JSON.parse(text) as Record<string, unknown>;
              if (this.rewrite && path.endsWith("/sync")) parsed = this.rewrite(parsed, call.request as Record<string, unknown>);
              call.response = parsed;
              text = JSON.stringify(parsed);
            }
            res.writeHead(call.status, { "content-type": ures.headers["content-type"] ?? "application/json" }).end(text);
          });
        });
        up.on("error", (err) => res.writeHead(502).end(err.message));
        up.end(body);
      });
    });
    await new Promise<void>((resolve) => this.server?.listen(0, "127.0.0.1", resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
  }

  /** Calls to paths ending with `suffix`. */
  callsTo(suffix: string): HookCall[] {
    return this.calls.filter((c) => c.path.endsWith(suffix));
  }

  async close(): Promise<void> {
    const server = this.server;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }
}
