/**
 * StatefulSet `<c>`: ordered pods, one retained PVC each, the entrypoint and probes from the
 * ConfigMap, non-root and read-only root filesystem (ARCHITECTURE.md section 3).
 */
import { agentEnabled, agentImageFor, imageFor, type Cluster } from "../api/cluster.js";
import {
  AGENT_CONTAINER_NAME,
  AGENT_INIT_CONTAINER_NAME,
  AGENT_PORT,
  AGENT_PORT_NAME,
  AGENT_TOKEN_DIR,
  AGENT_TOKEN_VOLUME,
  ANNOTATION_CONFIG_HASH,
  ANNOTATION_ROOT_GENERATION,
  APPS_CREDENTIALS_DIR,
  APPS_CREDENTIALS_VOLUME,
  BACKUP_CREDENTIALS_DIR,
  BACKUP_CREDENTIALS_VOLUME,
  SECRET_APPS_PASSWORD,
  CONFIG_DIR,
  CONFIG_VOLUME,
  CONTAINER_NAME,
  CREDENTIALS_DIR,
  CREDENTIALS_VOLUME,
  DATA_DIR,
  DATA_VOLUME,
  MYSQL_PORT,
  PORT_NAME,
  RUN_DIR,
  SECRET_AGENT_TOKEN,
  SECRET_BACKUP_PASSWORD,
  SECRET_OPERATOR_PASSWORD,
  SECRET_REPLICATION_PASSWORD,
  SECRET_ROOT_PASSWORD,
  TERMINATION_GRACE_SECONDS,
  TMP_DIR,
} from "../api/constants.js";
import type { Child } from "../api/k8s.js";
import { withSeeding } from "../backup/seed.js";
import { credentialsSecretName } from "./credentials.js";
import { childNames, podSelector, standardLabels } from "../api/names.js";
import { canonicalQuantity, canonicalResourceList } from "../api/quantity.js";

/** The database container's user and group in the official mysql and mariadb images. */
export const DATABASE_UID = 999;

export interface StatefulSetOptions {
  /** Desired replicas (spec.instances, or more while a switchover precedes a scale-down). */
  replicas: number;
  /** Hash of the ConfigMap data, so a configuration change rolls the pods. */
  configHash: string;
  /** How many times root's password changed (ANNOTATION_ROOT_GENERATION); a change rolls the pods. */
  rootGeneration?: number;
  /**
   * `spec.volumeClaimTemplates` of the observed StatefulSet. It is immutable, so once the
   * StatefulSet exists we send back exactly what the API server holds.
   */
  observedVolumeClaimTemplates: unknown[] | undefined;
}

function probeScript(mode: string): string[] {
  return ["bash", `${CONFIG_DIR}/probe.sh`, mode];
}

function env(): unknown[] {
  const fromField = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { apiVersion: "v1", fieldPath } } });
  return [
    fromField("POD_NAME", "metadata.name"),
    fromField("POD_NAMESPACE", "metadata.namespace"),
    fromField("POD_IP", "status.podIP"),
    { name: "METAMYSQL_DATA_DIR", value: DATA_DIR },
    { name: "METAMYSQL_CONFIG_DIR", value: CONFIG_DIR },
    { name: "METAMYSQL_RUN_DIR", value: RUN_DIR },
    { name: "METAMYSQL_TMP_DIR", value: TMP_DIR },
    { name: "METAMYSQL_PORT", value: String(MYSQL_PORT) },
    // Passwords are files of the mounted Secrets, never environment variables (the server
    // inherits the entrypoint's environment).
    { name: "METAMYSQL_CREDENTIALS_DIR", value: CREDENTIALS_DIR },
    { name: "METAMYSQL_BACKUP_CREDENTIALS_DIR", value: BACKUP_CREDENTIALS_DIR },
    { name: "METAMYSQL_APPS_CREDENTIALS_DIR", value: APPS_CREDENTIALS_DIR },
    // Per-pod values only: the flavor and the operator's constants are in settings.env of the
    // ConfigMap (src/api/settings.ts), which changes together with the scripts.
  ];
}

