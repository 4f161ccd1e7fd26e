/**
 * Unit tables for the pure builders in src/render.
 */
import { describe, expect, it } from "vitest";
import { MySQLClusterSpecSchema, type Cluster, type MySQLClusterSpecInput } from "../../src/api/cluster.js";
import { renderChildren, renderConfig } from "../../src/render/children.js";
import { buildConfigMap, configData, configFiles, configHash } from "../../src/render/configmap.js";
import {
  buildAgentCredentialsSecret,
  buildBackupCredentialsSecret,
  buildCredentialsSecret,
  readSecretPasswords,
  resolveBackupPassword,
  resolveBackupSigningKey,
  resolveAgentToken,
  SIGNING_KEY_PATTERN,
  resolveGeneratedCredentials,
} from "../../src/render/credentials.js";
import { generatePassword } from "../../src/server/passwords.js";
import { renderMyCnf } from "../../src/render/mycnf.js";
import { applyChildPatches } from "../../src/render/patches.js";
import { canonicalQuantity, compareQuantities } from "../../src/api/quantity.js";
import {
  buildHeadlessService,
  buildPodDisruptionBudget,
  buildReadOnlyEndpointSlice,
  buildReadOnlyService,
  buildReadWriteService,
} from "../../src/render/services.js";
import { buildStatefulSet } from "../../src/render/statefulset.js";
import { renderSettings } from "../../src/api/settings.js";
import { forbiddenChanges } from "../../src/api/spec-changes.js";
import { ACCOUNTS_SH, ENTRYPOINT_SH, INSTANCE_SH, PROBE_SH } from "../../src/render/scripts/embedded.js";
import { BACKUP_SH } from "../../src/backup/scripts/embedded.js";
import { validateKubeObject } from "../helpers/kube-schema.js";
import type { Child, KubeObject } from "../../src/api/k8s.js";

function cluster(spec: MySQLClusterSpecInput = {}, name = "shop"): Cluster {
  return {
    name,
    namespace: "prod",
    uid: "uid-1",
    generation: 1,
    creationTimestamp: "2026-11-01T10:00:00Z",
    spec: MySQLClusterSpecSchema.parse(spec),
    status: {},
  };
}

const CREDS = { "root-password": "r00t", "operator-password": "op", "replication-password": "repl" };

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function sts(spec: MySQLClusterSpecInput = {}, replicas = 3): AnyObj {
  const c = cluster(spec);
  return buildStatefulSet(c, { replicas, configHash: "abc", observedVolumeClaimTemplates: undefined }) as AnyObj;
}

describe("spec defaults", () => {
  it("fills every default of ARCHITECTURE.md section 2", () => {
    expect(MySQLClusterSpecSchema.parse({})).toEqual({
      flavor: "mysql",
      instances: 3,
      memberWeights: {},
      storage: { size: "10Gi" },
      mysqlConfig: {},
      durability: "lossless",
      failover: { enabled: true, delaySeconds: 5 },
      service: { type: "ClusterIP" },
      networkPolicy: { enabled: true },
      repair: { errant: "Rebuild" },
      remoteRoot: false,
      patches: [],
    });
  });
  it.each([
    ["mysql", "docker.io/library/mysql:8.4"],
    ["mariadb", "docker.io/library/mariadb:11.4"],
  ] as const)("image for %s is %s", (flavor, image) => {
    expect(sts({ flavor })["spec"].template.spec.containers[0].image).toBe(image);
  });
  it("honours version and image overrides", () => {
    expect(sts({ flavor: "mariadb", version: "10.11" })["spec"].template.spec.containers[0].image).toBe("docker.io/library/mariadb:10.11");
    expect(sts({ image: "registry.local/mysql:8.4.3" })["spec"].template.spec.containers[0].image).toBe("registry.local/mysql:8.4.3");
  });
  it("pins images by digest: a version with a digest, or a full reference by digest, is used verbatim", () => {
    const digest = `sha256:${"a1".repeat(32)}`;
    expect(sts({ flavor: "mariadb", version: `11.4.5@${digest}` })["spec"].template.spec.containers[0].image).toBe(
      `docker.io/library/mariadb:11.4.5@${digest}`,
    );
    expect(sts({ image: `registry.local/mysql@${digest}` })["spec"].template.spec.containers[0].image).toBe(`registry.local/mysql@${digest}`);
    expect(sts({ image: `registry.local/mysql:8.4.3@${digest}` })["spec"].template.spec.containers[0].image).toBe(`registry.local/mysql:8.4.3@${digest}`);
  });
});

