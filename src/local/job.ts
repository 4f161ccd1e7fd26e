/**
 * The Job controller of the local runtime (and the kubelet of run-to-completion pods): for each
 * Job without a result it creates one Pod (`restartPolicy: Never`, labels `job-name` and
 * `batch.kubernetes.io/job-name`, owned by the Job), runs its init containers then its
 * container as local processes with the container's env, Secrets and volumes mapped onto the
 * state dir (the same helpers as the kubelet), records each container's termination message
 * (terminationMessagePath, rewritten through the mounts), and writes Pod and Job status like
 * Kubernetes (active/succeeded/failed, startTime, completionTime, Complete/Failed conditions).
 * Simplifications (docs/local-runtime.md): one attempt per Job (the backup Jobs use
 * backoffLimit 0), no activeDeadlineSeconds, pods get no IP of their own.
 */
import { existsSync, mkdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { ContainerConfigError, containerEnv, resolveArgv } from "./container-env.js";
import { arrayField, clone, controllerOf, isRecord, namespaceOf, recordField, rfc3339, stringField, type KObject } from "./objects.js";
import type { ProcessSupervisor, SupervisedProcess } from "./process.js";
import type { StateLayout } from "./statedir.js";
import { isStoreError, type ObjectStore, type WatchEvent } from "./store.js";
import { containerMounts, prepareVolumes, removePodDirs, rewritePath, VolumeNotReadyError } from "./volumes.js";

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
  proc: SupervisedProcess | undefined;
  cancelled: boolean;
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
    for (const r of this.runs.values()) {
      r.cancelled = true;
      if (r.proc && !r.proc.exit) this.supervisor.signal(r.proc.pid, "SIGKILL");
    }
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
        const r = this.runs.get(key);
        if (r) {
          r.cancelled = true;
          if (r.proc && !r.proc.exit) this.supervisor.signal(r.proc.pid, "SIGKILL");
        }
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
        r.cancelled = true;
        if (r.proc && !r.proc.exit) this.supervisor.signal(r.proc.pid, "SIGKILL");
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
          ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job.metadata.name, uid: job.metadata.uid ?? "", controller: true, blockOwnerDeletion: true }],
        },
        spec: clone(recordField(template, "spec")),
        status: { phase: "Pending" },
      });
    } catch (err) {
      if (isStoreError(err, "AlreadyExists")) return;
      throw err;
    }
    const run: Run = { pod, proc: undefined, cancelled: false, done: Promise.resolve() };
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
    const inits = arrayField(run.pod, "spec", "initContainers").filter(isRecord);
    const mains = arrayField(run.pod, "spec", "containers").filter(isRecord);
    const initStatuses: unknown[] = [];
    const mainStatuses: unknown[] = [];
    let failed: string | undefined;
    const push = (phase: string): void =>
      this.setPodStatus(run, {
        phase,
        startTime: started,
        ...(initStatuses.length ? { initContainerStatuses: initStatuses } : {}),
        containerStatuses: mainStatuses,
      });
    push("Running");
    for (const [list, statuses] of [
      [inits, initStatuses],
      [mains, mainStatuses],
    ] as const) {
      for (const c of list) {
        if (failed || run.cancelled) break;
        const res = await this.runContainer(run, c, name);
        statuses.push({
          name: stringField(c, "name") ?? "container",
          image: stringField(c, "image") ?? "",
          ready: false,
          restartCount: 0,
          state: { terminated: { exitCode: res.exitCode, reason: res.exitCode === 0 ? "Completed" : "Error", message: res.message, startedAt: res.startedAt, finishedAt: rfc3339() } },
        });
        push("Running");
        if (res.exitCode !== 0) failed = `container ${stringField(c, "name") ?? "?"} failed (exit ${res.exitCode})`;
      }
    }
    if (run.cancelled && this.stopping) return;
    if (run.cancelled) failed ??= "cancelled";
    push(failed ? "Failed" : "Succeeded");
    const done = rfc3339();
    if (failed) {
      this.setJobStatus(job, {
        active: 0,
        failed: 1,
        conditions: [{ type: "Failed", status: "True", reason: "BackoffLimitExceeded", message: "Job has reached the specified backoff limit", lastProbeTime: done, lastTransitionTime: done }],
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

  private async runContainer(run: Run, c: Record<string, unknown>, label: string): Promise<{ exitCode: number; message: string; startedAt: string }> {
    const startedAt = rfc3339();
    const pod = run.pod;
    const cname = stringField(c, "name") ?? "container";
    let env: Record<string, string>;
    let argv: string[];
    let mounts;
    // Volumes and config: wait (bounded) like ContainerCreating, then fail the pod.
    const deadline = Date.now() + 30_000;
    for (;;) {
      try {
        prepareVolumes(pod, this.store, this.layout);
        mounts = containerMounts(pod, c, this.layout);
        const home = join(this.layout.podDir(namespaceOf(pod), pod.metadata.name), "home");
        mkdirSync(home, { recursive: true });
        env = containerEnv({ pod, container: c, store: this.store, mounts, home });
        argv = resolveArgv([...arrayField(c, "command"), ...arrayField(c, "args")], env, mounts);
        break;
      } catch (err) {
        if ((err instanceof VolumeNotReadyError || err instanceof ContainerConfigError) && Date.now() < deadline && !run.cancelled) {
          await new Promise((r) => setTimeout(r, 500));
          continue;
        }
        return { exitCode: 128, message: err instanceof Error ? err.message : String(err), startedAt };
      }
    }
    const [command, ...args] = argv;
    if (!command) return { exitCode: 128, message: "the container has no command", startedAt };
    const messagePath = rewritePath(stringField(c, "terminationMessagePath") ?? "/dev/termination-log", mounts);
    const logFile = join(this.layout.logsDir, `${pod.metadata.name}.log`);
    mkdirSync(this.layout.logsDir, { recursive: true });
    try {
      run.proc = this.supervisor.spawn({
        command,
        args,
        env,
        cwd: this.layout.podDir(namespaceOf(pod), pod.metadata.name),
        logFile,
        label: `${label} container ${cname}`,
      });
    } catch (err) {
      return { exitCode: 128, message: err instanceof Error ? err.message : String(err), startedAt };
    }
    const exit = await run.proc.exited;
    run.proc = undefined;
    const exitCode = exit.code ?? 128 + (exit.signal === "SIGKILL" ? 9 : 15);
    let message = "";
    if (messagePath.startsWith("/") && messagePath !== "/dev/termination-log" && existsSync(messagePath)) {
      message = readFileSync(messagePath, "utf8").slice(0, 4096);
    }
    if (!message && exitCode !== 0 && stringField(c, "terminationMessagePolicy") === "FallbackToLogsOnError" && existsSync(logFile)) {
      message = readFileSync(logFile, "utf8").split("\n").slice(-20).join("\n").slice(-2048);
    }
    return { exitCode, message, startedAt };
  }
}
