#!/usr/bin/env node
// Entry point of the `metamysql` command. Runs the compiled CLI (built by `npm run build`,
// which `npm ci` runs through `prepare`).
import { main } from "../dist/src/cli/main.js";

main(process.argv.slice(2)).then(
  (code) => {
    if (typeof code === "number") process.exitCode = code;
  },
  (err) => {
    process.stderr.write(`metamysql: ${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