describe("quantities", () => {
  it.each([
    ["1000m", "1"],
    ["1500m", "1500m"],
    ["0.5", "500m"],
    ["1Gi", "1Gi"],
    ["1024Mi", "1Gi"],
    ["1.5Gi", "1536Mi"],
    ["1000", "1k"],
    ["2000Mi", "2000Mi"],
    ["10G", "10G"],
    ["0", "0"],
  ])("canonical(%s) = %s", (input, out) => {
    expect(canonicalQuantity(input)).toBe(out);
  });
  it.each([
    ["1Gi", "1024Mi", 0],
    ["1Gi", "1G", 1],
    ["512Mi", "1Gi", -1],
    ["10Gi", "2Gi", 1],
  ])("compare(%s, %s) = %d", (a, b, d) => {
    expect(compareQuantities(a, b)).toBe(d);
  });
  it("renders canonical resource quantities so the API server sees no diff", () => {
    const c = sts({ resources: { requests: { cpu: "1000m", memory: "1024Mi" }, limits: { cpu: 2, memory: "2Gi" } } })["spec"].template.spec.containers[0];
    expect(c.resources).toEqual({ limits: { cpu: "2", memory: "2Gi" }, requests: { cpu: "1", memory: "1Gi" } });
  });
});

describe("credentials", () => {
  it("generates 32-character passwords from a CSPRNG alphabet", () => {
    const seen = new Set(Array.from({ length: 50 }, generatePassword));
    expect(seen.size).toBe(50);
    for (const p of seen) expect(p).toMatch(/^[A-Za-z0-9]{32}$/);
  });
  it("keeps observed passwords and only fills missing keys", () => {
    const observed = {
      apiVersion: "v1",
      kind: "Secret" as const,
      metadata: { name: "shop-credentials" },
      data: { "root-password": Buffer.from("kept").toString("base64") },
    };
    const creds = resolveGeneratedCredentials(observed, () => "new");
    expect(creds).toEqual({ "root-password": "kept", "operator-password": "new", "replication-password": "new" });
  });
  it("encodes the Secret as base64 data", () => {
    const s = buildCredentialsSecret(cluster(), CREDS) as AnyObj;
    expect(readSecretPasswords(s as never)).toEqual(CREDS);
    expect(s["type"]).toBe("Opaque");
  });
  it("the backup account's password lives in its own operator-owned Secret, generated once and then kept", () => {
    const s = buildBackupCredentialsSecret(cluster(), "bk", "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa") as AnyObj;
    expect(s["metadata"].name).toBe("shop-backup-credentials");
    expect(Object.keys(s["data"])).toEqual(["password", "signing-key"]);
    expect(resolveBackupPassword(s as never, () => "new")).toBe("bk");
    expect(resolveBackupPassword(undefined, () => "new")).toBe("new");
  });

  it("the agent token: generated once, then carried over from its own <c>-agent-credentials (also with credentialsSecretName)", () => {
    const token = resolveAgentToken(undefined, () => "generated");
    expect(token).toBe("generated");
    const secret = buildAgentCredentialsSecret(cluster(), token) as never;
    expect((secret as AnyObj)["metadata"].name).toBe("shop-agent-credentials");
    expect(resolveAgentToken(secret, () => "new")).toBe("generated");
  });

  it("the backup signing key: 64 hex digits generated once, then carried over (never regenerated), also with credentialsSecretName", () => {
    let n = 0;
    const generate = () => `pw-${String(++n)}`;
    const key = resolveBackupSigningKey(undefined, generate);
    expect(key).toMatch(SIGNING_KEY_PATTERN);
    expect(n).toBe(2); // two CSPRNG passwords hashed into 32 bytes
    expect(resolveBackupSigningKey(undefined, generate)).not.toBe(key);
    const secret = buildBackupCredentialsSecret(cluster(), "bk", key) as never;
    expect(resolveBackupSigningKey(secret, () => "new")).toBe(key);
    // Edited by hand to something else: kept (backups then fail saying so), not silently replaced.
    const edited = buildBackupCredentialsSecret(cluster(), "bk", "not-hex") as never;
    expect(resolveBackupSigningKey(edited, () => "new")).toBe("not-hex");
    // With the user's own credentials Secret the key still lives in <c>-backup-credentials.
    const r = renderChildren({
      cluster: cluster({ credentialsSecretName: "mine" }),
      observed: [],
      credentials: CREDS,
      backupPassword: "b",
      backupSigningKey: key,
      appsPassword: "apps-pw",
      agentToken: "agent-token",
      operatorNamespace: "ops",
      primary: undefined,
      readOnlyEndpoints: [],
    });
    if (!r.ok) throw new Error("render failed");
    const bs = r.children.find((c) => c.kind === "Secret" && c.metadata.name === "shop-backup-credentials") as AnyObj | undefined;
    expect(Buffer.from(String(bs?.["data"]["signing-key"]), "base64").toString()).toBe(key);
  });
});

