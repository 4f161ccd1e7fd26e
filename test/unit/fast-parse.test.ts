/**
 * The fast paths of request parsing (src/api/parse.ts, src/api/metacontroller.ts) return
 * exactly what the zod schemas return (same keys in the same order, same values) or defer to
 * zod, for well-formed and malformed inputs alike.
 */
import { describe, expect, it } from "vitest";
import type { z } from "zod";
import { PodSchema, SecretSchema } from "../../src/api/k8s.js";
import { safeParseSyncRequest, SyncRequestSchema } from "../../src/api/metacontroller.js";
import { MySQLClusterObjectSchema } from "../../src/api/cluster.js";
import { fastClusterObject, fastKubeObject, fastPod, fastSecret, safeParseClusterObject, safeParsePod, safeParseSecret } from "../../src/api/parse.js";
import { clusterObject, pod, syncRequest, type Obj } from "../helpers/metacontroller.js";

/** Structural equality that also compares key order and keys holding undefined. */
function sameShape(a: unknown, b: unknown, path = "$"): string | undefined {
  if (typeof a !== "object" || a === null || typeof b !== "object" || b === null) return Object.is(a, b) ? undefined : `${path}: ${String(a)} != ${String(b)}`;
  if (Array.isArray(a) !== Array.isArray(b)) return `${path}: array vs object`;
  const ka = Object.keys(a);
  const kb = Object.keys(b);
  if (ka.join("\u0000") !== kb.join("\u0000")) return `${path}: keys [${ka.join(",")}] != [${kb.join(",")}]`;
  for (const k of ka) {
    const d = sameShape((a as Record<string, unknown>)[k], (b as Record<string, unknown>)[k], `${path}.${k}`);
    if (d) return d;
  }
  return undefined;
}

function expectSameAsZod<T>(fast: z.ZodSafeParseResult<T>, zod: z.ZodSafeParseResult<T>): void {
  expect(fast.success).toBe(zod.success);
  if (fast.success && zod.success) expect(sameShape(fast.data, zod.data)).toBeUndefined();
  else expect(fast.error?.issues).toEqual(zod.error?.issues);
}

const CHILD: Obj = {
  apiVersion: "apps/v1",
  kind: "StatefulSet",
  metadata: {
    annotations: { "metacontroller.k8s.io/last-applied-configuration": "{}" },
    name: "shop",
    labels: { b: "1", a: "2" },
    uid: "u",
    extra: { x: 1 },
    generation: 3,
    creationTimestamp: null,
  },
  spec: { replicas: 3 },
  status: { readyReplicas: 3 },
};

/** Variants of a well-formed object, each changing one thing (some make it invalid). */
function variants(base: Obj): Array<[string, unknown]> {
  const meta = base.metadata;
  const withMeta = (m: Record<string, unknown>): Obj => ({ ...base, metadata: m as Obj["metadata"] });
  return [
    ["as is", base],
    ["keys in another order", Object.fromEntries(Object.entries(base).reverse())],
    ["extra top-level key", { zz: 1, ...base }],
    ["metadata key holding undefined", withMeta({ ...meta, uid: undefined })],
    ["null labels and annotations", withMeta({ ...meta, labels: null, annotations: null })],
    ["no labels", withMeta({ name: meta.name })],
    ["label that is not a string", withMeta({ ...meta, labels: { a: 1 } })],
    ["fractional generation", withMeta({ ...meta, generation: 1.5 })],
    ["generation as string", withMeta({ ...meta, generation: "1" })],
    ["empty name", withMeta({ ...meta, name: "" })],
    ["no metadata", { apiVersion: base.apiVersion, kind: base.kind }],
    ["no apiVersion", { kind: base.kind, metadata: meta }],
    ["kind is a number", { ...base, kind: 1 }],
    ["array", [base]],
    ["null", null],
    ["__proto__ key", JSON.parse(`{"__proto__": {"x": 1}, "apiVersion": "v1", "kind": "${base.kind}", "metadata": {"name": "a"}}`)],
    ["__proto__ label", withMeta({ ...meta, labels: JSON.parse('{"__proto__": "x"}') })],
  ];
}

describe("fast KubeObject parsing matches KubeObjectSchema", () => {
  it.each(variants(CHILD))("%s", (_name, input) => {
    const fast = fastKubeObject(input);
    const zod = SyncRequestSchema.shape.children.safeParse({ "StatefulSet.apps/v1": { x: input } });
    if (fast) {
      expect(zod.success).toBe(true);
      expect(sameShape([fast], zod.data)).toBeUndefined();
    }
  });
});

