/**
 * `metamysql render -f FILE`: the children the sync hook returns for a new cluster, as
 * multi-document YAML, computed offline through the same hook code.
 */
import { stringify } from "yaml";
import { pino } from "pino";
import { syncMySQLClusterForRender } from "./render-hook.js";
import { readClusterManifest } from "./manifest.js";

/** Runs the render verb; returns the exit code. */
export async function runRender(args: string[], out: NodeJS.WritableStream = process.stdout, err: NodeJS.WritableStream = process.stderr): Promise<number> {
  const fIndex = args.findIndex((a) => a === "-f" || a === "--file");
  const file = fIndex >= 0 ? args[fIndex + 1] : undefined;
  if (!file) {
    err.write("usage: metamysql render -f cluster.yaml\n");
    return 2;
  }
  let manifest: Record<string, unknown>;
  try {
    manifest = await readClusterManifest(file);
  } catch (e) {
    err.write(`metamysql render: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  const response = await syncMySQLClusterForRender(manifest, pino({ level: "silent" }));
  const state = response.status["state"];
  if (state === "Invalid") {
    err.write(`metamysql render: ${file}: ${String(response.status["message"] ?? "invalid spec")}\n`);
    return 1;
  }
  out.write(response.children.map((c) => stringify(c, { sortMapEntries: false, lineWidth: 0 })).join("---\n"));
  return 0;
}
