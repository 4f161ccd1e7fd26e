/**
 * POST /hooks/mysqlcluster/customize: the related resources of a cluster: its pods (selected by
 * the pod labels, which depend only on name and flavor), the pods of its backup Jobs and the
 * user's credentials Secret.
 * Metacontroller caches the answer per parent generation, so it depends on the spec only.
 */
import { MySQLClusterSpecSchema } from "../../src/api/cluster.js";
import { COMPONENT_BACKUP, COMPONENT_DATABASE, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY } from "../../src/api/constants.js";
import type { CustomizeResponse } from "../../src/api/metacontroller.js";
import type { HookContext } from "../shared/context.js";
import { parseCustomizeRequest } from "./request.js";

/** Handles a customize request body. */
export async function customizeMySQLCluster(body: unknown, _ctx: HookContext): Promise<CustomizeResponse> {
  const { parent } = parseCustomizeRequest(body);
  const namespace = parent.metadata.namespace;
  const related: CustomizeResponse["relatedResources"] = [
    {
      apiVersion: "v1",
      resource: "pods",
      namespace,
      labelSelector: {
        matchLabels: {
          [LABEL_COMPONENT]: COMPONENT_DATABASE,
          [LABEL_INSTANCE]: parent.metadata.name,
          [LABEL_MANAGED_BY]: MANAGED_BY,
        },
      },
    },
  ];
  // An invalid spec still gets its pods (the sync reports the problem); only a valid Secret
  // reference adds the Secret.
  const spec = MySQLClusterSpecSchema.safeParse(parent.spec ?? {});
  if (spec.success && spec.data.credentialsSecretName) {
    related.push({ apiVersion: "v1", resource: "secrets", namespace, names: [spec.data.credentialsSecretName] });
  }
  // The pods of the cluster's backup Jobs (schedules, final backup): their termination messages
  // hold the results (docs/backups.md). Only for clusters with backups configured.
  const backups = spec.success ? spec.data.backups : undefined;
  if (backups && (backups.schedules.length > 0 || backups.onDelete)) {
    related.push({
      apiVersion: "v1",
      resource: "pods",
      namespace,
      labelSelector: { matchLabels: { [LABEL_COMPONENT]: COMPONENT_BACKUP, [LABEL_INSTANCE]: parent.metadata.name, [LABEL_MANAGED_BY]: MANAGED_BY } },
    });
  }
  return { relatedResources: related };
}
