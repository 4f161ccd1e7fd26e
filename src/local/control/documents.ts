/**
 * Admission of the documents of a file (`local up -f`, `local apply -f`), as the API server
 * and kubectl's strict validation would do it, before anything is applied: every document must
 * be of a kind the runtime accepts (the parents of the loaded CompositeControllers, Secret,
 * PersistentVolumeClaim), carry a valid name, live in the state dir's namespace and validate
 * (custom resources against their CRD's openAPIV3Schema, MySQLCluster and MySQLBackup specs also
 * against their zod schemas; Secrets' data as base64, stringData folded into data; PVCs' access
 * modes and requested storage). One bad document fails the whole file: the error lists every
 * problem, and nothing is applied. ARCHITECTURE.md section 6.
 */
import { validateValue } from "../../api/crd.js";
import { MySQLBackupSpecSchema, BACKUP_KIND } from "../../api/backup.js";
import { CLUSTER_KIND } from "../../api/constants.js";
import { MySQLClusterSpecSchema, QUANTITY_PATTERN } from "../../api/cluster.js";
import { issuesOf } from "../../api/parse.js";
import { arrayField, deepEqual, field, isRecord, recordField, stringField, type KObject } from "../apiserver/objects.js";
import type { KindCatalog, KindInfo } from "../apiserver/kinds.js";
import type { ObjectStore } from "../apiserver/store.js";
import { flavorOfImage, missingServerMessage } from "../node/binaries.js";
import { ControlError } from "./channel.js";

/** A DNS-1123 subdomain: what Kubernetes requires of most object names. */
const DNS1123_SUBDOMAIN = /^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$/;
const ACCESS_MODES = ["ReadWriteOnce", "ReadOnlyMany", "ReadWriteMany", "ReadWriteOncePod"];
const BASE64 = /^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/;

/** What admission needs to know. */
export interface AdmissionContext {
  catalog: KindCatalog;
  /** The kinds a file may hold. */
  accepted: readonly KindInfo[];
  /** The state dir's namespace. */
  namespace: string;
  store: ObjectStore;
}

/** "MySQLCluster, MySQLBackup (metamysql.dev/v1alpha1), Secret, PersistentVolumeClaim (v1)". */
export function acceptedKindsText(accepted: readonly KindInfo[]): string {
  const byVersion = new Map<string, string[]>();
  for (const k of accepted) byVersion.set(k.apiVersion, [...(byVersion.get(k.apiVersion) ?? []), k.kind]);
  return [...byVersion].map(([v, kinds]) => `${kinds.join(", ")} (${v})`).join("; ");
}

/** The label of a document in errors: `document 2 (MySQLBackup nightly)`. */
function label(index: number, doc: unknown): string {
  const kind = stringField(doc, "kind");
  const name = stringField(doc, "metadata", "name");
  return `document ${index + 1}${kind ? ` (${kind}${name ? ` ${name}` : ""})` : ""}`;
}

/** The string map at `value`, or the errors of one that is not (labels, annotations, data). */
function stringMap(value: unknown, path: string, errors: string[]): Record<string, string> | undefined {
  if (value === undefined || value === null) return undefined;
  if (!isRecord(value)) {
    errors.push(`${path}: must be a map of strings`);
    return undefined;
  }
  for (const [k, v] of Object.entries(value)) if (typeof v !== "string") errors.push(`${path}.${k}: must be a string`);
  return value as Record<string, string>;
}

/**
 * Validates and normalizes the documents of a file: returns them ready to apply (namespace set,
 * Secrets' stringData folded into data, status dropped), or throws a 422 ControlError listing
 * every problem of every document.
 */
