/**
 * The local CronJob controller (src/local/controllers/cronjob.ts): schedules in a time zone, macros, a missed
 * time run once at the newest missed time, suspend and Forbid, like Kubernetes. No timers: the
 * test drives the controller's passes with explicit times.
 */
import { describe, expect, it } from "vitest";
import { CronJobController, type CronJobEvent } from "../../src/local/controllers/cronjob.js";
import type { KObject } from "../../src/local/apiserver/objects.js";
import { ObjectStore } from "../../src/local/apiserver/store.js";

function setup(spec: Record<string, unknown>): { store: ObjectStore; cron: CronJobController; events: CronJobEvent[]; jobs: () => KObject[] } {
  const store = new ObjectStore();
  const events: CronJobEvent[] = [];
  const cron = new CronJobController(store, (e) => events.push(e));
  store.create({
    apiVersion: "batch/v1",
    kind: "CronJob",
    metadata: { name: "shop-backup-nightly", namespace: "default" },
    spec: { jobTemplate: { metadata: { labels: { a: "b" } }, spec: { template: { spec: { containers: [] } } } }, ...spec },
  });
  const jobs = () => store.list({ apiVersion: "batch/v1", kind: "Job" });
  return { store, cron, events, jobs };
}

const scheduled = (j: KObject) => j.metadata.annotations?.["batch.kubernetes.io/cronjob-scheduled-timestamp"];

describe("local CronJob controller", () => {
  it("fires at 09:00 in the schedule's time zone, across a daylight saving change", () => {
    const { cron, jobs } = setup({ schedule: "0 9 * * *", timeZone: "Europe/Berlin", concurrencyPolicy: "Allow" });
    // Passes every 20 minutes from Saturday 2026-03-28 06:00Z to Sunday 2026-03-29 09:00Z.
    for (let t = Date.parse("2026-03-28T06:00:00Z"); t <= Date.parse("2026-03-29T09:00:00Z"); t += 1_200_000) cron.syncAt(new Date(t));
    expect(jobs().map(scheduled)).toEqual(["2026-03-28T08:00:00Z", "2026-03-29T07:00:00Z"]);
  });

  it("runs a missed time once, at the newest missed time, and names the Job by its minute", () => {
    const { cron, jobs } = setup({ schedule: "*/10 * * * *" });
    cron.syncAt(new Date("2026-01-05T00:01:00Z"));
    cron.syncAt(new Date("2026-01-05T00:35:00Z")); // 00:10, 00:20 and 00:30 were due: one Job, for 00:30
    expect(jobs().map((j) => [j.metadata.name, scheduled(j)])).toEqual([
      [`shop-backup-nightly-${Date.parse("2026-01-05T00:30:00Z") / 60_000}`, "2026-01-05T00:30:00Z"],
    ]);
  });

  it("honours suspend, Forbid and macros", () => {
    const suspended = setup({ schedule: "@hourly", suspend: true });
    suspended.cron.syncAt(new Date("2026-01-05T00:59:00Z"));
    suspended.cron.syncAt(new Date("2026-01-05T01:01:00Z"));
    expect(suspended.jobs()).toEqual([]);
    const forbid = setup({ schedule: "@hourly", concurrencyPolicy: "Forbid" });
    forbid.cron.syncAt(new Date("2026-01-05T00:59:00Z"));
    forbid.cron.syncAt(new Date("2026-01-05T01:01:00Z"));
    forbid.cron.syncAt(new Date("2026-01-05T02:01:00Z")); // the 01:00 Job is still running
    expect(forbid.jobs().map(scheduled)).toEqual(["2026-01-05T01:00:00Z"]);
  });

  it("reports an unparseable schedule once and creates nothing", () => {
    const { cron, jobs, events } = setup({ schedule: "0 0 L * *" });
    cron.syncAt(new Date("2026-01-05T00:00:00Z"));
    cron.syncAt(new Date("2026-02-05T00:00:00Z"));
    expect(jobs()).toEqual([]);
    expect(events.filter((e) => e.reason === "UnparseableSchedule")).toHaveLength(1);
  });
});
