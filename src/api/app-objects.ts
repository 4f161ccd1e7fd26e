/**
 * What MySQLDatabase and MySQLUser share (docs/app-objects.md): the status, the names an
 * application object may never have (the operator's accounts, system accounts and schemas) and
 * the identifier patterns. Pure; no I/O.
 */
import { z } from "zod";
import { ConditionSchema } from "./cluster.js";
import { APPS_USER, BACKUP_USER, OPERATOR_USER, PROBE_USER, REPLICATION_USER, ROOT_USER } from "./constants.js";

/** Pattern of a MySQLCluster name (a DNS-1035 label). */
export const CLUSTER_REF_PATTERN = /^[a-z]([-a-z0-9]*[a-z0-9])?$/;

/**
 * A schema (database) or table name metamysql manages: letters, digits, `_`, `$` and `-`, at
 * most 64 characters (the server's limit). Narrower than what the server accepts, so a name is
 * the same on every file system and in every client without quoting surprises.
 */
export const SCHEMA_NAME_PATTERN = /^[A-Za-z0-9_$][A-Za-z0-9_$-]{0,63}$/;
/** An account's user name: at most 32 characters (MySQL 8.4's limit; MariaDB allows 80). */
export const USER_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,31}$/;
/** An account's host part: a host name, IP address, netmask or pattern with `%`/`_`. */
export const HOST_PATTERN = /^[A-Za-z0-9.%_:/-]{1,255}$/;

/** The private schema of the operator: the ownership records live there. */
export const PRIVATE_SCHEMA = "metamysql";
/** Schemas no MySQLDatabase may name and no MySQLUser may be granted on. */
export const SYSTEM_SCHEMAS = ["mysql", "information_schema", "performance_schema", "sys", PRIVATE_SCHEMA] as const;
/** Accounts no MySQLUser may name: the operator's, replication, backup, root and the servers' own. */
export const RESERVED_USERS = [
  OPERATOR_USER,
  REPLICATION_USER,
  BACKUP_USER,
  APPS_USER,
  PROBE_USER,
  ROOT_USER,
  "mariadb.sys",
  "mysql.sys",
  "mysql.session",
  "mysql.infoschema",
  "public",
  "PUBLIC",
] as const;

/** Why a schema name is refused (system or the operator's), or undefined. */
export function reservedSchema(name: string): string | undefined {
  const lower = name.toLowerCase();
  if ((SYSTEM_SCHEMAS as readonly string[]).includes(lower)) {
    return `${name} is a system schema (${SYSTEM_SCHEMAS.join(", ")} are never managed by a MySQLDatabase or granted by a MySQLUser)`;
  }
  return undefined;
}

/** Why a user name is refused (the operator's, replication, backup, root or a system account), or undefined. */
export function reservedUser(name: string): string | undefined {
  const lower = name.toLowerCase();
  if ((RESERVED_USERS as readonly string[]).some((r) => r.toLowerCase() === lower) || lower.startsWith("mysql.") || lower.startsWith("mariadb.")) {
    return `${name} is an account of the operator or of the server (${RESERVED_USERS.filter((u) => u !== "PUBLIC").join(", ")}, mysql.*, mariadb.*): a MySQLUser never manages it`;
  }
  return undefined;
}

export const AppObjectStateSchema = z.enum(["Pending", "Ready", "Failed", "Invalid"]);
export type AppObjectState = z.infer<typeof AppObjectStateSchema>;

/** The status fields both resources have. */
export const AppObjectStatusFields = {
  observedGeneration: z.number().int().optional(),
  state: AppObjectStateSchema.optional().meta({
    description:
      "Pending (waiting for the cluster, its writable primary or a Secret), Ready, Failed (the server refused, or the object exists and is not managed by metamysql) or Invalid (the spec).",
  }),
  message: z.string().optional(),
  conditions: z.array(ConditionSchema).optional(),
};

/** The CEL rule that keeps an optional field as it was (set, unset or its value). */
export function immutableOptional(field: string): { rule: string; message: string } {
  return {
    rule: `has(self.${field}) == has(oldSelf.${field}) && (!has(self.${field}) || self.${field} == oldSelf.${field})`,
    message: `${field} is immutable`,
  };
}
