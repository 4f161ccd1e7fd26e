/**
 * Runs one pod for the kubelet (kubelet.ts): its init containers in order, then its container
 * as a supervised process (and its other containers, the agent sidecar, as processes of their
 * own: sidecars.ts), restarted with CrashLoopBackOff (restart-backoff.ts) when it exits or
 * a startup/liveness probe fails (container-probes.ts); deletion runs the preStop hook, SIGTERM,
 * then SIGKILL at the end of the grace period, and removes the Pod. Every change of what it
 * knows is published as the Pod's status, computed by the pure podStatus (pod-status.ts).
 * docs/local-runtime.md (kubelet, Init containers).
 */
import { flavorOfImage, missingServerMessage } from "../node/binaries.js";
import {
  type ContainerHost,
  type ContainerStatus,
  crashLoopDelay,
  formatBackoff,
  lastLine,
  resolveContainer,
  runInitContainers,
  spawnContainer,
  terminatedState,
  waitingReason,
  type TerminatedState,
} from "./containers.js";
import { ContainerProbes } from "./container-probes.js";
import { arrayField, clone, deepEqual, isRecord, namespaceOf, recordField, rfc3339, stringField, type KObject } from "../apiserver/objects.js";
import { type ConditionTransitions, podDisplay, type PodSnapshot, podStatus } from "./pod-status.js";
import { runHandler, type HandlerContext } from "./probes.js";
import type { ExitInfo, SupervisedProcess } from "../node/process.js";
import { RestartBackoff } from "./restart-backoff.js";
import { removePodDirs, type Mount } from "./volumes.js";
import { Sidecars } from "./sidecars.js";

/** What a pod worker needs from its kubelet. */
export interface PodWorkerHost extends ContainerHost {
  readonly crashLoopBaseMs: number;
  readonly crashLoopMaxMs: number;
  /** Extra env for every container. */
  readonly extraEnv: Record<string, string>;
  /** Reports a pod event. */
  emit(pod: string, reason: string, message: string): void;
}

/** A running pod as `local status` shows it. */
export interface PodRuntimeInfo {
  name: string;
  namespace: string;
  ip: string;
  pid: number | undefined;
  ready: boolean;
  hung: boolean;
  restarts: number;
  state: string;
}

/** What the worker knows of its pod's containers: the input of podStatus, but the IDs. */
type ContainerFacts = Omit<PodSnapshot, "ip" | "startTime" | "container" | "pid" | "restartCount">;

/** Why waiting on the container ended. */
type Wakeup = "exit" | "terminate" | "liveness";

/** Runs one pod. */
export class PodWorker {
  pod: KObject;
  readonly ip: string;
  /** The running container, if any. */
  proc: SupervisedProcess | undefined;
  /** The container was sent SIGSTOP (and not SIGCONT since). */
  hung = false;
  readonly done: Promise<void>;

  private readonly startTime = rfc3339();
  private readonly facts: ContainerFacts;
  private readonly backoff: RestartBackoff;
  private transitions: ConditionTransitions = {};
  private probes: ContainerProbes | undefined;
  /** Env and mounts of the running container, for its probes and preStop hook. */
  private env: Record<string, string> = {};
  private mounts: Mount[] = [];

  /** Pod deleted (or runtime stopping): the loop ends. */
  private terminating = false;
  /** Runtime stopping: the pod is kept in the store. */
  private shuttingDown = false;
  /** A startup or liveness probe failed: the container is restarted. */
  private livenessFailed = false;
  /** Aborted when the pod is deleted or the runtime stops: kills a running init container. */
  private readonly abort = new AbortController();
  /** Ends the current sleep or wait early (deletion, probe failure). */
  private wake: (() => void) | undefined;
  /** The pod's other containers (the agent sidecar), once the init containers succeeded. */
  private sidecars: Sidecars | undefined;

