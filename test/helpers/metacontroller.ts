/**
 * Builders of Metacontroller-shaped requests (v4.x CompositeController), as recorded from its
 * wire format: children/related keyed by `Kind.version` / `Kind.group/version`, then by `name`
 * (hook v1) or `namespace/name` (hook v2); children as the API server returns them.
 */
import { LAST_APPLIED_ANNOTATION } from "../../src/api/unchanged.js";

export type Obj = { apiVersion: string; kind: string; metadata: { name: string; [k: string]: unknown }; [k: string]: unknown };

export const CHILD_TYPES = [
  "Secret.v1",
  "ConfigMap.v1",
  "Service.v1",
  "StatefulSet.apps/v1",
  "EndpointSlice.discovery.k8s.io/v1",
  "PodDisruptionBudget.policy/v1",
  "NetworkPolicy.networking.k8s.io/v1",
];

/** `Kind.version` for core types, `Kind.group/version` otherwise. */
/**
 * The children a new cluster `c` (no backups configured) renders, in order: the contract's names
 * (ARCHITECTURE.md) plus the backup account's Secret. One list for every test that checks it.
 */
export function newClusterChildren(c: string): string[] {
  return [
    `Secret/${c}-credentials`,
    `Secret/${c}-backup-credentials`,
    `Secret/${c}-apps-credentials`,
    `Secret/${c}-agent-credentials`,
    `Secret/${c}-applied-credentials-0`,
    `ConfigMap/${c}-config`,
    `Service/${c}-instances`,
    `Service/${c}`,
    `Service/${c}-ro`,
    `EndpointSlice/${c}-ro`,
    `StatefulSet/${c}`,
    `PodDisruptionBudget/${c}`,
    `NetworkPolicy/${c}`,
  ];
}

export function typeKey(obj: { apiVersion: string; kind: string }): string {
  return `${obj.kind}.${obj.apiVersion}`;
}

export function clusterObject(name: string, spec: unknown, extra: { status?: unknown; namespace?: string; generation?: number } = {}): Obj {
  return {
    apiVersion: "metamysql.dev/v1alpha1",
    kind: "MySQLCluster",
    metadata: {
      name,
      namespace: extra.namespace ?? "shop-ns",
      uid: "9a1c1f1e-0000-4000-8000-000000000001",
      generation: extra.generation ?? 1,
      resourceVersion: "1000",
      creationTimestamp: "2026-11-01T10:00:00Z",
      finalizers: ["metacontroller.io/compositecontroller-metamysql-mysqlcluster"],
    },
    spec,
    ...(extra.status !== undefined ? { status: extra.status } : {}),
  };
}

/** A child as the API server would return it after Metacontroller applied `desired`. */
export function asObserved(desired: Obj, parent: Obj, index: number): Obj {
  const obj = structuredClone(desired);
  const meta = obj.metadata as Record<string, unknown>;
  const annotations = { ...((meta["annotations"] as Record<string, string> | undefined) ?? {}), [LAST_APPLIED_ANNOTATION]: JSON.stringify(desired) };
  meta["annotations"] = annotations;
  meta["namespace"] = (parent.metadata["namespace"] as string) ?? "default";
  meta["uid"] = `00000000-0000-4000-8000-${String(index).padStart(12, "0")}`;
  meta["resourceVersion"] = String(2000 + index);
  meta["creationTimestamp"] = "2026-11-01T10:00:01Z";
  meta["ownerReferences"] = [
    { apiVersion: parent.apiVersion, kind: parent.kind, name: parent.metadata.name, uid: parent.metadata["uid"], controller: true, blockOwnerDeletion: true },
  ];
  meta["managedFields"] = [{ manager: "metacontroller", operation: "Update", apiVersion: obj.apiVersion }];
  if (obj.kind === "StatefulSet") {
    const spec = obj["spec"] as { volumeClaimTemplates?: Array<Record<string, unknown>> };
    // The API server adds status and defaults to the (immutable) claim templates.
    spec.volumeClaimTemplates = (spec.volumeClaimTemplates ?? []).map((t) => ({ ...t, status: { phase: "Pending" } }));
    obj["status"] = { replicas: 3, readyReplicas: 3, currentReplicas: 3, updatedReplicas: 3, availableReplicas: 3 };
  }
  if (obj.kind === "Service") (obj["spec"] as Record<string, unknown>)["clusterIPs"] = ["10.0.0.1"];
  return obj;
}

export interface PodOptions {
  ready?: boolean;
  ip?: string;
  terminating?: boolean;
  flavor?: string;
}

/** A pod of the StatefulSet as related resources carry it. */
export function pod(cluster: string, ordinal: number, opts: PodOptions = {}): Obj {
  const ready = opts.ready ?? true;
  return {
    apiVersion: "v1",
    kind: "Pod",
    metadata: {
      name: `${cluster}-${ordinal}`,
      namespace: "shop-ns",
      uid: `pod-uid-${ordinal}`,
      labels: {
        "app.kubernetes.io/component": "database",
        "app.kubernetes.io/instance": cluster,
        "app.kubernetes.io/managed-by": "metamysql",
        "app.kubernetes.io/name": opts.flavor ?? "mariadb",
        "statefulset.kubernetes.io/pod-name": `${cluster}-${ordinal}`,
      },
      ...(opts.terminating ? { deletionTimestamp: "2026-11-01T11:00:00Z" } : {}),
    },
    spec: { containers: [{ name: "mysql", image: "mariadb:11.4" }] },
    status: {
      phase: "Running",
      // Loopback addresses where nothing listens: probes are refused at once (no traffic leaves).
      podIP: opts.ip ?? `127.0.99.${10 + ordinal}`,
      conditions: [{ type: "Ready", status: ready ? "True" : "False" }],
    },
  };
}

function group(objs: readonly Obj[], version: "v1" | "v2", types: readonly string[]): Record<string, Record<string, Obj>> {
  const out: Record<string, Record<string, Obj>> = {};
  for (const t of types) out[t] = {};
  for (const o of objs) {
    const key = version === "v1" ? o.metadata.name : `${(o.metadata["namespace"] as string) ?? "shop-ns"}/${o.metadata.name}`;
    const t = typeKey(o);
    out[t] = { ...(out[t] ?? {}), [key]: o };
  }
  return out;
}

/** A sync/finalize request body. */
export function syncRequest(opts: {
  parent: Obj;
  children?: readonly Obj[];
  related?: readonly Obj[];
  version?: "v1" | "v2";
  finalizing?: boolean;
}): Record<string, unknown> {
  const version = opts.version ?? "v2";
  return {
    controller: {
      apiVersion: "metacontroller.k8s.io/v1alpha1",
      kind: "CompositeController",
      metadata: { name: "metamysql-mysqlcluster" },
      spec: { parentResource: { apiVersion: "metamysql.dev/v1alpha1", resource: "mysqlclusters" } },
    },
    parent: opts.parent,
    children: group(opts.children ?? [], version, CHILD_TYPES),
    related: group(opts.related ?? [], version, ["Pod.v1"]),
    finalizing: opts.finalizing ?? false,
  };
}
