/**
 * How an operation's deadline (the sync budget) cuts its waits: src/mysql/operations.ts
 * `catchUpSeconds` and src/mysql/connection.ts `withinDeadline`. Pure arithmetic on a deadline
 * far from the boundaries, so the clock moving during the test does not matter.
 */
import { describe, expect, it } from "vitest";
import { MIN_DEADLINE_SLICE_MS, withinDeadline } from "../../src/mysql/connection.js";
import { catchUpSeconds, PROMOTE_RESERVE_MS, type OperationConfig } from "../../src/mysql/operations.js";

const base: OperationConfig = {
  flavor: "mariadb",
  operator: { user: "metamysql", password: "x" },
  replication: { user: "repl", password: "y" },
  connectTimeoutMs: 1000,
  queryTimeoutMs: 2000,
  catchUpTimeoutSeconds: 4,
  semiSync: { enabled: false, waitCount: 1, timeoutMs: 1000 },
};
const inMs = (ms: number) => performance.now() + ms;

describe("operation budget", () => {
  it("catch-up waits keep PROMOTE_RESERVE_MS for what follows, and never exceed the configured bound", () => {
    expect(catchUpSeconds(base)).toBe(4);
    expect(catchUpSeconds({ ...base, deadline: inMs(60_000) })).toBe(4);
    const cut = catchUpSeconds({ ...base, deadline: inMs(PROMOTE_RESERVE_MS + 2900) });
    expect(cut).toBeGreaterThanOrEqual(0);
    expect(cut).toBeLessThanOrEqual(2);
    expect(catchUpSeconds({ ...base, deadline: inMs(PROMOTE_RESERVE_MS + 500) })).toBe(0);
    expect(catchUpSeconds({ ...base, deadline: inMs(-5000) })).toBe(0);
  });

  it("connects and statements are cut to the deadline, never below the minimum slice", () => {
    expect(withinDeadline(2000, undefined)).toBe(2000);
    expect(withinDeadline(2000, inMs(60_000))).toBe(2000);
    const cut = withinDeadline(2000, inMs(1000));
    expect(cut).toBeLessThanOrEqual(1000);
    expect(cut).toBeGreaterThanOrEqual(MIN_DEADLINE_SLICE_MS);
    expect(withinDeadline(2000, inMs(-1000))).toBe(MIN_DEADLINE_SLICE_MS);
  });
});
