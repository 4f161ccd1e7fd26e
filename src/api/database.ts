/**
 * MySQLDatabase (`mysqldatabases`, short `mydb`): one schema on a MySQLCluster, created on its
 * primary through the binary log (docs/app-objects.md). ARCHITECTURE.md section 2.
 */
import { z } from "zod";
import { AppObjectStatusFields, CLUSTER_REF_PATTERN, immutableOptional } from "./app-objects.js";
import { ObjectMetaSchema } from "./k8s.js";

export const DATABASE_KIND = "MySQLDatabase";
export const DATABASE_PLURAL = "mysqldatabases";
export const DATABASE_SHORT_NAME = "mydb";

/** Character set and collation names: letters, digits and `_`. */
const CHARSET_PATTERN = /^[A-Za-z0-9_]{1,64}$/;

export const MySQLDatabaseSpecSchema = z
  .object({
    clusterName: z
      .string()
      .regex(CLUSTER_REF_PATTERN, "must be a MySQLCluster name")
      .meta({
        description: "MySQLCluster (same namespace) that holds the schema.",
        "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "clusterName is immutable" }],
      }),
    name: z.string().min(1).max(64).optional().meta({
      description:
        "Schema name on the server; metadata.name when omitted. Letters, digits, _, $ and -, at most 64 characters; never a system schema (mysql, information_schema, performance_schema, sys) or the operator's (metamysql).",
    }),
    characterSet: z
      .string()
      .regex(CHARSET_PATTERN, "must be a character set name")
      .default("utf8mb4")
      .meta({ description: "Default character set of the schema." }),
    collation: z
      .string()
      .regex(CHARSET_PATTERN, "must be a collation name")
      .optional()
      .meta({ description: "Default collation; the character set's default when omitted." }),
    deletionPolicy: z
      .enum(["Retain", "Delete"])
      .default("Retain")
      .meta({ description: "Retain: deleting the MySQLDatabase keeps the schema and its data (no longer managed); Delete: drops the schema." }),
  })
  .meta({ "x-kubernetes-validations": [immutableOptional("name")] });
export type MySQLDatabaseSpec = z.infer<typeof MySQLDatabaseSpecSchema>;

export const MySQLDatabaseStatusSchema = z.object({
  ...AppObjectStatusFields,
  database: z.string().optional().meta({ description: "The schema this object created and manages (what finalize drops with deletionPolicy Delete)." }),
  cluster: z.string().optional().meta({ description: "Cluster the schema was created on." }),
});
export type MySQLDatabaseStatus = z.infer<typeof MySQLDatabaseStatusSchema>;

/** The MySQLDatabase parent as Metacontroller sends it (spec parsed separately: Invalid is data). */
export const MySQLDatabaseObjectSchema = z.object({
  apiVersion: z.string(),
  kind: z.literal(DATABASE_KIND),
  metadata: ObjectMetaSchema.extend({ name: z.string().min(1), namespace: z.string().min(1).default("default") }),
  spec: z.unknown().optional(),
  status: z.unknown().optional(),
});
export type MySQLDatabaseObject = z.infer<typeof MySQLDatabaseObjectSchema>;
