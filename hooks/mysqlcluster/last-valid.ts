/**
 * The cluster as its last valid spec describes it (src/api/last-valid-spec.ts): what sync keeps
 * failing over on and finalize takes the final backup by while the parent's spec is invalid.
 */
import type { Cluster } from "../../src/api/cluster.js";
import { lastValidSpec } from "../../src/api/last-valid-spec.js";
import { parseCluster } from "../../src/api/parse.js";
import type { ParsedSync } from "./request.js";
import { cachedSpecParse } from "./spec-cache.js";

/** The parent with the spec recorded on its observed ConfigMap; undefined when none is recorded. */
export function lastValidCluster(parsed: ParsedSync): Cluster | undefined {
  const spec = lastValidSpec(parsed.parent.metadata.name, parsed.children, cachedSpecParse);
  if (!spec) return undefined;
  const result = parseCluster({ ...parsed.parent, spec }, { parseSpec: () => ({ success: true, data: spec }) });
  return result.ok ? result.cluster : undefined;
}
