/**
 * Containers of a local pod, shared by the kubelet (src/local/kubelet/kubelet.ts) and the Job controller
 * (src/local/controllers/job.ts): a container is resolved for this host (volumes as host dirs, env with
 * Secret/ConfigMap references, argv with mount paths rewritten), spawned as a process group with
 * its output appended to the pod's log, and reported in Kubernetes' shapes (ContainerStatus,
 * terminated state with the termination message). `runInitContainers` runs a pod's init
 * containers in order, each to completion, as the kubelet does: a failing one is restarted with
 * CrashLoopBackOff delays unless the pod's restartPolicy is Never (then the pod fails), and the
 * next one starts only after it succeeded. ARCHITECTURE.md section 6.
 */
import { existsSync, mkdirSync, readFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import { ContainerConfigError, containerEnv, resolveArgv } from "./container-env.js";
import { arrayField, isRecord, namespaceOf, rfc3339, stringField, type KObject } from "../apiserver/objects.js";
import type { ExitInfo, ProcessSupervisor, SupervisedProcess } from "../node/process.js";
import type { StateLayout } from "../node/statedir.js";
import type { ObjectStore } from "../apiserver/store.js";
import { containerMounts, prepareVolumes, rewritePath, type Mount, VolumeNotReadyError } from "./volumes.js";
import { metamysqlCommand } from "../node/binaries.js";

/** What running a container needs: the store (Secrets, ConfigMaps, claims), the state dir, the supervisor. */
export interface ContainerHost {
  store: ObjectStore;
  layout: StateLayout;
  supervisor: ProcessSupervisor;
}

/** A container resolved for this host. */
export interface ContainerLaunch {
  command: string;
  args: string[];
  env: Record<string, string>;
  mounts: Mount[];
  cwd: string;
}

/** The container cannot be created as specified (no command): kubelet's CreateContainerError. */
export class ContainerCreateError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContainerCreateError";
  }
}

/** `state.terminated` of a ContainerStatus. */
export interface TerminatedState {
  exitCode: number;
  signal?: number;
  reason: string;
  message?: string;
  startedAt: string;
  finishedAt: string;
}

/** A ContainerStatus (of `containerStatuses` or `initContainerStatuses`). */
export interface ContainerStatus {
  name: string;
  image: string;
  imageID: string;
  containerID?: string;
  ready: boolean;
  started: boolean;
  restartCount: number;
  state: { waiting?: { reason: string; message?: string }; running?: { startedAt: string }; terminated?: TerminatedState };
  lastState: { terminated?: TerminatedState };
}

const SIGNAL_NUMBERS: Record<string, number> = { SIGHUP: 1, SIGINT: 2, SIGQUIT: 3, SIGABRT: 6, SIGKILL: 9, SIGSEGV: 11, SIGTERM: 15 };

/**
 * Creates the pod's volume dirs and resolves env, mounts, argv and working dir of `container`.
 * Throws VolumeNotReadyError, ContainerConfigError or ContainerCreateError (see `waitingReason`).
 */
export function resolveContainer(
  host: ContainerHost,
  pod: KObject,
  container: Record<string, unknown>,
  extraEnv: Record<string, string> = {},
): ContainerLaunch {
  prepareVolumes(pod, host.store, host.layout);
  const mounts = containerMounts(pod, container, host.layout);
  const podDir = host.layout.podDir(namespaceOf(pod), pod.metadata.name);
  const home = join(podDir, "home");
  mkdirSync(home, { recursive: true });
  const env = containerEnv({ pod, container, store: host.store, mounts, home, extra: extraEnv });
  // The container's own /tmp (a volume mounted there, else its writable layer, new at every
  // start), for what honours TMPDIR (mktemp, bash): nothing lands in the host's /tmp.
  if (env.TMPDIR === undefined) {
    const mounted = rewritePath("/tmp", mounts);
    const own = join(podDir, "containers", stringField(container, "name") ?? "container", "tmp");
    if (mounted === "/tmp") rmSync(own, { recursive: true, force: true });
    env.TMPDIR = mounted === "/tmp" ? own : mounted;
    mkdirSync(env.TMPDIR, { recursive: true });
  }
  let [command, ...args] = resolveArgv([...arrayField(container, "command"), ...arrayField(container, "args")], env, mounts);
  if (!command) throw new ContainerCreateError("the container has no command (images' entrypoints are not known locally)");
  // The agent image's `metamysql` (its sidecar and clone step): this checkout's CLI.
  if (command === "metamysql") {
    const own = metamysqlCommand();
    args = [...own.args, ...args];
    command = own.command;
  }
  const workingDir = stringField(container, "workingDir");
  return { command, args, env, mounts, cwd: (workingDir ? resolveArgv([workingDir], env, mounts)[0] : undefined) ?? podDir };
}

