/**
 * Turning a parent object into a `Cluster`, with spec problems reported as field paths
 * (`spec.instances: ...`) rather than exceptions: an invalid spec is data (ARCHITECTURE.md 4).
 */
import type { z } from "zod";
import { API_VERSION } from "./constants.js";
import { MySQLClusterObjectSchema, MySQLClusterSpecSchema, MySQLClusterStatusSchema, type Cluster, type MySQLClusterObject, type MySQLClusterSpec } from "./cluster.js";
import { PodSchema, SecretSchema, type KubeObject, type Pod, type Secret } from "./k8s.js";

export interface SpecIssue {
  path: string;
  message: string;
}

/** `a.b[2].c` from a zod path. */
export function formatPath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/** Readable issues of a zod error, sorted by path. */
export function issuesOf(prefix: string, error: z.ZodError): SpecIssue[] {
  return error.issues
    .map((i) => ({ path: formatPath(prefix, i.path), message: i.message }))
    .sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export type ParsedCluster = { ok: true; cluster: Cluster } | { ok: false; issues: SpecIssue[] };

/**
 * Parses spec and status of a parent (`parseSpec`: the spec parser, e.g. a memoized one). A status that no longer parses (written by an older
 * version) is treated as empty rather than failing the sync.
 */
export function parseCluster(parent: MySQLClusterObject, opts: { parseSpec?: (raw: unknown) => z.ZodSafeParseResult<MySQLClusterSpec> } = {}): ParsedCluster {
  const spec = (opts.parseSpec ?? ((raw: unknown) => MySQLClusterSpecSchema.safeParse(raw)))(parent.spec ?? {});
  if (!spec.success) return { ok: false, issues: issuesOf("spec", spec.error) };
  const status = MySQLClusterStatusSchema.safeParse(parent.status ?? {});
  return {
    ok: true,
    cluster: {
      name: parent.metadata.name,
      namespace: parent.metadata.namespace,
      uid: parent.metadata.uid,
      generation: parent.metadata.generation,
      creationTimestamp: parent.metadata.creationTimestamp ?? undefined,
      spec: spec.data,
      status: status.success ? status.data : {},
    },
  };
}

/*
 * Fast paths for the Kubernetes objects of every sync request (children and related Pods and
 * Secrets). zod walks each object schema node by node, which made request parsing the largest
 * part of a sync (bench/profile-sync.ts). These functions accept only inputs that are plainly
 * well-formed, and then return exactly what the zod schema returns: a new object with the
 * schema's keys first (in schema order, when present), then the other keys, values shared;
 * label and annotation maps copied. Anything else (a wrong type, a missing field, a key zod
 * would default, `__proto__`) returns undefined and the caller falls back to zod, so the
 * result and every error message are zod's. test/unit/fast-parse.test.ts checks the
 * equivalence.
 */

type Plain = Record<string, unknown>;

function isPlain(v: unknown): v is Plain {
  return typeof v === "object" && v !== null && !Array.isArray(v);
}

const FALLBACK = Symbol("fallback");

/** `z.looseObject(shape)` output: shape keys first when present, then the rest. */
function looseCopy(input: Plain, shapeKeys: readonly string[], convert?: (key: string, value: unknown) => unknown): Plain | typeof FALLBACK {
  const out: Plain = {};
  for (const k of shapeKeys) {
    if (!(k in input)) continue;
    const v = convert ? convert(k, input[k]) : input[k];
    if (v === FALLBACK) return FALLBACK;
    out[k] = v;
  }
  for (const k of Object.keys(input)) {
    if (k === "__proto__") return FALLBACK;
    if (!shapeKeys.includes(k)) out[k] = input[k];
  }
  return out;
}

/** `z.record(z.string(), z.string()).nullable().optional()` output. */
function stringMap(v: unknown): unknown {
  if (v === undefined || v === null) return v;
  if (!isPlain(v)) return FALLBACK;
  const out: Plain = {};
  for (const k of Object.keys(v)) {
    const s = v[k];
    if (typeof s !== "string" || k === "__proto__") return FALLBACK;
    out[k] = s;
  }
  return out;
}

const optionalString = (v: unknown): unknown => (v === undefined || typeof v === "string" ? v : FALLBACK);
const nullableString = (v: unknown): unknown => (v === undefined || v === null || typeof v === "string" ? v : FALLBACK);

/** The keys of ObjectMetaSchema (src/api/k8s.ts), in order. */
const META_KEYS = ["name", "namespace", "uid", "generation", "resourceVersion", "creationTimestamp", "deletionTimestamp", "labels", "annotations"] as const;

/** `ObjectMetaSchema.extend({ name: z.string().min(1) })` output. */
function objectMeta(v: unknown): Plain | typeof FALLBACK {
  if (!isPlain(v) || typeof v["name"] !== "string" || v["name"].length === 0) return FALLBACK;
  return looseCopy(v, META_KEYS, (k, x) => {
    switch (k) {
      case "generation":
        return x === undefined || Number.isSafeInteger(x) ? x : FALLBACK;
      case "creationTimestamp":
      case "deletionTimestamp":
        return nullableString(x);
      case "labels":
      case "annotations":
        return stringMap(x);
      default:
        return optionalString(x);
    }
  });
}

/** `KubeObjectSchema` output for a plainly well-formed object, else undefined (use zod). */
export function fastKubeObject(v: unknown): KubeObject | undefined {
  if (!isPlain(v) || typeof v["apiVersion"] !== "string" || typeof v["kind"] !== "string" || !isPlain(v["metadata"])) return undefined;
  const out = looseCopy(v, ["apiVersion", "kind", "metadata"], (k, x) => (k === "metadata" ? objectMeta(x) : x));
  return out === FALLBACK ? undefined : (out as KubeObject);
}

/** `PodSchema.status` output. */
function podStatus(v: unknown): unknown {
  if (v === undefined) return v;
  if (!isPlain(v)) return FALLBACK;
  return looseCopy(v, ["phase", "podIP", "conditions"], (k, x) => {
    if (k !== "conditions") return optionalString(x);
    if (x === undefined || x === null) return x;
    if (!Array.isArray(x)) return FALLBACK;
    const out: unknown[] = [];
    for (const c of x) {
      if (!isPlain(c) || typeof c["type"] !== "string" || typeof c["status"] !== "string") return FALLBACK;
      const copy = looseCopy(c, ["type", "status"]);
      if (copy === FALLBACK) return FALLBACK;
      out.push(copy);
    }
    return out;
  });
}

/** `PodSchema` output for a plainly well-formed Pod (apiVersion and kind set), else undefined. */
export function fastPod(v: unknown): Pod | undefined {
  if (!isPlain(v) || typeof v["apiVersion"] !== "string" || v["kind"] !== "Pod" || !isPlain(v["metadata"])) return undefined;
  const out = looseCopy(v, ["apiVersion", "kind", "metadata", "spec", "status"], (k, x) => {
    if (k === "metadata") return objectMeta(x);
    if (k === "spec") return x === undefined ? x : isPlain(x) ? looseCopy(x, []) : FALLBACK;
    if (k === "status") return podStatus(x);
    return x;
  });
  return out === FALLBACK ? undefined : (out as Pod);
}

/** `SecretSchema` output for a plainly well-formed Secret, else undefined. */
export function fastSecret(v: unknown): Secret | undefined {
  if (!isPlain(v) || typeof v["apiVersion"] !== "string" || v["kind"] !== "Secret" || !isPlain(v["metadata"])) return undefined;
  const out = looseCopy(v, ["apiVersion", "kind", "metadata", "data", "stringData"], (k, x) => {
    if (k === "metadata") return objectMeta(x);
    if (k === "data" || k === "stringData") return stringMap(x);
    return x;
  });
  return out === FALLBACK ? undefined : (out as Secret);
}

/** `PodSchema.safeParse`, fast for well-formed Pods. */
export function safeParsePod(v: unknown): z.ZodSafeParseResult<Pod> {
  const fast = fastPod(v);
  return fast ? { success: true, data: fast } : PodSchema.safeParse(v);
}

/** `SecretSchema.safeParse`, fast for well-formed Secrets. */
export function safeParseSecret(v: unknown): z.ZodSafeParseResult<Secret> {
  const fast = fastSecret(v);
  return fast ? { success: true, data: fast } : SecretSchema.safeParse(v);
}

/**
 * `MySQLClusterObjectSchema` output for a plainly well-formed parent (namespace set), else
 * undefined: a z.object, so only its own keys, in schema order.
 */
export function fastClusterObject(v: unknown): MySQLClusterObject | undefined {
  if (!isPlain(v) || v["apiVersion"] !== API_VERSION || v["kind"] !== MySQLClusterObjectSchema.shape.kind.value) return undefined;
  const meta = v["metadata"];
  if (!isPlain(meta) || typeof meta["namespace"] !== "string" || meta["namespace"].length === 0) return undefined;
  const metadata = objectMeta(meta);
  if (metadata === FALLBACK) return undefined;
  const out: Plain = { apiVersion: v["apiVersion"], kind: v["kind"], metadata };
  if ("spec" in v) out["spec"] = v["spec"];
  if ("status" in v) out["status"] = v["status"];
  return out as MySQLClusterObject;
}

/** `MySQLClusterObjectSchema.safeParse`, fast for well-formed parents. */
export function safeParseClusterObject(v: unknown): z.ZodSafeParseResult<MySQLClusterObject> {
  const fast = fastClusterObject(v);
  return fast ? { success: true, data: fast } : MySQLClusterObjectSchema.safeParse(v);
}