describe("fast Pod parsing matches PodSchema", () => {
  const base = pod("shop", 0);
  const status = base["status"] as Record<string, unknown>;
  it.each([
    ...variants(base),
    ["no status", { ...base, status: undefined }],
    ["null conditions", { ...base, status: { ...status, conditions: null } }],
    ["condition without status", { ...base, status: { ...status, conditions: [{ type: "Ready" }] } }],
    ["extra condition fields", { ...base, status: { ...status, conditions: [{ reason: "r", type: "Ready", status: "True" }] } }],
    ["podIP not a string", { ...base, status: { ...status, podIP: 1 } }],
    ["spec not an object", { ...base, spec: "x" }],
    ["kind missing (zod defaults it)", { apiVersion: "v1", metadata: base.metadata }],
    ["another kind", { ...base, kind: "Secret" }],
  ] as Array<[string, unknown]>)("%s", (_name, input) => {
    expectSameAsZod(safeParsePod(input), PodSchema.safeParse(input));
    if (fastPod(input)) expect(PodSchema.safeParse(input).success).toBe(true);
  });
});

describe("fast Secret parsing matches SecretSchema", () => {
  const base: Obj = { apiVersion: "v1", kind: "Secret", metadata: { name: "shop-credentials", namespace: "ns" }, type: "Opaque", data: { b: "eA==", a: "eQ==" } };
  it.each([
    ...variants(base),
    ["null data", { ...base, data: null }],
    ["stringData", { ...base, stringData: { a: "x" } }],
    ["data value not a string", { ...base, data: { a: 1 } }],
  ] as Array<[string, unknown]>)("%s", (_name, input) => {
    expectSameAsZod(safeParseSecret(input), SecretSchema.safeParse(input));
    if (fastSecret(input)) expect(SecretSchema.safeParse(input).success).toBe(true);
  });
});

describe("fast sync request parsing matches SyncRequestSchema", () => {
  const parent = clusterObject("shop", { flavor: "mariadb" }, { status: { state: "Healthy" } });
  const children = variants(CHILD).filter(([n]) => n !== "array" && n !== "null");
  const cases: Array<[string, unknown]> = [
    ["v1 request", syncRequest({ parent, children: [CHILD], related: [pod("shop", 0), pod("shop", 1)], version: "v1" })],
    ["v2 request", syncRequest({ parent, children: [CHILD], related: [pod("shop", 1), pod("shop", 0)] })],
    ["no controller, children or finalizing", { parent }],
    ["controller undefined", { controller: undefined, parent }],
    ["extra top-level key", { ...syncRequest({ parent }), extra: 1 }],
    ["null children and null group", { parent, children: null, related: { "Pod.v1": null } }],
    ["finalizing true", { ...syncRequest({ parent }), finalizing: true }],
    ["finalizing not a boolean", { ...syncRequest({ parent }), finalizing: "yes" }],
    ["group that is an array", { parent, children: { "Secret.v1": [] } }],
    ["parent without metadata", { parent: { apiVersion: "v", kind: "k" } }],
    ["parent with extra keys first", { parent: { status: {}, ...parent } }],
    ["not an object", "x"],
    ...children.map(([n, child]): [string, unknown] => [`child: ${n}`, { parent, children: { "StatefulSet.apps/v1": { b: child, a: CHILD } } }]),
  ];
  it.each(cases)("%s", (_name, input) => {
    expectSameAsZod(safeParseSyncRequest(input), SyncRequestSchema.safeParse(input));
  });
  it("takes the fast path for what Metacontroller sends", () => {
    const body = JSON.parse(JSON.stringify(syncRequest({ parent, children: [CHILD], related: [pod("shop", 0)] }))) as Record<string, unknown>;
    expect(fastKubeObject(CHILD)).toBeDefined();
    expect(fastPod(pod("shop", 0))).toBeDefined();
    expectSameAsZod(safeParseSyncRequest(body), SyncRequestSchema.safeParse(body));
  });
});

describe("fast parent parsing matches MySQLClusterObjectSchema", () => {
  const base = clusterObject("shop", { flavor: "mariadb" }, { status: { state: "Healthy" } });
  const meta = base.metadata;
  it.each([
    ...variants(base),
    ["no namespace (zod defaults it)", { ...base, metadata: { ...meta, namespace: undefined } }],
    ["empty namespace", { ...base, metadata: { ...meta, namespace: "" } }],
    ["no spec and no status", { apiVersion: base.apiVersion, kind: base.kind, metadata: meta }],
    ["spec holding undefined", { ...base, spec: undefined }],
    ["another apiVersion", { ...base, apiVersion: "metamysql.dev/v1" }],
    ["another kind", { ...base, kind: "MySQLBackup" }],
  ] as Array<[string, unknown]>)("%s", (_name, input) => {
    expectSameAsZod(safeParseClusterObject(input), MySQLClusterObjectSchema.safeParse(input));
  });
  it("takes the fast path for a parent as Metacontroller sends it", () => {
    expect(fastClusterObject(JSON.parse(JSON.stringify(base)))).toBeDefined();
  });
});
