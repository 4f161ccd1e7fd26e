/**
 * POST /hooks/mysqlbackup/finalize (docs/backups.md): deleting a MySQLBackup keeps the stored
 * backup (deletionPolicy Retain, the default). With deletionPolicy Delete and a completed
 * backup, a removal Job deletes it first; `finalized` only after that Job succeeded. The removal
 * Job mounts the MySQLBackup's own script ConfigMap (rendered here with the current scripts), so
 * it runs even when the cluster and its `<c>-config` are gone.
 */
import { MySQLBackupSpecSchema, MySQLBackupStatusSchema, reservedBackupName } from "../../src/api/backup.js";
import { imageFor, MySQLClusterSpecSchema } from "../../src/api/cluster.js";
import type { SyncResponse } from "../../src/api/metacontroller.js";
import { backupScriptConfigMapName, buildBackupJob, buildBackupScriptConfigMap } from "../../src/backup/job.js";
import { podsOfJob, removalKeptMessage } from "../../src/backup/job-result.js";
import { childNames } from "../../src/api/names.js";
import { unchangedChild } from "../../src/api/unchanged.js";
import type { HookContext } from "../shared/context.js";
import { parseBackupSync } from "./request.js";
import { backupLabels, backupPath, BACKUP_RESYNC_SECONDS } from "./sync.js";

/** Handles a finalize request body. */
export async function finalizeMySQLBackup(body: unknown, _ctx: HookContext): Promise<SyncResponse> {
  const parsed = parseBackupSync(body);
  const status = MySQLBackupStatusSchema.safeParse(parsed.parent.status ?? {});
  const prev = status.success ? status.data : {};
  const spec = MySQLBackupSpecSchema.safeParse(parsed.parent.spec ?? {});
  const finalizing = parsed.request.finalizing;
  // A reserved name (refused by the CRD and by sync) never deletes storage: its folder would be
  // the cluster's scheduled or final backups, even if an older operator completed it.
  const reserved = reservedBackupName(parsed.parent.metadata.name) !== undefined;
  if (reserved || !spec.success || spec.data.deletionPolicy !== "Delete" || prev.state !== "Completed") {
    return { status: prev, children: [], finalized: finalizing };
  }
  const name = parsed.parent.metadata.name;
  const jobName = `${name}-remove`;
  const job = parsed.children.find((c) => c.kind === "Job" && c.metadata.name === jobName);
  const jobStatus = (job as { status?: { succeeded?: number; failed?: number } } | undefined)?.status;
  if (jobStatus?.succeeded) {
    const kept = removalKeptMessage(podsOfJob(jobName, parsed.pods));
    return { status: { ...prev, message: kept ?? "stored backup deleted" }, children: [], finalized: finalizing };
  }
  // The script ConfigMap the removal Job mounts: kept as it is once the Job exists.
  const scriptName = backupScriptConfigMapName(name);
  const observedScripts = parsed.children.find((c) => c.kind === "ConfigMap" && c.metadata.name === scriptName);
  const scripts = observedScripts ? [unchangedChild(observedScripts)] : [];
  if (jobStatus?.failed)
    return {
      status: { ...prev, message: "deleting the stored backup failed; delete the Job to retry" },
      children: [...scripts, unchangedChild(job!)],
      finalized: false,
    };
  if (job)
    return {
      status: { ...prev, message: "deleting the stored backup" },
      children: [...scripts, unchangedChild(job)],
      resyncAfterSeconds: BACKUP_RESYNC_SECONDS,
      finalized: false,
    };
  const clusterSpec = MySQLClusterSpecSchema.safeParse((parsed.cluster as { spec?: unknown } | undefined)?.spec ?? {});
  const flavor = clusterSpec.success ? clusterSpec.data.flavor : "mariadb";
  const labels = backupLabels(spec.data.clusterName, name);
  const configMap = buildBackupScriptConfigMap({ name: scriptName, labels, flavor });
  const remove = buildBackupJob({
    name: jobName,
    labels,
    clusterName: spec.data.clusterName,
    // Recorded when the backup Job was created; none (an older operator's backup): the removal
    // Job keeps the stored backup (it cannot tell whose it is).
    clusterUID: prev.clusterUID,
    flavor,
    image: clusterSpec.success ? imageFor(clusterSpec.data) : "docker.io/library/mariadb:11.4",
    backupSecret: childNames(spec.data.clusterName).backupSecret,
    sources: [],
    storage: spec.data.storage,
    compression: spec.data.compression,
    target: { path: backupPath(spec.data.clusterName, name) },
    mode: "remove",
    scriptConfigMap: scriptName,
  });
  return {
    status: { ...prev, message: "deleting the stored backup" },
    children: [configMap, remove],
    resyncAfterSeconds: BACKUP_RESYNC_SECONDS,
    finalized: false,
  };
}
