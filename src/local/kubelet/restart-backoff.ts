/**
 * CrashLoopBackOff bookkeeping of a pod's container, as the kubelet keeps it: the restart count
 * (containerStatuses[].restartCount) and the delay before the next start (the first restart
 * immediately, then `baseMs` doubling to `maxMs`; back to immediate after 10 minutes of
 * running). Time is passed in. docs/local-runtime.md (kubelet).
 */
import { crashLoopDelay } from "./containers.js";

/** A container that ran this long before exiting restarts without delay, its count reset. */
const RESET_AFTER_MS = 10 * 60_000;

/** Restart count and back-off delay of one container. */
export class RestartBackoff {
  /** Restarts so far (reset after a long enough run). */
  restartCount = 0;
  private lastStartMs = 0;

  constructor(
    private readonly baseMs: number,
    private readonly maxMs: number,
  ) {}

  /** The container started at `nowMs`. */
  started(nowMs: number): void {
    this.lastStartMs = nowMs;
  }

  /** The container exited at `nowMs`: how long to wait before starting it again. */
  nextDelay(nowMs: number): number {
    if (nowMs - this.lastStartMs > RESET_AFTER_MS) this.restartCount = 0;
    return crashLoopDelay(this.restartCount, this.baseMs, this.maxMs);
  }

  /** The container is being started again. */
  restarting(): void {
    this.restartCount++;
  }
}