function container(cluster: Cluster): Record<string, unknown> {
  const resources = cluster.spec.resources;
  const canonicalResources: Record<string, unknown> = {};
  const limits = canonicalResourceList(resources?.limits);
  const requests = canonicalResourceList(resources?.requests);
  if (limits) canonicalResources["limits"] = limits;
  if (requests) canonicalResources["requests"] = requests;
  const probe = (mode: string, periodSeconds: number, failureThreshold: number, timeoutSeconds: number) => ({
    exec: { command: probeScript(mode) },
    failureThreshold,
    initialDelaySeconds: 0,
    periodSeconds,
    successThreshold: 1,
    timeoutSeconds,
  });
  return {
    name: CONTAINER_NAME,
    image: imageFor(cluster.spec),
    imagePullPolicy: "IfNotPresent",
    command: ["bash", `${CONFIG_DIR}/entrypoint.sh`],
    env: env(),
    ports: [{ name: PORT_NAME, containerPort: MYSQL_PORT, protocol: "TCP" }],
    // Startup: initialization of a new data dir and crash recovery may take minutes.
    startupProbe: probe("readiness", 1, 600, 5),
    readinessProbe: probe("readiness", 2, 3, 5),
    livenessProbe: probe("liveness", 10, 6, 5),
    lifecycle: { preStop: { exec: { command: probeScript("prestop") } } },
    resources: canonicalResources,
    securityContext: RESTRICTED_CONTAINER,
    volumeMounts: [
      { name: DATA_VOLUME, mountPath: DATA_DIR },
      { name: CONFIG_VOLUME, mountPath: CONFIG_DIR, readOnly: true },
      { name: CREDENTIALS_VOLUME, mountPath: CREDENTIALS_DIR, readOnly: true },
      { name: BACKUP_CREDENTIALS_VOLUME, mountPath: BACKUP_CREDENTIALS_DIR, readOnly: true },
      { name: APPS_CREDENTIALS_VOLUME, mountPath: APPS_CREDENTIALS_DIR, readOnly: true },
      { name: "run", mountPath: RUN_DIR },
      { name: "tmp", mountPath: TMP_DIR },
    ],
  };
}

const AGENT_TMP_VOLUME = "agent-tmp";

/** Restricted Pod Security, read-only root filesystem: every container of the pod. */
const RESTRICTED_CONTAINER = {
  allowPrivilegeEscalation: false,
  capabilities: { drop: ["ALL"] },
  readOnlyRootFilesystem: true,
  runAsNonRoot: true,
};

/**
 * Env of the agent and its clone step (src/agent/cli.ts): paths only; the token and the backup
 * password are files of the mounted Secrets.
 */
function agentEnv(cluster: Cluster): unknown[] {
  const fromField = (name: string, fieldPath: string) => ({ name, valueFrom: { fieldRef: { apiVersion: "v1", fieldPath } } });
  return [
    fromField("POD_NAME", "metadata.name"),
    fromField("POD_IP", "status.podIP"),
    { name: "METAMYSQL_FLAVOR", value: cluster.spec.flavor },
    { name: "METAMYSQL_AGENT_PORT", value: String(AGENT_PORT) },
    { name: "METAMYSQL_AGENT_TOKEN_DIR", value: AGENT_TOKEN_DIR },
    { name: "METAMYSQL_DATA_DIR", value: DATA_DIR },
    { name: "METAMYSQL_CONFIG_DIR", value: CONFIG_DIR },
    { name: "METAMYSQL_RUN_DIR", value: RUN_DIR },
    { name: "METAMYSQL_BACKUP_CREDENTIALS_DIR", value: BACKUP_CREDENTIALS_DIR },
    { name: "TMPDIR", value: TMP_DIR },
  ];
}