describe("my.cnf", () => {
  it("mariadb: GTID strict, binlog, read-only start, semi-sync replica side only, lossless timeout", () => {
    const cnf = renderMyCnf(cluster({ flavor: "mariadb" }).spec, "shop");
    for (const line of [
      "gtid_strict_mode = ON",
      "log_bin = mysql-bin",
      "log_slave_updates = ON",
      "read_only = ON",
      "relay_log = relay-bin",
      "rpl_semi_sync_master_enabled = OFF",
      "rpl_semi_sync_master_wait_point = AFTER_SYNC",
      "rpl_semi_sync_slave_enabled = ON",
      "rpl_semi_sync_master_timeout = 86400000",
      "skip_slave_start = ON",
      "binlog_format = ROW",
    ])
      expect(cnf).toContain(`\n${line}\n`);
  });
  it("mysql: gtid_mode, super_read_only, semi-sync plugins loaded", () => {
    const cnf = renderMyCnf(cluster({ flavor: "mysql" }).spec, "shop");
    for (const line of [
      "gtid_mode = ON",
      "enforce_gtid_consistency = ON",
      "super_read_only = ON",
      "plugin_load_add = semisync_source.so",
      "plugin_load_add = semisync_replica.so",
      "rpl_semi_sync_source_wait_point = AFTER_SYNC",
      "skip_replica_start = ON",
    ])
      expect(cnf).toContain(`\n${line}\n`);
  });
  it.each([
    ["a single instance", { flavor: "mariadb", instances: 1 }],
    ["async durability", { flavor: "mariadb", durability: "async" }],
  ] as const)("%s runs without the semi-sync replica side", (_n, spec) => {
    const cnf = renderMyCnf(cluster(spec as MySQLClusterSpecInput).spec, "shop");
    expect(cnf).toContain("\nrpl_semi_sync_slave_enabled = OFF\n");
  });
  it("async durability disables the replica side", () => {
    expect(renderMyCnf(cluster({ flavor: "mariadb", durability: "async" }).spec, "shop")).toContain("rpl_semi_sync_slave_enabled = OFF");
  });
  it("appends user options sorted and lets them override defaults", () => {
    const cnf = renderMyCnf(cluster({ flavor: "mariadb", mysqlConfig: { "max-connections": 1000, innodb_buffer_pool_size: "1G" } }).spec, "shop");
    expect(cnf).toContain("# spec.mysqlConfig\ninnodb_buffer_pool_size = 1G\nmax_connections = 1000\n");
    expect(cnf.match(/max_connections/g)).toHaveLength(1);
  });
  it.each([
    "server_id",
    "server-id",
    "log_bin",
    "gtid_mode",
    "gtid_strict_mode",
    "read_only",
    "super_read_only",
    "rpl_semi_sync_master_enabled",
    "relay_log",
    "log_slave_updates",
    "binlog_format",
    "datadir",
    "bind-address",
    "port",
  ])("rejects operator-owned option %s", (key) => {
    const r = MySQLClusterSpecSchema.safeParse({ mysqlConfig: { [key]: "1" } });
    expect(r.success).toBe(false);
    expect(r.error?.issues[0]?.message).toContain("managed by the operator");
  });
  it("rejects a value with a line break (it could inject options)", () => {
    expect(MySQLClusterSpecSchema.safeParse({ mysqlConfig: { max_connections: "1\nread_only=OFF" } }).success).toBe(false);
  });
});

