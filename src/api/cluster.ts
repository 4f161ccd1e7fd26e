/**
 * MySQLCluster: spec and status schemas, the single source of truth for the CRD
 * (scripts/gen-crds.ts), the hooks and the docs. ARCHITECTURE.md section 2.
 */
import { z } from "zod";
import { API_VERSION, CLUSTER_KIND } from "./constants.js";
import { ClusterBackupsSchema, ClusterBackupsStatusSchema, InitDBSchema } from "./backup.js";
import { ObjectMetaSchema } from "./k8s.js";
import { NetworkPolicySpecSchema } from "./network-policy.js";

/** Kubernetes resource.Quantity, as a string ("10Gi", "500m", "1.5"). */
export const QUANTITY_PATTERN = "^[+-]?(([0-9]+(\\.[0-9]*)?)|(\\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE][+-]?[0-9]+))?$";
export const QuantitySchema = z.string().regex(new RegExp(QUANTITY_PATTERN), "must be a Kubernetes quantity such as 10Gi or 500m");

/** int-or-string, rendered in the CRD as `x-kubernetes-int-or-string`. */
export const IntOrStringSchema = z.union([z.number().int(), z.string()]).meta({ "x-kubernetes-int-or-string": true });

/** A content digest: only sha256 (what registries and `docker pull` use). */
const DIGEST = "sha256:[a-f0-9]{64}";
/** An image tag (distribution reference grammar): 1-128 characters, no leading `.` or `-`. */
const TAG = "[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}";
/** `spec.version`: a tag, optionally pinned to a digest (`8.4.3@sha256:...`). */
export const VERSION_PATTERN = `^${TAG}(@${DIGEST})?$`;
/** One path component of a repository name, e.g. `library` or `my_repo`. */
const PATH_COMPONENT = "[a-z0-9]+((\\.|_|__|-+)[a-z0-9]+)*";
/** An optional registry host (with port) before the first `/`, e.g. `registry.local:5000`. */
const DOMAIN = "([A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?(\\.[A-Za-z0-9]([A-Za-z0-9-]*[A-Za-z0-9])?)*(:[0-9]+)?|\\[[0-9A-Fa-f:]+\\](:[0-9]+)?)";
/**
 * `spec.image`: a full reference, `[registry/]repo[:tag][@sha256:<64 hex>]`; by tag, by digest or
 * both (the digest is what is pulled). The registry part is only recognized before a `/`.
 */
export const IMAGE_PATTERN = `^(${DOMAIN}/)?${PATH_COMPONENT}(/${PATH_COMPONENT})*(:${TAG})?(@${DIGEST})?$`;

export const FlavorSchema = z.enum(["mysql", "mariadb"]);
export type Flavor = z.infer<typeof FlavorSchema>;

const ResourceListSchema = z.record(z.string(), IntOrStringSchema);

export const ResourceRequirementsSchema = z
  .object({
    limits: ResourceListSchema.optional(),
    requests: ResourceListSchema.optional(),
  })
  .meta({ description: "Kubernetes ResourceRequirements for the database container." });

export const StorageSchema = z
  .object({
    size: QuantitySchema.default("10Gi").meta({ description: "Volume size of each instance; may grow, never shrink." }),
    storageClassName: z.string().optional().meta({ description: "StorageClass of the data volumes; immutable." }),
  })
  .meta({
    description: "Per-instance data volume (a retained PersistentVolumeClaim named data-<cluster>-<ordinal>).",
    "x-kubernetes-validations": [
      {
        rule: "has(self.storageClassName) == has(oldSelf.storageClassName) && (!has(self.storageClassName) || self.storageClassName == oldSelf.storageClassName)",
        message: "storage.storageClassName is immutable",
      },
      {
        rule: "!has(self.size) || !has(oldSelf.size) || quantity(self.size).compareTo(quantity(oldSelf.size)) >= 0",
        message: "storage.size may grow but never shrink",
      },
    ],
  });

export const FailoverSchema = z.object({
  enabled: z.boolean().default(true).meta({ description: "Promote a replica automatically when the primary is lost." }),
  delaySeconds: z.number().int().min(0).max(3600).default(5).meta({ description: "How long the primary must be unavailable before failover." }),
});

export const RepairSpecSchema = z
  .object({
    errant: z.enum(["Manual", "Rebuild"]).default("Rebuild").meta({
      description:
        "Rebuild: an instance errant only by the unacknowledged tail of the old primary it was before a failover (lossless durability, no other instance received any of it), or a replica that needs purged binary logs, is rebuilt by clone through the agent after its extra transactions are saved to a file in its volume (status.instances[].savedTransactions); anything else stays quarantined. Manual: never rebuilt automatically.",
    }),
  })
  .meta({ description: 'Automatic repair of diverged instances (docs/clustering.md "Automatic rebuild").' });

