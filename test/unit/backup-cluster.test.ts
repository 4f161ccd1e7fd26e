/**
 * Cluster-level backups (docs/backups.md): the schedule CronJobs, the final backup decision of
 * finalize, seeding of fresh instances from the newest scheduled backup (render; the real seed.sh
 * runs in test/integration/backup-script.test.ts), and the purged-binlog report of the decider.
 */
import { describe, expect, it } from "vitest";
import { MySQLClusterSpecSchema, type Cluster, type MySQLClusterSpecInput } from "../../src/api/cluster.js";
import type { KubeObject, Pod } from "../../src/api/k8s.js";
import { ANNOTATION_SKIP_FINAL_BACKUP, finalBackupStep } from "../../src/backup/final.js";
import { buildFinalBackupJob, buildScheduleCronJobs, finalBackupPath } from "../../src/backup/cluster-children.js";
import { renderChildren } from "../../src/render/children.js";
import { configData } from "../../src/render/configmap.js";
import { buildStatefulSet } from "../../src/render/statefulset.js";
import { binlogsPurged, replicationBroken } from "../../src/topology/rules.js";
import type { ReplicaStatus } from "../../src/topology/observation.js";
import { validateKubeObject } from "../helpers/kube-schema.js";

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const PVC = { persistentVolumeClaim: { claimName: "backups" } };
const S3 = { s3: { bucket: "bkp", endpoint: "http://s3.local:9000", credentialsSecretName: "s3" } };
const SRC = { sources: [{ pod: "shop-1", ip: "10.0.0.2" }], primary: { pod: "shop-0", ip: "10.0.0.1" } };

function cluster(spec: MySQLClusterSpecInput = {}, status: Cluster["status"] = {}): Cluster {
  return {
    name: "shop",
    namespace: "prod",
    uid: "uid-1",
    generation: 1,
    creationTimestamp: "2026-11-01T10:00:00Z",
    spec: MySQLClusterSpecSchema.parse({ flavor: "mariadb", ...spec }),
    status,
  };
}

function env(container: AnyObj): Record<string, unknown> {
  return Object.fromEntries((container.env as AnyObj[]).map((e) => [e.name, e.value ?? e.valueFrom]));
}

describe("schedule CronJobs", () => {
  const spec: MySQLClusterSpecInput = {
    backups: { schedules: [{ name: "nightly", schedule: "30 2 * * *", timeZone: "Europe/Paris", storage: PVC, keep: 3 }] },
  };
  it("one CronJob per schedule: <cluster>-backup-<name>, folder <cluster>/scheduled/<name>, keep, sources", () => {
    const [cj, ...rest] = buildScheduleCronJobs(cluster(spec), SRC) as AnyObj[];
    expect(rest).toEqual([]);
    validateKubeObject(cj as AnyObj & { apiVersion: string; kind: string });
    expect(cj?.metadata.name).toBe("shop-backup-nightly");
    expect(cj?.spec).toMatchObject({ schedule: "30 2 * * *", timeZone: "Europe/Paris", concurrencyPolicy: "Forbid", suspend: false });
    const c = cj?.spec.jobTemplate.spec.template.spec.containers[0];
    expect(env(c)).toMatchObject({
      METAMYSQL_BACKUP_DIR: "shop/scheduled/nightly",
      METAMYSQL_KEEP: "3",
      METAMYSQL_SOURCES: "shop-1=10.0.0.2",
      METAMYSQL_PRIMARY: "shop-0=10.0.0.1",
      METAMYSQL_CLUSTER_UID: "uid-1",
    });
    expect(cj?.spec.jobTemplate.spec.template.metadata.labels["app.kubernetes.io/component"]).toBe("backup");
  });
  it("renderChildren adds them (deterministically) and nothing without schedules", () => {
    const input = (s: MySQLClusterSpecInput) => ({
      cluster: cluster(s),
      observed: [] as KubeObject[],
      credentials: { "root-password": "r", "operator-password": "o", "replication-password": "p" },
      backupPassword: "b",
      backupSigningKey: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      appsPassword: "apps-pw",
      agentToken: "agent-token",
      primary: "shop-0",
      readOnlyEndpoints: [],
      backupSources: SRC,
      operatorNamespace: "metamysql-system",
    });
    const a = renderChildren(input(spec));
    if (!a.ok) throw new Error(a.failure.message);
    expect(a.children.filter((c) => c.kind === "CronJob").map((c) => c.metadata.name)).toEqual(["shop-backup-nightly"]);
    expect(JSON.stringify(renderChildren(input(spec)))).toBe(JSON.stringify(a));
    const b = renderChildren(input({}));
    expect(b.ok && b.children.some((c) => c.kind === "CronJob")).toBe(false);
  });
});

