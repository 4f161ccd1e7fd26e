/**
 * Parsed specs memoized at the hook edge, keyed by the spec's JSON: every sync of an unchanged
 * cluster parses the same spec, and zod's parse (defaults, refinements) was a measurable part
 * of a sync. A hit returns a deep copy, so callers own their object as with a fresh parse.
 * Request bodies are JSON, so equal JSON means an equal input.
 */
import type { z } from "zod";
import { MySQLClusterSpecSchema, type MySQLClusterSpec } from "../../src/api/cluster.js";

/** Specs remembered; the oldest entry is dropped beyond this. */
export const SPEC_CACHE_SIZE = 256;

const cache = new Map<string, z.ZodSafeParseResult<MySQLClusterSpec>>();

/** `MySQLClusterSpecSchema.safeParse(raw)`, from the cache when the same spec was parsed before. */
export function cachedSpecParse(raw: unknown): z.ZodSafeParseResult<MySQLClusterSpec> {
  const key = JSON.stringify(raw);
  const hit = key === undefined ? undefined : cache.get(key);
  if (hit) return hit.success ? { success: true, data: structuredClone(hit.data) } : hit;
  const result = MySQLClusterSpecSchema.safeParse(raw);
  if (key !== undefined) {
    if (cache.size >= SPEC_CACHE_SIZE) cache.delete(cache.keys().next().value ?? "");
    cache.set(key, result.success ? { success: true, data: structuredClone(result.data) } : result);
  }
  return result;
}
