/**
 * Cron schedules (src/api/cron.ts, cron-parser): what the API accepts is what the CronJob
 * controller runs; time zones are honoured like Kubernetes, across DST changes.
 */
import { describe, expect, it } from "vitest";
import { cronProblem, lastScheduledTime, nextScheduledTimes, timeZoneProblem } from "../../src/api/cron.js";
import { parseCluster } from "../../src/api/parse.js";

const iso = (ds: Date[]) => ds.map((d) => d.toISOString());
const at = (s: string) => new Date(s);

describe("cron schedules", () => {
  it.each([
    ["@hourly", ["2026-01-05T01:00:00.000Z", "2026-01-05T02:00:00.000Z"]],
    ["@daily", ["2026-01-06T00:00:00.000Z", "2026-01-07T00:00:00.000Z"]],
    ["@midnight", ["2026-01-06T00:00:00.000Z", "2026-01-07T00:00:00.000Z"]],
    ["@weekly", ["2026-01-11T00:00:00.000Z", "2026-01-18T00:00:00.000Z"]],
    ["@monthly", ["2026-02-01T00:00:00.000Z", "2026-03-01T00:00:00.000Z"]],
    ["@yearly", ["2027-01-01T00:00:00.000Z", "2028-01-01T00:00:00.000Z"]],
    ["*/20 * * * *", ["2026-01-05T00:20:00.000Z", "2026-01-05T00:40:00.000Z"]],
    ["5-7 3 * * *", ["2026-01-05T03:05:00.000Z", "2026-01-05T03:06:00.000Z"]],
    ["0 1-9/4 * * *", ["2026-01-05T01:00:00.000Z", "2026-01-05T05:00:00.000Z"]],
    ["0 0 * * MON-FRI", ["2026-01-06T00:00:00.000Z", "2026-01-07T00:00:00.000Z"]],
    ["30 2 1,15 JAN,JUL ?", ["2026-01-15T02:30:00.000Z", "2026-07-01T02:30:00.000Z"]],
    ["0 0 * * 7", ["2026-01-11T00:00:00.000Z", "2026-01-18T00:00:00.000Z"]],
    // Day of month and day of week both restricted: either matches (Vixie cron, robfig/cron).
    ["0 0 13 * 5", ["2026-01-09T00:00:00.000Z", "2026-01-13T00:00:00.000Z"]],
  ])("%s fires as Kubernetes would (UTC)", (schedule, expected) => {
    expect(cronProblem(schedule)).toBeUndefined();
    expect(iso(nextScheduledTimes(schedule, undefined, at("2026-01-05T00:00:00Z"), 2))).toEqual(expected);
  });

  it("honours the time zone across daylight saving time", () => {
    // 09:00 in Berlin is 08:00Z in winter (CET) and 07:00Z after the change on 2026-03-29 (CEST).
    expect(iso(nextScheduledTimes("0 9 * * *", "Europe/Berlin", at("2026-03-27T12:00:00Z"), 3))).toEqual([
      "2026-03-28T08:00:00.000Z",
      "2026-03-29T07:00:00.000Z",
      "2026-03-30T07:00:00.000Z",
    ]);
    expect(iso(nextScheduledTimes("0 9 * * *", "America/New_York", at("2026-11-01T00:00:00Z"), 2))).toEqual([
      "2026-11-01T14:00:00.000Z",
      "2026-11-02T14:00:00.000Z",
    ]);
  });

  it("finds the newest scheduled time in a window, or none", () => {
    expect(lastScheduledTime("*/15 * * * *", undefined, at("2026-01-05T00:10:00Z"), at("2026-01-05T00:31:00Z"))?.toISOString()).toBe(
      "2026-01-05T00:30:00.000Z",
    );
    expect(lastScheduledTime("*/15 * * * *", undefined, at("2026-01-05T00:30:00Z"), at("2026-01-05T00:44:59Z"))).toBeUndefined();
    // The end of the window is included.
    expect(lastScheduledTime("0 * * * *", undefined, at("2026-01-05T00:30:00Z"), at("2026-01-05T01:00:00Z"))?.toISOString()).toBe("2026-01-05T01:00:00.000Z");
    expect(lastScheduledTime("0 9 * * *", "Europe/Berlin", at("2026-07-01T06:00:00Z"), at("2026-07-01T07:00:30Z"))?.toISOString()).toBe(
      "2026-07-01T07:00:00.000Z",
    );
  });

  it.each([
    ["* * * *", /has 4 fields/],
    ["* * * * * *", /has 6 fields/],
    ["61 * * * *", /61/],
    ["0 25 * * *", /25/],
    ["0 0 L * *", /not a cron item/],
    ["0 0 * * 5#2", /not a cron item/],
    ["0 0 15W * *", /not a cron item/],
    ["@every 1h", /not a supported macro/],
    ["@reboot", /not a supported macro/],
    ["0 0 * FOO *", /not a cron item/],
  ])("rejects %s", (schedule, message) => {
    expect(cronProblem(schedule)).toMatch(message);
  });

  it("rejects unknown time zones and accepts IANA names", () => {
    expect(timeZoneProblem("Europe/Berlin")).toBeUndefined();
    expect(timeZoneProblem("UTC")).toBeUndefined();
    expect(timeZoneProblem("Mars/Olympus_Mons")).toMatch(/unknown time zone "Mars\/Olympus_Mons"/);
    expect(cronProblem("0 0 * * *", "Mars/Olympus_Mons")).toMatch(/unknown time zone/);
  });

  it("an invalid schedule or time zone makes the cluster spec Invalid, naming the field", () => {
    const parent = (schedule: string, timeZone?: string) => ({
      apiVersion: "metamysql.dev/v1alpha1" as const,
      kind: "MySQLCluster" as const,
      metadata: { name: "shop", namespace: "ns" },
      spec: {
        flavor: "mariadb",
        backups: { schedules: [{ name: "nightly", schedule, ...(timeZone ? { timeZone } : {}), storage: { persistentVolumeClaim: { claimName: "b" } } }] },
      },
    });
    const bad = parseCluster(parent("0 0 31 2 L"));
    expect(bad.ok).toBe(false);
    if (!bad.ok) expect(bad.issues[0]?.path).toBe("spec.backups.schedules[0].schedule");
    const badTz = parseCluster(parent("0 0 * * *", "Nowhere/Land"));
    expect(badTz.ok).toBe(false);
    if (!badTz.ok) expect(badTz.issues).toEqual([{ path: "spec.backups.schedules[0].timeZone", message: expect.stringMatching(/unknown time zone/) }]);
    expect(parseCluster(parent("0 3 * * *", "Asia/Tokyo")).ok).toBe(true);
  });
});