export function admitDocuments(docs: readonly unknown[], ctx: AdmissionContext): KObject[] {
  const problems: string[] = [];
  const out: KObject[] = [];
  docs.forEach((doc, i) => {
    const errors: string[] = [];
    const obj = admitOne(doc, ctx, errors);
    if (errors.length > 0) problems.push(`${label(i, doc)}: ${errors.join("; ")}`);
    else if (obj) out.push(obj);
  });
  if (problems.length > 0) throw new ControlError(422, `nothing applied:\n  ${problems.join("\n  ")}`);
  return out;
}

function admitOne(doc: unknown, ctx: AdmissionContext, errors: string[]): KObject | undefined {
  if (!isRecord(doc)) {
    errors.push("not a Kubernetes object");
    return undefined;
  }
  const apiVersion = doc.apiVersion;
  const kind = doc.kind;
  if (typeof apiVersion !== "string" || typeof kind !== "string" || !apiVersion || !kind) {
    errors.push("apiVersion and kind are required");
    return undefined;
  }
  const info = ctx.catalog.byKind(apiVersion, kind);
  if (!info || !ctx.accepted.includes(info)) {
    errors.push(`unknown kind ${kind} (apiVersion ${apiVersion}): the local runtime accepts ${acceptedKindsText(ctx.accepted)}`);
    return undefined;
  }
  if (info.apiVersion !== apiVersion) {
    errors.push(`${kind} must have apiVersion ${info.apiVersion}, not ${apiVersion}`);
    return undefined;
  }
  const meta = doc.metadata;
  if (!isRecord(meta)) {
    errors.push("metadata is required");
    return undefined;
  }
  const name = meta.name;
  if (typeof name !== "string" || name === "") {
    errors.push(meta.generateName !== undefined ? "metadata.generateName is not supported: give metadata.name" : "metadata.name is required");
    return undefined;
  }
  if (name.length > 253 || !DNS1123_SUBDOMAIN.test(name)) {
    errors.push(
      `metadata.name "${name}": must be a lower-case DNS-1123 subdomain (a-z, 0-9, '-' and '.', starting and ending alphanumeric, at most 253 characters)`,
    );
  }
  const namespace = meta.namespace ?? ctx.namespace;
  if (namespace !== ctx.namespace) {
    errors.push(`metadata.namespace "${String(namespace)}": this state dir holds namespace "${ctx.namespace}" only`);
  }
  const labels = stringMap(meta.labels, "metadata.labels", errors);
  const annotations = stringMap(meta.annotations, "metadata.annotations", errors);
  const existing = ctx.store.get(info.apiVersion, info.kind, ctx.namespace, name);
  if (existing?.metadata.deletionTimestamp) errors.push(`${kind} ${name} is being deleted; apply it again once it is gone`);

  const body: KObject = {
    ...doc,
    apiVersion,
    kind,
    metadata: { name, namespace: ctx.namespace, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
  };
  delete body.status;

  if (info.custom) admitCustom(body, info, errors);
  if (kind === CLUSTER_KIND) admitCluster(body, errors);
  if (kind === BACKUP_KIND) {
    const spec = MySQLBackupSpecSchema.safeParse(body.spec ?? {});
    if (!spec.success) errors.push(...issuesOf("spec", spec.error).map((i) => `${i.path}: ${i.message}`));
  }
  if (info.apiVersion === "v1" && kind === "Secret") return admitSecret(body, errors);
  if (info.apiVersion === "v1" && kind === "PersistentVolumeClaim") admitClaim(body, existing, errors);
  return body;
}

/** Against the CRD's openAPIV3Schema, like the API server (types, enums, bounds, patterns, required, unknown fields). */
function admitCustom(body: KObject, info: KindInfo, errors: string[]): void {
  const schema = info.schema;
  if (!schema) return;
  const props = recordField(schema, "properties");
  const required = arrayField(schema, "required").map(String);
  for (const key of Object.keys(body)) {
    if (["apiVersion", "kind", "metadata"].includes(key)) continue;
    const node = props[key];
    if (isRecord(node)) errors.push(...validateValue(body[key], node, key));
    else if (schema["x-kubernetes-preserve-unknown-fields"] !== true) errors.push(`${key}: unknown field`);
  }
  for (const key of required) if (!(key in body) && key !== "metadata") errors.push(`${key}: required`);
  const nameNode = field(schema, "properties", "metadata", "properties", "name");
  if (isRecord(nameNode)) errors.push(...validateValue(body.metadata.name, nameNode, "metadata.name"));
}

/** The MySQLCluster spec by its zod schema (what the hook would call Invalid), and a server to run it. */
function admitCluster(body: KObject, errors: string[]): void {
  const spec = MySQLClusterSpecSchema.safeParse(body.spec ?? {});
  if (!spec.success) {
    errors.push(...issuesOf("spec", spec.error).map((i) => `${i.path}: ${i.message}`));
    return;
  }
  const flavor = stringField(body, "spec", "flavor") ?? "mysql";
  const image = stringField(body, "spec", "image");
  const serverFlavor = image ? flavorOfImage(image) : flavor === "mariadb" ? "mariadb" : "mysql";
  const missing = serverFlavor ? missingServerMessage(serverFlavor) : undefined;
  if (missing) errors.push(missing);
}

/** data must be base64; stringData is folded into data (it wins), as the API server does. */
function admitSecret(body: KObject, errors: string[]): KObject {
  const data = stringMap(body.data, "data", errors) ?? {};
  const stringData = stringMap(body.stringData, "stringData", errors) ?? {};
  const out: Record<string, string> = {};
  const KEY = /^[-._a-zA-Z0-9]+$/;
  for (const [k, v] of Object.entries(data)) {
    if (!KEY.test(k)) errors.push(`data.${k}: a key must consist of alphanumeric characters, '-', '_' or '.'`);
    if (typeof v === "string" && !BASE64.test(v)) errors.push(`data.${k}: must be base64 (put plain text under stringData)`);
    else out[k] = v;
  }
  for (const [k, v] of Object.entries(stringData)) {
    if (!KEY.test(k)) errors.push(`stringData.${k}: a key must consist of alphanumeric characters, '-', '_' or '.'`);
    if (typeof v === "string") out[k] = Buffer.from(v, "utf8").toString("base64");
  }
  if (body.type !== undefined && typeof body.type !== "string") errors.push("type: must be a string");
  for (const key of Object.keys(body)) {
    if (!["apiVersion", "kind", "metadata", "data", "stringData", "type", "immutable"].includes(key)) errors.push(`${key}: unknown field`);
  }
  const secret: KObject = { apiVersion: body.apiVersion, kind: body.kind, metadata: body.metadata, type: body.type ?? "Opaque", data: out };
  if (body.immutable !== undefined) secret.immutable = body.immutable;
  return secret;
}

/** spec.accessModes and spec.resources.requests.storage are required; the spec is immutable except the request. */
function admitClaim(body: KObject, existing: KObject | undefined, errors: string[]): void {
  if (!isRecord(body.spec)) {
    errors.push("spec: required");
    return;
  }
  const modes = arrayField(body, "spec", "accessModes");
  if (modes.length === 0) errors.push("spec.accessModes: at least one is required");
  for (const m of modes) if (!ACCESS_MODES.includes(String(m))) errors.push(`spec.accessModes: "${String(m)}" is not one of ${ACCESS_MODES.join(", ")}`);
  const storage = field(body, "spec", "resources", "requests", "storage");
  if (typeof storage !== "string" || !new RegExp(QUANTITY_PATTERN).test(storage)) {
    errors.push("spec.resources.requests.storage: required, a quantity such as 1Gi");
  }
  if (existing) {
    const strip = (spec: unknown): unknown => ({ ...recordField(spec), resources: undefined });
    if (!deepEqual(strip(existing.spec), strip(body.spec))) errors.push("spec: immutable after creation except resources.requests");
  }
}
