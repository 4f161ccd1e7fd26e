/**
 * The real hook server, in-process, for `metamysql local`: an ephemeral loopback port, logs to a
 * file in the state dir (not to the terminal's narration).
 */
import { destination, pino } from "pino";
import type { HookServer } from "../local/runtime.js";
import { startHookServer } from "../server/app.js";

/** Starts the hook server for the local runtime (LocalRuntimeOptions.startHookServer). */
export async function startLocalHookServer(opts: { logLevel: string; logFile: string }): Promise<HookServer> {
  const level = opts.logLevel as "info";
  const logger = pino({ level, base: { component: "metamysql-hooks" } }, destination({ dest: opts.logFile, sync: true, append: true }));
  return await startHookServer({ port: 0, host: "127.0.0.1", logLevel: level, logger });
}
