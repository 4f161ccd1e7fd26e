/**
 * Reading MySQLCluster manifests from YAML files (one or several documents).
 */
import { readFile } from "node:fs/promises";
import { parseAllDocuments } from "yaml";
import { API_VERSION, CLUSTER_KIND } from "../api/constants.js";

/** The first MySQLCluster document of a YAML file, as plain JSON. */
export async function readClusterManifest(file: string): Promise<Record<string, unknown>> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const docs = parseAllDocuments(text);
  for (const doc of docs) {
    if (doc.errors.length > 0) throw new Error(`${file}: invalid YAML: ${doc.errors[0]?.message ?? "parse error"}`);
    const value: unknown = doc.toJSON();
    if (typeof value === "object" && value !== null && !Array.isArray(value)) {
      const obj = value as Record<string, unknown>;
      if (obj["kind"] === CLUSTER_KIND) {
        if (obj["apiVersion"] !== API_VERSION) throw new Error(`${file}: MySQLCluster must have apiVersion ${API_VERSION}, not ${String(obj["apiVersion"])}`);
        return obj;
      }
    }
  }
  throw new Error(`${file}: no ${CLUSTER_KIND} document found`);
}

/**
 * Every document of a YAML file (`local up -f`, `local apply -f`, `local delete -f`), as plain
 * JSON, in order; a `kind: List` is flattened into its items, empty documents are skipped.
 * Each must be a mapping; what it holds is validated by the runtime (all before any is applied).
 */
export async function readManifestDocuments(file: string): Promise<Record<string, unknown>[]> {
  let text: string;
  try {
    text = await readFile(file, "utf8");
  } catch (err) {
    throw new Error(`cannot read ${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
  }
  const out: Record<string, unknown>[] = [];
  parseAllDocuments(text).forEach((doc, i) => {
    if (doc.errors.length > 0) throw new Error(`${file}: document ${i + 1}: invalid YAML: ${doc.errors[0]?.message ?? "parse error"}`);
    const value: unknown = doc.toJSON();
    if (value === null || value === undefined) return;
    if (typeof value !== "object" || Array.isArray(value)) throw new Error(`${file}: document ${i + 1} is not a mapping (a Kubernetes object)`);
    const obj = value as Record<string, unknown>;
    if (obj["kind"] === "List" && Array.isArray(obj["items"])) {
      for (const item of obj["items"] as unknown[]) {
        if (typeof item !== "object" || item === null || Array.isArray(item)) throw new Error(`${file}: document ${i + 1}: a List item is not a mapping`);
        out.push(item as Record<string, unknown>);
      }
      return;
    }
    out.push(obj);
  });
  if (out.length === 0) throw new Error(`${file}: no documents`);
  return out;
}