describe("scripts", () => {
  // What the SQL says is tested by running accounts.sh (test/integration/accounts-script.test.ts).
  it.each(["mariadb", "mysql"] as const)(
    "%s: the ConfigMap ships the script files and settings.env with their flavor and constants; the container env holds none of them",
    (flavor) => {
      const data = configData(cluster({ flavor }));
      expect(data["entrypoint.sh"]).toBe(ENTRYPOINT_SH);
      expect(data["instance.sh"]).toBe(INSTANCE_SH);
      expect(data["accounts.sh"]).toBe(ACCOUNTS_SH);
      expect(data["probe.sh"]).toBe(PROBE_SH);
      // Scripts and settings change together (one ConfigMap update), even for pods of an older
      // pod template: the constants are not in the pod's environment.
      expect(data["settings.env"]).toBe(renderSettings(flavor));
      const settings = Object.fromEntries(
        (data["settings.env"] ?? "")
          .split("\n")
          .filter((l) => /^[A-Z_]+=/.test(l))
          .map((l) => [l.slice(0, l.indexOf("=")), l.slice(l.indexOf("=") + 1)]),
      );
      expect(settings).toEqual({
        METAMYSQL_APPS_USER: "'metamysql_apps'",
        METAMYSQL_BACKUP_USER: "'metamysql_backup'",
        METAMYSQL_FLAVOR: `'${flavor}'`,
        METAMYSQL_OPERATOR_USER: "'metamysql'",
        METAMYSQL_PRESTOP_WAIT_SECONDS: "'60'",
        METAMYSQL_PROBE_USER: "'metamysql_probe'",
        METAMYSQL_REMOTE_ROOT: "'false'",
        METAMYSQL_REPLICATION_USER: "'repl'",
        METAMYSQL_SERVER_ID_BASE: "'100'",
      });
      const env = (sts({ flavor })["spec"].template.spec.containers[0].env as AnyObj[]).map((e) => e["name"]);
      for (const name of Object.keys(settings)) expect(env).not.toContain(name);
      for (const name of ["POD_NAME", "METAMYSQL_CREDENTIALS_DIR", "METAMYSQL_BACKUP_CREDENTIALS_DIR"]) expect(env).toContain(name);
      // Passwords are files of the mounted Secrets: nothing in the environment (the server inherits it).
      const container = sts({ flavor })["spec"].template.spec.containers[0] as AnyObj;
      expect(JSON.stringify(container["env"])).not.toMatch(/PASSWORD|secretKeyRef/);
      for (const script of [INSTANCE_SH, ACCOUNTS_SH]) expect(script).toContain('/settings.env"');
    },
  );
  it("spec.remoteRoot reaches accounts.sh through settings.env (a change rolls the pods, which converge)", () => {
    expect(configData(cluster({ remoteRoot: true }))["settings.env"]).toContain("METAMYSQL_REMOTE_ROOT='true'");
    expect(configHash(configData(cluster({ remoteRoot: true })))).not.toBe(configHash(configData(cluster())));
  });
  it("the entrypoint converges the accounts with accounts.sh on every start and execs the server", () => {
    expect(ENTRYPOINT_SH).toContain('accounts converge | "$CLIENT"');
    expect(ENTRYPOINT_SH).toContain("--skip-networking --skip-grant-tables");
    expect(ENTRYPOINT_SH).toContain('exec "$SERVER" ');
    expect(INSTANCE_SH).toContain("SERVER_ID=$((SERVER_ID_BASE + ORDINAL))");
  });
  it("probe script knows readiness, liveness and prestop", () => {
    for (const mode of ["readiness)", "liveness)", "prestop)"]) expect(PROBE_SH).toContain(mode);
  });
});

