/**
 * What `spec.patches` may not do to a rendered child. Metacontroller applies the children with its
 * own cluster-wide service account, so a patch that could move a child to another namespace,
 * adopt someone else's object, run a privileged pod or point a Service at an arbitrary address
 * would let anyone who may create a MySQLCluster act with Metacontroller's rights (a confused
 * deputy). Every rule compares the child as rendered (`before`) with the child after the patches
 * (`after`) and returns readable violations; the renderer's own output passes every rule
 * (test/unit/patch-policy.test.ts). Pure: no I/O, no clock.
 */
import type { Child } from "../api/k8s.js";
import { LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_NAME } from "../api/constants.js";

export interface Violation {
  /** Short name of the rule broken, e.g. `pod security: privileged`. */
  rule: string;
  /** What the child does that the rule forbids, e.g. `container mysql sets privileged: true`. */
  message: string;
}

/** Kinds a patch may not target at all: the `<c>-ro` EndpointSlice lists addresses verbatim. */
export const UNPATCHABLE_KINDS: readonly string[] = ["EndpointSlice"];

/** Volume types of the Pod Security "restricted" profile. */
export const RESTRICTED_VOLUME_TYPES: readonly string[] = [
  "configMap",
  "csi",
  "downwardAPI",
  "emptyDir",
  "ephemeral",
  "persistentVolumeClaim",
  "projected",
  "secret",
];

/** Sysctls the Pod Security "baseline" profile allows (the "restricted" profile adds none). */
const SAFE_SYSCTLS: readonly string[] = [
  "kernel.shm_rmid_forced",
  "net.ipv4.ip_local_port_range",
  "net.ipv4.ip_local_reserved_ports",
  "net.ipv4.ip_unprivileged_port_start",
  "net.ipv4.ping_group_range",
  "net.ipv4.tcp_fin_timeout",
  "net.ipv4.tcp_keepalive_intvl",
  "net.ipv4.tcp_keepalive_probes",
  "net.ipv4.tcp_keepalive_time",
  "net.ipv4.tcp_syncookies",
];

const SELINUX_TYPES: readonly string[] = ["container_t", "container_init_t", "container_kvm_t", "container_engine_t"];

const STANDARD_LABELS: readonly string[] = [LABEL_NAME, LABEL_INSTANCE, LABEL_MANAGED_BY, LABEL_COMPONENT];

/** Service types the spec models (`spec.service.type`); never ExternalName. */
const SERVICE_TYPES: readonly string[] = ["ClusterIP", "NodePort", "LoadBalancer"];

type Obj = Record<string, unknown>;

function obj(v: unknown): Obj {
  return typeof v === "object" && v !== null && !Array.isArray(v) ? (v as Obj) : {};
}

function list(v: unknown): unknown[] {
  return Array.isArray(v) ? v : [];
}

function show(v: unknown): string {
  return v === undefined ? "(none)" : JSON.stringify(v);
}