  constructor(
    pod: KObject,
    ip: string,
    private readonly k: PodWorkerHost,
  ) {
    this.pod = pod;
    this.ip = ip;
    this.backoff = new RestartBackoff(k.crashLoopBaseMs, k.crashLoopMaxMs);
    const initialized = this.initContainers.length === 0;
    this.facts = {
      waiting: { reason: initialized ? "ContainerCreating" : "PodInitializing", message: "" },
      startedAt: undefined,
      ready: false,
      started: false,
      everStarted: false,
      failed: false,
      initialized,
      initStatuses: [],
      lastTermination: undefined,
    };
    // Start on a later tick: the first status write re-enters the kubelet's watch.
    this.done = Promise.resolve().then(() => this.run());
  }

  get name(): string {
    return this.pod.metadata.name;
  }

  private get container(): Record<string, unknown> {
    const c = arrayField(this.pod, "spec", "containers")[0];
    return isRecord(c) ? c : {};
  }

  private get initContainers(): Record<string, unknown>[] {
    return arrayField(this.pod, "spec", "initContainers").filter(isRecord);
  }

  private get graceSeconds(): number {
    const spec = recordField(this.pod, "spec");
    return this.pod.metadata.deletionGracePeriodSeconds ?? (typeof spec.terminationGracePeriodSeconds === "number" ? spec.terminationGracePeriodSeconds : 30);
  }

  private get extraEnv(): Record<string, string> {
    return { METAMYSQL_BIND_ADDRESS: this.ip, ...this.k.extraEnv };
  }

  /** Pod deleted: terminate gracefully. */
  terminate(): void {
    this.terminating = true;
    this.abort.abort();
    this.wake?.();
  }

  /** Runtime stopping: stop the container without removing the pod. */
  shutdown(): void {
    this.shuttingDown = true;
    this.terminate();
  }

  /** The pod as `local status` shows it. */
  info(): PodRuntimeInfo {
    return {
      name: this.name,
      namespace: namespaceOf(this.pod),
      ip: this.ip,
      pid: this.proc?.pid,
      ready: this.facts.ready,
      hung: this.hung,
      ...podDisplay(this.snapshot(), this.hung),
    };
  }

  // --- supervision: init containers, then the container, restarted with CrashLoopBackOff ---

  private async run(): Promise<void> {
    // A new pod: nothing of an earlier pod with this name (a restarted runtime) is kept.
    removePodDirs(this.pod, this.k.layout);
    this.publishStatus();
    if (!this.facts.initialized) await this.runInitContainers();
    // A failed pod stays until it is deleted (its controller replaces it).
    while (this.facts.failed && !this.terminating) await this.sleep(3_600_000);
    if (this.facts.initialized && !this.terminating) {
      this.sidecars = new Sidecars(
        this.k,
        () => this.pod,
        () => this.extraEnv,
      );
      this.sidecars.start();
    }
    while (!this.terminating) {
      const proc = await this.startContainer();
      if (!proc) {
        await this.sleep(2000);
        continue;
      }
      const why = await this.waitExitOrEvent(proc);
      if (why === "terminate") break;
      if (why === "liveness") {
        this.k.emit(this.name, "Unhealthy", "liveness probe failed; restarting the container");
        await this.killContainer(proc, true);
      }
      const info = proc.exit ?? (await proc.exited);
      this.recordExit(info);
      if (this.terminating) break;
      const delay = this.backoff.nextDelay(Date.now());
      this.k.emit(this.name, "BackOff", `container exited (${describeExit(info)}); restarting${delay ? ` in ${formatBackoff(delay)}` : ""}`);
      if (delay > 0) {
        this.facts.waiting = { reason: "CrashLoopBackOff", message: `back-off ${formatBackoff(delay)} restarting failed container` };
        this.publishStatus();
        await this.sleep(delay);
      }
      this.backoff.restarting();
    }
    // Every container stops at once, as in Kubernetes; the status says "exited" only when all
    // have (so the pod's removal follows its last status as before the sidecars existed).
    const sidecarsStopped = this.sidecars?.stop(Math.min(this.graceSeconds, 30) * 1000);
    if (this.proc) {
      const proc = this.proc;
      await Promise.all([this.killContainer(proc, !this.shuttingDown), sidecarsStopped]);
      this.recordExit(proc.exit ?? (await proc.exited));
    } else if (sidecarsStopped) {
      await sidecarsStopped;
    }
    this.stopProbes();
    if (!this.shuttingDown) {
      removePodDirs(this.pod, this.k.layout);
      this.k.store.remove(this.pod.apiVersion, this.pod.kind, namespaceOf(this.pod), this.name);
      this.k.emit(this.name, "Deleted", "stopped and removed");
    }
  }

