/**
 * `npm run gen`: writes every generated file (the CRDs in deploy/crds/ and docs/api.md) from the
 * zod schemas in src/api/. test/unit/crd.test.ts fails when a committed copy is stale.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GENERATED_FILES } from "../src/api/generated.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");

for (const file of GENERATED_FILES) {
  const target = resolve(root, file.path);
  mkdirSync(dirname(target), { recursive: true });
  writeFileSync(target, file.render());
  process.stdout.write(`wrote ${file.path}\n`);
}
