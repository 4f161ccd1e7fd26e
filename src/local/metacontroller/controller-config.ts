/**
 * What the local Metacontroller runs: the CompositeController for MySQLCluster, either the
 * built-in equivalent of metacontroller/ (the contract in ARCHITECTURE.md section 4) or parsed
 * from a CompositeController manifest, with the hook base URL replaced by the local one.
 */
import { parseAllDocuments } from "yaml";
import { z } from "zod";
import { API_VERSION, CLUSTER_KIND, CLUSTER_PLURAL } from "../../api/constants.js";
import { kindOfResource } from "../apiserver/objects.js";

/** How Metacontroller updates an existing child of a type. */
export const UpdateMethodSchema = z.enum(["OnDelete", "Recreate", "InPlace", "RollingRecreate", "RollingInPlace"]);
export type UpdateMethod = z.infer<typeof UpdateMethodSchema>;

/** One child type of the controller. */
export interface ChildResourceConfig {
  apiVersion: string;
  resource: string;
  kind: string;
  updateMethod: UpdateMethod;
}

/** One hook: where it is and how long Metacontroller waits for it. */
export interface HookConfig {
  url: string;
  timeoutMs: number;
}

/** A CompositeController, resolved to what the emulation needs. */
export interface CompositeControllerConfig {
  name: string;
  parent: { apiVersion: string; resource: string; kind: string };
  children: ChildResourceConfig[];
  hooks: { customize?: HookConfig; sync: HookConfig; finalize?: HookConfig };
  /** Periodic resync of every parent; undefined = none. */
  resyncPeriodSeconds: number | undefined;
  generateSelector: boolean;
}

/** Metacontroller's default webhook timeout. */
export const DEFAULT_WEBHOOK_TIMEOUT_MS = 10_000;
/** Resync period used when the manifest sets none. */
export const DEFAULT_RESYNC_PERIOD_SECONDS = 30;

/** Name of the finalizer Metacontroller adds for a CompositeController with a finalize hook. */
export function finalizerName(controllerName: string): string {
  return `metacontroller.io/compositecontroller-${controllerName}`;
}

/** The CompositeController of ARCHITECTURE.md sections 3-4, calling hooks under `hookUrl`. */
export function mysqlClusterController(
  hookUrl: string,
  opts: { timeoutMs?: number; resyncPeriodSeconds?: number; name?: string } = {},
): CompositeControllerConfig {
  const base = hookUrl.replace(/\/+$/, "");
  const timeoutMs = opts.timeoutMs ?? DEFAULT_WEBHOOK_TIMEOUT_MS;
  const child = (apiVersion: string, resource: string, updateMethod: UpdateMethod): ChildResourceConfig => ({
    apiVersion,
    resource,
    kind: kindOfResource(resource),
    updateMethod,
  });
  return {
    name: opts.name ?? "metamysql-mysqlcluster",
    parent: { apiVersion: API_VERSION, resource: CLUSTER_PLURAL, kind: CLUSTER_KIND },
    children: [
      child("v1", "secrets", "OnDelete"),
      child("v1", "configmaps", "InPlace"),
      child("v1", "services", "InPlace"),
      child("apps/v1", "statefulsets", "InPlace"),
      child("discovery.k8s.io/v1", "endpointslices", "InPlace"),
      child("policy/v1", "poddisruptionbudgets", "InPlace"),
      child("networking.k8s.io/v1", "networkpolicies", "InPlace"),
      child("batch/v1", "cronjobs", "InPlace"),
      child("batch/v1", "jobs", "OnDelete"),
    ],
    hooks: {
      customize: { url: `${base}/hooks/mysqlcluster/customize`, timeoutMs },
      sync: { url: `${base}/hooks/mysqlcluster/sync`, timeoutMs },
      finalize: { url: `${base}/hooks/mysqlcluster/finalize`, timeoutMs },
    },
    resyncPeriodSeconds: opts.resyncPeriodSeconds ?? DEFAULT_RESYNC_PERIOD_SECONDS,
    generateSelector: true,
  };
}

const WebhookSchema = z.looseObject({
  url: z.string().optional(),
  path: z.string().optional(),
  timeout: z.string().optional(),
});
const HookSchema = z.looseObject({ webhook: WebhookSchema.optional() }).optional();
const CompositeControllerSchema = z.looseObject({
  apiVersion: z.string(),
  kind: z.literal("CompositeController"),
  metadata: z.looseObject({ name: z.string() }),
  spec: z.looseObject({
    parentResource: z.looseObject({ apiVersion: z.string(), resource: z.string() }),
    childResources: z
      .array(
        z.looseObject({
          apiVersion: z.string(),
          resource: z.string(),
          updateStrategy: z.looseObject({ method: UpdateMethodSchema.optional() }).optional(),
        }),
      )
      .default([]),
    resyncPeriodSeconds: z.number().optional(),
    generateSelector: z.boolean().optional(),
    hooks: z.looseObject({ customize: HookSchema, sync: HookSchema, finalize: HookSchema }),
  }),
});

