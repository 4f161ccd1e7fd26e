/**
 * The hook server: express wiring only (routes, body parsing, error mapping, metrics, logs).
 * The hooks hold the logic. ARCHITECTURE.md section 4.
 */
import { randomBytes } from "node:crypto";
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import express, { type Request, type Response } from "express";
import { pino, type Logger } from "pino";
import { BadRequestError, type HookContext } from "../../hooks/shared/context.js";
import { customizeMySQLBackup } from "../../hooks/mysqlbackup/customize.js";
import { finalizeMySQLBackup } from "../../hooks/mysqlbackup/finalize.js";
import { syncMySQLBackup } from "../../hooks/mysqlbackup/sync.js";
import { customizeMySQLDatabase } from "../../hooks/mysqldatabase/customize.js";
import { finalizeMySQLDatabase } from "../../hooks/mysqldatabase/finalize.js";
import { syncMySQLDatabase } from "../../hooks/mysqldatabase/sync.js";
import { customizeMySQLUser } from "../../hooks/mysqluser/customize.js";
import { finalizeMySQLUser } from "../../hooks/mysqluser/finalize.js";
import { syncMySQLUser } from "../../hooks/mysqluser/sync.js";
import { customizeMySQLCluster } from "../../hooks/mysqlcluster/customize.js";
import { finalizeMySQLCluster } from "../../hooks/mysqlcluster/finalize.js";
import { syncMySQLCluster } from "../../hooks/mysqlcluster/sync.js";
import { KeyedSerializer } from "./serialize.js";
import { EnvConfigSchema, loadEnvConfig, type EnvConfig } from "../api/env.js";
import { redactSecrets } from "../api/redact.js";
import { createHookMetrics, type HookMetrics } from "../metrics/registry.js";
import { generatePassword } from "./passwords.js";
import { MAX_JSON_DEPTH, tooDeep } from "./json-guard.js";

export interface AppOptions {
  config?: EnvConfig;
  logger?: Logger;
  metrics?: HookMetrics;
  now?: () => Date;
  generatePassword?: () => string;
}

type Handler = (body: unknown, ctx: HookContext) => Promise<unknown>;

/**
 * Every hook endpoint, `/hooks/<resource>/<hook>` (ARCHITECTURE.md section 4). The one place
 * that knows the hooks: the HTTP routes below and `metamysql render` (src/cli) both dispatch
 * through it, so no other module imports hooks/.
 */
export const HOOKS = {
  mysqlcluster: { sync: syncMySQLCluster, finalize: finalizeMySQLCluster, customize: customizeMySQLCluster },
  mysqlbackup: { sync: syncMySQLBackup, finalize: finalizeMySQLBackup, customize: customizeMySQLBackup },
  mysqldatabase: { sync: syncMySQLDatabase, finalize: finalizeMySQLDatabase, customize: customizeMySQLDatabase },
  mysqluser: { sync: syncMySQLUser, finalize: finalizeMySQLUser, customize: customizeMySQLUser },
} as const satisfies Record<string, Record<"sync" | "finalize" | "customize", Handler>>;

/** Key used to serialize calls for one parent: namespace/name from the body, if present. */
function parentKey(body: unknown): string | undefined {
  if (typeof body !== "object" || body === null) return undefined;
  const parent = (body as { parent?: { metadata?: { namespace?: unknown; name?: unknown } } }).parent;
  const name = parent?.metadata?.name;
  if (typeof name !== "string") return undefined;
  const ns = typeof parent?.metadata?.namespace === "string" ? parent.metadata.namespace : "default";
  return `${ns}/${name}`;
}

/**
 * `res.status(200).json(body)`, byte for byte (same status, headers and body), without
 * express copying the text into a Buffer first (it does for bodies over 1000 characters): a
 * string body goes out as one chunk with the headers, as a bare node:http server sends it.
 */
function sendJson(res: Response, body: unknown): void {
  const text = JSON.stringify(body);
  res.statusCode = 200;
  res.setHeader("Content-Type", "application/json; charset=utf-8");
  res.setHeader("Content-Length", Buffer.byteLength(text, "utf8"));
  res.end(text, "utf8");
}

/** BODY_LIMIT (`<n>kb` or `<n>mb`, src/api/env.ts) in bytes, as body-parser counts them. */
function limitBytes(limit: string): number {
  const m = /^([0-9]+)(kb|mb)$/.exec(limit);
  return m ? Number(m[1]) * (m[2] === "kb" ? 1024 : 1024 * 1024) : 0;
}

const PLAIN_JSON_TYPES = new Set(["application/json", "application/json; charset=utf-8"]);

