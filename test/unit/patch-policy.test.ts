/**
 * The rules `spec.patches` must keep (src/render/patch-policy.ts, issue 10 item 1): the
 * renderer's own output passes them, and each escalation demonstrated in the review is rejected
 * as an invalid spec naming the patch and the rule.
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parseAllDocuments } from "yaml";
import { describe, expect, it } from "vitest";
import { MySQLClusterSpecSchema, type ChildPatch, type Cluster, type MySQLClusterSpecInput } from "../../src/api/cluster.js";
import type { Child } from "../../src/api/k8s.js";
import { renderChildren, type RenderInput } from "../../src/render/children.js";
import { childViolations } from "../../src/render/patch-policy.js";
import { applyChildPatches } from "../../src/render/patches.js";
import { exampleFiles, goldenPath } from "../../scripts/gen-goldens.js";

const ROOT = resolve(import.meta.dirname, "../..");

function cluster(spec: MySQLClusterSpecInput = {}): Cluster {
  return {
    name: "shop",
    namespace: "prod",
    uid: "uid-1",
    generation: 1,
    creationTimestamp: "2026-11-01T10:00:00Z",
    spec: MySQLClusterSpecSchema.parse(spec),
    status: {},
  };
}

function input(spec: MySQLClusterSpecInput = {}): RenderInput {
  return {
    cluster: cluster(spec),
    observed: [],
    credentials: { "root-password": "r", "operator-password": "o", "replication-password": "p" },
    backupPassword: "b",
    backupSigningKey: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    appsPassword: "apps-pw",
    agentToken: "agent-token",
    primary: "shop-0",
    readOnlyEndpoints: [{ podName: "shop-1", ip: "10.0.0.2" }],
    backupSources: { sources: [{ pod: "shop-1", ip: "10.0.0.2" }], primary: { pod: "shop-0", ip: "10.0.0.1" } },
    operatorNamespace: "metamysql-system",
  } as RenderInput;
}

function rendered(spec: MySQLClusterSpecInput = {}): Child[] {
  const r = renderChildren(input(spec));
  if (!r.ok) throw new Error(r.failure.message);
  return r.children;
}

const PVC = { persistentVolumeClaim: { claimName: "backups" } };
const S3 = { s3: { bucket: "backups", endpoint: "https://s3.example", credentialsSecretName: "s3" } };

/** Specs that render every kind of pod the operator makes (database, seeding, backups). */
const SPECS: Array<[string, MySQLClusterSpecInput]> = [
  ["defaults", {}],
  ["mariadb", { flavor: "mariadb" }],
  ["LoadBalancer", { service: { type: "LoadBalancer" } }],
  ["PVC schedules", { backups: { onDelete: true, schedules: [{ name: "nightly", schedule: "@daily", storage: PVC }] } }],
  [
    "S3 schedules and seeding",
    {
      backups: { schedules: [{ name: "n", schedule: "@daily", storage: S3 }] },
      initDB: { fromBackup: { storage: S3, path: "x/y", signingKeySecretName: "src-backup-credentials" } },
    },
  ],
];

describe("the renderer satisfies its own patch rules", () => {
  it.each(SPECS)("%s", (_name, spec) => {
    for (const child of rendered(spec)) expect(childViolations(child, child), `${child.kind} ${child.metadata.name}`).toEqual([]);
  });
  it.each(exampleFiles(ROOT).map((e) => [goldenPath(e)]))("%s", (golden) => {
    const docs = parseAllDocuments(readFileSync(resolve(ROOT, golden), "utf8")).map((d) => d.toJSON() as Child);
    expect(docs.length).toBeGreaterThan(0);
    for (const child of docs) expect(childViolations(child, child), `${child.kind} ${child.metadata.name}`).toEqual([]);
  });
});

function failure(patches: ChildPatch[], spec: MySQLClusterSpecInput = {}): { path: string; message: string } {
  const r = applyChildPatches(rendered(spec), patches);
  if (r.ok) throw new Error("the patches were accepted");
  return r.failure;
}

