/**
 * The CronJob controller of the local runtime: creates a Job from `spec.jobTemplate` when the
 * schedule (5-field cron, evaluated in UTC or `spec.timeZone`'s offset is ignored: UTC only
 * locally) matches a minute, or at once on `trigger` (`metamysql local trigger CRONJOB`);
 * honours `suspend` and `concurrencyPolicy: Forbid`, records lastScheduleTime and
 * lastSuccessfulTime, and deletes finished Jobs beyond the history limits.
 */
import { controllerOf, namespaceOf, numberField, recordField, rfc3339, stringField, type KObject } from "../apiserver/objects.js";
import type { ObjectStore } from "../apiserver/store.js";

/** Something a CronJob did. */
export interface CronJobEvent {
  cronJob: string;
  reason: string;
  message: string;
}

const MACROS: Record<string, string> = {
  "@yearly": "0 0 1 1 *",
  "@annually": "0 0 1 1 *",
  "@monthly": "0 0 1 * *",
  "@weekly": "0 0 * * 0",
  "@daily": "0 0 * * *",
  "@midnight": "0 0 * * *",
  "@hourly": "0 * * * *",
};

function fieldMatches(expr: string, value: number, min: number, max: number): boolean {
  return expr.split(",").some((part) => {
    const [range = "*", stepText] = part.split("/");
    const step = stepText ? Number(stepText) : 1;
    let lo = min;
    let hi = max;
    if (range !== "*") {
      const [a, b] = range.split("-");
      lo = Number(a);
      hi = b !== undefined ? Number(b) : stepText ? max : lo;
    }
    return value >= lo && value <= hi && (value - lo) % step === 0;
  });
}

/** True when the cron `schedule` fires at `date` (UTC, minute precision). */
export function cronMatches(schedule: string, date: Date): boolean {
  const fields = (MACROS[schedule.trim()] ?? schedule).trim().split(/\s+/);
  if (fields.length !== 5) return false;
  const [min = "*", hour = "*", dom = "*", month = "*", dow = "*"] = fields;
  return (
    fieldMatches(min, date.getUTCMinutes(), 0, 59) &&
    fieldMatches(hour, date.getUTCHours(), 0, 23) &&
    fieldMatches(dom, date.getUTCDate(), 1, 31) &&
    fieldMatches(month, date.getUTCMonth() + 1, 1, 12) &&
    fieldMatches(dow, date.getUTCDay(), 0, 7)
  );
}

/** Runs CronJobs. */
export class CronJobController {
  private timer: NodeJS.Timeout | undefined;
  private lastMinute = -1;
  private readonly onEvent: (ev: CronJobEvent) => void;
  private unwatch: (() => void) | undefined;

  constructor(
    private readonly store: ObjectStore,
    onEvent?: (ev: CronJobEvent) => void,
  ) {
    this.onEvent = onEvent ?? (() => undefined);
  }

  start(): void {
    this.timer = setInterval(() => this.tick(new Date()), 5_000);
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

  private tick(now: Date): void {
    const minute = Math.floor(now.getTime() / 60_000);
    if (minute === this.lastMinute) return;
    this.lastMinute = minute;
    for (const cj of this.store.list({ apiVersion: "batch/v1", kind: "CronJob" })) {
      if (recordField(cj, "spec").suspend === true) continue;
      if (!cronMatches(stringField(cj, "spec", "schedule") ?? "", now)) continue;
      if (stringField(cj, "spec", "concurrencyPolicy") !== "Allow" && this.activeJobs(cj).length > 0) continue;
      this.createJob(cj, now, "scheduled");
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
        ownerReferences: [{ apiVersion: "batch/v1", kind: "CronJob", name: cj.metadata.name, uid: cj.metadata.uid ?? "", controller: true, blockOwnerDeletion: true }],
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
    const finished = this.jobsOf(cj).sort((a, b) => (a.metadata.creationTimestamp ?? "").localeCompare(b.metadata.creationTimestamp ?? "") || a.metadata.name.localeCompare(b.metadata.name));
    const prune = (list: KObject[], limit: number): void => {
      for (const j of list.slice(0, Math.max(0, list.length - limit))) this.store.delete(j.apiVersion, j.kind, namespaceOf(j), j.metadata.name);
    };
    prune(finished.filter((j) => numberField(j, "status", "succeeded")), numberField(cj, "spec", "successfulJobsHistoryLimit") ?? 3);
    prune(finished.filter((j) => numberField(j, "status", "failed")), numberField(cj, "spec", "failedJobsHistoryLimit") ?? 1);
  }
}
