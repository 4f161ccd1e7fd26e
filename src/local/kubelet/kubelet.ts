/**
 * The kubelet of the local runtime: runs each Pod of the store as local processes. A pod gets
 * a loopback IP (its pod IP), its volumes as host dirs (emptyDirs start empty with the pod,
 * are shared by its containers, survive container restarts and go with the pod), its init
 * containers run in order, each to completion (a failing one is restarted with CrashLoopBackOff
 * delays, the pod stays Pending and not Ready meanwhile; they do not run again when the main
 * container restarts), then its (single supported) container runs as a process in its own
 * process group, with the container's env and command rewritten to host paths. Readiness,
 * liveness and startup probes run as Kubernetes runs them; a container that exits is restarted
 * with CrashLoopBackOff delays (immediately, then 10 s doubling to 300 s, reset after 10
 * minutes of running); a liveness failure restarts it. Deletion runs the preStop hook, then
 * SIGTERM, then SIGKILL at the end of the grace period, then removes the Pod. Pod status
 * (phase, podIP, conditions, initContainerStatuses, containerStatuses) is written back like
 * the real thing. ARCHITECTURE.md section 6.
 */
import { flavorOfImage, missingServerMessage } from "../node/binaries.js";
import {
  type ContainerStatus,
  crashLoopDelay,
  formatBackoff,
  initDisplayState,
  lastLine,
  resolveContainer,
  runInitContainers,
  spawnContainer,
  type TerminatedState,
  terminatedState,
  waitingReason,
} from "./containers.js";
import { allocateIp } from "../node/ipam.js";
import { isJobPod } from "../controllers/job.js";
import { arrayField, clone, deepEqual, isRecord, namespaceOf, recordField, rfc3339, stringField, type KObject } from "../apiserver/objects.js";
import { ProbeLoop, runHandler, type HandlerContext } from "./probes.js";
import type { ExitInfo, ProcessSupervisor, SupervisedProcess } from "../node/process.js";
import type { StateLayout } from "../node/statedir.js";
import type { ObjectStore, WatchEvent } from "../apiserver/store.js";
import { refreshProjectedVolumes, removePodDirs, type Mount } from "./volumes.js";

/** Something a pod did, for the progress output. */
export interface PodEvent {
  pod: string;
  reason: string;
  message: string;
}

/** Options of the kubelet. */
export interface KubeletOptions {
  store: ObjectStore;
  layout: StateLayout;
  supervisor: ProcessSupervisor;
  ipPrefix: string;
  onEvent?: (ev: PodEvent) => void;
  /** First CrashLoopBackOff delay (Kubernetes: 10 s); the first restart is immediate. */
  crashLoopBaseMs?: number;
  /** Longest CrashLoopBackOff delay (Kubernetes: 300 s). */
  crashLoopMaxMs?: number;
  /** Extra env for every container (METAMYSQL_BIND_ADDRESS is always set to the pod IP). */
  extraEnv?: Record<string, string>;
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

/** Runs one pod. */
class PodWorker {
  pod: KObject;
  readonly ip: string;
  proc: SupervisedProcess | undefined;
  hung = false;
  restartCount = 0;
  private ready = false;
  private started = false;
  private everStarted = false;
  private startedAt: string | undefined;
  private readonly startTime = rfc3339();
  private waiting: { reason: string; message: string } | undefined = { reason: "ContainerCreating", message: "" };
  private lastTermination: TerminatedState | undefined;
  /** initContainerStatuses; `initialized` once every init container succeeded (or there is none). */
  private initStatuses: ContainerStatus[] = [];
  private initialized: boolean;
  /** An init container failed and the pod's restartPolicy is Never: phase Failed, nothing more runs. */
  private failed = false;
  /** Aborted when the pod is deleted or the runtime stops: kills a running init container. */
  private readonly abort = new AbortController();
  private readonly transitions = new Map<string, { status: string; time: string }>();
  private probes: ProbeLoop[] = [];
  private terminating = false;
  private shuttingDown = false;
  private wake: (() => void) | undefined;
  private livenessFailed = false;
  private lastRunMs = 0;
  private mounts: Mount[] = [];
  private env: Record<string, string> = {};
  readonly done: Promise<void>;

