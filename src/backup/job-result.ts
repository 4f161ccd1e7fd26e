/**
 * Reading what a backup Job did (docs/backups.md), purely from observed objects: the Job's
 * status (active / succeeded / failed) and the termination messages of its pods, where the
 * backup script writes its JSON result. A Job that succeeded without a readable `Completed`
 * result is not reported Completed: a half-written backup is never reported as done.
 */
import { z } from "zod";
import type { KubeObject, Pod } from "../api/k8s.js";

const MetaSchema = z.looseObject({
  path: z.string().optional(),
  flavor: z.string().optional(),
  serverVersion: z.string().optional(),
  gtidPosition: z.string().optional(),
  sourceInstance: z.string().optional(),
  sizeBytes: z.number().optional(),
  sha256: z.string().optional(),
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
});
export type BackupMeta = z.infer<typeof MetaSchema>;

const ResultSchema = z.looseObject({ state: z.string(), message: z.string().optional(), meta: MetaSchema.optional() });

const TerminatedSchema = z.looseObject({ exitCode: z.number().optional(), message: z.string().optional(), finishedAt: z.string().nullable().optional() });
const ContainerStatusSchema = z.looseObject({ name: z.string(), state: z.looseObject({ terminated: TerminatedSchema.optional() }).optional() });
const PodStatusSchema = z.looseObject({
  phase: z.string().optional(),
  reason: z.string().optional(),
  message: z.string().optional(),
  startTime: z.string().nullable().optional(),
  initContainerStatuses: z.array(ContainerStatusSchema).nullable().optional(),
  containerStatuses: z.array(ContainerStatusSchema).nullable().optional(),
});
const JobStatusSchema = z.looseObject({
  active: z.number().optional(),
  succeeded: z.number().optional(),
  failed: z.number().optional(),
  startTime: z.string().optional(),
  completionTime: z.string().optional(),
  conditions: z
    .array(z.looseObject({ type: z.string(), status: z.string(), message: z.string().optional(), reason: z.string().optional() }))
    .nullable()
    .optional(),
});

/** The outcome of a backup Job. */
export type JobOutcome =
  | { state: "Running"; startedAt: string | undefined }
  | { state: "Completed"; meta: BackupMeta; startedAt: string | undefined }
  | { state: "Failed"; message: string; startedAt: string | undefined };

function parseResult(text: string | undefined): z.infer<typeof ResultSchema> | undefined {
  if (!text) return undefined;
  try {
    const parsed = ResultSchema.safeParse(JSON.parse(text));
    return parsed.success ? parsed.data : undefined;
  } catch {
    return undefined;
  }
}

/** What the pods of a Job reported: a failure, or a completed backup (and when its container ended). */
interface PodResults {
  failed?: string;
  completed?: BackupMeta;
  completedFinishedAt?: string;
}

/** Results found in the pods of a Job, failed containers first. */
function podResults(pods: readonly Pod[]): PodResults {
  const out: PodResults = {};
  for (const pod of pods) {
    const status = PodStatusSchema.safeParse(pod.status ?? {});
    if (!status.success) continue;
    for (const cs of [...(status.data.initContainerStatuses ?? []), ...(status.data.containerStatuses ?? [])]) {
      const term = cs.state?.terminated;
      if (!term) continue;
      const result = parseResult(term.message);
      if (term.exitCode !== 0) {
        out.failed ??=
          result?.message ?? (term.message ? term.message.trim().split("\n").slice(-3).join(" ") : `container ${cs.name} exited with ${term.exitCode}`);
      } else if (result?.state === "Completed" && result.meta) {
        out.completed = result.meta;
        out.completedFinishedAt = term.finishedAt ?? undefined;
      }
    }
  }
  return out;
}

/** The outcome of `job` given its pods. */
export function jobOutcome(job: KubeObject, pods: readonly Pod[]): JobOutcome {
  const parsed = JobStatusSchema.safeParse((job as { status?: unknown }).status ?? {});
  const status = parsed.success ? parsed.data : {};
  const startedAt = status.startTime;
  const results = podResults(pods);
  const failedCondition = (status.conditions ?? []).find((c) => c.type === "Failed" && c.status === "True");
  const completeCondition = (status.conditions ?? []).find((c) => c.type === "Complete" && c.status === "True");
  if ((status.failed ?? 0) > 0 || failedCondition) {
    return { state: "Failed", message: results.failed ?? failedCondition?.message ?? "the backup Job failed", startedAt };
  }
  if ((status.succeeded ?? 0) > 0 || completeCondition) {
    if (results.completed) return { state: "Completed", meta: results.completed, startedAt };
    return { state: "Failed", message: "the backup Job succeeded but reported no completed backup; not using it", startedAt };
  }
  return { state: "Running", startedAt };
}

