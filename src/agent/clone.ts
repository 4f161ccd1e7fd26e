/**
 * Cloning a data dir from a donor's agent (`metamysql agent clone`, the seeding init container
 * of every database pod, docs/clustering.md "Cloning new replicas"): for a fresh data dir, the
 * donors listed by the hook (ConfigMap `<c>-config`, file `agent-donors`: caught-up replicas,
 * the primary only when it is alone) are tried in order; the copy is streamed into `mbstream -x`
 * in a staging dir inside the data volume, prepared (`mariadb-backup --prepare`), its GTID read
 * from the binlog info file, and moved into the data dir with the marker `.metamysql-cloned`
 * (the GTID and the donor). The entrypoint then converges the accounts and sets
 * gtid_slave_pos / gtid_binlog_state to that GTID (entrypoint.sh finish_clone), and the operator
 * points the instance at the primary with MASTER_USE_GTID=slave_pos as for any replica.
 * When no donor works the data dir is left empty and the entrypoint takes the logical path
 * (the newest backup, or empty and replicate everything).
 *
 * This is also the path of a rebuild (issue 12 section 3): move the data dir aside, cloneInto.
 */
import { spawn } from "node:child_process";
import { existsSync, mkdirSync, readdirSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { request } from "node:http";
import { join } from "node:path";
import { pipeline } from "node:stream/promises";
import { REBUILD_MARKER, REBUILD_OLD_DIR, REBUILD_READY_MARKER, SAVED_DIR } from "../api/constants.js";
import { BINLOG_STATE_HEADER, COMPLETE_TRAILER } from "./protocol.js";
import type { Log } from "./log.js";

/** Markers in the data dir (the entrypoint's, src/render/scripts/entrypoint.sh). */
export const INITIALIZED_MARKER = ".metamysql-initialized";
export const INITIALIZING_MARKER = ".metamysql-initializing";
export const CLONED_MARKER = ".metamysql-cloned";
const STAGING = ".metamysql-clone";

/** A donor: a pod of the cluster and its agent's address. */
export interface Donor {
  pod: string;
  host: string;
  port: number;
}

/** The donors file: one `<pod> <ip>` per line (port from the caller); malformed lines ignored. */
export function parseDonors(text: string, port: number): Donor[] {
  const out: Donor[] = [];
  for (const line of text.split("\n")) {
    const [pod, host] = line.trim().split(/\s+/);
    if (!pod || !host || !/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/.test(pod) || !/^[0-9a-fA-F.:]+$/.test(host)) continue;
    out.push({ pod, host, port });
  }
  return out;
}

const GTID_SET = /^(\d+-\d+-\d+(,\d+-\d+-\d+)*)?$/;

/**
 * The binary log state a clone starts with: the donor's state read before the copy (every
 * (domain, server_id) the cluster's history holds) merged with the copy's position, keeping no
 * entry past the position's sequence number of its domain. Without the earlier server_ids, the
 * clone, once primary, would see every other instance as errant. Listed per domain by sequence
 * number, the position last.
 */
export function cloneBinlogState(donorState: string, position: string): string {
  const parse = (list: string) =>
    list
      .split(",")
      .filter((e) => e !== "")
      .map((e) => e.split("-").map(Number) as [number, number, number]);
  const top = new Map<number, number>();
  for (const [d, , n] of parse(position)) top.set(d, Math.max(top.get(d) ?? -1, n));
  const state = new Map<string, [number, number, number]>();
  for (const [d, srv, n] of [...parse(donorState), ...parse(position)]) {
    const limit = top.get(d);
    if (limit === undefined || n > limit) continue;
    const key = `${d}-${srv}`;
    const cur = state.get(key);
    if (!cur || n > cur[2]) state.set(key, [d, srv, n]);
  }
  // Within a domain by sequence number: MariaDB takes the last entry listed for a domain as its
  // current position (gtid_binlog_pos), which must be the copy's.
  return [...state.values()]
    .sort((a, b) => a[0] - b[0] || a[2] - b[2])
    .map((g) => g.join("-"))
    .join(",");
}

/** The GTID position of a prepared MariaDB copy, from its binlog info file ("" when none). */
export function backupGtid(dir: string): string {
  for (const name of ["mariadb_backup_binlog_info", "xtrabackup_binlog_info"]) {
    const file = join(dir, name);
    if (!existsSync(file)) continue;
    const fields = readFileSync(file, "utf8").trim().split(/\s+/);
    const gtid = fields[2] ?? "";
    if (!GTID_SET.test(gtid)) throw new Error(`${name} holds no valid GTID position`);
    return gtid;
  }
  return "";
}

/** What must not be copied into the new data dir (the donor's own markers). */
function isMarker(name: string): boolean {
  return name.startsWith(".metamysql-") || name === SAVED_DIR;
}

/** Whether the data dir is fresh: nothing but lost+found, the initializing marker, an old staging dir. */
export function isFreshDataDir(dataDir: string): boolean {
  if (!existsSync(dataDir)) return true;
  const names = readdirSync(dataDir);
  if (names.includes(INITIALIZED_MARKER) || names.includes(CLONED_MARKER)) return false;
  if (names.includes(INITIALIZING_MARKER)) return true;
  return names.every((n) => n === "lost+found" || n === STAGING);
}

export interface CloneOptions {
  dataDir: string;
  donors: readonly Donor[];
  token: string;
  mbstream: string;
  mariadbBackup: string;
  /** Memory for the prepare step (mariadb-backup --use-memory). */
  prepareMemory?: string;
  log: Log;
  /** Per-donor time limit of the transfer without progress (ms). */
  idleTimeoutMs?: number;
}

export interface CloneResult {
  donor: string;
  gtid: string;
  bytes: number;
  seconds: number;
}

/**
 * Clones into a fresh data dir from the first donor that works. Undefined (data dir left
 * fresh) when none did: the caller falls back to the logical path.
 */
export async function cloneInto(opts: CloneOptions): Promise<CloneResult | undefined> {
  const staging = join(opts.dataDir, STAGING);
  for (const donor of opts.donors) {
    const started = Date.now();
    try {
      rmSync(staging, { recursive: true, force: true });
      mkdirSync(staging, { recursive: true, mode: 0o750 });
      // A crash from here on leaves INITIALIZING: the entrypoint re-initializes, the next clone starts over.
      writeFileSync(join(opts.dataDir, INITIALIZING_MARKER), "");
      opts.log("info", "cloning from a donor", { donor: donor.pod, host: donor.host });
      const { bytes, binlogState } = await fetchInto(donor, opts, staging);
      await run(opts.mariadbBackup, ["--prepare", `--target-dir=${staging}`, `--use-memory=${opts.prepareMemory ?? "256M"}`]);
      const gtid = backupGtid(staging);
      for (const name of readdirSync(staging)) {
        if (isMarker(name)) rmSync(join(staging, name), { recursive: true, force: true });
        else renameSync(join(staging, name), join(opts.dataDir, name));
      }
      rmSync(staging, { recursive: true, force: true });
      const marker = join(opts.dataDir, CLONED_MARKER);
      writeFileSync(`${marker}.tmp`, `${gtid}\n${donor.pod}\n${cloneBinlogState(binlogState, gtid)}\n`);
      renameSync(`${marker}.tmp`, marker);
      rmSync(join(opts.dataDir, INITIALIZING_MARKER), { force: true });
      const result = { donor: donor.pod, gtid, bytes, seconds: Math.round((Date.now() - started) / 100) / 10 };
      opts.log("info", "cloned", { ...result });
      return result;
    } catch (err) {
      opts.log("warn", "cloning from this donor failed", { donor: donor.pod, error: err instanceof Error ? err.message : String(err) });
      clearDataDir(opts.dataDir);
    }
  }
  return undefined;
}

/** What a failed attempt never removes: lost+found, saved transactions, a rebuild's old data and markers. */
const KEEP = new Set(["lost+found", SAVED_DIR, REBUILD_MARKER, REBUILD_READY_MARKER, REBUILD_OLD_DIR]);

/** Back to a fresh data dir (what a failed attempt wrote is removed; KEEP stays). */
function clearDataDir(dataDir: string): void {
  for (const name of readdirSync(dataDir)) if (!KEEP.has(name)) rmSync(join(dataDir, name), { recursive: true, force: true });
}

/** GET /backup of the donor into `mbstream -x -C staging`; the bytes received. */
async function fetchInto(donor: Donor, opts: CloneOptions, staging: string): Promise<{ bytes: number; binlogState: string }> {
  const res = await new Promise<import("node:http").IncomingMessage>((resolve, reject) => {
    const req = request({ host: donor.host, port: donor.port, path: "/backup", method: "GET", headers: { Authorization: `Bearer ${opts.token}` } }, resolve);
    req.setTimeout(opts.idleTimeoutMs ?? 120_000, () => req.destroy(new Error("no progress from the donor")));
    req.on("error", reject);
    req.end();
  });
  if (res.statusCode !== 200) {
    res.resume();
    throw new Error(`the donor's agent answered ${res.statusCode}`);
  }
  const child = spawn(opts.mbstream, ["-x", "-C", staging], { stdio: ["pipe", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-2048)));
  const exited = new Promise<number | null>((resolve) => {
    child.on("error", () => resolve(127));
    child.on("close", (c) => resolve(c));
  });
  let bytes = 0;
  res.on("data", (d: Buffer) => (bytes += d.length));
  let aborted = false;
  res.on("aborted", () => (aborted = true));
  try {
    await pipeline(res, child.stdin);
  } catch (err) {
    child.kill("SIGKILL");
    await exited;
    throw new Error(`the copy was cut off after ${bytes} bytes (${err instanceof Error ? err.message : String(err)})`, { cause: err });
  }
  const code = await exited;
  if (aborted || res.trailers[COMPLETE_TRAILER] !== "complete") throw new Error(`the copy is incomplete (${bytes} bytes, no completion trailer)`);
  if (code !== 0) throw new Error(`mbstream failed (exit ${code}): ${stderr.trim().split("\n").slice(-2).join(" ")}`);
  const header = res.headers[BINLOG_STATE_HEADER];
  const binlogState = typeof header === "string" && GTID_SET.test(header) ? header : "";
  return { bytes, binlogState };
}

/** Runs a tool to completion; rejects with its last output lines on failure. */
async function run(cmd: string, args: string[]): Promise<void> {
  const child = spawn(cmd, args, { stdio: ["ignore", "ignore", "pipe"] });
  let stderr = "";
  child.stderr.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-2048)));
  const code = await new Promise<number | null>((resolve) => {
    child.on("error", () => resolve(127));
    child.on("close", (c) => resolve(c));
  });
  if (code !== 0) throw new Error(`${cmd} ${args[0] ?? ""} failed (exit ${code}): ${stderr.trim().split("\n").slice(-2).join(" ")}`);
}
