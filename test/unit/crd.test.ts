/**
 * The generated CRD and API reference: up to date with the zod schemas, structural by the
 * Kubernetes rules ("Specifying a structural schema"), carrying the CEL rules and defaults the
 * API promises (ARCHITECTURE.md section 2).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { describe, expect, it } from "vitest";
import { z } from "zod";
import { MySQLClusterSpecSchema, MySQLClusterStatusSchema, type MySQLClusterStatus } from "../../src/api/cluster.js";
import { isRecord, renderCrdYaml, toStructuralSchema, validateValue, walkSchema, type SchemaNode } from "../../src/api/crd.js";
import { GENERATED_FILES, MYSQLCLUSTER_CRD } from "../../src/api/generated.js";

const ROOT = resolve(import.meta.dirname, "../..");

/** Keywords Kubernetes accepts in a CRD schema (JSONSchemaProps), minus the ones structural schemas forbid. */
const ALLOWED_KEYWORDS = new Set([
  "description",
  "type",
  "format",
  "title",
  "default",
  "maximum",
  "exclusiveMaximum",
  "minimum",
  "exclusiveMinimum",
  "maxLength",
  "minLength",
  "pattern",
  "maxItems",
  "minItems",
  "uniqueItems",
  "multipleOf",
  "enum",
  "maxProperties",
  "minProperties",
  "required",
  "items",
  "allOf",
  "oneOf",
  "anyOf",
  "not",
  "properties",
  "additionalProperties",
  "externalDocs",
  "example",
  "nullable",
  "x-kubernetes-preserve-unknown-fields",
  "x-kubernetes-embedded-resource",
  "x-kubernetes-int-or-string",
  "x-kubernetes-list-map-keys",
  "x-kubernetes-list-type",
  "x-kubernetes-map-type",
  "x-kubernetes-validations",
]);
const TYPES = new Set(["object", "array", "string", "integer", "number", "boolean"]);
const JUNCTORS = ["allOf", "anyOf", "oneOf"] as const;
/** Keys a node inside a logical junctor may not set (structural rule 3). */
const FORBIDDEN_IN_JUNCTOR = ["description", "type", "default", "additionalProperties", "nullable"];

function isIntOrStringPattern(branches: unknown): boolean {
  return JSON.stringify(branches) === JSON.stringify([{ type: "integer" }, { type: "string" }]);
}

