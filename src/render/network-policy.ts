/**
 * NetworkPolicy `<c>`: who may reach the database pods (ARCHITECTURE.md section 3, README
 * "Security model"). It selects exactly the cluster's database pods and admits, on 3306:
 * - the cluster's own pods (replicas connect to the primary), and on the agent port (8081, when
 *   the agent sidecar runs) for the physical copies a fresh instance clones from a donor;
 * - the hook server's pods, in the operator namespace (probes and orchestration at the pod IPs);
 * - the cluster's backup pods (scheduled, final and MySQLBackup Jobs dump over 3306);
 * - the clients of `spec.networkPolicy.clients`; when that is omitted, every pod of the cluster's
 *   namespace, plus any address when the Service is exposed outside the cluster (NodePort,
 *   LoadBalancer). An empty list admits no application client.
 * Ingress only: the database pods' own connections (replication to the primary, S3 downloads of
 * seeding init containers, DNS) are not restricted here. Kubelet probes are exec probes and are
 * not subject to NetworkPolicy (the agent's httpGet readiness probe comes from the node, which
 * NetworkPolicy implementations admit). Pure and deterministic.
 */
import { agentEnabled, type Cluster } from "../api/cluster.js";
import {
  AGENT_PORT,
  COMPONENT_BACKUP,
  HOOK_POD_LABELS,
  LABEL_COMPONENT,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  LABEL_NAMESPACE_NAME,
  MANAGED_BY,
  MYSQL_PORT,
} from "../api/constants.js";
import type { Child } from "../api/k8s.js";
import type { NetworkPolicyClient } from "../api/network-policy.js";
import { childNames, podSelector, standardLabels } from "../api/names.js";

/** Where the operator runs: its hook pods are admitted from this namespace. */
export interface NetworkPolicyOptions {
  operatorNamespace: string;
}

/** A NetworkPolicy port entry. */
interface PolicyPort {
  port: number;
  protocol: "TCP";
}

/** One ingress rule as the API takes it. */
interface IngressRule {
  from: unknown[];
  ports: PolicyPort[];
}

const tcp = (port: number): PolicyPort => ({ port, protocol: "TCP" });

/** Every address, both families: what "any source" is in a NetworkPolicy peer list. */
const ANY_ADDRESS = [{ ipBlock: { cidr: "0.0.0.0/0" } }, { ipBlock: { cidr: "::/0" } }];

/**
 * Ports the cluster's own pods reach each other on: the server's, and the agent sidecar's when
 * it runs (physical copies for cloning and rebuilds, src/agent/).
 */
function peerPorts(cluster: Cluster): PolicyPort[] {
  return agentEnabled(cluster.spec) ? [tcp(MYSQL_PORT), tcp(AGENT_PORT)] : [tcp(MYSQL_PORT)];
}

/** The pods of the cluster's backups: CronJob, final-backup and MySQLBackup Jobs (src/backup/). */
function backupPods(cluster: Cluster): Record<string, string> {
  return { [LABEL_COMPONENT]: COMPONENT_BACKUP, [LABEL_INSTANCE]: cluster.name, [LABEL_MANAGED_BY]: MANAGED_BY };
}

/** The peers `spec.networkPolicy.clients` stands for (see the file comment for the default). */
export function clientPeers(cluster: Cluster): unknown[] {
  const clients = cluster.spec.networkPolicy.clients;
  if (clients !== undefined) return clients.map(peerOf);
  const exposed = cluster.spec.service.type === "NodePort" || cluster.spec.service.type === "LoadBalancer";
  return [{ podSelector: {} }, ...(exposed ? ANY_ADDRESS : [])];
}

/** A client as a NetworkPolicyPeer, keys in a fixed order (byte-identical output). */
function peerOf(client: NetworkPolicyClient): Record<string, unknown> {
  const selector = (s: NonNullable<NetworkPolicyClient["podSelector"]>) => ({
    ...(s.matchLabels !== undefined ? { matchLabels: s.matchLabels } : {}),
    ...(s.matchExpressions !== undefined
      ? { matchExpressions: s.matchExpressions.map((e) => ({ key: e.key, operator: e.operator, ...(e.values !== undefined ? { values: e.values } : {}) })) }
      : {}),
  });
  return {
    ...(client.ipBlock !== undefined ? { ipBlock: { cidr: client.ipBlock.cidr, ...(client.ipBlock.except ? { except: client.ipBlock.except } : {}) } } : {}),
    ...(client.namespaceSelector !== undefined ? { namespaceSelector: selector(client.namespaceSelector) } : {}),
    ...(client.podSelector !== undefined ? { podSelector: selector(client.podSelector) } : {}),
  };
}

/**
 * The ingress rules, in a fixed order: the ones the operator needs first (patch-policy keeps
 * them), then the application clients. Extension point: mysqld_exporter (`monitoring.exporter`,
 * port 9104) adds its own rule here, admitting the monitoring namespace to 9104 only.
 */
export function ingressRules(cluster: Cluster, opts: NetworkPolicyOptions): IngressRule[] {
  const rules: IngressRule[] = [
    { from: [{ podSelector: { matchLabels: podSelector(cluster) } }], ports: peerPorts(cluster) },
    {
      from: [{ namespaceSelector: { matchLabels: { [LABEL_NAMESPACE_NAME]: opts.operatorNamespace } }, podSelector: { matchLabels: { ...HOOK_POD_LABELS } } }],
      ports: [tcp(MYSQL_PORT)],
    },
    { from: [{ podSelector: { matchLabels: backupPods(cluster) } }], ports: [tcp(MYSQL_PORT)] },
  ];
  const clients = clientPeers(cluster);
  if (clients.length > 0) rules.push({ from: clients, ports: [tcp(MYSQL_PORT)] });
  return rules;
}

/** NetworkPolicy `<c>`, or none when `spec.networkPolicy.enabled` is false. */
export function buildNetworkPolicy(cluster: Cluster, opts: NetworkPolicyOptions): Child[] {
  if (!cluster.spec.networkPolicy.enabled) return [];
  return [
    {
      apiVersion: "networking.k8s.io/v1",
      kind: "NetworkPolicy",
      metadata: { name: childNames(cluster.name).networkPolicy, labels: standardLabels(cluster) },
      spec: {
        podSelector: { matchLabels: podSelector(cluster) },
        policyTypes: ["Ingress"],
        ingress: ingressRules(cluster, opts),
      },
    },
  ];
}
