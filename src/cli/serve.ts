/**
 * `metamysql serve [--port N]`: the hook server in the foreground, with graceful shutdown:
 * on SIGTERM it reports not-ready, stops accepting, lets in-flight hooks finish (bounded).
 */
import { loadEnvConfig } from "../api/env.js";
import { startHookServer } from "../server/app.js";

const DRAIN_MS = 10_000;

/** Runs the serve verb until a signal; returns the exit code. */
export async function runServe(args: string[]): Promise<number> {
  let config;
  try {
    config = loadEnvConfig();
  } catch (err) {
    process.stderr.write(`metamysql serve: ${err instanceof Error ? err.message : String(err)}\n`);
    return 1;
  }
  const portIndex = args.indexOf("--port");
  if (portIndex >= 0) {
    const port = Number(args[portIndex + 1]);
    if (!Number.isInteger(port) || port < 0 || port > 65535) {
      process.stderr.write(`metamysql serve: --port must be an integer 0..65535\n`);
      return 2;
    }
    config = { ...config, PORT: port };
  }
  const running = await startHookServer({ config });
  process.stderr.write(`metamysql hook server listening on ${running.url}\n`);
  return new Promise<number>((resolve) => {
    const stop = (signal: string) => {
      process.stderr.write(`metamysql: ${signal}, draining\n`);
      running.markNotReady();
      const timer = setTimeout(() => {
        running.server.closeAllConnections();
      }, DRAIN_MS);
      running.server.close(() => {
        clearTimeout(timer);
        resolve(0);
      });
      running.server.closeIdleConnections();
    };
    process.once("SIGTERM", () => stop("SIGTERM"));
    process.once("SIGINT", () => stop("SIGINT"));
  });
}
