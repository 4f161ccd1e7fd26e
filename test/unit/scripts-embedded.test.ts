/**
 * The generated modules that embed the container scripts (scripts/embed-scripts.ts) match the .sh
 * files, and the renderers ship exactly those files.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { describe, expect, it } from "vitest";
import { embeddedModulePath, renderEmbeddedModule, SCRIPT_DIRS } from "../../scripts/embed-scripts.js";

const ROOT = resolve(fileURLToPath(new URL("../..", import.meta.url)));

describe("embedded container scripts", () => {
  it.each(SCRIPT_DIRS.map((d) => [d]))("%s/embedded.ts is up to date with the .sh files", (dir) => {
    const path = embeddedModulePath(dir);
    let committed = "";
    try {
      committed = readFileSync(resolve(ROOT, path), "utf8");
    } catch {
      // missing: reported by the comparison below
    }
    expect(committed, `${path} is stale: run npm run gen`).toBe(renderEmbeddedModule(dir));
  });
});
