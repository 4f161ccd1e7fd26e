/**
 * Per-key serialization inside one process: overlapping syncs of the same cluster (a retry
 * while the first call still runs) queue behind each other instead of acting concurrently.
 * Different clusters run in parallel. Across hook replicas, safety comes from every step being
 * idempotent and decided from observation (ARCHITECTURE.md section 5, invariant 4).
 */
export class KeyedSerializer {
  private readonly tails = new Map<string, Promise<unknown>>();

  /** Runs `fn` after every earlier call with the same key has settled. */
  run<T>(key: string, fn: () => Promise<T>): Promise<T> {
    const previous = this.tails.get(key) ?? Promise.resolve();
    const next = previous.then(fn, fn);
    const tail = next.catch(() => undefined);
    this.tails.set(key, tail);
    void tail.then(() => {
      if (this.tails.get(key) === tail) this.tails.delete(key);
    });
    return next;
  }

  /** Keys with work queued or running. */
  get size(): number {
    return this.tails.size;
  }
}