  constructor(
    pod: KObject,
    ip: string,
    private readonly k: Kubelet,
  ) {
    this.pod = pod;
    this.ip = ip;
    this.initialized = this.initContainers.length === 0;
    if (!this.initialized) this.waiting = { reason: "PodInitializing", message: "" };
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

  /** Pod deleted: terminate gracefully. */
  terminate(): void {
    this.terminating = true;
    this.abort.abort();
    this.wake?.();
  }

  /** Runtime stopping: stop the container without removing the pod. */
  shutdown(): void {
    this.shuttingDown = true;
    this.terminating = true;
    this.abort.abort();
    this.wake?.();
  }

  info(): PodRuntimeInfo {
    return {
      name: this.name,
      namespace: namespaceOf(this.pod),
      ip: this.ip,
      pid: this.proc?.pid,
      ready: this.ready,
      hung: this.hung,
      // Like kubectl's RESTARTS and STATUS columns: init containers' restarts count too.
      restarts: this.restartCount + this.initStatuses.reduce((n, s) => n + s.restartCount, 0),
      state: (!this.initialized && initDisplayState(this.initStatuses)) || (this.proc ? (this.hung ? "Hung" : "Running") : (this.waiting?.reason ?? "Terminated")),
    };
  }

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

  private async run(): Promise<void> {
    // A new pod: nothing of an earlier pod with this name (a restarted runtime) is kept.
    removePodDirs(this.pod, this.k.layout);
    this.pushStatus();
    if (!this.initialized) await this.runInitContainers();
    // A failed pod stays until it is deleted (its controller replaces it).
    while (this.failed && !this.terminating) await this.sleep(3_600_000);
    while (!this.terminating) {
      const proc = await this.startContainer();
      if (!proc) {
        await this.sleep(2000);
        continue;
      }
      const exit = await this.waitExitOrEvent(proc);
      if (exit === "terminate") break;
      if (exit === "liveness") {
        this.k.emit(this.name, "Unhealthy", "liveness probe failed; restarting the container");
        await this.killContainer(proc, true);
      }
      const info = proc.exit ?? (await proc.exited);
      this.recordExit(info);
      if (this.terminating) break;
      const delay = this.nextBackoff();
      this.k.emit(this.name, "BackOff", `container exited (${describeExit(info)}); restarting${delay ? ` in ${formatBackoff(delay)}` : ""}`);
      if (delay > 0) {
        this.waiting = { reason: "CrashLoopBackOff", message: `back-off ${formatBackoff(delay)} restarting failed container` };
        this.pushStatus();
        await this.sleep(delay);
      }
      this.restartCount++;
    }
    if (this.proc) {
      const proc = this.proc;
      await this.killContainer(proc, !this.shuttingDown);
      this.recordExit(proc.exit ?? (await proc.exited));
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
      onStatus: (statuses) => {
        this.initStatuses = statuses;
        this.pushStatus();
      },
      onEvent: (reason, message) => this.k.emit(this.name, reason, message),
    });
    if (result === "Failed") {
      this.failed = true;
      this.pushStatus();
    }
    if (result !== "Initialized") return;
    this.initialized = true;
    this.waiting = { reason: "ContainerCreating", message: "" };
    this.pushStatus();
  }

  private get extraEnv(): Record<string, string> {
    return { METAMYSQL_BIND_ADDRESS: this.ip, ...this.k.extraEnv };
  }

  private nextBackoff(): number {
    if (Date.now() - this.lastRunMs > 10 * 60_000) this.restartCount = 0;
    return crashLoopDelay(this.restartCount, this.k.crashLoopBaseMs, this.k.crashLoopMaxMs);
  }

  private async waitExitOrEvent(proc: SupervisedProcess): Promise<"exit" | "terminate" | "liveness"> {
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
    this.waiting = undefined;
    this.started = false;
    this.everStarted = true;
    this.startedAt = rfc3339();
    this.lastRunMs = Date.now();
    this.ready = false;
    this.pushStatus();
    this.k.emit(this.name, "Started", `started, pid ${proc.pid} on ${this.ip}:3306${this.restartCount ? ` (restart ${this.restartCount})` : ""}`);
    this.startProbes();
    return proc;
  }

  private wait(reason: string, message: string): undefined {
    if (this.waiting?.reason !== reason || this.waiting.message !== message) {
      this.k.emit(this.name, reason, message);
    }
    this.waiting = { reason, message };
    this.pushStatus();
    return undefined;
  }

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
    const c = this.container;
    const startup = isRecord(c.startupProbe) ? c.startupProbe : undefined;
    const begin = (): void => {
      this.started = true;
      this.pushStatus();
      if (isRecord(c.readinessProbe)) {
        this.probes.push(
          new ProbeLoop(c.readinessProbe, this.handlerContext("readiness probe"), false, (ok, output) => {
            this.ready = ok;
            this.k.emit(this.name, ok ? "Ready" : "NotReady", ok ? "ready" : `not ready${output ? `: ${lastLine(output)}` : ""}`);
            this.pushStatus();
          }),
        );
      } else {
        this.ready = true;
        this.pushStatus();
      }
      if (isRecord(c.livenessProbe)) {
        const loop: ProbeLoop = new ProbeLoop(c.livenessProbe, this.handlerContext("liveness probe"), true, (ok) => {
          if (ok || this.terminating) return;
          loop.stop();
          this.livenessFailed = true;
          this.wake?.();
        });
        this.probes.push(loop);
      }
    };
    if (startup) {
      const loop: ProbeLoop = new ProbeLoop(startup, this.handlerContext("startup probe"), false, (ok) => {
        if (!ok) {
          loop.stop();
          this.livenessFailed = true;
          this.wake?.();
          return;
        }
        loop.stop();
        begin();
      });
      this.probes.push(loop);
    } else {
      begin();
    }
  }