/**
 * `express.json({strict: false})` for the requests Metacontroller sends (JSON, a
 * Content-Length within the limit, no Content-Encoding), without raw-body's per-chunk
 * decoding and async-scope bookkeeping; every other request goes to `fallback` (body-parser
 * itself). Same results: an empty body is `{}`, a UTF-8 BOM is dropped, a JSON syntax error
 * is a 400 with JSON.parse's message, like body-parser's.
 */
function fastJsonBody(limit: string, fallback: express.RequestHandler): express.RequestHandler {
  const max = limitBytes(limit);
  return (req, res, next) => {
    const length = req.headers["content-length"];
    const plain =
      PLAIN_JSON_TYPES.has(req.headers["content-type"] ?? "") &&
      req.headers["content-encoding"] === undefined &&
      req.headers["transfer-encoding"] === undefined &&
      length !== undefined &&
      /^[0-9]+$/.test(length) &&
      Number(length) <= max &&
      !req.readableEnded;
    if (!plain) return fallback(req, res, next);
    const chunks: Buffer[] = [];
    let settled = false;
    const fail = (err: Error) => {
      if (settled) return;
      settled = true;
      next(Object.assign(err, { status: 400, statusCode: 400 }));
    };
    req.on("data", (chunk: Buffer) => chunks.push(chunk));
    req.on("error", fail);
    req.on("aborted", () => fail(Object.assign(new Error("request aborted"), { code: "ECONNABORTED" })));
    req.on("end", () => {
      if (settled) return;
      settled = true;
      let text = (chunks.length === 1 ? (chunks[0] as Buffer) : Buffer.concat(chunks)).toString("utf8");
      if (text.charCodeAt(0) === 0xfeff) text = text.slice(1);
      try {
        req.body = text.length === 0 ? {} : JSON.parse(text);
      } catch (err) {
        next(Object.assign(err as Error, { status: 400, statusCode: 400, type: "entity.parse.failed" }));
        return;
      }
      next();
    });
  };
}

/**
 * What the log gets of a failed hook's error: its type, code and redacted message and stack,
 * not the error object (pino's serializer would print every property and every cause's message
 * and stack, e.g. a driver error's `sql`).
 */
export function loggableError(err: unknown): { type: string; message: string; code?: string; stack?: string } {
  if (!(err instanceof Error)) return { type: typeof err, message: redactSecrets(String(err)) };
  const code: unknown = Reflect.get(err, "code");
  return {
    type: err.name,
    message: redactSecrets(err.message),
    ...(typeof code === "string" ? { code } : {}),
    ...(err.stack !== undefined ? { stack: redactSecrets(err.stack) } : {}),
  };
}

