/**
 * CustomResourceDefinitions generated from the zod schemas (style.md, "CRDs generated from the
 * types"). `toStructuralSchema` turns a zod schema into a Kubernetes structural OpenAPI v3
 * schema; `buildCrd` wraps the spec and status schemas of each version into an
 * apiextensions.k8s.io/v1 CustomResourceDefinition; `renderCrdYaml` prints it byte-stably.
 * Reused by every custom resource of the project (MySQLCluster now, MySQLBackup later).
 *
 * Kubernetes rules followed here ("Specifying a structural schema" in the CRD docs): every node
 * has a type unless it is int-or-string or preserves unknown fields; no `$ref`, no
 * `additionalProperties: false`, no `properties` together with `additionalProperties`; logical
 * junctors (anyOf, ...) only in the int-or-string pattern; defaults must validate against their
 * own node and contain no field that would be pruned.
 */
import { z } from "zod";
import { stringify } from "yaml";

/** One node of an OpenAPI v3 schema as Kubernetes reads it (JSON). */
export type SchemaNode = { [key: string]: unknown };

/** Marks an int-or-string node (`anyOf: [{type: integer}, {type: string}]`). */
export const INT_OR_STRING = "x-kubernetes-int-or-string";
/** Marks a free-form node: the API server keeps whatever is stored there. */
export const PRESERVE_UNKNOWN_FIELDS = "x-kubernetes-preserve-unknown-fields";
/** CEL rules attached with `.meta({"x-kubernetes-validations": [...]})`. */
export const VALIDATIONS = "x-kubernetes-validations";

/** Keys a JSON schema may carry that Kubernetes does not accept in a CRD: removed. */
const DROPPED_KEYS = ["$schema", "$id", "id", "$defs", "definitions", "$comment"] as const;
/** Keys an int-or-string node keeps besides its fixed `anyOf`. */
const INT_OR_STRING_KEPT_KEYS = ["description", "title", "default", "example", VALIDATIONS] as const;
/** Keys whose values are lists of schema nodes. */
const JUNCTORS = ["anyOf", "allOf", "oneOf"] as const;
const JUNCTOR_KEYS: ReadonlySet<string> = new Set(JUNCTORS);

/** True for a non-null, non-array object. */
export function isRecord(value: unknown): value is Record<string, unknown> {
  return typeof value === "object" && value !== null && !Array.isArray(value);
}

/** The schema of a free-form value (z.unknown / z.any). */
function isFreeForm(schema: z.core.$ZodType | undefined): boolean {
  const type = schema?._zod.def.type;
  return type === "unknown" || type === "any";
}

/** Context handed to the `override` of `z.toJSONSchema`. */
interface OverrideContext {
  zodSchema: z.core.$ZodTypes;
  jsonSchema: z.core.JSONSchema.BaseSchema;
  path: (string | number)[];
}

/**
 * The node-local part of the conversion, run by zod on every node: strips keys Kubernetes
 * rejects, normalizes int-or-string and free-form values, and drops the implicit safe-integer
 * bounds zod adds to `.int()` (Kubernetes integers are int64 anyway).
 */
function kubernetesOverride({ zodSchema, jsonSchema: js }: OverrideContext): void {
  for (const key of DROPPED_KEYS) delete js[key];
  if (js.additionalProperties === false) delete js.additionalProperties;

  const def = zodSchema._zod.def;
  if (def.type === "object" && isFreeForm(def.catchall)) {
    // z.looseObject: known properties typed, anything else kept as is.
    delete js.additionalProperties;
    js[PRESERVE_UNKNOWN_FIELDS] = true;
  }

  if (js[INT_OR_STRING] === true) {
    const kept: SchemaNode = {};
    for (const key of INT_OR_STRING_KEPT_KEYS) if (key in js) kept[key] = js[key];
    for (const key of Object.keys(js)) delete js[key];
    Object.assign(js, kept, { [INT_OR_STRING]: true, anyOf: [{ type: "integer" }, { type: "string" }] });
    return;
  }

  if (js[PRESERVE_UNKNOWN_FIELDS] === true && isFreeForm(zodSchema)) {
    // Any JSON value: no type (a type would forbid scalars or objects).
    delete js.type;
  }

  if (js.type === "integer") {
    if (js.minimum === -Number.MAX_SAFE_INTEGER) delete js.minimum;
    if (js.maximum === Number.MAX_SAFE_INTEGER) delete js.maximum;
  }
}

