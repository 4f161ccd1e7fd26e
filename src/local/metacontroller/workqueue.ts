/**
 * A rate-limited work queue in the style of client-go's, which Metacontroller and the
 * Kubernetes controllers use: a key is processed by one worker at a time, adds while it is being
 * processed run it once more afterwards, failures are retried with per-key exponential backoff
 * (`baseDelayMs` doubling to `maxDelayMs`), a success resets the backoff. A key waits for at
 * most one delayed add, the earliest (client-go's delaying queue): a later `addAfter` of a key
 * already waiting for an earlier time is dropped, so resyncs requested by syncs that events
 * triggered do not pile up into parallel chains of resyncs.
 */

/** Options of a work queue. */
export interface WorkQueueOptions {
  /** Processes one key; a thrown error requeues it with backoff. */
  handler: (key: string) => Promise<void>;
  /** Parallel workers (different keys only). */
  workers?: number;
  baseDelayMs?: number;
  maxDelayMs?: number;
  /** Called when the handler failed, with the delay before the retry. */
  onError?: (key: string, err: unknown, retryInMs: number) => void;
}

/** A client-go style work queue. */
export class WorkQueue {
  private readonly queue: string[] = [];
  private readonly queued = new Set<string>();
  private readonly processing = new Set<string>();
  private readonly dirty = new Set<string>();
  private readonly failures = new Map<string, number>();
  /** The one pending delayed add per key: its timer and when it fires (ms). */
  private readonly waiting = new Map<string, { timer: NodeJS.Timeout; at: number }>();
  private readonly idleWaiters: Array<() => void> = [];
  private active = 0;
  private stopped = false;
  private readonly opts: Required<Omit<WorkQueueOptions, "onError">> & Pick<WorkQueueOptions, "onError">;

  /** A queue that starts processing at once. */
  constructor(opts: WorkQueueOptions) {
    this.opts = { workers: 1, baseDelayMs: 5, maxDelayMs: 1_000_000, ...opts };
  }

  /** Queues `key` now (deduplicated). */
  add(key: string): void {
    if (this.stopped) return;
    if (this.processing.has(key)) {
      this.dirty.add(key);
      return;
    }
    if (this.queued.has(key)) return;
    this.queued.add(key);
    this.queue.push(key);
    this.pump();
  }

  /** Queues `key` after `delayMs` (unless it is already waiting to be queued sooner). */
  addAfter(key: string, delayMs: number): void {
    if (this.stopped) return;
    if (delayMs <= 0) {
      this.add(key);
      return;
    }
    const at = Date.now() + delayMs;
    const pending = this.waiting.get(key);
    if (pending && pending.at <= at) return;
    if (pending) clearTimeout(pending.timer);
    const timer = setTimeout(() => {
      this.waiting.delete(key);
      this.add(key);
    }, delayMs);
    this.waiting.set(key, { timer, at });
  }

  /** Keys waiting for a delayed add (tests). */
  waitingKeys(): number {
    return this.waiting.size;
  }

  /** Queues `key` after its next backoff delay; returns the delay. */
  addRateLimited(key: string): number {
    const n = this.failures.get(key) ?? 0;
    this.failures.set(key, n + 1);
    const delay = Math.min(this.opts.maxDelayMs, this.opts.baseDelayMs * 2 ** n);
    this.addAfter(key, delay);
    return delay;
  }

  /** Resets the backoff of `key`. */
  forget(key: string): void {
    this.failures.delete(key);
  }

  /** Consecutive failures of `key`. */
  failureCount(key: string): number {
    return this.failures.get(key) ?? 0;
  }

  /** Resolves when nothing is queued or running (timers excluded). */
  async idle(): Promise<void> {
    if (this.active === 0 && this.queue.length === 0) return;
    await new Promise<void>((resolve) => this.idleWaiters.push(resolve));
  }

  /** Stops accepting work, cancels timers, waits for running handlers. */
  async shutdown(): Promise<void> {
    this.stopped = true;
    for (const w of this.waiting.values()) clearTimeout(w.timer);
    this.waiting.clear();
    this.queue.length = 0;
    this.queued.clear();
    await this.idle();
  }

  private pump(): void {
    while (!this.stopped && this.active < this.opts.workers) {
      const idx = this.queue.findIndex((k) => !this.processing.has(k));
      if (idx < 0) break;
      const [key] = this.queue.splice(idx, 1);
      if (key === undefined) break;
      this.queued.delete(key);
      this.processing.add(key);
      this.active++;
      void this.run(key);
    }
    if (this.active === 0 && (this.queue.length === 0 || this.stopped)) {
      for (const w of this.idleWaiters.splice(0)) w();
    }
  }

  private async run(key: string): Promise<void> {
    try {
      await this.opts.handler(key);
      this.forget(key);
    } catch (err) {
      if (!this.stopped) {
        const delay = this.addRateLimited(key);
        this.opts.onError?.(key, err, delay);
      }
    } finally {
      this.processing.delete(key);
      this.active--;
      if (this.dirty.delete(key)) this.add(key);
      this.pump();
    }
  }
}
