/**
 * POST /hooks/mysqluser/customize: the MySQLCluster, its database pods, its credentials Secret
 * and the user's password Secret (docs/app-objects.md). Depends on the spec only.
 */
import type { CustomizeResponse } from "../../src/api/metacontroller.js";
import { MySQLUserSpecSchema } from "../../src/api/user.js";
import { appRelatedResources, clusterNameOf, parseAppCustomize } from "../shared/app-objects.js";
import type { HookContext } from "../shared/context.js";
import { USER_KIND } from "./request.js";

/** `spec.passwordSecretKeyRef.name` if that field alone is valid. */
function passwordSecretOf(spec: unknown): string[] {
  const raw = typeof spec === "object" && spec !== null ? (spec as Record<string, unknown>)["passwordSecretKeyRef"] : undefined;
  const ref = MySQLUserSpecSchema.shape.passwordSecretKeyRef.safeParse(raw);
  return ref.success ? [ref.data.name] : [];
}

/** Handles a customize request body. */
export async function customizeMySQLUser(body: unknown, _ctx: HookContext): Promise<CustomizeResponse> {
  const parent = parseAppCustomize(body, USER_KIND);
  return appRelatedResources(parent.metadata.namespace, clusterNameOf(parent.spec), passwordSecretOf(parent.spec));
}