describe("backup pods run the scripts from the cluster's ConfigMap", () => {
  it.each([
    ["PVC", PVC],
    ["S3", S3],
  ] as const)("%s: every container runs bash /etc/metamysql/backup.sh <phase> from <c>-config (only the backup files and settings.env)", (_name, storage) => {
    const cj = buildScheduleCronJobs(cluster({ backups: { schedules: [{ name: "n", schedule: "@daily", storage }] } }), SRC)[0] as AnyObj;
    const ps = cj["spec"].jobTemplate.spec.template.spec;
    expect(ps.volumes).toContainEqual({
      name: "scripts",
      configMap: {
        name: "shop-config",
        defaultMode: 0o555,
        items: [
          { key: "backup-common.sh", path: "backup-common.sh" },
          { key: "backup.sh", path: "backup.sh" },
          { key: "settings.env", path: "settings.env" },
        ],
      },
    });
    for (const c of [...(ps.initContainers ?? []), ...ps.containers]) {
      expect(c.command).toEqual(["bash", "/etc/metamysql/backup.sh", c.name]);
      expect(c.volumeMounts).toContainEqual({ name: "scripts", mountPath: "/etc/metamysql", readOnly: true });
    }
  });
  it("the S3 seed init containers run seed.sh from the config volume", () => {
    const sts = buildStatefulSet(cluster({ backups: { schedules: [{ name: "n", schedule: "@daily", storage: S3 }] } }), {
      replicas: 3,
      configHash: "h",
      observedVolumeClaimTemplates: undefined,
    }) as AnyObj;
    const init = (sts["spec"].template.spec.initContainers as AnyObj[]).find((c) => c.name === "fetch-latest-seed");
    expect(init?.command).toEqual(["bash", "/etc/metamysql/seed.sh", "fetch-latest"]);
    expect(init?.volumeMounts).toContainEqual({ name: "config", mountPath: "/etc/metamysql", readOnly: true });
  });
});

