/**
 * NetworkPolicy `<c>` (src/render/network-policy.ts, spec.networkPolicy in src/api/network-policy.ts):
 * who may reach the database pods. Checks what it admits, that its selectors really select the
 * pods they are meant for (database, backup and hook pods as rendered or shipped), the spec's
 * validation of client peers, and the official schema.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { MySQLClusterSpecSchema, type Cluster, type MySQLClusterSpecInput } from "../../src/api/cluster.js";
import { HOOK_POD_LABELS, MYSQL_PORT } from "../../src/api/constants.js";
import { EnvConfigSchema } from "../../src/api/env.js";
import type { Child } from "../../src/api/k8s.js";
import { parseCidr, strictlyWithin } from "../../src/api/network-policy.js";
import { buildFinalBackupJob, buildScheduleCronJobs } from "../../src/backup/cluster-children.js";
import { renderChildren } from "../../src/render/children.js";
import { buildNetworkPolicy } from "../../src/render/network-policy.js";
import { backupLabels } from "../../hooks/mysqlbackup/sync.js";
import { validateKubeObject } from "../helpers/kube-schema.js";

const ROOT = resolve(import.meta.dirname, "../..");
const OPS = { operatorNamespace: "ops" };

function cluster(spec: MySQLClusterSpecInput = {}, name = "shop"): Cluster {
  return { name, namespace: "prod", uid: "uid-1", generation: 1, creationTimestamp: undefined, spec: MySQLClusterSpecSchema.parse(spec), status: {} };
}

type Selector = { matchLabels?: Record<string, string>; matchExpressions?: Array<{ key: string; operator: string; values?: string[] }> };
type Peer = { podSelector?: Selector; namespaceSelector?: Selector; ipBlock?: { cidr: string; except?: string[] } };
type Rule = { from: Peer[]; ports: Array<{ port: number; protocol: string }> };
type Policy = { metadata: { name: string; labels: Record<string, string> }; spec: { podSelector: Selector; policyTypes: string[]; ingress: Rule[] } };

function policy(spec: MySQLClusterSpecInput = {}, opts = OPS): Policy {
  const [np, ...rest] = buildNetworkPolicy(cluster(spec), opts);
  expect(rest).toEqual([]);
  if (!np) throw new Error("no NetworkPolicy rendered");
  validateKubeObject(np);
  return np as unknown as Policy;
}

/** A LabelSelector's verdict on a set of labels, as the API server evaluates it. */
function matches(sel: Selector, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  const byExpr = (sel.matchExpressions ?? []).every((e) => {
    const has = e.key in labels;
    switch (e.operator) {
      case "In":
        return has && (e.values ?? []).includes(labels[e.key] ?? "");
      case "NotIn":
        return !has || !(e.values ?? []).includes(labels[e.key] ?? "");
      case "Exists":
        return has;
      default:
        return !has;
    }
  });
  return byLabels && byExpr;
}

/** Whether the policy admits a pod (labels, namespace labels) to `port`. */
function admits(p: Policy, from: { labels: Record<string, string>; namespace: string }, port = MYSQL_PORT, policyNamespace = "prod"): boolean {
  const nsLabels = { "kubernetes.io/metadata.name": from.namespace };
  return p.spec.ingress.some(
    (r) =>
      r.ports.some((x) => x.port === port) &&
      r.from.some((peer) => {
        if (peer.ipBlock) return false;
        const nsOk = peer.namespaceSelector ? matches(peer.namespaceSelector, nsLabels) : from.namespace === policyNamespace;
        const podOk = peer.podSelector ? matches(peer.podSelector, from.labels) : true;
        return nsOk && podOk;
      }),
  );
}

const hookPod = { labels: { ...HOOK_POD_LABELS, "pod-template-hash": "abc" }, namespace: "ops" };
const appPod = { labels: { app: "shop-frontend" }, namespace: "prod" };

