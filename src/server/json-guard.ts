/**
 * A guard on parsed JSON bodies, run before any schema (zod) or recursive code sees them:
 * JSON.parse itself is iterative, but zod, structuredClone, JSON.stringify and the patch
 * library recurse, so a deeply nested body would overflow the stack (a 500 that Metacontroller
 * retries forever). Iterative, so the check itself cannot overflow.
 */

/**
 * Deepest nesting a hook body may have. Kubernetes objects in a request nest about 20 levels
 * (children map, StatefulSet, pod template, affinity terms, managedFields); `spec.patches`
 * values add what a patch adds. 64 leaves ample room.
 */
export const MAX_JSON_DEPTH = 64;

/** Where a too-deep value was found and how deep, or undefined when `value` nests at most `max` levels. */
export function tooDeep(value: unknown, max: number = MAX_JSON_DEPTH): { path: string; depth: number } | undefined {
  // Each frame: a container, its depth (the body itself is depth 1), and its parent frame and
  // key, so the path is rebuilt only for the violation.
  interface Frame {
    value: object;
    depth: number;
    parent: Frame | undefined;
    key: string | number;
  }
  const stack: Frame[] = [];
  if (typeof value === "object" && value !== null) stack.push({ value, depth: 1, parent: undefined, key: "" });
  while (stack.length > 0) {
    const frame = stack.pop() as Frame;
    if (frame.depth > max) return { path: pathOf(frame), depth: frame.depth };
    const entries: [string | number, unknown][] = Array.isArray(frame.value) ? frame.value.map((v, i) => [i, v]) : Object.entries(frame.value);
    for (const [key, child] of entries) {
      if (typeof child === "object" && child !== null) stack.push({ value: child, depth: frame.depth + 1, parent: frame, key });
    }
  }
  return undefined;

  function pathOf(frame: Frame): string {
    const keys: (string | number)[] = [];
    for (let f: Frame | undefined = frame; f?.parent !== undefined; f = f.parent) keys.push(f.key);
    keys.reverse();
    // The first levels say where (e.g. parent.spec.patches[0].patch[0].value); the rest is depth.
    const shown = keys.slice(0, 8).map((k) => (typeof k === "number" ? `[${k}]` : /^[A-Za-z_$][\w$-]*$/.test(k) ? `.${k}` : `[${JSON.stringify(k)}]`));
    return `$${shown.join("")}${keys.length > 8 ? "..." : ""}`;
  }
}
