/**
 * Backups are not trusted blindly (issue 10, items 6, 9 and 12; docs/backups.md "Signed
 * backups" and "Retention"): the real backup.sh / seed.sh against real mariadbd (127.10.61.x,
 * test/helpers/mariadb.ts), a PVC-like directory and a local S3 server (s3rver, rclone):
 * - meta.json is signed with HMAC-SHA256 (computed in bash, the key never on a command line),
 *   equal to node:crypto's, and binds the dump through its sha256;
 * - seeding refuses an unsigned meta.json, a signature by another key, a tampered GTID position
 *   or dump, and a GTID position that is not a GTID set even when signed; nothing of a refused
 *   backup is executed on the server;
 * - retention and deletionPolicy Delete remove only this cluster's (uid) backups: two clusters of
 *   the same name in one bucket never delete each other's, and odd folder names are neither
 *   word-split nor globbed.
 */
import { spawn, spawnSync } from "node:child_process";
import { createHash, createHmac, randomBytes } from "node:crypto";
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BACKUP_USER } from "../../src/api/constants.js";
import { MariaDBHarness, TEST_PASSWORDS, type MariaDBInstance } from "../helpers/mariadb.js";
import { startS3, type TestS3 } from "../helpers/s3.js";
import { SCRIPT } from "../helpers/scripts.js";

const h = new MariaDBHarness({ subnet: 61 });
let src: MariaDBInstance;
let target: MariaDBInstance;
let work: string;
let s3: TestS3;
const KEY_A = randomBytes(32).toString("hex");
const KEY_B = randomBytes(32).toString("hex");
const UID_A = "0f6e1c2a-1111-4a4a-8a8a-aaaaaaaaaaaa";
const UID_B = "0f6e1c2a-2222-4b4b-8b8b-bbbbbbbbbbbb";
let keyFileA: string;
let keyFileB: string;

interface Run {
  code: number | null;
  stdout: string;
  stderr: string;
}

function cleanEnv(): Record<string, string | undefined> {
  return Object.fromEntries(
    Object.entries(process.env).filter(([k]) => !k.startsWith("METAMYSQL_") && !k.startsWith("MYSQL_") && !k.startsWith("RCLONE_") && !k.startsWith("AWS_")),
  );
}

function s3Env(): Record<string, string> {
  return {
    METAMYSQL_STORAGE: "s3",
    METAMYSQL_S3_BUCKET: "backups",
    METAMYSQL_S3_PREFIX: "team",
    RCLONE_CONFIG_STORE_TYPE: "s3",
    RCLONE_CONFIG_STORE_PROVIDER: "Other",
    RCLONE_CONFIG_STORE_ENDPOINT: s3.endpoint,
    RCLONE_CONFIG_STORE_FORCE_PATH_STYLE: "true",
    RCLONE_CONFIG_STORE_ACCESS_KEY_ID: "S3RVER",
    RCLONE_CONFIG_STORE_SECRET_ACCESS_KEY: "S3RVER",
  };
}

