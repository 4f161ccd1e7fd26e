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

/** `spec.credentialsSecretName` of a spec that is invalid elsewhere, if that field alone is valid. */
function secretNameOfInvalidSpec(raw: unknown): string | undefined {
  const field = MySQLClusterSpecSchema.shape.credentialsSecretName.safeParse(
    typeof raw === "object" && raw !== null && !Array.isArray(raw) ? (raw as Record<string, unknown>)["credentialsSecretName"] : undefined,
  );
  return field.success ? field.data : undefined;
}

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
  // An invalid spec still gets its pods, and what a cluster running on its last valid spec may
  // need (docs/clustering.md "Invalid spec"): the backup Jobs' pods (a final backup on delete) and
  // the credentials Secret if the spec still names one validly.
  const spec = MySQLClusterSpecSchema.safeParse(parent.spec ?? {});
  const secretName = spec.success ? spec.data.credentialsSecretName : secretNameOfInvalidSpec(parent.spec);
  if (secretName) {
    related.push({ apiVersion: "v1", resource: "secrets", namespace, names: [secretName] });
  }
  // The pods of the cluster's backup Jobs (schedules, final backup): their termination messages
  // hold the results (docs/backups.md). Only for clusters with backups configured, or whose spec
  // cannot say.
  const backups = spec.success ? spec.data.backups : undefined;
  if (!spec.success || (backups && (backups.schedules.length > 0 || backups.onDelete))) {
    related.push({
      apiVersion: "v1",
      resource: "pods",
      namespace,
      labelSelector: { matchLabels: { [LABEL_COMPONENT]: COMPONENT_BACKUP, [LABEL_INSTANCE]: parent.metadata.name, [LABEL_MANAGED_BY]: MANAGED_BY } },
    });
  }
  return { relatedResources: related };
}