  /** Init containers in order, each to completion; failures restart with CrashLoopBackOff. */
  private async runInitContainers(): Promise<void> {
    const result = await runInitContainers({
      host: this.k,
      pod: () => this.pod,
      extraEnv: this.extraEnv,
      label: (c) => `init container ${c} ${namespaceOf(this.pod)}/${this.name}`,
      signal: this.abort.signal,
      killGraceMs: Math.min(this.graceSeconds, 30) * 1000,
      backoffMs: (restarts) => crashLoopDelay(restarts, this.k.crashLoopBaseMs, this.k.crashLoopMaxMs),
      onStatus: (statuses: ContainerStatus[]) => {
        this.facts.initStatuses = statuses;
        this.publishStatus();
      },
      onEvent: (reason, message) => this.k.emit(this.name, reason, message),
    });
    if (result === "Failed") {
      this.facts.failed = true;
      this.publishStatus();
    }
    if (result !== "Initialized") return;
    this.facts.initialized = true;
    this.facts.waiting = { reason: "ContainerCreating", message: "" };
    this.publishStatus();
  }

  /** Starts the container; undefined (and a waiting reason published) when it cannot start yet. */
  private async startContainer(): Promise<SupervisedProcess | undefined> {
    const c = this.container;
    const image = stringField(c, "image") ?? "";
    const flavor = flavorOfImage(image);
    const missing = flavor ? missingServerMessage(flavor) : undefined;
    if (missing) return this.wait("ServerNotInstalled", missing);
    let launch;
    try {
      launch = resolveContainer(this.k, this.pod, c, this.extraEnv);
    } catch (err) {
      const waiting = waitingReason(err);
      if (waiting) return this.wait(waiting.reason, waiting.message);
      throw err;
    }
    this.env = launch.env;
    this.mounts = launch.mounts;
    let proc: SupervisedProcess;
    try {
      proc = spawnContainer(this.k, this.pod, launch, `container ${namespaceOf(this.pod)}/${this.name}`);
    } catch (err) {
      return this.wait("RunContainerError", err instanceof Error ? err.message : String(err));
    }
    this.proc = proc;
    this.hung = false;
    Object.assign(this.facts, { waiting: undefined, started: false, everStarted: true, startedAt: rfc3339(), ready: false });
    this.backoff.started(Date.now());
    this.publishStatus();
    const restarts = this.backoff.restartCount;
    this.k.emit(this.name, "Started", `started, pid ${proc.pid} on ${this.ip}:3306${restarts ? ` (restart ${restarts})` : ""}`);
    this.startProbes();
    return proc;
  }

  /** The container cannot start yet: publish why (and report it once per reason). */
  private wait(reason: string, message: string): undefined {
    const waiting = this.facts.waiting;
    if (waiting?.reason !== reason || waiting.message !== message) this.k.emit(this.name, reason, message);
    this.facts.waiting = { reason, message };
    this.publishStatus();
    return undefined;
  }

  /** Waits until the container exits, the pod terminates or a probe asks for a restart. */
  private async waitExitOrEvent(proc: SupervisedProcess): Promise<Wakeup> {
    while (true) {
      if (this.terminating) return "terminate";
      if (this.livenessFailed) {
        this.livenessFailed = false;
        return "liveness";
      }
      const r = await Promise.race([
        proc.exited.then(() => "exit" as const),
        new Promise<"event">((resolve) => {
          this.wake = () => resolve("event");
        }),
      ]);
      this.wake = undefined;
      if (r === "exit") return this.terminating ? "terminate" : "exit";
    }
  }

  /** Sleeps `ms`, or less when the pod terminates or a probe fails meanwhile. */
  private async sleep(ms: number): Promise<void> {
    if (this.terminating) return;
    await new Promise<void>((resolve) => {
      const t = setTimeout(resolve, ms);
      this.wake = () => {
        clearTimeout(t);
        resolve();
      };
    });
    this.wake = undefined;
  }

