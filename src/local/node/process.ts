/**
 * Process supervision for the local runtime: every process (container or probe) is spawned
 * detached in its own process group, so a signal sent to the runtime never leaks into it and
 * a signal sent to a container reaches all of its processes; exits are observed through the
 * child's 'exit' event; only PIDs started here are ever signalled. Every PID is appended to a
 * log in the state dir so tests can assert nothing is left and a later run can clean up after
 * a runtime that was killed.
 */
import { spawn } from "node:child_process";
import { appendFileSync, closeSync, existsSync, openSync, readFileSync } from "node:fs";

/** How a process ended. */
export interface ExitInfo {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/** A process started by the supervisor. */
export interface SupervisedProcess {
  pid: number;
  label: string;
  /** Resolves when the process has exited (after Node reaped it). */
  exited: Promise<ExitInfo>;
  /** Set once exited. */
  exit: ExitInfo | undefined;
}

/** What to spawn. */
export interface SpawnOptions {
  command: string;
  args: string[];
  env: Record<string, string>;
  cwd?: string;
  /** Appends stdout and stderr to this file; otherwise output is captured into `onOutput`. */
  logFile?: string;
  onOutput?: (chunk: string) => void;
  label: string;
}

/** True when `pid` exists and is not a zombie (kill -0 succeeds on zombies). */
export function pidAlive(pid: number): boolean {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const state = stat.slice(stat.lastIndexOf(")") + 2, stat.lastIndexOf(")") + 3);
    return state !== "Z" && state !== "X";
  } catch {
    try {
      process.kill(pid, 0);
      return true;
    } catch {
      return false;
    }
  }
}

/** The command line of a live process ("" when unknown). */
export function pidCommandLine(pid: number): string {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, "utf8").split("\0").join(" ").trim();
  } catch {
    return "";
  }
}

/** Entries of a PID log: `{pid, label, command}` per line. */
export function readPidLog(file: string): Array<{ pid: number; label: string; command: string }> {
  if (!existsSync(file)) return [];
  const out: Array<{ pid: number; label: string; command: string }> = [];
  for (const line of readFileSync(file, "utf8").split("\n")) {
    if (!line.trim()) continue;
    try {
      out.push(JSON.parse(line) as { pid: number; label: string; command: string });
    } catch {
      // a torn line from a crash
    }
  }
  return out;
}

/** Spawns, signals and stops processes, tracking each by PID. */
export class ProcessSupervisor {
  private readonly live = new Map<number, SupervisedProcess>();
  private readonly pidLog: string | undefined;

  /** `pidLog`: file to which each spawned PID is appended. */
  constructor(opts: { pidLog?: string } = {}) {
    this.pidLog = opts.pidLog;
  }

  /** Starts a process in its own process group. Throws if it cannot be spawned. */
  spawn(opts: SpawnOptions): SupervisedProcess {
    const fd = opts.logFile ? openSync(opts.logFile, "a") : undefined;
    const stdio: Array<"ignore" | "pipe" | number> = fd !== undefined ? ["ignore", fd, fd] : ["ignore", "pipe", "pipe"];
    const child = spawn(opts.command, opts.args, { env: opts.env, cwd: opts.cwd, detached: true, stdio });
    if (fd !== undefined) closeSync(fd);
    // A failed spawn (missing command or working directory) emits 'error' on a later tick:
    // listen before anything can throw, or the runtime's process dies of an unhandled event.
    child.on("error", () => undefined);
    const pid = child.pid;
    if (pid === undefined) {
      // spawn failed (ENOENT...): the error event follows; report synchronously.
      throw new Error(`cannot start ${opts.label}: ${opts.command} not found or not executable`);
    }
    if (opts.onOutput) {
      child.stdout?.setEncoding("utf8").on("data", opts.onOutput);
      child.stderr?.setEncoding("utf8").on("data", opts.onOutput);
    }
    const proc: SupervisedProcess = {
      pid,
      label: opts.label,
      exit: undefined,
      exited: new Promise<ExitInfo>((resolve) => {
        child.on("exit", (code, signal) => {
          proc.exit = { code, signal };
          this.live.delete(pid);
          resolve(proc.exit);
        });
      }),
    };
    this.live.set(pid, proc);
    if (this.pidLog) {
      appendFileSync(this.pidLog, `${JSON.stringify({ pid, label: opts.label, command: [opts.command, ...opts.args].join(" ") })}\n`);
    }
    return proc;
  }

  /** Sends `signal` to the process group of a process we started (no-op once it exited). */
  signal(pid: number, signal: NodeJS.Signals): boolean {
    if (!this.live.has(pid)) return false;
    try {
      process.kill(-pid, signal);
      return true;
    } catch {
      try {
        process.kill(pid, signal);
        return true;
      } catch {
        return false;
      }
    }
  }

  /** Processes still running. */
  running(): SupervisedProcess[] {
    return [...this.live.values()];
  }

  /** SIGTERM (and SIGCONT, for hung ones) to every process, SIGKILL after `graceMs`, wait for all. */
  async stopAll(graceMs: number): Promise<void> {
    const procs = this.running();
    for (const p of procs) {
      this.signal(p.pid, "SIGTERM");
      this.signal(p.pid, "SIGCONT");
    }
    const timer = setTimeout(() => {
      for (const p of this.running()) this.signal(p.pid, "SIGKILL");
    }, graceMs);
    await Promise.all(procs.map((p) => p.exited));
    clearTimeout(timer);
  }
}

/**
 * Kills what a previous runtime on the same state dir left running (it was killed itself):
 * only PIDs from its log whose command line still matches what it started.
 */
export function killLeftovers(pidLog: string): number[] {
  const killed: number[] = [];
  for (const entry of readPidLog(pidLog)) {
    if (!pidAlive(entry.pid)) continue;
    const cmd = pidCommandLine(entry.pid);
    const first = entry.command.split(" ").slice(0, 2).join(" ");
    const server = /mariadbd|mysqld/.test(cmd);
    if (!cmd.startsWith(first) && !(server && entry.label.startsWith("container "))) continue;
    try {
      process.kill(-entry.pid, "SIGKILL");
    } catch {
      try {
        process.kill(entry.pid, "SIGKILL");
      } catch {
        continue;
      }
    }
    killed.push(entry.pid);
  }
  return killed;
}
