/**
 * Golden files of `metamysql render` (test/golden/<example>.yaml), one per manifest in
 * deploy/examples/: every change to what users get is visible in review. Written by
 * `npm run gen` (scripts/gen-crds.ts); test/unit/golden.test.ts fails when one is stale.
 * Rendered through the CLI's own function with pinned passwords and time, so they are
 * deterministic. No side effects on import.
 */
import { readdirSync } from "node:fs";
import { basename, join } from "node:path";
import { readClusterManifest } from "../src/cli/manifest.js";
import { renderManifest } from "../src/cli/render.js";

export const EXAMPLES_DIR = "deploy/examples";
export const GOLDEN_DIR = "test/golden";

/** A fixed password sequence (32 alphanumerics, like the real generator) for one render. */
export function goldenPasswords(): () => string {
  let n = 0;
  return () => `golden${String(++n).padStart(26, "0")}`;
}

/** A fixed clock for one render. */
export const GOLDEN_NOW = (): Date => new Date("2026-01-01T00:00:00Z");

/** The example manifests, sorted (paths relative to the repository root). */
export function exampleFiles(root: string): string[] {
  return readdirSync(join(root, EXAMPLES_DIR))
    .filter((f) => f.endsWith(".yaml") || f.endsWith(".yml"))
    .sort()
    .map((f) => `${EXAMPLES_DIR}/${f}`);
}

/** Where the golden file of an example lives. */
export function goldenPath(example: string): string {
  return `${GOLDEN_DIR}/${basename(example).replace(/\.ya?ml$/, "")}.yaml`;
}

/** Every golden file: its path and the YAML `metamysql render -f <example>` prints. */
export async function renderGoldens(root: string): Promise<Array<{ path: string; example: string; content: string }>> {
  const out: Array<{ path: string; example: string; content: string }> = [];
  for (const example of exampleFiles(root)) {
    const manifest = await readClusterManifest(join(root, example));
    const outcome = await renderManifest(manifest, { generatePassword: goldenPasswords(), now: GOLDEN_NOW });
    if (!outcome.ok) throw new Error(`${example}: ${outcome.message}`);
    out.push({ path: goldenPath(example), example, content: outcome.yaml });
  }
  return out;
}
