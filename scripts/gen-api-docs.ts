/**
 * Writes only docs/api.md (the API reference generated from the zod schemas). `npm run gen`
 * (scripts/gen-crds.ts) already writes it together with the CRDs; this script is for iterating
 * on descriptions.
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { dirname, resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { GENERATED_FILES } from "../src/api/generated.js";

const root = resolve(dirname(fileURLToPath(import.meta.url)), "..");
const docs = GENERATED_FILES.find((file) => file.path === "docs/api.md");
if (!docs) throw new Error("docs/api.md is not among the generated files");
const target = resolve(root, docs.path);
mkdirSync(dirname(target), { recursive: true });
writeFileSync(target, docs.render());
process.stdout.write(`wrote ${docs.path}\n`);
