/**
 * Metacontroller CompositeController wire types (v4.x). See metacontroller-notes.md.
 * `children` and `related` are maps keyed by `Kind.version` or `Kind.group/version`, then by
 * `name` (hook v1) or `namespace/name` (hook v2): we never rely on the inner keys.
 */
import { z } from "zod";
import { KubeObjectSchema, type KubeObject } from "./k8s.js";

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

/** A desired child in a sync response: any object, named by apiVersion, kind and metadata.name. */
export const ChildObjectSchema = z.looseObject({ apiVersion: z.string(), kind: z.string(), metadata: z.looseObject({ name: z.string() }) });

/** The sync (and finalize) response our hooks produce. */
export const SyncResponseSchema = z.strictObject({
  status: z.record(z.string(), z.unknown()),
  children: z.array(ChildObjectSchema),
  resyncAfterSeconds: z.number().positive().optional(),
  finalized: z.boolean().optional(),
});
export type SyncResponse = z.infer<typeof SyncResponseSchema>;

/**
 * The sync (and finalize) response as Metacontroller reads it, a superset of what our hooks
 * produce (SyncResponseSchema): `status` and `children` may be null or missing,
 * `resyncAfterSeconds` may be 0 (no resync), a child's apiVersion, kind and name must not be
 * empty and it may name its namespace. The local runtime's Metacontroller
 * (src/local/metacontroller/) parses hook responses with it.
 */
export const MetacontrollerSyncResponseSchema = SyncResponseSchema.extend({
  status: SyncResponseSchema.shape.status.nullable().optional(),
  children: z
    .array(
      ChildObjectSchema.extend({
        apiVersion: z.string().min(1),
        kind: z.string().min(1),
        metadata: z.looseObject({ name: z.string().min(1), namespace: z.string().optional() }),
      }),
    )
    .nullable()
    .optional(),
  resyncAfterSeconds: z.number().min(0).optional(),
});
export type MetacontrollerSyncResponse = z.infer<typeof MetacontrollerSyncResponseSchema>;

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

/** A Kubernetes LabelSelector as Metacontroller reads it (either part may be null or missing). */
export const LabelSelectorSchema = z.looseObject({
  matchLabels: z.record(z.string(), z.string()).nullable().optional(),
  matchExpressions: z
    .array(z.object({ key: z.string(), operator: z.string(), values: z.array(z.string()).optional() }))
    .nullable()
    .optional(),
});

/**
 * A related-resource rule as Metacontroller reads it: a superset of what our hooks produce
 * (RelatedResourceRuleSchema), with matchExpressions and unknown fields allowed.
 */
export const MetacontrollerRelatedResourceRuleSchema = RelatedResourceRuleSchema.extend({ labelSelector: LabelSelectorSchema.optional() }).loose();
export type MetacontrollerRelatedResourceRule = z.infer<typeof MetacontrollerRelatedResourceRuleSchema>;

/**
 * The customize response as Metacontroller reads it (the local runtime parses with it):
 * `relatedResources` may be null or missing.
 */
export const MetacontrollerCustomizeResponseSchema = CustomizeResponseSchema.extend({
  relatedResources: z.array(MetacontrollerRelatedResourceRuleSchema).nullable().optional(),
});
export type MetacontrollerCustomizeResponse = z.infer<typeof MetacontrollerCustomizeResponseSchema>;
