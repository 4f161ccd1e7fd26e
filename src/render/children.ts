/**
 * All desired children of a cluster, in a fixed order, with `spec.patches` applied last.
 * Pure and deterministic: the same input gives byte-identical output.
 */
import { agentEnabled, type Cluster } from "../api/cluster.js";
import { AGENT_DONORS_FILE } from "../api/constants.js";
import type { Child, KubeObject } from "../api/k8s.js";
import { buildScheduleCronJobs, type ClusterBackupSources } from "../backup/cluster-children.js";
import { buildConfigMap, configFiles, configHash } from "./configmap.js";
import {
  buildAgentCredentialsSecret,
  buildAppliedCredentialsSecret,
  buildAppsCredentialsSecret,
  buildBackupCredentialsSecret,
  buildCredentialsSecret,
  type AppliedCredentials,
  type Credentials,
} from "./credentials.js";
import { childNames } from "../api/names.js";
import { buildNetworkPolicy } from "./network-policy.js";
import { applyChildPatches, type PatchFailure } from "./patches.js";
import {
  buildHeadlessService,
  buildPodDisruptionBudget,
  buildReadOnlyEndpointSlice,
  buildReadOnlyService,
  buildReadWriteService,
  type ReadOnlyEndpoint,
} from "./services.js";
import { withRolloutControl } from "./rollout.js";
import { buildStatefulSet } from "./statefulset.js";

export interface RenderInput {
  cluster: Cluster;
  /** Children observed by Metacontroller (any kinds; looked up by kind and name). */
  observed: readonly KubeObject[];
  /** Credentials for the generated Secret; ignored when `credentialsSecretName` is set. */
  credentials: Credentials;
  /** Password of the backup account (Secret `<c>-backup-credentials`, always rendered). */
  backupPassword: string;
  /** Backup signing key (same Secret, key `signing-key`, docs/backups.md "Signed backups"). */
  backupSigningKey: string;
  /** The agents' token (same Secret, key `agent-token`, src/agent/). */
  agentToken: string;
  /** The apps account's password (Secret `<c>-apps-credentials`, MySQLDatabase/MySQLUser hooks). */
  appsPassword: string;
  /**
   * The passwords the servers hold (Secret `<c>-applied-credentials`, docs/clustering.md
   * "Rotating passwords"); the desired ones when omitted. Its root generation goes on the pod
   * template.
   */
  applied?: AppliedCredentials;
  /** Pod name of the current primary, if any. */
  primary: string | undefined;
  /**
   * Pods served by `<c>-ro`: the caught-up replicas, else the primary alone. Also the donors a
   * fresh instance clones from (ConfigMap file `agent-donors`, when the agent runs).
   */
  readOnlyEndpoints: readonly ReadOnlyEndpoint[];
  /** StatefulSet replicas; defaults to spec.instances. */
  replicas?: number;
  /**
   * The StatefulSet's rolling-update partition planned by the decider (src/topology/rollout.ts);
   * undefined holds every pod. A pod template the observed StatefulSet has not been sent yet is
   * always held (src/render/rollout.ts).
   */
  partition?: number;
  /** Instances the scheduled backups (CronJobs, docs/backups.md) may dump; none when omitted. */
  backupSources?: ClusterBackupSources;
  /**
   * `renderConfig(cluster)` computed by the caller (the hook caches it by cluster spec); rendered
   * here when omitted. Not mutated.
   */
  config?: RenderedConfig;
  /** Namespace of the hook server (EnvConfig OPERATOR_NAMESPACE): NetworkPolicy `<c>` admits its pods. */
  operatorNamespace: string;
}

export type RenderResult = { ok: true; children: Child[] } | { ok: false; failure: PatchFailure };

/** Finds an observed child by kind and name. */
export function findObserved(observed: readonly KubeObject[], kind: string, name: string): KubeObject | undefined {
  return observed.find((o) => o.kind === kind && o.metadata.name === name);
}

function observedVolumeClaimTemplates(sts: KubeObject | undefined): unknown[] | undefined {
  const spec = sts?.["spec"];
  if (typeof spec !== "object" || spec === null || !("volumeClaimTemplates" in spec)) return undefined;
  const templates = spec.volumeClaimTemplates;
  return Array.isArray(templates) && templates.length > 0 ? templates : undefined;
}

/** The ConfigMap data and the hash put on the pod template (depends only on the cluster). */
export interface RenderedConfig {
  data: Record<string, string>;
  hash: string;
}

/** Renders the ConfigMap data and its hash; pure, no memoization (callers may cache it). */
export function renderConfig(cluster: Cluster): RenderedConfig {
  const files = configFiles(cluster);
  // The hash covers only what the database pods read (src/render/configmap.ts).
  return { data: { ...files.database, ...files.backupOnly }, hash: configHash(files.database) };
}

/**
 * The donors file of ConfigMap `<c>-config` (src/agent/clone.ts parses it): `<pod> <ip>` per
 * line, in the order a fresh instance tries them; empty when there is none yet.
 */
export function agentDonors(endpoints: readonly ReadOnlyEndpoint[]): string {
  return endpoints.map((e) => `${e.podName} ${e.ip}\n`).join("");
}

/** Renders every child of the cluster. */
export function renderChildren(input: RenderInput): RenderResult {
  const { cluster } = input;
  const names = childNames(cluster.name);
  const config = input.config ?? renderConfig(cluster);
  const data = { ...config.data };
  // Not part of the hash (pods read it at start only): a changing donor list never rolls the pods.
  if (agentEnabled(cluster.spec)) data[AGENT_DONORS_FILE] = agentDonors(input.readOnlyEndpoints);
  const hash = config.hash;
  const sts = findObserved(input.observed, "StatefulSet", names.statefulSet);
  const children: Child[] = [];
  if (!cluster.spec.credentialsSecretName) children.push(buildCredentialsSecret(cluster, input.credentials));
  children.push(buildBackupCredentialsSecret(cluster, input.backupPassword, input.backupSigningKey));
  children.push(buildAppsCredentialsSecret(cluster, input.appsPassword));
  children.push(buildAgentCredentialsSecret(cluster, input.agentToken));
  const applied = input.applied ?? {
    passwords: { ...input.credentials, "backup-password": input.backupPassword, "apps-password": input.appsPassword },
    rootGeneration: 0,
    revision: 0,
  };
  children.push(buildAppliedCredentialsSecret(cluster, applied));
  children.push(
    buildConfigMap(cluster, data),
    buildHeadlessService(cluster),
    buildReadWriteService(cluster, input.primary),
    buildReadOnlyService(cluster),
    buildReadOnlyEndpointSlice(cluster, input.readOnlyEndpoints),
    buildStatefulSet(cluster, {
      replicas: input.replicas ?? cluster.spec.instances,
      configHash: hash,
      rootGeneration: applied.rootGeneration,
      observedVolumeClaimTemplates: observedVolumeClaimTemplates(sts),
    }),
    buildPodDisruptionBudget(cluster),
    ...buildNetworkPolicy(cluster, { operatorNamespace: input.operatorNamespace }),
    ...buildScheduleCronJobs(cluster, input.backupSources ?? { sources: [], primary: undefined }),
  );
  const patched = applyChildPatches(children, cluster.spec.patches);
  // After the patches: the rollout is the operator's to drive, one supervised step at a time.
  return patched.ok ? { ok: true, children: withRolloutControl(patched.children, names.statefulSet, sts, input.partition) } : patched;
}
