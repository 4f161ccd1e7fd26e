/**
 * Runs `metamysql local ...` from source (tests spawn it with `node --import tsx`).
 */
import { runLocal } from "../../src/cli/local.js";

runLocal(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${err instanceof Error ? err.message : String(err)}\n`);
    process.exitCode = 1;
  },
);