describe("final backup on delete", () => {
  const spec: MySQLClusterSpecInput = { backups: { onDelete: true, schedules: [{ name: "nightly", schedule: "@daily", storage: PVC }] } };
  const status: Cluster["status"] = {
    currentPrimary: "shop-0",
    instances: [
      { name: "shop-0", ordinal: 0, role: "primary", ready: true, weight: 50 },
      { name: "shop-1", ordinal: 1, role: "replica", ready: true, weight: 50 },
    ],
  };
  const pods: Pod[] = [0, 1].map((i) => ({ apiVersion: "v1", kind: "Pod", metadata: { name: `shop-${i}` }, status: { podIP: `10.0.0.${i + 1}` } }) as Pod);
  const sts: KubeObject = { apiVersion: "apps/v1", kind: "StatefulSet", metadata: { name: "shop" } };
  const job = (st: AnyObj, message?: string): { job: KubeObject; pod: Pod } => ({
    job: { apiVersion: "batch/v1", kind: "Job", metadata: { name: "shop-final-backup" }, status: st },
    pod: {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "shop-final-backup-x", labels: { "job-name": "shop-final-backup" } },
      status: { containerStatuses: [{ name: "dump", state: { terminated: { exitCode: st.failed ? 1 : 0, message } } }] },
    } as Pod,
  });
  const base = { cluster: cluster(spec, status), annotations: {}, deletionTimestamp: "2026-11-02T03:04:05Z", pods, backupPods: [] as Pod[] };

  it("path from the deletion time", () => {
    expect(finalBackupPath("shop", "2026-11-02T03:04:05Z")).toBe("shop/final/20261102T030405Z");
    expect(finalBackupPath("shop", undefined)).toBe("shop/final/latest");
  });
  it("renders the Job first (StatefulSet kept), from the replica, into the first schedule's storage", () => {
    const step = finalBackupStep({ ...base, children: [sts] });
    expect(step.state).toBe("running");
    const j = step.state === "running" ? (step.job as AnyObj) : undefined;
    validateKubeObject(j as AnyObj & { apiVersion: string; kind: string });
    expect(j?.metadata.name).toBe("shop-final-backup");
    expect(env(j?.spec.template.spec.containers[0])).toMatchObject({
      METAMYSQL_BACKUP_PATH: "shop/final/20261102T030405Z",
      METAMYSQL_SOURCES: "shop-1=10.0.0.2",
    });
  });
  it("waits while it runs, tears down once completed, blocks with instructions when it failed", () => {
    const running = job({ active: 1 });
    expect(finalBackupStep({ ...base, children: [sts, running.job], backupPods: [running.pod] })).toMatchObject({ state: "running", job: undefined });
    const ok = job({ succeeded: 1 }, JSON.stringify({ state: "Completed", meta: { path: "shop/final/x" } }));
    expect(finalBackupStep({ ...base, children: [sts, ok.job], backupPods: [ok.pod] })).toMatchObject({
      state: "completed",
      message: "final backup completed: pvc://backups/shop/final/20261102T030405Z",
    });
    const bad = job({ failed: 1 }, JSON.stringify({ state: "Failed", message: "no healthy caught-up instance to back up" }));
    const failed = finalBackupStep({ ...base, children: [sts, bad.job], backupPods: [bad.pod] });
    expect(failed.state).toBe("failed");
    expect(failed.message).toContain("no healthy caught-up instance");
    expect(failed.message).toContain("delete Job shop-final-backup");
    expect(failed.message).toContain(`kubectl annotate mysqlcluster shop ${ANNOTATION_SKIP_FINAL_BACKUP}=true`);
    expect(finalBackupStep({ ...base, annotations: { [ANNOTATION_SKIP_FINAL_BACKUP]: "true" }, children: [sts, bad.job], backupPods: [bad.pod] }).state).toBe(
      "none",
    );
  });
  it("nothing when onDelete is off or no StatefulSet is left", () => {
    expect(finalBackupStep({ ...base, cluster: cluster({}, status), children: [sts] }).state).toBe("none");
    expect(finalBackupStep({ ...base, children: [] }).state).toBe("none");
    expect(buildFinalBackupJob(cluster({ backups: { onDelete: true, onDeleteStorage: S3 } }), SRC, undefined)?.metadata.name).toBe("shop-final-backup");
  });
});

