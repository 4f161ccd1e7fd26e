/**
 * The control channel between `metamysql local up` and the other `local` verbs: HTTP with JSON
 * bodies on a unix socket named in the state dir's runtime.json. Only the owner of the state
 * dir can reach it (the socket is created mode 0600).
 */
import { chmodSync, existsSync, rmSync } from "node:fs";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { lockHolder, readRuntimeInfo, type StateLayout } from "../node/statedir.js";

/** A route handler: returns the JSON answer or throws (-> 4xx/5xx with the message). */
export type ControlHandler = (body: unknown, query: URLSearchParams) => Promise<unknown>;

/** An error with an HTTP status for the control channel. */
export class ControlError extends Error {
  readonly status: number;
  constructor(status: number, message: string) {
    super(message);
    this.name = "ControlError";
    this.status = status;
  }
}

/** Serves `routes` ("GET /status", "POST /apply", ...) on `socketPath`. */
export async function startControlServer(socketPath: string, routes: Record<string, ControlHandler>): Promise<{ close(): Promise<void> }> {
  if (existsSync(socketPath)) rmSync(socketPath, { force: true });
  const server: Server = createServer((req, res) => void handle(req, res, routes));
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(socketPath, () => {
      server.removeListener("error", reject);
      resolve();
    });
  });
  chmodSync(socketPath, 0o600);
  return {
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
        rmSync(socketPath, { force: true });
      }),
  };
}

async function handle(req: IncomingMessage, res: ServerResponse, routes: Record<string, ControlHandler>): Promise<void> {
  const url = new URL(req.url ?? "/", "http://local");
  const route = routes[`${req.method ?? "GET"} ${url.pathname}`];
  const send = (status: number, body: unknown): void => {
    res.writeHead(status, { "content-type": "application/json" });
    res.end(JSON.stringify(body));
  };
  if (!route) {
    send(404, { error: `no route ${req.method} ${url.pathname}` });
    return;
  }
  try {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const text = Buffer.concat(chunks).toString("utf8");
    const body: unknown = text ? JSON.parse(text) : undefined;
    send(200, (await route(body, url.searchParams)) ?? {});
  } catch (err) {
    send(err instanceof ControlError ? err.status : 500, { error: err instanceof Error ? err.message : String(err) });
  }
}

/** Calls the runtime of a state dir; throws a clear error when none is running. */
export async function controlRequest(layout: StateLayout, method: "GET" | "POST", path: string, body?: unknown, timeoutMs = 600_000): Promise<unknown> {
  const info = readRuntimeInfo(layout);
  if (!info || lockHolder(layout) === undefined) {
    throw new Error(`no "metamysql local up" is running for state dir ${layout.root}; start one with: metamysql local up -f FILE --state-dir ${layout.root}`);
  }
  return await new Promise<unknown>((resolve, reject) => {
    const payload = body === undefined ? undefined : JSON.stringify(body);
    const req = request(
      {
        socketPath: info.socket,
        path,
        method,
        headers: payload ? { "content-type": "application/json", "content-length": Buffer.byteLength(payload) } : {},
        timeout: timeoutMs,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => {
          const text = Buffer.concat(chunks).toString("utf8");
          let parsed: unknown;
          try {
            parsed = text ? JSON.parse(text) : {};
          } catch {
            parsed = { error: text };
          }
          if ((res.statusCode ?? 500) >= 400) {
            const msg = (parsed as { error?: string }).error ?? `HTTP ${res.statusCode}`;
            reject(new Error(msg));
          } else resolve(parsed);
        });
      },
    );
    req.on("timeout", () => req.destroy(new Error(`the runtime did not answer ${method} ${path} in time`)));
    req.on("error", (err) => reject(new Error(`cannot reach the runtime of ${layout.root}: ${err.message}`)));
    if (payload) req.write(payload);
    req.end();
  });
}