describe("services and endpoints", () => {
  it("headless Service publishes not-ready addresses", () => {
    const s = buildHeadlessService(cluster()) as AnyObj;
    expect(s["metadata"].name).toBe("shop-instances");
    expect(s["spec"]).toMatchObject({ clusterIP: "None", publishNotReadyAddresses: true });
  });
  it("read-write Service selects only the primary's pod, or no pod", () => {
    expect((buildReadWriteService(cluster(), "shop-1") as AnyObj)["spec"].selector["statefulset.kubernetes.io/pod-name"]).toBe("shop-1");
    expect((buildReadWriteService(cluster(), undefined) as AnyObj)["spec"].selector["statefulset.kubernetes.io/pod-name"]).toBe("");
  });
  it("read-only Service has no selector; its EndpointSlice lists the given pods", () => {
    expect((buildReadOnlyService(cluster()) as AnyObj)["spec"].selector).toBeUndefined();
    const es = buildReadOnlyEndpointSlice(cluster(), [
      { podName: "shop-1", ip: "10.0.0.11" },
      { podName: "shop-2", ip: "10.0.0.12" },
    ]) as AnyObj;
    expect(es["metadata"].labels["kubernetes.io/service-name"]).toBe("shop-ro");
    expect(es["metadata"].labels["endpointslice.kubernetes.io/managed-by"]).toBe("metamysql.dev");
    expect(es["endpoints"].map((e: AnyObj) => [e["addresses"][0], e["targetRef"].name])).toEqual([
      ["10.0.0.11", "shop-1"],
      ["10.0.0.12", "shop-2"],
    ]);
  });
  it("service type and annotations come from spec.service", () => {
    const s = buildReadWriteService(cluster({ service: { type: "LoadBalancer", annotations: { z: "1", a: "2" } } }), "shop-0") as AnyObj;
    expect(s["spec"].type).toBe("LoadBalancer");
    expect(Object.keys(s["metadata"].annotations)).toEqual(["a", "z"]);
  });
  it("PDB allows one instance down", () => {
    expect((buildPodDisruptionBudget(cluster()) as AnyObj)["spec"].maxUnavailable).toBe(1);
  });
});

describe("StatefulSet", () => {
  const s = sts({ flavor: "mariadb", storage: { size: "5Gi", storageClassName: "fast" } });
  it("is ordered, retains claims and names its headless Service", () => {
    expect(s["spec"]).toMatchObject({
      podManagementPolicy: "OrderedReady",
      serviceName: "shop-instances",
      replicas: 3,
      persistentVolumeClaimRetentionPolicy: { whenDeleted: "Retain", whenScaled: "Retain" },
    });
    expect(s["spec"].volumeClaimTemplates[0].spec).toEqual({
      accessModes: ["ReadWriteOnce"],
      resources: { requests: { storage: "5Gi" } },
      storageClassName: "fast",
      volumeMode: "Filesystem",
    });
  });
  it("runs non-root with a read-only root filesystem", () => {
    const pod = s["spec"].template.spec;
    expect(pod.securityContext).toMatchObject({ runAsNonRoot: true, runAsUser: 999, fsGroup: 999 });
    expect(pod.containers[0].securityContext).toMatchObject({ readOnlyRootFilesystem: true, allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] } });
  });
  it("has meaningful probes and a preStop hook within the grace period", () => {
    const c = s["spec"].template.spec.containers[0];
    expect(c.readinessProbe.exec.command).toEqual(["bash", "/etc/metamysql/probe.sh", "readiness"]);
    expect(c.livenessProbe.exec.command).toEqual(["bash", "/etc/metamysql/probe.sh", "liveness"]);
    expect(c.lifecycle.preStop.exec.command).toEqual(["bash", "/etc/metamysql/probe.sh", "prestop"]);
    expect(s["spec"].template.spec.terminationGracePeriodSeconds).toBeGreaterThan(60);
  });
  it("mounts the user's Secret when credentialsSecretName is set, read-only, only the keys the scripts read", () => {
    const pod = sts({ credentialsSecretName: "mine" })["spec"].template.spec as AnyObj;
    const secrets = (pod["volumes"] as AnyObj[]).filter((v) => v["secret"]);
    // The backup account's password is always in the operator-owned Secret.
    expect(secrets.map((v) => [v["name"], v["secret"].secretName, v["secret"].items.map((i: AnyObj) => i["key"])])).toEqual([
      ["credentials", "mine", ["root-password", "operator-password", "replication-password"]],
      ["backup-credentials", "shop-backup-credentials", ["password"]],
      ["apps-credentials", "shop-apps-credentials", ["password"]],
    ]);
    for (const v of secrets) expect(v["secret"].defaultMode).toBe(0o440);
    const mounts = (pod["containers"][0].volumeMounts as AnyObj[]).filter((m) => m["name"] === "credentials" || m["name"] === "backup-credentials");
    expect(mounts).toEqual([
      { name: "credentials", mountPath: "/etc/metamysql-credentials", readOnly: true },
      { name: "backup-credentials", mountPath: "/etc/metamysql-backup-credentials", readOnly: true },
    ]);
  });
  it("keeps the observed claim templates (immutable)", () => {
    const observed = [{ metadata: { name: "data" }, spec: { resources: { requests: { storage: "1Gi" } } }, status: { phase: "Pending" } }];
    const out = buildStatefulSet(cluster({ storage: { size: "2Gi" } }), { replicas: 3, configHash: "x", observedVolumeClaimTemplates: observed }) as AnyObj;
    expect(out["spec"].volumeClaimTemplates).toEqual(observed);
  });
});

