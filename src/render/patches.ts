/**
 * `spec.patches`: RFC 6902 operations applied last to the rendered children, the escape hatch for
 * anything the spec does not model. A patch that does not apply, or whose result breaks a rule of
 * src/render/patch-policy.ts (namespace, identity, labels, owners, Pod Security "restricted",
 * Services, EndpointSlices), makes the spec invalid.
 */
import jsonpatch from "fast-json-patch";
import type { ChildPatch } from "../api/cluster.js";
import type { Child } from "../api/k8s.js";
import { childViolations, describeViolation, UNPATCHABLE_KINDS } from "./patch-policy.js";

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
  // Each patched child is checked against the child as rendered (the renderer passes every rule),
  // after each patch, so a violation names the patch that introduced it.
  const rendered = new Map(children.map((c, i) => [out[i] as Child, c]));
  for (const [index, p] of patches.entries()) {
    const path = `spec.patches[${index}]`;
    if (UNPATCHABLE_KINDS.includes(p.target.kind)) {
      return { ok: false, failure: { path, message: `breaks the patch rule "unpatchable kind": ${p.target.kind} children may not be patched` } };
    }
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
        if (typeof result !== "object" || result === null || Array.isArray(result)) {
          return { ok: false, failure: { path, message: `turns ${child.kind} ${child.metadata.name} into something that is not an object` } };
        }
        const original = rendered.get(child) ?? child;
        const violations = childViolations(original, result);
        if (violations.length > 0) {
          return { ok: false, failure: { path, message: violations.map((v) => describeViolation(original, v)).join("; ") } };
        }
        rendered.set(result, original);
        next.push(result);
      } catch (err) {
        return { ok: false, failure: { path, message: `does not apply to ${child.kind} ${child.metadata.name}: ${describe(err)}` } };
      }
    }
    out = next;
  }
  return { ok: true, children: out };
}
