/**
 * `status.backups` of a MySQLCluster and its `BackupHealthy` condition (docs/backups.md
 * "Schedules"), derived purely from what the sync observed: the pods of the schedules' Jobs (the
 * CronJobs' Jobs are not children, their pods are related resources), whose termination messages
 * hold the backup script's result, and the previous status. Never from the clock: the same
 * observation gives the same status.
 *
 * Job pods are garbage-collected with their Jobs (history limits 3/3), and status is replaced on
 * every sync, so what the previous status says about a schedule is carried over when none of its
 * pods is observed any more, and kept when it is newer than what is observed. Entries of schedules
 * no longer in the spec are dropped.
 */
import {
  backupLocation,
  type BackupSchedule,
  type BackupStorage,
  type ClusterBackupsStatus,
  type CompletedBackupStatus,
  type FailedBackupStatus,
  type LastSuccessfulBackup,
  type ScheduleBackupStatus,
} from "../api/backup.js";
import type { Cluster } from "../api/cluster.js";
import type { ConditionInput } from "../api/conditions.js";
import { CONDITION_BACKUP_HEALTHY, LABEL_INSTANCE, REASON } from "../api/constants.js";
import type { Pod } from "../api/k8s.js";
import { LABEL_SCHEDULE, scheduleCronJobName } from "./cluster-children.js";
import { LABEL_BACKUP } from "./job.js";
import { jobNameOf, podsOutcome, type PodRunOutcome } from "./job-result.js";

/** One observed run (Job) of a schedule. */
export interface ScheduleRun {
  schedule: string;
  job: string;
  outcome: PodRunOutcome;
  /** Location of a completed run's backup. */
  location: string | undefined;
}

/** The run's position in time: its pod's start, then the CronJob's numeric suffix, then the name. */
interface Ordered {
  job: string;
  startedAt?: string | undefined;
}

function timeOf(t: string | undefined): number {
  const n = t === undefined ? Number.NaN : Date.parse(t);
  return Number.isFinite(n) ? n : Number.NEGATIVE_INFINITY;
}

/** A CronJob names its Jobs `<cronjob>-<scheduled minute>`; manual runs may have any name. */
function jobSequence(job: string): number {
  const m = /-(\d+)$/.exec(job);
  return m ? Number(m[1]) : -1;
}

/** Negative when `a` ran before `b`. */
export function compareRuns(a: Ordered, b: Ordered): number {
  const ta = timeOf(a.startedAt);
  const tb = timeOf(b.startedAt);
  if (ta !== tb) return ta < tb ? -1 : 1;
  const sa = jobSequence(a.job);
  const sb = jobSequence(b.job);
  if (sa !== sb) return sa < sb ? -1 : 1;
  return a.job < b.job ? -1 : a.job > b.job ? 1 : 0;
}

function newest<T extends Ordered>(items: ReadonlyArray<T | undefined>): T | undefined {
  let best: T | undefined;
  for (const item of items) if (item && (!best || compareRuns(best, item) < 0)) best = item;
  return best;
}

/** Which schedule a backup pod ran for, if any (the schedule label; the CronJob's Job name for older pods). */
export function scheduleOfPod(clusterName: string, schedules: readonly BackupSchedule[], pod: Pod): string | undefined {
  const labels = pod.metadata.labels ?? {};
  if (labels[LABEL_INSTANCE] !== undefined && labels[LABEL_INSTANCE] !== clusterName) return undefined;
  const byLabel = labels[LABEL_SCHEDULE];
  if (byLabel !== undefined) return schedules.some((s) => s.name === byLabel) ? byLabel : undefined;
  // Pods of Jobs created before the schedule label existed: the CronJob's label and Job name
  // `<cronjob>-<digits>` (a MySQLBackup's Job is `<backup>-backup`).
  const job = jobNameOf(pod) ?? "";
  const s = schedules.find((x) => {
    const cronJob = scheduleCronJobName(clusterName, x.name);
    return labels[LABEL_BACKUP] === cronJob && job.startsWith(`${cronJob}-`) && /^\d+$/.test(job.slice(cronJob.length + 1));
  });
  return s?.name;
}

type Env = Array<{ name?: unknown; value?: unknown }>;