/** Pods of a Job (by the job-name label Kubernetes sets). */
export function podsOfJob(jobName: string, pods: readonly Pod[]): Pod[] {
  return pods.filter((p) => p.metadata.labels?.["batch.kubernetes.io/job-name"] === jobName || p.metadata.labels?.["job-name"] === jobName);
}

/** The outcome of one run read from its pods alone (a CronJob's Jobs are not observed, their pods are). */
export type PodRunOutcome =
  | { state: "Running"; startedAt: string | undefined }
  | { state: "Completed"; meta: BackupMeta; startedAt: string | undefined; finishedAt: string | undefined }
  | { state: "Failed"; message: string; startedAt: string | undefined };

/** When a pod started: status.startTime, else its creation (a pod still Pending). */
export function podStartedAt(pod: Pod): string | undefined {
  const status = PodStatusSchema.safeParse(pod.status ?? {});
  return (status.success ? status.data.startTime : undefined) ?? pod.metadata.creationTimestamp ?? undefined;
}

/**
 * The outcome of a run whose Job is not observed, from the pods of that Job (`backoffLimit: 0`:
 * one failed pod fails the run). A failed container, or a pod that failed without one (evicted),
 * is Failed; a Completed result is Completed; a pod that succeeded without one is Failed, as in
 * `jobOutcome`; otherwise Running.
 */
export function podsOutcome(pods: readonly Pod[]): PodRunOutcome {
  const starts = pods
    .map(podStartedAt)
    .filter((t): t is string => t !== undefined)
    .sort();
  const startedAt = starts[0];
  const results = podResults(pods);
  if (results.failed !== undefined) return { state: "Failed", message: results.failed, startedAt };
  if (results.completed) return { state: "Completed", meta: results.completed, startedAt, finishedAt: results.completedFinishedAt };
  const phases = pods.map((p) => PodStatusSchema.safeParse(p.status ?? {})).map((r) => (r.success ? r.data : {}));
  const failed = phases.find((p) => p.phase === "Failed");
  if (failed)
    return { state: "Failed", message: failed.message ?? (failed.reason ? `the backup pod failed: ${failed.reason}` : "the backup pod failed"), startedAt };
  if (phases.some((p) => p.phase === "Succeeded"))
    return { state: "Failed", message: "the backup Job succeeded but reported no completed backup; not using it", startedAt };
  return { state: "Running", startedAt };
}

/** Name of the Job a pod belongs to: the job-name labels Kubernetes sets, else its owner. */
export function jobNameOf(pod: Pod): string | undefined {
  const labels = pod.metadata.labels ?? {};
  const byLabel = labels["batch.kubernetes.io/job-name"] ?? labels["job-name"];
  if (byLabel) return byLabel;
  const owners = (pod.metadata as { ownerReferences?: unknown }).ownerReferences;
  if (!Array.isArray(owners)) return undefined;
  const job = owners.find(
    (o): o is { kind: string; name: string } =>
      typeof o === "object" && o !== null && (o as { kind?: unknown }).kind === "Job" && typeof (o as { name?: unknown }).name === "string",
  );
  return job?.name;
}

/**
 * What a finished removal Job (deletionPolicy Delete) reported when it left the stored backup in
 * place (state `Kept`: its meta.json names another cluster's uid), else undefined.
 */
export function removalKeptMessage(pods: readonly Pod[]): string | undefined {
  for (const pod of pods) {
    const status = PodStatusSchema.safeParse(pod.status ?? {});
    if (!status.success) continue;
    for (const cs of status.data.containerStatuses ?? []) {
      const result = parseResult(cs.state?.terminated?.message);
      if (result?.state === "Kept") return result.message ?? "the stored backup was kept";
    }
  }
  return undefined;
}
