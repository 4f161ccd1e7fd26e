/**
 * The final backup on delete (`spec.backups.onDelete`, docs/backups.md "Final backup on
 * delete"), decided purely from what finalize observed: the cluster, its final-backup Job (a
 * child), that Job's pods and the database pods. The StatefulSet is kept until the backup
 * completed. A failed final backup blocks deletion (no silent data loss) and says how to
 * proceed: retry by deleting the Job, or skip with the annotation.
 */
import type { Cluster } from "../api/cluster.js";
import type { Child, KubeObject, Pod } from "../api/k8s.js";
import { buildFinalBackupJob, finalBackupJobName, finalBackupPath, finalBackupStorage } from "./cluster-children.js";
import { backupLocation } from "../api/backup.js";
import { jobOutcome, podsOfJob, type BackupMeta } from "./job-result.js";
import { backupPrimary, backupSources } from "./sources.js";

/** Annotation on the MySQLCluster: "true" deletes it without (another attempt at) a final backup. */
export const ANNOTATION_SKIP_FINAL_BACKUP = "metamysql.dev/skip-final-backup";

/** What finalize does about the final backup. */
export type FinalBackupStep =
  /** Not configured, skipped by annotation, or nothing left to back up: tear down. */
  | { state: "none"; message?: string }
  /** Job rendered or running: keep the StatefulSet, wait. */
  | { state: "running"; job: Child | undefined; message: string }
  /** Completed: tear down (the Job is kept until finalized). `meta` is the backup's result. */
  | { state: "completed"; message: string; meta: BackupMeta }
  /** Failed: block deletion, say how to proceed. */
  | { state: "failed"; message: string };

/** Input of `finalBackupStep`. */
export interface FinalBackupInput {
  cluster: Cluster;
  annotations: Record<string, string> | null | undefined;
  deletionTimestamp: string | null | undefined;
  /** Observed children of the cluster. */
  children: readonly KubeObject[];
  /** Database pods of the cluster. */
  pods: readonly Pod[];
  /** Pods of the cluster's backup Jobs. */
  backupPods: readonly Pod[];
}

/** Decides the final-backup part of finalize. */
export function finalBackupStep(input: FinalBackupInput): FinalBackupStep {
  const { cluster } = input;
  const storage = finalBackupStorage(cluster);
  if (!cluster.spec.backups?.onDelete || !storage) return { state: "none" };
  const name = finalBackupJobName(cluster.name);
  const path = finalBackupPath(cluster.name, input.deletionTimestamp ?? undefined);
  const where = backupLocation(storage, path);
  const job = input.children.find((c) => c.kind === "Job" && c.metadata.name === name);
  if (!job) {
    if (input.annotations?.[ANNOTATION_SKIP_FINAL_BACKUP] === "true")
      return { state: "none", message: `final backup skipped (annotation ${ANNOTATION_SKIP_FINAL_BACKUP})` };
    const hasSts = input.children.some((c) => c.kind === "StatefulSet");
    if (!hasSts) return { state: "none", message: "no StatefulSet left: nothing to back up" };
    const src = { sources: backupSources(cluster.name, cluster.status, input.pods), primary: backupPrimary(cluster.status, input.pods) };
    return { state: "running", job: buildFinalBackupJob(cluster, src, input.deletionTimestamp ?? undefined), message: `taking the final backup to ${where}` };
  }
  const outcome = jobOutcome(job, podsOfJob(name, input.backupPods));
  if (outcome.state === "Running") return { state: "running", job: undefined, message: `taking the final backup to ${where}` };
  if (outcome.state === "Completed") return { state: "completed", message: `final backup completed: ${where}`, meta: outcome.meta };
  if (input.annotations?.[ANNOTATION_SKIP_FINAL_BACKUP] === "true")
    return { state: "none", message: `final backup failed (${outcome.message}); skipped (annotation ${ANNOTATION_SKIP_FINAL_BACKUP})` };
  return {
    state: "failed",
    message:
      `final backup failed: ${outcome.message}. Deletion is blocked so that the data is not lost without a backup; ` +
      `to retry, delete Job ${name}; to delete without a final backup, ` +
      `kubectl annotate mysqlcluster ${cluster.name} ${ANNOTATION_SKIP_FINAL_BACKUP}=true`,
  };
}
