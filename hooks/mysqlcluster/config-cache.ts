/**
 * The rendered ConfigMap data and hash of each cluster, memoized at the hook edge: they depend
 * only on the cluster's identity and spec and are the largest part of a sync's rendering, while
 * src/render stays pure and cache-free (so its determinism is tested on real renders).
 */
import type { Cluster } from "../../src/api/cluster.js";
import { renderConfig, type RenderedConfig } from "../../src/render/children.js";

/** Clusters remembered; the oldest entry is dropped beyond this. */
export const CONFIG_CACHE_SIZE = 256;

const cache = new Map<string, RenderedConfig>();

/** `renderConfig(cluster)`, from the cache when the name, namespace, uid and spec are unchanged. */
export function cachedConfig(cluster: Cluster): RenderedConfig {
  const key = JSON.stringify([cluster.name, cluster.namespace, cluster.uid, cluster.spec]);
  const hit = cache.get(key);
  if (hit) return hit;
  const rendered = renderConfig(cluster);
  const entry: RenderedConfig = Object.freeze({ data: Object.freeze({ ...rendered.data }), hash: rendered.hash });
  if (cache.size >= CONFIG_CACHE_SIZE) cache.delete(cache.keys().next().value ?? "");
  cache.set(key, entry);
  return entry;
}