/** Finds `#/$defs/X` or `#/definitions/X` in the root's definitions. */
function resolveRef(ref: string, defs: Record<string, unknown>, path: string): SchemaNode {
  const match = /^#\/(?:\$defs|definitions)\/(.+)$/.exec(ref);
  const target = match?.[1] === undefined ? undefined : defs[match[1]];
  if (!isRecord(target)) throw new Error(`${path}: cannot inline $ref ${ref}`);
  return target;
}

/**
 * Deep copy of a JSON value with the keys of every object sorted (list order is kept: it can be
 * meaningful). Used for defaults, enums and CEL rules, and for the whole CRD schema, so the
 * output neither shares objects nor depends on declaration order.
 */
export function sortJson(value: unknown): unknown {
  if (Array.isArray(value)) return value.map(sortJson);
  if (!isRecord(value)) return value;
  const out: Record<string, unknown> = {};
  for (const key of Object.keys(value).sort()) out[key] = sortJson(value[key]);
  return out;
}

/**
 * The whole-tree part of the conversion: inlines `$ref` (schemas with `.meta({id})`), folds the
 * single-branch `allOf` zod uses to decorate a referenced schema, removes defaults inside
 * logical junctors (never allowed), sorts keys, property names and `required`, and fails on a
 * node without a type that neither is int-or-string nor preserves unknown fields.
 */
function normalizeNode(input: unknown, path: string, defs: Record<string, unknown>, inJunctor: boolean, sortProperties = true): SchemaNode {
  if (!isRecord(input)) throw new Error(`${path}: expected a schema object, got ${JSON.stringify(input)}`);
  let node: SchemaNode = { ...input };
  for (;;) {
    const { $ref, allOf, ...rest } = node;
    if (typeof $ref === "string") {
      node = { ...resolveRef($ref, defs, path), ...(allOf === undefined ? {} : { allOf }), ...rest };
    } else if (Array.isArray(allOf) && allOf.length === 1 && rest.type === undefined && isRecord(allOf[0])) {
      node = { ...allOf[0], ...rest };
    } else {
      break;
    }
  }
  for (const key of DROPPED_KEYS) delete node[key];
  if (inJunctor) delete node.default;

  const out: SchemaNode = {};
  for (const key of Object.keys(node).sort()) {
    const value = node[key];
    if (key === "properties") {
      if (!isRecord(value)) throw new Error(`${path}: properties must be an object`);
      const props: SchemaNode = {};
      const names = sortProperties ? Object.keys(value).sort() : Object.keys(value);
      for (const name of names) props[name] = normalizeNode(value[name], `${path}.${name}`, defs, false, sortProperties);
      out[key] = props;
    } else if (key === "additionalProperties" || key === "items" || key === "not") {
      const subPath = `${path}${key === "items" ? "[]" : `.<${key}>`}`;
      out[key] = isRecord(value) ? normalizeNode(value, subPath, defs, key === "not", sortProperties) : value;
    } else if (JUNCTOR_KEYS.has(key)) {
      if (!Array.isArray(value)) throw new Error(`${path}: ${key} must be a list`);
      out[key] = value.map((branch, i) => normalizeNode(branch, `${path}.${key}[${i}]`, defs, true, sortProperties));
    } else if (key === "required") {
      if (!Array.isArray(value)) throw new Error(`${path}: required must be a list`);
      out[key] = [...new Set(value.map(String))].sort();
    } else {
      out[key] = sortJson(value);
    }
  }

  const typedBranch = JUNCTORS.some((j) => Array.isArray(out[j]) && out[j].some((b) => isRecord(b) && b.type !== undefined));
  if (typedBranch && out[INT_OR_STRING] !== true) {
    throw new Error(`${path}: unions of typed schemas are not structural; use an enum, or one object with optional fields`);
  }
  const typed = typeof out.type === "string" || out[INT_OR_STRING] === true || out[PRESERVE_UNKNOWN_FIELDS] === true;
  if (!typed && !inJunctor) {
    throw new Error(
      `${path}: no type; give free-form values .meta({"${PRESERVE_UNKNOWN_FIELDS}": true}) and int-or-string unions .meta({"${INT_OR_STRING}": true})`,
    );
  }
  if (isRecord(out.properties) && out.additionalProperties !== undefined) {
    throw new Error(`${path}: properties and additionalProperties are mutually exclusive in a CRD schema`);
  }
  return out;
}

/** Deep equality of JSON values (enum membership). */
function jsonEqual(a: unknown, b: unknown): boolean {
  return JSON.stringify(a) === JSON.stringify(b);
}

