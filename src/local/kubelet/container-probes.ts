/**
 * The probes of one running container, in the kubelet's order: the startup probe first (when
 * defined); once it passes, the readiness and liveness probes. A container without a startup
 * probe is started at once, one without a readiness probe is ready once started. A failing
 * startup or liveness probe asks for a restart of the container. docs/local-runtime.md
 * (kubelet); the probes themselves run in probes.ts.
 */
import { isRecord } from "../apiserver/objects.js";
import { ProbeLoop, type HandlerContext } from "./probes.js";

/** What the pod worker learns from the probes. */
export interface ContainerProbeEvents {
  /** The startup probe passed (or there is none): the container counts as started. */
  onStarted(): void;
  /** Readiness changed; `output` is the probe's, undefined when there is no readiness probe. */
  onReady(ok: boolean, output: string | undefined): void;
  /** The startup or liveness probe failed: the container must be restarted. */
  onRestartNeeded(): void;
  /** True while the pod is terminating: a liveness failure is then ignored. */
  terminating(): boolean;
}

/** The probe loops of one container run; `stop()` ends them all. */
export class ContainerProbes {
  private loops: ProbeLoop[] = [];

  /** Starts probing `container` (its startupProbe, readinessProbe and livenessProbe). */
  constructor(
    private readonly container: Record<string, unknown>,
    private readonly context: (label: string) => HandlerContext,
    private readonly events: ContainerProbeEvents,
  ) {
    const startup = isRecord(container.startupProbe) ? container.startupProbe : undefined;
    if (!startup) {
      this.afterStartup();
      return;
    }
    const loop: ProbeLoop = new ProbeLoop(startup, this.context("startup probe"), false, (ok) => {
      loop.stop();
      if (!ok) {
        this.events.onRestartNeeded();
        return;
      }
      this.afterStartup();
    });
    this.loops.push(loop);
  }

  /** Stops every probe (a running probe finishes, its result is ignored). */
  stop(): void {
    for (const p of this.loops) p.stop();
    this.loops = [];
  }

  private afterStartup(): void {
    const c = this.container;
    this.events.onStarted();
    if (isRecord(c.readinessProbe)) {
      this.loops.push(new ProbeLoop(c.readinessProbe, this.context("readiness probe"), false, (ok, output) => this.events.onReady(ok, output)));
    } else {
      this.events.onReady(true, undefined);
    }
    if (isRecord(c.livenessProbe)) {
      const loop: ProbeLoop = new ProbeLoop(c.livenessProbe, this.context("liveness probe"), true, (ok) => {
        if (ok || this.events.terminating()) return;
        loop.stop();
        this.events.onRestartNeeded();
      });
      this.loops.push(loop);
    }
  }
}
