/**
 * What the MySQLDatabase and MySQLUser hooks share (docs/app-objects.md): parsing a request,
 * the related resources (the MySQLCluster, its database pods, its credentials Secret and the
 * user's password Secret), finding the current writable primary and the operator password, the
 * status with its Ready condition, and sorting errors into Pending and Failed.
 */
import { z } from "zod";
import { CLUSTER_REF_PATTERN } from "../../src/api/app-objects.js";
import { MySQLClusterSpecSchema, MySQLClusterStatusSchema, type Flavor } from "../../src/api/cluster.js";
import { mergeConditions } from "../../src/api/conditions.js";
import {
  API_VERSION,
  CLUSTER_KIND,
  CLUSTER_PLURAL,
  COMPONENT_DATABASE,
  CONDITION_READY,
  LABEL_COMPONENT,
  LABEL_INSTANCE,
  LABEL_MANAGED_BY,
  MANAGED_BY,
  MYSQL_PORT,
  SECRET_APPS_PASSWORD,
  APPS_USER,
} from "../../src/api/constants.js";
import { KubeObjectSchema, PodSchema, SecretSchema, ordinalOf, type KubeObject, type Pod, type Secret } from "../../src/api/k8s.js";
import { CustomizeRequestSchema, SyncRequestSchema, type CustomizeResponse, type SyncRequest } from "../../src/api/metacontroller.js";
import { childNames } from "../../src/api/names.js";
import { issuesOf } from "../../src/api/parse.js";
import type { AppObjectState } from "../../src/api/app-objects.js";
import type { Condition } from "../../src/api/cluster.js";
import { MysqlError } from "../../src/mysql/connection.js";
import { NotOwned, NotWritable } from "../../src/mysql/app-objects.js";
import { BadRequestError, type HookContext } from "./context.js";

/** Seconds between syncs while Pending (waiting for the cluster, a primary, a Secret). */
export const PENDING_RESYNC_SECONDS = 5;
/** Seconds between syncs while Failed (the server refused; retried in case it was transient). */
export const FAILED_RESYNC_SECONDS = 30;

/** A parsed parent of either kind: only what the shared code needs. */
export const AppParentSchema = z.object({
  apiVersion: z.string(),
  kind: z.string(),
  metadata: z.looseObject({
    name: z.string().min(1),
    namespace: z.string().min(1).default("default"),
    uid: z.string().optional(),
    generation: z.number().int().optional(),
  }),
  spec: z.unknown().optional(),
  status: z.unknown().optional(),
});
export type AppParent = z.infer<typeof AppParentSchema>;

/** A parsed sync/finalize request. */
export interface ParsedAppSync {
  request: SyncRequest;
  parent: AppParent;
  children: KubeObject[];
  cluster: KubeObject | undefined;
  pods: Pod[];
  secrets: Secret[];
}

function asObject(body: unknown): void {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BadRequestError("request body must be a JSON object");
}

function parseParent(raw: unknown, kind: string): AppParent {
  const parsed = AppParentSchema.safeParse(raw);
  if (!parsed.success || parsed.data.kind !== kind) {
    throw new BadRequestError(
      `parent is not a metamysql.dev/v1alpha1 ${kind}`,
      parsed.success ? [`parent.kind: expected ${kind}`] : issuesOf("parent", parsed.error).map((i) => `${i.path}: ${i.message}`),
    );
  }
  return parsed.data;
}

/** Parses a sync or finalize body of a `kind` parent. */
export function parseAppSync(body: unknown, kind: string): ParsedAppSync {
  asObject(body);
  const parsed = SyncRequestSchema.safeParse(body);
  if (!parsed.success) {
    throw new BadRequestError(
      "malformed Metacontroller sync request",
      issuesOf("", parsed.error).map((i) => `${i.path || "(body)"}: ${i.message}`),
    );
  }
  const parent = parseParent(parsed.data.parent, kind);
  const pods: Pod[] = [];
  const secrets: Secret[] = [];
  let cluster: KubeObject | undefined;
  for (const obj of parsed.data.related) {
    if (obj.kind === "Pod") {
      const pod = PodSchema.safeParse(obj);
      if (pod.success) pods.push(pod.data);
    } else if (obj.kind === "Secret") {
      const secret = SecretSchema.safeParse(obj);
      if (secret.success) secrets.push(secret.data);
    } else if (obj.kind === CLUSTER_KIND && obj.apiVersion === API_VERSION) {
      const k = KubeObjectSchema.safeParse(obj);
      if (k.success) cluster = k.data;
    }
  }
  return { request: parsed.data, parent, children: parsed.data.children, cluster, pods, secrets };
}

