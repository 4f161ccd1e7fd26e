/**
 * Labels and selectors shared by every child (ARCHITECTURE.md section 3).
 */
import type { Cluster } from "./cluster.js";
import { COMPONENT_DATABASE, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME, MANAGED_BY } from "./constants.js";

/** The four standard labels of every child of `cluster`. */
export function standardLabels(cluster: Cluster): Record<string, string> {
  return {
    [LABEL_COMPONENT]: COMPONENT_DATABASE,
    [LABEL_INSTANCE]: cluster.name,
    [LABEL_MANAGED_BY]: MANAGED_BY,
    [LABEL_NAME]: cluster.spec.flavor,
  };
}

/**
 * The pod selector: stable for the life of the cluster (a StatefulSet selector is immutable),
 * so it only uses labels derived from immutable fields (name, flavor).
 */
export function podSelector(cluster: Cluster): Record<string, string> {
  return standardLabels(cluster);
}

/** Names of the children of a cluster named `c`. */
export function childNames(c: string): {
  secret: string;
  backupSecret: string;
  /** Prefix of `<c>-applied-credentials-<revision>` (src/render/credentials.ts). */
  appliedSecret: string;
  /** The apps account's password (MySQLDatabase/MySQLUser hooks), operator-owned. */
  appsSecret: string;
  /** The agents' token (src/agent/), operator-owned. */
  agentSecret: string;
  config: string;
  headless: string;
  readWrite: string;
  readOnly: string;
  statefulSet: string;
  pdb: string;
  networkPolicy: string;
} {
  return {
    secret: `${c}-credentials`,
    backupSecret: `${c}-backup-credentials`,
    appliedSecret: `${c}-applied-credentials`,
    appsSecret: `${c}-apps-credentials`,
    agentSecret: `${c}-agent-credentials`,
    config: `${c}-config`,
    headless: `${c}-instances`,
    readWrite: c,
    readOnly: `${c}-ro`,
    statefulSet: c,
    pdb: c,
    networkPolicy: c,
  };
}

/** Pod name of instance `ordinal`. */
export function podName(c: string, ordinal: number): string {
  return `${c}-${ordinal}`;
}
