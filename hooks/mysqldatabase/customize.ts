/**
 * POST /hooks/mysqldatabase/customize: the MySQLCluster, its database pods and its credentials
 * Secret (docs/app-objects.md). Depends on the spec only (Metacontroller caches it per generation).
 */
import type { CustomizeResponse } from "../../src/api/metacontroller.js";
import { appRelatedResources, clusterNameOf, parseAppCustomize } from "../shared/app-objects.js";
import type { HookContext } from "../shared/context.js";
import { DATABASE_KIND } from "./request.js";

/** Handles a customize request body. */
export async function customizeMySQLDatabase(body: unknown, _ctx: HookContext): Promise<CustomizeResponse> {
  const parent = parseAppCustomize(body, DATABASE_KIND);
  return appRelatedResources(parent.metadata.namespace, clusterNameOf(parent.spec), []);
}
