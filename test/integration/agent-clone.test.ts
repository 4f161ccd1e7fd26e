/**
 * The agent sidecar against real MariaDB (src/agent/, docs/clustering.md "Cloning new
 * replicas"): `metamysql agent serve` (the built CLI, as the pod runs it) streams a physical
 * copy of a live server with the least-privilege backup account; `cloneInto` (the seeding init
 * container's code) extracts and prepares it into a new data dir, which starts at the copy's
 * GTID position and replicates from the source. A wrong or missing token gets 401 and not a
 * byte of the copy; neither the token nor the backup password is on any process's command line
 * (/proc/<pid>/cmdline, sampled while the copy streams) or in the agent's log.
 * Servers on 127.10.94.* (agent on 127.10.94.50).
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { z } from "zod";
import { cloneInto, CLONED_MARKER } from "../../src/agent/clone.js";
import { jsonLog } from "../../src/agent/log.js";
import { MariaDBHarness, TEST_PASSWORDS, type MariaDBInstance } from "../helpers/mariadb.js";

const BIN = new URL("../../bin/metamysql.js", import.meta.url).pathname;
const SUBNET = 94;
const AGENT_HOST = `127.10.${SUBNET}.50`;
const AGENT_PORT = 18081;
const TOKEN = "agent-token-Zq9xPw2mL7vR4tKs8nBd3hJf6cYg1a";
const ROWS = 5000;

const h = new MariaDBHarness({ subnet: SUBNET });
let source: MariaDBInstance;
let agent: ChildProcess | undefined;
let agentLog = "";
let agentExited: Promise<void> = Promise.resolve();

function get(path: string, token: string | undefined): Promise<{ status: number; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const req = request({ host: AGENT_HOST, port: AGENT_PORT, path, headers: token === undefined ? {} : { Authorization: `Bearer ${token}` } }, (res) => {
      const chunks: Buffer[] = [];
      res.on("data", (c: Buffer) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body: Buffer.concat(chunks) }));
      res.on("error", reject);
    });
    req.on("error", reject);
    req.end();
  });
}

/** Command lines of every process we may read, NUL-separated arguments joined by spaces. */
function allCommandLines(): string[] {
  const out: string[] = [];
  for (const pid of readdirSync("/proc").filter((p) => /^\d+$/.test(p))) {
    try {
      out.push(readFileSync(`/proc/${pid}/cmdline`, "utf8").replace(/\0/g, " "));
    } catch {
      // gone
    }
  }
  return out;
}

async function rows<T>(inst: MariaDBInstance, sql: string, schema: z.ZodType<T>): Promise<T> {
  return schema.parse(await h.rootQuery(inst, sql));
}

