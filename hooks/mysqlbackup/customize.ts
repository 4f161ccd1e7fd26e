/**
 * POST /hooks/mysqlbackup/customize: a backup needs its MySQLCluster (status: roles), the
 * cluster's database pods (IPs) and the pods of its own Jobs (their termination messages carry
 * the result). Depends on the spec only, as Metacontroller caches it per generation.
 */
import { MySQLBackupSpecSchema } from "../../src/api/backup.js";
import { API_VERSION, COMPONENT_DATABASE, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY, CLUSTER_PLURAL } from "../../src/api/constants.js";
import type { CustomizeResponse } from "../../src/api/metacontroller.js";
import { LABEL_BACKUP } from "../../src/backup/job.js";
import type { HookContext } from "../shared/context.js";
import { parseBackupCustomize } from "./request.js";

/** Handles a customize request body. */
export async function customizeMySQLBackup(body: unknown, _ctx: HookContext): Promise<CustomizeResponse> {
  const parent = parseBackupCustomize(body);
  const namespace = parent.metadata.namespace;
  const related: CustomizeResponse["relatedResources"] = [
    { apiVersion: "v1", resource: "pods", namespace, labelSelector: { matchLabels: { [LABEL_BACKUP]: parent.metadata.name, [LABEL_MANAGED_BY]: MANAGED_BY } } },
  ];
  const spec = MySQLBackupSpecSchema.safeParse(parent.spec ?? {});
  if (spec.success) {
    related.push({ apiVersion: API_VERSION, resource: CLUSTER_PLURAL, namespace, names: [spec.data.clusterName] });
    related.push({
      apiVersion: "v1",
      resource: "pods",
      namespace,
      labelSelector: { matchLabels: { [LABEL_COMPONENT]: COMPONENT_DATABASE, [LABEL_INSTANCE]: spec.data.clusterName, [LABEL_MANAGED_BY]: MANAGED_BY } },
    });
  }
  return { relatedResources: related };
}