/** Structural-schema violations under `node`; `junctor` is true inside anyOf/allOf/oneOf/not. */
function structuralViolations(node: unknown, path: string, junctor = false, outer?: SchemaNode): string[] {
  if (!isRecord(node)) return [`${path}: not a schema object`];
  const errs: string[] = [];
  for (const key of Object.keys(node)) if (!ALLOWED_KEYWORDS.has(key)) errs.push(`${path}: keyword ${key} is not allowed`);
  const intOrString = node["x-kubernetes-int-or-string"];
  const preserve = node["x-kubernetes-preserve-unknown-fields"];
  if (intOrString !== undefined && intOrString !== true) errs.push(`${path}: x-kubernetes-int-or-string must be true`);
  if (preserve !== undefined && preserve !== true) errs.push(`${path}: x-kubernetes-preserve-unknown-fields must be true`);
  if (!junctor && node.type === undefined && intOrString !== true && preserve !== true) errs.push(`${path}: no type`);
  if (node.type !== undefined && (typeof node.type !== "string" || !TYPES.has(node.type))) errs.push(`${path}: bad type ${String(node.type)}`);
  if (intOrString === true && node.type !== undefined) errs.push(`${path}: int-or-string must not set a type`);
  if (node.type === "array" && !isRecord(node.items)) errs.push(`${path}: array without items schema`);
  if (node.items !== undefined && node.type !== "array" && !junctor) errs.push(`${path}: items on a non-array`);
  if (node.properties !== undefined && node.additionalProperties !== undefined) errs.push(`${path}: properties and additionalProperties together`);
  if (node.additionalProperties === false) errs.push(`${path}: additionalProperties: false`);
  if (node.uniqueItems === true) errs.push(`${path}: uniqueItems: true is not allowed`);
  if (Object.keys(node).length === 0) errs.push(`${path}: empty schema`);
  if (Array.isArray(node.enum) && typeof node.type === "string") {
    for (const v of node.enum)
      if (validateValue(v, { type: node.type }).length > 0) errs.push(`${path}: enum value ${JSON.stringify(v)} is not a ${node.type}`);
  }
  if (junctor) {
    const allowedIntOrString = (key: string): boolean => key === "type" && outer?.["x-kubernetes-int-or-string"] === true;
    for (const key of FORBIDDEN_IN_JUNCTOR) {
      if (key in node && !allowedIntOrString(key)) errs.push(`${path}: ${key} inside a logical junctor`);
    }
    // Structural rule 2: what a junctor specifies must also be specified outside of it.
    if (isRecord(node.properties)) {
      const outside = isRecord(outer?.properties) ? outer.properties : {};
      for (const name of Object.keys(node.properties)) if (!(name in outside)) errs.push(`${path}.${name}: only specified inside a junctor`);
    }
    if (node.items !== undefined && outer?.items === undefined) errs.push(`${path}: items only specified inside a junctor`);
  } else if ("default" in node) {
    for (const e of validateValue(node.default, node, `${path}(default)`)) errs.push(`invalid default: ${e}`);
  }
  for (const junctorKey of JUNCTORS) {
    const branches = node[junctorKey];
    if (branches === undefined) continue;
    if (!Array.isArray(branches)) {
      errs.push(`${path}.${junctorKey}: not a list`);
      continue;
    }
    if (intOrString === true && !isIntOrStringPattern(branches)) errs.push(`${path}: int-or-string must be anyOf [{type: integer}, {type: string}]`);
    branches.forEach((b, i) => errs.push(...structuralViolations(b, `${path}.${junctorKey}[${i}]`, true, node)));
  }
  if (node.not !== undefined) errs.push(...structuralViolations(node.not, `${path}.not`, true, node));
  if (isRecord(node.properties)) {
    for (const [name, sub] of Object.entries(node.properties)) errs.push(...structuralViolations(sub, `${path}.${name}`, junctor, undefined));
  }
  if (isRecord(node.additionalProperties)) errs.push(...structuralViolations(node.additionalProperties, `${path}.<key>`, junctor));
  if (isRecord(node.items)) errs.push(...structuralViolations(node.items, `${path}[]`, junctor));
  const rules = node["x-kubernetes-validations"];
  if (rules !== undefined) {
    if (!Array.isArray(rules)) errs.push(`${path}: x-kubernetes-validations must be a list`);
    else
      for (const r of rules)
        if (!isRecord(r) || typeof r.rule !== "string" || typeof r.message !== "string") errs.push(`${path}: bad CEL rule ${JSON.stringify(r)}`);
  }
  return errs;
}

/** Root-level rules: metadata restricted to name/generateName, transition rules not under plain lists. */
function rootViolations(root: SchemaNode): string[] {
  const errs = structuralViolations(root, "openAPIV3Schema");
  if (root.type !== "object") errs.push("root: type must be object");
  const props = isRecord(root.properties) ? root.properties : {};
  const metadata = props.metadata;
  if (metadata !== undefined) {
    if (!isRecord(metadata)) errs.push("metadata: not an object");
    else {
      for (const key of Object.keys(metadata)) if (key !== "type" && key !== "properties") errs.push(`metadata: ${key} is not allowed`);
      const metaProps = isRecord(metadata.properties) ? metadata.properties : {};
      for (const [name, sub] of Object.entries(metaProps)) {
        if (name !== "name" && name !== "generateName") errs.push(`metadata.${name}: only name and generateName may be restricted`);
        if (isRecord(sub) && ("default" in sub || sub.type !== "string")) errs.push(`metadata.${name}: must be a string without default`);
      }
    }
  }
  const checkTransitionRules = (node: SchemaNode, path: string, underPlainList: boolean): void => {
    const rules = node["x-kubernetes-validations"];
    if (underPlainList && Array.isArray(rules) && rules.some((r) => isRecord(r) && typeof r.rule === "string" && r.rule.includes("oldSelf"))) {
      errs.push(`${path}: transition rule (oldSelf) under a list without x-kubernetes-list-type: map`);
    }
    const plain = underPlainList || (node.type === "array" && node["x-kubernetes-list-type"] !== "map");
    if (isRecord(node.properties))
      for (const [k, v] of Object.entries(node.properties)) if (isRecord(v)) checkTransitionRules(v, `${path}.${k}`, underPlainList);
    if (isRecord(node.items)) checkTransitionRules(node.items, `${path}[]`, plain);
    if (isRecord(node.additionalProperties)) checkTransitionRules(node.additionalProperties, `${path}.<key>`, underPlainList);
  };
  checkTransitionRules(root, "", false);
  return errs;
}

