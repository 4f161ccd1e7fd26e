/**
 * The MySQLCluster CRD schema as shipped (deploy/crds/mysqlclusters.yaml), for checking that what
 * a hook writes survives the API server (types, enums, required fields, no pruned fields).
 */
import { readFileSync } from "node:fs";
import { resolve } from "node:path";
import { parse } from "yaml";
import { isRecord, validateValue, type SchemaNode } from "../../src/api/crd.js";

const ROOT = resolve(import.meta.dirname, "../..");

/** The schema node at a dotted path (`status.backups`) of the shipped MySQLCluster CRD. */
export function clusterSchemaAt(path: string): SchemaNode {
  const crd: unknown = parse(readFileSync(resolve(ROOT, "deploy/crds/mysqlclusters.yaml"), "utf8"));
  const versions = isRecord(crd) && isRecord(crd.spec) && Array.isArray(crd.spec.versions) ? crd.spec.versions : [];
  const v = versions[0];
  let node: unknown = isRecord(v) && isRecord(v.schema) ? v.schema.openAPIV3Schema : undefined;
  for (const part of path.split(".").filter((p) => p !== "")) node = isRecord(node) && isRecord(node.properties) ? node.properties[part] : undefined;
  if (!isRecord(node)) throw new Error(`no schema at ${path}`);
  return node;
}

/** Errors of a MySQLCluster status against the shipped CRD (empty when the API server accepts it). */
export function clusterStatusErrors(status: unknown): string[] {
  return validateValue(status, clusterSchemaAt("status"), "status");
}
