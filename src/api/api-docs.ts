/**
 * docs/api.md: the API reference (field path, type, default, description) generated from the
 * same structural schema as the CRDs, so the docs, `kubectl explain` and validation agree.
 */
import {
  generatedHeader,
  INT_OR_STRING,
  isRecord,
  PRESERVE_UNKNOWN_FIELDS,
  toStructuralSchema,
  VALIDATIONS,
  type CrdDefinition,
  type SchemaNode,
} from "./crd.js";

/** One row of a reference table. */
export interface ApiDocRow {
  path: string;
  type: string;
  default: string;
  description: string;
}

/** Human-readable type of a schema node (`[]object`, `map[string]integer`, `int or string`). */
export function describeType(node: SchemaNode): string {
  if (node[INT_OR_STRING] === true) return "int or string";
  if (node.type === undefined && node[PRESERVE_UNKNOWN_FIELDS] === true) return "any JSON value";
  if (node.type === "array") return `[]${isRecord(node.items) ? describeType(node.items) : "any"}`;
  if (node.type === "object" && isRecord(node.additionalProperties)) return `map[string]${describeType(node.additionalProperties)}`;
  return typeof node.type === "string" ? node.type : "any";
}

function code(value: string): string {
  return `\`${value}\``;
}

/** The constraints a reader needs, in words: enum, range, length, CEL rules, required. */
function describeConstraints(node: SchemaNode, required: boolean, subject = ""): string[] {
  const notes: string[] = [];
  const what = (text: string): string => (subject === "" ? text.charAt(0).toUpperCase() + text.slice(1) : `${subject} ${text}`);
  if (required) notes.push("Required.");
  if (Array.isArray(node.enum)) notes.push(what(`one of: ${node.enum.map((v) => code(String(v))).join(", ")}.`));
  const { minimum, maximum } = node;
  if (typeof minimum === "number" && typeof maximum === "number") notes.push(what(`range: ${minimum}..${maximum}.`));
  else if (typeof minimum === "number") notes.push(what(`minimum: ${minimum}.`));
  else if (typeof maximum === "number") notes.push(what(`maximum: ${maximum}.`));
  if (node.minLength === 1) notes.push(what("not empty."));
  if (typeof node.minItems === "number" && node.minItems > 0) notes.push(what(`at least ${node.minItems} item${node.minItems === 1 ? "" : "s"}.`));
  if (isRecord(node.additionalProperties)) notes.push(...describeConstraints(node.additionalProperties, false, "Value"));
  const rules = node[VALIDATIONS];
  if (Array.isArray(rules)) {
    for (const rule of rules) if (isRecord(rule) && typeof rule.message === "string") notes.push(`Enforced: ${rule.message}.`);
  }
  return notes;
}

/** Makes text safe inside a table cell: pipes, line breaks and `<name>` placeholders (not HTML). */
function escapeCell(text: string): string {
  return text
    .replace(/\|/g, "\\|")
    .replace(/</g, "&lt;")
    .replace(/>/g, "&gt;")
    .replace(/\s*\n\s*/g, " ")
    .trim();
}

/** Rows for every field below `node`, depth first in declaration order. */
export function schemaRows(node: SchemaNode, prefix: string): ApiDocRow[] {
  const rows: ApiDocRow[] = [];
  const properties = isRecord(node.properties) ? node.properties : {};
  const required = new Set(Array.isArray(node.required) ? node.required : []);
  for (const [name, sub] of Object.entries(properties)) {
    if (!isRecord(sub)) continue;
    const path = `${prefix}.${name}`;
    const description = [typeof sub.description === "string" ? sub.description : "", ...describeConstraints(sub, required.has(name))];
    rows.push({
      path,
      type: describeType(sub),
      default: "default" in sub ? code(JSON.stringify(sub.default)) : "",
      description: description.filter((d) => d !== "").join(" "),
    });
    rows.push(...childRows(sub, path));
  }
  return rows;
}

/** Rows of the fields nested in objects, list items and map values. */
function childRows(node: SchemaNode, path: string): ApiDocRow[] {
  if (isRecord(node.properties)) return schemaRows(node, path);
  if (node.type === "array" && isRecord(node.items)) return childRows(node.items, `${path}[]`);
  if (node.type === "object" && isRecord(node.additionalProperties)) return childRows(node.additionalProperties, `${path}.<key>`);
  return [];
}

/** A Markdown table of rows. */
export function renderTable(rows: readonly ApiDocRow[]): string {
  const lines = ["| Field | Type | Default | Description |", "|---|---|---|---|"];
  for (const row of rows) {
    lines.push(`| ${code(row.path)} | ${escapeCell(row.type)} | ${escapeCell(row.default)} | ${escapeCell(row.description)} |`);
  }
  return `${lines.join("\n")}\n`;
}

/** The reference section of one custom resource (every served version). */
function renderResource(definition: CrdDefinition): string {
  const parts: string[] = [`## ${definition.kind}\n`];
  for (const version of definition.versions.filter((v) => v.served)) {
    const facts = [
      `\`apiVersion: ${definition.group}/${version.name}\``,
      `\`kind: ${definition.kind}\``,
      definition.scope === "Namespaced" ? "namespaced" : "cluster-scoped",
      ...(definition.shortNames?.length ? [`short name ${definition.shortNames.map(code).join(", ")}`] : []),
    ];
    parts.push(`${facts.join(", ")}.\n`, `${version.description}\n`);
    if (definition.metadataName?.description) parts.push(`\`metadata.name\`: ${definition.metadataName.description}\n`);
    const spec = toStructuralSchema(version.spec, { path: `${definition.kind}.spec`, sortProperties: false });
    parts.push("### spec\n", "Defaults are filled in by the API server when the object is stored.\n", renderTable(schemaRows(spec, "spec")));
    if (version.status) {
      const status = toStructuralSchema(version.status, { path: `${definition.kind}.status`, sortProperties: false });
      parts.push("### status\n", "Written by the operator from what it observed; read-only for users.\n", renderTable(schemaRows(status, "status")));
    }
  }
  return parts.join("\n");
}

/** docs/api.md for the given custom resources. */
export function renderApiDocs(definitions: readonly CrdDefinition[], source: string): string {
  const intro = [
    "# API reference\n",
    "The custom resources of metamysql. This page is generated from the same zod schemas as the",
    "CustomResourceDefinitions in `deploy/crds/`; `kubectl explain` shows the same descriptions.\n",
  ].join("\n");
  return `${generatedHeader(source, "html")}\n${intro}\n${definitions.map(renderResource).join("\n")}`;
}
