/**
 * Golden files of `metamysql render` for every manifest in deploy/examples/ (test/golden/):
 * up to date with the renderer, one per example, deterministic. Rendered in-process through the
 * CLI's own function (no spawning); `npm run gen` refreshes them.
 */
import { readdirSync, readFileSync } from "node:fs";
import { resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { exampleFiles, GOLDEN_DIR, goldenPath, renderGoldens } from "../../scripts/gen-goldens.js";

const ROOT = resolve(import.meta.dirname, "../..");

describe("golden files of metamysql render", async () => {
  const goldens = await renderGoldens(ROOT);
  it("there is one golden file per example and no other", () => {
    expect(exampleFiles(ROOT).length).toBeGreaterThan(0);
    const committed = readdirSync(resolve(ROOT, GOLDEN_DIR))
      .map((f) => `${GOLDEN_DIR}/${f}`)
      .sort();
    expect(committed, "run npm run gen").toEqual(exampleFiles(ROOT).map(goldenPath).sort());
  });
  it.each(goldens.map((g) => [g.example, g] as const))("%s matches its golden file", (_example, g) => {
    const committed = readFileSync(resolve(ROOT, g.path), "utf8");
    expect(committed, `${g.path} is stale: run npm run gen`).toBe(g.content);
  });
  it("rendering is deterministic with pinned passwords and time", async () => {
    const again = await renderGoldens(ROOT);
    expect(again.map((g) => g.content)).toEqual(goldens.map((g) => g.content));
  });
});
