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

const TerminatedSchema = z.looseObject({ exitCode: z.number().optional(), message: z.string().optional() });
const ContainerStatusSchema = z.looseObject({ name: z.string(), state: z.looseObject({ terminated: TerminatedSchema.optional() }).optional() });
const PodStatusSchema = z.looseObject({
  phase: z.string().optional(),
  initContainerStatuses: z.array(ContainerStatusSchema).nullable().optional(),
  containerStatuses: z.array(ContainerStatusSchema).nullable().optional(),
});
const JobStatusSchema = z.looseObject({
  active: z.number().optional(),
  succeeded: z.number().optional(),
  failed: z.number().optional(),
  startTime: z.string().optional(),
  completionTime: z.string().optional(),
  conditions: z.array(z.looseObject({ type: z.string(), status: z.string(), message: z.string().optional(), reason: z.string().optional() })).nullable().optional(),
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

/** Results found in the pods of a Job, failed containers first. */
function podResults(pods: readonly Pod[]): { failed?: string; completed?: BackupMeta } {
  const out: { failed?: string; completed?: BackupMeta } = {};
  for (const pod of pods) {
    const status = PodStatusSchema.safeParse(pod.status ?? {});
    if (!status.success) continue;
    for (const cs of [...(status.data.initContainerStatuses ?? []), ...(status.data.containerStatuses ?? [])]) {
      const term = cs.state?.terminated;
      if (!term) continue;
      const result = parseResult(term.message);
      if (term.exitCode !== 0) {
        out.failed ??= result?.message ?? (term.message ? term.message.trim().split("\n").slice(-3).join(" ") : `container ${cs.name} exited with ${term.exitCode}`);
      } else if (result?.state === "Completed" && result.meta) {
        out.completed = result.meta;
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