/** Parses a customize body of a `kind` parent. */
export function parseAppCustomize(body: unknown, kind: string): AppParent {
  asObject(body);
  const parsed = CustomizeRequestSchema.safeParse(body);
  if (!parsed.success) {
    throw new BadRequestError(
      "malformed Metacontroller customize request",
      issuesOf("", parsed.error).map((i) => `${i.path || "(body)"}: ${i.message}`),
    );
  }
  return parseParent(parsed.data.parent, kind);
}

/** `spec.clusterName` if that field alone is valid (customize answers even for an invalid spec). */
export function clusterNameOf(spec: unknown): string | undefined {
  const raw = typeof spec === "object" && spec !== null ? (spec as Record<string, unknown>)["clusterName"] : undefined;
  return typeof raw === "string" && CLUSTER_REF_PATTERN.test(raw) ? raw : undefined;
}

/**
 * Related resources: the cluster, its database pods, its operator-owned Secret
 * `<c>-apps-credentials` (the apps account these hooks write with), and `extraSecrets` (a
 * MySQLUser's password Secret). Depends on the spec only (cached per generation).
 */
export function appRelatedResources(namespace: string, clusterName: string | undefined, extraSecrets: readonly string[]): CustomizeResponse {
  if (!clusterName) return { relatedResources: [] };
  const names = [...new Set([childNames(clusterName).appsSecret, ...extraSecrets])].sort();
  return {
    relatedResources: [
      { apiVersion: API_VERSION, resource: CLUSTER_PLURAL, namespace, names: [clusterName] },
      {
        apiVersion: "v1",
        resource: "pods",
        namespace,
        labelSelector: { matchLabels: { [LABEL_COMPONENT]: COMPONENT_DATABASE, [LABEL_INSTANCE]: clusterName, [LABEL_MANAGED_BY]: MANAGED_BY } },
      },
      { apiVersion: "v1", resource: "secrets", namespace, names },
    ],
  };
}

/** A value of a Secret (data base64, or stringData), undefined when missing or empty. */
export function secretValue(secret: Secret | undefined, key: string): string | undefined {
  if (!secret) return undefined;
  const encoded = secret.data?.[key];
  const value = encoded !== undefined && encoded !== null ? Buffer.from(encoded, "base64").toString("utf8") : (secret.stringData?.[key] ?? undefined);
  return value ? value : undefined;
}

/** Where and how the hook writes: the current primary, the cluster's flavor and the apps account's password. */
export interface PrimaryTarget {
  clusterName: string;
  clusterUID: string | undefined;
  flavor: Flavor;
  primary: string;
  host: string;
  port: number;
  appsPassword: string;
}

/**
 * The cluster's current writable primary as its status and its pods say, or why not (Pending).
 * Only a pod of the cluster's own StatefulSet (labels and ordinal naming) is ever connected to.
 */