/** The kubelet's waiting reason for a container that cannot be created yet; undefined for other errors. */
export function waitingReason(err: unknown): { reason: string; message: string } | undefined {
  if (err instanceof VolumeNotReadyError) return { reason: "ContainerCreating", message: err.message };
  if (err instanceof ContainerConfigError) return { reason: "CreateContainerConfigError", message: err.message };
  if (err instanceof ContainerCreateError) return { reason: "CreateContainerError", message: err.message };
  return undefined;
}

/** The log of a pod (every container of the pod appends to it). */
export function podLogFile(layout: StateLayout, pod: KObject): string {
  mkdirSync(layout.logsDir, { recursive: true });
  return join(layout.logsDir, `${pod.metadata.name}.log`);
}

/** Spawns a resolved container (throws when it cannot be started: RunContainerError). */
export function spawnContainer(host: ContainerHost, pod: KObject, launch: ContainerLaunch, label: string): SupervisedProcess {
  return host.supervisor.spawn({ command: launch.command, args: launch.args, env: launch.env, cwd: launch.cwd, logFile: podLogFile(host.layout, pod), label });
}

/** `state.terminated` from how the process ended. */
export function terminatedState(exit: ExitInfo, startedAt: string, message = ""): TerminatedState {
  const signal = exit.signal ? (SIGNAL_NUMBERS[exit.signal] ?? 0) : 0;
  const exitCode = exit.code ?? 128 + signal;
  return {
    exitCode,
    ...(signal ? { signal } : {}),
    reason: exitCode === 0 ? "Completed" : "Error",
    ...(message ? { message } : {}),
    startedAt,
    finishedAt: rfc3339(),
  };
}

/**
 * The termination message of a container that ended: its terminationMessagePath (when it is on
 * a volume), else with FallbackToLogsOnError and a failure, the end of the pod's log.
 */
export function terminationMessage(container: Record<string, unknown>, mounts: Mount[], exitCode: number, logFile: string): string {
  const path = stringField(container, "terminationMessagePath") ?? "/dev/termination-log";
  const hostPath = rewritePath(path, mounts);
  let message = "";
  if (hostPath !== path && existsSync(hostPath)) message = readFileSync(hostPath, "utf8").slice(0, 4096);
  if (!message && exitCode !== 0 && stringField(container, "terminationMessagePolicy") === "FallbackToLogsOnError" && existsSync(logFile)) {
    message = readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n").slice(-2048);
  }
  return message;
}

/** A ContainerStatus of `container` (not started, no restarts unless given). */
export function containerStatus(container: Record<string, unknown>, fields: Partial<ContainerStatus> = {}): ContainerStatus {
  return {
    name: stringField(container, "name") ?? "container",
    image: stringField(container, "image") ?? "",
    imageID: "",
    ready: false,
    started: false,
    restartCount: 0,
    state: { waiting: { reason: "PodInitializing" } },
    lastState: {},
    ...fields,
  };
}

/** CrashLoopBackOff before restart number `restarts + 1`: immediate, then base doubling to max. */
export function crashLoopDelay(restarts: number, baseMs: number, maxMs: number): number {
  return restarts === 0 ? 0 : Math.min(maxMs, baseMs * 2 ** (restarts - 1));
}

/** A back-off delay as the kubelet's messages show it ("10s"; "0.3s" below a second). */
export function formatBackoff(ms: number): string {
  return ms < 1000 ? `${(ms / 1000).toFixed(1)}s` : `${Math.round(ms / 1000)}s`;
}