function run(script: string, args: string[], env: Record<string, string>, input?: string): Promise<Run> {
  const child = spawn("bash", [script, ...args], { env: { ...cleanEnv(), ...env }, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => (stderr += d.toString()));
  child.stdin.end(input ?? "");
  return new Promise((resolve) => child.once("close", (code) => resolve({ code, stdout, stderr })));
}

/** Env of a backup container (a schedule's run when `dir` is given, else a fixed path). */
function backupEnv(
  name: string,
  opts: { uid: string; keyFile: string; dir?: string; path?: string; storage: "pvc" | "s3"; keep?: number },
): Record<string, string> {
  return {
    METAMYSQL_FLAVOR: "mariadb",
    METAMYSQL_CLUSTER: "db",
    METAMYSQL_CLUSTER_UID: opts.uid,
    METAMYSQL_SOURCES: `db-0=${src.host}`,
    METAMYSQL_PRIMARY: "",
    METAMYSQL_COMPRESSION: "gzip",
    ...(opts.dir !== undefined
      ? { METAMYSQL_BACKUP_DIR: opts.dir, METAMYSQL_KEEP: String(opts.keep ?? 1) }
      : { METAMYSQL_BACKUP_PATH: opts.path ?? `db/${name}` }),
    METAMYSQL_STORAGE: "pvc",
    METAMYSQL_PVC_ROOT: join(work, "pvc"),
    METAMYSQL_SCRATCH_DIR: join(work, `scratch-${name}`),
    METAMYSQL_RESULT_FILE: join(work, `${name}.result`),
    METAMYSQL_BACKUP_USER: BACKUP_USER,
    METAMYSQL_BACKUP_PASSWORD: TEST_PASSWORDS.backup,
    METAMYSQL_SIGNING_KEY_FILE: opts.keyFile,
    ...(opts.storage === "s3" ? s3Env() : {}),
  };
}

function resultOf(name: string): { state: string; message?: string; meta?: Record<string, unknown> } {
  return JSON.parse(readFileSync(join(work, `${name}.result`), "utf8")) as { state: string; message?: string; meta?: Record<string, unknown> };
}

/** One backup as a Job takes it: dump, and for S3 the upload container after it. */
async function backup(name: string, opts: Parameters<typeof backupEnv>[1]): Promise<{ state: string; message?: string; meta?: Record<string, unknown> }> {
  const env = backupEnv(name, opts);
  const d = await run(SCRIPT.backup, ["dump"], env);
  expect(d.code, d.stderr).toBe(0);
  if (opts.storage === "s3") {
    const u = await run(SCRIPT.backup, ["upload"], env);
    expect(u.code, u.stderr).toBe(0);
  }
  const result = resultOf(name);
  expect(JSON.stringify(result)).not.toContain(KEY_A);
  expect(d.stderr).not.toContain(KEY_A);
  return result;
}

/** The signature scheme of backup-common.sh, written independently with node:crypto. */
function sign(body: string, keyHex: string): string {
  const sig = createHmac("sha256", Buffer.from(keyHex, "hex")).update(body, "utf8").digest("hex");
  return `${body.slice(0, -1)},"signature":"hmac-sha256:${sig}"}`;
}
function unsigned(metaText: string): string {
  return metaText.trim().replace(/,"signature":"hmac-sha256:[0-9a-f]{64}"\}$/, "}");
}

/** Folders under a PVC directory. */
function pvcDirs(rel: string): string[] {
  const dir = join(work, "pvc", rel);
  return existsSync(dir) ? readdirSync(dir).sort() : [];
}

