/**
 * Pods of a schedule's Jobs as Kubernetes reports them: built from a rendered CronJob's Job
 * template (its labels, env and volumes), with the labels and owner the Job controller adds and
 * the termination messages the backup script writes (src/backup/scripts/backup.sh).
 */
import type { Obj } from "./metacontroller.js";

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

export type RunResult = "completed" | "failed" | "running" | "evicted" | "succeeded-without-result";

export interface RunPodOptions {
  /** When the run's pod started; also names the Job `<cronjob>-<minute>` as the CronJob controller does. */
  start: string;
  result: RunResult;
  /** Failure message of the script (result "failed"). */
  message?: string;
  sizeBytes?: number;
  /** Job name (a manual `kubectl create job --from=cronjob/...` run). */
  job?: string;
  /** Drop this label (a pod created before the label existed). */
  withoutLabel?: string;
  namespace?: string;
}

/** `start` plus `seconds`, RFC 3339 at second precision. */
export function plusSeconds(start: string, seconds: number): string {
  return new Date(Date.parse(start) + seconds * 1000).toISOString().replace(/\.\d{3}Z$/, "Z");
}

/** `20261102T020000Z`, as the script names a run's folder. */
export function compactTime(start: string): string {
  return start.replace(/[-:]/g, "");
}

/** The Job name the CronJob controller gives a run scheduled at `start`. */
export function cronJobRunName(cronJob: AnyObj, start: string): string {
  return `${cronJob.metadata.name}-${Math.floor(Date.parse(start) / 60000)}`;
}

/** One pod of a run of `cronJob`. */
export function runPod(cronJob: AnyObj, o: RunPodOptions): Obj {
  const template = structuredClone(cronJob.spec.jobTemplate.spec.template) as AnyObj;
  const job = o.job ?? cronJobRunName(cronJob, o.start);
  const labels: Record<string, string> = {
    ...template.metadata.labels,
    "batch.kubernetes.io/job-name": job,
    "job-name": job,
    "batch.kubernetes.io/controller-uid": `uid-${job}`,
  };
  if (o.withoutLabel) delete labels[o.withoutLabel];
  const env = new Map<string, string>();
  for (const c of [...(template.spec.initContainers ?? []), ...template.spec.containers])
    for (const e of c.env ?? []) if (typeof e.value === "string") env.set(e.name, e.value);
  const s3 = env.get("METAMYSQL_STORAGE") === "s3";
  const path = `${env.get("METAMYSQL_BACKUP_DIR") ?? "x"}/${compactTime(o.start)}`;
  const meta = {
    format: 1,
    cluster: env.get("METAMYSQL_CLUSTER"),
    clusterUID: env.get("METAMYSQL_CLUSTER_UID") ?? "",
    path,
    flavor: env.get("METAMYSQL_FLAVOR"),
    serverVersion: "11.4.3-MariaDB",
    majorVersion: "11.4",
    gtidPosition: "0-100-42",
    sourceInstance: "shop-1",
    sourceRole: "replica",
    compression: "gzip",
    file: "dump.sql.gz",
    sizeBytes: o.sizeBytes ?? 1234,
    sha256: "a".repeat(64),
    startedAt: plusSeconds(o.start, 2),
    completedAt: plusSeconds(o.start, 40),
  };
  const terminated = (exitCode: number, result: unknown, seconds: number) => ({
    state: {
      terminated: { exitCode, reason: exitCode === 0 ? "Completed" : "Error", message: JSON.stringify(result), finishedAt: plusSeconds(o.start, seconds) },
    },
  });
  const main = s3 ? "upload" : "dump";
  let status: AnyObj;
  switch (o.result) {
    case "completed":
      status = {
        phase: "Succeeded",
        ...(s3
          ? {
              initContainerStatuses: [
                { name: "preflight", ...terminated(0, { state: "Running" }, 3) },
                { name: "dump", ...terminated(0, { state: "Running", message: "dumped; uploading" }, 30) },
              ],
            }
          : {}),
        containerStatuses: [{ name: main, ...terminated(0, { state: "Completed", meta }, 41) }],
      };
      break;
    case "failed":
      status = {
        phase: "Failed",
        containerStatuses: [{ name: main, ...terminated(1, { state: "Failed", message: o.message ?? "dump of shop-1 failed: Lost connection" }, 20) }],
      };
      break;
    case "running":
      status = { phase: "Running", containerStatuses: [{ name: main, state: { running: { startedAt: o.start } } }] };
      break;
    case "evicted":
      status = { phase: "Failed", reason: "Evicted", message: "The node was low on resource: ephemeral-storage." };
      break;
    case "succeeded-without-result":
      status = {
        phase: "Succeeded",
        containerStatuses: [{ name: main, state: { terminated: { exitCode: 0, reason: "Completed", finishedAt: plusSeconds(o.start, 30) } } }],
      };
      break;
  }
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `${job}-${compactTime(o.start).slice(9, 13)}x`,
      namespace: o.namespace ?? "shop-ns",
      uid: `pod-uid-${job}`,
      labels,
      creationTimestamp: o.start,
      ownerReferences: [{ apiVersion: "batch/v1", kind: "Job", name: job, uid: `uid-${job}`, controller: true, blockOwnerDeletion: true }],
    },
    spec: template.spec,
    status: { ...status, startTime: o.start },
  };
}
