/**
 * Credentials: generated once from a CSPRNG, then carried over from the observed Secret on
 * every later sync (a regenerated password would lock the operator out of its own servers).
 */
import type { Cluster } from "../api/cluster.js";
import { createHash } from "node:crypto";
import { SECRET_AGENT_TOKEN, SECRET_BACKUP_PASSWORD, SECRET_BACKUP_SIGNING_KEY, SECRET_KEYS } from "../api/constants.js";
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

/** A backup signing key: 64 hex digits. */
export const SIGNING_KEY_PATTERN = /^[0-9a-f]{64}$/;

/**
 * The backup signing key (Secret `<c>-backup-credentials`, key `signing-key`): carried over from
 * the observed Secret, generated only when it was never there. It is always operator-owned (also
 * with `credentialsSecretName`): the backup pods get that Secret only. Generated as the SHA-256 of
 * two CSPRNG passwords (`generate`, ~186 bits each): 32 bytes, written as 64 hex digits. A value
 * that is not 64 hex digits (edited by hand) is kept as it is: backups then fail with a clear
 * message rather than the key silently changing under the stored backups.
 */
export function resolveBackupSigningKey(observed: Secret | undefined, generate: () => string): string {
  const encoded = observed?.data?.[SECRET_BACKUP_SIGNING_KEY];
  const value = encoded !== undefined ? Buffer.from(encoded, "base64").toString("utf8") : observed?.stringData?.[SECRET_BACKUP_SIGNING_KEY];
  if (value) return value;
  return createHash("sha256").update(`${generate()}\n${generate()}`).digest("hex");
}

/**
 * The agent token (Secret `<c>-backup-credentials`, key `agent-token`): what a pod presents to
 * another pod's agent for a physical copy (src/agent/). Operator-owned like the backup password
 * (so also with credentialsSecretName, whose Secret the operator does not write): generated once,
 * then carried over from the observed Secret.
 */
export function resolveAgentToken(observed: Secret | undefined, generate: () => string): string {
  const encoded = observed?.data?.[SECRET_AGENT_TOKEN];
  const value = encoded !== undefined ? Buffer.from(encoded, "base64").toString("utf8") : observed?.stringData?.[SECRET_AGENT_TOKEN];
  return value || generate();
}

/** The Secret `<c>-backup-credentials`: the backup account's password, the signing key and the agent token. */
export function buildBackupCredentialsSecret(cluster: Cluster, password: string, signingKey: string, agentToken: string): Child {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: childNames(cluster.name).backupSecret, labels: standardLabels(cluster) },
    type: "Opaque",
    data: {
      [SECRET_BACKUP_PASSWORD]: Buffer.from(password, "utf8").toString("base64"),
      [SECRET_BACKUP_SIGNING_KEY]: Buffer.from(signingKey, "utf8").toString("base64"),
      [SECRET_AGENT_TOKEN]: Buffer.from(agentToken, "utf8").toString("base64"),
    },
  };
}