describe("config hash", () => {
  it("changes when the configuration changes and not otherwise", () => {
    const a = configHash(configData(cluster({ flavor: "mariadb" })));
    expect(configHash(configData(cluster({ flavor: "mariadb" })))).toBe(a);
    expect(configHash(configData(cluster({ flavor: "mariadb", mysqlConfig: { max_connections: 10 } })))).not.toBe(a);
  });
  it("the ConfigMap holds my.cnf, the database scripts and the backup Jobs' scripts, no secrets", () => {
    const cm = buildConfigMap(cluster(), configData(cluster())) as AnyObj;
    expect(Object.keys(cm["data"])).toEqual([
      "accounts.sh",
      "backup-common.sh",
      "backup.sh",
      "entrypoint.sh",
      "instance.sh",
      "my.cnf",
      "probe.sh",
      "settings.env",
    ]);
    expect(JSON.stringify(cm)).not.toContain("r00t");
  });
  it("the pod-template hash covers only what the database pods read: not backup.sh", () => {
    const files = configFiles(cluster());
    expect(Object.keys(files.backupOnly)).toEqual(["backup-common.sh", "backup.sh"]);
    expect(files.backupOnly["backup.sh"]).toBe(BACKUP_SH);
    const r = renderChildren({
      cluster: cluster(),
      observed: [],
      credentials: CREDS,
      backupPassword: "b",
      backupSigningKey: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
      appsPassword: "apps-pw",
      agentToken: "agent-token",
      primary: undefined,
      readOnlyEndpoints: [],
      operatorNamespace: "ops",
    });
    const stsChild = r.ok ? (r.children.find((c) => c.kind === "StatefulSet") as AnyObj) : undefined;
    expect(stsChild?.["spec"].template.metadata.annotations["metamysql.dev/config-hash"]).toBe(configHash(files.database));
    // Seeding clusters' pods run seed.sh and what it sources: those are hashed.
    const seeding = configFiles(
      cluster({
        initDB: { fromBackup: { path: "p", signingKeySecretName: "src-backup-credentials", storage: { persistentVolumeClaim: { claimName: "b" } } } },
      }),
    );
    expect(Object.keys(seeding.database)).toContain("seed.sh");
    expect(Object.keys(seeding.database)).toContain("backup-common.sh");
    expect(Object.keys(seeding.backupOnly)).toEqual(["backup.sh"]);
  });
});