describe("seeding fresh instances from the newest scheduled backup", () => {
  const podSpec = (spec: MySQLClusterSpecInput): AnyObj =>
    (buildStatefulSet(cluster(spec), { replicas: 3, configHash: "h", observedVolumeClaimTemplates: undefined }) as AnyObj).spec.template.spec;
  it("PVC schedule: the claim read-only at /backup-latest, scan root <cluster>/scheduled, cluster uid", () => {
    const ps = podSpec({ backups: { schedules: [{ name: "n", schedule: "@daily", storage: PVC }] } });
    expect(ps.volumes).toContainEqual({ name: "backup-latest", persistentVolumeClaim: { claimName: "backups", readOnly: true } });
    expect(env(ps.containers[0])).toMatchObject({
      METAMYSQL_SEED_SCAN: "/backup-latest/shop/scheduled",
      METAMYSQL_CLUSTER_UID: "uid-1",
      METAMYSQL_CLUSTER: "shop",
    });
    // Only the agent's clone step (src/agent/clone.ts): a PVC needs no download.
    expect(ps.initContainers.map((c: AnyObj) => c.name)).toEqual(["clone"]);
    expect(configData(cluster({ backups: { schedules: [{ name: "n", schedule: "@daily", storage: PVC }] } }))["seed.sh"]).toBeDefined();
  });
  it("S3 schedule: an init container fetches the newest backup's meta.json and dump", () => {
    const ps = podSpec({ backups: { schedules: [{ name: "n", schedule: "@daily", storage: S3 }] } });
    // The agent's clone step first: a cloned data dir makes fetch-latest-seed skip the download.
    expect(ps.initContainers.map((c: AnyObj) => c.name)).toEqual(["clone", "fetch-latest-seed"]);
    expect(ps.initContainers[1].command.slice(-1)).toEqual(["fetch-latest"]);
    expect(env(ps.initContainers[1])).toMatchObject({ METAMYSQL_SEED_S3_PATH: "shop/scheduled", METAMYSQL_SEED_SCAN: "/backup-latest" });
  });
  it("no schedule, no initDB: the StatefulSet and the database pods' files are unchanged", () => {
    const ps = podSpec({});
    expect(ps.volumes.some((v: AnyObj) => v.name === "backup-latest")).toBe(false);
    expect(env(ps.containers[0])).not.toHaveProperty("METAMYSQL_SEED_SCAN");
    expect(configData(cluster({}))["seed.sh"]).toBeUndefined();
  });
});

describe('the backup signing key is mounted as a file, only where it signs or verifies (docs/backups.md "Signed backups")', () => {
  const keyVolume = (name: string, secretName: string) => ({
    name,
    secret: { secretName, defaultMode: 0o440, items: [{ key: "signing-key", path: "signing-key" }] },
  });
  const mountsOf = (c: AnyObj): string[] => (c.volumeMounts as AnyObj[]).map((m) => `${String(m.name)}:${String(m.mountPath)}`);
  const noKeyInEnv = (c: AnyObj): void => {
    for (const e of c.env as AnyObj[]) expect(JSON.stringify(e.valueFrom ?? {})).not.toContain("signing-key");
  };
  it.each([
    ["PVC", PVC],
    ["S3", S3],
  ] as const)("%s backup pod: only the dump container mounts signing-key of <c>-backup-credentials (never the password next to it)", (_n, storage) => {
    const cj = buildScheduleCronJobs(cluster({ backups: { schedules: [{ name: "n", schedule: "@daily", storage }] } }), SRC)[0] as AnyObj;
    const ps = cj["spec"].jobTemplate.spec.template.spec;
    expect(ps.volumes).toContainEqual(keyVolume("signing-key", "shop-backup-credentials"));
    for (const c of [...(ps.initContainers ?? []), ...ps.containers]) {
      noKeyInEnv(c);
      const signs = mountsOf(c).includes("signing-key:/etc/metamysql-signing/own");
      expect(signs, c.name).toBe(c.name === "dump");
      if (signs) expect(env(c)).toMatchObject({ METAMYSQL_SIGNING_KEY_FILE: "/etc/metamysql-signing/own/signing-key", METAMYSQL_CLUSTER_UID: "uid-1" });
    }
  });
  it("S3 seeding: the database container and fetch-latest-seed verify with the cluster's own key; fetch-seed gets none; initDB.fromBackup's key comes from signingKeySecretName", () => {
    const ps = (
      buildStatefulSet(
        cluster({
          backups: { schedules: [{ name: "n", schedule: "@daily", storage: S3 }] },
          initDB: { fromBackup: { storage: S3, path: "old/b1", signingKeySecretName: "old-key" } },
        }),
        { replicas: 3, configHash: "h", observedVolumeClaimTemplates: undefined },
      ) as AnyObj
    ).spec.template.spec;
    expect(ps.volumes).toContainEqual(keyVolume("signing-key", "shop-backup-credentials"));
    expect(ps.volumes).toContainEqual(keyVolume("seed-signing-key", "old-key"));
    const main = ps.containers[0];
    expect(mountsOf(main)).toEqual(expect.arrayContaining(["signing-key:/etc/metamysql-signing/own", "seed-signing-key:/etc/metamysql-signing/source"]));
    expect(env(main)).toMatchObject({
      METAMYSQL_SIGNING_KEY_FILE: "/etc/metamysql-signing/own/signing-key",
      METAMYSQL_SEED_KEY_FILE: "/etc/metamysql-signing/source/signing-key",
    });
    const byName = Object.fromEntries((ps.initContainers as AnyObj[]).map((c) => [c.name, c]));
    expect(mountsOf(byName["fetch-latest-seed"])).toContain("signing-key:/etc/metamysql-signing/own");
    expect(mountsOf(byName["fetch-seed"]).some((m) => m.includes("signing"))).toBe(false);
    for (const c of [main, ...(ps.initContainers as AnyObj[])]) noKeyInEnv(c);
    validateKubeObject(
      buildStatefulSet(cluster({ initDB: { fromBackup: { storage: PVC, path: "old/b1", signingKeySecretName: "old-key" } } }), {
        replicas: 1,
        configHash: "h",
        observedVolumeClaimTemplates: undefined,
      }),
    );
  });
  it("initDB.fromBackup without signingKeySecretName is an invalid spec", () => {
    const r = MySQLClusterSpecSchema.safeParse({ flavor: "mariadb", initDB: { fromBackup: { storage: PVC, path: "old/b1" } } });
    expect(r.success).toBe(false);
    expect(JSON.stringify(r.error?.issues)).toContain("signingKeySecretName");
  });
});

