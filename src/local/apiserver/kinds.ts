/**
 * The local API server's discovery: which kinds exist, under which names `local get` and
 * `local delete` accept them (plural, singular, short names, like kubectl), what their table
 * shows (a CRD's additionalPrinterColumns; kubectl's columns for built-in kinds) and, for custom
 * resources, the openAPIV3Schema documents are validated against. The custom resources are
 * read from the shipped CRDs (deploy/crds, following its kustomization's resources list), so a
 * new CRD there is known without a change here. ARCHITECTURE.md section 6.
 */
import { existsSync, readFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { parse, parseAllDocuments } from "yaml";
import type { SchemaNode } from "../../api/crd.js";
import { arrayField, field, isRecord, numberField, recordField, stringField, type KObject } from "./objects.js";

/** One column of `local get`'s table. */
export interface PrinterColumn {
  name: string;
  /** A CRD column's jsonPath (`.status.state`). */
  jsonPath?: string;
  /** `date` columns print an age (kubectl). */
  type?: string;
  /** A built-in column: computed from the object (and the runtime's context). */
  value?: (obj: KObject, ctx: TableContext) => string;
}

/** What a table may need besides the object (the Service proxies' addresses). */
export interface TableContext {
  now: number;
  /** "127.0.0.1:PORT" of a Service's proxy, by "namespace/name". */
  serviceAddress?: (namespace: string, name: string) => string | undefined;
}

/** A kind the local API server knows. */
export interface KindInfo {
  apiVersion: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames: string[];
  /** Custom resources: from a CRD (with its schema). */
  custom: boolean;
  columns: PrinterColumn[];
  /** The served version's openAPIV3Schema (custom resources only). */
  schema?: SchemaNode;
}

/** kubectl's age: 45s, 12m, 5h, 3d. */
export function formatAge(timestamp: string | undefined, now: number): string {
  if (!timestamp) return "<unknown>";
  const secs = Math.max(0, Math.floor((now - Date.parse(timestamp)) / 1000));
  if (!Number.isFinite(secs)) return "<unknown>";
  if (secs < 120) return `${secs}s`;
  if (secs < 3600 * 2) return `${Math.floor(secs / 60)}m`;
  if (secs < 86400 * 2) return `${Math.floor(secs / 3600)}h`;
  return `${Math.floor(secs / 86400)}d`;
}

const age: PrinterColumn = { name: "AGE", value: (o, ctx) => formatAge(o.metadata.creationTimestamp, ctx.now) };

function podColumns(): PrinterColumn[] {
  const statuses = (o: KObject): Record<string, unknown>[] => arrayField(o, "status", "containerStatuses").filter(isRecord);
  return [
    {
      // Out of the containers the kubelet reports: the local kubelet runs sidecars (the agent)
      // without reporting them in the Pod status (docs/local-runtime.md), so counting the spec's
      // containers would show a ready pod as 1/2.
      name: "READY",
      value: (o) => `${statuses(o).filter((s) => s.ready === true).length}/${statuses(o).length || arrayField(o, "spec", "containers").length}`,
    },
    {
      name: "STATUS",
      value: (o) => {
        if (o.metadata.deletionTimestamp) return "Terminating";
        for (const s of statuses(o)) {
          const reason = stringField(s, "state", "waiting", "reason") ?? stringField(s, "state", "terminated", "reason");
          if (reason) return reason;
        }
        return stringField(o, "status", "phase") ?? "Pending";
      },
    },
    { name: "RESTARTS", value: (o) => String(statuses(o).reduce((n, s) => n + (typeof s.restartCount === "number" ? s.restartCount : 0), 0)) },
    age,
    { name: "IP", value: (o) => stringField(o, "status", "podIP") ?? "<none>" },
  ];
}

function servicePorts(o: KObject): string {
  const ports = arrayField(o, "spec", "ports").filter(isRecord);
  return ports.length ? ports.map((p) => `${String(p.port)}/${String(p.protocol ?? "TCP")}`).join(",") : "<none>";
}

/** The kinds of Kubernetes itself that the local runtime stores, with kubectl's columns. */
export function builtinKinds(): KindInfo[] {
  const k = (apiVersion: string, kind: string, plural: string, shortNames: string[], columns: PrinterColumn[]): KindInfo => ({
    apiVersion,
    kind,
    plural,
    singular: kind.toLowerCase(),
    shortNames,
    custom: false,
    columns,
  });
  const count =
    (...path: string[]) =>
    (o: KObject) =>
      String(Object.keys(recordField(o, ...path)).length);
  return [
    k("v1", "Pod", "pods", ["po"], podColumns()),
    k("v1", "Secret", "secrets", [], [{ name: "TYPE", value: (o) => stringField(o, "type") ?? "Opaque" }, { name: "DATA", value: count("data") }, age]),
    k(
      "v1",
      "ConfigMap",
      "configmaps",
      ["cm"],
      [{ name: "DATA", value: (o) => String(Object.keys(recordField(o, "data")).length + Object.keys(recordField(o, "binaryData")).length) }, age],
    ),
    k(
      "v1",
      "PersistentVolumeClaim",
      "persistentvolumeclaims",
      ["pvc"],
      [
        { name: "STATUS", value: (o) => stringField(o, "status", "phase") ?? "Bound" },
        { name: "CAPACITY", value: (o) => stringField(o, "status", "capacity", "storage") ?? stringField(o, "spec", "resources", "requests", "storage") ?? "" },
        { name: "ACCESS MODES", value: (o) => arrayField(o, "spec", "accessModes").map(accessModeShort).join(",") },
        { name: "STORAGECLASS", value: (o) => stringField(o, "spec", "storageClassName") ?? "<unset>" },
        age,
      ],
    ),
    k(
      "v1",
      "Service",
      "services",
      ["svc"],
      [
        { name: "TYPE", value: (o) => stringField(o, "spec", "type") ?? "ClusterIP" },
        { name: "CLUSTER-IP", value: (o) => stringField(o, "spec", "clusterIP") ?? "<none>" },
        { name: "PORT(S)", value: servicePorts },
        { name: "LOCAL ADDRESS", value: (o, ctx) => ctx.serviceAddress?.(o.metadata.namespace ?? "default", o.metadata.name) ?? "<none>" },
        age,
      ],
    ),
    k(
      "apps/v1",
      "StatefulSet",
      "statefulsets",
      ["sts"],
      [{ name: "READY", value: (o) => `${numberField(o, "status", "readyReplicas") ?? 0}/${numberField(o, "spec", "replicas") ?? 1}` }, age],
    ),
    k(
      "discovery.k8s.io/v1",
      "EndpointSlice",
      "endpointslices",
      [],
      [
        { name: "ADDRESSTYPE", value: (o) => stringField(o, "addressType") ?? "" },
        {
          name: "PORTS",
          value: (o) =>
            arrayField(o, "ports")
              .filter(isRecord)
              .map((p) => String(p.port))
              .join(",") || "<unset>",
        },
        {
          name: "ENDPOINTS",
          value: (o) =>
            arrayField(o, "endpoints")
              .filter(isRecord)
              .flatMap((e) => arrayField(e, "addresses").map(String))
              .join(",") || "<unset>",
        },
        age,
      ],
    ),
    k(
      "batch/v1",
      "Job",
      "jobs",
      [],
      [
        {
          name: "STATUS",
          value: (o) => {
            const conds = arrayField(o, "status", "conditions").filter(isRecord);
            const done = conds.find((c) => (c.type === "Complete" || c.type === "Failed") && c.status === "True");
            return done ? String(done.type) : "Running";
          },
        },
        { name: "COMPLETIONS", value: (o) => `${numberField(o, "status", "succeeded") ?? 0}/${numberField(o, "spec", "completions") ?? 1}` },
        age,
      ],
    ),
    k(
      "batch/v1",
      "CronJob",
      "cronjobs",
      ["cj"],
      [
        { name: "SCHEDULE", value: (o) => stringField(o, "spec", "schedule") ?? "" },
        { name: "SUSPEND", value: (o) => String(field(o, "spec", "suspend") === true ? "True" : "False") },
        { name: "ACTIVE", value: (o) => String(arrayField(o, "status", "active").length) },
        {
          name: "LAST SCHEDULE",
          value: (o, ctx) => (stringField(o, "status", "lastScheduleTime") ? formatAge(stringField(o, "status", "lastScheduleTime"), ctx.now) : "<none>"),
        },
        age,
      ],
    ),
    k(
      "policy/v1",
      "PodDisruptionBudget",
      "poddisruptionbudgets",
      ["pdb"],
      [
        { name: "MIN AVAILABLE", value: (o) => String(field(o, "spec", "minAvailable") ?? "N/A") },
        { name: "MAX UNAVAILABLE", value: (o) => String(field(o, "spec", "maxUnavailable") ?? "N/A") },
        { name: "ALLOWED DISRUPTIONS", value: (o) => String(numberField(o, "status", "disruptionsAllowed") ?? 0) },
        age,
      ],
    ),
    k(
      "networking.k8s.io/v1",
      "NetworkPolicy",
      "networkpolicies",
      ["netpol"],
      [{ name: "POD-SELECTOR", value: (o) => selectorText(recordField(o, "spec", "podSelector")) }, age],
    ),
    k("v1", "ServiceAccount", "serviceaccounts", ["sa"], [age]),
    k("rbac.authorization.k8s.io/v1", "Role", "roles", [], [age]),
    k("rbac.authorization.k8s.io/v1", "RoleBinding", "rolebindings", [], [age]),
  ];
}

function accessModeShort(mode: unknown): string {
  const m: Record<string, string> = { ReadWriteOnce: "RWO", ReadOnlyMany: "ROX", ReadWriteMany: "RWX", ReadWriteOncePod: "RWOP" };
  return m[String(mode)] ?? String(mode);
}

function selectorText(sel: Record<string, unknown>): string {
  const labels = Object.entries(recordField(sel, "matchLabels")).map(([k, v]) => `${k}=${String(v)}`);
  return labels.length ? labels.join(",") : "<none>";
}

/** The files a kustomization.yaml lists under `resources` (relative to it), in order. */
export function kustomizationResources(dir: string): string[] {
  const file = join(dir, "kustomization.yaml");
  if (!existsSync(file)) return [];
  const doc: unknown = parse(readFileSync(file, "utf8"));
  return arrayField(doc, "resources")
    .filter((r): r is string => typeof r === "string")
    .map((r) => join(dir, r));
}

/** The custom resources defined by the CRDs a kustomization dir lists (deploy/crds). */
export function loadCrdKinds(dir: string): KindInfo[] {
  const out: KindInfo[] = [];
  for (const file of kustomizationResources(dir)) {
    if (!existsSync(file)) throw new Error(`${join(dirname(file), "kustomization.yaml")} lists ${file}, which does not exist`);
    for (const doc of parseAllDocuments(readFileSync(file, "utf8"))) {
      const crd: unknown = doc.toJS();
      if (stringField(crd, "kind") !== "CustomResourceDefinition") continue;
      const group = stringField(crd, "spec", "group") ?? "";
      const names = recordField(crd, "spec", "names");
      const versions = arrayField(crd, "spec", "versions").filter(isRecord);
      const version = versions.find((v) => v.storage === true) ?? versions.find((v) => v.served === true) ?? versions[0];
      const kind = stringField(names, "kind");
      const plural = stringField(names, "plural");
      if (!kind || !plural || !version) continue;
      const columns: PrinterColumn[] = arrayField(version, "additionalPrinterColumns")
        .filter(isRecord)
        .map((c) => ({ name: String(c.name).toUpperCase(), jsonPath: String(c.jsonPath), type: String(c.type ?? "string") }));
      // kubectl shows AGE last unless the CRD names it (it does here, as "Age").
      if (!columns.some((c) => c.name === "AGE")) columns.push(age);
      const schema = field(version, "schema", "openAPIV3Schema");
      out.push({
        apiVersion: `${group}/${String(version.name)}`,
        kind,
        plural,
        singular: stringField(names, "singular") ?? kind.toLowerCase(),
        shortNames: arrayField(names, "shortNames").map(String),
        custom: true,
        columns,
        ...(isRecord(schema) ? { schema } : {}),
      });
    }
  }
  return out;
}

/** Reads a simple JSONPath of a printer column (`.status.state`, `.spec.items[0].name`). */
export function readJsonPath(obj: unknown, jsonPath: string): unknown {
  const path: Array<string | number> = [];
  for (const m of jsonPath.matchAll(/\.([^.[\]]+)|\[(\d+)\]/g)) path.push(m[1] !== undefined ? m[1] : Number(m[2]));
  return field(obj, ...path);
}

/** The known kinds: lookups by any name kubectl accepts. */
export class KindCatalog {
  readonly kinds: readonly KindInfo[];

  constructor(kinds: KindInfo[]) {
    this.kinds = kinds;
  }

  /** The kind named `name`: plural, singular, short name or Kind (any case), optionally `name.group`. */
  resolve(name: string): KindInfo | undefined {
    const lower = name.toLowerCase();
    const dot = lower.indexOf(".");
    const base = dot < 0 ? lower : lower.slice(0, dot);
    const group = dot < 0 ? undefined : lower.slice(dot + 1);
    return this.kinds.find((k) => {
      if (group !== undefined && !k.apiVersion.toLowerCase().startsWith(`${group}/`)) return false;
      return k.plural === base || k.singular === base || k.kind.toLowerCase() === base || k.shortNames.includes(base);
    });
  }

  /** The kind of `apiVersion` + `kind`, matched by group and kind. */
  byKind(apiVersion: string, kind: string): KindInfo | undefined {
    const group = (v: string): string => (v.includes("/") ? v.slice(0, v.indexOf("/")) : "");
    return this.kinds.find((k) => k.kind === kind && group(k.apiVersion) === group(apiVersion));
  }

  /** The kind of a resource plural (`mysqlclusters`). */
  byResource(resource: string): KindInfo | undefined {
    return this.kinds.find((k) => k.plural === resource);
  }

  /** Resource plural -> Kind of every known kind (what CompositeControllers and related rules name). */
  resourceKinds(): Record<string, string> {
    return Object.fromEntries(this.kinds.map((k) => [k.plural, k.kind]));
  }
}

/** `kind.group` as kubectl prints it (`mysqlcluster.metamysql.dev`, `secret`). */
export function qualifiedName(info: KindInfo): string {
  const slash = info.apiVersion.indexOf("/");
  const group = slash < 0 ? "" : info.apiVersion.slice(0, slash);
  return group ? `${info.singular}.${group}` : info.singular;
}

/** The table of `local get` (column names, then one row per object). */
export function objectTable(info: KindInfo, objects: KObject[], ctx: TableContext): { columns: string[]; rows: string[][] } {
  const columns = ["NAME", ...info.columns.map((c) => c.name)];
  const rows = objects.map((o) => [
    o.metadata.name,
    ...info.columns.map((c) => {
      if (c.value) return c.value(o, ctx);
      const v = readJsonPath(o, c.jsonPath ?? "");
      if (v === undefined || v === null || v === "") return "";
      if (c.type === "date" && typeof v === "string") return formatAge(v, ctx.now);
      return typeof v === "object" ? JSON.stringify(v) : String(v);
    }),
  ]);
  return { columns, rows };
}

/** Aligns a table like kubectl (three spaces between columns). */
export function formatTable(table: { columns: string[]; rows: string[][] }): string {
  const widths = table.columns.map((c, i) => Math.max(c.length, ...table.rows.map((r) => (r[i] ?? "").length)));
  const line = (cells: string[]): string =>
    cells
      .map((c, i) => (i === cells.length - 1 ? c : c.padEnd((widths[i] ?? 0) + 3)))
      .join("")
      .trimEnd();
  return `${[line(table.columns), ...table.rows.map(line)].join("\n")}\n`;
}
