/**
 * The state dir of a local runtime: its layout, the lock that allows one runtime (one cluster)
 * per state dir with stale-lock detection, and the small settings that must survive a restart
 * (IP prefix, proxy ports). ARCHITECTURE.md section 6.
 */
import { createHash } from "node:crypto";
import { chmodSync, closeSync, existsSync, fchmodSync, mkdirSync, openSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { pidAlive, pidCommandLine } from "./process.js";

/** Paths inside a state dir. */
export interface StateLayout {
  root: string;
  lockFile: string;
  storeFile: string;
  settingsFile: string;
  runtimeFile: string;
  pidLog: string;
  logsDir: string;
  /** The runtime's events, one JSON line each (logs/events.log). */
  eventsLog: string;
  /** Where the unix socket of the control channel lives (short path: sun_path is 108 bytes). */
  controlSocket: string;
  /** Host dir of a PersistentVolumeClaim (kept across restarts). */
  pvcDir(namespace: string, claim: string): string;
  /** Per-pod dir (emptyDirs, projected ConfigMaps); removed with the pod. */
  podDir(namespace: string, pod: string): string;
}

const SOCKET_PATH_LIMIT = 100;

/** The layout of `root` (resolved to an absolute path). */
export function stateLayout(root: string): StateLayout {
  const abs = resolve(root);
  const hash = createHash("sha256").update(abs).digest("hex").slice(0, 12);
  // Pod dirs hold unix sockets (/run/mysqld): keep them short when the state dir path is long.
  const podRoot = abs.length > 48 ? join(tmpdir(), `metamysql-${hash}`) : join(abs, "pods");
  const sock = join(abs, "control.sock");
  return {
    root: abs,
    lockFile: join(abs, "lock"),
    storeFile: join(abs, "store.json"),
    settingsFile: join(abs, "settings.json"),
    runtimeFile: join(abs, "runtime.json"),
    pidLog: join(abs, "pids.log"),
    logsDir: join(abs, "logs"),
    eventsLog: join(abs, "logs", "events.log"),
    controlSocket: sock.length < SOCKET_PATH_LIMIT ? sock : join(tmpdir(), `metamysql-${hash}.sock`),
    pvcDir: (namespace, claim) => join(abs, "volumes", namespace, claim),
    podDir: (namespace, pod) => join(podRoot, namespace, pod),
  };
}

/** Settings that persist across runs of the same state dir. */
export interface StateSettings {
  ipPrefix: string;
  /** "namespace/service:port" -> port on 127.0.0.1 */
  servicePorts: Record<string, number>;
  /** The one namespace of the state dir's objects (absent in state dirs of older versions: "default"). */
  namespace?: string;
}

/** Reads settings.json, or undefined. */
export function readSettings(layout: StateLayout): StateSettings | undefined {
  if (!existsSync(layout.settingsFile)) return undefined;
  return JSON.parse(readFileSync(layout.settingsFile, "utf8")) as StateSettings;
}

/** Writes settings.json atomically. */
export function writeSettings(layout: StateLayout, settings: StateSettings): void {
  writeJsonAtomic(layout.settingsFile, settings);
}

/** What a running runtime publishes for the `local` verbs (runtime.json). */
export interface RuntimeInfo {
  pid: number;
  socket: string;
  hookUrl: string;
  startedAt: string;
}

/** Reads runtime.json, or undefined. */
export function readRuntimeInfo(layout: StateLayout): RuntimeInfo | undefined {
  if (!existsSync(layout.runtimeFile)) return undefined;
  try {
    return JSON.parse(readFileSync(layout.runtimeFile, "utf8")) as RuntimeInfo;
  } catch {
    return undefined;
  }
}

/** Writes a JSON file atomically (tmp + rename). */
export function writeJsonAtomic(file: string, value: unknown): void {
  const tmp = `${file}.tmp`;
  const fd = openSync(tmp, "w", 0o600);
  try {
    fchmodSync(fd, 0o600);
    writeFileSync(fd, `${JSON.stringify(value, null, 2)}\n`);
  } finally {
    closeSync(fd);
  }
  renameSync(tmp, file);
}

/**
 * Creates the state dir owner-only (0700), and makes an existing one (an older run's, created
 * with the umask's mode) owner-only too: it holds store.json (Secrets), volumes and logs.
 */
export function ensureStateDir(layout: StateLayout): void {
  mkdirSync(layout.root, { recursive: true, mode: 0o700 });
  chmodSync(layout.root, 0o700);
}

/** The PID holding the lock of a state dir, when that process is alive. */
export function lockHolder(layout: StateLayout): number | undefined {
  if (!existsSync(layout.lockFile)) return undefined;
  let pid: number;
  try {
    pid = (JSON.parse(readFileSync(layout.lockFile, "utf8")) as { pid: number }).pid;
  } catch {
    return undefined;
  }
  if (pid === process.pid) return pid;
  if (!pidAlive(pid)) return undefined;
  const cmd = pidCommandLine(pid);
  return cmd === "" || /node|metamysql|tsx|vitest/.test(cmd) ? pid : undefined;
}

/** A held lock. */
export interface StateLock {
  release(): void;
}

/**
 * Takes the state dir's lock for this process. A lock whose holder is dead (or is another
 * program that reused the PID) is stale and taken over; a live holder is a clear error.
 */
export function acquireLock(layout: StateLayout): StateLock {
  ensureStateDir(layout);
  for (let attempt = 0; attempt < 2; attempt++) {
    try {
      const fd = openSync(layout.lockFile, "wx");
      writeFileSync(fd, JSON.stringify({ pid: process.pid, startedAt: new Date().toISOString() }));
      closeSync(fd);
      return {
        release: () => {
          try {
            const held = JSON.parse(readFileSync(layout.lockFile, "utf8")) as { pid: number };
            if (held.pid === process.pid) rmSync(layout.lockFile, { force: true });
          } catch {
            // already gone
          }
        },
      };
    } catch (err) {
      if ((err as NodeJS.ErrnoException).code !== "EEXIST") throw err;
      const holder = lockHolder(layout);
      if (holder !== undefined) {
        throw new Error(
          `state dir ${layout.root} is in use by a running "metamysql local up" (pid ${holder}); ` +
            `stop it (Ctrl-C or "metamysql local delete") or use another --state-dir`,
          { cause: err },
        );
      }
      rmSync(layout.lockFile, { force: true });
    }
  }
  throw new Error(`cannot lock state dir ${layout.root}`);
}
