/**
 * Which instances a backup may dump, in preference order (docs/backups.md): ready replicas
 * (caught-up is checked by the script at dump time), by ordinal; the primary only when it is
 * the cluster's only instance. Pure: from the MySQLCluster status and its pods.
 */
import { z } from "zod";
import { InstanceStatusSchema } from "../api/cluster.js";
import type { Pod } from "../api/k8s.js";
import type { BackupSource } from "./job.js";

const StatusSchema = z.looseObject({ currentPrimary: z.string().optional(), instances: z.array(InstanceStatusSchema).optional() });

/** Candidate sources of a backup of `clusterName`. */
export function backupSources(clusterName: string, clusterStatus: unknown, pods: readonly Pod[]): BackupSource[] {
  const parsed = StatusSchema.safeParse(clusterStatus ?? {});
  const status = parsed.success ? parsed.data : {};
  const ipOf = (name: string): string | undefined => pods.find((p) => p.metadata.name === name)?.status?.podIP || undefined;
  const instances = [...(status.instances ?? [])].sort((a, b) => a.ordinal - b.ordinal);
  const out: BackupSource[] = [];
  for (const i of instances) {
    const ip = ipOf(i.name);
    if (ip && i.role === "replica" && i.ready) out.push({ pod: i.name, ip });
  }
  if (out.length > 0) return out;
  const primary = status.currentPrimary;
  const ip = primary ? ipOf(primary) : undefined;
  if (primary && ip && instances.length <= 1) return [{ pod: primary, ip }];
  // No healthy replica: list the replicas anyway so the Job fails with each one's reason.
  for (const i of instances) {
    const ipi = ipOf(i.name);
    if (ipi && i.name !== primary) out.push({ pod: i.name, ip: ipi });
  }
  return out.filter((s) => s.pod.startsWith(`${clusterName}-`));
}

/** The current primary and its IP, if known. */
export function backupPrimary(clusterStatus: unknown, pods: readonly Pod[]): BackupSource | undefined {
  const parsed = StatusSchema.safeParse(clusterStatus ?? {});
  const primary = parsed.success ? parsed.data.currentPrimary : undefined;
  const ip = primary ? pods.find((p) => p.metadata.name === primary)?.status?.podIP : undefined;
  return primary && ip ? { pod: primary, ip } : undefined;
}