  private stopProbes(): void {
    for (const p of this.probes) p.stop();
    this.probes = [];
  }

  /** preStop (when `graceful` and defined), SIGTERM, SIGKILL at the end of the grace period. */
  private async killContainer(proc: SupervisedProcess, graceful: boolean): Promise<void> {
    const graceMs = (graceful ? this.graceSeconds : Math.min(this.graceSeconds, 30)) * 1000;
    const deadline = Date.now() + graceMs;
    const preStop = recordField(this.container, "lifecycle", "preStop");
    if (graceful && Object.keys(preStop).length > 0 && !proc.exit) {
      this.k.emit(this.name, "Killing", `running preStop hook (grace ${this.graceSeconds}s)`);
      const res = await Promise.race([
        runHandler(preStop, this.handlerContext("preStop"), graceMs),
        proc.exited.then(() => ({ ok: true, output: "" })),
      ]);
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

  private recordExit(info: ExitInfo): void {
    this.stopProbes();
    this.lastTermination = terminatedState(info, this.startedAt ?? rfc3339());
    this.proc = undefined;
    this.hung = false;
    this.ready = false;
    this.started = false;
    this.waiting = { reason: "ContainerCreating", message: "" };
    this.pushStatus();
  }

  private condition(type: string, ok: boolean, whyNot?: { reason: string; message: string }): Record<string, unknown> {
    const status = ok ? "True" : "False";
    const prev = this.transitions.get(type);
    if (!prev || prev.status !== status) this.transitions.set(type, { status, time: rfc3339() });
    return { type, status, lastProbeTime: null, lastTransitionTime: this.transitions.get(type)?.time, ...(!ok && whyNot ? whyNot : {}) };
  }

  private pushStatus(): void {
    if (this.shuttingDown && !this.k.store.get("v1", "Pod", namespaceOf(this.pod), this.name)) return;
    const c = this.container;
    const state = this.proc
      ? { running: { startedAt: this.startedAt } }
      : { waiting: { reason: this.waiting?.reason ?? "ContainerCreating", ...(this.waiting?.message ? { message: this.waiting.message } : {}) } };
    const incomplete = this.initStatuses.filter((s) => s.state.terminated?.exitCode !== 0).map((s) => s.name);
    const status = {
      phase: this.failed ? "Failed" : this.everStarted ? "Running" : "Pending",
      conditions: [
        this.condition("PodReadyToStartContainers", true),
        this.condition("Initialized", this.initialized, { reason: "ContainersNotInitialized", message: `containers with incomplete status: [${incomplete.join(" ")}]` }),
        this.condition("Ready", this.ready),
        this.condition("ContainersReady", this.ready),
        this.condition("PodScheduled", true),
      ],
      hostIP: "127.0.0.1",
      hostIPs: [{ ip: "127.0.0.1" }],
      podIP: this.ip,
      podIPs: [{ ip: this.ip }],
      startTime: this.startTime,
      ...(this.initStatuses.length > 0 ? { initContainerStatuses: this.initStatuses } : {}),
      containerStatuses: [
        {
          name: stringField(c, "name") ?? "container",
          image: stringField(c, "image") ?? "",
          imageID: "",
          containerID: this.proc ? `local://${this.proc.pid}` : undefined,
          ready: this.ready,
          started: this.started,
          restartCount: this.restartCount,
          state,
          lastState: this.lastTermination ? { terminated: this.lastTermination } : {},
        },
      ],
    };
    const current = this.k.store.get("v1", "Pod", namespaceOf(this.pod), this.name);
    if (!current || current.metadata.uid !== this.pod.metadata.uid) return;
    if (deepEqual(clone(current.status), JSON.parse(JSON.stringify(status)))) return;
    current.status = status;
    delete current.metadata.resourceVersion;
    this.pod = this.k.store.updateStatus(current);
  }
}

/** The node agent: one PodWorker per Pod in the store. */
export class Kubelet {
  readonly store: ObjectStore;
  readonly layout: StateLayout;
  readonly supervisor: ProcessSupervisor;
  readonly crashLoopBaseMs: number;
  readonly crashLoopMaxMs: number;
  readonly extraEnv: Record<string, string>;
  private readonly ipPrefix: string;
  private readonly workers = new Map<string, PodWorker>();
  private readonly onEvent: (ev: PodEvent) => void;
  private unwatch: (() => void) | undefined;
  private stopped = false;

  /** Creates the kubelet; `start()` begins running pods. */
  constructor(opts: KubeletOptions) {
    this.store = opts.store;
    this.layout = opts.layout;
    this.supervisor = opts.supervisor;
    this.ipPrefix = opts.ipPrefix;
    this.crashLoopBaseMs = opts.crashLoopBaseMs ?? 10_000;
    this.crashLoopMaxMs = opts.crashLoopMaxMs ?? 300_000;
    this.extraEnv = opts.extraEnv ?? {};
    this.onEvent = opts.onEvent ?? (() => undefined);
  }

  /** Watches pods (and the ConfigMaps/Secrets they mount). */
  start(): void {
    this.unwatch = this.store.watch((ev) => this.onChange(ev));
    for (const pod of this.store.list({ kind: "Pod" })) this.onChange({ type: "ADDED", object: pod });
  }

  /** Reports a pod event. */
  emit(pod: string, reason: string, message: string): void {
    this.onEvent({ pod, reason, message });
  }

  /** Runtime view of every pod. */
  pods(): PodRuntimeInfo[] {
    return [...this.workers.values()].map((w) => w.info()).sort((a, b) => a.name.localeCompare(b.name, undefined, { numeric: true }));
  }

  /** Sends a signal to a pod's container (KILL crashes it, STOP hangs it, CONT resumes it). */
  signal(namespace: string, pod: string, signal: NodeJS.Signals): void {
    const w = this.workers.get(`${namespace}/${pod}`);
    if (!w) throw new Error(`pod ${pod} not found`);
    if (!w.proc) throw new Error(`pod ${pod} has no running container`);
    if (!this.supervisor.signal(w.proc.pid, signal)) throw new Error(`cannot signal pod ${pod}`);
    if (signal === "SIGSTOP") w.hung = true;
    if (signal === "SIGCONT") w.hung = false;
    this.emit(pod, "Signal", `sent ${signal} to pid ${w.proc.pid}`);
  }

  /** Stops every container (SIGTERM, SIGKILL after `graceMs`) without deleting the pods. */
  async stop(): Promise<void> {
    this.stopped = true;
    this.unwatch?.();
    const all = [...this.workers.values()];
    for (const w of all) w.shutdown();
    await Promise.all(all.map((w) => w.done));
    this.workers.clear();
  }

  private onChange(ev: WatchEvent): void {
    const obj = ev.object;
    if (obj.kind === "Pod") {
      // Pods of Jobs run to completion under the Job controller (src/local/controllers/job.ts).
      if (isJobPod(obj)) return;
      const key = `${namespaceOf(obj)}/${obj.metadata.name}`;
      const w = this.workers.get(key);
      if (ev.type === "DELETED") {
        if (w && w.pod.metadata.uid === obj.metadata.uid) w.terminate();
        return;
      }
      if (!w) {
        if (obj.metadata.deletionTimestamp) {
          this.store.remove(obj.apiVersion, obj.kind, namespaceOf(obj), obj.metadata.name);
          return;
        }
        const used = [...this.workers.values()].map((x) => x.ip);
        const ip = allocateIp(this.ipPrefix, used);
        const worker = new PodWorker(obj, ip, this);
        this.workers.set(key, worker);
        void worker.done.finally(() => {
          if (this.workers.get(key) === worker) this.workers.delete(key);
        });
        return;
      }
      if (w.pod.metadata.uid !== obj.metadata.uid) {
        // A new Pod with the same name (its StatefulSet re-created it) while the old one's
        // worker is still finishing: run it once that worker is done, as a worker of its own.
        void w.done.then(() => {
          const current = this.store.get(obj.apiVersion, obj.kind, namespaceOf(obj), obj.metadata.name);
          if (!this.stopped && current && current.metadata.uid === obj.metadata.uid && !this.workers.has(key)) this.onChange({ type: "ADDED", object: current });
        });
        return;
      }
      w.pod = obj;
      if (obj.metadata.deletionTimestamp) w.terminate();
      return;
    }
    if ((obj.kind === "ConfigMap" || obj.kind === "Secret") && ev.type === "MODIFIED") {
      for (const w of this.workers.values()) {
        if (namespaceOf(w.pod) !== namespaceOf(obj)) continue;
        const uses = arrayField(w.pod, "spec", "volumes").some(
          (v) => stringField(v, "configMap", "name") === obj.metadata.name || stringField(v, "secret", "secretName") === obj.metadata.name,
        );
        if (uses) refreshProjectedVolumes(w.pod, this.store, this.layout);
      }
    }
  }
}

function describeExit(info: ExitInfo): string {
  return info.signal ? `signal ${info.signal}` : `exit code ${info.code ?? "?"}`;
}