describe("renderChildren", () => {
  const input = (spec: MySQLClusterSpecInput = {}) => ({
    cluster: cluster(spec),
    observed: [] as KubeObject[],
    credentials: CREDS,
    backupPassword: "backup-pw",
    backupSigningKey: "aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa",
    appsPassword: "apps-pw",
    agentToken: "agent-token",
    primary: "shop-0",
    readOnlyEndpoints: [{ podName: "shop-1", ip: "10.0.0.2" }],
    operatorNamespace: "ops",
  });
  /**
   * Renders twice from independently built inputs (separately parsed specs, fresh observed
   * objects) and compares the bytes. render/ holds no cache, so the second render really runs.
   */
  function expectDeterministic(render: (i: ReturnType<typeof input>) => unknown, spec: MySQLClusterSpecInput): void {
    const build = () => ({ ...input(spec), observed: [observedSts()] });
    const first = JSON.stringify(render(build()));
    const second = JSON.stringify(render(build()));
    expect(second).toBe(first);
  }
  /** A StatefulSet as Metacontroller observes it: its claim templates are carried over. */
  const observedSts = (): KubeObject => ({
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "shop" },
    spec: { volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { resources: { requests: { storage: "10Gi" } } }, status: { phase: "Pending" } }] },
  });
  it.each([
    ["mariadb", { flavor: "mariadb" }],
    ["mysql", { flavor: "mysql" }],
    [
      "every option",
      {
        flavor: "mysql",
        instances: 5,
        mysqlConfig: { max_connections: 10, a: "1" },
        memberWeights: { "1": 90, "0": 10 },
        service: { type: "LoadBalancer", annotations: { z: "1", a: "2" } },
      },
    ],
  ] as const)("is deterministic (%s): byte-identical output from independently built inputs", (_n, spec) => {
    expectDeterministic(renderChildren, spec as MySQLClusterSpecInput);
  });
  it("the determinism check catches a render whose output varies between calls", () => {
    let calls = 0;
    const flaky = (i: ReturnType<typeof input>) => {
      const r = renderChildren(i);
      // e.g. a timestamp or a random suffix leaking into a child
      if (r.ok) (r.children[0] as AnyObj)["metadata"].annotations = { rendered: String(++calls) };
      return r;
    };
    expect(() => expectDeterministic(flaky, { flavor: "mariadb" })).toThrow();
  });
  it("keeps no cache: every render builds its own ConfigMap data", () => {
    const configMap = (r: ReturnType<typeof renderChildren>) => (r.ok ? (r.children.find((c) => c.kind === "ConfigMap") as AnyObj)["data"] : undefined);
    const a = configMap(renderChildren(input({ flavor: "mariadb" })));
    const b = configMap(renderChildren(input({ flavor: "mariadb" })));
    expect(a).toEqual(b);
    expect(a).not.toBe(b);
  });
  it("renders the same with a precomputed config (what the hook caches) as without", () => {
    const i = input({ flavor: "mariadb" });
    expect(JSON.stringify(renderChildren({ ...i, config: renderConfig(i.cluster) }))).toBe(JSON.stringify(renderChildren(input({ flavor: "mariadb" }))));
  });
  it("omits the generated Secret when the user supplies one", () => {
    const r = renderChildren(input({ credentialsSecretName: "mine" }));
    expect(r.ok && r.children.filter((c) => c.kind === "Secret").map((c) => c.metadata.name)).toEqual([
      "shop-backup-credentials",
      "shop-apps-credentials",
      "shop-agent-credentials",
      "shop-applied-credentials-0",
    ]);
  });
  it("every child validates against the Kubernetes schema, for both flavors", () => {
    for (const flavor of ["mysql", "mariadb"] as const) {
      const r = renderChildren(input({ flavor, storage: { size: "1Gi", storageClassName: "x" }, resources: { requests: { cpu: "500m" } } }));
      if (!r.ok) throw new Error(r.failure.message);
      for (const c of r.children) validateKubeObject(c);
    }
  });
  it("every child carries the four standard labels", () => {
    const r = renderChildren(input());
    if (!r.ok) throw new Error("render failed");
    for (const c of r.children) {
      expect(Object.keys((c.metadata["labels"] ?? {}) as object)).toEqual(
        expect.arrayContaining(["app.kubernetes.io/name", "app.kubernetes.io/instance", "app.kubernetes.io/managed-by", "app.kubernetes.io/component"]),
      );
    }
  });
  it("applies patches last", () => {
    const r = renderChildren(
      input({
        patches: [{ target: { kind: "StatefulSet", name: "shop" }, patch: [{ op: "add", path: "/spec/template/spec/priorityClassName", value: "db" }] }],
      }),
    );
    expect(r.ok && (r.children.find((c) => c.kind === "StatefulSet") as AnyObj)["spec"].template.spec.priorityClassName).toBe("db");
  });
});