function checkNumber(value: number, node: SchemaNode, path: string, errors: string[]): void {
  const { minimum, maximum, exclusiveMinimum, exclusiveMaximum } = node;
  if (typeof minimum === "number" && (exclusiveMinimum === true ? value <= minimum : value < minimum)) {
    errors.push(`${path}: must be ${exclusiveMinimum === true ? ">" : ">="} ${minimum}`);
  }
  if (typeof maximum === "number" && (exclusiveMaximum === true ? value >= maximum : value > maximum)) {
    errors.push(`${path}: must be ${exclusiveMaximum === true ? "<" : "<="} ${maximum}`);
  }
}

function checkString(value: string, node: SchemaNode, path: string, errors: string[]): void {
  const length = [...value].length;
  if (typeof node.minLength === "number" && length < node.minLength) errors.push(`${path}: shorter than ${node.minLength}`);
  if (typeof node.maxLength === "number" && length > node.maxLength) errors.push(`${path}: longer than ${node.maxLength}`);
  if (typeof node.pattern === "string" && !new RegExp(node.pattern, "u").test(value)) {
    errors.push(`${path}: does not match ${node.pattern}`);
  }
}

function checkObject(value: Record<string, unknown>, node: SchemaNode, path: string, errors: string[]): void {
  const props = isRecord(node.properties) ? node.properties : {};
  for (const name of Array.isArray(node.required) ? node.required : []) {
    if (typeof name === "string" && !(name in value)) errors.push(`${path}.${name}: required`);
  }
  for (const key of Object.keys(value)) {
    const sub = props[key] ?? node.additionalProperties;
    if (isRecord(sub)) errors.push(...validateValue(value[key], sub, `${path}.${key}`));
    else if (node[PRESERVE_UNKNOWN_FIELDS] !== true) errors.push(`${path}.${key}: unknown field (the API server would prune it)`);
  }
}

function checkArray(value: unknown[], node: SchemaNode, path: string, errors: string[]): void {
  if (typeof node.minItems === "number" && value.length < node.minItems) errors.push(`${path}: fewer than ${node.minItems} items`);
  if (typeof node.maxItems === "number" && value.length > node.maxItems) errors.push(`${path}: more than ${node.maxItems} items`);
  const items = node.items;
  if (isRecord(items)) value.forEach((item, i) => errors.push(...validateValue(item, items, `${path}[${i}]`)));
}

/**
 * Validates a JSON value against a structural schema node the way the API server would (types,
 * enums, bounds, patterns, required, pruning; not CEL). Returns the errors, empty when valid.
 * Used to check defaults at generation time and the examples in tests.
 */
export function validateValue(value: unknown, node: SchemaNode, path = "value"): string[] {
  const errors: string[] = [];
  if (value === null) return node.nullable === true ? [] : [`${path}: must not be null`];
  if (node[INT_OR_STRING] === true) {
    return typeof value === "string" || Number.isInteger(value) ? [] : [`${path}: must be an integer or a string`];
  }
  if (Array.isArray(node.enum) && !node.enum.some((allowed) => jsonEqual(allowed, value))) {
    errors.push(`${path}: must be one of ${JSON.stringify(node.enum)}`);
  }
  switch (node.type) {
    case "object":
      if (isRecord(value)) checkObject(value, node, path, errors);
      else errors.push(`${path}: must be an object`);
      break;
    case "array":
      if (Array.isArray(value)) checkArray(value, node, path, errors);
      else errors.push(`${path}: must be an array`);
      break;
    case "string":
      if (typeof value === "string") checkString(value, node, path, errors);
      else errors.push(`${path}: must be a string`);
      break;
    case "integer":
    case "number":
      if (typeof value !== "number" || (node.type === "integer" && !Number.isInteger(value))) errors.push(`${path}: must be an ${node.type}`);
      else checkNumber(value, node, path, errors);
      break;
    case "boolean":
      if (typeof value !== "boolean") errors.push(`${path}: must be a boolean`);
      break;
    default:
      if (node[PRESERVE_UNKNOWN_FIELDS] !== true) errors.push(`${path}: schema node has no type`);
  }
  return errors;
}