describe("purged binary logs are reported with the re-seed path", () => {
  const r = (lastIoError: string): ReplicaStatus => ({
    sourceHost: "10.0.0.1",
    sourcePort: 3306,
    sourceUser: "repl",
    ioRunning: "No",
    sqlRunning: true,
    receivedGtids: "",
    lastIoErrno: 1236,
    lastIoError,
    lastSqlErrno: 0,
    lastSqlError: "",
    secondsBehindSource: null,
  });
  it.each([
    [
      "mariadb",
      "Got fatal error 1236 from master when reading data from binary log: 'Could not find GTID state requested by slave in any binlog files. Probably the slave state is too old and required binlog files have been purged.'",
      true,
    ],
    ["mysql", "Got fatal error 1236 from source when reading data from binary log: 'Cannot replicate because the source purged required binary logs.'", true],
    [
      "diverged",
      "Got fatal error 1236 from master when reading data from binary log: 'Error: connecting slave requested to start from GTID 0-101-5, which is not in the master's binlog'",
      false,
    ],
  ])("%s", (_flavor, message, purged) => {
    expect(binlogsPurged(r(message))).toBe(purged);
    expect(replicationBroken(r(message))?.includes("re-seed it from the newest completed backup")).toBe(purged);
  });
});

describe("no service-account token in database or backup pods (issue 10, item 12)", () => {
  it("the StatefulSet (seeding included), schedule CronJobs and the final backup Job set automountServiceAccountToken: false", () => {
    const spec: MySQLClusterSpecInput = { backups: { onDelete: true, schedules: [{ name: "n", schedule: "@daily", storage: S3 }] } };
    const sts = buildStatefulSet(cluster(spec), { replicas: 3, configHash: "h", observedVolumeClaimTemplates: undefined }) as AnyObj;
    expect(sts.spec.template.spec.automountServiceAccountToken).toBe(false);
    const [cj] = buildScheduleCronJobs(cluster(spec), SRC) as AnyObj[];
    expect(cj?.spec.jobTemplate.spec.template.spec.automountServiceAccountToken).toBe(false);
    const final = buildFinalBackupJob(cluster(spec), SRC, undefined) as AnyObj | undefined;
    expect(final?.spec.template.spec.automountServiceAccountToken).toBe(false);
  });
});
