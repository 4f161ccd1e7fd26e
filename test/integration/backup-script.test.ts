/**
 * backup.sh and seed.sh (src/backup/scripts/) against real mariadbd (127.10.22.x,
 * test/helpers/mariadb.ts), with the least-privilege backup account the entrypoint creates
 * (src/render/scripts/accounts.sh): what it
 * can dump, and how each failure of issue 5 ends (Failed with the reason, nothing published).
 * Disk full is the kernel's real ENOSPC: the dump's output path is a symlink to /dev/full
 * (mounting a small filesystem would need privileges CI may not have).
 */
import { spawn, spawnSync } from "node:child_process";
import { cpSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, statSync, symlinkSync, writeFileSync } from "node:fs";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKUP_USER } from "../../src/api/constants.js";
import { SCRIPT } from "../helpers/scripts.js";
import { MariaDBHarness, TEST_PASSWORDS, type MariaDBInstance } from "../helpers/mariadb.js";

const h = new MariaDBHarness({ subnet: 22 });
let small: MariaDBInstance;
let big: MariaDBInstance;
let work: string;
/** The cluster's backup signing key (Secret <c>-backup-credentials, key signing-key), as a file. */
const KEY = randomBytes(32).toString("hex");
let keyFile: string;

/** meta.json signed like backup.sh signs it (docs/backups.md "Signed backups"), with node:crypto. */
function signed(meta: Record<string, unknown>): string {
  const { signature: _dropped, ...rest } = meta;
  const body = JSON.stringify(rest);
  return `${body.slice(0, -1)},"signature":"hmac-sha256:${createHmac("sha256", Buffer.from(KEY, "hex")).update(body).digest("hex")}"}`;
}

interface Run {
  code: number | null;
  result: { state: string; message?: string; meta?: Record<string, unknown> };
  stderr: string;
}

/** Runs `backup.sh dump` like the Job's container does (env only; the password via MYSQL_PWD). */
function runDump(name: string, sources: string, env: Record<string, string> = {}, during?: (pvcDir: string) => Promise<void>): Promise<Run> {
  const pvcRoot = join(work, "pvc");
  const resultFile = join(work, `${name}.result`);
  const clean = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith("METAMYSQL_") && !k.startsWith("MYSQL_")));
  const child = spawn("bash", [SCRIPT.backup, "dump"], {
    env: {
      ...clean,
      METAMYSQL_FLAVOR: "mariadb",
      METAMYSQL_CLUSTER: "db",
      METAMYSQL_SOURCES: sources,
      METAMYSQL_PRIMARY: "",
      METAMYSQL_COMPRESSION: "none",
      METAMYSQL_BACKUP_PATH: `db/${name}`,
      METAMYSQL_STORAGE: "pvc",
      METAMYSQL_PVC_ROOT: pvcRoot,
      METAMYSQL_SCRATCH_DIR: join(work, `scratch-${name}`),
      METAMYSQL_RESULT_FILE: resultFile,
      METAMYSQL_BACKUP_USER: BACKUP_USER,
      METAMYSQL_BACKUP_PASSWORD: TEST_PASSWORDS.backup,
      METAMYSQL_SIGNING_KEY_FILE: keyFile,
      ...env,
    },
    stdio: ["ignore", "ignore", "pipe"],
  });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
  return (async () => {
    if (during) await during(join(pvcRoot, "db", name));
    const code = await exited;
    return { code, stderr, result: JSON.parse(readFileSync(resultFile, "utf8")) as Run["result"] };
  })();
}

function published(name: string): string[] {
  const dir = join(work, "pvc", "db", name);
  return existsSync(dir) ? readdirSync(dir).filter((f) => !f.startsWith(".")) : [];
}