  /** preStop (when `graceful` and defined), SIGTERM, SIGKILL at the end of the grace period. */
  private async killContainer(proc: SupervisedProcess, graceful: boolean): Promise<void> {
    const graceMs = (graceful ? this.graceSeconds : Math.min(this.graceSeconds, 30)) * 1000;
    const deadline = Date.now() + graceMs;
    const preStop = recordField(this.container, "lifecycle", "preStop");
    if (graceful && Object.keys(preStop).length > 0 && !proc.exit) {
      this.k.emit(this.name, "Killing", `running preStop hook (grace ${this.graceSeconds}s)`);
      const res = await Promise.race([runHandler(preStop, this.handlerContext("preStop"), graceMs), proc.exited.then(() => ({ ok: true, output: "" }))]);
      if (!res.ok) this.k.emit(this.name, "FailedPreStopHook", lastLine(res.output) || "preStop hook failed");
    }
    if (!graceful) this.stopProbes();
    if (!proc.exit) {
      this.k.supervisor.signal(proc.pid, "SIGTERM");
      if (this.hung && this.shuttingDown) this.k.supervisor.signal(proc.pid, "SIGCONT");
    }
    const remaining = Math.max(graceful ? 2000 : 0, deadline - Date.now());
    const timer = setTimeout(() => this.k.supervisor.signal(proc.pid, "SIGKILL"), remaining);
    await proc.exited;
    clearTimeout(timer);
  }

  /** The container exited: it is no longer running, started or ready. */
  private recordExit(info: ExitInfo): void {
    this.stopProbes();
    const lastTermination: TerminatedState = terminatedState(info, this.facts.startedAt ?? rfc3339());
    this.proc = undefined;
    this.hung = false;
    Object.assign(this.facts, { lastTermination, ready: false, started: false, waiting: { reason: "ContainerCreating", message: "" } });
    this.publishStatus();
  }

  // --- probing ---

  private handlerContext(label: string): HandlerContext {
    return {
      supervisor: this.k.supervisor,
      env: this.env,
      mounts: this.mounts,
      podIP: this.ip,
      cwd: this.k.layout.podDir(namespaceOf(this.pod), this.name),
      label: `${label} ${namespaceOf(this.pod)}/${this.name}`,
    };
  }

  private startProbes(): void {
    this.probes = new ContainerProbes(this.container, (label) => this.handlerContext(label), {
      onStarted: () => {
        this.facts.started = true;
        this.publishStatus();
      },
      onReady: (ok, output) => {
        this.facts.ready = ok;
        if (output !== undefined) this.k.emit(this.name, ok ? "Ready" : "NotReady", ok ? "ready" : `not ready${output ? `: ${lastLine(output)}` : ""}`);
        this.publishStatus();
      },
      onRestartNeeded: () => {
        this.livenessFailed = true;
        this.wake?.();
      },
      terminating: () => this.terminating,
    });
  }

  private stopProbes(): void {
    this.probes?.stop();
    this.probes = undefined;
  }

  // --- status publishing ---

  private snapshot(): PodSnapshot {
    const c = this.container;
    return {
      ...this.facts,
      ip: this.ip,
      startTime: this.startTime,
      container: { name: stringField(c, "name") ?? "container", image: stringField(c, "image") ?? "" },
      pid: this.proc?.pid,
      restartCount: this.backoff.restartCount,
    };
  }

  /** Writes the Pod's status when it changed (and the Pod is still this worker's). */
  private publishStatus(): void {
    if (this.shuttingDown && !this.k.store.get("v1", "Pod", namespaceOf(this.pod), this.name)) return;
    const { status, transitions } = podStatus(this.snapshot(), this.transitions, rfc3339());
    this.transitions = transitions;
    const current = this.k.store.get("v1", "Pod", namespaceOf(this.pod), this.name);
    if (!current || current.metadata.uid !== this.pod.metadata.uid) return;
    if (deepEqual(clone(current.status), JSON.parse(JSON.stringify(status)))) return;
    current.status = status;
    delete current.metadata.resourceVersion;
    this.pod = this.k.store.updateStatus(current);
  }
}

function describeExit(info: ExitInfo): string {
  return info.signal ? `signal ${info.signal}` : `exit code ${info.code ?? "?"}`;
}
