/**
 * Observed children returned "unchanged" when the spec is invalid: Metacontroller deletes any
 * child missing from a response and applies what we return, so we send back exactly what was
 * last applied (Metacontroller's last-applied annotation), or the observed object without
 * server-owned fields. Nothing is deleted or modified.
 */
import { z } from "zod";
import type { Child, KubeObject } from "./k8s.js";

/** Annotation in which Metacontroller's dynamic apply stores what the hook last returned. */
export const LAST_APPLIED_ANNOTATION = "metacontroller.k8s.io/last-applied-configuration";

const AppliedSchema = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.looseObject({ name: z.string() }),
});

const SERVER_OWNED_METADATA = [
  "uid",
  "resourceVersion",
  "generation",
  "creationTimestamp",
  "deletionTimestamp",
  "deletionGracePeriodSeconds",
  "managedFields",
  "ownerReferences",
  "selfLink",
  "finalizers",
];

/** The child as last applied, or a copy of the observed object without server-owned fields. */
export function unchangedChild(observed: KubeObject): Child {
  const lastApplied = observed.metadata.annotations?.[LAST_APPLIED_ANNOTATION];
  if (lastApplied) {
    try {
      const parsed = AppliedSchema.safeParse(JSON.parse(lastApplied));
      if (parsed.success && parsed.data.kind === observed.kind && parsed.data.metadata.name === observed.metadata.name) {
        return parsed.data;
      }
    } catch {
      // not JSON: fall through to the observed object
    }
  }
  // Copies of the two levels changed, the rest shared (read-only): a deep clone
  // (structuredClone) overflowed the stack on a deeply nested child, a 500 on every sync.
  const copy: Record<string, unknown> = { ...observed };
  delete copy["status"];
  const metadata: Record<string, unknown> = { ...observed.metadata };
  for (const key of SERVER_OWNED_METADATA) delete metadata[key];
  return { ...copy, apiVersion: observed.apiVersion, kind: observed.kind, metadata: { ...metadata, name: observed.metadata.name } };
}
