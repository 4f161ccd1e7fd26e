/**
 * Turning a parent object into a `Cluster`, with spec problems reported as field paths
 * (`spec.instances: ...`) rather than exceptions: an invalid spec is data (ARCHITECTURE.md 4).
 */
import type { z } from "zod";
import { MySQLClusterSpecSchema, MySQLClusterStatusSchema, type Cluster, type MySQLClusterObject, type MySQLClusterSpec } from "./cluster.js";

export interface SpecIssue {
  path: string;
  message: string;
}

/** `a.b[2].c` from a zod path. */
export function formatPath(prefix: string, path: ReadonlyArray<PropertyKey>): string {
  let out = prefix;
  for (const seg of path) {
    if (typeof seg === "number") out += `[${seg}]`;
    else out += out ? `.${String(seg)}` : String(seg);
  }
  return out;
}

/** Readable issues of a zod error, sorted by path. */
export function issuesOf(prefix: string, error: z.ZodError): SpecIssue[] {
  return error.issues.map((i) => ({ path: formatPath(prefix, i.path), message: i.message })).sort((a, b) => (a.path < b.path ? -1 : a.path > b.path ? 1 : 0));
}

export type ParsedCluster = { ok: true; cluster: Cluster } | { ok: false; issues: SpecIssue[] };

/**
 * Parses spec and status of a parent (`parseSpec`: the spec parser, e.g. a memoized one). A status that no longer parses (written by an older
 * version) is treated as empty rather than failing the sync.
 */
export function parseCluster(parent: MySQLClusterObject, opts: { parseSpec?: (raw: unknown) => z.ZodSafeParseResult<MySQLClusterSpec> } = {}): ParsedCluster {
  const spec = (opts.parseSpec ?? ((raw: unknown) => MySQLClusterSpecSchema.safeParse(raw)))(parent.spec ?? {});
  if (!spec.success) return { ok: false, issues: issuesOf("spec", spec.error) };
  const status = MySQLClusterStatusSchema.safeParse(parent.status ?? {});
  return {
    ok: true,
    cluster: {
      name: parent.metadata.name,
      namespace: parent.metadata.namespace,
      uid: parent.metadata.uid,
      generation: parent.metadata.generation,
      creationTimestamp: parent.metadata.creationTimestamp ?? undefined,
      spec: spec.data,
      status: status.success ? status.data : {},
    },
  };
}

/*
 * Fast paths for the Kubernetes objects of every sync request (children and related Pods and
 * Secrets). zod walks each object schema node by node, which made request parsing the largest
 * part of a sync (bench/profile-sync.ts). These functions accept only inputs that are plainly
 * well-formed, and then return exactly what the zod schema returns: a new object with the
 * schema's keys first (in schema order, when present), then the other keys, values shared;
 * label and annotation maps copied. Anything else (a wrong type, a missing field, a key zod
 * would default, `__proto__`) returns undefined and the caller falls back to zod, so the
 * result and every error message are zod's. test/unit/fast-parse.test.ts checks the
 * equivalence.
 */
