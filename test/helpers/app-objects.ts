/**
 * Builders of MySQLDatabase / MySQLUser requests (docs/app-objects.md): the parents, the
 * related MySQLCluster with a current primary, its pods and the Secrets, in Metacontroller's
 * wire format (test/helpers/metacontroller.ts).
 */
import { clusterObject, pod, syncRequest, type Obj } from "./metacontroller.js";

export const NS = "shop-ns";

export function secret(
  name: string,
  data: Record<string, string>,
  extra: { uid?: string; resourceVersion?: string; labels?: Record<string, string> } = {},
): Obj {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: {
      name,
      namespace: NS,
      uid: extra.uid ?? `uid-${name}`,
      resourceVersion: extra.resourceVersion ?? "1",
      ...(extra.labels ? { labels: extra.labels } : {}),
    },
    data: Object.fromEntries(Object.entries(data).map(([k, v]) => [k, Buffer.from(v, "utf8").toString("base64")])),
  };
}

/** A running cluster `c` whose status names `primary`. */
export function runningCluster(c: string, primary: string | undefined, spec: Record<string, unknown> = { flavor: "mariadb", instances: 2 }): Obj {
  return clusterObject(c, spec, { status: { state: primary ? "Healthy" : "Initializing", ...(primary ? { currentPrimary: primary } : {}) } });
}

export function databaseObject(name: string, spec: Record<string, unknown>, extra: { status?: unknown; uid?: string; deleting?: boolean } = {}): Obj {
  return {
    apiVersion: "metamysql.dev/v1alpha1",
    kind: "MySQLDatabase",
    metadata: {
      name,
      namespace: NS,
      uid: extra.uid ?? `db-uid-${name}`,
      generation: 1,
      ...(extra.deleting ? { deletionTimestamp: "2026-11-04T11:00:00Z" } : {}),
    },
    spec,
    ...(extra.status !== undefined ? { status: extra.status } : {}),
  };
}

export function userObject(name: string, spec: Record<string, unknown>, extra: { status?: unknown; uid?: string; deleting?: boolean } = {}): Obj {
  return {
    apiVersion: "metamysql.dev/v1alpha1",
    kind: "MySQLUser",
    metadata: {
      name,
      namespace: NS,
      uid: extra.uid ?? `user-uid-${name}`,
      generation: 1,
      ...(extra.deleting ? { deletionTimestamp: "2026-11-04T11:00:00Z" } : {}),
    },
    spec,
    ...(extra.status !== undefined ? { status: extra.status } : {}),
  };
}

/** The related objects of a cluster `c` with pods at `ips` (ordinal -> IP) and its apps-credentials Secret. */
export function clusterRelated(c: string, primary: string | undefined, ips: Record<number, string>, appsPassword: string): Obj[] {
  return [
    runningCluster(c, primary),
    ...Object.entries(ips).map(([o, ip]) => pod(c, Number(o), { ip })),
    secret(`${c}-apps-credentials`, { password: appsPassword }),
  ];
}

export function body(parent: Obj, related: readonly Obj[], opts: { children?: readonly Obj[]; finalizing?: boolean } = {}): Record<string, unknown> {
  return syncRequest({ parent, related, ...(opts.children ? { children: opts.children } : {}), ...(opts.finalizing ? { finalizing: true } : {}) });
}
