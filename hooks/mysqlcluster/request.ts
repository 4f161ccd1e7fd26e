/**
 * Parsing of Metacontroller requests for MySQLCluster hooks: malformed bodies and parents that
 * are not MySQLClusters are BadRequestErrors (400).
 */
import { MySQLClusterObjectSchema, type MySQLClusterObject } from "../../src/api/cluster.js";
import { COMPONENT_BACKUP, COMPONENT_DATABASE, LABEL_COMPONENT, LABEL_INSTANCE, LABEL_MANAGED_BY, MANAGED_BY } from "../../src/api/constants.js";
import { type KubeObject, PodSchema, SecretSchema, type Pod, type Secret, ordinalOf } from "../../src/api/k8s.js";
import { CustomizeRequestSchema, SyncRequestSchema, type CustomizeRequest, type SyncRequest } from "../../src/api/metacontroller.js";
import { issuesOf } from "../../src/api/parse.js";
import { BadRequestError } from "../shared/context.js";

/** A parsed sync/finalize request. */
export interface ParsedSync {
  request: SyncRequest;
  parent: MySQLClusterObject;
  /** Children, namespaced to the parent. */
  children: KubeObject[];
  /**
   * Related pods of this cluster's StatefulSet, by ordinal: only pods that carry the cluster's
   * labels (component database, instance, managed-by) and the StatefulSet's ordinal naming.
   * The sync bounds them further by ordinal (`podsToProbe`).
   */
  pods: Array<{ ordinal: number; pod: Pod }>;
  /** Related Secrets (the user's credentials Secret). */
  secrets: Secret[];
  /** Related pods of the cluster's backup Jobs (docs/backups.md): they hold the results. */
  backupPods: Pod[];
}

function parseParent(parent: unknown): MySQLClusterObject {
  const parsed = MySQLClusterObjectSchema.safeParse(parent);
  if (!parsed.success) {
    throw new BadRequestError(
      "parent is not a metamysql.dev/v1alpha1 MySQLCluster",
      issuesOf("parent", parsed.error).map((i) => `${i.path}: ${i.message}`),
    );
  }
  return parsed.data;
}

/** Parses a sync or finalize body. */
export function parseSyncRequest(body: unknown): ParsedSync {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BadRequestError("request body must be a JSON object");
  const parsed = SyncRequestSchema.safeParse(body);
  if (!parsed.success) {
    throw new BadRequestError(
      "malformed Metacontroller sync request",
      issuesOf("", parsed.error).map((i) => `${i.path || "(body)"}: ${i.message}`),
    );
  }
  const parent = parseParent(parsed.data.parent);
  const pods: ParsedSync["pods"] = [];
  const secrets: Secret[] = [];
  const backupPods: Pod[] = [];
  for (const obj of parsed.data.related) {
    if (obj.kind === "Pod") {
      const pod = PodSchema.safeParse(obj);
      if (!pod.success) throw new BadRequestError(`related Pod ${obj.metadata.name} is malformed`);
      const labels = pod.data.metadata.labels ?? {};
      // Only the cluster's own pods count; anything else in `related` is ignored, so a stray or
      // forged pod can never be probed or reported (customize.ts selects by these labels).
      if (labels[LABEL_INSTANCE] !== parent.metadata.name || labels[LABEL_MANAGED_BY] !== MANAGED_BY) continue;
      if (labels[LABEL_COMPONENT] === COMPONENT_BACKUP) {
        backupPods.push(pod.data);
        continue;
      }
      if (labels[LABEL_COMPONENT] !== COMPONENT_DATABASE) continue;
      const ordinal = ordinalOf(parent.metadata.name, pod.data.metadata.name);
      if (ordinal !== undefined) pods.push({ ordinal, pod: pod.data });
    } else if (obj.kind === "Secret") {
      const secret = SecretSchema.safeParse(obj);
      if (secret.success) secrets.push(secret.data);
    }
  }
  pods.sort((a, b) => a.ordinal - b.ordinal);
  return { request: parsed.data, parent, children: parsed.data.children, pods, secrets, backupPods };
}

/** Largest `spec.instances` (src/api/cluster.ts): no StatefulSet of ours ever goes above it. */
export const MAX_INSTANCES = 9;

/**
 * The pods a sync observes and probes: ordinals below max(spec.instances, the StatefulSet's
 * current replicas). A scale-down keeps the StatefulSet above spec.instances until the primary
 * has moved below it (sync.ts desiredReplicas), so those pods stay observed; pods above that
 * (stale, or forged into `related`) are never probed. Never more than MAX_INSTANCES.
 */
export function podsToProbe(pods: ParsedSync["pods"], instances: number, statefulSet: KubeObject | undefined): ParsedSync["pods"] {
  const replicas: unknown = (statefulSet?.["spec"] as { replicas?: unknown } | undefined)?.replicas;
  const current = typeof replicas === "number" && Number.isInteger(replicas) && replicas > 0 ? replicas : 0;
  const bound = Math.min(MAX_INSTANCES, Math.max(instances, current));
  return pods.filter((p) => p.ordinal < bound);
}

/** Parses a customize body. */
export function parseCustomizeRequest(body: unknown): { request: CustomizeRequest; parent: MySQLClusterObject } {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BadRequestError("request body must be a JSON object");
  const parsed = CustomizeRequestSchema.safeParse(body);
  if (!parsed.success) {
    throw new BadRequestError(
      "malformed Metacontroller customize request",
      issuesOf("", parsed.error).map((i) => `${i.path || "(body)"}: ${i.message}`),
    );
  }
  return { request: parsed.data, parent: parseParent(parsed.data.parent) };
}

/** Secret by name among related objects. */
export function findSecret(secrets: readonly Secret[], name: string): Secret | undefined {
  return secrets.find((s) => s.metadata.name === name);
}
