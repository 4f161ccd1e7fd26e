/**
 * Kubernetes-style conditions: a transition time changes only when the status changes
 * (ARCHITECTURE.md section 2), so identical observations give an identical status.
 */
import type { Condition } from "./cluster.js";

export interface ConditionInput {
  type: string;
  status: "True" | "False" | "Unknown";
  reason: string;
  message: string;
}

/**
 * Builds the new condition list: each wanted condition keeps the previous lastTransitionTime
 * when its status did not change; a new or flipped condition gets `now`. Sorted by type.
 */
export function mergeConditions(previous: readonly Condition[] | undefined, wanted: readonly ConditionInput[], now: Date): Condition[] {
  const out: Condition[] = [];
  for (const w of wanted) {
    const prev = previous?.find((c) => c.type === w.type);
    const lastTransitionTime = prev && prev.status === w.status ? prev.lastTransitionTime : now.toISOString().replace(/\.\d{3}Z$/, "Z");
    out.push({ type: w.type, status: w.status, reason: w.reason, message: w.message, lastTransitionTime });
  }
  return out.sort((a, b) => (a.type < b.type ? -1 : a.type > b.type ? 1 : 0));
}

/** RFC 3339 at second precision, as Kubernetes writes times. */
export function rfc3339(date: Date): string {
  return date.toISOString().replace(/\.\d{3}Z$/, "Z");
}
