/**
 * `npm run gen` (second half): embeds the container scripts (src/render/scripts/*.sh,
 * src/backup/scripts/*.sh) into the generated modules the pure renderers import
 * (scripts/embed-scripts.ts).
 */
import { writeFileSync } from "node:fs";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { embeddedModulePath, renderEmbeddedModule, SCRIPT_DIRS } from "./embed-scripts.js";

const root = resolve(fileURLToPath(new URL("..", import.meta.url)));

for (const dir of SCRIPT_DIRS) {
  const path = embeddedModulePath(dir);
  writeFileSync(resolve(root, path), renderEmbeddedModule(dir));
  process.stdout.write(`wrote ${path}\n`);
}
