/**
 * POST /hooks/mysqlcluster/sync: parse -> observe -> decide -> act -> respond.
 * ARCHITECTURE.md section 4. An invalid spec answers 200 with `state: Invalid` and the observed
 * children unchanged; anything unexpected throws and becomes a 500 (never a partial list).
 */
import { parseCluster } from "../../src/api/parse.js";
import type { Cluster } from "../../src/api/cluster.js";
import type { KubeObject } from "../../src/api/k8s.js";
import type { SyncResponse } from "../../src/api/metacontroller.js";
import { resolveGeneratedCredentials } from "../../src/render/credentials.js";
import { childNames } from "../../src/render/labels.js";
import { findObserved, renderChildren } from "../../src/render/children.js";
import { unchangedChild } from "../../src/render/unchanged.js";
import { forbiddenChanges } from "../../src/render/validate.js";
import { SecretSchema } from "../../src/api/k8s.js";
import type { HookContext } from "../context.js";
import { parseSyncRequest, type ParsedSync } from "./request.js";
import { initializingStatus, invalidStatus } from "./status.js";
import type { SpecIssue } from "../../src/api/parse.js";
import { MySQLClusterStatusSchema } from "../../src/api/cluster.js";

/** The response for an invalid spec: every observed child as it was, status Invalid. */
export function invalidResponse(parsed: ParsedSync, issues: SpecIssue[], now: Date): SyncResponse {
  const previous = MySQLClusterStatusSchema.safeParse(parsed.parent.status ?? {});
  return {
    status: invalidStatus(parsed.parent.status, issues, previous.success ? previous.data.conditions : undefined, now),
    children: parsed.children.map(unchangedChild),
  };
}

function observedSecret(cluster: Cluster, children: readonly KubeObject[]) {
  const obj = findObserved(children, "Secret", childNames(cluster.name).secret);
  const parsed = obj ? SecretSchema.safeParse(obj) : undefined;
  return parsed?.success ? parsed.data : undefined;
}

/** Handles a sync request body; returns the Metacontroller response. */
export async function syncMySQLCluster(body: unknown, ctx: HookContext): Promise<SyncResponse> {
  const parsed = parseSyncRequest(body);
  const now = ctx.now();
  const cluster = parseCluster(parsed.parent);
  if (!cluster.ok) return invalidResponse(parsed, cluster.issues, now);
  const c = cluster.cluster;
  const sts = findObserved(parsed.children, "StatefulSet", childNames(c.name).statefulSet);
  const forbidden = forbiddenChanges(c, sts);
  if (forbidden.length > 0) return invalidResponse(parsed, forbidden, now);

  const credentials = resolveGeneratedCredentials(observedSecret(c, parsed.children), ctx.generatePassword);
  const rendered = renderChildren({
    cluster: c,
    observed: parsed.children,
    credentials,
    primary: undefined,
    readOnlyEndpoints: [],
  });
  if (!rendered.ok) return invalidResponse(parsed, [rendered.failure], now);

  const status = initializingStatus(c, parsed.pods, now);
  return { status, children: rendered.children };
}
