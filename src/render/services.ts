/**
 * The three Services and the read-only EndpointSlice (ARCHITECTURE.md section 3):
 * `<c>-instances` (headless, per-pod DNS), `<c>` (read-write: the current primary's pod),
 * `<c>-ro` (read-only: no selector, endpoints listed by the operator).
 */
import type { Cluster } from "../api/cluster.js";
import { ENDPOINTSLICE_MANAGER, LABEL_ENDPOINTSLICE_MANAGED_BY, LABEL_POD_NAME, LABEL_SERVICE_NAME, MYSQL_PORT, PORT_NAME } from "../api/constants.js";
import type { Child } from "../api/k8s.js";
import { childNames, podSelector, standardLabels } from "../api/names.js";

const servicePort = { name: PORT_NAME, port: MYSQL_PORT, protocol: "TCP", targetPort: PORT_NAME };

/** Headless Service giving every pod `<c>-N.<c>-instances.<ns>.svc`, ready or not. */
export function buildHeadlessService(cluster: Cluster): Child {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: { name: childNames(cluster.name).headless, labels: standardLabels(cluster) },
    spec: {
      clusterIP: "None",
      ports: [servicePort],
      publishNotReadyAddresses: true,
      selector: podSelector(cluster),
      type: "ClusterIP",
    },
  };
}

function userServiceSpec(cluster: Cluster): Record<string, unknown> {
  return { type: cluster.spec.service.type };
}

function userServiceMetadata(cluster: Cluster, name: string): Child["metadata"] {
  const annotations = cluster.spec.service.annotations;
  return {
    name,
    labels: standardLabels(cluster),
    ...(annotations && Object.keys(annotations).length > 0 ? { annotations: sortedRecord(annotations) } : {}),
  };
}

/**
 * Read-write Service: selects exactly the primary's pod by its StatefulSet pod-name label.
 * With no primary the selector names no pod (empty value), so writes go nowhere rather than to a
 * read-only instance.
 */
export function buildReadWriteService(cluster: Cluster, primary: string | undefined): Child {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: userServiceMetadata(cluster, childNames(cluster.name).readWrite),
    spec: {
      ...userServiceSpec(cluster),
      ports: [servicePort],
      selector: { ...podSelector(cluster), [LABEL_POD_NAME]: primary ?? "" },
    },
  };
}

/** Read-only Service: no selector; its endpoints are the EndpointSlice of the same name. */
export function buildReadOnlyService(cluster: Cluster): Child {
  return {
    apiVersion: "v1",
    kind: "Service",
    metadata: userServiceMetadata(cluster, childNames(cluster.name).readOnly),
    spec: { ...userServiceSpec(cluster), ports: [{ name: PORT_NAME, port: MYSQL_PORT, protocol: "TCP", targetPort: MYSQL_PORT }] },
  };
}

/** An endpoint of the read-only Service: a pod and its IP. */
export interface ReadOnlyEndpoint {
  podName: string;
  ip: string;
}

/** EndpointSlice `<c>-ro`: the pods the operator chose to serve reads, in the given order. */
export function buildReadOnlyEndpointSlice(cluster: Cluster, endpoints: readonly ReadOnlyEndpoint[]): Child {
  const name = childNames(cluster.name).readOnly;
  const ipv6 = endpoints.length > 0 && endpoints.every((e) => e.ip.includes(":"));
  return {
    apiVersion: "discovery.k8s.io/v1",
    kind: "EndpointSlice",
    metadata: {
      name,
      labels: {
        ...standardLabels(cluster),
        [LABEL_ENDPOINTSLICE_MANAGED_BY]: ENDPOINTSLICE_MANAGER,
        [LABEL_SERVICE_NAME]: name,
      },
    },
    addressType: ipv6 ? "IPv6" : "IPv4",
    endpoints: endpoints.map((e) => ({
      addresses: [e.ip],
      conditions: { ready: true, serving: true, terminating: false },
      targetRef: { kind: "Pod", name: e.podName, namespace: cluster.namespace },
    })),
    ports: [{ name: PORT_NAME, port: MYSQL_PORT, protocol: "TCP" }],
  };
}

/** PodDisruptionBudget: at most one instance down by voluntary disruption. */
export function buildPodDisruptionBudget(cluster: Cluster): Child {
  return {
    apiVersion: "policy/v1",
    kind: "PodDisruptionBudget",
    metadata: { name: childNames(cluster.name).pdb, labels: standardLabels(cluster) },
    spec: { maxUnavailable: 1, selector: { matchLabels: podSelector(cluster) } },
  };
}

function sortedRecord(r: Record<string, string>): Record<string, string> {
  const out: Record<string, string> = {};
  for (const k of Object.keys(r).sort()) out[k] = r[k] ?? "";
  return out;
}