export function resolvePrimary(parsed: ParsedAppSync, clusterName: string): { ok: true; target: PrimaryTarget } | { ok: false; message: string } {
  const cluster = parsed.cluster;
  if (!cluster || cluster.metadata.name !== clusterName) return { ok: false, message: `MySQLCluster ${clusterName} not found` };
  const spec = MySQLClusterSpecSchema.safeParse((cluster as { spec?: unknown }).spec ?? {});
  if (!spec.success) return { ok: false, message: `MySQLCluster ${clusterName} has an invalid spec` };
  const status = MySQLClusterStatusSchema.safeParse((cluster as { status?: unknown }).status ?? {});
  const primary = status.success ? status.data.currentPrimary : undefined;
  if (!primary) return { ok: false, message: `MySQLCluster ${clusterName} has no writable primary yet` };
  const pod = parsed.pods.find(
    (p) =>
      p.metadata.name === primary &&
      p.metadata.labels?.[LABEL_INSTANCE] === clusterName &&
      p.metadata.labels?.[LABEL_MANAGED_BY] === MANAGED_BY &&
      p.metadata.labels?.[LABEL_COMPONENT] === COMPONENT_DATABASE &&
      ordinalOf(clusterName, p.metadata.name) !== undefined,
  );
  const host = pod?.status?.podIP;
  if (!pod || !host || pod.metadata.deletionTimestamp) return { ok: false, message: `primary ${primary} of ${clusterName} has no pod IP` };
  const secretName = childNames(clusterName).appsSecret;
  const secret = parsed.secrets.find((s) => s.metadata.name === secretName);
  const appsPassword = secretValue(secret, SECRET_APPS_PASSWORD);
  if (!appsPassword) return { ok: false, message: `Secret ${secretName} of ${clusterName} not found or lacks ${SECRET_APPS_PASSWORD}` };
  return {
    ok: true,
    target: { clusterName, clusterUID: cluster.metadata.uid, flavor: spec.data.flavor, primary, host, port: MYSQL_PORT, appsPassword },
  };
}

/** Connection options of the primary with the hook's timeouts and the sync budget. */
export function connectOptions(target: PrimaryTarget, ctx: HookContext, port?: number) {
  const started = ctx.receivedAt ?? performance.now();
  return {
    host: target.host,
    name: target.primary,
    port: port ?? target.port,
    user: APPS_USER,
    password: target.appsPassword,
    flavor: target.flavor,
    connectTimeoutMs: ctx.config.MYSQL_CONNECT_TIMEOUT_MS,
    queryTimeoutMs: ctx.config.MYSQL_QUERY_TIMEOUT_MS,
    deadline: started + ctx.config.SYNC_BUDGET_MS,
  };
}

/** Server errors that mean "not the writable primary (any more)": Pending, not Failed. */
const READ_ONLY_ERRNOS = new Set([1290, 1792, 1836]);

/** How an error of a sync ends: Pending (retry soon), Failed (the server refused) or a 500. */
export function classifyError(err: unknown): { state: "Pending" | "Failed"; message: string } | undefined {
  if (err instanceof NotWritable) return { state: "Pending", message: `waiting for a writable primary: ${err.message}` };
  if (err instanceof NotOwned) return { state: "Failed", message: err.message };
  if (err instanceof MysqlError) {
    if (err.errno !== undefined && READ_ONLY_ERRNOS.has(err.errno)) return { state: "Pending", message: `waiting for a writable primary: ${err.message}` };
    if (err.code?.startsWith("ER_")) return { state: "Failed", message: err.message };
    return { state: "Pending", message: `primary unreachable: ${err.message}` };
  }
  return undefined;
}

/** Reasons of the Ready condition. */
const READY_REASON: Record<AppObjectState, string> = { Ready: "Applied", Pending: "Waiting", Failed: "ServerRefused", Invalid: "InvalidSpec" };

/** The common status fields for a state (conditions merged with the previous ones). */
export function appStatus(
  state: AppObjectState,
  message: string,
  previous: { conditions?: Condition[] | undefined },
  now: Date,
  reason?: string,
): { state: AppObjectState; message: string; conditions: Condition[] } {
  return {
    state,
    message,
    conditions: mergeConditions(
      previous.conditions,
      [{ type: CONDITION_READY, status: state === "Ready" ? "True" : "False", reason: reason ?? READY_REASON[state], message }],
      now,
    ),
  };
}

/** resyncAfterSeconds for a state: Pending and Failed converge by themselves. */
export function resyncFor(state: AppObjectState): { resyncAfterSeconds?: number } {
  if (state === "Pending") return { resyncAfterSeconds: PENDING_RESYNC_SECONDS };
  if (state === "Failed") return { resyncAfterSeconds: FAILED_RESYNC_SECONDS };
  return {};
}