/** rclone against the test's S3 server: spawned asynchronously (s3rver runs in this process). */
async function rclone(...args: string[]): Promise<string> {
  const child = spawn("rclone", ["--config", "/dev/null", ...args], { env: { ...cleanEnv(), ...s3Env() }, stdio: ["ignore", "pipe", "pipe"] });
  let out = "";
  let err = "";
  child.stdout.on("data", (d: Buffer) => (out += d.toString()));
  child.stderr.on("data", (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((resolve) => child.once("close", resolve));
  expect(code, err).toBe(0);
  return out;
}

/** Folders under an S3 prefix (rclone lsf). */
async function s3Dirs(rel: string): Promise<string[]> {
  return (await rclone("lsf", "--dirs-only", `store:backups/team/${rel}/`))
    .split("\n")
    .filter(Boolean)
    .map((l) => l.replace(/\/$/, ""))
    .sort();
}

beforeAll(async () => {
  work = join(h.root, "work");
  mkdirSync(join(work, "pvc"), { recursive: true });
  keyFileA = join(work, "key-a");
  keyFileB = join(work, "key-b");
  writeFileSync(keyFileA, KEY_A, { mode: 0o400 });
  writeFileSync(keyFileB, `${KEY_B}\n`, { mode: 0o400 });
  s3 = await startS3(join(work, "s3"));
  [src, target] = await Promise.all([h.start(0), h.start(1)]);
  await h.rootQuery(src, "SET GLOBAL read_only=0");
  await h.rootQuery(src, "CREATE DATABASE app");
  await h.rootQuery(src, "CREATE TABLE app.t (id INT PRIMARY KEY, v VARCHAR(20))");
  await h.rootQuery(src, "INSERT INTO app.t SELECT seq, concat('v', seq) FROM app.seq_1_to_500");
}, 60_000);

afterAll(async () => {
  await h.stopAll();
  await s3?.close();
});

describe("hmac_sha256 (bash, key read from a file) equals node:crypto's HMAC-SHA256", () => {
  it.each([
    ["empty", Buffer.alloc(0)],
    ["text", Buffer.from('{"format":2,"cluster":"db"}')],
    ["binary with NUL and 0xff bytes", Buffer.from([0, 1, 2, 0xff, 0, 0x36, 0x5c, 10, 13])],
    ["1 MiB", randomBytes(1 << 20)],
  ])("%s", async (_name, msg) => {
    for (const [key, file] of [
      [KEY_A, keyFileA],
      [KEY_B, keyFileB],
    ] as const) {
      const r = spawnSync("bash", ["-c", `. "${SCRIPT.backup.replace("backup.sh", "backup-common.sh")}"; hmac_sha256 "$1"`, "hmac", file], {
        input: msg,
        encoding: "utf8",
      });
      expect(r.status, r.stderr).toBe(0);
      expect(r.stdout.trim()).toBe(createHmac("sha256", Buffer.from(key, "hex")).update(msg).digest("hex"));
    }
  });
  it("refuses a key that is not 64 hex digits (exit 2), printing nothing of it", () => {
    const bad = join(work, "key-bad");
    writeFileSync(bad, "not-a-key-S3cret");
    const r = spawnSync("bash", ["-c", `. "${SCRIPT.backup.replace("backup.sh", "backup-common.sh")}"; hmac_sha256 "$1"`, "hmac", bad], {
      input: "x",
      encoding: "utf8",
    });
    expect(r.status).toBe(2);
    expect(r.stdout + r.stderr).not.toContain("S3cret");
  });
});

describe("signed backups: seeding refuses what this cluster's key did not sign (real mariadbd)", () => {
  const scan = () => join(work, "scan");
  /** A copy of the signed backup `db/signed` under <scan>/nightly/<name>, its meta.json replaced by `meta` (text). */
  function plant(name: string, meta: (text: string, dir: string) => string): string {
    const dir = join(scan(), "nightly", name);
    cpSync(join(work, "pvc", "db", "signed"), dir, { recursive: true });
    writeFileSync(join(dir, "meta.json"), meta(readFileSync(join(dir, "meta.json"), "utf8"), dir));
    return dir;
  }
  /** A dump that would create database `planted`, with a matching sha256 in the returned meta body. */
  function plantedDump(dir: string, body: string): string {
    const sql = "CREATE DATABASE planted;\nCREATE TABLE planted.t (x INT);\n";
    writeFileSync(join(dir, "dump.sql.gz"), spawnSync("gzip", ["-c"], { input: sql }).stdout);
    const sum = createHash("sha256")
      .update(readFileSync(join(dir, "dump.sql.gz")))
      .digest("hex");
    return body
      .replace(/"sha256":"[0-9a-f]{64}"/, `"sha256":"${sum}"`)
      .replace(/"sizeBytes":\d+/, `"sizeBytes":${String(readFileSync(join(dir, "dump.sql.gz")).length)}`);
  }
  const seedEnv = (extra: Record<string, string> = {}): Record<string, string> => ({
    METAMYSQL_FLAVOR: "mariadb",
    METAMYSQL_CLUSTER: "db",
    METAMYSQL_CLUSTER_UID: UID_A,
    METAMYSQL_SEED_SCAN: scan(),
    METAMYSQL_SIGNING_KEY_FILE: keyFileA,
    ...extra,
  });
  /** What the entrypoint does with a seed dir (src/render/scripts/entrypoint.sh init_data): check, then the SQL into the server. */
  async function seedInto(inst: MariaDBInstance, dir: string, extra: Record<string, string> = {}): Promise<Run> {
    const env = { ...seedEnv(extra), METAMYSQL_SEED_DIR: dir };
    const script = `seed() { bash "${SCRIPT.seed}" "$@"; }
      seed check || exit 1
      { seed sql; seed position; } | mariadb --protocol=socket --socket="${join(inst.dir, "mysqld.sock")}" -uroot`;
    const child = spawnSync("bash", ["-c", script], { env: { ...cleanEnv(), ...env }, encoding: "utf8" });
    return { code: child.status, stdout: child.stdout, stderr: child.stderr };
  }
  async function planted(inst: MariaDBInstance): Promise<number> {
    const rows = (await h.rootQuery(inst, "SELECT COUNT(*) AS n FROM information_schema.schemata WHERE schema_name='planted'")) as Array<{ n: number }>;
    return Number(rows[0]?.n);
  }

  let signedText = "";
  beforeAll(async () => {
    const r = await backup("signed", { uid: UID_A, keyFile: keyFileA, storage: "pvc" });
    expect(r.state, r.message).toBe("Completed");
    signedText = readFileSync(join(work, "pvc", "db", "signed", "meta.json"), "utf8");
    // The real, signed backup sits in the scan dir too (older than every planted one).
    mkdirSync(join(scan(), "nightly"), { recursive: true });
    cpSync(join(work, "pvc", "db", "signed"), join(scan(), "nightly", `20200101T000000Z-${UID_A}`), { recursive: true });
    writeFileSync(
      join(scan(), "nightly", `20200101T000000Z-${UID_A}`, "meta.json"),
      sign(unsigned(signedText).replace(/"completedAt":"[^"]*"/, '"completedAt":"2020-01-01T00:00:10Z"'), KEY_A),
    );
  }, 60_000);

  it("meta.json carries an HMAC-SHA256 of its bytes by the cluster's key (equal to node:crypto's), the dump's sha256 and format 2", () => {
    const m = /^(\{.*),"signature":"hmac-sha256:([0-9a-f]{64})"\}\n?$/s.exec(signedText);
    expect(m).not.toBeNull();
    const body = `${m![1]!}}`;
    expect(m![2]).toBe(createHmac("sha256", Buffer.from(KEY_A, "hex")).update(body).digest("hex"));
    const meta = JSON.parse(signedText) as Record<string, unknown>;
    expect(meta["format"]).toBe(2);
    expect(meta["clusterUID"]).toBe(UID_A);
    expect(meta["sha256"]).toBe(
      createHash("sha256")
        .update(readFileSync(join(work, "pvc", "db", "signed", "dump.sql.gz")))
        .digest("hex"),
    );
    expect(signedText).not.toContain(KEY_A);
  });

  it("no signing key: the backup fails saying so, nothing published", async () => {
    const env = backupEnv("nokey", { uid: UID_A, keyFile: join(work, "missing-key"), storage: "pvc" });
    const r = await run(SCRIPT.backup, ["dump"], env);
    expect(r.code).not.toBe(0);
    expect(resultOf("nokey")).toMatchObject({ state: "Failed", message: expect.stringMatching(/no usable backup signing key at .*missing-key/) });
    expect(pvcDirs("db")).not.toContain("nokey");
  });

  it.each([
    ["unsigned (right uid, no signature)", (text: string, dir: string) => plantedDump(dir, unsigned(text)), /meta\.json is not signed/],
    [
      "signed by another cluster's key",
      (text: string, dir: string) => sign(plantedDump(dir, unsigned(text)), KEY_B),
      /signature does not match the signing key/,
    ],
    [
      "GTID position tampered with after signing",
      (text: string) => text.replace(/"gtidPosition":"[^"]*"/, `"gtidPosition":"0-1-1'; CREATE DATABASE planted; SELECT '"`),
      /signature does not match/,
    ],
    ["dump swapped (meta.json intact)", (text: string, dir: string) => (plantedDump(dir, unsigned(text)), text), /checksum mismatch/],
    [
      "a GTID position that is no GTID set, even signed with the right key",
      (text: string) => sign(unsigned(text).replace(/"gtidPosition":"[^"]*"/, `"gtidPosition":"0-1-1'; CREATE DATABASE planted; SELECT '"`), KEY_A),
      /GTID position is not a mariadb GTID set/,
    ],
  ])("refuses a backup %s: seed check fails with the reason and the server executes nothing of it", async (_what, meta, reason) => {
    const name = `29990101T000000Z-${UID_A}`;
    rmSync(join(scan(), "nightly", name), { recursive: true, force: true });
    const dir = plant(name, meta);
    const r = await seedInto(target, dir);
    expect(r.code).not.toBe(0);
    expect(r.stderr).toMatch(reason);
    expect(await planted(target)).toBe(0);
    // The newest backup of this cluster that IS signed is what a fresh instance seeds from.
    const latest = await run(SCRIPT.seed, ["latest"], seedEnv());
    expect(latest.code, latest.stderr).toBe(0);
    expect(latest.stdout.trim()).toBe(join(scan(), "nightly", `20200101T000000Z-${UID_A}`));
    rmSync(dir, { recursive: true, force: true });
  });

  it("initDB.fromBackup verifies with the source cluster's key (METAMYSQL_SEED_KEY_FILE), not this cluster's own", async () => {
    const dir = join(work, "pvc", "db", "signed");
    const own = await seedInto(target, dir, { METAMYSQL_SIGNING_KEY_FILE: keyFileB, METAMYSQL_SEED_KEY_FILE: keyFileB });
    expect(own.code).not.toBe(0);
    expect(own.stderr).toMatch(/signature does not match/);
    // With the key of the cluster that took it: restored, at the backup's GTID position.
    const ok = await seedInto(target, dir, { METAMYSQL_SIGNING_KEY_FILE: keyFileB, METAMYSQL_SEED_KEY_FILE: keyFileA });
    expect(ok.code, ok.stderr).toBe(0);
    const rows = (await h.rootQuery(target, "SELECT COUNT(*) AS n FROM app.t")) as Array<{ n: number }>;
    expect(Number(rows[0]?.n)).toBe(500);
    const pos = (await h.rootQuery(target, "SELECT @@GLOBAL.gtid_slave_pos AS p")) as Array<{ p: string }>;
    expect(pos[0]?.p).toBe((JSON.parse(signedText) as { gtidPosition: string }).gtidPosition);
    expect(await planted(target)).toBe(0);
  }, 60_000);

  it("fetch-latest (S3) downloads the newest SIGNED backup of this cluster, skipping a newer planted one", async () => {
    const r = await backup("s3-signed", { uid: UID_A, keyFile: keyFileA, storage: "s3", dir: "db/scheduled/nightly", keep: 5 });
    expect(r.state, r.message).toBe("Completed");
    // A newer planted backup with this cluster's uid, unsigned.
    const fake = join(work, "fake", `29990101T000000Z-${UID_A}`);
    mkdirSync(fake, { recursive: true });
    const body = unsigned(JSON.stringify(r.meta)).replace(/"completedAt":"[^"]*"/, '"completedAt":"2999-01-01T00:00:00Z"');
    writeFileSync(join(fake, "meta.json"), plantedDump(fake, body));
    await rclone("copy", join(work, "fake"), "store:backups/team/db/scheduled/nightly");
    const dst = join(work, "fetched");
    const f = await run(SCRIPT.seed, ["fetch-latest"], {
      ...s3Env(),
      METAMYSQL_FLAVOR: "mariadb",
      METAMYSQL_CLUSTER: "db",
      METAMYSQL_CLUSTER_UID: UID_A,
      METAMYSQL_SEED_SCAN: dst,
      METAMYSQL_SEED_S3_PATH: "db/scheduled",
      METAMYSQL_SIGNING_KEY_FILE: keyFileA,
      METAMYSQL_DATA_DIR: join(work, "no-data-dir"),
    });
    expect(f.code, f.stderr).toBe(0);
    expect(f.stderr).toMatch(/skipping nightly\/29990101T000000Z-.*not signed/);
    const picked = String(r.meta?.["path"]).split("/").pop()!;
    expect(existsSync(join(dst, "nightly", picked, "dump.sql.gz"))).toBe(true);
    expect(existsSync(join(dst, "nightly", `29990101T000000Z-${UID_A}`, "dump.sql.gz"))).toBe(false);
  }, 60_000);
});

describe("retention and deletionPolicy Delete touch only this cluster's (uid) backups", () => {
  const ODD = ["20200101T000000Z", "2020 * ?x", `20200101T000000Z-${UID_A} x`, "*"];
  it.each(["pvc", "s3"] as const)(
    "%s: two clusters named alike (uids A, B) in one folder, keep 1: each keeps its newest, never deletes the other's; odd names untouched",
    async (storage) => {
      const dir = `same/scheduled/${storage}`;
      // Folders of an older operator (no uid) and odd names: never removed, never globbed.
      for (const odd of ODD) {
        if (storage === "pvc") mkdirSync(join(work, "pvc", dir, odd, "sub"), { recursive: true });
        else {
          const f = join(work, `odd-${storage}`, odd);
          mkdirSync(f, { recursive: true });
          writeFileSync(join(f, "meta.json"), "{}");
        }
      }
      if (storage === "s3") {
        await rclone("copy", join(work, `odd-${storage}`), `store:backups/team/${dir}`);
      }
      const list = async () => (storage === "pvc" ? pvcDirs(dir) : await s3Dirs(dir));
      const paths: Record<string, string[]> = { A: [], B: [] };
      for (let round = 0; round < 2; round++) {
        for (const [who, uid, keyFile] of [
          ["A", UID_A, keyFileA],
          ["B", UID_B, keyFileB],
        ] as const) {
          const r = await backup(`ret-${storage}-${who}-${round}`, { uid, keyFile, storage, dir, keep: 1 });
          expect(r.state, r.message).toBe("Completed");
          paths[who]!.push(String(r.meta?.["path"]).split("/").pop()!);
        }
        // Distinct timestamps (seconds) for the next round of each cluster.
        await new Promise((r) => setTimeout(r, 1100));
      }
      const left = await list();
      // Each cluster kept exactly its newest backup; the other cluster's is still there.
      expect(left.filter((n) => n.endsWith(UID_A))).toEqual([paths["A"]![1]]);
      expect(left.filter((n) => n.endsWith(UID_B))).toEqual([paths["B"]![1]]);
      for (const odd of ODD) expect(left).toContain(odd);
    },
    120_000,
  );

  it.each(["pvc", "s3"] as const)(
    "%s: deletionPolicy Delete of a MySQLBackup removes its stored backup only when meta.json names its cluster's uid",
    async (storage) => {
      const path = `shared/${storage}-b1`;
      const r = await backup(`del-${storage}`, { uid: UID_B, keyFile: keyFileB, storage, path });
      expect(r.state, r.message).toBe("Completed");
      const exists = async () => (storage === "pvc" ? existsSync(join(work, "pvc", path, "meta.json")) : (await s3Dirs("shared")).includes(`${storage}-b1`));
      // Cluster A's MySQLBackup with the same path (same cluster name, another namespace): kept.
      const keptRun = await run(SCRIPT.backup, ["remove"], backupEnv(`del-${storage}-a`, { uid: UID_A, keyFile: keyFileA, storage, path }));
      expect(keptRun.code, keptRun.stderr).toBe(0);
      expect(resultOf(`del-${storage}-a`)).toMatchObject({ state: "Kept", message: expect.stringMatching(/belongs to another cluster/) });
      expect(await exists()).toBe(true);
      // No uid known (a MySQLBackup of an older operator): kept as well.
      const noUid = backupEnv(`del-${storage}-none`, { uid: "", keyFile: keyFileA, storage, path });
      expect((await run(SCRIPT.backup, ["remove"], noUid)).code).toBe(0);
      expect(resultOf(`del-${storage}-none`).state).toBe("Kept");
      expect(await exists()).toBe(true);
      // Its own cluster's removal deletes it.
      const own = await run(SCRIPT.backup, ["remove"], backupEnv(`del-${storage}-b`, { uid: UID_B, keyFile: keyFileB, storage, path }));
      expect(own.code, own.stderr).toBe(0);
      expect(resultOf(`del-${storage}-b`).state).toBe("Deleted");
      expect(await exists()).toBe(false);
      // Nothing there any more: still a success (the MySQLBackup can be finalized).
      const again = await run(SCRIPT.backup, ["remove"], backupEnv(`del-${storage}-b2`, { uid: UID_B, keyFile: keyFileB, storage, path }));
      expect(again.code, again.stderr).toBe(0);
      expect(resultOf(`del-${storage}-b2`).state).toBe("Deleted");
    },
    60_000,
  );
});
