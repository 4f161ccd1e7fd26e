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
