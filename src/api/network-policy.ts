/**
 * `spec.networkPolicy`: who may reach the database pods (NetworkPolicy `<c>`, ARCHITECTURE.md
 * section 3; rendered by src/render/network-policy.ts). Every peer is checked here the way the
 * API server checks a NetworkPolicy, so a bad entry is a clear `Invalid` spec instead of a child
 * Metacontroller cannot apply.
 */
import { z } from "zod";

/** A label value: at most 63 characters, alphanumeric at both ends, `-_.` inside; may be empty. */
const LABEL_VALUE = /^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$/;
/** The name part of a label key (same charset as a value, not empty). */
const LABEL_NAME = /^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$/;
/** The optional prefix of a label key: a DNS subdomain. */
const DNS_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;

/** Why `key` is not a valid label key, or undefined. */
export function labelKeyProblem(key: string): string | undefined {
  const slash = key.lastIndexOf("/");
  const prefix = slash >= 0 ? key.slice(0, slash) : undefined;
  const name = slash >= 0 ? key.slice(slash + 1) : key;
  if (prefix !== undefined && (prefix.length === 0 || prefix.length > 253 || !DNS_SUBDOMAIN.test(prefix)))
    return `label key "${key}": the prefix must be a DNS subdomain`;
  if (name.length === 0 || name.length > 63 || !LABEL_NAME.test(name))
    return `label key "${key}": the name must be 1-63 characters, alphanumeric at both ends, with -, _ or . inside`;
  return undefined;
}

/** Why `value` is not a valid label value, or undefined. */
export function labelValueProblem(value: string): string | undefined {
  if (value.length > 63 || !LABEL_VALUE.test(value))
    return `label value "${value}" must be at most 63 characters, alphanumeric at both ends, with -, _ or . inside`;
  return undefined;
}

const MatchExpressionSchema = z.object({
  key: z.string(),
  operator: z.enum(["In", "NotIn", "Exists", "DoesNotExist"]),
  values: z.array(z.string()).optional(),
});

/** A Kubernetes LabelSelector; `{}` selects everything (every pod, or every namespace). */
export const LabelSelectorSchema = z
  .object({
    matchLabels: z.record(z.string(), z.string()).optional(),
    matchExpressions: z.array(MatchExpressionSchema).optional(),
  })
  .superRefine((sel, ctx) => {
    for (const [key, value] of Object.entries(sel.matchLabels ?? {})) {
      const problem = labelKeyProblem(key) ?? labelValueProblem(value);
      if (problem) ctx.addIssue({ code: "custom", path: ["matchLabels", key], message: problem });
    }
    for (const [i, e] of (sel.matchExpressions ?? []).entries()) {
      const keyProblem = labelKeyProblem(e.key);
      if (keyProblem) ctx.addIssue({ code: "custom", path: ["matchExpressions", i, "key"], message: keyProblem });
      const values = e.values ?? [];
      if ((e.operator === "In" || e.operator === "NotIn") && values.length === 0)
        ctx.addIssue({ code: "custom", path: ["matchExpressions", i, "values"], message: `operator ${e.operator} needs at least one value` });
      if ((e.operator === "Exists" || e.operator === "DoesNotExist") && values.length > 0)
        ctx.addIssue({ code: "custom", path: ["matchExpressions", i, "values"], message: `operator ${e.operator} takes no values` });
      for (const v of values) {
        const problem = labelValueProblem(v);
        if (problem) ctx.addIssue({ code: "custom", path: ["matchExpressions", i, "values"], message: problem });
      }
    }
  })
  .meta({ description: "A Kubernetes label selector (matchLabels, matchExpressions); {} selects everything." });
export type LabelSelector = z.infer<typeof LabelSelectorSchema>;

/** An IPv4 or IPv6 network, parsed: family, the address as a number, prefix length. */
interface Network {
  family: 4 | 6;
  address: bigint;
  prefix: number;
}

function parseIPv4(text: string): bigint | undefined {
  const parts = text.split(".");
  if (parts.length !== 4) return undefined;
  let out = 0n;
  for (const p of parts) {
    if (!/^(0|[1-9][0-9]{0,2})$/.test(p) || Number(p) > 255) return undefined;
    out = (out << 8n) | BigInt(p);
  }
  return out;
}