beforeAll(async () => {
  work = join(h.root, "work");
  mkdirSync(join(work, "pvc"), { recursive: true });
  keyFile = join(work, "signing-key");
  writeFileSync(keyFile, KEY, { mode: 0o400 });
  [small, big] = await Promise.all([h.start(0), h.start(1)]);
  for (const inst of [small, big]) await h.rootQuery(inst, "SET GLOBAL read_only=0");
  // Everything a logical backup must carry: data, a view, a routine, a trigger, an event.
  for (const sql of [
    "CREATE DATABASE app",
    "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))",
    "INSERT INTO app.t SELECT seq, concat('v', seq) FROM app.seq_1_to_1000",
    "CREATE VIEW app.v AS SELECT COUNT(*) AS n FROM app.t",
    "CREATE FUNCTION app.twice(x INT) RETURNS INT DETERMINISTIC RETURN 2 * x",
    "CREATE TRIGGER app.tr BEFORE INSERT ON app.t FOR EACH ROW SET NEW.v = upper(NEW.v)",
    "CREATE EVENT app.e ON SCHEDULE EVERY 1 DAY DISABLE DO DELETE FROM app.t WHERE id < 0",
  ]) {
    await h.rootQuery(small, sql);
  }
  // Enough data on the other server that a dump takes a while (killed mid-way below).
  await h.rootQuery(big, "CREATE DATABASE big");
  await h.rootQuery(big, "CREATE TABLE big.t (id INT PRIMARY KEY, a CHAR(64), b CHAR(64))");
  await h.rootQuery(big, "INSERT INTO big.t SELECT seq, sha2(seq, 256), sha2(seq + 1, 256) FROM big.seq_1_to_400000");
}, 60_000);

afterAll(async () => {
  await h.stopAll();
});

