/**
 * The StatefulSet's update strategy, set after `spec.patches` (docs/clustering.md "Rolling
 * updates"): RollingUpdate with the partition the decider planned (src/topology/rollout.ts), and
 * the annotation `metamysql.dev/template-hash` recording the pod template sent. A template that
 * differs from the one the observed StatefulSet was last sent is held entirely (partition =
 * replicas): its update revision is not known before the StatefulSet controller has seen it, and
 * pods must only ever be replaced one at a time by the decider's steps. Pure.
 */
import { createHash } from "node:crypto";
import { ANNOTATION_TEMPLATE_HASH } from "../api/constants.js";
import type { Child, KubeObject } from "../api/k8s.js";

/** JSON with object keys sorted at every level. */
function canonicalJson(value: unknown): string {
  return JSON.stringify(value, (_key, v: unknown) =>
    typeof v === "object" && v !== null && !Array.isArray(v)
      ? Object.fromEntries(
          Object.keys(v)
            .sort()
            .map((k) => [k, (v as Record<string, unknown>)[k]]),
        )
      : v,
  );
}

function record(v: unknown): Record<string, unknown> {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Record<string, unknown>) : {};
}

/** Hash of a StatefulSet's pod template (its `spec.template`, canonical JSON). */
export function templateHash(sts: KubeObject): string {
  return createHash("sha256")
    .update(canonicalJson(record(sts["spec"])["template"] ?? null))
    .digest("hex")
    .slice(0, 16);
}

/**
 * Sets the update strategy and the template-hash annotation on the rendered StatefulSet
 * `name` (in place on a copy; other children untouched). `partition` undefined: hold every pod.
 */
export function withRolloutControl(children: Child[], name: string, observed: KubeObject | undefined, partition: number | undefined): Child[] {
  return children.map((c) => {
    if (c.kind !== "StatefulSet" || c.metadata.name !== name) return c;
    const spec = record(c["spec"]);
    const replicas = typeof spec["replicas"] === "number" ? spec["replicas"] : 0;
    const hash = templateHash(c);
    const sent = observed?.metadata.annotations?.[ANNOTATION_TEMPLATE_HASH];
    const changing = observed !== undefined && sent !== hash;
    const value = changing || partition === undefined ? replicas : Math.min(partition, replicas);
    return {
      ...c,
      metadata: { ...c.metadata, annotations: { ...record(c.metadata["annotations"]), [ANNOTATION_TEMPLATE_HASH]: hash } },
      spec: { ...spec, updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: value } } },
    };
  });
}