/** Calls `visit` on every schema node below and including `node`, with a readable path. */
export function walkSchema(node: SchemaNode, visit: (node: SchemaNode, path: string) => void, path = ""): void {
  visit(node, path);
  if (isRecord(node.properties)) {
    for (const [name, sub] of Object.entries(node.properties)) if (isRecord(sub)) walkSchema(sub, visit, `${path}.${name}`);
  }
  if (isRecord(node.additionalProperties)) walkSchema(node.additionalProperties, visit, `${path}.<key>`);
  if (isRecord(node.items)) walkSchema(node.items, visit, `${path}[]`);
  if (isRecord(node.not)) walkSchema(node.not, visit, `${path}.not`);
  for (const junctor of JUNCTORS) {
    const branches = node[junctor];
    if (Array.isArray(branches)) {
      branches.forEach((branch, i) => {
        if (isRecord(branch)) walkSchema(branch, visit, `${path}.${junctor}[${i}]`);
      });
    }
  }
}

/** Throws when a default does not validate against its own node (Kubernetes rejects the CRD). */
function assertDefaultsValid(root: SchemaNode, rootPath: string): void {
  walkSchema(
    root,
    (node, path) => {
      if (!("default" in node)) return;
      const errors = validateValue(node.default, node, `${rootPath}${path}(default)`);
      if (errors.length > 0) throw new Error(`invalid default: ${errors.join("; ")}`);
    },
    "",
  );
}

/** Options of `toStructuralSchema`. */
export interface StructuralSchemaOptions {
  /** Name of the root in error messages. */
  path?: string;
  /** Sort properties by name (CRDs; the default) or keep declaration order (docs). */
  sortProperties?: boolean;
}

/**
 * Converts a zod schema into a Kubernetes structural schema (input side: fields with defaults
 * are optional and carry `default`). Throws on anything that cannot be made structural, so a
 * schema change that Kubernetes would reject fails `npm run gen`, not `kubectl apply`.
 */
export function toStructuralSchema(schema: z.ZodType, options: StructuralSchemaOptions = {}): SchemaNode {
  const path = options.path ?? "schema";
  const raw = z.toJSONSchema(schema, { target: "openapi-3.0", io: "input", cycles: "throw", override: kubernetesOverride });
  const defs: Record<string, unknown> = { ...(isRecord(raw.definitions) ? raw.definitions : {}), ...(isRecord(raw.$defs) ? raw.$defs : {}) };
  const node = normalizeNode(raw, path, defs, false, options.sortProperties ?? true);
  assertDefaultsValid(node, path);
  return node;
}

/** An `additionalPrinterColumns` entry (`kubectl get` columns). */
export interface PrinterColumn {
  name: string;
  type: "integer" | "number" | "string" | "boolean" | "date";
  jsonPath: string;
  description?: string;
  priority?: number;
}

/** One served version of a custom resource and the zod schemas it is generated from. */
export interface CrdVersionDefinition {
  name: string;
  served: boolean;
  storage: boolean;
  /** Description of the whole object (top of `kubectl explain`). */
  description: string;
  spec: z.ZodType;
  /** With a status schema the status subresource is enabled (Metacontroller requires it). */
  status?: z.ZodType;
  printerColumns?: PrinterColumn[];
  /** False when the spec has required fields: then spec is required and has no `default: {}`. */
  specDefault?: boolean;
}

/** Everything needed to generate one CustomResourceDefinition. */
export interface CrdDefinition {
  group: string;
  kind: string;
  plural: string;
  singular: string;
  shortNames?: string[];
  categories?: string[];
  scope: "Namespaced" | "Cluster";
  /**
   * Restrictions on `metadata.name` (the only metadata restrictions Kubernetes allows), e.g.
   * so that names derived from it stay valid DNS labels.
   */
  metadataName?: { pattern?: string; maxLength?: number; description?: string; rules?: { rule: string; message: string }[] };
  versions: CrdVersionDefinition[];
  /** Labels on the CRD object itself. */
  labels?: Record<string, string>;
}

/** The apiextensions.k8s.io/v1 CustomResourceDefinition object `buildCrd` returns. */
export interface CustomResourceDefinitionObject {
  apiVersion: "apiextensions.k8s.io/v1";
  kind: "CustomResourceDefinition";
  metadata: { name: string; labels?: Record<string, string> };
  spec: {
    group: string;
    names: { kind: string; listKind: string; plural: string; singular: string; shortNames?: string[]; categories?: string[] };
    scope: "Namespaced" | "Cluster";
    versions: Array<{
      name: string;
      served: boolean;
      storage: boolean;
      subresources?: { status: Record<string, never> };
      additionalPrinterColumns?: PrinterColumn[];
      schema: { openAPIV3Schema: SchemaNode };
    }>;
  };
}

