/**
 * Metacontroller CompositeController wire types (v4.x). See metacontroller-notes.md.
 * `children` and `related` are maps keyed by `Kind.version` or `Kind.group/version`, then by
 * `name` (hook v1) or `namespace/name` (hook v2): we never rely on the inner keys.
 */
import { z } from "zod";
import { KubeObjectSchema, type KubeObject } from "./k8s.js";
import { fastKubeObject } from "./parse.js";

/** `{ "Kind.group/version": { "<key>": object } }`, flattened to a list. */
const ObjectGroupsSchema = z
  .record(z.string(), z.record(z.string(), KubeObjectSchema).nullable())
  .nullable()
  .optional()
  .transform((groups) => {
    const out: KubeObject[] = [];
    for (const groupKey of Object.keys(groups ?? {}).sort()) {
      const group = groups?.[groupKey] ?? {};
      for (const key of Object.keys(group).sort()) {
        const obj = group[key];
        if (obj) out.push(obj);
      }
    }
    return out;
  });

export const SyncRequestSchema = z.object({
  controller: z.looseObject({}).optional(),
  parent: z.looseObject({ apiVersion: z.string(), kind: z.string(), metadata: z.looseObject({}) }),
  children: ObjectGroupsSchema,
  related: ObjectGroupsSchema,
  finalizing: z.boolean().optional().default(false),
});
export type SyncRequest = z.infer<typeof SyncRequestSchema>;

export const SyncResponseSchema = z.strictObject({
  status: z.record(z.string(), z.unknown()),
  children: z.array(z.looseObject({ apiVersion: z.string(), kind: z.string(), metadata: z.looseObject({ name: z.string() }) })),
  resyncAfterSeconds: z.number().positive().optional(),
  finalized: z.boolean().optional(),
});
export type SyncResponse = z.infer<typeof SyncResponseSchema>;

export const CustomizeRequestSchema = z.object({
  controller: z.looseObject({}).optional(),
  parent: z.looseObject({ apiVersion: z.string(), kind: z.string(), metadata: z.looseObject({}) }),
});
export type CustomizeRequest = z.infer<typeof CustomizeRequestSchema>;

export const RelatedResourceRuleSchema = z.object({
  apiVersion: z.string(),
  resource: z.string(),
  namespace: z.string().optional(),
  labelSelector: z.object({ matchLabels: z.record(z.string(), z.string()) }).optional(),
  names: z.array(z.string()).optional(),
});
export type RelatedResourceRule = z.infer<typeof RelatedResourceRuleSchema>;

export const CustomizeResponseSchema = z.strictObject({
  relatedResources: z.array(RelatedResourceRuleSchema),
});
export type CustomizeResponse = z.infer<typeof CustomizeResponseSchema>;

type Plain = Record<string, unknown>;
const isPlain = (v: unknown): v is Plain => typeof v === "object" && v !== null && !Array.isArray(v);
const hasProto = (v: Plain): boolean => Object.prototype.hasOwnProperty.call(v, "__proto__");

/** ObjectGroupsSchema output through fastKubeObject; undefined when zod must decide. */
function fastGroups(groups: unknown): KubeObject[] | undefined {
  if (groups === undefined || groups === null) return [];
  if (!isPlain(groups) || hasProto(groups)) return undefined;
  const out: KubeObject[] = [];
  for (const groupKey of Object.keys(groups).sort()) {
    const group = groups[groupKey];
    if (group === null) continue;
    if (!isPlain(group) || hasProto(group)) return undefined;
    for (const key of Object.keys(group).sort()) {
      const obj = fastKubeObject(group[key]);
      if (!obj) return undefined;
      out.push(obj);
    }
  }
  return out;
}

/**
 * `SyncRequestSchema.safeParse(body)`, with a fast path (src/api/parse.ts) for plainly
 * well-formed requests: every child and related object is a full Kubernetes object, and
 * validating them node by node with zod was the largest cost of a sync. Same result as zod.
 */
export function safeParseSyncRequest(body: unknown): z.ZodSafeParseResult<SyncRequest> {
  const fast = fastSyncRequest(body);
  return fast ? { success: true, data: fast } : SyncRequestSchema.safeParse(body);
}

function fastSyncRequest(body: unknown): SyncRequest | undefined {
  if (!isPlain(body)) return undefined;
  const { controller, parent, finalizing } = body;
  if (controller !== undefined && (!isPlain(controller) || hasProto(controller))) return undefined;
  if (!isPlain(parent) || hasProto(parent) || typeof parent["apiVersion"] !== "string" || typeof parent["kind"] !== "string") return undefined;
  const metadata = parent["metadata"];
  if (!isPlain(metadata) || hasProto(metadata)) return undefined;
  if (finalizing !== undefined && typeof finalizing !== "boolean") return undefined;
  const children = fastGroups(body["children"]);
  const related = fastGroups(body["related"]);
  if (!children || !related) return undefined;
  const out: Plain = {};
  // z.object output: shape keys in order; an optional key only when present in the input.
  if ("controller" in body) out["controller"] = controller === undefined ? undefined : { ...controller };
  const { apiVersion, kind, metadata: _m, ...rest } = parent;
  out["parent"] = { apiVersion, kind, metadata: { ...metadata }, ...rest };
  out["children"] = children;
  out["related"] = related;
  out["finalizing"] = finalizing ?? false;
  return out as SyncRequest;
}
