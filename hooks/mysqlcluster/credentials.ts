/**
 * Credentials of a cluster as a hook sees them (sync and finalize).
 */
import type { Cluster } from "../../src/api/cluster.js";
import { SecretSchema } from "../../src/api/k8s.js";
import { findObserved } from "../../src/render/children.js";
import {
  readSecretPasswords,
  resolveAgentToken,
  resolveAppsPassword,
  resolveBackupPassword,
  resolveBackupSigningKey,
  resolveGeneratedCredentials,
  type Credentials,
} from "../../src/render/credentials.js";
import { childNames } from "../../src/api/names.js";
import { findSecret, type ParsedSync } from "./request.js";

/**
 * The passwords in use: from the user's Secret (related object) or the generated one
 * (carried over from the observed child). `ready` is false until the Secret exists in the API
 * server, i.e. until pods can have been started with it.
 */
export function credentialsOf(
  cluster: Cluster,
  parsed: ParsedSync,
  generate: () => string,
): { credentials: Credentials; backupPassword: string; backupSigningKey: string; appsPassword: string; agentToken: string; ready: boolean; problem?: string } {
  const backupObj = findObserved(parsed.children, "Secret", childNames(cluster.name).backupSecret);
  const backupSecret = backupObj ? SecretSchema.safeParse(backupObj) : undefined;
  const backupPassword = resolveBackupPassword(backupSecret?.success ? backupSecret.data : undefined, generate);
  const backupSigningKey = resolveBackupSigningKey(backupSecret?.success ? backupSecret.data : undefined, generate);
  const appsObj = findObserved(parsed.children, "Secret", childNames(cluster.name).appsSecret);
  const appsSecret = appsObj ? SecretSchema.safeParse(appsObj) : undefined;
  const appsPassword = resolveAppsPassword(appsSecret?.success ? appsSecret.data : undefined, generate);
  const agentObj = findObserved(parsed.children, "Secret", childNames(cluster.name).agentSecret);
  const agentSecret = agentObj ? SecretSchema.safeParse(agentObj) : undefined;
  const agentToken = resolveAgentToken(agentSecret?.success ? agentSecret.data : undefined, generate);
  if (cluster.spec.credentialsSecretName) {
    const name = cluster.spec.credentialsSecretName;
    const found = readSecretPasswords(findSecret(parsed.secrets, name));
    const missing = (["root-password", "operator-password", "replication-password"] as const).filter((k) => !found[k]);
    const credentials: Credentials = {
      "root-password": found["root-password"] ?? "",
      "operator-password": found["operator-password"] ?? "",
      "replication-password": found["replication-password"] ?? "",
    };
    if (missing.length > 0)
      return {
        credentials,
        backupPassword,
        backupSigningKey,
        appsPassword,
        agentToken,
        ready: false,
        problem: `Secret ${name} is missing or lacks keys: ${missing.join(", ")}`,
      };
    return { credentials, backupPassword, backupSigningKey, appsPassword, agentToken, ready: true };
  }
  const obj = findObserved(parsed.children, "Secret", childNames(cluster.name).secret);
  const secret = obj ? SecretSchema.safeParse(obj) : undefined;
  const observed = secret?.success ? secret.data : undefined;
  return {
    credentials: resolveGeneratedCredentials(observed, generate),
    backupPassword,
    backupSigningKey,
    appsPassword,
    agentToken,
    ready: observed !== undefined,
  };
}
