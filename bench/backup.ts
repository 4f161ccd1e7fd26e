/**
 * `npm run bench:backup` (issue 5, docs/backups.md "Benchmark"): dump and restore throughput of
 * the operator's backup path against the bare tools, on the same generated data, in one run.
 *
 * Two real mariadbd (test/helpers/mariadb.ts, 127.10.200.*): a source with BENCH_SIZE_MB of
 * dump text (default 1024) in one table, and a restore target.
 * - dump, bare:      mariadb-dump <the operator's flags> > file
 * - dump, operator:  backup.sh dump (source choice, dump, completion-trailer check,
 *                    GTID extraction, sha256, publish, meta.json) to a PVC-like dir,
 *                    compression none (apples to apples) and then zstd (for information)
 * - restore, bare:   mariadb --init-command="SET SESSION sql_log_bin=0" < file
 * - restore, operator: seed.sh check (meta.json, sha256, flavor, version) + sql +
 *                    position piped into one client session, as the entrypoint does
 * - dump, durable bare: the bare dump plus one fsync of the file (what the operator's PVC path
 *                    must do before meta.json may call the backup complete)
 * - round trip:      plain `mariadb-dump | mariadb` against the operator's dump plus restore
 * Each restore is checked against the source (CHECKSUM TABLE). Reported: MB/s of dump text,
 * rows/s, and operator/bare time ratio (target < 1.10). RUNS (default 1) repeats each pair,
 * alternating the order; the best time of each is compared.
 */
