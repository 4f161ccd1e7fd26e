/**
 * Backups and restore (issue 5, docs/backups.md): the MySQLBackup resource, the storage
 * reference shared by MySQLBackup, `MySQLCluster.spec.backups` (schedules rendered as CronJobs,
 * the final backup on delete) and `MySQLCluster.spec.initDB.fromBackup` (seeding).
 */
import { z } from "zod";
import { cronProblem, timeZoneProblem } from "./cron.js";
import { ObjectMetaSchema } from "./k8s.js";

export const BACKUP_KIND = "MySQLBackup";
export const BACKUP_PLURAL = "mysqlbackups";
export const BACKUP_SHORT_NAME = "myb";

const NAME_PATTERN = /^[a-z0-9]([-a-z0-9.]*[a-z0-9])?$/;
/** A relative path inside a storage: no leading slash, no `..`, no quotes or spaces. */
const RELATIVE_PATH = /^[A-Za-z0-9_-][A-Za-z0-9._-]*(\/[A-Za-z0-9_-][A-Za-z0-9._-]*)*$/;

export const PvcStorageSchema = z.object({
  claimName: z
    .string()
    .regex(NAME_PATTERN, "must be a PersistentVolumeClaim name")
    .meta({ description: "Existing PersistentVolumeClaim that holds the backups (ReadWriteMany to seed several instances at once)." }),
});