/** Parses a Go duration such as "10s", "1m30s", "500ms" into milliseconds. */
export function parseGoDuration(text: string): number {
  const re = /(\d+(?:\.\d+)?)(ms|s|m|h)/g;
  let total = 0;
  let consumed = 0;
  for (const m of text.matchAll(re)) {
    const n = Number(m[1]);
    const unit = m[2];
    total += n * (unit === "ms" ? 1 : unit === "s" ? 1000 : unit === "m" ? 60_000 : 3_600_000);
    consumed += m[0].length;
  }
  if (consumed !== text.length || consumed === 0) throw new Error(`invalid duration "${text}"`);
  return total;
}

/** Resource plural -> Kind, for the resources a manifest names (default: objects.ts RESOURCE_KINDS). */
export type ResourceKindOf = (resource: string) => string | undefined;

/** Overrides of the manifests' timeouts and resync period (the `local up` flags). */
export interface ControllerOverrides {
  timeoutMs?: number;
  resyncPeriodSeconds?: number;
}

/**
 * Reads the CompositeController for MySQLCluster from a manifest (one or more YAML documents)
 * and points its hooks at `hookUrl` (keeping each hook's path). Returns undefined when the text
 * holds no CompositeController for mysqlclusters.
 */
export function parseCompositeController(
  yamlText: string,
  hookUrl: string,
  overrides: ControllerOverrides = {},
  parentType: { resource: string; kind: string } = { resource: CLUSTER_PLURAL, kind: CLUSTER_KIND },
): CompositeControllerConfig | undefined {
  const kindOf: ResourceKindOf = (r) => (r === parentType.resource ? parentType.kind : kindOfResource(r));
  return parseCompositeControllers(yamlText, hookUrl, overrides, kindOf).find((cc) => cc.parent.resource === parentType.resource);
}

/**
 * Every CompositeController of a manifest (one or more YAML documents; other kinds are
 * skipped), with its hooks pointed at `hookUrl` (keeping each hook's path) and each resource
 * resolved to its Kind by `kindOf`. Throws on a CompositeController that names an unknown
 * resource or has no sync hook.
 */
export function parseCompositeControllers(
  yamlText: string,
  hookUrl: string,
  overrides: ControllerOverrides = {},
  kindOf: ResourceKindOf = kindOfResource,
): CompositeControllerConfig[] {
  const out: CompositeControllerConfig[] = [];
  const resolveKind = (resource: string, controller: string): string => {
    const kind = kindOf(resource);
    if (!kind) throw new Error(`CompositeController ${controller}: unknown resource "${resource}" (no CRD or built-in kind of that name)`);
    return kind;
  };
  for (const doc of parseAllDocuments(yamlText)) {
    const raw: unknown = doc.toJS();
    if (typeof raw !== "object" || raw === null || (raw as { kind?: unknown }).kind !== "CompositeController") continue;
    const parsed = CompositeControllerSchema.safeParse(raw);
    if (!parsed.success) throw new Error(`invalid CompositeController: ${z.prettifyError(parsed.error)}`);
    const cc = parsed.data;
    const parentKind = resolveKind(cc.spec.parentResource.resource, cc.metadata.name);
    const hookBase = `/hooks/${parentKind.toLowerCase()}`;
    const base = hookUrl.replace(/\/+$/, "");
    const hook = (h: z.infer<typeof HookSchema>, fallbackPath: string): HookConfig | undefined => {
      if (!h?.webhook) return undefined;
      let path = h.webhook.path ?? fallbackPath;
      if (!h.webhook.path && h.webhook.url) path = new URL(h.webhook.url).pathname;
      const timeoutMs = overrides.timeoutMs ?? (h.webhook.timeout ? parseGoDuration(h.webhook.timeout) : DEFAULT_WEBHOOK_TIMEOUT_MS);
      return { url: `${base}${path}`, timeoutMs };
    };
    const sync = hook(cc.spec.hooks.sync, `${hookBase}/sync`);
    if (!sync) throw new Error(`CompositeController ${cc.metadata.name} has no sync webhook`);
    const customize = hook(cc.spec.hooks.customize, `${hookBase}/customize`);
    const finalize = hook(cc.spec.hooks.finalize, `${hookBase}/finalize`);
    out.push({
      name: cc.metadata.name,
      parent: { apiVersion: cc.spec.parentResource.apiVersion, resource: cc.spec.parentResource.resource, kind: parentKind },
      children: cc.spec.childResources.map((c) => ({
        apiVersion: c.apiVersion,
        resource: c.resource,
        kind: resolveKind(c.resource, cc.metadata.name),
        updateMethod: c.updateStrategy?.method ?? "OnDelete",
      })),
      hooks: { sync, ...(customize ? { customize } : {}), ...(finalize ? { finalize } : {}) },
      resyncPeriodSeconds: overrides.resyncPeriodSeconds ?? cc.spec.resyncPeriodSeconds ?? DEFAULT_RESYNC_PERIOD_SECONDS,
      generateSelector: cc.spec.generateSelector ?? false,
    });
  }
  return out;
}
