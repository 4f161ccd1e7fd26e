/**
 * `npm run bench:clone` (issue 12 section 2, docs/clustering.md "Cloning new replicas"): how
 * long a new replica of BENCH_SIZE_MB (default 1024, MB of dump text, the unit of
 * `npm run bench:backup`) takes to seed by physical clone, against the logical path and a
 * plain file copy of the data dir, on the same data in one run.
 *
 * Real mariadbd on 127.10.95.* (test/helpers/mariadb.ts), the agent as the pod runs it
 * (`node bin/metamysql.js agent serve`, needs `npm run build`), on 127.10.95.50:
 * - clone:   cloneInto (the seeding init step: GET /backup with the token | mbstream -x, then
 *            mariadb-backup --prepare), then the server starts on the copy, gtid_slave_pos set
 *            to the copy's position, CHANGE MASTER ... MASTER_USE_GTID=slave_pos, and it has
 *            caught up with a row written after the copy: the whole "new replica" time;
 * - logical: mariadb-dump (the operator's flags) to a file, then the restore into a fresh
 *            server (sql_log_bin=0), each timed (the restore is the seeding step of today);
 * - cp -a:   a plain copy of the source's data dir (the floor of any file-level copy; not a
 *            consistent copy of a running server, timing only).
 * Each seeded copy is checked against the source (CHECKSUM TABLE). Reported: seconds, seconds
 * per GB of data dir and of dump text; target: clone < 30 s per GB.
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdirSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { cloneInto } from "../src/agent/clone.js";
import { jsonLog } from "../src/agent/log.js";
import { destroyConnection, MariaDBHarness, TEST_PASSWORDS, type MariaDBInstance } from "../test/helpers/mariadb.js";

const SIZE_MB = Number(process.env["BENCH_SIZE_MB"] ?? 1024);
const BYTES_PER_ROW = 205;
const CHUNK = 250_000;
const AGENT_HOST = "127.10.95.50";
const AGENT_PORT = 18082;
const TOKEN = "bench-agent-token-4f8a9c2e7b1d";
const BIN = new URL("../bin/metamysql.js", import.meta.url).pathname;

const harness = new MariaDBHarness({
  subnet: 95,
  extraOptions: ["innodb_buffer_pool_size=512M", "innodb_log_file_size=512M", "max_allowed_packet=1G"],
});

async function sql(inst: MariaDBInstance, text: string, timeoutMs = 900_000): Promise<unknown> {
  const conn = await mysql.createConnection({ socketPath: join(inst.dir, "mysqld.sock"), user: "root", connectTimeout: 5000 });
  try {
    const [rows] = await conn.query({ sql: text, timeout: timeoutMs });
    return rows;
  } finally {
    destroyConnection(conn);
  }
}

async function one(inst: MariaDBInstance, text: string): Promise<string> {
  const rows = (await sql(inst, text)) as Array<Record<string, unknown>>;
  return String(Object.values(rows[0] ?? {})[0]);
}

function sh(script: string, what: string): number {
  const started = performance.now();
  const r = spawnSync("bash", ["-c", script], { encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${(r.stderr || r.stdout).slice(-2000)}`);
  return (performance.now() - started) / 1000;
}

function duBytes(dir: string): number {
  const r = spawnSync("du", ["-sb", dir], { encoding: "utf8" });
  return Number(r.stdout.split(/\s/)[0]);
}

async function main(): Promise<void> {
  const work = join(harness.root, "bench");
  mkdirSync(work, { recursive: true });
  const src = await harness.start(0);
  await sql(src, "SET GLOBAL read_only=0");
  const rows = Math.max(CHUNK, Math.round((SIZE_MB * 1_000_000) / BYTES_PER_ROW / CHUNK) * CHUNK);
  process.stdout.write(`bench:clone: generating ${rows.toLocaleString()} rows (~${SIZE_MB} MB of dump text) on ${src.host}...\n`);
  let t0 = performance.now();
  await sql(src, "CREATE DATABASE bench");
  await sql(src, "CREATE TABLE bench.t (id BIGINT PRIMARY KEY, a CHAR(32) NOT NULL, b VARCHAR(160) NOT NULL, n DOUBLE NOT NULL, k INT NOT NULL)");
  for (let from = 1; from <= rows; from += CHUNK) {
    await sql(
      src,
      `INSERT INTO bench.t SELECT seq, md5(seq), concat(sha2(seq, 256), sha1(seq), md5(seq + 1)), seq / 7, seq % 1000 FROM bench.seq_${from}_to_${from + CHUNK - 1}`,
    );
  }
  const want = await one(src, "CHECKSUM TABLE bench.t");
  const dataBytes = duBytes(join(src.dir, "data"));
  process.stdout.write(`  generated in ${((performance.now() - t0) / 1000).toFixed(1)} s; source data dir ${(dataBytes / 1e9).toFixed(2)} GB\n`);

  // The agent, as the pod runs it.
  const secrets = join(work, "secrets");
  mkdirSync(secrets, { recursive: true });
  writeFileSync(join(secrets, "agent-token"), TOKEN, { mode: 0o600 });
  writeFileSync(join(secrets, "password"), TEST_PASSWORDS.backup, { mode: 0o600 });
  mkdirSync(join(work, "agent-tmp"), { recursive: true });
  const agent = spawn(process.execPath, [BIN, "agent", "serve"], {
    env: {
      PATH: process.env["PATH"] ?? "/usr/bin:/bin",
      POD_IP: AGENT_HOST,
      METAMYSQL_FLAVOR: "mariadb",
      METAMYSQL_AGENT_PORT: String(AGENT_PORT),
      METAMYSQL_AGENT_TOKEN_DIR: secrets,
      METAMYSQL_DATA_DIR: join(src.dir, "data"),
      METAMYSQL_CONFIG_DIR: src.dir,
      METAMYSQL_RUN_DIR: src.dir,
      METAMYSQL_BACKUP_CREDENTIALS_DIR: secrets,
      TMPDIR: join(work, "agent-tmp"),
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let agentLog = "";
  agent.stderr.on("data", (d: Buffer) => (agentLog += d.toString("utf8")));
  const agentExited = new Promise<void>((resolve) => agent.once("exit", () => resolve()));
  try {
    const deadline = Date.now() + 20_000;
    while (!agentLog.includes("agent listening")) {
      if (Date.now() > deadline || agent.exitCode !== null) throw new Error(`the agent did not start (npm run build first?): ${agentLog}`);
      await new Promise((r) => setTimeout(r, 50));
    }

    // 1. Clone: copy + prepare, then the server starts on it and catches up as a replica.
    process.stdout.write("  clone ...\n");
    const replicaData = join(harness.root, "i1", "data");
    mkdirSync(replicaData, { recursive: true });
    t0 = performance.now();
    const result = await cloneInto({
      dataDir: replicaData,
      donors: [{ pod: "bench-0", host: AGENT_HOST, port: AGENT_PORT }],
      token: TOKEN,
      mbstream: "mbstream",
      mariadbBackup: "mariadb-backup",
      prepareMemory: "512M",
      log: jsonLog("bench clone", () => undefined),
    });
    if (!result) throw new Error(`the clone failed: ${agentLog.slice(-2000)}`);
    const copied = (performance.now() - t0) / 1000;
    const replica = await harness.start(1);
    await sql(replica, "SET SESSION sql_log_bin=0");
    await sql(replica, `SET GLOBAL gtid_slave_pos='${result.gtid}'`);
    await sql(
      replica,
      `CHANGE MASTER TO MASTER_HOST='${src.host}', MASTER_PORT=3306, MASTER_USER='repl', MASTER_PASSWORD='${TEST_PASSWORDS.replication.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}', MASTER_USE_GTID=slave_pos`,
    );
    await sql(replica, "START SLAVE");
    await sql(src, "INSERT INTO bench.t VALUES (0, 'after', 'the copy', 0, 0)");
    const pos = await one(src, "SELECT @@gtid_binlog_pos");
    await sql(replica, `SELECT MASTER_GTID_WAIT('${pos}', 120)`);
    const cloneTotal = (performance.now() - t0) / 1000;
    const wantAfter = await one(src, "CHECKSUM TABLE bench.t");
    if ((await one(replica, "CHECKSUM TABLE bench.t")) !== wantAfter) throw new Error("the cloned replica's data differs from the source");
    await sql(src, "DELETE FROM bench.t WHERE id = 0");
    if ((await one(src, "CHECKSUM TABLE bench.t")) !== want) throw new Error("source changed");
    await harness.stop(replica);

    // 2. Logical: the operator's dump, then the restore into a fresh server.
    process.stdout.write("  logical dump + restore ...\n");
    const dumpFile = join(work, "dump.sql");
    const dumpFlags = "--single-transaction --quick --all-databases --routines --events --triggers --hex-blob --max-allowed-packet=1G --gtid --master-data=2";
    const dumpS = sh(`mariadb-dump --socket='${join(src.dir, "mysqld.sock")}' --user=root ${dumpFlags} > '${dumpFile}'`, "dump");
    const dumpBytes = duBytes(dumpFile);
    const fresh = await harness.start(2);
    const restoreS = sh(
      `mariadb --socket='${join(fresh.dir, "mysqld.sock")}' --user=root --max-allowed-packet=1G --init-command="SET SESSION sql_log_bin=0" < '${dumpFile}'`,
      "restore",
    );
    if ((await one(fresh, "CHECKSUM TABLE bench.t")) !== want) throw new Error("the restored copy differs from the source");
    await harness.stop(fresh);
    rmSync(dumpFile, { force: true });

    // 3. cp -a of the data dir.
    process.stdout.write("  cp -a of the data dir ...\n");
    const cpTarget = join(work, "cp");
    const cpS = sh(`cp -a '${join(src.dir, "data")}' '${cpTarget}'`, "cp -a");
    rmSync(cpTarget, { recursive: true, force: true });

    const gb = dataBytes / 1e9;
    const dumpGb = dumpBytes / 1e9;
    const line = (name: string, s: number) =>
      `  ${name.padEnd(44)} ${s.toFixed(1).padStart(7)} s  ${(s / gb).toFixed(1).padStart(6)} s/GB data dir  ${(s / dumpGb).toFixed(1).padStart(6)} s/GB dump text\n`;
    process.stdout.write(
      `\nbench:clone: data dir ${gb.toFixed(2)} GB (with its redo log and binary logs), copy streamed ${(result.bytes / 1e9).toFixed(2)} GB, dump text ${dumpGb.toFixed(2)} GB, ${rows.toLocaleString()} rows\n`,
    );
    process.stdout.write(line("clone: copy + prepare (streamed, 1 donor)", copied));
    process.stdout.write(line("clone: new replica caught up (total)", cloneTotal));
    process.stdout.write(line("logical: dump", dumpS));
    process.stdout.write(line("logical: restore (today's seeding)", restoreS));
    process.stdout.write(line("logical: dump + restore", dumpS + restoreS));
    process.stdout.write(line("cp -a of the data dir", cpS));
    const perGb = cloneTotal / dumpGb;
    process.stdout.write(`\n  clone, new replica: ${perGb.toFixed(1)} s per GB of dump text (target < 30): ${perGb < 30 ? "OK" : "OVER TARGET"}\n`);
  } finally {
    if (agent.exitCode === null) agent.kill("SIGTERM");
    await agentExited;
  }
}

main()
  .catch((err: unknown) => {
    process.stderr.write(`bench:clone failed: ${err instanceof Error ? (err.stack ?? err.message) : String(err)}\n`);
    process.exitCode = 1;
  })
  .finally(() => harness.stopAll());
