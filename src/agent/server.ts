/**
 * The agent (`metamysql agent serve`): a sidecar next to each database server, sharing its data
 * volume and socket dir, that serves a physical copy of its instance to the cluster's other pods
 * (docs/clustering.md "Cloning new replicas"). HTTP on the pod IP, port `agent` (8081); every
 * request but /healthz needs `Authorization: Bearer <token>` (auth.ts). TLS is not done here yet
 * (README "Security model": the NetworkPolicy admits only the cluster's own pods to this port).
 *
 *   GET /healthz   200 "ok" (no token: probes)
 *   GET /backup    MariaDB: `mariadb-backup --backup --stream=xbstream` of the local server,
 *                  streamed as the body; trailer `X-Metamysql-Backup: complete` once the tool
 *                  exited 0, else the connection is cut (the receiver never sees a clean end).
 *                  One copy at a time (503 + Retry-After while one runs). MySQL: 501 (the
 *                  recipient clones with the CLONE plugin, src/agent/mysql-clone.ts).
 *
 *   POST /rebuild  MariaDB: the operator's request to rebuild this instance (rebuild.ts, body
 *                  `{save?: {start, stop, serverId}, savedFile?}`): saves the errant range with
 *                  mariadb-binlog to `savedFile` in the data volume, then writes the rebuild
 *                  marker (the liveness probe stops the server, the entrypoint moves the data
 *                  dir aside, watchRebuild clones). 202 `{state, savedFile}`; repeated requests
 *                  find the marker and answer the same. 500 when the tail could not be saved:
 *                  nothing is rebuilt then.
 */
