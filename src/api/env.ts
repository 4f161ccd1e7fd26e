/**
 * Configuration of the hook server, from the environment, parsed once at startup (fail fast).
 */
import { z } from "zod";
import { DEFAULT_OPERATOR_NAMESPACE } from "./constants.js";

const intFromEnv = (def: number, min: number, max: number) => z.coerce.number().int().min(min).max(max).default(def);

export const EnvConfigSchema = z.object({
  PORT: intFromEnv(8080, 0, 65535),
  HOST: z.string().default("0.0.0.0"),
  LOG_LEVEL: z.enum(["fatal", "error", "warn", "info", "debug", "trace", "silent"]).default("info"),
  /**
   * Largest request body accepted (every child and related pod travels in a sync). The largest
   * legitimate request, 9 instances with every child, their pods and 4 backup schedules' pods,
   * is about 0.4 MB (test/contract/body-limit.test.ts); 2 MB keeps 5x headroom while a body at
   * the limit costs a few tens of MB of the hook's 512 MiB (deploy/operator/deployment.yaml).
   */
  BODY_LIMIT: z
    .string()
    .regex(/^[0-9]+(kb|mb)$/)
    .default("2mb"),
  /** Budget of one sync; keep it well below the webhook timeout in metacontroller/. */
  SYNC_BUDGET_MS: intFromEnv(8000, 100, 60000),
  /** mysql2 connect and per-query timeouts used by every probe and operation. */
  MYSQL_CONNECT_TIMEOUT_MS: intFromEnv(1000, 50, 30000),
  MYSQL_QUERY_TIMEOUT_MS: intFromEnv(2000, 50, 60000),
  /** Seconds between resyncs while the cluster is converging. */
  RESYNC_CONVERGING_SECONDS: z.coerce.number().positive().max(3600).default(1),
  /**
   * Namespace the hook server runs in (deploy/ sets it from the downward API): the database pods'
   * NetworkPolicy `<c>` admits the hook pods of this namespace on 3306.
   */
  OPERATOR_NAMESPACE: z
    .string()
    .regex(/^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$/, "must be a namespace name (a DNS label)")
    .default(DEFAULT_OPERATOR_NAMESPACE),
});
export type EnvConfig = z.infer<typeof EnvConfigSchema>;

/** Parses the environment or throws one error listing every bad variable. */
export function loadEnvConfig(env: NodeJS.ProcessEnv = process.env): EnvConfig {
  const parsed = EnvConfigSchema.safeParse(env);
  if (!parsed.success) {
    const lines = parsed.error.issues.map((i) => `  ${i.path.join(".")}: ${i.message}`);
    throw new Error(`invalid environment:\n${lines.join("\n")}`);
  }
  return parsed.data;
}