describe("NetworkPolicy <c>", () => {
  it("selects exactly the pods of the cluster's StatefulSet, Ingress only, with the standard labels", () => {
    const r = renderChildren({
      cluster: cluster({ flavor: "mariadb" }),
      observed: [],
      credentials: { "root-password": "r", "operator-password": "o", "replication-password": "p" },
      backupPassword: "b",
      backupSigningKey: "a".repeat(64),
      appsPassword: "apps-pw",
      agentToken: "agent-token",
      primary: undefined,
      readOnlyEndpoints: [],
      operatorNamespace: "ops",
    });
    if (!r.ok) throw new Error(r.failure.message);
    const np = r.children.find((c) => c.kind === "NetworkPolicy") as unknown as Policy;
    const sts = r.children.find((c) => c.kind === "StatefulSet") as unknown as { spec: { template: { metadata: { labels: Record<string, string> } } } };
    expect(np.metadata.name).toBe("shop");
    expect(np.spec.policyTypes).toEqual(["Ingress"]);
    const podLabels = { ...sts.spec.template.metadata.labels, "statefulset.kubernetes.io/pod-name": "shop-1" };
    expect(matches(np.spec.podSelector, podLabels)).toBe(true);
    expect(np.metadata.labels).toEqual(sts.spec.template.metadata.labels);
    // Another cluster's pods in the namespace are neither selected nor admitted as peers.
    const other = cluster({ flavor: "mariadb" }, "shop2");
    const otherPods = buildNetworkPolicy(other, OPS)[0] as unknown as Policy;
    expect(matches(np.spec.podSelector, otherPods.spec.podSelector.matchLabels ?? {})).toBe(false);
  });

  it("admits the cluster's own pods (replication), the hook pods of the operator namespace and the cluster's backups on 3306", () => {
    const np = policy();
    const own = { labels: np.spec.podSelector.matchLabels ?? {}, namespace: "prod" };
    expect(admits(np, own)).toBe(true);
    expect(admits(np, hookPod)).toBe(true);
    // Hook pods elsewhere, or other pods of the operator namespace, are not the operator.
    expect(admits(np, { ...hookPod, namespace: "elsewhere" })).toBe(false);
    expect(admits(np, { labels: { app: "other" }, namespace: "ops" })).toBe(false);
    // Only 3306: no other port is open to anyone.
    expect(np.spec.ingress.flatMap((r) => r.ports)).toEqual(np.spec.ingress.map(() => ({ port: 3306, protocol: "TCP" })));
  });

  it("the operator namespace comes from the hook's env config (OPERATOR_NAMESPACE, default metamysql-system)", () => {
    expect(EnvConfigSchema.parse({}).OPERATOR_NAMESPACE).toBe("metamysql-system");
    expect(EnvConfigSchema.parse({ OPERATOR_NAMESPACE: "dbops" }).OPERATOR_NAMESPACE).toBe("dbops");
    expect(EnvConfigSchema.safeParse({ OPERATOR_NAMESPACE: "Not A Namespace" }).success).toBe(false);
    const np = policy({}, { operatorNamespace: "dbops" });
    expect(admits(np, { ...hookPod, namespace: "dbops" })).toBe(true);
    expect(admits(np, hookPod)).toBe(false);
  });

  it("admits the pods of every kind of backup of this cluster, and not another cluster's", () => {
    const PVC = { persistentVolumeClaim: { claimName: "b" } };
    // No application clients: only the rules the operator needs.
    const c = cluster({ networkPolicy: { clients: [] }, backups: { onDelete: true, schedules: [{ name: "nightly", schedule: "@daily", storage: PVC }] } });
    const src = { sources: [{ pod: "shop-1", ip: "10.0.0.2" }], primary: undefined };
    const np = buildNetworkPolicy(c, OPS)[0] as unknown as Policy;
    type Tpl = {
      spec: {
        jobTemplate?: { spec: { template: { metadata: { labels: Record<string, string> } } } };
        template?: { metadata: { labels: Record<string, string> } };
      };
    };
    const cron = buildScheduleCronJobs(c, src)[0] as unknown as Tpl;
    const final = buildFinalBackupJob(c, src, undefined) as unknown as Tpl;
    for (const labels of [
      cron.spec.jobTemplate?.spec.template.metadata.labels ?? {},
      final.spec.template?.metadata.labels ?? {},
      backupLabels("shop", "adhoc"), // a MySQLBackup's Job pods
    ]) {
      expect(admits(np, { labels, namespace: "prod" }), JSON.stringify(labels)).toBe(true);
    }
    expect(admits(np, { labels: backupLabels("shop2", "adhoc"), namespace: "prod" })).toBe(false);
  });

  it("default clients: every pod of the cluster's namespace, nothing from other namespaces", () => {
    const np = policy();
    expect(admits(np, appPod)).toBe(true);
    expect(admits(np, { ...appPod, namespace: "other" })).toBe(false);
    expect(np.spec.ingress.some((r) => r.from.some((p) => p.ipBlock))).toBe(false);
  });

  it.each(["NodePort", "LoadBalancer"] as const)("default clients with a %s Service: also any address (the Service is exposed on purpose)", (type) => {
    const np = policy({ service: { type } });
    const blocks = np.spec.ingress.flatMap((r) => r.from.flatMap((p) => (p.ipBlock ? [p.ipBlock.cidr] : [])));
    expect(blocks).toEqual(["0.0.0.0/0", "::/0"]);
  });

  it("listed clients replace the default, verbatim (even with a LoadBalancer), and [] admits no application client", () => {
    const clients = [
      {
        namespaceSelector: { matchLabels: { team: "shop" } },
        podSelector: { matchExpressions: [{ key: "role", operator: "In" as const, values: ["api", "worker"] }] },
      },
      { podSelector: { matchLabels: { app: "shop-frontend" } } },
      { ipBlock: { cidr: "10.20.0.0/16", except: ["10.20.5.0/24"] } },
    ];
    const np = policy({ service: { type: "LoadBalancer" }, networkPolicy: { clients } });
    expect(np.spec.ingress.at(-1)).toEqual({ from: clients, ports: [{ port: 3306, protocol: "TCP" }] });
    expect(np.spec.ingress).toHaveLength(4);
    expect(admits(np, appPod)).toBe(true);
    expect(admits(np, { labels: { app: "x" }, namespace: "prod" })).toBe(false);

    const locked = policy({ networkPolicy: { clients: [] } });
    expect(locked.spec.ingress).toHaveLength(3);
    expect(admits(locked, appPod)).toBe(false);
    expect(admits(locked, hookPod)).toBe(true);
  });

  it("enabled: false renders no NetworkPolicy (Metacontroller then deletes an existing one)", () => {
    expect(buildNetworkPolicy(cluster({ networkPolicy: { enabled: false } }), OPS)).toEqual([]);
    expect(MySQLClusterSpecSchema.parse({}).networkPolicy).toEqual({ enabled: true });
  });

  it("is deterministic: byte-identical from independently parsed specs with keys in any order", () => {
    const a = { networkPolicy: { clients: [{ podSelector: { matchLabels: { a: "1" } }, namespaceSelector: { matchLabels: { b: "2" } } }] } };
    const b = { networkPolicy: { clients: [{ namespaceSelector: { matchLabels: { b: "2" } }, podSelector: { matchLabels: { a: "1" } } }] } };
    expect(JSON.stringify(buildNetworkPolicy(cluster(a), OPS))).toBe(JSON.stringify(buildNetworkPolicy(cluster(b), OPS)));
  });

  it("the shipped hook Deployment's pods carry the labels the policy admits", () => {
    const docs = parseAllDocuments(readFileSync(resolve(ROOT, "deploy/operator/deployment.yaml"), "utf8")).map((d) => d.toJSON() as Child);
    const dep = docs.find((d) => d.kind === "Deployment") as unknown as {
      metadata: { namespace: string };
      spec: { template: { metadata: { labels: Record<string, string> } } };
    };
    expect(
      admits(policy({}, { operatorNamespace: dep.metadata.namespace }), { labels: dep.spec.template.metadata.labels, namespace: dep.metadata.namespace }),
    ).toBe(true);
  });
});