/**
 * The agent sidecar (src/agent/server.ts): serves a physical copy of this instance to the
 * cluster's other pods on the pod IP, port `agent`; shares the data volume and the socket dir
 * (`run`) with the server. The data volume is mounted writable: a rebuild (issue 12 section 3)
 * will replace the data dir through the agent.
 */
function agentContainer(cluster: Cluster): Record<string, unknown> {
  return {
    name: AGENT_CONTAINER_NAME,
    image: agentImageFor(cluster.spec),
    imagePullPolicy: "IfNotPresent",
    command: ["metamysql", "agent", "serve"],
    env: agentEnv(cluster),
    ports: [{ name: AGENT_PORT_NAME, containerPort: AGENT_PORT, protocol: "TCP" }],
    readinessProbe: { httpGet: { path: "/healthz", port: AGENT_PORT_NAME }, periodSeconds: 10, failureThreshold: 3, timeoutSeconds: 2 },
    resources: { requests: { cpu: "50m", memory: "64Mi" } },
    securityContext: RESTRICTED_CONTAINER,
    volumeMounts: [
      { name: DATA_VOLUME, mountPath: DATA_DIR },
      { name: CONFIG_VOLUME, mountPath: CONFIG_DIR, readOnly: true },
      { name: BACKUP_CREDENTIALS_VOLUME, mountPath: BACKUP_CREDENTIALS_DIR, readOnly: true },
      { name: AGENT_TOKEN_VOLUME, mountPath: AGENT_TOKEN_DIR, readOnly: true },
      { name: "run", mountPath: RUN_DIR },
      { name: AGENT_TMP_VOLUME, mountPath: TMP_DIR },
    ],
  };
}

/**
 * The seeding init step (src/agent/clone.ts): a fresh data dir is cloned from a donor's agent
 * (ConfigMap file `agent-donors`); nothing happens for an initialized one, and any failure
 * leaves the data dir fresh for the entrypoint's logical path. Runs before the backup seeding
 * init containers (src/backup/seed.ts), which skip a cloned data dir.
 */
function cloneInitContainer(cluster: Cluster): Record<string, unknown> {
  return {
    name: AGENT_INIT_CONTAINER_NAME,
    image: agentImageFor(cluster.spec),
    imagePullPolicy: "IfNotPresent",
    command: ["metamysql", "agent", "clone"],
    env: agentEnv(cluster),
    securityContext: RESTRICTED_CONTAINER,
    volumeMounts: [
      { name: DATA_VOLUME, mountPath: DATA_DIR },
      { name: CONFIG_VOLUME, mountPath: CONFIG_DIR, readOnly: true },
      { name: AGENT_TOKEN_VOLUME, mountPath: AGENT_TOKEN_DIR, readOnly: true },
      { name: AGENT_TMP_VOLUME, mountPath: TMP_DIR },
    ],
  };
}

/** The pod spec's agent parts, when the agent runs (MariaDB unless spec.agent.enabled is false). */
function withAgent(cluster: Cluster, podSpec: Record<string, unknown>): Record<string, unknown> {
  if (!agentEnabled(cluster.spec)) return podSpec;
  return {
    ...podSpec,
    initContainers: [cloneInitContainer(cluster)],
    containers: [...(podSpec["containers"] as unknown[]), agentContainer(cluster)],
    volumes: [
      ...(podSpec["volumes"] as unknown[]),
      // Only the token: neither the signing key nor the backup password is in this volume.
      {
        name: AGENT_TOKEN_VOLUME,
        secret: { secretName: childNames(cluster.name).agentSecret, defaultMode: 0o440, items: [{ key: SECRET_AGENT_TOKEN, path: SECRET_AGENT_TOKEN }] },
      },
      { name: AGENT_TMP_VOLUME, emptyDir: {} },
    ],
  };
}

