/**
 * The CronJob controller of the local runtime: creates a Job from `spec.jobTemplate` at the
 * schedule's times (src/api/cron.ts, cron-parser: 5 fields or a macro, in `spec.timeZone` or
 * UTC, daylight saving time included; a time missed while the runtime was busy runs once, at the
 * newest missed time, like Kubernetes), or at once on `trigger` (`metamysql local trigger CRONJOB`);
 * honours `suspend` and `concurrencyPolicy: Forbid`, records lastScheduleTime and
 * lastSuccessfulTime, and deletes finished Jobs beyond the history limits.
 */
import { cronProblem, lastScheduledTime } from "../../api/cron.js";
import { controllerOf, namespaceOf, numberField, recordField, rfc3339, stringField, type KObject } from "../apiserver/objects.js";
import type { ObjectStore } from "../apiserver/store.js";

/** Something a CronJob did. */
export interface CronJobEvent {
  cronJob: string;
  reason: string;
  message: string;
}

/** Runs CronJobs. */
export class CronJobController {
  private timer: NodeJS.Timeout | undefined;
  /** Times up to this one were already considered. */
  private checkedUpTo: Date | undefined;
  private readonly onEvent: (ev: CronJobEvent) => void;
  private unwatch: (() => void) | undefined;
  /** Unparseable schedules already reported (one event each). */
  private readonly reported = new Set<string>();

  constructor(
    private readonly store: ObjectStore,
    onEvent?: (ev: CronJobEvent) => void,
  ) {
    this.onEvent = onEvent ?? (() => undefined);
  }

  start(): void {
    this.timer = setInterval(() => this.syncAt(new Date()), 5_000);
    this.unwatch = this.store.watch((ev) => {
      if (ev.object.kind === "Job" && ev.type === "MODIFIED") this.onJobChange(ev.object);
    });
  }

  async stop(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    this.unwatch?.();
  }

  /** Creates a Job of the CronJob now (like `kubectl create job --from=cronjob/NAME`). */
  trigger(namespace: string, name: string): KObject {
    const cj = this.store.get("batch/v1", "CronJob", namespace, name);
    if (!cj) throw new Error(`cronjob ${namespace}/${name} not found`);
    return this.createJob(cj, new Date(), "manual");
  }

  /** One pass of the controller at `now` (every 5 s once started): creates the Jobs now due. */
  syncAt(now: Date): void {
    const since = this.checkedUpTo ?? now;
    this.checkedUpTo = now;
    for (const cj of this.store.list({ apiVersion: "batch/v1", kind: "CronJob" })) {
      if (recordField(cj, "spec").suspend === true) continue;
      const schedule = stringField(cj, "spec", "schedule") ?? "";
      const timeZone = stringField(cj, "spec", "timeZone");
      const problem = cronProblem(schedule, timeZone);
      if (problem) {
        if (!this.reported.has(`${cj.metadata.uid ?? ""}/${schedule}`)) {
          this.reported.add(`${cj.metadata.uid ?? ""}/${schedule}`);
          this.onEvent({ cronJob: cj.metadata.name, reason: "UnparseableSchedule", message: problem });
        }
        continue;
      }
      const lastScheduled = Date.parse(stringField(cj, "status", "lastScheduleTime") ?? "");
      const after = Number.isFinite(lastScheduled) && lastScheduled > since.getTime() ? new Date(lastScheduled) : since;
      const at = lastScheduledTime(schedule, timeZone, after, now);
      if (!at) continue;
      if (stringField(cj, "spec", "concurrencyPolicy") !== "Allow" && this.activeJobs(cj).length > 0) continue;
      this.createJob(cj, at, "scheduled");
    }
  }

  private jobsOf(cj: KObject): KObject[] {
    return this.store.list({ apiVersion: "batch/v1", kind: "Job", namespace: namespaceOf(cj) }).filter((j) => controllerOf(j)?.uid === cj.metadata.uid);
  }

  private activeJobs(cj: KObject): KObject[] {
    return this.jobsOf(cj).filter((j) => !numberField(j, "status", "succeeded") && !numberField(j, "status", "failed"));
  }

  private createJob(cj: KObject, at: Date, why: string): KObject {
    const template = recordField(cj, "spec", "jobTemplate");
    const existing = this.jobsOf(cj).map((j) => j.metadata.name);
    let n = Math.floor(at.getTime() / 60_000);
    while (existing.includes(`${cj.metadata.name}-${n}`)) n++;
    const job = this.store.create({
      apiVersion: "batch/v1",
      kind: "Job",
      metadata: {
        name: `${cj.metadata.name}-${n}`,
        namespace: namespaceOf(cj),
        labels: { ...((recordField(template, "metadata").labels as Record<string, string> | undefined) ?? {}) },
        annotations: { "batch.kubernetes.io/cronjob-scheduled-timestamp": rfc3339(at) },
        ownerReferences: [
          { apiVersion: "batch/v1", kind: "CronJob", name: cj.metadata.name, uid: cj.metadata.uid ?? "", controller: true, blockOwnerDeletion: true },
        ],
      },
      spec: recordField(template, "spec"),
    });
    this.setStatus(cj, { lastScheduleTime: rfc3339(at) });
    this.onEvent({ cronJob: cj.metadata.name, reason: "SuccessfulCreate", message: `${why}: created job ${job.metadata.name}` });
    return job;
  }

  private setStatus(cj: KObject, patch: Record<string, unknown>): void {
    const current = this.store.get("batch/v1", "CronJob", namespaceOf(cj), cj.metadata.name);
    if (!current) return;
    current.status = { ...recordField(current, "status"), ...patch };
    delete current.metadata.resourceVersion;
    this.store.updateStatus(current);
  }

  private onJobChange(job: KObject): void {
    const owner = controllerOf(job);
    if (owner?.kind !== "CronJob") return;
    const cj = this.store.get("batch/v1", "CronJob", namespaceOf(job), owner.name);
    if (!cj || cj.metadata.uid !== owner.uid) return;
    if (numberField(job, "status", "succeeded")) this.setStatus(cj, { lastSuccessfulTime: stringField(job, "status", "completionTime") ?? rfc3339() });
    // History limits: keep the newest N succeeded and M failed Jobs.
    const finished = this.jobsOf(cj).sort(
      (a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? "") || a.metadata.name.localeCompare(b.metadata.name),
    );
    const prune = (list: KObject[], limit: number): void => {
      for (const j of list.slice(0, Math.max(0, list.length - limit))) this.store.delete(j.apiVersion, j.kind, namespaceOf(j), j.metadata.name);
    };
    prune(
      finished.filter((j) => numberField(j, "status", "succeeded")),
      numberField(cj, "spec", "successfulJobsHistoryLimit") ?? 3,
    );
    prune(
      finished.filter((j) => numberField(j, "status", "failed")),
      numberField(cj, "spec", "failedJobsHistoryLimit") ?? 1,
    );
  }
}
