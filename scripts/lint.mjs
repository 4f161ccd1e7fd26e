#!/usr/bin/env node
// Project rules the type checker cannot see (ARCHITECTURE.md section 1, style.md):
// - src/render, src/topology and src/backup are pure: no I/O modules, no clock, no randomness
//   except the injected password generator's default; src/render does not import src/mysql;
// - only the server imports hooks/;
// - no focused or skipped tests.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";

const root = new URL("..", import.meta.url).pathname;
const problems = [];

function walk(dir) {
  const out = [];
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) out.push(...walk(p));
    else if (p.endsWith(".ts")) out.push(p);
  }
  return out;
}

const IMPURE = [
  [/from\s+["'](mysql2[^"']*|express|node:fs[^"']*|fs|node:net|net|node:http|http|node:child_process|child_process|pino)["']/, "imports an I/O module"],
  [/\bDate\.now\(\)|new Date\(\s*\)/, "reads the clock (pass `now` in)"],
  [/\bMath\.random\(/, "uses Math.random"],
  [/\bsetTimeout\(|\bsetInterval\(/, "uses timers"],
];

for (const dir of ["src/render", "src/topology", "src/backup"]) {
  let files = [];
  try {
    files = walk(join(root, dir));
  } catch {
    continue;
  }
  for (const file of files) {
    const text = readFileSync(file, "utf8");
    for (const [re, what] of IMPURE) {
      if (re.test(text)) problems.push(`${relative(root, file)}: ${what}; ${dir} must stay pure`);
    }
  }
}

for (const file of walk(join(root, "src"))) {
  const rel = relative(root, file);
  if (rel === "src/server.ts" || rel.startsWith("src/cli/")) continue;
  if (/from\s+["'](\.\.\/)+hooks\//.test(readFileSync(file, "utf8"))) problems.push(`${rel}: only the server (and the CLI that runs it) may import hooks/`);
}

// render/ builds children from the spec; it never needs the MySQL layer (ARCHITECTURE.md section 1).
for (const file of walk(join(root, "src/render"))) {
  if (/from\s+["'](\.\.\/)+mysql\//.test(readFileSync(file, "utf8"))) problems.push(`${relative(root, file)}: src/render may not import src/mysql`);
}

for (const file of walk(join(root, "test"))) {
  const text = readFileSync(file, "utf8");
  if (/\b(it|test|describe)\.(skip|only)\(/.test(text)) problems.push(`${relative(root, file)}: focused or skipped test`);
}

if (problems.length > 0) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log("lint: ok");