beforeAll(async () => {
  if (!existsSync(new URL("../../dist/src/agent/cli.js", import.meta.url))) throw new Error("build first: npm run build (the test runs bin/metamysql.js)");
  source = await h.start(0);
  await h.rootQuery(source, "SET GLOBAL read_only=OFF");
  await h.rootQuery(source, "CREATE DATABASE app");
  await h.rootQuery(source, "CREATE TABLE app.t (id INT PRIMARY KEY AUTO_INCREMENT, v VARCHAR(100)) ENGINE=InnoDB");
  await h.rootQuery(source, `INSERT INTO app.t (v) SELECT REPEAT('x', 100) FROM mysql.seq_1_to_${ROWS}`);
  const secrets = join(h.root, "agent-secrets");
  mkdirSync(join(secrets, "token"), { recursive: true });
  mkdirSync(join(secrets, "backup"), { recursive: true });
  writeFileSync(join(secrets, "token", "agent-token"), TOKEN, { mode: 0o600 });
  writeFileSync(join(secrets, "backup", "password"), TEST_PASSWORDS.backup, { mode: 0o600 });
  const tmp = join(h.root, "agent-tmp");
  mkdirSync(tmp, { recursive: true });
  agent = spawn(process.execPath, [BIN, "agent", "serve"], {
    env: {
      PATH: process.env.PATH ?? "/usr/bin:/bin",
      POD_NAME: "db-0",
      POD_IP: AGENT_HOST,
      METAMYSQL_FLAVOR: "mariadb",
      METAMYSQL_AGENT_PORT: String(AGENT_PORT),
      METAMYSQL_AGENT_TOKEN_DIR: join(secrets, "token"),
      METAMYSQL_DATA_DIR: join(source.dir, "data"),
      METAMYSQL_CONFIG_DIR: source.dir,
      METAMYSQL_RUN_DIR: source.dir,
      METAMYSQL_BACKUP_CREDENTIALS_DIR: join(secrets, "backup"),
      TMPDIR: tmp,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  const child = agent;
  child.stderr?.on("data", (d: Buffer) => (agentLog += d.toString("utf8")));
  agentExited = new Promise((resolve) => child.once("exit", () => resolve()));
  const deadline = Date.now() + 20_000;
  while (!agentLog.includes("agent listening")) {
    if (Date.now() > deadline || child.exitCode !== null) throw new Error(`agent did not start: ${agentLog}`);
    await new Promise((r) => setTimeout(r, 50));
  }
}, 60_000);

afterAll(async () => {
  if (agent && agent.exitCode === null) {
    agent.kill("SIGTERM");
    await agentExited;
  }
  await h.stopAll();
});

describe("the agent", () => {
  it("refuses a wrong or missing token with 401 and streams nothing", async () => {
    for (const token of [undefined, "wrong", `${TOKEN}x`, TOKEN.slice(0, -1)]) {
      const res = await get("/backup", token);
      expect(res.status).toBe(401);
      expect(res.body.toString("utf8")).toBe("unauthorized\n");
    }
    expect((await get("/healthz", undefined)).status).toBe(200);
    expect(agentLog).not.toContain("streaming a physical copy");
  });

  it("streams a copy that a new data dir is prepared from, starts at the copy's GTID position and replicates", async () => {
    const sourceGtid = (await rows(source, "SELECT @@gtid_binlog_pos AS g", z.array(z.object({ g: z.string() }))))[0]?.g ?? "";
    expect(sourceGtid).not.toBe("");
    const target = join(h.root, "i1", "data");
    mkdirSync(target, { recursive: true });
    // Sample every command line while the copy streams.
    const seen: string[] = [];
    let sampling = true;
    const sampler = (async () => {
      while (sampling) {
        seen.push(...allCommandLines().filter((c) => c.includes("mariadb-backup") || c.includes("mbstream")));
        await new Promise((r) => setTimeout(r, 20));
      }
    })();
    const result = await cloneInto({
      dataDir: target,
      donors: [{ pod: "db-0", host: AGENT_HOST, port: AGENT_PORT }],
      token: TOKEN,
      mbstream: "mbstream",
      mariadbBackup: "mariadb-backup",
      log: jsonLog("test clone", () => undefined),
    });
    sampling = false;
    await sampler;
    expect(result?.donor).toBe("db-0");
    expect(result?.gtid).toBe(sourceGtid);
    expect(readFileSync(join(target, CLONED_MARKER), "utf8").split("\n")[0]).toBe(sourceGtid);
    expect(seen.some((c) => c.includes("--backup"))).toBe(true);
    for (const c of seen) {
      expect(c).not.toContain(TEST_PASSWORDS.backup);
      expect(c).not.toContain(TOKEN);
    }

    // The copy starts as it is (no bootstrap), at the GTID the entrypoint sets (finish_clone).
    const replica = await h.start(1);
    const count = z.array(z.object({ n: z.union([z.number(), z.string()]) }));
    expect(Number((await rows(replica, "SELECT COUNT(*) AS n FROM app.t", count))[0]?.n)).toBe(ROWS);
    await h.rootQuery(replica, "SET SESSION sql_log_bin=0");
    await h.rootQuery(replica, `SET GLOBAL gtid_slave_pos='${sourceGtid}'`);
    await h.rootQuery(
      replica,
      `CHANGE MASTER TO MASTER_HOST='${source.host}', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD=?, MASTER_USE_GTID=slave_pos`,
      [TEST_PASSWORDS.replication],
    );
    await h.rootQuery(replica, "START SLAVE");
    await h.rootQuery(source, "INSERT INTO app.t (v) VALUES ('after the copy')");
    const deadline = Date.now() + 20_000;
    let n = 0;
    while (Date.now() < deadline && n !== ROWS + 1) {
      n = Number((await rows(replica, "SELECT COUNT(*) AS n FROM app.t", count))[0]?.n);
      if (n !== ROWS + 1) await new Promise((r) => setTimeout(r, 100));
    }
    expect(n).toBe(ROWS + 1);
    const checksum = z.array(z.object({ Checksum: z.union([z.number(), z.string()]) }));
    const [a, b] = await Promise.all([rows(source, "CHECKSUM TABLE app.t", checksum), rows(replica, "CHECKSUM TABLE app.t", checksum)]);
    expect(String(b[0]?.Checksum)).toBe(String(a[0]?.Checksum));
    // The agent logged the copy, and neither secret.
    expect(agentLog).toContain("physical copy streamed");
    expect(agentLog).not.toContain(TEST_PASSWORDS.backup);
    expect(agentLog).not.toContain(TOKEN);
  }, 120_000);
});