/** Resolves after `ms`, or at once when `signal` aborts. */
export async function abortableSleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted || ms <= 0) return;
  await new Promise<void>((resolve) => {
    const done = (): void => {
      clearTimeout(timer);
      signal.removeEventListener("abort", done);
      resolve();
    };
    const timer = setTimeout(done, ms);
    signal.addEventListener("abort", done);
  });
}

/** How to run a container to completion. */
export interface RunOptions {
  host: ContainerHost;
  pod: () => KObject;
  container: Record<string, unknown>;
  extraEnv?: Record<string, string>;
  label: string;
  /** Aborting kills the container: SIGTERM, then SIGKILL after `killGraceMs` (0: SIGKILL at once). */
  signal: AbortSignal;
  killGraceMs: number;
  /** Stop waiting for volumes/config after this long and report a failure (Job); default: wait (kubelet). */
  createTimeoutMs?: number;
  /** The container waits to be created (reason as the kubelet reports it). */
  onWaiting?: (reason: string, message: string) => void;
  onStarted?: (proc: SupervisedProcess, startedAt: string) => void;
}

/**
 * Runs a container once, to completion, and returns how it ended (exit code 128 with reason
 * StartError when it could not be started, or created within createTimeoutMs); undefined when
 * aborted before it started.
 */
export async function runToCompletion(opts: RunOptions): Promise<TerminatedState | undefined> {
  const deadline = opts.createTimeoutMs === undefined ? Infinity : Date.now() + opts.createTimeoutMs;
  let launch: ContainerLaunch | undefined;
  while (!launch) {
    if (opts.signal.aborted) return undefined;
    try {
      launch = resolveContainer(opts.host, opts.pod(), opts.container, opts.extraEnv);
    } catch (err) {
      const waiting = waitingReason(err);
      if (!waiting) throw err;
      if (Date.now() >= deadline) return { exitCode: 128, reason: "StartError", message: waiting.message, startedAt: rfc3339(), finishedAt: rfc3339() };
      opts.onWaiting?.(waiting.reason, waiting.message);
      await abortableSleep(1000, opts.signal);
    }
  }
  const pod = opts.pod();
  const startedAt = rfc3339();
  let proc: SupervisedProcess;
  try {
    proc = spawnContainer(opts.host, pod, launch, opts.label);
  } catch (err) {
    return { exitCode: 128, reason: "StartError", message: err instanceof Error ? err.message : String(err), startedAt, finishedAt: rfc3339() };
  }
  opts.onStarted?.(proc, startedAt);
  let killTimer: NodeJS.Timeout | undefined;
  const kill = (): void => {
    opts.host.supervisor.signal(proc.pid, opts.killGraceMs > 0 ? "SIGTERM" : "SIGKILL");
    if (opts.killGraceMs > 0) killTimer = setTimeout(() => opts.host.supervisor.signal(proc.pid, "SIGKILL"), opts.killGraceMs);
  };
  opts.signal.addEventListener("abort", kill);
  if (opts.signal.aborted) kill();
  const exit = await proc.exited;
  opts.signal.removeEventListener("abort", kill);
  clearTimeout(killTimer);
  const state = terminatedState(exit, startedAt);
  const message = terminationMessage(opts.container, launch.mounts, state.exitCode, podLogFile(opts.host.layout, pod));
  return message ? { ...state, message } : state;
}

/** The last line of a pod's log (what a failed container said last), or "". */
export function lastLogLine(layout: StateLayout, pod: KObject): string {
  const file = join(layout.logsDir, `${pod.metadata.name}.log`);
  if (!existsSync(file)) return "";
  const text = readFileSync(file, "utf8");
  return lastLine(text.slice(-4096));
}

/** How to run the init containers of a pod. */
export interface InitOptions extends Omit<RunOptions, "container" | "label" | "onWaiting" | "onStarted"> {
  /** Label of each init container's process (the PID log). */
  label: (container: string) => string;
  /** Delay before restart number `restarts + 1` of a failed init container (restartPolicy Always/OnFailure). */
  backoffMs: (restarts: number) => number;
  /** Every change of `initContainerStatuses`. */
  onStatus: (statuses: ContainerStatus[]) => void;
  onEvent?: (reason: string, message: string) => void;
}

