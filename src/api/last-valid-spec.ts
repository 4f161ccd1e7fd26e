/**
 * The last valid spec of a cluster, kept on its ConfigMap `<c>-config` (annotation
 * `metamysql.dev/spec`, written with every render of a valid spec). While the parent's spec is
 * invalid the children are not re-rendered, so the annotation still holds the spec they came
 * from: failover keeps running on it (hooks/mysqlcluster/sync.ts) and a deletion still takes the
 * final backup it asks for (hooks/mysqlcluster/finalize.ts). The spec holds no secret (passwords
 * live in Secrets, which it only names), so it may sit on a ConfigMap.
 */
import type { z } from "zod";
import { MySQLClusterSpecSchema, type MySQLClusterSpec } from "./cluster.js";
import { ANNOTATION_SPEC } from "./constants.js";
import type { KubeObject } from "./k8s.js";
import { childNames } from "./names.js";

/** JSON with object keys sorted at every level: the same spec always gives the same text. */
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

/** The annotation value for a parsed (valid) spec. */
export function specAnnotation(spec: MySQLClusterSpec): string {
  return canonicalJson(spec);
}

/**
 * The spec recorded on the observed ConfigMap of cluster `name`, validated again (it is input
 * like any other); undefined when absent (first sync, older operator version) or unusable.
 */
export function lastValidSpec(
  name: string,
  children: readonly KubeObject[],
  parseSpec: (raw: unknown) => z.ZodSafeParseResult<MySQLClusterSpec> = (raw) => MySQLClusterSpecSchema.safeParse(raw),
): MySQLClusterSpec | undefined {
  const cm = children.find((c) => c.kind === "ConfigMap" && c.metadata.name === childNames(name).config);
  const text = cm?.metadata.annotations?.[ANNOTATION_SPEC];
  if (!text) return undefined;
  let raw: unknown;
  try {
    raw = JSON.parse(text);
  } catch {
    return undefined;
  }
  const parsed = parseSpec(raw);
  return parsed.success ? parsed.data : undefined;
}
