/**
 * The Job controller of the local runtime (and the kubelet of run-to-completion pods): for each
 * Job without a result it creates one Pod (`restartPolicy: Never`, labels `job-name` and
 * `batch.kubernetes.io/job-name`, owned by the Job), runs its init containers then its
 * container as local processes with the container's env, Secrets and volumes mapped onto the
 * state dir (the kubelet's code, src/local/kubelet/containers.ts), records each container's
 * termination message (terminationMessagePath, rewritten through the mounts), and writes Pod
 * and Job status like Kubernetes (active/succeeded/failed, startTime, completionTime,
 * Complete/Failed conditions). Simplifications (docs/local-runtime.md): one attempt per Job
 * (the backup Jobs use backoffLimit 0), no activeDeadlineSeconds, pods get no IP of their own.
 */
import { type ContainerStatus, containerStatus, runInitContainers, runToCompletion } from "../kubelet/containers.js";
import { arrayField, clone, controllerOf, isRecord, namespaceOf, recordField, rfc3339, stringField, type KObject } from "../apiserver/objects.js";
import type { ProcessSupervisor } from "../node/process.js";
import type { StateLayout } from "../node/statedir.js";
import { isStoreError, type ObjectStore, type WatchEvent } from "../apiserver/store.js";
import { removePodDirs } from "../kubelet/volumes.js";

/** Something a Job did, for the progress output. */
export interface JobEvent {
  job: string;
  reason: string;
  message: string;
}

/** Options of the Job controller. */
export interface JobControllerOptions {
  store: ObjectStore;
  layout: StateLayout;
  supervisor: ProcessSupervisor;
  onEvent?: (ev: JobEvent) => void;
}

interface Run {
  pod: KObject;
  /** Aborted when the Job or its pod is deleted, or the runtime stops: kills the running container. */
  cancel: AbortController;
  done: Promise<void>;
}

function jobFinished(job: KObject): boolean {
  const s = recordField(job, "status");
  return (typeof s.succeeded === "number" && s.succeeded > 0) || (typeof s.failed === "number" && s.failed > 0);
}

/** True for a pod this controller runs (owned by a Job). */
export function isJobPod(pod: KObject): boolean {
  return controllerOf(pod)?.kind === "Job";
}

/** Runs Jobs. */
export class JobController {
  private readonly store: ObjectStore;
  private readonly layout: StateLayout;
  private readonly supervisor: ProcessSupervisor;
  private readonly onEvent: (ev: JobEvent) => void;
  private readonly runs = new Map<string, Run>();
  private unwatch: (() => void) | undefined;
  private stopping = false;

  constructor(opts: JobControllerOptions) {
    this.store = opts.store;
    this.layout = opts.layout;
    this.supervisor = opts.supervisor;
    this.onEvent = opts.onEvent ?? (() => undefined);
  }

  start(): void {
    this.unwatch = this.store.watch((ev) => this.onChange(ev));
    for (const job of this.store.list({ kind: "Job" })) this.onChange({ type: "ADDED", object: job });
  }

  /** Stops watching and kills running Job pods (they are not marked failed: the runtime stops). */
  async stop(): Promise<void> {
    this.stopping = true;
    this.unwatch?.();
    for (const r of this.runs.values()) r.cancel.abort();
    await Promise.all([...this.runs.values()].map((r) => r.done));
  }

  /** Resolves when no Job pod is running. */
  async idle(): Promise<void> {
    await Promise.all([...this.runs.values()].map((r) => r.done));
  }

  private onChange(ev: WatchEvent): void {
    const obj = ev.object;
    if (obj.kind === "Job" && obj.apiVersion === "batch/v1") {
      const key = `${namespaceOf(obj)}/${obj.metadata.name}`;
      if (ev.type === "DELETED" || obj.metadata.deletionTimestamp) {
        this.runs.get(key)?.cancel.abort();
        return;
      }
      if (this.runs.has(key) || jobFinished(obj) || this.stopping) return;
      const existing = this.store.list({ kind: "Pod", namespace: namespaceOf(obj) }).find((p) => controllerOf(p)?.uid === obj.metadata.uid);
      if (existing) return;
      this.launch(obj, key);
      return;
    }
    if (obj.kind === "Pod" && isJobPod(obj) && ev.type !== "DELETED" && obj.metadata.deletionTimestamp) {
      // Graceful deletion of a Job pod (the Job was deleted): stop it, then remove it.
      const key = `${namespaceOf(obj)}/${controllerOf(obj)?.name ?? ""}`;
      const r = this.runs.get(key);
      if (r && r.pod.metadata.uid === obj.metadata.uid) {
        r.cancel.abort();
        void r.done.then(() => this.removePod(obj));
      } else {
        this.removePod(obj);
      }
    }
  }

  private removePod(pod: KObject): void {
    removePodDirs(pod, this.layout);
    try {
      this.store.remove("v1", "Pod", namespaceOf(pod), pod.metadata.name);
    } catch (err) {
      if (!isStoreError(err, "NotFound")) throw err;
    }
  }

