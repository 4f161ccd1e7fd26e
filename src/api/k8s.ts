/**
 * The few Kubernetes object shapes the hooks read, parsed leniently (passthrough) since the
 * API server adds fields over time. Rendered objects are plain JSON validated in tests against
 * the official OpenAPI schemas.
 */
import { z } from "zod";

export const ObjectMetaSchema = z.looseObject({
  name: z.string().optional(),
  namespace: z.string().optional(),
  uid: z.string().optional(),
  generation: z.number().int().optional(),
  resourceVersion: z.string().optional(),
  creationTimestamp: z.string().nullable().optional(),
  deletionTimestamp: z.string().nullable().optional(),
  labels: z.record(z.string(), z.string()).nullable().optional(),
  annotations: z.record(z.string(), z.string()).nullable().optional(),
});

/** Any Kubernetes object, as found in `children` and `related`. */
export const KubeObjectSchema = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: ObjectMetaSchema.extend({ name: z.string().min(1) }),
});
export type KubeObject = z.infer<typeof KubeObjectSchema>;

/** A rendered child: a JSON object with apiVersion, kind and metadata.name. */
export type Child = { apiVersion: string; kind: string; metadata: { name: string; [k: string]: unknown }; [k: string]: unknown };

export const PodSchema = z.looseObject({
  apiVersion: z.string().default("v1"),
  kind: z.literal("Pod").default("Pod"),
  metadata: ObjectMetaSchema.extend({ name: z.string().min(1) }),
  spec: z.looseObject({}).optional(),
  status: z
    .looseObject({
      phase: z.string().optional(),
      podIP: z.string().optional(),
      conditions: z
        .array(z.looseObject({ type: z.string(), status: z.string() }))
        .nullable()
        .optional(),
    })
    .optional(),
});
export type Pod = z.infer<typeof PodSchema>;

export const SecretSchema = z.looseObject({
  apiVersion: z.string(),
  kind: z.literal("Secret"),
  metadata: ObjectMetaSchema.extend({ name: z.string().min(1) }),
  data: z.record(z.string(), z.string()).nullable().optional(),
  stringData: z.record(z.string(), z.string()).nullable().optional(),
});
export type Secret = z.infer<typeof SecretSchema>;

/** True when the pod reports the Ready condition. */
export function isPodReady(pod: Pod): boolean {
  return (pod.status?.conditions ?? []).some((c) => c.type === "Ready" && c.status === "True");
}

/** Ordinal of a StatefulSet pod named `<sts>-<n>`, or undefined. */
export function ordinalOf(stsName: string, podName: string): number | undefined {
  if (!podName.startsWith(`${stsName}-`)) return undefined;
  const rest = podName.slice(stsName.length + 1);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined;
}
