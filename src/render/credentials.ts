/**
 * Credentials: generated once from a CSPRNG, then carried over from the observed Secret on
 * every later sync (a regenerated password would lock the operator out of its own servers).
 */
import type { Cluster } from "../api/cluster.js";
import { SECRET_BACKUP_PASSWORD, SECRET_KEYS } from "../api/constants.js";
import type { Child, Secret } from "../api/k8s.js";
import { childNames, standardLabels } from "../api/names.js";

export type SecretKey = (typeof SECRET_KEYS)[number];
export type Credentials = Record<SecretKey, string>;

/** Decodes the password keys of a Secret; missing or empty keys are absent from the result. */
export function readSecretPasswords(secret: Secret | undefined): Partial<Credentials> {
  const out: Partial<Credentials> = {};
  if (!secret) return out;
  for (const key of SECRET_KEYS) {
    const encoded = secret.data?.[key];
    const plain = secret.stringData?.[key];
    const value = encoded !== undefined ? Buffer.from(encoded, "base64").toString("utf8") : plain;
    if (value) out[key] = value;
  }
  return out;
}

/**
 * The credentials the cluster uses: kept from the observed Secret, generated only for keys that
 * were never there. `generate` comes from the hook context (src/passwords.ts in production), so
 * rendering stays pure and tests are deterministic.
 */
export function resolveGeneratedCredentials(observed: Secret | undefined, generate: () => string): Credentials {
  const existing = readSecretPasswords(observed);
  return {
    "root-password": existing["root-password"] ?? generate(),
    "operator-password": existing["operator-password"] ?? generate(),
    "replication-password": existing["replication-password"] ?? generate(),
  };
}

/** The Secret `<c>-credentials` (rendered only when `credentialsSecretName` is not set). */
export function buildCredentialsSecret(cluster: Cluster, credentials: Credentials): Child {
  const data: Record<string, string> = {};
  for (const key of SECRET_KEYS) data[key] = Buffer.from(credentials[key], "utf8").toString("base64");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: childNames(cluster.name).secret, labels: standardLabels(cluster) },
    type: "Opaque",
    data,
  };
}

/** Name of the Secret the pods read their passwords from. */
export function credentialsSecretName(cluster: Cluster): string {
  return cluster.spec.credentialsSecretName ?? childNames(cluster.name).secret;
}

/**
 * The backup account's password: always operator-owned (Secret `<c>-backup-credentials`, key
 * `password`), also when the other credentials come from the user's Secret, so backup pods are
 * given this Secret only. Generated once, then carried over like the others.
 */
export function resolveBackupPassword(observed: Secret | undefined, generate: () => string): string {
  const encoded = observed?.data?.[SECRET_BACKUP_PASSWORD];
  const value = encoded !== undefined ? Buffer.from(encoded, "base64").toString("utf8") : observed?.stringData?.[SECRET_BACKUP_PASSWORD];
  return value || generate();
}

/** The Secret `<c>-backup-credentials`. */
export function buildBackupCredentialsSecret(cluster: Cluster, password: string): Child {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: childNames(cluster.name).backupSecret, labels: standardLabels(cluster) },
    type: "Opaque",
    data: { [SECRET_BACKUP_PASSWORD]: Buffer.from(password, "utf8").toString("base64") },
  };
}
