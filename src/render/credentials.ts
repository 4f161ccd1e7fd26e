/**
 * Credentials: generated once from a CSPRNG, then carried over from the observed Secret on
 * every later sync (a regenerated password would lock the operator out of its own servers).
 */
import type { Cluster } from "../api/cluster.js";
import { createHash } from "node:crypto";
import { SECRET_AGENT_TOKEN, SECRET_APPS_PASSWORD, SECRET_BACKUP_PASSWORD, SECRET_BACKUP_SIGNING_KEY, SECRET_KEYS } from "../api/constants.js";
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
 * The agent token (Secret `<c>-agent-credentials`, key `agent-token`): what a pod presents to
 * another pod's agent for a physical copy (src/agent/). Operator-owned (so also with
 * credentialsSecretName, whose Secret the operator does not write): generated once, then carried
 * over from the observed Secret. A Secret of its own, not a key of `<c>-backup-credentials`:
 * Secrets are children Metacontroller never updates (OnDelete), so a cluster created before the
 * agent existed would never get the key, and its pods, which mount it, would never start.
 */
export function resolveAgentToken(observed: Secret | undefined, generate: () => string): string {
  const encoded = observed?.data?.[SECRET_AGENT_TOKEN];
  const value = encoded !== undefined ? Buffer.from(encoded, "base64").toString("utf8") : observed?.stringData?.[SECRET_AGENT_TOKEN];
  return value || generate();
}

/** The Secret `<c>-backup-credentials`: the backup account's password and the signing key. */
export function buildBackupCredentialsSecret(cluster: Cluster, password: string, signingKey: string): Child {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: childNames(cluster.name).backupSecret, labels: standardLabels(cluster) },
    type: "Opaque",
    data: {
      [SECRET_BACKUP_PASSWORD]: Buffer.from(password, "utf8").toString("base64"),
      [SECRET_BACKUP_SIGNING_KEY]: Buffer.from(signingKey, "utf8").toString("base64"),
    },
  };
}

/** The Secret `<c>-agent-credentials`: the agents' token. */
export function buildAgentCredentialsSecret(cluster: Cluster, agentToken: string): Child {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: childNames(cluster.name).agentSecret, labels: standardLabels(cluster) },
    type: "Opaque",
    data: { [SECRET_AGENT_TOKEN]: Buffer.from(agentToken, "utf8").toString("base64") },
  };
}

/**
 * The apps account's password (Secret `<c>-apps-credentials`, key `password`): operator-owned,
 * generated once, carried over like the others. Only the database pods and the MySQLDatabase /
 * MySQLUser hooks read it.
 */
export function resolveAppsPassword(observed: Secret | undefined, generate: () => string): string {
  const encoded = observed?.data?.[SECRET_APPS_PASSWORD];
  const value = encoded !== undefined ? Buffer.from(encoded, "base64").toString("utf8") : observed?.stringData?.[SECRET_APPS_PASSWORD];
  return value || generate();
}

/** The Secret `<c>-apps-credentials`. */
export function buildAppsCredentialsSecret(cluster: Cluster, password: string): Child {
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: childNames(cluster.name).appsSecret, labels: standardLabels(cluster) },
    type: "Opaque",
    data: { [SECRET_APPS_PASSWORD]: Buffer.from(password, "utf8").toString("base64") },
  };
}

/** Keys of `<c>-applied-credentials-<revision>`: the passwords the servers hold now. */
export const APPLIED_KEYS = ["root-password", "operator-password", "replication-password", "backup-password", "apps-password"] as const;
export type AppliedKey = (typeof APPLIED_KEYS)[number];

/**
 * The passwords the servers hold, as the hook last set or recorded them, and how many times
 * root's changed (`rootGeneration`, on the pod template: docs/clustering.md "Rotating
 * passwords"). Kept in the operator-owned Secret `<c>-applied-credentials-<revision>`, mounted by
 * no pod. Secrets are children Metacontroller never updates (OnDelete: a generated password must
 * never be overwritten), so a change is a new revision: the next name is created and the old one,
 * no longer rendered, deleted. Should the old go first, the servers hold the new passwords by then.
 */
export interface AppliedCredentials {
  passwords: Record<AppliedKey, string>;
  rootGeneration: number;
  /** The revision (name suffix) it was read from or is rendered as. */
  revision: number;
}

/** The desired passwords in the applied shape. */
export function desiredApplied(credentials: Credentials, backupPassword: string, appsPassword: string): Record<AppliedKey, string> {
  return { ...credentials, "backup-password": backupPassword, "apps-password": appsPassword };
}

function secretText(secret: Secret, key: string): string | undefined {
  const encoded = secret.data?.[key];
  return encoded !== undefined ? Buffer.from(encoded, "base64").toString("utf8") : secret.stringData?.[key];
}

/** The revision of an applied-credentials Secret's name, or undefined for any other name. */
export function appliedRevision(clusterName: string, secretName: string): number | undefined {
  const prefix = `${childNames(clusterName).appliedSecret}-`;
  if (!secretName.startsWith(prefix)) return undefined;
  const rest = secretName.slice(prefix.length);
  return /^(0|[1-9][0-9]{0,8})$/.test(rest) ? Number(rest) : undefined;
}

/**
 * The record with the highest revision among the observed Secrets; undefined when there is none
 * or it is incomplete (a cluster created before online rotation existed: its servers hold the
 * Secret's passwords, converged at their start).
 */
export function readAppliedCredentials(clusterName: string, secrets: readonly Secret[]): AppliedCredentials | undefined {
  let best: { secret: Secret; revision: number } | undefined;
  for (const secret of secrets) {
    const revision = appliedRevision(clusterName, secret.metadata.name);
    if (revision !== undefined && (!best || revision > best.revision)) best = { secret, revision };
  }
  if (!best) return undefined;
  const passwords: Partial<Record<AppliedKey, string>> = {};
  for (const key of APPLIED_KEYS) {
    const value = secretText(best.secret, key);
    if (!value) return undefined;
    passwords[key] = value;
  }
  const generation = Number(secretText(best.secret, "root-generation") ?? "0");
  return {
    passwords: passwords as Record<AppliedKey, string>,
    rootGeneration: Number.isSafeInteger(generation) && generation >= 0 ? generation : 0,
    revision: best.revision,
  };
}

/** Whether two records hold the same passwords and root generation. */
export function sameApplied(a: Omit<AppliedCredentials, "revision">, b: Omit<AppliedCredentials, "revision">): boolean {
  return a.rootGeneration === b.rootGeneration && APPLIED_KEYS.every((k) => a.passwords[k] === b.passwords[k]);
}

/** The Secret `<c>-applied-credentials-<revision>`. */
export function buildAppliedCredentialsSecret(cluster: Cluster, applied: AppliedCredentials): Child {
  const data: Record<string, string> = {};
  for (const key of APPLIED_KEYS) data[key] = Buffer.from(applied.passwords[key], "utf8").toString("base64");
  data["root-generation"] = Buffer.from(String(applied.rootGeneration), "utf8").toString("base64");
  return {
    apiVersion: "v1",
    kind: "Secret",
    metadata: { name: `${childNames(cluster.name).appliedSecret}-${applied.revision}`, labels: standardLabels(cluster) },
    type: "Opaque",
    data,
  };
}
