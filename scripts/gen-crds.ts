/**
 * `npm run gen`: writes every generated file (the CRDs in deploy/crds/ and docs/api.md) from the
 * zod schemas in src/api/, and the golden files of `metamysql render` for deploy/examples/
 * (scripts/gen-goldens.ts). test/unit/crd.test.ts and test/unit/golden.test.ts fail when a
 * committed copy is stale.
 */
import { mkdirSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GENERATED_FILES } from "../src/api/generated.js";
import { GOLDEN_DIR, renderGoldens } from "./gen-goldens.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

for (const file of GENERATED_FILES) {
  const target = resolve(root, file.path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, file.render());
  process.stdout.write(`wrote ${file.path}\n`);
}

// Goldens: the directory holds exactly one file per example (stale ones are removed).
const goldens = await renderGoldens(root);
mkdirSync(resolve(root, GOLDEN_DIR), { recursive: true });
const keep = new Set(goldens.map((g) => g.path));
for (const f of readdirSync(resolve(root, GOLDEN_DIR))) {
  const path = `${GOLDEN_DIR}/${f}`;
  if (!keep.has(path)) {
    rmSync(resolve(root, path));
    process.stdout.write(`removed ${path}\n`);
  }
}
for (const g of goldens) {
  writeFileSync(resolve(root, g.path), g.content);
  process.stdout.write(`wrote ${g.path}\n`);
}
