/**
 * Automatic rebuild of a diverged instance, the agent's side (docs/clustering.md "Automatic
 * rebuild"; the decision is src/topology/repair.ts).
 *
 * 1. `POST /rebuild` (server.ts) with the errant range: `saveTail` writes exactly those
 *    transactions (`mariadb-binlog --start-position=<primary's GTIDs> --stop-position=<errant
 *    GTIDs> --do-server-ids=<own id>` over the instance's binary logs, which the agent reads from
 *    the shared data volume) to `.metamysql-saved/errant-<gtids>.sql` in the volume, checks that
 *    every errant GTID is in it, and only then writes the marker `.metamysql-rebuild`.
 * 2. The liveness probe (probe.sh) stops the server while the marker exists; the container
 *    restarts and the entrypoint moves the old data dir aside (`.metamysql-rebuild-old`) and
 *    writes `.metamysql-rebuild-ready`.
 * 3. `watchRebuild` (here, polling) sees the ready marker and runs cloneInto (clone.ts) from the
 *    donors of the ConfigMap, the same path as the seeding init container; it then removes the
 *    ready marker (success: `.metamysql-cloned` is there) or writes `.metamysql-rebuild-failed`
 *    (the entrypoint puts the old data back; the operator asks again on a later sync).
 * The clone runs in the agent because the database container may lack Node.js; the server
 * container only moves directories and waits.
 */
import { spawn } from "node:child_process";
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { z } from "zod";
import { REBUILD_FAILED_MARKER, REBUILD_MARKER, REBUILD_READY_MARKER, SAVED_DIR } from "../api/constants.js";
import { cloneInto, type Donor } from "./clone.js";
import type { Log } from "./log.js";

const GTID_LIST = /^\d+-\d+-\d+(,\d+-\d+-\d+)*$/;

export const RebuildRequestSchema = z
  .object({
    save: z.object({ start: z.string().regex(GTID_LIST), stop: z.string().regex(GTID_LIST), serverId: z.number().int().min(1).max(4294967295) }).optional(),
    savedFile: z
      .string()
      .regex(new RegExp(`^${SAVED_DIR.replace(/\./g, "\\.")}/errant-[0-9_-]+\\.sql$`))
      .optional(),
  })
  .refine((r) => (r.save === undefined) === (r.savedFile === undefined), { message: "save and savedFile go together" });
export type RebuildRequest = z.infer<typeof RebuildRequestSchema>;

/** The binary log files of the data dir, in order, from the server's index file. */
export function binlogFiles(dataDir: string, basename = "mysql-bin"): string[] {
  const index = join(dataDir, `${basename}.index`);
  if (!existsSync(index)) return [];
  return readFileSync(index, "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "")
    .map((l) => (l.startsWith("/") ? l : join(dataDir, l)));
}

/** Writes the errant range's transactions to `dataDir/savedFile`; rejects unless every errant GTID is in it. */
export async function saveTail(dataDir: string, req: Required<RebuildRequest>, mariadbBinlog: string): Promise<{ bytes: number }> {
  const files = binlogFiles(dataDir);
  if (files.length === 0) throw new Error("no binary logs in the data dir: nothing to save the extra transactions from");
  const target = join(dataDir, req.savedFile);
  mkdirSync(join(dataDir, SAVED_DIR), { recursive: true, mode: 0o750 });
  const tmp = `${target}.partial`;
  const fd = openSync(tmp, "w", 0o640);
  let stderr = "";
  const code = await new Promise<number | null>((resolve) => {
    const child = spawn(
      mariadbBinlog,
      [
        `--start-position=${req.save.start}`,
        `--stop-position=${req.save.stop}`,
        `--do-server-ids=${req.save.serverId}`,
        "--skip-gtid-strict-mode",
        "--base64-output=auto",
        "--verbose",
        ...files,
      ],
      { stdio: ["ignore", fd, "pipe"] },
    );
    child.stderr?.on("data", (d: Buffer) => (stderr = (stderr + d.toString("utf8")).slice(-2048)));
    child.on("error", (err) => {
      stderr += `\n${err.message}`;
      resolve(127);
    });
    child.on("close", (c) => resolve(c));
  });
  closeSync(fd);
  if (code !== 0) {
    rmSync(tmp, { force: true });
    throw new Error(`mariadb-binlog failed (exit ${code}): ${stderr.trim().split("\n").slice(-2).join(" ")}`);
  }
  const text = readFileSync(tmp, "utf8");
  const missing = req.save.stop.split(",").filter((g) => !new RegExp(`GTID ${g.replace(/-/g, "\\-")}\\b`).test(text));
  if (missing.length > 0) {
    rmSync(tmp, { force: true });
    throw new Error(`the saved binary log lacks ${missing.join(",")}; not rebuilding`);
  }
  const header = `-- metamysql: the extra transactions ${req.save.stop} (after ${req.save.start}) of this instance, saved ${new Date().toISOString()} before its automatic rebuild.\n-- They were never acknowledged to a client by the cluster (docs/clustering.md "Automatic rebuild"). Review before applying anything.\n`;
  writeFileSync(target + ".new", header + text, { mode: 0o640 });
  renameSync(`${target}.new`, target);
  rmSync(tmp, { force: true });
  return { bytes: text.length };
}

/** The rebuild marker's content: the saved file (or "" when nothing was saved). */
export function requestRebuildMarker(dataDir: string, savedFile: string | undefined): void {
  const marker = join(dataDir, REBUILD_MARKER);
  writeFileSync(`${marker}.tmp`, `${savedFile ?? ""}\n`);
  renameSync(`${marker}.tmp`, marker);
}

export function rebuildRequested(dataDir: string): string | undefined {
  const marker = join(dataDir, REBUILD_MARKER);
  if (!existsSync(marker)) return undefined;
  return readFileSync(marker, "utf8").trim();
}

export interface WatchOptions {
  dataDir: string;
  donors: () => Donor[];
  token: () => string | undefined;
  mbstream: string;
  mariadbBackup: string;
  prepareMemory?: string;
  log: Log;
  intervalMs?: number;
}

/** Polls for the entrypoint's ready marker and clones; returns a stop function. */
export function watchRebuild(opts: WatchOptions): () => void {
  let busy = false;
  const tick = async () => {
    const ready = join(opts.dataDir, REBUILD_READY_MARKER);
    if (busy || !existsSync(ready)) return;
    busy = true;
    try {
      const donors = opts.donors();
      const token = opts.token();
      const result =
        donors.length > 0 && token
          ? await cloneInto({
              dataDir: opts.dataDir,
              donors,
              token,
              mbstream: opts.mbstream,
              mariadbBackup: opts.mariadbBackup,
              ...(opts.prepareMemory ? { prepareMemory: opts.prepareMemory } : {}),
              log: opts.log,
            })
          : undefined;
      if (result) {
        opts.log("info", "rebuild: cloned; the entrypoint finishes the copy", { donor: result.donor, gtid: result.gtid });
      } else {
        opts.log("error", "rebuild: no donor could be cloned; the old data dir is put back", { donors: donors.map((d) => d.pod) });
        writeFileSync(join(opts.dataDir, REBUILD_FAILED_MARKER), "");
      }
      rmSync(ready, { force: true });
    } catch (err) {
      opts.log("error", "rebuild failed", { error: err instanceof Error ? err.message : String(err) });
      writeFileSync(join(opts.dataDir, REBUILD_FAILED_MARKER), "");
      rmSync(ready, { force: true });
    } finally {
      busy = false;
    }
  };
  const timer = setInterval(() => void tick(), opts.intervalMs ?? 1000);
  return () => clearInterval(timer);
}
