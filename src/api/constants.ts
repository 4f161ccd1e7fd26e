/**
 * Every name the operator shares with Kubernetes, Metacontroller and its users, declared once.
 * See ARCHITECTURE.md sections 2-4.
 */

export const GROUP = "metamysql.dev";
export const VERSION = "v1alpha1";
export const API_VERSION = `${GROUP}/${VERSION}`;
export const CLUSTER_KIND = "MySQLCluster";
export const CLUSTER_PLURAL = "mysqlclusters";
export const CLUSTER_SHORT_NAME = "myc";

/** Standard labels carried by every child (ARCHITECTURE.md section 3). */
export const LABEL_NAME = "app.kubernetes.io/name";
export const LABEL_INSTANCE = "app.kubernetes.io/instance";
export const LABEL_MANAGED_BY = "app.kubernetes.io/managed-by";
export const LABEL_COMPONENT = "app.kubernetes.io/component";
export const MANAGED_BY = "metamysql";
export const COMPONENT_DATABASE = "database";
/** Component label of backup Jobs and their pods (docs/backups.md). */
export const COMPONENT_BACKUP = "backup";

/** Label the StatefulSet controller puts on every pod; the read-write Service selects on it. */
export const LABEL_POD_NAME = "statefulset.kubernetes.io/pod-name";
/** Labels that tie an EndpointSlice to its Service and keep the EndpointSlice controller away. */
export const LABEL_SERVICE_NAME = "kubernetes.io/service-name";
export const LABEL_ENDPOINTSLICE_MANAGED_BY = "endpointslice.kubernetes.io/managed-by";
export const ENDPOINTSLICE_MANAGER = "metamysql.dev";

/** Pod template annotation: hash of the rendered configuration, so a config change rolls pods. */
export const ANNOTATION_CONFIG_HASH = "metamysql.dev/config-hash";

/**
 * StatefulSet annotation: hash of the pod template the hook last sent (after `spec.patches`).
 * A rendered template whose hash differs is a change the StatefulSet has not seen yet: it goes
 * out with the partition at `replicas`, so the change alone replaces no pod (docs/clustering.md
 * "Rolling updates").
 */
export const ANNOTATION_TEMPLATE_HASH = "metamysql.dev/template-hash";

/** Pod label the StatefulSet controller sets to the revision (ControllerRevision name) a pod runs. */
export const LABEL_CONTROLLER_REVISION = "controller-revision-hash";

/**
 * ConfigMap annotation: the normalized spec the children were last rendered from (JSON, sorted
 * keys). An invalid spec keeps failover and the final backup running on it (src/api/last-valid-spec.ts).
 */
export const ANNOTATION_SPEC = "metamysql.dev/spec";

/**
 * Pod template annotation: how many times root's password changed since the cluster was created
 * (Secret `<c>-applied-credentials`, key `root-generation`). Root logs in from inside the pod only,
 * so no hook can set its password online: a change rolls the pods, and each start converges root
 * to the Secret (docs/clustering.md "Rotating passwords"). Absent while 0.
 */
export const ANNOTATION_ROOT_GENERATION = "metamysql.dev/root-generation";

/**
 * The hook server's pods (deploy/operator/deployment.yaml): the database pods' NetworkPolicy
 * admits these labels, in the operator namespace (EnvConfig OPERATOR_NAMESPACE), on 3306.
 */
export const HOOK_POD_LABELS: Readonly<Record<string, string>> = {
  [LABEL_NAME]: "metamysql",
  [LABEL_COMPONENT]: "hooks",
};
/** Where deploy/ installs the hook server; the default of EnvConfig OPERATOR_NAMESPACE. */
export const DEFAULT_OPERATOR_NAMESPACE = "metamysql-system";
/** Label Kubernetes sets on every namespace (1.21+): its name. NetworkPolicies select namespaces by it. */
export const LABEL_NAMESPACE_NAME = "kubernetes.io/metadata.name";

/** Container, port and volume names used by the rendered pods. */
export const CONTAINER_NAME = "mysql";
export const PORT_NAME = "mysql";
export const MYSQL_PORT = 3306;
export const DATA_VOLUME = "data";
export const CONFIG_VOLUME = "config";
export const DATA_DIR = "/var/lib/mysql";
export const CONFIG_DIR = "/etc/metamysql";
export const RUN_DIR = "/run/mysqld";
export const TMP_DIR = "/tmp";
/**
 * The credentials Secrets, mounted as files (keys as file names) where the database container's
 * scripts read them: passwords are never in a container's environment, so the server's process
 * environment holds none (src/render/scripts/instance.sh).
 */
export const CREDENTIALS_VOLUME = "credentials";
export const CREDENTIALS_DIR = "/etc/metamysql-credentials";
export const BACKUP_CREDENTIALS_VOLUME = "backup-credentials";
export const BACKUP_CREDENTIALS_DIR = "/etc/metamysql-backup-credentials";
/** The apps account's password (Secret `<c>-apps-credentials`, key `password`) in the database pods. */
export const APPS_CREDENTIALS_VOLUME = "apps-credentials";
export const APPS_CREDENTIALS_DIR = "/etc/metamysql-apps-credentials";

/** Keys of the credentials Secret (generated or user-supplied). */
export const SECRET_ROOT_PASSWORD = "root-password";
export const SECRET_OPERATOR_PASSWORD = "operator-password";
export const SECRET_REPLICATION_PASSWORD = "replication-password";
export const SECRET_KEYS = [SECRET_ROOT_PASSWORD, SECRET_OPERATOR_PASSWORD, SECRET_REPLICATION_PASSWORD] as const;

