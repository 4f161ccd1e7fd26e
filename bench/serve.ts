/** Starts a hook server on an ephemeral loopback port for the benchmarks; prints its URL. */
import { pino } from "pino";
import { EnvConfigSchema } from "../src/api/env.js";
import { startHookServer } from "../src/server/app.js";

const server = await startHookServer({
  config: { ...EnvConfigSchema.parse({}), PORT: 0, HOST: "127.0.0.1", LOG_LEVEL: "silent" },
  logger: pino({ level: "silent" }),
});
process.stdout.write(`${server.url}\n`);
process.on("SIGTERM", () => void server.close().then(() => process.exit(0)));