import { spawnSync } from "node:child_process";
import { mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import { join } from "node:path";
import mysql from "mysql2/promise";
import { BACKUP_USER } from "../src/api/constants.js";
import { accountsSql, SCRIPT, statements } from "../test/helpers/scripts.js";
import { destroyConnection, MariaDBHarness, type MariaDBInstance } from "../test/helpers/mariadb.js";

const SIZE_MB = Number(process.env["BENCH_SIZE_MB"] ?? 1024);
const RUNS = Number(process.env["RUNS"] ?? 1);
const PASSWORD = "bench-Pw1";
/** Approximate dump bytes per generated row (measured: ~205). */
const BYTES_PER_ROW = 205;
const CHUNK = 250_000;

const harness = new MariaDBHarness({
  subnet: 200,
  extraOptions: ["innodb_buffer_pool_size=512M", "innodb_log_file_size=512M", "max_allowed_packet=1G"],
});

async function sql(inst: MariaDBInstance, text: string, timeoutMs = 600_000): Promise<unknown> {
  const conn = await mysql.createConnection({ socketPath: join(inst.dir, "mysqld.sock"), user: "root", connectTimeout: 5000 });
  try {
    const [rows] = await conn.query({ sql: text, timeout: timeoutMs });
    return rows;
  } finally {
    destroyConnection(conn);
  }
}

function sh(script: string, env: Record<string, string>, what: string): number {
  const started = performance.now();
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => k !== "AWS_CA_BUNDLE")) as Record<string, string>;
  const r = spawnSync("bash", ["-c", script], { env: { ...clean, ...env }, encoding: "utf8", maxBuffer: 64 * 1024 * 1024 });
  const s = (performance.now() - started) / 1000;
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status}): ${(r.stderr || r.stdout).slice(-2000)}`);
  return s;
}

async function checksum(inst: MariaDBInstance): Promise<string> {
  const rows = (await sql(inst, "CHECKSUM TABLE bench.t")) as Array<{ Checksum: unknown }>;
  return String(rows[0]?.Checksum);
}

function fmt(n: number, d = 1): string {
  return n.toFixed(d).padStart(9);
}

async function main(): Promise<void> {
  const work = join(harness.root, "bench");
  mkdirSync(work, { recursive: true });
  const src = await harness.start(0);
  const dst = await harness.start(1);
  for (const inst of [src, dst]) {
    // Accounts for TCP (the scripts connect like a Job pod does), outside the binary log.
    // Both dumps use the operator's least-privilege backup account; restores run as root.
    for (const stmt of [
      "DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1'",
      `CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY '${PASSWORD}'`,
      "GRANT ALL ON *.* TO 'root'@'%' WITH GRANT OPTION",
      // The backup account as production creates it (accounts.sh).
      ...statements(accountsSql("service", "mariadb", { operator: PASSWORD, replication: PASSWORD, backup: PASSWORD })).filter(
        (s) => /^(CREATE|ALTER|GRANT) /.test(s) && s.includes(`'${BACKUP_USER}'`),
      ),
    ]) {
      await sql(inst, `SET STATEMENT sql_log_bin=0 FOR ${stmt}`);
    }
  }
  await sql(src, "SET GLOBAL read_only=0");
  await sql(dst, "SET GLOBAL read_only=0");

  const rows = Math.max(CHUNK, Math.round((SIZE_MB * 1_000_000) / BYTES_PER_ROW / CHUNK) * CHUNK);
  process.stdout.write(`bench:backup: generating ${rows.toLocaleString()} rows (~${SIZE_MB} MB of dump text) on ${src.host}...\n`);
  let t0 = performance.now();
  await sql(src, "CREATE DATABASE bench");
  await sql(src, "CREATE TABLE bench.t (id BIGINT PRIMARY KEY, a CHAR(32) NOT NULL, b VARCHAR(160) NOT NULL, n DOUBLE NOT NULL, k INT NOT NULL)");
  for (let from = 1; from <= rows; from += CHUNK) {
    await sql(
      src,
      `INSERT INTO bench.t SELECT seq, md5(seq), concat(sha2(seq, 256), sha1(seq), md5(seq + 1)), seq / 7, seq % 1000 FROM bench.seq_${from}_to_${from + CHUNK - 1}`,
    );
  }
  const want = await checksum(src);
  process.stdout.write(`  generated in ${((performance.now() - t0) / 1000).toFixed(1)} s\n`);

  const srcAddr = { host: src.host, port: "3306" };
  const bareFile = join(work, "bare.sql");
  const pvcRoot = join(work, "pvc");
  mkdirSync(pvcRoot, { recursive: true });
  const dumpFlags = "--single-transaction --quick --all-databases --routines --events --triggers --hex-blob --max-allowed-packet=1G --gtid --master-data=2";
  // `durable`: the bare dump plus one fsync of the file, which the operator's PVC path must do
  // before meta.json may say the backup is complete (the bare tool leaves it to writeback).
  const bareDump = (durable = false): number => {
    rmSync(bareFile, { force: true });
    return sh(
      `MYSQL_PWD='${PASSWORD}' mariadb-dump --host=${srcAddr.host} --port=3306 --user=${BACKUP_USER} ${dumpFlags} > '${bareFile}'${durable ? ` && sync '${bareFile}'` : ""}`,
      {},
      "bare dump",
    );
  };
  let opRun = 0;
  const opDump = (compression: "none" | "zstd"): { s: number; dir: string } => {
    const path = `bench/run${++opRun}-${compression}`;
    const s = sh(
      `bash "$SCRIPT" dump`,
      {
        SCRIPT: SCRIPT.backup,
        METAMYSQL_FLAVOR: "mariadb",
        METAMYSQL_CLUSTER: "bench",
        METAMYSQL_SOURCES: `bench-0=${src.host}`,
        METAMYSQL_PRIMARY: "",
        METAMYSQL_COMPRESSION: compression,
        METAMYSQL_BACKUP_PATH: path,
        METAMYSQL_STORAGE: "pvc",
        METAMYSQL_PVC_ROOT: pvcRoot,
        METAMYSQL_SCRATCH_DIR: join(work, "scratch"),
        METAMYSQL_RESULT_FILE: join(work, "result"),
        METAMYSQL_BACKUP_USER: BACKUP_USER,
        METAMYSQL_BACKUP_PASSWORD: PASSWORD,
      },
      "operator dump",
    );
    const result = JSON.parse(readFileSync(join(work, "result"), "utf8")) as { state: string };
    if (result.state !== "Completed") throw new Error(`operator dump: ${JSON.stringify(result)}`);
    return { s, dir: join(pvcRoot, path) };
  };
  const reset = async (): Promise<void> => {
    await sql(dst, "DROP DATABASE IF EXISTS bench");
    await sql(dst, "RESET MASTER");
  };
  const bareRestore = async (): Promise<number> => {
    await reset();
    const s = sh(
      `MYSQL_PWD='${PASSWORD}' mariadb --host=${dst.host} --port=3306 --user=root --max-allowed-packet=1G --init-command="SET SESSION sql_log_bin=0" < '${bareFile}'`,
      {},
      "bare restore",
    );
    if ((await checksum(dst)) !== want) throw new Error("bare restore: checksum differs");
    return s;
  };
  const opRestore = async (dir: string): Promise<number> => {
    await reset();
    const s = sh(
      `set -o pipefail; bash "$SEED" check && { bash "$SEED" sql; bash "$SEED" position; } | MYSQL_PWD='${PASSWORD}' mariadb --host=${dst.host} --port=3306 --user=root --max-allowed-packet=1G`,
      {
        SEED: SCRIPT.seed,
        METAMYSQL_FLAVOR: "mariadb",
        METAMYSQL_SEED_DIR: dir,
      },
      "operator restore",
    );
    if ((await checksum(dst)) !== want) throw new Error("operator restore: checksum differs");
    return s;
  };

  // Warm-up: the table in the buffer pool, the dump binaries in the page cache.
  t0 = performance.now();
  bareDump();
  const warm = (performance.now() - t0) / 1000;
  const dumpBytes = statSync(bareFile).size;
  process.stdout.write(`  warm-up dump ${warm.toFixed(1)} s, ${(dumpBytes / 1e6).toFixed(0)} MB of dump text\n`);

  const best = { bareDump: Infinity, bareDumpSync: Infinity, opDump: Infinity, opDumpZstd: Infinity, bareRestore: Infinity, opRestore: Infinity };
  let opDir = "";
  for (let i = 0; i < RUNS; i++) {
    const order = i % 2 === 0 ? ["op", "bare", "sync"] : ["sync", "bare", "op"];
    for (const which of order) {
      if (which === "bare") best.bareDump = Math.min(best.bareDump, bareDump());
      else if (which === "sync") best.bareDumpSync = Math.min(best.bareDumpSync, bareDump(true));
      else {
        const d = opDump("none");
        best.opDump = Math.min(best.opDump, d.s);
        opDir = d.dir;
      }
    }
    for (const which of order.filter((w) => w !== "sync")) {
      if (which === "bare") best.bareRestore = Math.min(best.bareRestore, await bareRestore());
      else best.opRestore = Math.min(best.opRestore, await opRestore(opDir));
    }
  }
  const z = opDump("zstd");
  best.opDumpZstd = z.s;
  const zstdBytes = statSync(join(z.dir, "dump.sql.zst")).size;
  const zRestore = await opRestore(z.dir);
  // The round trip without storage in between: plain `mariadb-dump | mariadb` (issue 5's
  // reference), against the operator's dump to storage followed by its restore.
  await reset();
  const pipe = sh(
    `set -o pipefail; MYSQL_PWD='${PASSWORD}' mariadb-dump --host=${srcAddr.host} --port=3306 --user=${BACKUP_USER} ${dumpFlags} | MYSQL_PWD='${PASSWORD}' mariadb --host=${dst.host} --port=3306 --user=root --max-allowed-packet=1G --init-command="SET SESSION sql_log_bin=0"`,
    {},
    "bare round trip",
  );
  if ((await checksum(dst)) !== want) throw new Error("bare round trip: checksum differs");

  const mb = dumpBytes / 1e6;
  const line = (name: string, s: number, ref?: number): string =>
    `  ${name.padEnd(38)}${fmt(s)} s${fmt(mb / s)} MB/s${fmt(rows / s, 0)} rows/s${ref ? `   ratio ${(s / ref).toFixed(3)}` : ""}\n`;
  process.stdout.write(
    `\nbench:backup: ${rows.toLocaleString()} rows, ${mb.toFixed(0)} MB dump text, MariaDB ${String(((await sql(src, "SELECT VERSION() AS v")) as Array<{ v: string }>)[0]?.v)}, best of ${RUNS}\n`,
  );
  process.stdout.write(line("dump    bare mariadb-dump > file", best.bareDump));
  process.stdout.write(line("dump    bare mariadb-dump > file; sync", best.bareDumpSync, best.bareDump));
  process.stdout.write(
    line("dump    operator backup.sh (none)", best.opDump, best.bareDump).replace(
      "\n",
      `   (${(best.opDump / best.bareDumpSync).toFixed(3)} vs durable bare)\n`,
    ),
  );
  process.stdout.write(
    line("dump    operator backup.sh (zstd)", best.opDumpZstd, best.bareDump).replace("\n", `   (${(zstdBytes / 1e6).toFixed(0)} MB stored)\n`),
  );
  process.stdout.write(line("restore bare mariadb < file", best.bareRestore));
  process.stdout.write(line("restore operator seed.sh (none)", best.opRestore, best.bareRestore));
  process.stdout.write(line("restore operator seed.sh (zstd)", zRestore, best.bareRestore));
  process.stdout.write(line("round trip bare mariadb-dump | mariadb", pipe));
  process.stdout.write(line("round trip operator dump + restore", best.opDump + best.opRestore, pipe));
  const worst = Math.max(best.opDump / best.bareDump, best.opRestore / best.bareRestore);
  process.stdout.write(
    `  operator overhead (worst of dump/restore, same compression): ${((worst - 1) * 100).toFixed(1)}% (target < 10%): ${worst < 1.1 ? "OK" : "OVER"}\n`,
  );
  const worstDurable = Math.max(best.opDump / best.bareDumpSync, best.opRestore / best.bareRestore);
  process.stdout.write(
    `  operator overhead against durable bare (dump + fsync): ${((worstDurable - 1) * 100).toFixed(1)}% (target < 10%): ${worstDurable < 1.1 ? "OK" : "OVER"}\n`,
  );
}

try {
  await main();
} finally {
  await harness.stopAll();
}