/** The root schema of one version: apiVersion, kind, metadata, spec and status. */
export function buildVersionSchema(definition: CrdDefinition, version: CrdVersionDefinition): SchemaNode {
  const spec = toStructuralSchema(version.spec, { path: `${definition.kind}.spec` });
  // With `default: {}` the API server also fills in the nested defaults when spec is omitted.
  const specNode: SchemaNode =
    version.specDefault === false
      ? { ...spec, description: spec.description ?? `Desired state of the ${definition.kind}.` }
      : { ...spec, default: {}, description: spec.description ?? `Desired state of the ${definition.kind}.` };
  if (version.specDefault !== false) assertDefaultsValid(specNode, `${definition.kind}.spec`);

  const metadata: SchemaNode = { type: "object" };
  const nameRules = definition.metadataName;
  if (nameRules) {
    const name: SchemaNode = { type: "string" };
    if (nameRules.description !== undefined) name.description = nameRules.description;
    if (nameRules.maxLength !== undefined) name.maxLength = nameRules.maxLength;
    if (nameRules.pattern !== undefined) name.pattern = nameRules.pattern;
    metadata.properties = { name };
  }

  const properties: SchemaNode = {
    apiVersion: {
      description: "APIVersion defines the versioned schema of this representation of an object.",
      type: "string",
    },
    kind: { description: "Kind is a string value representing the REST resource this object represents.", type: "string" },
    metadata,
    spec: specNode,
  };
  const required = version.specDefault === false ? ["spec"] : undefined;
  if (version.status) {
    const status = toStructuralSchema(version.status, { path: `${definition.kind}.status` });
    properties.status = { ...status, description: status.description ?? `Observed state of the ${definition.kind}.` };
  }
  // CEL rules on metadata.name live at the root (the only place Kubernetes lets a rule see
  // metadata; the metadata node itself may restrict only name and generateName).
  const rootRules = nameRules?.rules?.length ? { [VALIDATIONS]: nameRules.rules.map((r) => ({ ...r })) } : {};
  const root = sortJson({ description: version.description, properties, type: "object", ...(required ? { required } : {}), ...rootRules });
  if (!isRecord(root)) throw new Error("unreachable: a sorted object is an object");
  return root;
}

/** Same map with its keys in alphabetical order. */
function sortKeys<T>(map: Record<string, T>): Record<string, T> {
  return Object.fromEntries(Object.entries(map).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0)));
}

/** Builds the CustomResourceDefinition object for a definition (pure, deterministic). */
export function buildCrd(definition: CrdDefinition): CustomResourceDefinitionObject {
  const storage = definition.versions.filter((v) => v.storage);
  if (storage.length !== 1) throw new Error(`${definition.kind}: exactly one version must be the storage version`);
  const names: CustomResourceDefinitionObject["spec"]["names"] = {
    kind: definition.kind,
    listKind: `${definition.kind}List`,
    plural: definition.plural,
    singular: definition.singular,
  };
  if (definition.shortNames?.length) names.shortNames = [...definition.shortNames];
  if (definition.categories?.length) names.categories = [...definition.categories];

  const metadata: CustomResourceDefinitionObject["metadata"] = { name: `${definition.plural}.${definition.group}` };
  if (definition.labels) metadata.labels = sortKeys(definition.labels);

  return {
    apiVersion: "apiextensions.k8s.io/v1",
    kind: "CustomResourceDefinition",
    metadata,
    spec: {
      group: definition.group,
      names,
      scope: definition.scope,
      versions: definition.versions.map((version) => ({
        name: version.name,
        served: version.served,
        storage: version.storage,
        ...(version.status ? { subresources: { status: {} } } : {}),
        ...(version.printerColumns?.length ? { additionalPrinterColumns: version.printerColumns.map((c) => ({ ...c })) } : {}),
        schema: { openAPIV3Schema: buildVersionSchema(definition, version) },
      })),
    },
  };
}

/** Header of every generated file; `source` names the schema module. */
export function generatedHeader(source: string, comment: "#" | "html"): string {
  const text = `Code generated by \`npm run gen\` (scripts/gen-crds.ts) from ${source}. DO NOT EDIT.`;
  return comment === "#" ? `# ${text}\n` : `<!-- ${text} -->\n`;
}

/** The CRD as YAML with a generated-file header; byte-identical for identical schemas. */
export function renderCrdYaml(definition: CrdDefinition, source: string): string {
  const body = stringify(buildCrd(definition), { lineWidth: 0, aliasDuplicateObjects: false });
  return `${generatedHeader(source, "#")}${body}`;
}
