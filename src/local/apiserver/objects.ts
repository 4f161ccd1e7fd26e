/**
 * Generic Kubernetes object helpers for the local runtime (ARCHITECTURE.md section 6):
 * keys, group/version parsing, label selectors and deep copies. No I/O.
 */

/** Any Kubernetes object as the local API server stores it (plain JSON). */
export interface KObject {
  apiVersion: string;
  kind: string;
  metadata: ObjectMeta;
  [field: string]: unknown;
}

/** The ObjectMeta fields the runtime reads or writes. */
export interface ObjectMeta {
  name: string;
  namespace?: string;
  uid?: string;
  resourceVersion?: string;
  generation?: number;
  creationTimestamp?: string;
  deletionTimestamp?: string;
  deletionGracePeriodSeconds?: number;
  labels?: Record<string, string>;
  annotations?: Record<string, string>;
  finalizers?: string[];
  ownerReferences?: OwnerReference[];
  [field: string]: unknown;
}

/** metadata.ownerReferences[] entry. */
export interface OwnerReference {
  apiVersion: string;
  kind: string;
  name: string;
  uid: string;
  controller?: boolean;
  blockOwnerDeletion?: boolean;
}

/** A Kubernetes LabelSelector (matchLabels and matchExpressions). */
export interface LabelSelector {
  matchLabels?: Record<string, string> | null;
  matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> | null;
}

/** The namespace an object lives in ("default" when unset, like the API server). */
export function namespaceOf(obj: { metadata: { namespace?: string | undefined } }): string {
  return obj.metadata.namespace || "default";
}

/** Group of an apiVersion ("" for the core group). */
export function groupOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? "" : apiVersion.slice(0, slash);
}

/** Version of an apiVersion ("v1" for "apps/v1"). */
export function versionOf(apiVersion: string): string {
  const slash = apiVersion.indexOf("/");
  return slash < 0 ? apiVersion : apiVersion.slice(slash + 1);
}

/** Identity of a type, independent of the version: "apps/StatefulSet", "/Pod". */
export function typeKey(apiVersion: string, kind: string): string {
  return `${groupOf(apiVersion)}/${kind}`;
}

/** Store key of an object: "group/Kind/namespace/name". */
export function objectKey(apiVersion: string, kind: string, namespace: string, name: string): string {
  return `${typeKey(apiVersion, kind)}/${namespace}/${name}`;
}

/** Store key of an object. */
export function keyOf(obj: KObject): string {
  return objectKey(obj.apiVersion, obj.kind, namespaceOf(obj), obj.metadata.name);
}

/**
 * Metacontroller's map key for a type: `Kind.version` for the core group, `Kind.group/version`
 * otherwise (metacontroller-notes.md).
 */
export function metacontrollerGroupKey(apiVersion: string, kind: string): string {
  return `${kind}.${apiVersion}`;
}

/** A JSON deep copy (objects in the store are plain JSON). */
export function clone<T>(value: T): T {
  return value === undefined ? value : (JSON.parse(JSON.stringify(value)) as T);
}

/** Structural equality of JSON values (key order ignored, undefined fields ignored). */
export function deepEqual(a: unknown, b: unknown): boolean {
  if (a === b) return true;
  if (a === null || b === null || typeof a !== "object" || typeof b !== "object") return false;
  if (Array.isArray(a) !== Array.isArray(b)) return false;
  if (Array.isArray(a) && Array.isArray(b)) {
    return a.length === b.length && a.every((v, i) => deepEqual(v, b[i]));
  }
  const ra = a as Record<string, unknown>;
  const rb = b as Record<string, unknown>;
  const ka = Object.keys(ra).filter((k) => ra[k] !== undefined);
  const kb = Object.keys(rb).filter((k) => rb[k] !== undefined);
  if (ka.length !== kb.length) return false;
  return ka.every((k) => Object.prototype.hasOwnProperty.call(rb, k) && deepEqual(ra[k], rb[k]));
}

/** True when `labels` satisfy `selector`. An empty selector matches everything (like the API). */
export function matchesSelector(labels: Record<string, string> | undefined, selector: LabelSelector): boolean {
  const have = labels ?? {};
  for (const [k, v] of Object.entries(selector.matchLabels ?? {})) {
    if (have[k] !== v) return false;
  }
  for (const expr of selector.matchExpressions ?? []) {
    const value = have[expr.key];
    const values = expr.values ?? [];
    switch (expr.operator) {
      case "In":
        if (value === undefined || !values.includes(value)) return false;
        break;
      case "NotIn":
        if (value !== undefined && values.includes(value)) return false;
        break;
      case "Exists":
        if (value === undefined) return false;
        break;
      case "DoesNotExist":
        if (value !== undefined) return false;
        break;
      default:
        return false;
    }
  }
  return true;
}

/** True for a plain JSON object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** Reads a nested field (`get(obj, "spec", "template")`), or undefined. */
export function field(obj: unknown, ...path: Array<string | number>): unknown {
  let cur: unknown = obj;
  for (const p of path) {
    if (typeof p === "number") {
      if (!Array.isArray(cur)) return undefined;
      cur = cur[p];
    } else {
      if (!isRecord(cur)) return undefined;
      cur = cur[p];
    }
  }
  return cur;
}

/** A record field, or an empty record. */
export function recordField(obj: unknown, ...path: string[]): Record<string, unknown> {
  const v = field(obj, ...path);
  return isRecord(v) ? v : {};
}

/** An array field, or an empty array. */
export function arrayField(obj: unknown, ...path: string[]): unknown[] {
  const v = field(obj, ...path);
  return Array.isArray(v) ? v : [];
}

/** A string field, or undefined. */
export function stringField(obj: unknown, ...path: string[]): string | undefined {
  const v = field(obj, ...path);
  return typeof v === "string" ? v : undefined;
}

/** A number field, or undefined. */
export function numberField(obj: unknown, ...path: string[]): number | undefined {
  const v = field(obj, ...path);
  return typeof v === "number" && Number.isFinite(v) ? v : undefined;
}

/** Kinds of the resources (plural names) a CompositeController manifest may name. */
export const RESOURCE_KINDS: Readonly<Record<string, string>> = {
  pods: "Pod",
  secrets: "Secret",
  configmaps: "ConfigMap",
  services: "Service",
  endpointslices: "EndpointSlice",
  statefulsets: "StatefulSet",
  deployments: "Deployment",
  poddisruptionbudgets: "PodDisruptionBudget",
  networkpolicies: "NetworkPolicy",
  persistentvolumeclaims: "PersistentVolumeClaim",
  jobs: "Job",
  cronjobs: "CronJob",
  serviceaccounts: "ServiceAccount",
  roles: "Role",
  rolebindings: "RoleBinding",
  mysqlclusters: "MySQLCluster",
  mysqlbackups: "MySQLBackup",
};

/** Kind of a resource plural, or an error naming it. */
export function kindOfResource(resource: string): string {
  const kind = RESOURCE_KINDS[resource];
  if (!kind) throw new Error(`local runtime: unknown resource "${resource}" (known: ${Object.keys(RESOURCE_KINDS).join(", ")})`);
  return kind;
}

/** The controller ownerReference of an object, if any. */
export function controllerOf(obj: KObject): OwnerReference | undefined {
  return (obj.metadata.ownerReferences ?? []).find((r) => r.controller === true);
}

/** RFC 3339 timestamp with second precision, like the API server writes. */
export function rfc3339(date: Date = new Date()): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