describe("backup.sh with the least-privilege backup account (real mariadbd)", () => {
  it("dumps data, views, routines, triggers and events with only the backup account's privileges", async () => {
    const run = await runDump("ok", `db-0=${small.host}`);
    expect(run.result.state, run.stderr).toBe("Completed");
    expect(run.code).toBe(0);
    const dir = join(work, "pvc", "db", "ok");
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as { sha256: string; sizeBytes: number; gtidPosition: string; file: string };
    const dump = readFileSync(join(dir, meta.file));
    expect(createHash("sha256").update(dump).digest("hex")).toBe(meta.sha256);
    expect(statSync(join(dir, meta.file)).size).toBe(meta.sizeBytes);
    const text = dump.toString();
    const missing = [/CREATE TABLE `t`/, /VIEW `v`/, /FUNCTION `twice`/, /TRIGGER (app\.)?`?tr`? BEFORE INSERT/, /EVENT `e`/, /-- Dump completed/].filter(
      (re) => !re.test(text),
    );
    expect(missing).toEqual([]);
    expect(meta.gtidPosition).toMatch(/^0-100-\d+$/);
    // Nothing of the account's secret reaches the output.
    expect(run.stderr).not.toContain(TEST_PASSWORDS.backup);
  }, 60_000);

  it("the account cannot write, change replication or grant (least privilege)", async () => {
    const rows = (await h.rootQuery(small, `SHOW GRANTS FOR '${BACKUP_USER}'@'%'`)) as Array<Record<string, string>>;
    const grants = rows.map((r) => Object.values(r)[0]).join("\n");
    expect(grants).toContain("SELECT");
    for (const forbidden of ["INSERT", "UPDATE", "DELETE", "SUPER", "REPLICATION SLAVE ADMIN", "GRANT OPTION", "ALL PRIVILEGES", "CREATE USER"]) {
      expect(grants).not.toContain(forbidden);
    }
  });

  it("server gone before the dump: Failed, naming the instance that cannot be reached", async () => {
    const run = await runDump("gone", "db-9=127.10.22.99");
    expect(run.code).not.toBe(0);
    expect(run.result.state).toBe("Failed");
    expect(run.result.message).toMatch(/no healthy caught-up instance to back up: db-9: cannot connect/);
    expect(published("gone")).toEqual([]);
  }, 30_000);

  it("wrong credentials: Failed with the server's answer, the password never printed", async () => {
    const run = await runDump("denied", `db-0=${small.host}`, { METAMYSQL_BACKUP_PASSWORD: "wrong-S3cret" });
    expect(run.result.state).toBe("Failed");
    expect(run.result.message).toMatch(/Access denied/);
    expect(JSON.stringify(run)).not.toContain("wrong-S3cret");
    expect(published("denied")).toEqual([]);
  }, 30_000);

  it.each([
    ["none", "dump.sql", /writing the dump of db-0 to db\/full-none failed: no space left on the volume \(.*errno 28/],
    ["gzip", "dump.sql.gz", /writing the dump of db-0 to db\/full-gzip failed: .*No space left on device/],
  ])(
    "disk full (ENOSPC while writing, compression %s): Failed with the reason; no meta.json, no dump left behind",
    async (compression, file, message) => {
      const dir = join(work, "pvc", "db", `full-${compression}`);
      mkdirSync(dir, { recursive: true });
      symlinkSync("/dev/full", join(dir, `.${file}.partial`));
      const run = await runDump(`full-${compression}`, `db-0=${small.host}`, { METAMYSQL_COMPRESSION: compression });
      expect(run.code).not.toBe(0);
      expect(run.result.state).toBe("Failed");
      expect(run.result.message).toMatch(message);
      expect(readdirSync(dir)).toEqual([]);
    },
    30_000,
  );

  it("server hung during the dump (SIGSTOP mid-stream, gzip): stopped after the stall limit, Failed saying so; nothing published", async () => {
    let stopped = false;
    try {
      const run = await runDump("hung", `db-1=${big.host}`, { METAMYSQL_COMPRESSION: "gzip", METAMYSQL_STALL_SECONDS: "2" }, async (dir) => {
        const partial = join(dir, ".dump.sql.gz.partial");
        const deadline = Date.now() + 20_000;
        while (Date.now() < deadline && !(existsSync(partial) && statSync(partial).size > 500_000)) await new Promise((r) => setTimeout(r, 5));
        expect(statSync(partial).size).toBeGreaterThan(500_000);
        h.signal(big, "SIGSTOP");
        stopped = true;
      });
      expect(run.code).not.toBe(0);
      expect(run.result.state).toBe("Failed");
      expect(run.result.message).toMatch(/dump of db-1 stalled: no output for 2 s \(is the server hung\?\); stopped/);
      expect(readdirSync(join(work, "pvc", "db", "hung"))).toEqual([]);
    } finally {
      if (stopped) h.signal(big, "SIGCONT");
    }
  }, 60_000);

  it("server gone during the dump (SIGKILL mid-stream): Failed naming the lost connection; nothing published", async () => {
    const run = await runDump("killed", `db-1=${big.host}`, {}, async (dir) => {
      const partial = join(dir, ".dump.sql.partial");
      const deadline = Date.now() + 20_000;
      while (Date.now() < deadline && !(existsSync(partial) && statSync(partial).size > 2_000_000)) await new Promise((r) => setTimeout(r, 5));
      expect(statSync(partial).size).toBeGreaterThan(2_000_000);
      await h.kill(big);
    });
    expect(run.code).not.toBe(0);
    expect(run.result.state).toBe("Failed");
    expect(run.result.message).toMatch(/dump of db-1 failed: .*(Lost connection|server has gone away|Error 20\d\d)/);
    expect(readdirSync(join(work, "pvc", "db", "killed"))).toEqual([]);
  }, 60_000);
});

describe("seed.sh check refuses anything but a complete backup of the same flavor and major version", () => {
  /** A copy of the completed backup "ok" (first test above), changed by `damage`. */
  function variant(name: string, damage: (dir: string, meta: Record<string, unknown>) => Record<string, unknown> | undefined): string {
    const from = join(work, "pvc", "db", "ok");
    const dir = join(work, "seed", name);
    cpSync(from, dir, { recursive: true });
    const meta = JSON.parse(readFileSync(join(dir, "meta.json"), "utf8")) as Record<string, unknown>;
    const changed = damage(dir, meta);
    // Re-signed with the cluster's key: what is refused is the change itself, not the signature.
    if (changed) writeFileSync(join(dir, "meta.json"), signed(changed));
    return dir;
  }
  function check(dir: string): { code: number | null; stderr: string } {
    const r = spawnSync("bash", [SCRIPT.seed, "check"], {
      env: { ...process.env, METAMYSQL_FLAVOR: "mariadb", METAMYSQL_SEED_DIR: dir, METAMYSQL_SEED_KEY_FILE: keyFile },
      encoding: "utf8",
    });
    return { code: r.status, stderr: r.stderr };
  }

  it("accepts the intact backup", () => {
    const r = check(variant("intact", () => undefined));
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toMatch(/seed: restoring db\/ok \(mariadb 10\.\d+, gtid 0-100-\d+\)/);
  });
  it("refuses a backup without meta.json (half-written)", () => {
    const r = check(
      variant("partial", (dir) => {
        spawnSync("rm", [join(dir, "meta.json")]);
        return undefined;
      }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/no completed backup in .* \(meta\.json missing\): refusing to initialize from it/);
  });
  it("refuses a damaged dump (checksum mismatch)", () => {
    const r = check(
      variant("damaged", (dir, meta) => {
        writeFileSync(join(dir, String(meta["file"])), "-- truncated\n");
        return undefined;
      }),
    );
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/checksum mismatch for dump\.sql: the backup is damaged, refusing it/);
  });
  it("refuses another flavor", () => {
    const r = check(variant("flavor", (_dir, meta) => ({ ...meta, flavor: "mysql" })));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the backup is from mysql but this cluster runs mariadb: refusing to restore it/);
  });
  it("refuses another major version, naming both", () => {
    const r = check(variant("major", (_dir, meta) => ({ ...meta, majorVersion: "10.6" })));
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/the backup is from mariadb 10\.6 but this server is mariadb 1\d\.\d+: refusing to restore across major versions/);
  });
});

