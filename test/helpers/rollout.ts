/**
 * Helpers for supervised rolling updates (issue 12, docs/clustering.md "Rolling updates"), shared
 * by test/e2e/rollout.test.ts and bench/rollout.ts: a watch on the runtime's store that records,
 * at the moment each database pod is deleted, the cluster's state, primary and the pod's
 * revision; and the end of a rollout (every pod at the StatefulSet's update revision, ready, the
 * cluster Healthy and the RolloutProgressing condition UpToDate).
 */
import type { KObject } from "../../src/local/apiserver/objects.js";
import type { HaCluster } from "./ha.js";

/** One pod deletion as seen when it happened. */
export interface PodDeletion {
  pod: string;
  at: number;
  /** Cluster state and primary when the pod got its deletionTimestamp. */
  state: string;
  primary: string;
  /** The pod's revision label, and the StatefulSet's update revision then. */
  revision: string;
  updateRevision: string;
}

interface StsView {
  spec?: { replicas?: number };
  status?: { updateRevision?: string; updatedReplicas?: number; replicas?: number; readyReplicas?: number };
}

function statefulSet(c: HaCluster): StsView | undefined {
  return c.rt.store.get("apps/v1", "StatefulSet", "default", c.name) as (KObject & StsView) | undefined;
}

/** Starts recording deletions of the cluster's pods; call the result to stop. */
export function recordPodDeletions(c: HaCluster, into: PodDeletion[]): () => void {
  const seen = new Set<string>();
  return c.rt.store.watch((ev) => {
    const o = ev.object;
    if (o.kind !== "Pod" || !new RegExp(`^${c.name}-[0-9]+$`).test(o.metadata.name) || !o.metadata.deletionTimestamp) return;
    const key = `${o.metadata.name}/${o.metadata.uid ?? ""}`;
    if (seen.has(key)) return;
    seen.add(key);
    const s = c.status();
    into.push({
      pod: o.metadata.name,
      at: Date.now(),
      state: s.state ?? "",
      primary: s.currentPrimary ?? "",
      revision: o.metadata.labels?.["controller-revision-hash"] ?? "",
      updateRevision: statefulSet(c)?.status?.updateRevision ?? "",
    });
  });
}

/** The StatefulSet's update revision now. */
export function updateRevision(c: HaCluster): string {
  return statefulSet(c)?.status?.updateRevision ?? "";
}

/** RolloutProgressing condition of the cluster. */
export function rolloutCondition(c: HaCluster): { status: string; reason: string; message: string } | undefined {
  const conds = ((c.rt.cluster()?.status as { conditions?: Array<{ type: string; status: string; reason: string; message: string }> } | undefined)
    ?.conditions ?? []) as Array<{ type: string; status: string; reason: string; message: string }>;
  return conds.find((x) => x.type === "RolloutProgressing");
}

/**
 * True once the rollout to revision `from` has ended: the update revision differs from `from`
 * (the change was seen), every pod runs it and is ready, the cluster is Healthy and says UpToDate.
 */
export function rolloutFinished(c: HaCluster, from: string, n: number): boolean {
  const rev = updateRevision(c);
  if (!rev || rev === from) return false;
  const pods = c.rt.store.list({ apiVersion: "v1", kind: "Pod", namespace: "default" }).filter((p) => new RegExp(`^${c.name}-[0-9]+$`).test(p.metadata.name));
  const live = c.rt.status().pods;
  return (
    pods.length === n &&
    pods.every((p) => p.metadata.labels?.["controller-revision-hash"] === rev && !p.metadata.deletionTimestamp) &&
    live.length === n &&
    live.every((p) => p.ready) &&
    c.status().state === "Healthy" &&
    rolloutCondition(c)?.reason === "UpToDate"
  );
}