/** The MySQLCluster CRD as shipped: rendered YAML parsed back (also checks YAML quoting). */
function shippedCrd(): Record<string, unknown> {
  const parsed: unknown = parse(renderCrdYaml(MYSQLCLUSTER_CRD, "src/api/cluster.ts"));
  if (!isRecord(parsed)) throw new Error("CRD YAML is not an object");
  return parsed;
}

const VersionSchema = z.object({
  name: z.string(),
  served: z.boolean(),
  storage: z.boolean(),
  subresources: z.object({ status: z.object({}).strict() }).optional(),
  additionalPrinterColumns: z.array(z.object({ name: z.string(), type: z.string(), jsonPath: z.string() })).optional(),
  schema: z.object({ openAPIV3Schema: z.record(z.string(), z.unknown()) }),
});
const CrdShape = z.object({
  apiVersion: z.literal("apiextensions.k8s.io/v1"),
  kind: z.literal("CustomResourceDefinition"),
  metadata: z.object({ name: z.string() }),
  spec: z.object({
    group: z.string(),
    scope: z.string(),
    names: z.object({
      kind: z.string(),
      plural: z.string(),
      singular: z.string(),
      shortNames: z.array(z.string()),
      categories: z.array(z.string()),
    }),
    versions: z.array(VersionSchema).length(1),
  }),
});

function crdVersion(): z.infer<typeof VersionSchema> {
  const crd = CrdShape.parse(shippedCrd());
  const version = crd.spec.versions[0];
  if (!version) throw new Error("no version");
  return version;
}

function schemaAt(path: string): SchemaNode {
  let node: unknown = crdVersion().schema.openAPIV3Schema;
  for (const part of path.split(".").filter((p) => p !== "")) {
    node = isRecord(node) && isRecord(node.properties) ? node.properties[part] : undefined;
  }
  if (!isRecord(node)) throw new Error(`no schema at ${path}`);
  return node;
}

function celRules(path: string): Array<{ rule: string; message: string }> {
  const rules = schemaAt(path)["x-kubernetes-validations"];
  return z.array(z.object({ rule: z.string(), message: z.string() })).parse(rules ?? []);
}

describe("generated files", () => {
  for (const file of GENERATED_FILES) {
    it(`${file.path} is up to date`, () => {
      let committed: string;
      try {
        committed = readFileSync(resolve(ROOT, file.path), "utf8");
      } catch {
        committed = "<missing>";
      }
      expect(committed, `${file.path} is stale: run npm run gen`).toBe(file.render());
    });

    it(`${file.path} renders byte-identically on every run`, () => {
      expect(file.render()).toBe(file.render());
    });
  }
});