function volumeClaimTemplate(cluster: Cluster): Record<string, unknown> {
  const spec: Record<string, unknown> = {
    accessModes: ["ReadWriteOnce"],
    resources: { requests: { storage: canonicalQuantity(cluster.spec.storage.size) } },
    volumeMode: "Filesystem",
  };
  if (cluster.spec.storage.storageClassName) spec["storageClassName"] = cluster.spec.storage.storageClassName;
  return {
    apiVersion: "v1",
    kind: "PersistentVolumeClaim",
    metadata: { name: DATA_VOLUME, labels: standardLabels(cluster) },
    spec,
  };
}

/** The StatefulSet child. */
export function buildStatefulSet(cluster: Cluster, opts: StatefulSetOptions): Child {
  return withSeeding(cluster, buildBaseStatefulSet(cluster, opts));
}

function buildBaseStatefulSet(cluster: Cluster, opts: StatefulSetOptions): Child {
  const names = childNames(cluster.name);
  const selector = podSelector(cluster);
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: names.statefulSet, labels: standardLabels(cluster) },
    spec: {
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
      podManagementPolicy: "OrderedReady",
      replicas: opts.replicas,
      selector: { matchLabels: selector },
      serviceName: names.headless,
      template: {
        metadata: {
          annotations: {
            [ANNOTATION_CONFIG_HASH]: opts.configHash,
            ...(opts.rootGeneration ? { [ANNOTATION_ROOT_GENERATION]: String(opts.rootGeneration) } : {}),
          },
          labels: standardLabels(cluster),
        },
        spec: withAgent(cluster, {
          affinity: {
            podAntiAffinity: {
              preferredDuringSchedulingIgnoredDuringExecution: [
                {
                  podAffinityTerm: { labelSelector: { matchLabels: selector }, topologyKey: "kubernetes.io/hostname" },
                  weight: 100,
                },
              ],
            },
          },
          // Nothing in the pod talks to the Kubernetes API (the hooks do): no token to steal.
          automountServiceAccountToken: false,
          containers: [container(cluster)],
          enableServiceLinks: false,
          securityContext: {
            fsGroup: DATABASE_UID,
            fsGroupChangePolicy: "OnRootMismatch",
            runAsGroup: DATABASE_UID,
            runAsNonRoot: true,
            runAsUser: DATABASE_UID,
            seccompProfile: { type: "RuntimeDefault" },
          },
          terminationGracePeriodSeconds: TERMINATION_GRACE_SECONDS,
          volumes: [
            { name: CONFIG_VOLUME, configMap: { name: names.config, defaultMode: 0o555 } },
            // Only the keys the scripts read; readable by the database user (fsGroup) and nobody else.
            {
              name: CREDENTIALS_VOLUME,
              secret: {
                secretName: credentialsSecretName(cluster),
                defaultMode: 0o440,
                items: [SECRET_ROOT_PASSWORD, SECRET_OPERATOR_PASSWORD, SECRET_REPLICATION_PASSWORD].map((key) => ({ key, path: key })),
              },
            },
            {
              name: BACKUP_CREDENTIALS_VOLUME,
              secret: { secretName: names.backupSecret, defaultMode: 0o440, items: [{ key: SECRET_BACKUP_PASSWORD, path: SECRET_BACKUP_PASSWORD }] },
            },
            {
              name: APPS_CREDENTIALS_VOLUME,
              secret: { secretName: names.appsSecret, defaultMode: 0o440, items: [{ key: SECRET_APPS_PASSWORD, path: SECRET_APPS_PASSWORD }] },
            },
            { name: "run", emptyDir: {} },
            { name: "tmp", emptyDir: {} },
          ],
        }),
      },
      // Replaced after the patches by the supervised rollout's partition (src/render/rollout.ts).
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition: opts.replicas } },
      volumeClaimTemplates: opts.observedVolumeClaimTemplates ?? [volumeClaimTemplate(cluster)],
    },
  };
}