/** The storage a backup pod wrote to, read from its spec (env and volumes), if recognizable. */
function storageOfPod(pod: Pod): BackupStorage | undefined {
  const spec = (pod.spec ?? {}) as {
    containers?: Array<{ env?: Env }>;
    initContainers?: Array<{ env?: Env }>;
    volumes?: Array<{ name?: unknown; persistentVolumeClaim?: { claimName?: unknown } }>;
  };
  const env = new Map<string, string>();
  for (const c of [...(spec.initContainers ?? []), ...(spec.containers ?? [])]) {
    for (const e of c.env ?? []) if (typeof e.name === "string" && typeof e.value === "string" && !env.has(e.name)) env.set(e.name, e.value);
  }
  const kind = env.get("METAMYSQL_STORAGE");
  if (kind === "s3") {
    const bucket = env.get("METAMYSQL_S3_BUCKET");
    if (!bucket) return undefined;
    const prefix = env.get("METAMYSQL_S3_PREFIX");
    return { s3: { bucket, ...(prefix ? { prefix } : {}), credentialsSecretName: "" } };
  }
  if (kind === "pvc") {
    const claim = (spec.volumes ?? []).find((v) => v.name === "backup")?.persistentVolumeClaim?.claimName;
    return typeof claim === "string" ? { persistentVolumeClaim: { claimName: claim } } : undefined;
  }
  return undefined;
}

/** The observed runs of the cluster's schedules, oldest first (deterministic for any pod order). */
export function observedScheduleRuns(cluster: Cluster, backupPods: readonly Pod[]): ScheduleRun[] {
  const schedules = cluster.spec.backups?.schedules ?? [];
  const byJob = new Map<string, { schedule: string; pods: Pod[] }>();
  for (const pod of backupPods) {
    const schedule = scheduleOfPod(cluster.name, schedules, pod);
    if (schedule === undefined) continue;
    const job = jobNameOf(pod) ?? pod.metadata.name;
    const key = `${schedule}\u0000${job}`;
    const entry = byJob.get(key) ?? { schedule, pods: [] };
    entry.pods.push(pod);
    byJob.set(key, entry);
  }
  const runs: ScheduleRun[] = [];
  for (const [key, { schedule, pods }] of byJob) {
    const job = key.slice(schedule.length + 1);
    const sorted = [...pods].sort((a, b) => (a.metadata.name < b.metadata.name ? -1 : a.metadata.name > b.metadata.name ? 1 : 0));
    const outcome = podsOutcome(sorted);
    let location: string | undefined;
    if (outcome.state === "Completed" && outcome.meta.path) {
      const storage = sorted.map(storageOfPod).find((s) => s !== undefined) ?? schedules.find((s) => s.name === schedule)?.storage;
      location = storage ? backupLocation(storage, outcome.meta.path) : undefined;
    }
    runs.push({ schedule, job, outcome, location });
  }
  return runs.sort(
    (a, b) =>
      compareRuns({ job: a.job, startedAt: a.outcome.startedAt }, { job: b.job, startedAt: b.outcome.startedAt }) ||
      (a.schedule < b.schedule ? -1 : a.schedule > b.schedule ? 1 : 0),
  );
}

function completedOf(run: ScheduleRun): CompletedBackupStatus | undefined {
  if (run.outcome.state !== "Completed") return undefined;
  const m = run.outcome.meta;
  const completedAt = m.completedAt ?? run.outcome.finishedAt;
  return {
    job: run.job,
    location: run.location ?? m.path ?? "",
    ...(m.path ? { path: m.path } : {}),
    ...(run.outcome.startedAt ? { startedAt: run.outcome.startedAt } : {}),
    ...(completedAt ? { completedAt } : {}),
    ...(m.sizeBytes !== undefined && Number.isSafeInteger(m.sizeBytes) ? { sizeBytes: m.sizeBytes } : {}),
    ...(m.gtidPosition ? { gtidPosition: m.gtidPosition } : {}),
    ...(m.sourceInstance ? { sourceInstance: m.sourceInstance } : {}),
  };
}

function failureOf(run: ScheduleRun): FailedBackupStatus | undefined {
  if (run.outcome.state !== "Failed") return undefined;
  return { job: run.job, ...(run.outcome.startedAt ? { startedAt: run.outcome.startedAt } : {}), message: run.outcome.message };
}