describe("MySQLCluster CRD", () => {
  it("names, scope, status subresource and printer columns", () => {
    const crd = CrdShape.parse(shippedCrd());
    expect(crd.metadata.name).toBe("mysqlclusters.metamysql.dev");
    expect(crd.spec.group).toBe("metamysql.dev");
    expect(crd.spec.scope).toBe("Namespaced");
    expect(crd.spec.names).toMatchObject({
      kind: "MySQLCluster",
      plural: "mysqlclusters",
      singular: "mysqlcluster",
      shortNames: ["myc"],
      categories: ["metamysql"],
    });
    const version = crdVersion();
    expect(version).toMatchObject({ name: "v1alpha1", served: true, storage: true, subresources: { status: {} } });
    expect(version.additionalPrinterColumns?.map((c) => [c.name, c.jsonPath])).toEqual([
      ["State", ".status.state"],
      ["Primary", ".status.currentPrimary"],
      ["Ready", ".status.readyInstances"],
      ["Instances", ".spec.instances"],
      ["Age", ".metadata.creationTimestamp"],
    ]);
    for (const column of version.additionalPrinterColumns ?? []) {
      if (column.jsonPath.startsWith(".metadata.")) continue;
      expect(() => schemaAt(column.jsonPath), column.name).not.toThrow();
    }
  });

  it("is a structural schema", () => {
    expect(rootViolations(crdVersion().schema.openAPIV3Schema)).toEqual([]);
  });

  it.each<[string, SchemaNode, RegExp]>([
    ["typeless field", { type: "object", properties: { a: { description: "x" } } }, /\.a: no type/],
    ["$ref", { type: "object", properties: { a: { $ref: "#/definitions/A" } } }, /keyword \$ref/],
    ["closed object", { type: "object", additionalProperties: false }, /additionalProperties: false/],
    ["both maps", { type: "object", properties: {}, additionalProperties: { type: "string" } }, /together/],
    ["typed junctor branch", { type: "string", anyOf: [{ type: "string", description: "d" }] }, /inside a logical junctor/],
    ["default in junctor", { type: "string", anyOf: [{ default: "a" }] }, /default inside a logical junctor/],
    ["loose int-or-string", { "x-kubernetes-int-or-string": true, anyOf: [{ type: "number" }, { type: "string" }] }, /must be anyOf/],
    ["junctor-only field", { type: "object", anyOf: [{ properties: { a: { type: "string" } } }] }, /only specified inside a junctor/],
    [
      "metadata labels",
      { type: "object", properties: { metadata: { type: "object", properties: { labels: { type: "object" } } } } },
      /only name and generateName/,
    ],
    ["invalid default", { type: "integer", maximum: 3, default: 5 }, /invalid default/],
    ["unpruned default", { type: "object", properties: { a: { type: "string" } }, default: { b: "x" } }, /would prune/],
    ["array without items", { type: "array" }, /without items/],
    [
      "transition rule in a list",
      { type: "array", items: { type: "string", "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "m" }] } },
      /transition rule/,
    ],
  ])("the structural check catches a %s", (_name, schema, expected) => {
    const root: SchemaNode = schema.type === "object" || schema.type === undefined ? schema : { type: "object", properties: { f: schema } };
    expect(rootViolations(root).join("\n")).toMatch(expected);
  });

  it("keeps the CEL rules where the schema put them", () => {
    expect(celRules("spec.flavor")).toContainEqual({ rule: "self == oldSelf", message: "flavor is immutable" });
    const storage = celRules("spec.storage");
    expect(storage.find((r) => r.message.includes("storageClassName is immutable"))?.rule).toContain("oldSelf.storageClassName");
    expect(storage.find((r) => r.message.includes("never shrink"))?.rule).toContain("quantity(self.size).compareTo(quantity(oldSelf.size)) >= 0");
  });

  it("carries the documented defaults", () => {
    expect(schemaAt("spec").default).toEqual({});
    expect(schemaAt("spec.flavor").default).toBe("mysql");
    expect(schemaAt("spec.instances").default).toBe(3);
    expect(schemaAt("spec.durability").default).toBe("lossless");
    expect(schemaAt("spec.storage.size").default).toBe("10Gi");
    expect(schemaAt("spec.failover.enabled").default).toBe(true);
    expect(schemaAt("spec.failover.delaySeconds").default).toBe(5);
    expect(schemaAt("spec.service.type").default).toBe("ClusterIP");
    expect(schemaAt("spec.instances")).toMatchObject({ minimum: 1, maximum: 9, type: "integer" });
  });

  it("emits int-or-string and free-form values the Kubernetes way", () => {
    const intOrString = { anyOf: [{ type: "integer" }, { type: "string" }], "x-kubernetes-int-or-string": true };
    expect(schemaAt("spec.mysqlConfig").additionalProperties).toEqual(intOrString);
    expect(schemaAt("spec.resources.limits").additionalProperties).toEqual(intOrString);
    expect(schemaAt("spec.memberWeights")).toMatchObject({ type: "object", additionalProperties: { type: "integer", minimum: 0, maximum: 100 } });
    const patch = schemaAt("spec.patches").items;
    const value = isRecord(patch) && isRecord(patch.properties) && isRecord(patch.properties.patch) ? patch.properties.patch.items : undefined;
    expect(isRecord(value) && isRecord(value.properties) ? value.properties.value : undefined).toEqual({ "x-kubernetes-preserve-unknown-fields": true });
  });

  it("keeps the condition status values strings after the YAML round trip", () => {
    const conditions = schemaAt("status.conditions").items;
    const status = isRecord(conditions) && isRecord(conditions.properties) ? conditions.properties.status : undefined;
    expect(isRecord(status) ? status.enum : undefined).toEqual(["True", "False", "Unknown"]);
  });

  it("accepts every status field the hooks may write, including observedGeneration", () => {
    const status: MySQLClusterStatus = MySQLClusterStatusSchema.parse({
      observedGeneration: 7,
      state: "Degraded",
      message: "shop-2 is unavailable",
      currentPrimary: "shop-0",
      readyInstances: 2,
      instances: [
        { name: "shop-0", ordinal: 0, role: "primary", ready: true, weight: 50 },
        { name: "shop-1", ordinal: 1, role: "errant", ready: true, weight: 50, message: "errant", errantTransactions: "uuid:1-3" },
        { name: "shop-2", ordinal: 2, role: "unavailable", ready: false, weight: 0, message: "connection refused" },
      ],
      failingSince: "2024-01-01T00:00:00Z",
      lastOperation: { type: "Failover", from: "shop-1", to: "shop-0", reason: "primary unavailable", time: "2024-01-01T00:00:05Z" },
      endpoints: { readWrite: "shop.default.svc:3306", readOnly: "shop-ro.default.svc:3306" },
      conditions: [
        { type: "Ready", status: "False", reason: "InstancesNotReady", message: "2/3", lastTransitionTime: "2024-01-01T00:00:00Z", observedGeneration: 7 },
      ],
    });
    expect(validateValue(status, schemaAt("status"), "status")).toEqual([]);
    // Every field of the zod status schema is in the CRD (nothing the hooks return is pruned).
    const properties = schemaAt("status").properties;
    expect(Object.keys(isRecord(properties) ? properties : {}).sort()).toEqual(Object.keys(MySQLClusterStatusSchema.shape).sort());
  });

  it("rejects what the API server would reject", () => {
    const spec = schemaAt("spec");
    expect(validateValue({ instances: 10 }, spec)).not.toEqual([]);
    expect(validateValue({ flavor: "postgres" }, spec)).not.toEqual([]);
    expect(validateValue({ storage: { size: "ten" } }, spec)).not.toEqual([]);
    expect(validateValue({ unknownField: 1 }, spec)).not.toEqual([]);
    expect(validateValue({ mysqlConfig: { max_connections: 500, sql_mode: "STRICT_ALL_TABLES" } }, spec)).toEqual([]);
  });

  it("image references: the CRD pattern and the hook's schema agree, tags and sha256 digests both", () => {
    const spec = schemaAt("spec");
    const digest = `sha256:${"0123456789abcdef".repeat(4)}`;
    const accepted = [
      { version: "8.4.3" },
      { version: `8.4.3@${digest}` },
      { version: "11.4_ubi-9" },
      { image: "mysql" },
      { image: "mysql:8.4.3" },
      { image: `mysql@${digest}` },
      { image: `registry.local:5000/team/mysql:8.4.3@${digest}` },
      { image: `docker.io/library/mariadb@${digest}` },
      { image: "[fd00::1]:5000/mariadb:11.4" },
      { image: "ghcr.io/my-org/my_repo__x/mysql-server:8.4" },
    ];
    const rejected = [
      { version: "8.4 " },
      { version: "-8.4" },
      { version: ".8" },
      { version: `8.4@${digest.slice(0, -1)}` },
      { version: `8.4@sha512:${"ab".repeat(64)}` },
      { version: `8.4@${digest.toUpperCase().replace("SHA256", "sha256")}` },
      { version: "8.4:extra" },
      { image: "" },
      { image: "MySQL:8.4" },
      { image: "mysql:8.4:9" },
      { image: `mysql@sha256:${"0".repeat(63)}` },
      { image: "mysql:" },
      { image: "registry.local/mysql:8.4 --privileged" },
      { image: "https://registry.local/mysql" },
    ];
    for (const s of accepted) {
      expect(MySQLClusterSpecSchema.safeParse(s).success, JSON.stringify(s)).toBe(true);
      expect(validateValue(s, spec), JSON.stringify(s)).toEqual([]);
    }
    for (const s of rejected) {
      const parsed = MySQLClusterSpecSchema.safeParse(s);
      expect(parsed.success, JSON.stringify(s)).toBe(false);
      expect(parsed.error?.issues[0]?.message).toMatch(/sha256:<64 hex digits>/);
      expect(validateValue(s, spec), JSON.stringify(s)).not.toEqual([]);
    }
  });
});

describe("toStructuralSchema", () => {
  it("inlines schemas with an id, drops additionalProperties: false, keeps loose objects open", () => {
    const Inner = z.strictObject({ a: z.string() }).meta({ id: "Inner", description: "inner" });
    const schema = toStructuralSchema(z.object({ inner: Inner, maybe: Inner.optional(), loose: z.looseObject({ q: z.string() }), n: z.number().int() }));
    const text = JSON.stringify(schema);
    expect(text).not.toMatch(/\$ref|\$defs|definitions|"id"|\$schema|"additionalProperties":false/);
    expect(schema.properties).toMatchObject({
      inner: { type: "object", description: "inner", properties: { a: { type: "string" } } },
      maybe: { type: "object", description: "inner" },
      loose: { type: "object", "x-kubernetes-preserve-unknown-fields": true, properties: { q: { type: "string" } } },
      n: { type: "integer" },
    });
    expect(rootViolations(schema)).toEqual([]);
  });

  it("refuses unions of typed schemas (other than int-or-string)", () => {
    expect(() => toStructuralSchema(z.object({ u: z.union([z.string(), z.boolean()]) }))).toThrow(/u: unions of typed schemas/);
  });

  it("refuses a free-form value without x-kubernetes-preserve-unknown-fields", () => {
    expect(() => toStructuralSchema(z.object({ anything: z.unknown() }))).toThrow(/anything: no type/);
  });

  it("keeps valid defaults on objects and refuses one the API server would reject", () => {
    expect(() => toStructuralSchema(z.object({ x: z.object({ n: z.number().int().max(3) }).default({ n: 2 }) }))).not.toThrow();
    // zod does not check a default against the schema's own checks; Kubernetes does.
    expect(() => toStructuralSchema(z.object({ x: z.string().regex(/^a$/).default("b") }))).toThrow(/invalid default/);
    expect(() => toStructuralSchema(z.object({ n: z.number().int().max(3).default(5) }))).toThrow(/invalid default/);
  });

  it("walks every node", () => {
    const paths: string[] = [];
    walkSchema(schemaAt("spec"), (_node, path) => paths.push(path));
    expect(paths).toContain(".patches[].patch[].value");
    expect(paths).toContain(".mysqlConfig.<key>.anyOf[1]");
  });
});
