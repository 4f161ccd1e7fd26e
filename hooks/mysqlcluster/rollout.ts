/**
 * What the supervised rollout needs from the observed StatefulSet (src/topology/rollout.ts,
 * docs/clustering.md "Rolling updates"). Input like any other: validated, and anything unusable
 * reads as "status not current" (hold the observed partition), never as permission to go on.
 */
import { z } from "zod";
import type { KubeObject } from "../../src/api/k8s.js";
import type { RolloutObservation } from "../../src/topology/index.js";

const count = z.number().int().nonnegative();

const StatefulSetView = z.object({
  metadata: z.object({ generation: count.optional() }).loose(),
  spec: z
    .object({
      replicas: count.optional(),
      updateStrategy: z
        .object({ rollingUpdate: z.object({ partition: count.optional() }).loose().optional() })
        .loose()
        .optional(),
    })
    .loose()
    .optional(),
  status: z
    .object({ observedGeneration: count.optional(), updateRevision: z.string().min(1).optional() })
    .loose()
    .optional(),
});

/** The rollout's view of the observed StatefulSet (absent: `exists` false). */
export function rolloutObservation(sts: KubeObject | undefined): RolloutObservation {
  if (!sts) return { exists: false, updateRevision: undefined, partition: undefined, replicas: 0 };
  const parsed = StatefulSetView.safeParse(sts);
  if (!parsed.success) return { exists: true, updateRevision: undefined, partition: undefined, replicas: 0 };
  const { metadata, spec, status } = parsed.data;
  const current = status?.observedGeneration !== undefined && metadata.generation !== undefined && status.observedGeneration >= metadata.generation;
  return {
    exists: true,
    updateRevision: current ? status.updateRevision : undefined,
    partition: spec?.updateStrategy?.rollingUpdate?.partition,
    replicas: spec?.replicas ?? 1,
  };
}
