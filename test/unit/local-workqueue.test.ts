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