/** Builds the express app (used by `serve`, the local runtime and the contract tests). */
export function createApp(opts: AppOptions = {}): { app: express.Express; ctx: HookContext; state: { ready: boolean } } {
  const config = opts.config ?? EnvConfigSchema.parse({});
  const logger = opts.logger ?? pino({ level: config.LOG_LEVEL, base: { component: "metamysql-hooks" } });
  const ctx: HookContext = {
    config,
    logger,
    metrics: opts.metrics ?? createHookMetrics(),
    now: opts.now ?? (() => new Date()),
    generatePassword: opts.generatePassword ?? generatePassword,
  };
  const state = { ready: true };
  const serializer = new KeyedSerializer();
  // Request ids: unique per process (random tag) and cheap (a counter), for correlating logs.
  const processTag = randomBytes(3).toString("hex");
  let requestCounter = 0;
  const app = express();
  app.disable("x-powered-by");
  app.set("etag", false);

  const jsonBody = fastJsonBody(config.BODY_LIMIT, express.json({ limit: config.BODY_LIMIT, strict: false }));
  // Before any handler (zod, patches) recurses into the body: a too-deep body is a 400.
  const depthGuard: express.RequestHandler = (req, _res, next) => {
    const deep = tooDeep(req.body, MAX_JSON_DEPTH);
    if (!deep) return next();
    logger.warn({ path: req.path, at: deep.path }, `bad request: JSON nested deeper than ${MAX_JSON_DEPTH} levels`);
    next(Object.assign(new Error(`JSON nested deeper than ${MAX_JSON_DEPTH} levels at ${deep.path}`), { status: 400, statusCode: 400 }));
  };

  // `hook` is the metrics label: the cluster's hooks keep their historical names (sync, ...),
  // other resources' are prefixed (mysqlbackup-sync, ...).
  const route = (resource: keyof typeof HOOKS, name: keyof (typeof HOOKS)[keyof typeof HOOKS]) => {
    const handler: Handler = HOOKS[resource][name];
    const hook = resource === "mysqlcluster" ? name : `${resource}-${name}`;
    app.post(`/hooks/${resource}/${name}`, jsonBody, depthGuard, async (req: Request, res: Response) => {
      const started = process.hrtime.bigint();
      const receivedAt = performance.now();
      const requestId = `${processTag}-${(++requestCounter).toString(36)}`;
      const key = parentKey(req.body);
      const log = logger.child({ hook, cluster: key, requestId });
      let code = 200;
      try {
        const run = () => handler(req.body, { ...ctx, logger: log, receivedAt });
        const out = key ? await serializer.run(key, run) : await run();
        sendJson(res, out);
      } catch (err) {
        if (err instanceof BadRequestError) {
          code = 400;
          log.warn({ issues: err.issues }, `bad request: ${err.message}`);
          res.status(400).json({ error: err.message, issues: err.issues });
        } else {
          code = 500;
          // Redacted at the boundary: errors carry no SQL (src/mysql/connection.ts), and anything
          // that still looks like a password never reaches a log line or the response.
          const reason = redactSecrets(err instanceof Error ? err.message : String(err));
          log.error({ err: loggableError(err) }, `hook failed: ${reason}`);
          res.status(500).type("text/plain").send(`metamysql ${hook} failed: ${reason}`);
        }
      } finally {
        const seconds = Number(process.hrtime.bigint() - started) / 1e9;
        ctx.metrics.hookRequests.inc({ hook, code: String(code) });
        ctx.metrics.hookDuration.observe({ hook }, seconds);
        log.debug({ code, ms: Math.round(seconds * 1000) }, "hook answered");
      }
    });
  };

  for (const resource of Object.keys(HOOKS) as (keyof typeof HOOKS)[]) {
    for (const name of ["sync", "finalize", "customize"] as const) route(resource, name);
  }

  app.get("/healthz", (_req, res) => {
    res.status(200).json({ status: "ok" });
  });
  app.get("/readyz", (_req, res) => {
    res.status(state.ready ? 200 : 503).json({ status: state.ready ? "ready" : "shutting down" });
  });
  app.get("/metrics", async (_req, res) => {
    try {
      res
        .status(200)
        .type(ctx.metrics.registry.contentType)
        .send(await ctx.metrics.registry.render());
    } catch (err) {
      res
        .status(500)
        .type("text/plain")
        .send(`metamysql: metrics: ${err instanceof Error ? err.message : String(err)}`);
    }
  });
  // Body-parser errors (bad JSON, too large) and unknown routes, as JSON.
  app.use((_req: Request, res: Response) => {
    res.status(404).json({ error: "not found" });
  });
  app.use((err: unknown, _req: Request, res: Response, _next: express.NextFunction) => {
    const status = typeof err === "object" && err !== null && "status" in err && typeof err.status === "number" ? err.status : 500;
    const message = redactSecrets(err instanceof Error ? err.message : String(err));
    if (status >= 400 && status < 500) res.status(status).json({ error: `malformed request: ${message}` });
    else res.status(500).type("text/plain").send(`metamysql: ${message}`);
  });
  return { app, ctx, state };
}

export interface RunningServer {
  url: string;
  port: number;
  server: Server;
  /** Makes /readyz answer 503 (draining) while in-flight hooks finish. */
  markNotReady(): void;
  close(): Promise<void>;
}

/** Starts the hook server; port 0 picks an ephemeral port. */
export async function startHookServer(opts: { port?: number; host?: string; logLevel?: string } & AppOptions = {}): Promise<RunningServer> {
  const base = opts.config ?? loadEnvConfig();
  const config: EnvConfig = {
    ...base,
    ...(opts.port !== undefined ? { PORT: opts.port } : {}),
    ...(opts.host !== undefined ? { HOST: opts.host } : {}),
    ...(opts.logLevel !== undefined ? { LOG_LEVEL: EnvConfigSchema.shape.LOG_LEVEL.parse(opts.logLevel) } : {}),
  };
  const { app, state } = createApp({ ...opts, config });
  const server = await new Promise<Server>((resolve, reject) => {
    const s = app.listen(config.PORT, config.HOST, (err?: Error) => (err ? reject(err) : resolve(s)));
  });
  // Above Go's idle timeout (Metacontroller's client), or reused connections fail with EOF.
  server.on("connection", (socket) => socket.setNoDelay(true));
  server.keepAliveTimeout = 120_000;
  server.headersTimeout = 125_000;
  const port = (server.address() as AddressInfo).port;
  const host = config.HOST === "0.0.0.0" || config.HOST === "::" ? "127.0.0.1" : config.HOST;
  return {
    url: `http://${host}:${port}`,
    port,
    server,
    markNotReady: () => {
      state.ready = false;
    },
    close: () =>
      new Promise<void>((resolve) => {
        state.ready = false;
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