/** One schedule's entry from its observed runs and its previous entry. */
function scheduleEntry(name: string, runs: readonly ScheduleRun[], previous: ScheduleBackupStatus | undefined): ScheduleBackupStatus | undefined {
  if (runs.length === 0) return previous;
  const observed = runs.map((r) => ({ job: r.job, startedAt: r.outcome.startedAt, state: r.outcome.state }));
  // The previous newest run stays the newest only if it is newer than everything observed (its
  // pods were deleted while older ones remain).
  const previousRun =
    previous && !runs.some((r) => r.job === previous.job) ? { job: previous.job, startedAt: previous.startedAt, state: previous.state } : undefined;
  const last = newest([...observed, previousRun]);
  if (!last) return previous;
  const lastCompleted = newest([...runs.map(completedOf), previous?.lastCompleted]);
  const failure = newest([...runs.map(failureOf), previous?.lastFailure]);
  // A failure is reported until a run that started after it completed.
  const lastFailure = failure && (!lastCompleted || compareRuns(lastCompleted, failure) < 0) ? failure : undefined;
  return {
    name,
    state: last.state,
    job: last.job,
    ...(last.startedAt ? { startedAt: last.startedAt } : {}),
    ...(lastCompleted ? { lastCompleted } : {}),
    ...(lastFailure ? { lastFailure } : {}),
  };
}

/** What `deriveBackupsStatus` needs. */
export interface BackupsStatusInput {
  /** The cluster with its spec and previous status. */
  cluster: Cluster;
  /** Related pods of the cluster's backup Jobs. */
  backupPods: readonly Pod[];
}

/**
 * `status.backups`: per schedule (spec order) the newest run's state, the newest completed run
 * and the newest failure not followed by a completion; and the newest completed scheduled backup
 * of the cluster. Undefined when there is nothing to report.
 */
export function deriveBackupsStatus(input: BackupsStatusInput): ClusterBackupsStatus | undefined {
  const { cluster } = input;
  const schedules = cluster.spec.backups?.schedules ?? [];
  const previous = cluster.status.backups;
  const runs = observedScheduleRuns(cluster, input.backupPods);
  const entries: ScheduleBackupStatus[] = [];
  for (const s of schedules) {
    const entry = scheduleEntry(
      s.name,
      runs.filter((r) => r.schedule === s.name),
      previous?.schedules?.find((p) => p.name === s.name),
    );
    if (entry) entries.push(entry);
  }
  let lastSuccessful: LastSuccessfulBackup | undefined;
  for (const e of entries) {
    const c = e.lastCompleted;
    if (!c?.completedAt) continue;
    if (!lastSuccessful || timeOf(c.completedAt) > timeOf(lastSuccessful.completedAt)) {
      lastSuccessful = { schedule: e.name, completedAt: c.completedAt, location: c.location, ...(c.sizeBytes !== undefined ? { sizeBytes: c.sizeBytes } : {}) };
    }
  }
  // A backup is a fact about the past: a newer one reported before (by a schedule since removed)
  // stays the cluster's last successful backup.
  const before = previous?.lastSuccessfulBackup;
  if (before && (!lastSuccessful || timeOf(before.completedAt) > timeOf(lastSuccessful.completedAt))) lastSuccessful = before;
  if (entries.length === 0 && !lastSuccessful) return undefined;
  return {
    ...(entries.length > 0 ? { schedules: entries } : {}),
    ...(lastSuccessful ? { lastSuccessfulBackup: lastSuccessful } : {}),
  };
}

/**
 * The `BackupHealthy` condition, only when schedules are configured; independent of Ready.
 * False when the newest finished run of a schedule failed (a retry that is still Running does not
 * clear it), True when the newest finished run of every schedule completed, Unknown while a
 * schedule that is not suspended has not completed a run yet.
 */
export function backupHealthCondition(cluster: Cluster, backups: ClusterBackupsStatus | undefined): ConditionInput | undefined {
  const schedules = cluster.spec.backups?.schedules ?? [];
  if (schedules.length === 0) return undefined;
  const entryOf = (name: string) => backups?.schedules?.find((e) => e.name === name);
  const failures = schedules.flatMap((s) => {
    const f = entryOf(s.name)?.lastFailure;
    return f ? [`schedule ${s.name}: ${f.message} (Job ${f.job})`] : [];
  });
  if (failures.length > 0) return { type: CONDITION_BACKUP_HEALTHY, status: "False", reason: REASON.BackupFailed, message: failures.join("; ") };
  // A suspended schedule that never completed a run is not waited for.
  const waiting = schedules.filter((s) => !entryOf(s.name)?.lastCompleted && !s.suspend).map((s) => s.name);
  if (waiting.length > 0 || !schedules.some((s) => entryOf(s.name)?.lastCompleted)) {
    const which = waiting.length > 0 ? `schedule ${waiting.join(", ")}` : "any schedule";
    return { type: CONDITION_BACKUP_HEALTHY, status: "Unknown", reason: REASON.NoBackupYet, message: `no run of ${which} has completed yet` };
  }
  return { type: CONDITION_BACKUP_HEALTHY, status: "True", reason: REASON.BackupsCompleted, message: "the newest finished run of every schedule completed" };
}