const sts = (patch: ChildPatch["patch"]): ChildPatch => ({ target: { kind: "StatefulSet", name: "shop" }, patch });
const POD = "/spec/template/spec";
const MAIN = `${POD}/containers/0`;

describe("the escalations demonstrated in the review are rejected", () => {
  it("a privileged hostPID/hostNetwork StatefulSet mounting the host's / as root", () => {
    const f = failure([
      { target: { kind: "ConfigMap" }, patch: [{ op: "add", path: "/metadata/annotations", value: { harmless: "yes" } }] },
      sts([
        { op: "add", path: `${POD}/hostPID`, value: true },
        { op: "add", path: `${POD}/hostNetwork`, value: true },
        { op: "add", path: `${POD}/volumes/-`, value: { name: "host", hostPath: { path: "/" } } },
        { op: "add", path: `${MAIN}/volumeMounts/-`, value: { name: "host", mountPath: "/host" } },
        { op: "replace", path: `${MAIN}/securityContext`, value: { privileged: true, runAsUser: 0, runAsNonRoot: false } },
        { op: "replace", path: `${POD}/securityContext/runAsUser`, value: 0 },
      ]),
    ]);
    expect(f.path).toBe("spec.patches[1]");
    for (const rule of ["host namespaces", "volume types", "privileged", "run as non-root", "capabilities"]) expect(f.message).toContain(rule);
    expect(f.message).toContain("hostPID");
    expect(f.message).toContain("hostNetwork");
    expect(f.message).toContain("hostPath");
  });
  it("an EndpointSlice pointing at an arbitrary address", () => {
    const f = failure([
      { target: { kind: "EndpointSlice", name: "shop-ro" }, patch: [{ op: "replace", path: "/endpoints/0/addresses/0", value: "169.254.169.254" }] },
    ]);
    expect(f).toEqual({ path: "spec.patches[0]", message: expect.stringContaining("unpatchable kind") });
  });
  it("a Service with externalIPs", () => {
    const f = failure([{ target: { kind: "Service", name: "shop" }, patch: [{ op: "add", path: "/spec/externalIPs", value: ["203.0.113.7"] }] }]);
    expect(f.path).toBe("spec.patches[0]");
    expect(f.message).toContain("externalIPs");
  });
  it("a Service turned into ExternalName", () => {
    const f = failure([
      {
        target: { kind: "Service", name: "shop-ro" },
        patch: [
          { op: "replace", path: "/spec/type", value: "ExternalName" },
          { op: "add", path: "/spec/externalName", value: "kubernetes.default.svc" },
        ],
      },
    ]);
    expect(f.message).toContain("service: type");
  });
  it.each([
    ["another namespace", "/metadata/namespace", "kube-system", "namespace"],
    ["an owner", "/metadata/ownerReferences", [{ apiVersion: "v1", kind: "Namespace", name: "x", uid: "u" }], "ownerReferences"],
  ])("a child moved to %s", (_name, path, value, rule) => {
    const f = failure([{ target: { kind: "Secret" }, patch: [{ op: "add", path, value }] }]);
    expect(f.path).toBe("spec.patches[0]");
    expect(f.message).toContain(rule);
  });
  it.each(["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "app.kubernetes.io/component"])(
    "the standard label %s changed or removed",
    (label) => {
      const key = label.replace("/", "~1");
      expect(failure([{ target: { kind: "ConfigMap" }, patch: [{ op: "replace", path: `/metadata/labels/${key}`, value: "other" }] }]).message).toContain(
        "labels",
      );
      expect(failure([{ target: { kind: "ConfigMap" }, patch: [{ op: "remove", path: `/metadata/labels/${key}` }] }]).message).toContain("labels");
    },
  );
  it("a Secret turned into a service-account token", () => {
    const f = failure([
      {
        target: { kind: "Secret" },
        patch: [
          { op: "replace", path: "/type", value: "kubernetes.io/service-account-token" },
          { op: "add", path: "/metadata/annotations", value: { "kubernetes.io/service-account.name": "admin" } },
        ],
      },
    ]);
    expect(f.message).toContain("secret type");
  });
  it.each<[string, ChildPatch["patch"], string]>([
    ["selects every pod of the namespace", [{ op: "replace", path: "/spec/podSelector", value: {} }], "pod selector"],
    ["selects another app's pods", [{ op: "replace", path: "/spec/podSelector/matchLabels", value: { app: "payments" } }], "pod selector"],
    ["adds a selector expression", [{ op: "add", path: "/spec/podSelector/matchExpressions", value: [{ key: "x", operator: "Exists" }] }], "pod selector"],
    ["drops the operator's rule", [{ op: "remove", path: "/spec/ingress/1" }], "rendered rules"],
    ["narrows replication to another port", [{ op: "replace", path: "/spec/ingress/0/ports/0/port", value: 3307 }], "rendered rules"],
    ["replaces every rule", [{ op: "replace", path: "/spec/ingress", value: [] }], "rendered rules"],
  ])("a NetworkPolicy that %s", (_name, patch, rule) => {
    const f = failure([{ target: { kind: "NetworkPolicy", name: "shop" }, patch }]);
    expect(f.path).toBe("spec.patches[0]");
    expect(f.message).toContain(`network policy: ${rule}`);
  });
  it("renames, kind and apiVersion changes", () => {
    const changes: Array<[string, string]> = [
      ["/metadata/name", "other"],
      ["/kind", "Deployment"],
      ["/apiVersion", "apps/v1beta1"],
    ];
    for (const [path, value] of changes) expect(failure([sts([{ op: "replace", path, value }])]).message).toContain("identity");
  });
});

describe("each pod security rule, in every kind of pod template", () => {
  const backupSpec: MySQLClusterSpecInput = { backups: { schedules: [{ name: "nightly", schedule: "@daily", storage: PVC }] } };
  const templates: Array<[string, ChildPatch["target"], string]> = [
    ["StatefulSet", { kind: "StatefulSet" }, POD],
    ["CronJob", { kind: "CronJob" }, "/spec/jobTemplate/spec/template/spec"],
  ];
  const cases: Array<[string, (pod: string) => ChildPatch["patch"]]> = [
    ["privileged", (p) => [{ op: "add", path: `${p}/containers/0/securityContext/privileged`, value: true }]],
    ["privileged", (p) => [{ op: "replace", path: `${p}/containers/0/securityContext/allowPrivilegeEscalation`, value: true }]],
    ["host namespaces", (p) => [{ op: "add", path: `${p}/hostIPC`, value: true }]],
    ["host namespaces", (p) => [{ op: "add", path: `${p}/containers/0/ports`, value: [{ containerPort: 80, hostPort: 80 }] }]],
    ["volume types", (p) => [{ op: "add", path: `${p}/volumes/-`, value: { name: "n", nfs: { server: "x", path: "/" } } }]],
    ["run as non-root", (p) => [{ op: "add", path: `${p}/containers/0/securityContext/runAsUser`, value: 0 }]],
    ["run as non-root", (p) => [{ op: "replace", path: `${p}/securityContext/runAsNonRoot`, value: false }]],
    ["capabilities", (p) => [{ op: "add", path: `${p}/containers/0/securityContext/capabilities/add`, value: ["SYS_ADMIN"] }]],
    ["capabilities", (p) => [{ op: "replace", path: `${p}/containers/0/securityContext/capabilities/drop`, value: [] }]],
    ["seccomp", (p) => [{ op: "replace", path: `${p}/securityContext/seccompProfile/type`, value: "Unconfined" }]],
    ["seccomp", (p) => [{ op: "add", path: `${p}/containers/0/securityContext/seccompProfile`, value: { type: "Unconfined" } }]],
    ["seccomp", (p) => [{ op: "remove", path: `${p}/securityContext/seccompProfile` }]],
    ["kernel", (p) => [{ op: "add", path: `${p}/securityContext/sysctls`, value: [{ name: "kernel.core_pattern", value: "|/x" }] }]],
    ["service account", (p) => [{ op: "add", path: `${p}/serviceAccountName`, value: "metacontroller" }]],
    [
      "privileged",
      (p) => [{ op: "add", path: `${p}/ephemeralContainers`, value: [{ name: "debug", image: "busybox", securityContext: { privileged: true } }] }],
    ],
    ["privileged", (p) => [{ op: "add", path: `${p}/initContainers`, value: [{ name: "init", image: "busybox" }] }]],
  ];
  for (const [kind, target, pod] of templates) {
    it.each(cases)(`${kind}: %s`, (rule, patch) => {
      const f = failure([{ target, patch: patch(pod) }], backupSpec);
      expect(f.path).toBe("spec.patches[0]");
      expect(f.message).toContain(`pod security: ${rule}`.replace("pod security: service account", "service account"));
    });
  }
  it("a token the renderer leaves unmounted stays unmounted", () => {
    const withOff = applyChildPatches(rendered(), [sts([{ op: "add", path: `${POD}/automountServiceAccountToken`, value: false }])]);
    expect(withOff.ok).toBe(true);
    const r = applyChildPatches(withOff.ok ? withOff.children : [], [sts([{ op: "replace", path: `${POD}/automountServiceAccountToken`, value: true }])]);
    // The second patch is checked against the child as it was given here (token off).
    expect(!r.ok && r.failure.message).toContain("automountServiceAccountToken");
  });
});

describe("what patches may still do", () => {
  it.each<[string, ChildPatch]>([
    ["priorityClassName", sts([{ op: "add", path: `${POD}/priorityClassName`, value: "db" }])],
    ["tolerations", sts([{ op: "add", path: `${POD}/tolerations`, value: [{ key: "db", operator: "Exists" }] }])],
    ["an extra label", sts([{ op: "add", path: "/metadata/labels/team", value: "shop" }])],
    ["a NodePort", { target: { kind: "Service", name: "shop" }, patch: [{ op: "replace", path: "/spec/type", value: "NodePort" }] }],
    ["NET_BIND_SERVICE", sts([{ op: "add", path: `${MAIN}/securityContext/capabilities/add`, value: ["NET_BIND_SERVICE"] }])],
    [
      "a Localhost seccomp profile",
      sts([{ op: "replace", path: `${POD}/securityContext/seccompProfile`, value: { type: "Localhost", localhostProfile: "db.json" } }]),
    ],
    ["a projected volume", sts([{ op: "add", path: `${POD}/volumes/-`, value: { name: "p", projected: { sources: [] } } }])],
    ["the default service account by name", sts([{ op: "add", path: `${POD}/serviceAccountName`, value: "default" }])],
    [
      "an extra NetworkPolicy ingress rule (a metrics port)",
      {
        target: { kind: "NetworkPolicy", name: "shop" },
        patch: [{ op: "add", path: "/spec/ingress/-", value: { from: [{ namespaceSelector: {} }], ports: [{ port: 9104, protocol: "TCP" }] } }],
      },
    ],
    [
      "NetworkPolicy egress rules",
      {
        target: { kind: "NetworkPolicy", name: "shop" },
        patch: [
          { op: "replace", path: "/spec/policyTypes", value: ["Ingress", "Egress"] },
          {
            op: "add",
            path: "/spec/egress",
            value: [
              {
                ports: [
                  { port: 3306, protocol: "TCP" },
                  { port: 53, protocol: "UDP" },
                ],
              },
            ],
          },
        ],
      },
    ],
  ])("%s", (_name, patch) => {
    const r = applyChildPatches(rendered(), [patch]);
    expect(r.ok ? "ok" : r.failure.message).toBe("ok");
  });
});