describe("spec.networkPolicy.clients validation", () => {
  const issues = (clients: unknown[]): string[] => {
    const r = MySQLClusterSpecSchema.safeParse({ networkPolicy: { clients } });
    return r.success ? [] : r.error.issues.map((i) => `${i.path.join(".")}: ${i.message}`);
  };
  it.each<[string, unknown, string]>([
    ["an empty peer", {}, "needs podSelector, namespaceSelector or ipBlock"],
    ["ipBlock with a selector", { podSelector: {}, ipBlock: { cidr: "10.0.0.0/8" } }, "cannot be combined"],
    ["a bad CIDR", { ipBlock: { cidr: "10.0.0.300/8" } }, "must be a CIDR"],
    ["a CIDR without a prefix", { ipBlock: { cidr: "10.0.0.1" } }, "must be a CIDR"],
    ["except outside cidr", { ipBlock: { cidr: "10.0.0.0/16", except: ["10.1.0.0/24"] } }, "not strictly inside"],
    ["except equal to cidr", { ipBlock: { cidr: "10.0.0.0/16", except: ["10.0.0.0/16"] } }, "not strictly inside"],
    ["In without values", { podSelector: { matchExpressions: [{ key: "a", operator: "In" }] } }, "needs at least one value"],
    ["Exists with values", { podSelector: { matchExpressions: [{ key: "a", operator: "Exists", values: ["x"] }] } }, "takes no values"],
    ["an unknown operator", { podSelector: { matchExpressions: [{ key: "a", operator: "Gt", values: ["1"] }] } }, "operator"],
    ["a bad label key", { podSelector: { matchLabels: { "-bad": "x" } } }, 'label key "-bad"'],
    ["a bad key prefix", { namespaceSelector: { matchLabels: { "Example.COM/x": "y" } } }, "prefix must be a DNS subdomain"],
    ["a bad label value", { podSelector: { matchLabels: { app: "a b" } } }, 'label value "a b"'],
    ["a too long label value", { podSelector: { matchLabels: { app: "x".repeat(64) } } }, "at most 63"],
  ])("rejects %s with a clear message", (_name, client, message) => {
    const found = issues([client]);
    expect(found.join("\n")).toContain(message);
    expect(found.every((i) => i.startsWith("networkPolicy.clients.0"))).toBe(true);
  });
  it("accepts every kind of peer the API accepts", () => {
    expect(
      issues([
        { podSelector: {} },
        { namespaceSelector: {} },
        {
          namespaceSelector: { matchLabels: { "kubernetes.io/metadata.name": "web" } },
          podSelector: { matchLabels: { "app.kubernetes.io/name": "shop", empty: "" } },
        },
        {
          podSelector: {
            matchExpressions: [
              { key: "tier", operator: "NotIn", values: ["batch"] },
              { key: "canary", operator: "DoesNotExist" },
            ],
          },
        },
        { ipBlock: { cidr: "0.0.0.0/0", except: ["169.254.0.0/16"] } },
        { ipBlock: { cidr: "fd00::/8", except: ["fd00:1::/32"] } },
        { ipBlock: { cidr: "::ffff:10.0.0.0/104" } },
      ]),
    ).toEqual([]);
  });
  it("CIDR arithmetic: families, prefixes and containment", () => {
    const n = (s: string) => {
      const p = parseCidr(s);
      if (!p) throw new Error(`${s} did not parse`);
      return p;
    };
    expect(n("2001:db8::/32")).toMatchObject({ family: 6, prefix: 32 });
    expect(parseCidr("2001:db8:::1/64")).toBeUndefined();
    expect(parseCidr("1:2:3:4:5:6:7:8:9/64")).toBeUndefined();
    expect(parseCidr("10.0.0.0/33")).toBeUndefined();
    expect(parseCidr("fd00::/129")).toBeUndefined();
    expect(parseCidr("010.0.0.0/8")).toBeUndefined();
    expect(strictlyWithin(n("10.1.2.0/24"), n("10.0.0.0/8"))).toBe(true);
    expect(strictlyWithin(n("11.1.2.0/24"), n("10.0.0.0/8"))).toBe(false);
    expect(strictlyWithin(n("2001:db8:1::/48"), n("2001:db8::/32"))).toBe(true);
    expect(strictlyWithin(n("2001:db9::/48"), n("2001:db8::/32"))).toBe(false);
    expect(strictlyWithin(n("::ffff:10.1.0.0/112"), n("::ffff:10.0.0.0/104"))).toBe(true);
    expect(strictlyWithin(n("10.0.0.0/16"), n("::/0"))).toBe(false);
  });
});