  private launch(job: KObject, key: string): void {
    const template = recordField(job, "spec", "template");
    const suffix = (job.metadata.uid ?? "00000").replace(/-/g, "").slice(0, 5);
    const labels = {
      ...((recordField(template, "metadata").labels as Record<string, string> | undefined) ?? {}),
      "batch.kubernetes.io/job-name": job.metadata.name,
      "job-name": job.metadata.name,
      "batch.kubernetes.io/controller-uid": job.metadata.uid ?? "",
    };
    let pod: KObject;
    try {
      pod = this.store.create({
        apiVersion: "v1",
        kind: "Pod",
        metadata: {
          name: `${job.metadata.name}-${suffix}`,
          namespace: namespaceOf(job),
          labels,
          ownerReferences: [
            { apiVersion: "batch/v1", kind: "Job", name: job.metadata.name, uid: job.metadata.uid ?? "", controller: true, blockOwnerDeletion: true },
          ],
        },
        spec: clone(recordField(template, "spec")),
        status: { phase: "Pending" },
      });
    } catch (err) {
      if (isStoreError(err, "AlreadyExists")) return;
      throw err;
    }
    const run: Run = { pod, cancel: new AbortController(), done: Promise.resolve() };
    this.runs.set(key, run);
    run.done = this.execute(job, run).finally(() => {
      if (this.runs.get(key) === run) this.runs.delete(key);
    });
  }

  private setJobStatus(job: KObject, patch: Record<string, unknown>): void {
    const current = this.store.get("batch/v1", "Job", namespaceOf(job), job.metadata.name);
    if (!current || current.metadata.uid !== job.metadata.uid) return;
    current.status = { ...recordField(current, "status"), ...patch };
    delete current.metadata.resourceVersion;
    this.store.updateStatus(current);
  }

  private setPodStatus(run: Run, status: Record<string, unknown>): void {
    const current = this.store.get("v1", "Pod", namespaceOf(run.pod), run.pod.metadata.name);
    if (!current || current.metadata.uid !== run.pod.metadata.uid) return;
    current.status = status;
    delete current.metadata.resourceVersion;
    run.pod = this.store.updateStatus(current);
  }

  private async execute(job: KObject, run: Run): Promise<void> {
    const started = rfc3339();
    const name = `job ${job.metadata.name}`;
    this.setJobStatus(job, { startTime: started, active: 1 });
    this.onEvent({ job: job.metadata.name, reason: "Started", message: `started pod ${run.pod.metadata.name}` });
    const mains = arrayField(run.pod, "spec", "containers").filter(isRecord);
    let initStatuses: ContainerStatus[] = [];
    const mainStatuses = mains.map((c) => containerStatus(c));
    const push = (phase: string): void =>
      this.setPodStatus(run, {
        phase,
        startTime: started,
        ...(initStatuses.length ? { initContainerStatuses: initStatuses } : {}),
        containerStatuses: mainStatuses,
      });
    push("Pending");
    // Containers are killed at once when cancelled; volumes and config are waited for (bounded),
    // then the pod fails.
    const host = { store: this.store, layout: this.layout, supervisor: this.supervisor };
    const common = { host, pod: () => run.pod, signal: run.cancel.signal, killGraceMs: 0, createTimeoutMs: 30_000 };
    const init = await runInitContainers({
      ...common,
      label: (c) => `${name} init container ${c}`,
      backoffMs: () => 0,
      onStatus: (statuses) => {
        initStatuses = statuses;
        push("Pending");
      },
    });
    let failed: string | undefined;
    if (init === "Failed") {
      const bad = initStatuses.find((s) => s.state.terminated && s.state.terminated.exitCode !== 0);
      failed = `init container ${bad?.name ?? "?"} failed (exit ${bad?.state.terminated?.exitCode ?? "?"})`;
    }
    for (const [i, c] of mains.entries()) {
      if (failed || run.cancel.signal.aborted) break;
      const res = await runToCompletion({
        ...common,
        container: c,
        label: `${name} container ${stringField(c, "name") ?? "container"}`,
        onStarted: (proc, startedAt) => {
          mainStatuses[i] = containerStatus(c, { containerID: `local://${proc.pid}`, started: true, state: { running: { startedAt } } });
          push("Running");
        },
      });
      if (!res) break;
      mainStatuses[i] = containerStatus(c, { state: { terminated: res } });
      push("Running");
      if (res.exitCode !== 0) failed = `container ${stringField(c, "name") ?? "?"} failed (exit ${res.exitCode})`;
    }
    if (run.cancel.signal.aborted && this.stopping) return;
    if (run.cancel.signal.aborted) failed ??= "cancelled";
    push(failed ? "Failed" : "Succeeded");
    const done = rfc3339();
    if (failed) {
      this.setJobStatus(job, {
        active: 0,
        failed: 1,
        conditions: [
          {
            type: "Failed",
            status: "True",
            reason: "BackoffLimitExceeded",
            message: "Job has reached the specified backoff limit",
            lastProbeTime: done,
            lastTransitionTime: done,
          },
        ],
      });
      this.onEvent({ job: job.metadata.name, reason: "Failed", message: failed });
    } else {
      this.setJobStatus(job, {
        active: 0,
        succeeded: 1,
        completionTime: done,
        conditions: [{ type: "Complete", status: "True", lastProbeTime: done, lastTransitionTime: done }],
      });
      this.onEvent({ job: job.metadata.name, reason: "Completed", message: "completed" });
    }
  }
}