function parseIPv6(text: string): bigint | undefined {
  let groups: string[];
  // An embedded IPv4 tail (::ffff:10.0.0.1) is two groups.
  const lastColon = text.lastIndexOf(":");
  const tail = text.slice(lastColon + 1);
  let head = text;
  let v4: bigint | undefined;
  if (tail.includes(".")) {
    v4 = parseIPv4(tail);
    if (v4 === undefined) return undefined;
    head = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = head.split("::");
  if (halves.length > 2) return undefined;
  const split = (s: string) => (s === "" ? [] : s.split(":"));
  if (halves.length === 2) {
    const left = split(halves[0] ?? "");
    const right = split(halves[1] ?? "");
    const missing = 8 - left.length - right.length;
    if (missing < 1) return undefined;
    groups = [...left, ...Array<string>(missing).fill("0"), ...right];
  } else {
    groups = split(head);
  }
  if (groups.length !== 8 || groups.some((g) => !/^[0-9a-fA-F]{1,4}$/.test(g))) return undefined;
  let out = 0n;
  for (const g of groups) out = (out << 16n) | BigInt(Number.parseInt(g, 16));
  if (v4 !== undefined) out = (out & ~0xffffffffn) | v4;
  return out;
}

/** The network `cidr` denotes ("10.0.0.0/8", "fd00::/64"), or undefined when it is not one. */
export function parseCidr(cidr: string): Network | undefined {
  const m = /^([^/]+)\/(0|[1-9][0-9]{0,2})$/.exec(cidr);
  if (!m) return undefined;
  const prefix = Number(m[2]);
  const text = m[1] ?? "";
  const v4 = text.includes(":") ? undefined : parseIPv4(text);
  if (v4 !== undefined) return prefix <= 32 ? { family: 4, address: v4, prefix } : undefined;
  const v6 = parseIPv6(text);
  return v6 !== undefined && prefix <= 128 ? { family: 6, address: v6, prefix } : undefined;
}

/** True when `inner` is a strict subset of `outer` (what the API server requires of `except`). */
export function strictlyWithin(inner: Network, outer: Network): boolean {
  if (inner.family !== outer.family || inner.prefix <= outer.prefix) return false;
  const bits = BigInt(inner.family === 4 ? 32 : 128);
  const shift = bits - BigInt(outer.prefix);
  return inner.address >> shift === outer.address >> shift;
}

const CidrSchema = z.string().refine((s) => parseCidr(s) !== undefined, { message: "must be a CIDR such as 10.0.0.0/8 or fd00::/64" });

export const IPBlockSchema = z
  .object({
    cidr: CidrSchema,
    except: z.array(CidrSchema).optional().meta({ description: "CIDRs inside cidr to leave out." }),
  })
  .superRefine((block, ctx) => {
    const outer = parseCidr(block.cidr);
    if (!outer) return;
    for (const [i, e] of (block.except ?? []).entries()) {
      const inner = parseCidr(e);
      if (inner && !strictlyWithin(inner, outer)) ctx.addIssue({ code: "custom", path: ["except", i], message: `${e} is not strictly inside ${block.cidr}` });
    }
  });

/**
 * One kind of client that may connect to 3306: exactly a Kubernetes NetworkPolicyPeer. A
 * podSelector alone means pods of the cluster's namespace; with a namespaceSelector, those pods in
 * the selected namespaces; a namespaceSelector alone, every pod of those namespaces; an ipBlock,
 * addresses outside the pod network (load balancers, other clusters).
 */
export const NetworkPolicyClientSchema = z
  .object({
    podSelector: LabelSelectorSchema.optional(),
    namespaceSelector: LabelSelectorSchema.optional(),
    ipBlock: IPBlockSchema.optional(),
  })
  .superRefine((peer, ctx) => {
    const selectors = peer.podSelector !== undefined || peer.namespaceSelector !== undefined;
    if (!selectors && peer.ipBlock === undefined)
      ctx.addIssue({ code: "custom", path: [], message: "a client needs podSelector, namespaceSelector or ipBlock" });
    if (selectors && peer.ipBlock !== undefined)
      ctx.addIssue({ code: "custom", path: ["ipBlock"], message: "ipBlock cannot be combined with podSelector or namespaceSelector (use two clients)" });
  })
  .meta({ description: "A NetworkPolicy peer: podSelector and/or namespaceSelector, or ipBlock." });
export type NetworkPolicyClient = z.infer<typeof NetworkPolicyClientSchema>;

export const NetworkPolicySpecSchema = z
  .object({
    enabled: z.boolean().default(true).meta({
      description: "Render NetworkPolicy <c>, which admits to the database pods only the clients below, the cluster's own pods, its backups and the operator.",
    }),
    clients: z.array(NetworkPolicyClientSchema).max(64).optional().meta({
      description:
        "Who may connect to port 3306. Omitted: every pod of the cluster's namespace, and any address when service.type is NodePort or LoadBalancer. [] admits no application client.",
    }),
  })
  .meta({ description: "The NetworkPolicy of the database pods (README, Security model)." });
export type NetworkPolicySpec = z.infer<typeof NetworkPolicySpecSchema>;
