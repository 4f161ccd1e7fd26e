/**
 * `spec.patches`: RFC 6902 operations applied last to the rendered children, the escape hatch for
 * anything the spec does not model. A patch that does not apply makes the spec invalid.
 */
import jsonpatch from "fast-json-patch";
import type { ChildPatch } from "../api/cluster.js";
import type { Child } from "../api/k8s.js";

export interface PatchFailure {
  /** Field path of the failing patch, e.g. `spec.patches[1]`. */
  path: string;
  message: string;
}

export type PatchResult = { ok: true; children: Child[] } | { ok: false; failure: PatchFailure };

function describe(err: unknown): string {
  if (err instanceof Error) return err.message.split("\n")[0] ?? err.message;
  return String(err);
}

/** Applies every patch in order to clones of the matching children. */
export function applyChildPatches(children: readonly Child[], patches: readonly ChildPatch[]): PatchResult {
  if (patches.length === 0) return { ok: true, children: [...children] };
  let out = children.map((c) => structuredClone(c));
  for (const [index, p] of patches.entries()) {
    const path = `spec.patches[${index}]`;
    const matches = out.filter((c) => c.kind === p.target.kind && (p.target.name === undefined || c.metadata.name === p.target.name));
    if (matches.length === 0) {
      const target = p.target.name ? `${p.target.kind} ${p.target.name}` : p.target.kind;
      return { ok: false, failure: { path, message: `no rendered child matches target ${target}` } };
    }
    const next: Child[] = [];
    for (const child of out) {
      if (!matches.includes(child)) {
        next.push(child);
        continue;
      }
      try {
        const ops = p.patch.map((op) => ({ ...op })) as jsonpatch.Operation[];
        const result = jsonpatch.applyPatch(child, ops, true, false).newDocument;
        if (result.kind !== child.kind || result.metadata?.name !== child.metadata.name || result.apiVersion !== child.apiVersion) {
          return { ok: false, failure: { path, message: "a patch may not change apiVersion, kind or metadata.name" } };
        }
        next.push(result);
      } catch (err) {
        return { ok: false, failure: { path, message: `does not apply to ${child.kind} ${child.metadata.name}: ${describe(err)}` } };
      }
    }
    out = next;
  }
  return { ok: true, children: out };
}
