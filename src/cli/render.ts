/**
 * `metamysql render -f FILE`: the children the sync hook returns for a new cluster, as
 * multi-document YAML, computed offline through the same hook code.
 */
import { stringify } from "yaml";
import { loadEnvConfig, type EnvConfig } from "../api/env.js";
import { pino } from "pino";
import { syncMySQLClusterForRender, type RenderHookOptions } from "./render-hook.js";
import { readClusterManifest } from "./manifest.js";

/** What `render` prints for a manifest, or why the spec is invalid. */
export type RenderOutcome = { ok: true; yaml: string } | { ok: false; message: string };

/**
 * The YAML `metamysql render` prints for `manifest` (a MySQLCluster as plain JSON). The options
 * pin randomness and time; only the golden files (test/golden/) use them, the CLI never does.
 */
export async function renderManifest(manifest: Record<string, unknown>, opts: RenderHookOptions = {}): Promise<RenderOutcome> {
  const response = await syncMySQLClusterForRender(manifest, pino({ level: "silent" }), opts);
  const state = response.status["state"];
  if (state === "Invalid") return { ok: false, message: String(response.status["message"] ?? "invalid spec") };
  return { ok: true, yaml: response.children.map((c) => stringify(c, { sortMapEntries: false, lineWidth: 0 })).join("---\n") };
}

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
  // The same environment as `metamysql serve` (OPERATOR_NAMESPACE names the hooks' namespace).
  let config: EnvConfig;
  try {
    config = loadEnvConfig();
  } catch (e) {
    err.write(`metamysql render: ${e instanceof Error ? e.message : String(e)}\n`);
    return 1;
  }
  const outcome = await renderManifest(manifest, { config });
  if (!outcome.ok) {
    err.write(`metamysql render: ${file}: ${outcome.message}\n`);
    return 1;
  }
  out.write(outcome.yaml);
  return 0;
}