/**
 * Runs the pod's init containers in order, each to completion, reporting their statuses.
 * "Initialized" when all succeeded; "Failed" when one failed and the pod's restartPolicy is
 * Never; "Aborted" when `signal` aborted (pod deleted, runtime stopping).
 */
export async function runInitContainers(opts: InitOptions): Promise<"Initialized" | "Failed" | "Aborted"> {
  const spec = opts.pod();
  const inits = arrayField(spec, "spec", "initContainers").filter(isRecord);
  const restart = (stringField(spec, "spec", "restartPolicy") ?? "Always") !== "Never";
  const statuses = inits.map((c) => containerStatus(c));
  const push = (): void => opts.onStatus(statuses.map((s) => ({ ...s })));
  push();
  for (const [i, c] of inits.entries()) {
    const name = stringField(c, "name") ?? "init";
    if (stringField(c, "restartPolicy") === "Always") {
      // A sidecar (runs alongside the containers): not supported here; the pod waits, saying so.
      const message = "sidecar init containers (restartPolicy: Always) are not supported by the local runtime";
      statuses[i] = { ...(statuses[i] as ContainerStatus), state: { waiting: { reason: "CreateContainerError", message } } };
      opts.onEvent?.("CreateContainerError", `init container ${name}: ${message}`);
      push();
      while (!opts.signal.aborted) await abortableSleep(60_000, opts.signal);
      return "Aborted";
    }
    let restarts = 0;
    for (;;) {
      const res = await runToCompletion({
        ...opts,
        container: c,
        label: opts.label(name),
        onWaiting: (reason, message) => {
          const prev = statuses[i]?.state.waiting;
          if (prev?.reason === reason && prev.message === message) return;
          statuses[i] = { ...(statuses[i] as ContainerStatus), state: { waiting: { reason, message } } };
          opts.onEvent?.(reason, `init container ${name}: ${message}`);
          push();
        },
        onStarted: (proc, startedAt) => {
          statuses[i] = { ...(statuses[i] as ContainerStatus), containerID: `local://${proc.pid}`, started: true, state: { running: { startedAt } } };
          opts.onEvent?.("Started", `init container ${name} started, pid ${proc.pid}${restarts ? ` (restart ${restarts})` : ""}`);
          push();
        },
      });
      if (!res) return "Aborted";
      const ok = res.exitCode === 0;
      statuses[i] = { ...(statuses[i] as ContainerStatus), started: false, ready: ok, state: { terminated: res } };
      push();
      if (opts.signal.aborted) return "Aborted";
      if (ok) {
        opts.onEvent?.("Completed", `init container ${name} completed`);
        break;
      }
      const said = res.message ? lastLine(res.message) : lastLogLine(opts.host.layout, opts.pod());
      const why = `init container ${name} failed (exit code ${res.exitCode})${said ? `: ${said}` : ""}`;
      if (!restart) {
        opts.onEvent?.("Failed", why);
        return "Failed";
      }
      const delay = opts.backoffMs(restarts);
      opts.onEvent?.("BackOff", `${why}; restarting${delay ? ` in ${formatBackoff(delay)}` : ""}`);
      if (delay > 0) {
        statuses[i] = {
          ...(statuses[i] as ContainerStatus),
          state: {
            waiting: { reason: "CrashLoopBackOff", message: `back-off ${formatBackoff(delay)} restarting failed container=${name} pod=${spec.metadata.name}` },
          },
          lastState: { terminated: res },
        };
        push();
        await abortableSleep(delay, opts.signal);
        if (opts.signal.aborted) return "Aborted";
      }
      restarts++;
      statuses[i] = { ...(statuses[i] as ContainerStatus), restartCount: restarts, lastState: { terminated: res } };
    }
  }
  return "Initialized";
}

/** Last non-empty line of `text`, at most 200 characters. */
export function lastLine(text: string): string {
  const lines = text.trim().split("\n");
  return (lines[lines.length - 1] ?? "").slice(0, 200);
}