import { spawn } from "node:child_process";
import { createServer, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import { bearerToken, readToken, tokenMatches } from "./auth.js";
import { writeDefaultsFile } from "./defaults-file.js";
import type { Log } from "./log.js";
import { BINLOG_STATE_HEADER, COMPLETE_TRAILER } from "./protocol.js";
import { rebuildRequested, RebuildRequestSchema, requestRebuildMarker, saveTail, type RebuildRequest } from "./rebuild.js";

/** `SELECT @@GLOBAL.gtid_binlog_state` through the client with the option file; "" when it fails. */
function readBinlogState(defaultsFile: string): Promise<string> {
  return new Promise((resolve) => {
    const child = spawn("mariadb", [`--defaults-file=${defaultsFile}`, "-N", "-B", "-e", "SELECT @@GLOBAL.gtid_binlog_state"], {
      stdio: ["ignore", "pipe", "ignore"],
    });
    let out = "";
    child.stdout.on("data", (d: Buffer) => (out += d.toString("utf8")));
    child.on("error", () => resolve(""));
    child.on("close", (code) => {
      const state = out.trim();
      resolve(code === 0 && /^(\d+-\d+-\d+(,\d+-\d+-\d+)*)?$/.test(state) ? state : "");
    });
  });
}

export interface AgentServerOptions {
  address: string;
  port: number;
  flavor: "mysql" | "mariadb";
  /** File holding the token (the mounted Secret key). */
  tokenFile: string;
  dataDir: string;
  /** The server's socket. */
  socket: string;
  /** The server's my.cnf (included by the tool's option file). */
  myCnf: string | undefined;
  /** The least-privilege backup account. */
  backupUser: string;
  backupPasswordFile: string;
  tmpDir: string;
  /** mariadb-backup (absolute path or name in PATH). */
  mariadbBackup: string;
  /** mariadb-binlog (absolute path or name in PATH): saving a rebuilt instance's tail. */
  mariadbBinlog: string;
  log: Log;
}

/** Starts the agent; resolves once it listens. */
export async function startAgentServer(opts: AgentServerOptions): Promise<Server> {
  let busy = false;
  const server = createServer((req, res) => {
    void handle(req, res).catch((err: unknown) => {
      opts.log("error", "request failed", { error: err instanceof Error ? err.message : String(err) });
      if (!res.headersSent) send(res, 500, "internal error\n");
      else res.destroy();
    });
  });

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? "/", "http://agent");
    if (url.pathname === "/healthz") return send(res, 200, "ok\n");
    const expected = readToken(opts.tokenFile);
    if (expected === undefined) {
      opts.log("error", "no agent token mounted: refusing every request", { path: url.pathname });
      return send(res, 503, "the agent has no token\n");
    }
    const presented = bearerToken(req.headers.authorization);
    if (presented === undefined || !tokenMatches(presented, expected)) {
      opts.log("warn", "refused a request without the right token", { path: url.pathname, from: req.socket.remoteAddress });
      res.setHeader("WWW-Authenticate", 'Bearer realm="metamysql-agent"');
      return send(res, 401, "unauthorized\n");
    }
    if (url.pathname === "/rebuild") return rebuild(req, res);
    if (url.pathname !== "/backup") return send(res, 404, "not found\n");
    if (req.method !== "GET") return send(res, 405, "method not allowed\n");
    if (opts.flavor !== "mariadb") return send(res, 501, "MySQL instances are cloned with the CLONE plugin, not streamed by the agent\n");
    if (busy) {
      res.setHeader("Retry-After", "10");
      return send(res, 503, "a copy is already being streamed\n");
    }
    busy = true;
    try {
      await streamBackup(req, res);
    } finally {
      busy = false;
    }
  }

  let saving = false;
  async function rebuild(req: IncomingMessage, res: ServerResponse): Promise<void> {
    if (req.method !== "POST") return send(res, 405, "method not allowed\n");
    if (opts.flavor !== "mariadb") return send(res, 501, "automatic rebuild needs flavor mariadb\n");
    let body = "";
    for await (const chunk of req as AsyncIterable<Buffer>) {
      body += chunk.toString("utf8");
      if (body.length > 16384) return send(res, 413, "request too large\n");
    }
    let parsed: RebuildRequest;
    try {
      parsed = RebuildRequestSchema.parse(JSON.parse(body || "{}"));
    } catch (err) {
      return send(res, 400, `bad rebuild request: ${err instanceof Error ? err.message.slice(0, 300) : "invalid"}\n`);
    }
    const already = rebuildRequested(opts.dataDir);
    if (already !== undefined) return json(res, 202, { state: "rebuilding", ...(already ? { savedFile: already } : {}) });
    if (saving) {
      res.setHeader("Retry-After", "2");
      return send(res, 503, "saving the extra transactions\n");
    }
    saving = true;
    try {
      if (parsed.save && parsed.savedFile) {
        const { bytes } = await saveTail(opts.dataDir, { save: parsed.save, savedFile: parsed.savedFile }, opts.mariadbBinlog);
        opts.log("info", "rebuild: saved the extra transactions", { gtids: parsed.save.stop, file: parsed.savedFile, bytes });
      }
      requestRebuildMarker(opts.dataDir, parsed.savedFile);
      opts.log("info", "rebuild requested: the server stops at its next liveness probe and its data dir is replaced by a clone", {
        savedFile: parsed.savedFile ?? "",
      });
      return json(res, 202, { state: "rebuilding", ...(parsed.savedFile ? { savedFile: parsed.savedFile } : {}) });
    } catch (err) {
      opts.log("error", "rebuild refused: the extra transactions could not be saved", { error: err instanceof Error ? err.message : String(err) });
      return send(res, 500, `could not save the extra transactions: ${err instanceof Error ? err.message : String(err)}\n`);
    } finally {
      saving = false;
    }
  }

  async function streamBackup(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const password = readToken(opts.backupPasswordFile);
    if (password === undefined) return send(res, 503, "the backup account's password is not mounted\n");
    const cnf = writeDefaultsFile(opts.tmpDir, { include: opts.myCnf, user: opts.backupUser, password, socket: opts.socket });
    const started = Date.now();
    opts.log("info", "streaming a physical copy", { to: req.socket.remoteAddress });
    try {
      const binlogState = await readBinlogState(cnf.path);
      // --defaults-file must come first; nothing secret on this command line.
      const child = spawn(
        opts.mariadbBackup,
        [`--defaults-file=${cnf.path}`, "--backup", "--stream=xbstream", `--datadir=${opts.dataDir}`, `--tmpdir=${opts.tmpDir}`, `--target-dir=${opts.tmpDir}`],
        { stdio: ["ignore", "pipe", "pipe"] },
      );
      let stderrTail = "";
      child.stderr.on("data", (d: Buffer) => {
        stderrTail = (stderrTail + d.toString("utf8")).slice(-4096);
      });
      res.writeHead(200, {
        "Content-Type": "application/octet-stream",
        Trailer: COMPLETE_TRAILER,
        "Cache-Control": "no-store",
        ...(binlogState ? { [BINLOG_STATE_HEADER]: binlogState } : {}),
      });
      let bytes = 0;
      child.stdout.on("data", (d: Buffer) => {
        bytes += d.length;
      });
      child.stdout.pipe(res, { end: false });
      // The receiver went away: stop the copy.
      const onClose = () => {
        if (child.exitCode === null) child.kill("SIGTERM");
      };
      res.on("close", onClose);
      const [code, signal] = await new Promise<[number | null, NodeJS.Signals | null]>((resolve) => {
        child.on("error", (err) => {
          stderrTail += `\n${err.message}`;
          resolve([127, null]);
        });
        child.on("close", (c, s) => resolve([c, s]));
      });
      res.off("close", onClose);
      if (code === 0) {
        res.addTrailers({ [COMPLETE_TRAILER]: "complete" });
        res.end();
        opts.log("info", "physical copy streamed", { bytes, seconds: Math.round((Date.now() - started) / 100) / 10 });
      } else {
        opts.log("error", "mariadb-backup failed; the copy was cut off", { code, signal, output: lastLines(stderrTail, 5) });
        res.destroy();
      }
    } finally {
      cnf.remove();
    }
  }

  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(opts.port, opts.address, () => {
      server.off("error", reject);
      resolve();
    });
  });
  opts.log("info", "agent listening", { address: opts.address, port: opts.port, flavor: opts.flavor });
  return server;
}

function json(res: ServerResponse, status: number, body: unknown): void {
  res.writeHead(status, { "Content-Type": "application/json" });
  res.end(JSON.stringify(body));
}

function send(res: ServerResponse, status: number, body: string): void {
  res.writeHead(status, { "Content-Type": "text/plain; charset=utf-8" });
  res.end(body);
}

function lastLines(text: string, n: number): string {
  return text.trim().split("\n").slice(-n).join("\n");
}