export const ServiceSpecSchema = z.object({
  type: z.enum(["ClusterIP", "NodePort", "LoadBalancer"]).default("ClusterIP"),
  annotations: z.record(z.string(), z.string()).optional(),
});

export const JsonPatchOperationSchema = z.object({
  op: z.enum(["add", "remove", "replace", "move", "copy", "test"]),
  path: z.string(),
  from: z.string().optional(),
  value: z.unknown().optional().meta({ "x-kubernetes-preserve-unknown-fields": true }),
});
export type JsonPatchOperation = z.infer<typeof JsonPatchOperationSchema>;

export const ChildPatchSchema = z.object({
  target: z.object({
    kind: z.string().min(1).meta({ description: "Kind of the rendered child to patch (StatefulSet, Service, ...)." }),
    name: z.string().optional().meta({ description: "Name of the child; all children of the kind when omitted." }),
  }),
  patch: z.array(JsonPatchOperationSchema).min(1).meta({ description: "RFC 6902 operations." }),
});
export type ChildPatch = z.infer<typeof ChildPatchSchema>;

/**
 * Options the operator owns, or that load code or read and write files at paths the operator does
 * not control; `spec.mysqlConfig` may not set them. Matched against every form of the name that
 * `optionNameForms` yields, so `loose-skip-log-bin` is caught as `log_bin`.
 */
export const OPERATOR_OWNED_OPTIONS: readonly RegExp[] = [
  // replication, GTIDs, read-only start, semi-sync, identity: what the operator configures
  /^server_id$/,
  /^log_bin(_.*)?$/,
  /^gtid_.*/,
  /^enforce_gtid_consistency$/,
  /^read_only$/,
  /^super_read_only$/,
  /^rpl_semi_sync_.*/,
  /^relay_log.*/,
  /^log_(slave|replica)_updates$/,
  /^(skip_)?(slave|replica)_start$/,
  /^binlog_format$/,
  /^report_host$/,
  /^(master|source)_info_.*/,
  // layout and networking the pod, probes and Services rely on
  /^datadir$/,
  /^socket$/,
  /^port$/,
  /^bind_address$/,
  /^pid_file$/,
  /^(skip_)?networking$/,
  /^user$/,
  /^basedir$/,
  /^tmpdir$/,
  /^chroot$/,
  // code loading: plugins, Galera providers, SQL run at start or per connection as root
  /^plugin_load(_add)?$/,
  /^early_plugin_load$/,
  /^plugin_dir$/,
  /^plugin_maturity$/,
  /^wsrep_.*/,
  /^init_file$/,
  /^init_connect$/,
  /^init_(slave|replica)$/,
  // authentication bypass
  /^(skip_)?grant_tables$/,
  // file access and files written at arbitrary paths (the operator's volume layout; a path could
  // overwrite data files or fill another volume): the defaults, under the data directory, are used
  /^secure_file_priv$/,
  /^general_log_file$/,
  /^slow_query_log_file$/,
  /^log_error$/,
  /^log_tc$/,
  /^innodb_(data_home_dir|log_group_home_dir|undo_directory|data_file_path|temp_data_file_path|tmpdir)$/,
  /^(character_sets_dir|lc_messages_dir)$/,
];

/** The user's name for an option, normalized the way the server reads it. */
export function normalizeOptionName(name: string): string {
  return name.trim().replace(/-/g, "_").toLowerCase();
}

/**
 * Prefixes the server strips before looking an option up (my_getopt: `loose-` ignores unknown
 * options, `skip-`/`disable-` set a boolean OFF, `enable-` ON, `maximum-` the session limit).
 */
const OPTION_PREFIXES = ["loose_", "skip_", "enable_", "disable_", "maximum_"] as const;

/**
 * Every name the server could read `name` as: the normalized name, then each name left after
 * stripping one more prefix (repeatedly, as in `loose-skip-log-bin` -> `skip_log_bin` -> `log_bin`).
 */
export function optionNameForms(name: string): string[] {
  const forms = [normalizeOptionName(name)];
  for (;;) {
    const last = forms[forms.length - 1] as string;
    const prefix = OPTION_PREFIXES.find((p) => last.startsWith(p) && last.length > p.length);
    if (!prefix) return forms;
    forms.push(last.slice(prefix.length));
  }
}

