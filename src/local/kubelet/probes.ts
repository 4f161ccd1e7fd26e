/**
 * Container probes and lifecycle hooks run like the kubelet runs them: exec commands with the
 * container's environment and paths, timeoutSeconds enforced by killing the probe's process
 * group, exit 0 = success; tcpSocket by connecting to the pod IP. Thresholds and periods are
 * Kubernetes' (defaults period 10 s, timeout 1 s, failureThreshold 3, successThreshold 1).
 */
import { connect } from "node:net";
import { isRecord, numberField, recordField, stringField, arrayField } from "../apiserver/objects.js";
import type { ProcessSupervisor } from "../node/process.js";
import { resolveArgv } from "./container-env.js";
import type { Mount } from "./volumes.js";

/** A probe's timing, with Kubernetes defaults applied. */
export interface ProbeTiming {
  initialDelayMs: number;
  periodMs: number;
  timeoutMs: number;
  failureThreshold: number;
  successThreshold: number;
}

/** Timing of a probe object. */
export function probeTiming(probe: Record<string, unknown>): ProbeTiming {
  return {
    initialDelayMs: (numberField(probe, "initialDelaySeconds") ?? 0) * 1000,
    periodMs: (numberField(probe, "periodSeconds") ?? 10) * 1000,
    timeoutMs: (numberField(probe, "timeoutSeconds") ?? 1) * 1000,
    failureThreshold: numberField(probe, "failureThreshold") ?? 3,
    successThreshold: numberField(probe, "successThreshold") ?? 1,
  };
}

/** Where and how to run a handler (probe or lifecycle hook). */
export interface HandlerContext {
  supervisor: ProcessSupervisor;
  env: Record<string, string>;
  mounts: Mount[];
  podIP: string;
  cwd: string;
  label: string;
}

/** Result of one run. */
export interface HandlerResult {
  ok: boolean;
  output: string;
}

/** Runs an exec / tcpSocket handler once, bounded by `timeoutMs`. */
export async function runHandler(handler: Record<string, unknown>, ctx: HandlerContext, timeoutMs: number): Promise<HandlerResult> {
  if (isRecord(handler.exec)) {
    const argv = resolveArgv(arrayField(handler, "exec", "command"), ctx.env, ctx.mounts);
    const [command, ...args] = argv;
    if (!command) return { ok: false, output: "exec probe without a command" };
    let output = "";
    let proc;
    try {
      proc = ctx.supervisor.spawn({
        command,
        args,
        env: ctx.env,
        cwd: ctx.cwd,
        label: ctx.label,
        onOutput: (chunk) => {
          if (output.length < 8192) output += chunk;
        },
      });
    } catch (err) {
      return { ok: false, output: err instanceof Error ? err.message : String(err) };
    }
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      ctx.supervisor.signal(proc.pid, "SIGKILL");
    }, timeoutMs);
    const exit = await proc.exited;
    clearTimeout(timer);
    if (timedOut) return { ok: false, output: `${output}\ncommand timed out after ${timeoutMs} ms`.trim() };
    return { ok: exit.code === 0, output: output.trim() };
  }
  if (isRecord(handler.tcpSocket)) {
    const port = numberField(handler, "tcpSocket", "port") ?? Number(stringField(handler, "tcpSocket", "port"));
    const host = stringField(handler, "tcpSocket", "host") ?? ctx.podIP;
    return await new Promise<HandlerResult>((resolve) => {
      const sock = connect({ host, port });
      const timer = setTimeout(() => {
        sock.destroy();
        resolve({ ok: false, output: `dial tcp ${host}:${port}: i/o timeout` });
      }, timeoutMs);
      sock.once("connect", () => {
        clearTimeout(timer);
        sock.destroy();
        resolve({ ok: true, output: "" });
      });
      sock.once("error", (err) => {
        clearTimeout(timer);
        resolve({ ok: false, output: err.message });
      });
    });
  }
  const kinds = Object.keys(handler).filter((k) => isRecord(recordField(handler, k)) && !["exec", "tcpSocket"].includes(k));
  return { ok: false, output: `probe type ${kinds.join(",") || "unknown"} is not supported by the local runtime` };
}

/**
 * Runs a probe periodically until stopped; reports each transition of its result (after the
 * thresholds). Initial state: `initial` (readiness false, liveness true).
 */
export class ProbeLoop {
  private stopped = false;
  private timer: NodeJS.Timeout | undefined;
  private result: boolean;
  private successes = 0;
  private failures = 0;
  private readonly timing: ProbeTiming;

  /** Starts probing after initialDelaySeconds. */
  constructor(
    private readonly probe: Record<string, unknown>,
    private readonly ctx: HandlerContext,
    initial: boolean,
    private readonly onChange: (ok: boolean, output: string) => void,
  ) {
    this.result = initial;
    this.timing = probeTiming(probe);
    this.timer = setTimeout(() => void this.tick(), this.timing.initialDelayMs);
  }

  /** Current result after thresholds. */
  get ok(): boolean {
    return this.result;
  }

  /** Stops probing (a running probe finishes, its result is ignored). */
  stop(): void {
    this.stopped = true;
    if (this.timer) clearTimeout(this.timer);
  }

  private async tick(): Promise<void> {
    if (this.stopped) return;
    const started = Date.now();
    const res = await runHandler(this.probe, this.ctx, this.timing.timeoutMs);
    if (this.stopped) return;
    if (res.ok) {
      this.failures = 0;
      this.successes++;
      if (!this.result && this.successes >= this.timing.successThreshold) {
        this.result = true;
        this.onChange(true, res.output);
      }
    } else {
      this.successes = 0;
      this.failures++;
      if (this.result && this.failures >= this.timing.failureThreshold) {
        this.result = false;
        this.onChange(false, res.output);
      }
    }
    const wait = Math.max(0, this.timing.periodMs - (Date.now() - started));
    if (!this.stopped) this.timer = setTimeout(() => void this.tick(), wait);
  }
}
