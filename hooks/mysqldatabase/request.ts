/**
 * Parsing of MySQLDatabase requests and of its spec (docs/app-objects.md): a spec the schema
 * refuses, a name that is not a schema name, or a system schema is Invalid.
 */
import { reservedSchema, SCHEMA_NAME_PATTERN } from "../../src/api/app-objects.js";
import { DATABASE_KIND, MySQLDatabaseSpecSchema, MySQLDatabaseStatusSchema, type MySQLDatabaseSpec, type MySQLDatabaseStatus } from "../../src/api/database.js";
import { issuesOf } from "../../src/api/parse.js";
import { parseAppSync, type ParsedAppSync } from "../shared/app-objects.js";

export { DATABASE_KIND };

/** Parses a sync/finalize body. */
export function parseDatabaseSync(body: unknown): ParsedAppSync {
  return parseAppSync(body, DATABASE_KIND);
}

/** The previous status (empty when unreadable). */
export function previousDatabaseStatus(parsed: ParsedAppSync): MySQLDatabaseStatus {
  const prev = MySQLDatabaseStatusSchema.safeParse(parsed.parent.status ?? {});
  return prev.success ? prev.data : {};
}

/** The spec with the schema name resolved, or why it is Invalid. */
export function databaseSpec(parsed: ParsedAppSync): { ok: true; spec: MySQLDatabaseSpec; database: string } | { ok: false; message: string } {
  const spec = MySQLDatabaseSpecSchema.safeParse(parsed.parent.spec ?? {});
  if (!spec.success) {
    return {
      ok: false,
      message: `invalid spec: ${issuesOf("spec", spec.error)
        .map((i) => `${i.path}: ${i.message}`)
        .join("; ")}`,
    };
  }
  const database = spec.data.name ?? parsed.parent.metadata.name;
  if (!SCHEMA_NAME_PATTERN.test(database)) {
    const field =
      spec.data.name === undefined ? `metadata.name ${database} is not a schema name; set spec.name` : `spec.name: ${database} is not a schema name`;
    return { ok: false, message: `invalid spec: ${field} (letters, digits, _, $ and -, at most 64 characters)` };
  }
  const reserved = reservedSchema(database);
  if (reserved) return { ok: false, message: `invalid spec: ${spec.data.name === undefined ? "metadata.name" : "spec.name"}: ${reserved}` };
  return { ok: true, spec: spec.data, database };
}