/**
 * The denied options (or, ending in `_`, families) by name, for MariaDB's prefix matching
 * (`getopt_prefix_matching`, on by default): mariadbd reads `read_onl=OFF` as `read_only` and
 * `init_fil` as `init_file`. Every name here is also matched by OPERATOR_OWNED_OPTIONS.
 */
export const OWNED_OPTION_NAMES: readonly string[] = [
  "server_id",
  "log_bin",
  "gtid_",
  "enforce_gtid_consistency",
  "read_only",
  "super_read_only",
  "rpl_semi_sync_",
  "relay_log",
  "log_slave_updates",
  "log_replica_updates",
  "skip_slave_start",
  "skip_replica_start",
  "binlog_format",
  "report_host",
  "master_info_file",
  "datadir",
  "socket",
  "port",
  "bind_address",
  "pid_file",
  "skip_networking",
  "user",
  "basedir",
  "tmpdir",
  "chroot",
  "plugin_load",
  "plugin_load_add",
  "early_plugin_load",
  "plugin_dir",
  "plugin_maturity",
  "wsrep_",
  "init_file",
  "init_connect",
  "init_slave",
  "init_replica",
  "skip_grant_tables",
  "secure_file_priv",
  "general_log_file",
  "slow_query_log_file",
  "log_error",
  "log_tc",
  "innodb_data_home_dir",
  "innodb_log_group_home_dir",
  "innodb_undo_directory",
  "innodb_data_file_path",
  "innodb_temp_data_file_path",
  "innodb_tmpdir",
  "character_sets_dir",
  "lc_messages_dir",
];

/** Real options whose names are prefixes of a denied one: the server matches them exactly. */
const EXACT_OPTIONS_PREFIXING_OWNED = new Set(["general_log", "slow_query_log", "lc_messages"]);

/** The operator-owned or denied option `name` stands for, or undefined when the user may set it. */
export function ownedOptionOf(name: string): string | undefined {
  const forms = optionNameForms(name);
  const exact = forms.find((form) => OPERATOR_OWNED_OPTIONS.some((re) => re.test(form)));
  if (exact !== undefined) return exact;
  for (const form of forms) {
    if (EXACT_OPTIONS_PREFIXING_OWNED.has(form)) continue;
    const target = OWNED_OPTION_NAMES.find((owned) => owned.length > form.length && owned.startsWith(form));
    if (target !== undefined) return target;
  }
  return undefined;
}

const MysqlConfigSchema = z
  .record(z.string(), IntOrStringSchema)
  .superRefine((config, ctx) => {
    for (const key of Object.keys(config).sort()) {
      const normalized = normalizeOptionName(key);
      if (!/^[a-z0-9_.]+$/.test(normalized)) {
        ctx.addIssue({ code: "custom", path: [key], message: `"${key}" is not a valid option name` });
      } else {
        const owned = ownedOptionOf(key);
        if (owned !== undefined) {
          const as = owned === key ? "" : ` (read by the server as "${owned}")`;
          ctx.addIssue({
            code: "custom",
            path: [key],
            message: `"${key}"${as} is managed by the operator and cannot be set in mysqlConfig`,
          });
        }
      }
      const value = String(config[key]);
      if (/[\n\r]/.test(value)) {
        ctx.addIssue({ code: "custom", path: [key], message: "values may not contain line breaks" });
      }
    }
  })
  .meta({ description: "Extra [mysqld] options; options the operator owns are rejected." });

/** The project's agent image (deploy/images/agent/Dockerfile): the flavor's server image plus node and metamysql. */
export const AGENT_IMAGE_REPOSITORY = "ghcr.io/metamysql/agent";
export const AGENT_IMAGE_RELEASE = "0.1.0";

/**
 * `spec.agent`: the sidecar in every database pod that serves a physical copy of its instance,
 * and the init step that seeds a fresh data dir from a donor's copy (docs/clustering.md
 * "Cloning new replicas"). MariaDB only (MySQL clones with the CLONE plugin, not yet wired).
 */
export const AgentSpecSchema = z
  .object({
    enabled: z.boolean().default(true).meta({ description: "Run the agent sidecar and seed new replicas by physical clone (flavor mariadb)." }),
    image: z
      .string()
      .max(512)
      .regex(new RegExp(IMAGE_PATTERN), "must be an image reference such as registry.local/metamysql-agent:0.1.0-mariadb-11.4")
      .optional()
      .meta({
        description:
          "Agent image (metamysql plus the flavor's backup tools, of the server's exact version); defaults to ghcr.io/metamysql/agent:<release>-<flavor>-<version>.",
      }),
  })
  .meta({ description: "The agent sidecar: physical copies for seeding new replicas." });