function same(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

/** apiVersion, kind, name and namespace are the rendered ones (children live in the parent's namespace). */
export function identityViolations(before: Child, after: Child): Violation[] {
  const out: Violation[] = [];
  const rule = "identity";
  if (after.apiVersion !== before.apiVersion) out.push({ rule, message: `apiVersion changed to ${show(after.apiVersion)}` });
  if (after.kind !== before.kind) out.push({ rule, message: `kind changed to ${show(after.kind)}` });
  const meta = obj(after.metadata);
  if (meta["name"] !== before.metadata.name) out.push({ rule, message: `metadata.name changed to ${show(meta["name"])}` });
  if (meta["namespace"] !== before.metadata["namespace"])
    out.push({ rule: "namespace", message: `metadata.namespace set to ${show(meta["namespace"])} (children stay in the cluster's namespace)` });
  if ("generateName" in meta && !same(meta["generateName"], before.metadata["generateName"]))
    out.push({ rule, message: "metadata.generateName may not be set" });
  return out;
}

/** The standard labels (name, instance, managed-by, component) keep their rendered values. */
export function labelViolations(before: Child, after: Child): Violation[] {
  const was = obj(before.metadata["labels"]);
  const now = obj(obj(after.metadata)["labels"]);
  return STANDARD_LABELS.filter((k) => now[k] !== was[k]).map((k) => ({
    rule: "labels",
    message: `label ${k} changed from ${show(was[k])} to ${show(now[k])}`,
  }));
}

/** No ownerReferences other than the rendered ones (a patch may not adopt or hand over objects). */
export function ownerViolations(before: Child, after: Child): Violation[] {
  const was = before.metadata["ownerReferences"];
  const now = obj(after.metadata)["ownerReferences"];
  return same(was, now) ? [] : [{ rule: "ownerReferences", message: "metadata.ownerReferences may not be added or changed" }];
}

/** Services: no externalIPs, no ExternalName, only the types the spec models. */
export function serviceViolations(after: Child): Violation[] {
  if (after.kind !== "Service") return [];
  const spec = obj(after["spec"]);
  const out: Violation[] = [];
  if (list(spec["externalIPs"]).length > 0 || (spec["externalIPs"] !== undefined && !Array.isArray(spec["externalIPs"])))
    out.push({ rule: "service: externalIPs", message: `spec.externalIPs ${show(spec["externalIPs"])} may not be set` });
  const type = spec["type"];
  if (type !== undefined && !SERVICE_TYPES.includes(type as string))
    out.push({ rule: "service: type", message: `spec.type ${show(type)} is not one of ${SERVICE_TYPES.join(", ")}` });
  if (spec["externalName"] !== undefined) out.push({ rule: "service: type", message: "spec.externalName may not be set" });
  return out;
}

/**
 * NetworkPolicy `<c>`: `spec.podSelector` stays the rendered one, so the policy selects exactly
 * the cluster's database pods (a patched selector could isolate, or open, any other pod of the
 * namespace), and every rendered ingress rule stays (the operator, replication, backups and the
 * clients of `spec.networkPolicy`; narrow clients through that field). A patch may add ingress
 * rules, egress rules and policy types: they concern only the cluster's own pods.
 */
export function networkPolicyViolations(before: Child, after: Child): Violation[] {
  if (before.kind !== "NetworkPolicy") return [];
  const was = obj(before["spec"]);
  const now = obj(after["spec"]);
  const out: Violation[] = [];
  if (!same(now["podSelector"], was["podSelector"]))
    out.push({
      rule: "network policy: pod selector",
      message: `spec.podSelector changed to ${show(now["podSelector"])} (it must select exactly the cluster's pods)`,
    });
  const kept = list(now["ingress"]).map((r) => JSON.stringify(r));
  for (const [i, rule] of list(was["ingress"]).entries()) {
    if (!kept.includes(JSON.stringify(rule)))
      out.push({
        rule: "network policy: rendered rules",
        message: `rendered ingress rule ${i} (${show(rule)}) was removed or changed; set spec.networkPolicy instead`,
      });
  }
  return out;
}

/**
 * Secrets keep their rendered type: a `kubernetes.io/service-account-token` Secret would have the
 * token controller mint a token for any service account of the namespace.
 */
export function secretTypeViolations(before: Child, after: Child): Violation[] {
  if (after.kind !== "Secret" || same(after["type"], before["type"])) return [];
  return [{ rule: "secret type", message: `type changed from ${show(before["type"])} to ${show(after["type"])}` }];
}

/** A pod template of a child: where it is and its spec. */
interface PodSpecAt {
  where: string;
  spec: Obj;
}

/** The pod templates of a StatefulSet, Job or CronJob (any other kind has none). */
export function podSpecsOf(child: Child): PodSpecAt[] {
  const spec = obj(child["spec"]);
  switch (child.kind) {
    case "StatefulSet":
    case "Deployment":
    case "DaemonSet":
    case "ReplicaSet":
    case "Job":
      return [{ where: "spec.template.spec", spec: obj(obj(spec["template"])["spec"]) }];
    case "CronJob":
      return [{ where: "spec.jobTemplate.spec.template.spec", spec: obj(obj(obj(obj(spec["jobTemplate"])["spec"])["template"])["spec"]) }];
    case "Pod":
      return [{ where: "spec", spec }];
    default:
      return [];
  }
}

interface ContainerAt {
  label: string;
  c: Obj;
}

function containersOf(pod: Obj): ContainerAt[] {
  const out: ContainerAt[] = [];
  for (const field of ["initContainers", "containers", "ephemeralContainers"] as const) {
    for (const [i, raw] of list(pod[field]).entries()) {
      const c = obj(raw);
      out.push({ label: `${field}[${i}]${typeof c["name"] === "string" ? ` (${c["name"]})` : ""}`, c });
    }
  }
  return out;
}

function perPod(child: Child, check: (pod: Obj, where: string) => string[], rule: string): Violation[] {
  return podSpecsOf(child).flatMap(({ where, spec }) => check(spec, where).map((message) => ({ rule, message })));
}

/** No host namespaces (hostNetwork, hostPID, hostIPC) and no hostPort. */
export function hostNamespaceViolations(after: Child): Violation[] {
  return perPod(
    after,
    (pod, where) => {
      const out = (["hostNetwork", "hostPID", "hostIPC"] as const).filter((f) => pod[f] === true).map((f) => `${where}.${f} is true`);
      for (const { label, c } of containersOf(pod)) {
        for (const port of list(c["ports"])) {
          const hostPort = obj(port)["hostPort"];
          if (hostPort !== undefined && hostPort !== 0) out.push(`${where}.${label} uses hostPort ${show(hostPort)}`);
        }
      }
      return out;
    },
    "pod security: host namespaces",
  );
}

/** Volumes only of the types the "restricted" profile allows (no hostPath). */
export function volumeViolations(after: Child): Violation[] {
  return perPod(
    after,
    (pod, where) =>
      list(pod["volumes"]).flatMap((raw) => {
        const v = obj(raw);
        return Object.keys(v)
          .filter((k) => k !== "name" && !RESTRICTED_VOLUME_TYPES.includes(k))
          .map((k) => `${where}.volumes ${show(v["name"])} is of type ${k} (allowed: ${RESTRICTED_VOLUME_TYPES.join(", ")})`);
      }),
    "pod security: volume types",
  );
}

/** No privileged container, no privilege escalation, no Windows host process, default /proc mount. */
export function privilegeViolations(after: Child): Violation[] {
  return perPod(
    after,
    (pod, where) => {
      const out: string[] = [];
      if (obj(obj(pod["securityContext"])["windowsOptions"])["hostProcess"] === true) out.push(`${where}.securityContext sets windowsOptions.hostProcess`);
      for (const { label, c } of containersOf(pod)) {
        const sc = obj(c["securityContext"]);
        if (sc["privileged"] === true) out.push(`${where}.${label} is privileged`);
        if (sc["allowPrivilegeEscalation"] !== false) out.push(`${where}.${label} does not set allowPrivilegeEscalation: false`);
        if (obj(sc["windowsOptions"])["hostProcess"] === true) out.push(`${where}.${label} sets windowsOptions.hostProcess`);
        if (sc["procMount"] !== undefined && sc["procMount"] !== "Default") out.push(`${where}.${label} sets procMount ${show(sc["procMount"])}`);
      }
      return out;
    },
    "pod security: privileged",
  );
}

/** Non-root: runAsNonRoot true (pod or container) and never false, runAsUser never 0. */
export function runAsRootViolations(after: Child): Violation[] {
  return perPod(
    after,
    (pod, where) => {
      const out: string[] = [];
      const psc = obj(pod["securityContext"]);
      if (psc["runAsNonRoot"] === false) out.push(`${where}.securityContext sets runAsNonRoot: false`);
      if (psc["runAsUser"] === 0) out.push(`${where}.securityContext runs as user 0 (root)`);
      for (const { label, c } of containersOf(pod)) {
        const sc = obj(c["securityContext"]);
        if (sc["runAsNonRoot"] === false) out.push(`${where}.${label} sets runAsNonRoot: false`);
        else if (sc["runAsNonRoot"] !== true && psc["runAsNonRoot"] !== true) out.push(`${where}.${label} does not set runAsNonRoot: true`);
        if (sc["runAsUser"] === 0) out.push(`${where}.${label} runs as user 0 (root)`);
      }
      return out;
    },
    "pod security: run as non-root",
  );
}

/** Capabilities: drop ALL, add nothing but NET_BIND_SERVICE. */
export function capabilityViolations(after: Child): Violation[] {
  return perPod(
    after,
    (pod, where) =>
      containersOf(pod).flatMap(({ label, c }) => {
        const caps = obj(obj(c["securityContext"])["capabilities"]);
        const out: string[] = [];
        if (!list(caps["drop"]).includes("ALL")) out.push(`${where}.${label} does not drop ALL capabilities`);
        const added = list(caps["add"]).filter((a) => a !== "NET_BIND_SERVICE");
        if (added.length > 0 || (caps["add"] !== undefined && !Array.isArray(caps["add"])))
          out.push(`${where}.${label} adds capabilities ${show(caps["add"])} (only NET_BIND_SERVICE is allowed)`);
        return out;
      }),
    "pod security: capabilities",
  );
}

function seccompOk(profile: unknown): boolean {
  const type = obj(profile)["type"];
  return type === "RuntimeDefault" || type === "Localhost";
}

/** seccomp RuntimeDefault or Localhost for every container (from the pod or the container), never Unconfined. */
export function seccompViolations(after: Child): Violation[] {
  return perPod(
    after,
    (pod, where) => {
      const out: string[] = [];
      const podProfile = obj(pod["securityContext"])["seccompProfile"];
      if (podProfile !== undefined && !seccompOk(podProfile)) out.push(`${where}.securityContext.seccompProfile is ${show(podProfile)}`);
      for (const { label, c } of containersOf(pod)) {
        const own = obj(c["securityContext"])["seccompProfile"];
        if (own !== undefined ? !seccompOk(own) : !seccompOk(podProfile))
          out.push(`${where}.${label} has seccompProfile ${show(own ?? podProfile)} (RuntimeDefault or Localhost required)`);
      }
      return out;
    },
    "pod security: seccomp",
  );
}

function seLinuxProblems(se: unknown, at: string): string[] {
  if (se === undefined) return [];
  const o = obj(se);
  const out: string[] = [];
  if (o["type"] !== undefined && o["type"] !== "" && !SELINUX_TYPES.includes(o["type"] as string))
    out.push(`${at} sets seLinuxOptions.type ${show(o["type"])}`);
  if (o["user"] !== undefined && o["user"] !== "") out.push(`${at} sets seLinuxOptions.user`);
  if (o["role"] !== undefined && o["role"] !== "") out.push(`${at} sets seLinuxOptions.role`);
  return out;
}

/** SELinux, AppArmor and sysctls as the "baseline" profile allows (restricted includes baseline). */
export function kernelViolations(after: Child): Violation[] {
  return perPod(
    after,
    (pod, where) => {
      const psc = obj(pod["securityContext"]);
      const out = seLinuxProblems(psc["seLinuxOptions"], `${where}.securityContext`);
      if (obj(psc["appArmorProfile"])["type"] === "Unconfined") out.push(`${where}.securityContext sets appArmorProfile Unconfined`);
      for (const s of list(psc["sysctls"])) {
        const name = obj(s)["name"];
        if (!SAFE_SYSCTLS.includes(name as string)) out.push(`${where}.securityContext sets sysctl ${show(name)}`);
      }
      for (const { label, c } of containersOf(pod)) {
        const sc = obj(c["securityContext"]);
        out.push(...seLinuxProblems(sc["seLinuxOptions"], `${where}.${label}`));
        if (obj(sc["appArmorProfile"])["type"] === "Unconfined") out.push(`${where}.${label} sets appArmorProfile Unconfined`);
      }
      return out;
    },
    "pod security: kernel",
  );
}

function accountOf(pod: Obj): unknown {
  return pod["serviceAccountName"] ?? pod["serviceAccount"] ?? "default";
}

/** The pods keep the rendered service account, and a token the renderer left unmounted stays unmounted. */
export function serviceAccountViolations(before: Child, after: Child): Violation[] {
  const was = podSpecsOf(before);
  const out: Violation[] = [];
  for (const [i, { where, spec }] of podSpecsOf(after).entries()) {
    const rendered = was[i]?.spec ?? {};
    if (!same(accountOf(spec), accountOf(rendered)))
      out.push({ rule: "service account", message: `${where} runs as service account ${show(accountOf(spec))} instead of ${show(accountOf(rendered))}` });
    if (rendered["automountServiceAccountToken"] === false && spec["automountServiceAccountToken"] !== false)
      out.push({ rule: "service account", message: `${where}.automountServiceAccountToken may not be turned on` });
  }
  return out;
}

/**
 * Every rule, for one child: `before` as rendered, `after` with the patches applied. Passing the
 * rendered child as both checks the renderer's own output.
 */
export function childViolations(before: Child, after: Child): Violation[] {
  return [
    ...identityViolations(before, after),
    ...labelViolations(before, after),
    ...ownerViolations(before, after),
    ...serviceViolations(after),
    ...secretTypeViolations(before, after),
    ...networkPolicyViolations(before, after),
    ...hostNamespaceViolations(after),
    ...volumeViolations(after),
    ...privilegeViolations(after),
    ...runAsRootViolations(after),
    ...capabilityViolations(after),
    ...seccompViolations(after),
    ...kernelViolations(after),
    ...serviceAccountViolations(before, after),
  ];
}

/** One line for a violation, naming the child and the rule. */
export function describeViolation(child: Child, v: Violation): string {
  return `${child.kind} ${child.metadata.name} breaks the patch rule "${v.rule}": ${v.message}`;
}
