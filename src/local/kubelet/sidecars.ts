/**
 * The containers of a pod after its first (the database container, which pod-worker.ts
 * supervises with probes and status): here the agent sidecar (src/agent/server.ts). Each runs
 * as a real process with the pod's volumes (the same data dir and socket dir as the server),
 * started once the init containers succeeded, restarted with CrashLoopBackOff delays when it
 * exits, and stopped with the pod (SIGTERM, SIGKILL after the grace period). They are not part
 * of the Pod's status (the local kubelet reports the first container only); their output goes
 * to the pod's log, their starts and exits are pod events. docs/local-runtime.md (kubelet).
 */
import { arrayField, isRecord, namespaceOf, stringField, type KObject } from "../apiserver/objects.js";
import { missingAgentToolsMessage } from "../node/binaries.js";
import type { SupervisedProcess } from "../node/process.js";
import { abortableSleep, crashLoopDelay, formatBackoff, resolveContainer, spawnContainer, waitingReason, type ContainerHost } from "./containers.js";

/** What the sidecars need from their pod worker. */
export interface SidecarHost extends ContainerHost {
  readonly crashLoopBaseMs: number;
  readonly crashLoopMaxMs: number;
  emit(pod: string, reason: string, message: string): void;
}

/** Runs containers[1..] of a pod until stopped. */
export class Sidecars {
  private readonly abort = new AbortController();
  private readonly running = new Map<string, SupervisedProcess>();
  private loops: Promise<void>[] = [];

  constructor(
    private readonly host: SidecarHost,
    private readonly pod: () => KObject,
    private readonly extraEnv: () => Record<string, string>,
  ) {}

  /** The sidecar containers of the pod spec. */
  static of(pod: KObject): Record<string, unknown>[] {
    return arrayField(pod, "spec", "containers").filter(isRecord).slice(1);
  }

  /** Starts every sidecar (no-op when there are none). */
  start(): void {
    const sidecars = Sidecars.of(this.pod());
    // The agent serves copies with the host's mariadb-backup: say so when it cannot.
    const agent = sidecars.find((c) => arrayField(c, "command")[0] === "metamysql");
    const missing = agent ? missingAgentToolsMessage() : undefined;
    if (missing) this.host.emit(this.pod().metadata.name, "AgentToolsMissing", missing);
    this.loops = sidecars.map((c) => this.supervise(c));
  }

  /** Stops them: SIGTERM, SIGKILL after `graceMs`; resolves when all exited. */
  async stop(graceMs: number): Promise<void> {
    this.abort.abort();
    const procs = [...this.running.values()];
    for (const p of procs) if (!p.exit) this.host.supervisor.signal(p.pid, "SIGTERM");
    const timer = setTimeout(() => {
      for (const p of procs) if (!p.exit) this.host.supervisor.signal(p.pid, "SIGKILL");
    }, graceMs);
    await Promise.all(procs.map((p) => p.exited));
    clearTimeout(timer);
    await Promise.all(this.loops);
  }

  private async supervise(container: Record<string, unknown>): Promise<void> {
    const name = stringField(container, "name") ?? "sidecar";
    const pod = () => this.pod();
    const label = () => `sidecar ${name} ${namespaceOf(pod())}/${pod().metadata.name}`;
    let restarts = 0;
    while (!this.abort.signal.aborted) {
      let proc: SupervisedProcess | undefined;
      try {
        const launch = resolveContainer(this.host, pod(), container, this.extraEnv());
        proc = spawnContainer(this.host, pod(), launch, label());
      } catch (err) {
        const waiting = waitingReason(err);
        const message = waiting?.message ?? (err instanceof Error ? err.message : String(err));
        this.host.emit(pod().metadata.name, waiting?.reason ?? "RunContainerError", `container ${name}: ${message}`);
      }
      if (proc) {
        this.running.set(name, proc);
        this.host.emit(pod().metadata.name, "Started", `container ${name} started, pid ${proc.pid}${restarts ? ` (restart ${restarts})` : ""}`);
        const exit = await proc.exited;
        this.running.delete(name);
        if (this.abort.signal.aborted) return;
        const how = exit.signal ? `signal ${exit.signal}` : `exit code ${exit.code ?? "?"}`;
        const delay = crashLoopDelay(restarts + 1, this.host.crashLoopBaseMs, this.host.crashLoopMaxMs);
        this.host.emit(pod().metadata.name, "BackOff", `container ${name} exited (${how}); restarting in ${formatBackoff(delay)}`);
        await abortableSleep(delay, this.abort.signal);
      } else {
        await abortableSleep(crashLoopDelay(restarts + 1, this.host.crashLoopBaseMs, this.host.crashLoopMaxMs), this.abort.signal);
      }
      restarts++;
    }
  }
}