describe("patches", () => {
  const children: Child[] = [
    { apiVersion: "v1", kind: "Service", metadata: { name: "a" }, spec: { type: "ClusterIP" } },
    { apiVersion: "v1", kind: "Service", metadata: { name: "b" }, spec: { type: "ClusterIP" } },
  ];
  it("targets all children of a kind when no name is given", () => {
    const r = applyChildPatches(children, [{ target: { kind: "Service" }, patch: [{ op: "replace", path: "/spec/type", value: "NodePort" }] }]);
    expect(r.ok && r.children.map((c) => (c as AnyObj)["spec"].type)).toEqual(["NodePort", "NodePort"]);
  });
  it("names the failing patch", () => {
    const r = applyChildPatches(children, [
      { target: { kind: "Service", name: "a" }, patch: [{ op: "add", path: "/metadata/annotations", value: {} }] },
      { target: { kind: "Service", name: "b" }, patch: [{ op: "test", path: "/spec/type", value: "LoadBalancer" }] },
    ]);
    expect(r.ok).toBe(false);
    expect(!r.ok && r.failure.path).toBe("spec.patches[1]");
  });
  it("may not rename a child", () => {
    const r = applyChildPatches(children, [{ target: { kind: "Service", name: "a" }, patch: [{ op: "replace", path: "/metadata/name", value: "c" }] }]);
    expect(r.ok).toBe(false);
  });
  it("does not mutate its input", () => {
    const before = JSON.stringify(children);
    applyChildPatches(children, [{ target: { kind: "Service" }, patch: [{ op: "replace", path: "/spec/type", value: "NodePort" }] }]);
    expect(JSON.stringify(children)).toBe(before);
  });
});

describe("forbidden changes against the observed StatefulSet", () => {
  const observed = (flavor: string, storage: string, cls?: string): KubeObject => ({
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "shop", labels: { "app.kubernetes.io/name": flavor } },
    spec: { volumeClaimTemplates: [{ metadata: { name: "data" }, spec: { resources: { requests: { storage } }, ...(cls ? { storageClassName: cls } : {}) } }] },
  });
  it.each([
    ["same everything", { flavor: "mariadb", storage: { size: "1Gi" } }, observed("mariadb", "1Gi"), []],
    ["growth is allowed", { flavor: "mariadb", storage: { size: "2Gi" } }, observed("mariadb", "1Gi"), []],
    ["shrink", { flavor: "mariadb", storage: { size: "1000Mi" } }, observed("mariadb", "1Gi"), ["spec.storage.size"]],
    ["flavor", { flavor: "mysql", storage: { size: "1Gi" } }, observed("mariadb", "1Gi"), ["spec.flavor"]],
    ["class set", { flavor: "mariadb", storage: { size: "1Gi", storageClassName: "b" } }, observed("mariadb", "1Gi"), ["spec.storage.storageClassName"]],
    [
      "class changed",
      { flavor: "mariadb", storage: { size: "1Gi", storageClassName: "b" } },
      observed("mariadb", "1Gi", "a"),
      ["spec.storage.storageClassName"],
    ],
    ["class removed", { flavor: "mariadb", storage: { size: "1Gi" } }, observed("mariadb", "1Gi", "a"), ["spec.storage.storageClassName"]],
  ] as const)("%s", (_name, spec, sts, paths) => {
    expect(forbiddenChanges(cluster(spec as MySQLClusterSpecInput), sts).map((i) => i.path)).toEqual(paths);
  });
  it("a new cluster has nothing to compare", () => {
    expect(forbiddenChanges(cluster(), undefined)).toEqual([]);
  });
});