export const S3StorageSchema = z.object({
  bucket: z
    .string()
    .regex(/^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$/, "must be an S3 bucket name")
    .meta({ description: "Bucket; it must exist." }),
  prefix: z.string().regex(RELATIVE_PATH, "must be a relative path").optional().meta({ description: "Key prefix inside the bucket." }),
  endpoint: z
    .string()
    .regex(/^https?:\/\/[^\s'"]+$/, "must be an http(s) URL")
    .optional()
    .meta({ description: "S3-compatible endpoint URL; AWS when omitted." }),
  region: z
    .string()
    .regex(/^[a-z0-9-]+$/)
    .optional(),
  forcePathStyle: z.boolean().optional().meta({ description: "Path-style bucket addressing (most S3-compatible servers)." }),
  credentialsSecretName: z
    .string()
    .regex(NAME_PATTERN, "must be a Secret name")
    .meta({ description: "Secret with keys access-key-id and secret-access-key; the only source of S3 credentials." }),
});

/** Where backups are stored: exactly one of persistentVolumeClaim and s3. */
export const BackupStorageSchema = z
  .object({
    persistentVolumeClaim: PvcStorageSchema.optional(),
    s3: S3StorageSchema.optional(),
  })
  .superRefine((s, ctx) => {
    if ((s.persistentVolumeClaim === undefined) === (s.s3 === undefined)) {
      ctx.addIssue({ code: "custom", message: "set exactly one of persistentVolumeClaim and s3" });
    }
  })
  .meta({
    description: "Backup storage: exactly one of persistentVolumeClaim and s3.",
    "x-kubernetes-validations": [{ rule: "has(self.persistentVolumeClaim) != has(self.s3)", message: "set exactly one of persistentVolumeClaim and s3" }],
  });
export type BackupStorage = z.infer<typeof BackupStorageSchema>;

export const CompressionSchema = z.enum(["gzip", "zstd", "none"]);
export type Compression = z.infer<typeof CompressionSchema>;

export const MySQLBackupSpecSchema = z.object({
  clusterName: z
    .string()
    .regex(NAME_PATTERN, "must be a MySQLCluster name")
    .meta({
      description: "MySQLCluster (same namespace) to back up.",
      "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "clusterName is immutable" }],
    }),
  storage: BackupStorageSchema,
  compression: CompressionSchema.default("gzip").meta({ description: "Compression of the dump: gzip, zstd or none." }),
  deletionPolicy: z
    .enum(["Retain", "Delete"])
    .default("Retain")
    .meta({ description: "Retain: deleting the MySQLBackup keeps the stored backup; Delete: removes it too." }),
});
export type MySQLBackupSpec = z.infer<typeof MySQLBackupSpecSchema>;

export const BackupStateSchema = z.enum(["Pending", "Running", "Completed", "Failed"]);
export type BackupState = z.infer<typeof BackupStateSchema>;

export const MySQLBackupStatusSchema = z.object({
  observedGeneration: z.number().int().optional(),
  state: BackupStateSchema.optional(),
  location: z.string().optional().meta({ description: "Where the backup is: pvc://<claim>/<path> or s3://<bucket>/<key prefix>." }),
  path: z.string().optional().meta({ description: "Path of the backup inside its storage (what initDB.fromBackup.path takes)." }),
  sizeBytes: z.number().int().optional(),
  gtidPosition: z.string().optional(),
  sourceInstance: z.string().optional(),
  serverVersion: z.string().optional(),
  startedAt: z.string().optional(),
  completedAt: z.string().optional(),
  clusterUID: z
    .string()
    .optional()
    .meta({ description: "uid of the MySQLCluster backed up: deletionPolicy Delete removes the stored backup only when its meta.json names it." }),
  message: z.string().optional(),
});
export type MySQLBackupStatus = z.infer<typeof MySQLBackupStatusSchema>;

/**
 * Names a MySQLBackup may not have: its folder `<cluster>/<name>` would be the folder of the
 * cluster's scheduled backups (`<cluster>/scheduled`) or of its final backup (`<cluster>/final`),
 * and deletionPolicy Delete removes that folder (issue 10, item 6: it wiped every scheduled
 * backup). Enforced by a CEL rule of the CRD and again by the hooks (an older CRD, the local
 * runtime).
 */
export const RESERVED_BACKUP_NAMES = ["scheduled", "final"] as const;

/** Why a MySQLBackup name is refused, or undefined when it may be used. */
export function reservedBackupName(name: string): string | undefined {
  if (!(RESERVED_BACKUP_NAMES as readonly string[]).includes(name)) return undefined;
  return `metadata.name "${name}" is reserved (the folder <cluster>/${name} holds the cluster's ${name} backups); choose another name`;
}

/** The CEL rule of the MySQLBackup CRD that refuses the reserved names. */
export const RESERVED_BACKUP_NAME_RULE = {
  rule: `!(self.metadata.name in [${RESERVED_BACKUP_NAMES.map((n) => `'${n}'`).join(", ")}])`,
  message: `metadata.name must not be ${RESERVED_BACKUP_NAMES.map((n) => `"${n}"`).join(" or ")}: those folders hold the cluster's scheduled and final backups`,
};

/** The MySQLBackup parent as Metacontroller sends it (spec parsed separately: Invalid is data). */
export const MySQLBackupObjectSchema = z.object({
  apiVersion: z.string(),
  kind: z.literal(BACKUP_KIND),
  metadata: ObjectMetaSchema.extend({ name: z.string().min(1), namespace: z.string().min(1).default("default") }),
  spec: z.unknown().optional(),
  status: z.unknown().optional(),
});
export type MySQLBackupObject = z.infer<typeof MySQLBackupObjectSchema>;

export const BackupScheduleSchema = z
  .object({
    name: z
      .string()
      .regex(/^[a-z0-9]([-a-z0-9]{0,18}[a-z0-9])?$/, "lower-case DNS label of at most 20 characters")
      .meta({ description: "Names the CronJob <cluster>-backup-<name> and the folder of its backups." }),
    schedule: z
      .string()
      .regex(/^\S+(\s+\S+){4}$|^@(yearly|annually|monthly|weekly|daily|midnight|hourly)$/, "must be a cron expression")
      .meta({ description: "Cron schedule (5 fields)." }),
    timeZone: z
      .string()
      .regex(/^[A-Za-z0-9_+/-]+$/)
      .optional()
      .meta({ description: "IANA time zone of the schedule; the controller's when omitted." }),
    storage: BackupStorageSchema,
    compression: CompressionSchema.default("gzip"),
    keep: z.number().int().min(1).max(1000).default(7).meta({ description: "How many completed backups of this schedule to retain." }),
    suspend: z.boolean().optional(),
  })
  .superRefine((s, ctx) => {
    // The same library the CronJob controller's semantics are checked with (src/api/cron.ts):
    // a schedule the hook accepts is one that runs.
    if (s.timeZone !== undefined) {
      const tz = timeZoneProblem(s.timeZone);
      if (tz) {
        ctx.addIssue({ code: "custom", path: ["timeZone"], message: tz });
        return;
      }
    }
    const problem = cronProblem(s.schedule, s.timeZone);
    if (problem) ctx.addIssue({ code: "custom", path: ["schedule"], message: problem });
  });
export type BackupSchedule = z.infer<typeof BackupScheduleSchema>;

export const ClusterBackupsSchema = z
  .object({
    schedules: z.array(BackupScheduleSchema).default([]),
    onDelete: z.boolean().default(false).meta({ description: "Take a final backup when the cluster is deleted; deletion completes only after it succeeded." }),
    onDeleteStorage: BackupStorageSchema.optional().meta({ description: "Storage of the final backup; the first schedule's when omitted." }),
  })
  .superRefine((b, ctx) => {
    const seen = new Set<string>();
    b.schedules.forEach((s, i) => {
      if (seen.has(s.name)) ctx.addIssue({ code: "custom", path: ["schedules", i, "name"], message: `duplicate schedule name ${s.name}` });
      seen.add(s.name);
    });
    if (b.onDelete && !b.onDeleteStorage && b.schedules.length === 0) {
      ctx.addIssue({ code: "custom", path: ["onDeleteStorage"], message: "onDelete needs onDeleteStorage or a schedule whose storage it uses" });
    }
  })
  .meta({ description: "Scheduled backups (CronJobs) and the final backup on delete." });
export type ClusterBackups = z.infer<typeof ClusterBackupsSchema>;

export const InitDBSchema = z
  .object({
    fromBackup: z
      .object({
        storage: BackupStorageSchema,
        path: z
          .string()
          .regex(RELATIVE_PATH, "must be a relative path")
          .meta({ description: "Path of the backup inside the storage (MySQLBackup status.path)." }),
        signingKeySecretName: z.string().regex(NAME_PATTERN, "must be a Secret name").meta({
          description:
            "Secret (same namespace) whose key `signing-key` holds the signing key of the cluster that took the backup (its Secret <cluster>-backup-credentials, or a copy of it): a backup whose meta.json that key did not sign is refused.",
        }),
      })
      .optional(),
  })
  .meta({
    description:
      "How a new cluster's instances are initialized. fromBackup: every instance restores the same completed backup and starts at its GTID position.",
    "x-kubernetes-validations": [{ rule: "self == oldSelf", message: "initDB is immutable" }],
  });
export type InitDB = z.infer<typeof InitDBSchema>;

/** Human location of a backup. */
export function backupLocation(storage: BackupStorage, path: string): string {
  if (storage.s3) return `s3://${storage.s3.bucket}/${storage.s3.prefix ? `${storage.s3.prefix.replace(/\/+$/, "")}/` : ""}${path}`;
  return `pvc://${storage.persistentVolumeClaim?.claimName ?? ""}/${path}`;
}

/** State of one run of a schedule (a Job the CronJob created), read from its pod. */
export const BackupRunStateSchema = z.enum(["Running", "Completed", "Failed"]);
export type BackupRunState = z.infer<typeof BackupRunStateSchema>;

/** The newest completed run of a schedule, from the result its pod wrote (meta.json). */
export const CompletedBackupStatusSchema = z.object({
  job: z.string().meta({ description: "Job of the run." }),
  location: z.string().meta({ description: "Where the backup is: pvc://<claim>/<path> or s3://<bucket>/<key prefix>." }),
  path: z.string().optional().meta({ description: "Path of the backup inside its storage (what initDB.fromBackup.path takes)." }),
  startedAt: z.string().optional().meta({ description: "When the run's pod started." }),
  completedAt: z.string().optional().meta({ description: "When meta.json was written (the backup became complete)." }),
  sizeBytes: z.number().int().optional().meta({ description: "Bytes of the stored dump." }),
  gtidPosition: z.string().optional().meta({ description: "GTID position of the dump; a restore starts replicating after it." }),
  sourceInstance: z.string().optional().meta({ description: "Instance (pod) the dump was taken from." }),
});
export type CompletedBackupStatus = z.infer<typeof CompletedBackupStatusSchema>;

/** The newest failed run of a schedule, kept while no run completed after it. */
export const FailedBackupStatusSchema = z.object({
  job: z.string().meta({ description: "Job of the failed run." }),
  startedAt: z.string().optional().meta({ description: "When the run's pod started." }),
  message: z.string().meta({ description: "Why it failed, as the backup script reported it." }),
});
export type FailedBackupStatus = z.infer<typeof FailedBackupStatusSchema>;

/** What the observed runs of one schedule say (docs/backups.md "Schedules"). */
export const ScheduleBackupStatusSchema = z.object({
  name: z.string().meta({ description: "Schedule (spec.backups.schedules[].name)." }),
  state: BackupRunStateSchema.meta({ description: "State of the newest run: Running, Completed or Failed." }),
  job: z.string().meta({ description: "Job of the newest run." }),
  startedAt: z.string().optional().meta({ description: "When the newest run's pod started." }),
  lastCompleted: CompletedBackupStatusSchema.optional().meta({ description: "The newest completed run." }),
  lastFailure: FailedBackupStatusSchema.optional().meta({
    description: "The newest failed run, while no run completed after it (also while a retry is Running).",
  }),
});
export type ScheduleBackupStatus = z.infer<typeof ScheduleBackupStatusSchema>;

/** The newest completed scheduled backup of the cluster, across schedules. */
export const LastSuccessfulBackupSchema = z
  .object({
    schedule: z.string().meta({ description: "Schedule whose run took it." }),
    completedAt: z.string().meta({ description: "When the backup became complete." }),
    location: z.string().meta({ description: "Where the backup is." }),
    sizeBytes: z.number().int().optional().meta({ description: "Bytes of the stored dump." }),
  })
  .meta({ description: "The newest completed scheduled backup of the cluster, across schedules (kept when its schedule is removed)." });
export type LastSuccessfulBackup = z.infer<typeof LastSuccessfulBackupSchema>;

export const ClusterBackupsStatusSchema = z
  .object({
    schedules: z.array(ScheduleBackupStatusSchema).optional().meta({
      description: "One entry per schedule in spec order, once a run of it was observed; kept when its Jobs are gone, dropped with the schedule.",
    }),
    lastSuccessfulBackup: LastSuccessfulBackupSchema.optional(),
  })
  .meta({ description: "Scheduled backups as observed from the pods of their Jobs (termination messages); never from the clock." });
export type ClusterBackupsStatus = z.infer<typeof ClusterBackupsStatusSchema>;