export const MySQLClusterSpecSchema = z
  .object({
    flavor: FlavorSchema.default("mysql").meta({
      description: "Database server: mysql or mariadb; immutable.",
      "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "flavor is immutable" }],
    }),
    version: z
      .string()
      .regex(new RegExp(VERSION_PATTERN), "must be an image tag such as 8.4.3, optionally with a digest: 8.4.3@sha256:<64 hex digits>")
      .optional()
      .meta({ description: "Image tag, optionally pinned to a digest (8.4.3@sha256:...); defaults to 8.4 (mysql) or 11.4 (mariadb)." }),
    image: z
      .string()
      .max(512)
      .regex(
        new RegExp(IMAGE_PATTERN),
        "must be an image reference such as registry.local/mysql:8.4.3, registry.local/mysql@sha256:<64 hex digits> or registry.local/mysql:8.4.3@sha256:<64 hex digits>",
      )
      .optional()
      .meta({ description: "Full image reference ([registry/]repository[:tag][@sha256:digest]), overriding flavor and version." }),
    instances: z.number().int().min(1).max(9).default(3).meta({ description: "Number of database instances." }),
    memberWeights: z
      .record(z.string().regex(/^[0-8]$/, "keys are instance ordinals 0..8"), z.number().int().min(0).max(100))
      .default({})
      .meta({
        description:
          "Weight per instance ordinal (0..100, default 50). The primary is kept on the healthy instance with the highest weight; 0 means never primary.",
      }),
    storage: StorageSchema.default({ size: "10Gi" }),
    resources: ResourceRequirementsSchema.optional(),
    mysqlConfig: MysqlConfigSchema.default({}),
    durability: z
      .enum(["lossless", "async"])
      .default("lossless")
      .meta({ description: "lossless: semi-sync AFTER_SYNC, never degrading to async; async: plain replication." }),
    failover: FailoverSchema.default({ enabled: true, delaySeconds: 5 }),
    service: ServiceSpecSchema.default({ type: "ClusterIP" }),
    credentialsSecretName: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/, "must be a Secret name")
      .optional()
      .meta({
        description:
          "Existing Secret with keys root-password, operator-password, replication-password; otherwise <name>-credentials is generated. Fixed once the cluster runs: its servers hold that Secret's passwords.",
        "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "credentialsSecretName is immutable" }],
      }),
    remoteRoot: z.boolean().default(false).meta({
      description:
        "Whether root may log in over the network (root@'%' with the root password). Off: root logs in only from inside a database pod (socket), and the operator never uses root.",
    }),
    backups: ClusterBackupsSchema.optional(),
    initDB: InitDBSchema.optional(),
    networkPolicy: NetworkPolicySpecSchema.default({ enabled: true }),
    agent: AgentSpecSchema.optional(),
    repair: RepairSpecSchema.default({ errant: "Rebuild" }),
    patches: z.array(ChildPatchSchema).default([]).meta({
      description:
        "RFC 6902 patches applied to the rendered children, last; a patched child must keep its namespace, identity, standard labels and owners, Pod Security restricted pods, no Service externalIPs or ExternalName; EndpointSlices are not patchable.",
    }),
  })
  .superRefine((spec, ctx) => {
    // zod runs refinements after non-fatal issues too: an out-of-range `instances` (already
    // reported) must not size an array here (1e308 threw, 1e7 blocked the hook for seconds).
    if (!Number.isInteger(spec.instances) || spec.instances < 1 || spec.instances > 9) return;
    for (const key of Object.keys(spec.memberWeights)) {
      if (Number(key) >= spec.instances) {
        ctx.addIssue({
          code: "custom",
          path: ["memberWeights", key],
          message: `ordinal ${key} does not exist with ${spec.instances} instances`,
        });
      }
    }
    const weights = Array.from({ length: spec.instances }, (_, i) => spec.memberWeights[String(i)] ?? 50);
    if (weights.every((w) => w === 0)) {
      ctx.addIssue({ code: "custom", path: ["memberWeights"], message: "at least one instance needs a weight above 0" });
    }
  });

export type MySQLClusterSpecInput = z.input<typeof MySQLClusterSpecSchema>;
export type MySQLClusterSpec = z.infer<typeof MySQLClusterSpecSchema>;

/** Resolved image and version for a spec. */
export function imageFor(spec: MySQLClusterSpec): string {
  if (spec.image) return spec.image;
  const img = spec.flavor === "mariadb" ? { repository: "docker.io/library/mariadb" } : { repository: "docker.io/library/mysql" };
  return `${img.repository}:${versionFor(spec)}`;
}

