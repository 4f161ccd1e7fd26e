/**
 * Calls the sync hook in-process with the request Metacontroller sends for a new cluster,
 * through the server's hook table (only the server knows hooks/).
 */
import type { Logger } from "pino";
import { EnvConfigSchema, type EnvConfig } from "../api/env.js";
import type { SyncResponse } from "../api/metacontroller.js";
import { createHookMetrics } from "../metrics/registry.js";
import { generatePassword } from "../server/passwords.js";
import { HOOKS } from "../server/app.js";

/** Randomness and time of a render; the real ones unless pinned (golden files pin them). */
export interface RenderHookOptions {
  generatePassword?: () => string;
  now?: () => Date;
  /** The hook server's configuration (OPERATOR_NAMESPACE shapes NetworkPolicy `<c>`); defaults otherwise. */
  config?: EnvConfig;
}

/** The sync response for `manifest` as a cluster with no children yet. */
export async function syncMySQLClusterForRender(manifest: Record<string, unknown>, logger: Logger, opts: RenderHookOptions = {}): Promise<SyncResponse> {
  const metadata = typeof manifest["metadata"] === "object" && manifest["metadata"] !== null ? manifest["metadata"] : {};
  const parent = { ...manifest, metadata: { namespace: "default", ...metadata } };
  const body = {
    controller: { metadata: { name: "metamysql-mysqlcluster" } },
    parent,
    children: {
      "Secret.v1": {},
      "ConfigMap.v1": {},
      "Service.v1": {},
      "StatefulSet.apps/v1": {},
      "EndpointSlice.discovery.k8s.io/v1": {},
      "PodDisruptionBudget.policy/v1": {},
      "NetworkPolicy.networking.k8s.io/v1": {},
    },
    related: { "Pod.v1": {} },
    finalizing: false,
  };
  return HOOKS.mysqlcluster.sync(body, {
    config: opts.config ?? EnvConfigSchema.parse({}),
    logger,
    metrics: createHookMetrics({ defaultMetrics: false }),
    now: opts.now ?? (() => new Date()),
    generatePassword: opts.generatePassword ?? generatePassword,
  });
}
