/**
 * Parsing of MySQLUser requests and of its spec (docs/app-objects.md): a spec the schema
 * refuses, a user name that is not one, an account of the operator or of the server, or a grant
 * on a system schema is Invalid.
 */
import { reservedSchema, reservedUser, USER_NAME_PATTERN } from "../../src/api/app-objects.js";
import { issuesOf } from "../../src/api/parse.js";
import { MySQLUserSpecSchema, MySQLUserStatusSchema, USER_KIND, type MySQLUserSpec, type MySQLUserStatus } from "../../src/api/user.js";
import { parseAppSync, type ParsedAppSync } from "../shared/app-objects.js";

export { USER_KIND };

/** Parses a sync/finalize body. */
export function parseUserSync(body: unknown): ParsedAppSync {
  return parseAppSync(body, USER_KIND);
}

/** The previous status (empty when unreadable). */
export function previousUserStatus(parsed: ParsedAppSync): MySQLUserStatus {
  const prev = MySQLUserStatusSchema.safeParse(parsed.parent.status ?? {});
  return prev.success ? prev.data : {};
}

/** The spec with the user name resolved, or why it is Invalid. */
export function userSpec(parsed: ParsedAppSync): { ok: true; spec: MySQLUserSpec; user: string } | { ok: false; message: string } {
  const spec = MySQLUserSpecSchema.safeParse(parsed.parent.spec ?? {});
  if (!spec.success) {
    return {
      ok: false,
      message: `invalid spec: ${issuesOf("spec", spec.error)
        .map((i) => `${i.path}: ${i.message}`)
        .join("; ")}`,
    };
  }
  const user = spec.data.name ?? parsed.parent.metadata.name;
  const field = spec.data.name === undefined ? "metadata.name" : "spec.name";
  if (!USER_NAME_PATTERN.test(user)) {
    return { ok: false, message: `invalid spec: ${field}: ${user} is not a user name (letters, digits, _, . and -, at most 32 characters)` };
  }
  const reserved = reservedUser(user);
  if (reserved) return { ok: false, message: `invalid spec: ${field}: ${reserved}` };
  for (const [i, g] of spec.data.grants.entries()) {
    const schema = reservedSchema(g.database);
    if (schema) return { ok: false, message: `invalid spec: spec.grants[${i}].database: ${schema}` };
  }
  return { ok: true, spec: spec.data, user };
}