/** Whether the pods run the agent sidecar and its clone step (MariaDB, unless spec.agent.enabled is false). */
export function agentEnabled(spec: MySQLClusterSpec): boolean {
  return spec.flavor === "mariadb" && spec.agent?.enabled !== false;
}

/** The agent image: spec.agent.image, else the project's build for this flavor and server version (tag without digest). */
export function agentImageFor(spec: MySQLClusterSpec): string {
  if (spec.agent?.image) return spec.agent.image;
  const version = versionFor(spec).split("@")[0] ?? versionFor(spec);
  return `${AGENT_IMAGE_REPOSITORY}:${AGENT_IMAGE_RELEASE}-${spec.flavor}-${version}`;
}

export function versionFor(spec: MySQLClusterSpec): string {
  return spec.version ?? (spec.flavor === "mariadb" ? "11.4" : "8.4");
}

/** Weight of instance `ordinal` (default 50). */
export function weightOf(spec: MySQLClusterSpec, ordinal: number): number {
  return spec.memberWeights[String(ordinal)] ?? 50;
}

export const InstanceRoleSchema = z.enum(["primary", "replica", "errant", "unavailable", "pending"]);
export type InstanceRole = z.infer<typeof InstanceRoleSchema>;

export const ClusterStateSchema = z.enum(["Initializing", "Healthy", "Degraded", "Failed", "Lost", "Invalid"]);
export type ClusterState = z.infer<typeof ClusterStateSchema>;

export const ConditionSchema = z.object({
  type: z.string(),
  status: z.enum(["True", "False", "Unknown"]),
  reason: z.string(),
  message: z.string(),
  lastTransitionTime: z.string(),
  observedGeneration: z.number().int().optional(),
});
export type Condition = z.infer<typeof ConditionSchema>;

export const InstanceStatusSchema = z.object({
  name: z.string(),
  ordinal: z.number().int(),
  role: InstanceRoleSchema,
  ready: z.boolean(),
  weight: z.number().int(),
  message: z.string().optional().meta({ description: "Why the instance is errant, unavailable or pending." }),
  errantTransactions: z.string().optional().meta({ description: "GTIDs the instance holds that the primary lacks." }),
  savedTransactions: z
    .string()
    .optional()
    .meta({ description: "File in the instance's volume holding the extra transactions saved before its automatic rebuild (mariadb-binlog output)." }),
});
export type InstanceStatus = z.infer<typeof InstanceStatusSchema>;

export const OperationTypeSchema = z.enum(["Bootstrap", "Switchover", "Failover", "Rejoin"]);
export const LastOperationSchema = z.object({
  type: OperationTypeSchema,
  from: z.string().optional(),
  to: z.string().optional(),
  reason: z.string(),
  time: z.string(),
});
export type LastOperation = z.infer<typeof LastOperationSchema>;

export const MySQLClusterStatusSchema = z.object({
  observedGeneration: z.number().int().optional(),
  state: ClusterStateSchema.optional(),
  message: z.string().optional(),
  currentPrimary: z.string().optional(),
  readyInstances: z.number().int().optional(),
  instances: z.array(InstanceStatusSchema).optional(),
  failingSince: z.string().optional(),
  lastOperation: LastOperationSchema.optional(),
  endpoints: z.object({ readWrite: z.string(), readOnly: z.string() }).optional(),
  // A backups summary that no longer parses (another version wrote it) is dropped, not the whole status.
  backups: ClusterBackupsStatusSchema.optional().catch(undefined),
  conditions: z.array(ConditionSchema).optional(),
});
export type MySQLClusterStatus = z.infer<typeof MySQLClusterStatusSchema>;

/**
 * The parent object as Metacontroller sends it. The spec is kept as unknown here and parsed
 * separately, so that an invalid spec is a 200 with `state: Invalid`, not a 400.
 */
export const MySQLClusterObjectSchema = z.object({
  apiVersion: z.literal(API_VERSION),
  kind: z.literal(CLUSTER_KIND),
  metadata: ObjectMetaSchema.extend({ name: z.string().min(1), namespace: z.string().min(1).default("default") }),
  spec: z.unknown().optional(),
  status: z.unknown().optional(),
});
export type MySQLClusterObject = z.infer<typeof MySQLClusterObjectSchema>;

/** A parent whose spec parsed: what render/ and topology/ work from. */
export interface Cluster {
  name: string;
  namespace: string;
  uid: string | undefined;
  generation: number | undefined;
  creationTimestamp: string | undefined;
  spec: MySQLClusterSpec;
  status: MySQLClusterStatus;
}