describe("seed.sh latest picks the newest usable backup of this cluster", () => {
  type AnyObj = Record<string, unknown>;
  const dir = mkdtempSync(join(tmpdir(), "mm-seedscan-"));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));
  const major = /Ver (\d+\.\d+)/.exec(spawnSync("mariadbd", ["--version"], { encoding: "utf8" }).stdout ?? "")?.[1];
  it.skipIf(!major)("seed.sh latest: the newest complete, intact backup of THIS cluster (uid)", () => {
    const put = (rel: string, meta: AnyObj, dump = "dump", damage = false): void => {
      mkdirSync(join(dir, rel), { recursive: true });
      writeFileSync(join(dir, rel, "dump.sql"), dump);
      const sha = createHash("sha256")
        .update(damage ? "other" : dump)
        .digest("hex");
      writeFileSync(
        join(dir, rel, "meta.json"),
        signed({
          cluster: "shop",
          clusterUID: "uid-1",
          flavor: "mariadb",
          majorVersion: major,
          compression: "none",
          file: "dump.sql",
          sha256: sha,
          ...meta,
        }),
      );
    };
    put("n/20260101T000000Z", { completedAt: "2026-01-01T00:00:10Z" });
    put("n/20260102T000000Z", { completedAt: "2026-01-02T00:00:10Z" });
    put("w/20260103T000000Z", { completedAt: "2026-01-03T00:00:10Z" }, "x", true); // damaged
    put("w/20260104T000000Z", { completedAt: "2026-01-04T00:00:10Z", clusterUID: "uid-OLD" }); // another cluster of that name
    mkdirSync(join(dir, "n/20260105T000000Z"), { recursive: true }); // incomplete: no meta.json
    const run = (uid: string) =>
      spawnSync("bash", [SCRIPT.seed, "latest"], {
        encoding: "utf8",
        env: { ...process.env, METAMYSQL_FLAVOR: "mariadb", METAMYSQL_SEED_SCAN: dir, METAMYSQL_CLUSTER_UID: uid, METAMYSQL_SIGNING_KEY_FILE: keyFile },
      });
    const r = run("uid-1");
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout.trim()).toBe(join(dir, "n/20260102T000000Z"));
    expect(r.stderr).toContain("skipping");
    expect(run("uid-none").stdout.trim()).toBe("");
  });
});