/** Database accounts created by the init script. */
export const OPERATOR_USER = "metamysql";
export const REPLICATION_USER = "repl";
export const ROOT_USER = "root";
/**
 * The probes' account: `'metamysql_probe'@'localhost'` (socket, inside the pod), no privilege, a
 * random password made by the entrypoint at each start and kept in the pod's run dir. The probes
 * never depend on a password from the Secret, so rotating those online cannot fail them.
 */
export const PROBE_USER = "metamysql_probe";
/**
 * The account the MySQLDatabase and MySQLUser hooks write with, on the primary only: CREATE USER
 * and the grantable schema privileges WITH GRANT OPTION (docs/app-objects.md). Its password is
 * operator-owned (Secret `<c>-apps-credentials`, key `password`), so the operator account,
 * which every cluster sync uses on every instance, stays unable to read data or manage accounts.
 */
export const APPS_USER = "metamysql_apps";
export const SECRET_APPS_PASSWORD = "password";
/**
 * The account backup Jobs dump with (least privilege: read, lock, binlog position; no SUPER,
 * no replication control). Its password lives in the operator-owned Secret
 * `<c>-backup-credentials` (key `password`), so a backup pod never sees root's password.
 */
export const BACKUP_USER = "metamysql_backup";
export const SECRET_BACKUP_PASSWORD = "password";
/**
 * Key of `<c>-backup-credentials` holding the backup signing key (64 hex digits, 32 random
 * bytes): backups sign their meta.json with it, seeding refuses a backup it did not sign
 * (docs/backups.md "Signed backups").
 */
export const SECRET_BACKUP_SIGNING_KEY = "signing-key";
/**
 * The agent sidecar (src/agent/, docs/clustering.md "Cloning new replicas"): serves a physical
 * copy of its instance on the pod IP, port `agent`, to requests bearing the token in
 * `<c>-agent-credentials` key `agent-token` (operator-owned, also with credentialsSecretName),
 * mounted as a file into the agent and the seeding init container only.
 */
export const AGENT_CONTAINER_NAME = "agent";
export const AGENT_INIT_CONTAINER_NAME = "clone";
export const AGENT_PORT_NAME = "agent";
export const AGENT_PORT = 8081;
export const SECRET_AGENT_TOKEN = "agent-token";
export const AGENT_TOKEN_VOLUME = "agent-token";
export const AGENT_TOKEN_DIR = "/etc/metamysql-agent";
/** ConfigMap `<c>-config` file listing the donors a fresh instance clones from (`<pod> <ip>` lines). */
export const AGENT_DONORS_FILE = "agent-donors";
/** Where backup and seeding containers find signing keys (files, never env or argv). */
export const SIGNING_KEY_DIR = "/etc/metamysql-signing";

/** Semi-sync source timeout for `durability: lossless`: 24 h, i.e. never degrade to async. */
export const LOSSLESS_SEMI_SYNC_TIMEOUT_MS = 86_400_000;

/** server_id = SERVER_ID_BASE + ordinal (never 0, which disables replication). */
export const SERVER_ID_BASE = 100;

/** Condition types (Kubernetes conventions) and their reasons. */
export const CONDITION_READY = "Ready";
export const CONDITION_AVAILABLE = "Available";
export const CONDITION_SPEC_VALID = "SpecValid";
/** Scheduled backups (docs/backups.md): independent of Ready, a failed backup never makes the cluster un-Ready. */
export const CONDITION_BACKUP_HEALTHY = "BackupHealthy";
/**
 * Supervised rolling updates (docs/clustering.md "Rolling updates"): True while pods are being
 * replaced (reason Updating), False when every pod runs the current template (UpToDate) or when a
 * due step waits for the cluster to be Healthy again (Paused, the message says why).
 */
export const CONDITION_ROLLOUT_PROGRESSING = "RolloutProgressing";

export const REASON = {
  SpecValid: "SpecValid",
  InvalidSpec: "InvalidSpec",
  ForbiddenChange: "ForbiddenChange",
  PatchFailed: "PatchFailed",
  Initializing: "Initializing",
  InstancesNotReady: "InstancesNotReady",
  AllInstancesReady: "AllInstancesReady",
  NoPrimary: "NoPrimary",
  PrimaryWritable: "PrimaryWritable",
  PrimaryUnavailable: "PrimaryUnavailable",
  Finalizing: "Finalizing",
  BackupFailed: "BackupFailed",
  BackupsCompleted: "BackupsCompleted",
  NoBackupYet: "NoBackupYet",
  Updating: "Updating",
  UpToDate: "UpToDate",
  Paused: "Paused",
} as const;

/** Pod termination grace and the part of it the preStop hook may spend waiting for a switchover. */
export const TERMINATION_GRACE_SECONDS = 90;
export const PRESTOP_WAIT_SECONDS = 60;

/**
 * Automatic rebuild (docs/clustering.md "Automatic rebuild"): the directory of the data volume
 * where an instance's extra transactions are saved before it is rebuilt, and the markers the
 * agent (src/agent/rebuild.ts), the entrypoint and the liveness probe share.
 */
export const SAVED_DIR = ".metamysql-saved";
/** Written by the agent once the tail is saved: the server is stopped and its data dir replaced. */
export const REBUILD_MARKER = ".metamysql-rebuild";
/** Written by the entrypoint once the old data dir is moved aside: the agent clones now. */
export const REBUILD_READY_MARKER = ".metamysql-rebuild-ready";
/** Written by the agent when no donor could be cloned: the entrypoint puts the old data back. */
export const REBUILD_FAILED_MARKER = ".metamysql-rebuild-failed";
/** The old data dir, kept until the clone succeeded. */
export const REBUILD_OLD_DIR = ".metamysql-rebuild-old";
