/**
 * Parsing of Metacontroller requests for MySQLBackup hooks (docs/backups.md): the parent, its
 * Job children, and the related MySQLCluster, database pods and backup pods.
 */
import { MySQLBackupObjectSchema, type MySQLBackupObject } from "../../src/api/backup.js";
import { API_VERSION, CLUSTER_KIND } from "../../src/api/constants.js";
import { type KubeObject, PodSchema, type Pod } from "../../src/api/k8s.js";
import { CustomizeRequestSchema, SyncRequestSchema, type SyncRequest } from "../../src/api/metacontroller.js";
import { issuesOf } from "../../src/api/parse.js";
import { BadRequestError } from "../shared/context.js";

/** A parsed MySQLBackup sync/finalize request. */
export interface ParsedBackupSync {
  request: SyncRequest;
  parent: MySQLBackupObject;
  children: KubeObject[];
  /** The MySQLCluster named by spec.clusterName, when it exists. */
  cluster: KubeObject | undefined;
  /** Every related pod (database pods of the cluster and pods of the backup Jobs). */
  pods: Pod[];
}

function parseParent(parent: unknown): MySQLBackupObject {
  const parsed = MySQLBackupObjectSchema.safeParse(parent);
  if (!parsed.success) {
    throw new BadRequestError(
      "parent is not a metamysql.dev/v1alpha1 MySQLBackup",
      issuesOf("parent", parsed.error).map((i) => `${i.path}: ${i.message}`),
    );
  }
  return parsed.data;
}

function asObject(body: unknown): void {
  if (typeof body !== "object" || body === null || Array.isArray(body)) throw new BadRequestError("request body must be a JSON object");
}

/** Parses a sync or finalize body. */
export function parseBackupSync(body: unknown): ParsedBackupSync {
  asObject(body);
  const parsed = SyncRequestSchema.safeParse(body);
  if (!parsed.success) {
    throw new BadRequestError(
      "malformed Metacontroller sync request",
      issuesOf("", parsed.error).map((i) => `${i.path || "(body)"}: ${i.message}`),
    );
  }
  const parent = parseParent(parsed.data.parent);
  const pods: Pod[] = [];
  let cluster: KubeObject | undefined;
  for (const obj of parsed.data.related) {
    if (obj.kind === "Pod") {
      const pod = PodSchema.safeParse(obj);
      if (pod.success) pods.push(pod.data);
    } else if (obj.kind === CLUSTER_KIND && obj.apiVersion === API_VERSION) {
      cluster = obj;
    }
  }
  return { request: parsed.data, parent, children: parsed.data.children, cluster, pods };
}

/** Parses a customize body. */
export function parseBackupCustomize(body: unknown): MySQLBackupObject {
  asObject(body);
  const parsed = CustomizeRequestSchema.safeParse(body);
  if (!parsed.success) {
    throw new BadRequestError(
      "malformed Metacontroller customize request",
      issuesOf("", parsed.error).map((i) => `${i.path || "(body)"}: ${i.message}`),
    );
  }
  return parseParent(parsed.data.parent);
}
