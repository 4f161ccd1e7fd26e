/**
 * The local Metacontroller's work queue (src/local/metacontroller/workqueue.ts), client-go style:
 * one worker per key at a time, adds during processing run once more afterwards, failures retried
 * with per-key exponential backoff, a success resets it. Fake timers: no wall-clock timing.
 */
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { WorkQueue } from "../../src/local/metacontroller/workqueue.js";

beforeEach(() => void vi.useFakeTimers());
afterEach(() => void vi.useRealTimers());

describe("WorkQueue", () => {
  it("keeps one delayed add per key, the earliest: resyncs requested by event-triggered runs do not pile up into parallel chains", async () => {
    let runs = 0;
    const q = new WorkQueue({
      handler: async () => {
        runs++;
        q.addAfter("a", 1000); // every run asks for a resync in 1 s, as a sync hook does
      },
    });
    q.add("a");
    // Five events, each triggering a run that asks for its own resync.
    for (let i = 0; i < 5; i++) {
      await vi.advanceTimersByTimeAsync(100);
      q.add("a");
    }
    expect(q.waitingKeys()).toBe(1);
    const before = runs;
    await vi.advanceTimersByTimeAsync(10_000);
    // One chain: about one run per second (five chains would make about fifty).
    expect(runs - before).toBeLessThanOrEqual(11);
    expect(runs - before).toBeGreaterThanOrEqual(9);
    // An earlier request replaces a later one.
    q.addAfter("b", 5000);
    q.addAfter("b", 10);
    expect(q.waitingKeys()).toBe(2);
    await q.shutdown();
    expect(q.waitingKeys()).toBe(0);
  });

  it("retries a failing key with doubling delays up to the maximum, and a success resets the backoff", async () => {
    let fail = true;
    const runs: number[] = [];
    const delays: number[] = [];
    const q = new WorkQueue({
      baseDelayMs: 5,
      maxDelayMs: 100,
      handler: async () => {
        runs.push(Date.now());
        if (fail) throw new Error("boom");
      },
      onError: (_key, _err, retryInMs) => delays.push(retryInMs),
    });
    q.add("a");
    await vi.advanceTimersByTimeAsync(1000);
    expect(delays.slice(0, 6)).toEqual([5, 10, 20, 40, 80, 100]);
    expect(q.failureCount("a")).toBeGreaterThan(6);
    fail = false;
    await vi.advanceTimersByTimeAsync(200);
    expect(q.failureCount("a")).toBe(0);
    await q.shutdown();
  });

  it("never runs one key twice at once; an add while it runs runs it once more afterwards", async () => {
    let active = 0;
    let maxActive = 0;
    let count = 0;
    const q = new WorkQueue({
      workers: 4,
      handler: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        count++;
        await new Promise((r) => setTimeout(r, 50));
        active--;
      },
    });
    q.add("a");
    await vi.advanceTimersByTimeAsync(10);
    q.add("a");
    q.add("a");
    await vi.advanceTimersByTimeAsync(200);
    expect(maxActive).toBe(1);
    expect(count).toBe(2);
    await q.shutdown();
  });

  it("runs different keys in parallel up to the worker count", async () => {
    let active = 0;
    let maxActive = 0;
    const q = new WorkQueue({
      workers: 2,
      handler: async () => {
        active++;
        maxActive = Math.max(maxActive, active);
        await new Promise((r) => setTimeout(r, 50));
        active--;
      },
    });
    for (const k of ["a", "b", "c", "d"]) q.add(k);
    await vi.advanceTimersByTimeAsync(500);
    expect(maxActive).toBe(2);
    await q.shutdown();
  });
});
