/**
 * MySQLUser (`mysqlusers`, short `myu`): one account on a MySQLCluster, its password from a
 * Secret, its grants exactly as declared, and a connection Secret `<name>-connection` for
 * applications (docs/app-objects.md). ARCHITECTURE.md section 2.
 */
import { z } from "zod";
import { AppObjectStatusFields, CLUSTER_REF_PATTERN, HOST_PATTERN, immutableOptional, SCHEMA_NAME_PATTERN } from "./app-objects.js";
import { ObjectMetaSchema } from "./k8s.js";

export const USER_KIND = "MySQLUser";
export const USER_PLURAL = "mysqlusers";
export const USER_SHORT_NAME = "myu";

const SECRET_NAME = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
const SECRET_KEY = /^[-._a-zA-Z0-9]+$/;
/** A privilege as written in GRANT: words of letters (checked against the known list by the hook). */
const PRIVILEGE_PATTERN = /^[A-Za-z]+( [A-Za-z]+)*$/;

export const GrantSchema = z.object({
  privileges: z.array(z.string().regex(PRIVILEGE_PATTERN, "must be a privilege name such as SELECT or CREATE TEMPORARY TABLES")).min(1).meta({
    description:
      "Privileges on the database (or table), e.g. SELECT, INSERT, UPDATE, DELETE, CREATE, ALTER, INDEX, DROP, ALL. Schema and table privileges only: global privileges are never granted.",
  }),
  database: z
    .string()
    .regex(SCHEMA_NAME_PATTERN, "must be a schema name")
    .meta({ description: "Schema the privileges apply to (`_` and `%` are literal, not wildcards)." }),
  table: z
    .string()
    .regex(/^\*$|^[A-Za-z0-9_$][A-Za-z0-9_$-]{0,63}$/, "must be * or a table name")
    .default("*")
    .meta({ description: "Table, or * for every table of the schema." }),
  grantOption: z.boolean().default(false).meta({ description: "WITH GRANT OPTION: the user may pass these privileges on." }),
});
export type Grant = z.infer<typeof GrantSchema>;

export const MySQLUserSpecSchema = z
  .object({
    clusterName: z
      .string()
      .regex(CLUSTER_REF_PATTERN, "must be a MySQLCluster name")
      .meta({
        description: "MySQLCluster (same namespace) that holds the account.",
        "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "clusterName is immutable" }],
      }),
    name: z.string().min(1).max(32).optional().meta({
      description:
        "User name of the account; metadata.name when omitted. Letters, digits, _, . and -, at most 32 characters; never an account of the operator (metamysql, repl, metamysql_backup), root or a server's own (mysql.*, mariadb.*).",
    }),
    host: z.string().regex(HOST_PATTERN, "must be a host, address or pattern").default("%").meta({ description: "Host part of the account ('%': any)." }),
    passwordSecretKeyRef: z
      .object({
        name: z.string().regex(SECRET_NAME, "must be a Secret name").meta({ description: "Secret (same namespace)." }),
        key: z.string().regex(SECRET_KEY, "must be a Secret key").meta({ description: "Key holding the password." }),
      })
      .meta({ description: "The account's password; editing the Secret rotates it." }),
    grants: z.array(GrantSchema).default([]).meta({ description: "Exactly the account's privileges: a privilege removed here is revoked." }),
    maxUserConnections: z
      .number()
      .int()
      .min(0)
      .max(2147483647)
      .optional()
      .meta({ description: "MAX_USER_CONNECTIONS of the account (0 or omitted: the server's max_user_connections)." }),
    deletionPolicy: z
      .enum(["Retain", "Delete"])
      .default("Delete")
      .meta({ description: "Delete: deleting the MySQLUser drops the account; Retain: keeps it (no longer managed)." }),
  })
  .meta({ "x-kubernetes-validations": [immutableOptional("name"), immutableOptional("host")] });
export type MySQLUserSpec = z.infer<typeof MySQLUserSpecSchema>;

export const MySQLUserStatusSchema = z.object({
  ...AppObjectStatusFields,
  user: z.string().optional().meta({ description: "User name of the account this object created and manages." }),
  host: z.string().optional().meta({ description: "Host part of that account." }),
  cluster: z.string().optional().meta({ description: "Cluster the account was created on." }),
  connectionSecret: z.string().optional().meta({ description: "Secret with host, port, username, password, uri and jdbcUrl for applications." }),
  passwordVersion: z.string().optional().meta({
    description: "Fingerprint (HMAC keyed with the operator password) of the password last set on the account: a different password in the Secret rotates it.",
  }),
});
export type MySQLUserStatus = z.infer<typeof MySQLUserStatusSchema>;

/** The MySQLUser parent as Metacontroller sends it (spec parsed separately: Invalid is data). */
export const MySQLUserObjectSchema = z.object({
  apiVersion: z.string(),
  kind: z.literal(USER_KIND),
  metadata: ObjectMetaSchema.extend({ name: z.string().min(1), namespace: z.string().min(1).default("default") }),
  spec: z.unknown().optional(),
  status: z.unknown().optional(),
});
export type MySQLUserObject = z.infer<typeof MySQLUserObjectSchema>;

/** Name of the connection Secret of a MySQLUser. */
export function connectionSecretName(user: string): string {
  return `${user}-connection`;
}
