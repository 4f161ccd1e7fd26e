/**
 * The kubelet of the local runtime: runs each Pod of the store as local processes. A pod gets
 * a loopback IP (its pod IP), its volumes as host dirs (emptyDirs start empty with the pod,
 * are shared by its containers, survive container restarts and go with the pod), its init
 * containers run in order, each to completion (a failing one is restarted with CrashLoopBackOff
 * delays, the pod stays Pending and not Ready meanwhile; they do not run again when the main
 * container restarts), then its first container runs as a process in its own process group
 * (its other containers, the agent sidecar, run next to it: sidecars.ts, not in the status),
 * with the container's env and command rewritten to host paths. Readiness,
 * liveness and startup probes run as Kubernetes runs them; a container that exits is restarted
 * with CrashLoopBackOff delays (immediately, then 10 s doubling to 300 s, reset after 10
 * minutes of running); a liveness failure restarts it. Deletion runs the preStop hook, then
 * SIGTERM, then SIGKILL at the end of the grace period, then removes the Pod. Pod status
 * (phase, podIP, conditions, initContainerStatuses, containerStatuses) is written back like
 * the real thing. ARCHITECTURE.md section 6.
 *
 * This file watches the store and keeps one PodWorker (pod-worker.ts) per Pod; the worker
 * supervises the containers, its probes are in container-probes.ts, its restart bookkeeping in
 * restart-backoff.ts and the status it publishes is computed by pod-status.ts (pure).
 */
import { arrayField, namespaceOf, stringField } from "../apiserver/objects.js";
import type { ObjectStore, WatchEvent } from "../apiserver/store.js";
import { isJobPod } from "../controllers/job.js";
import { allocateIp } from "../node/ipam.js";
import type { ProcessSupervisor } from "../node/process.js";
import type { StateLayout } from "../node/statedir.js";
import { PodWorker, type PodRuntimeInfo, type PodWorkerHost } from "./pod-worker.js";
import { refreshProjectedVolumes } from "./volumes.js";

export type { PodRuntimeInfo } from "./pod-worker.js";

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

/** The node agent: one PodWorker per Pod in the store. */
export class Kubelet implements PodWorkerHost {
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
          if (!this.stopped && current && current.metadata.uid === obj.metadata.uid && !this.workers.has(key))
            this.onChange({ type: "ADDED", object: current });
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
