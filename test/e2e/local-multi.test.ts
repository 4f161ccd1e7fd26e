/**
 * `metamysql local` as kubectl for a state dir holding several objects (ARCHITECTURE.md section
 * 6): one multi-document file with two MySQLClusters, a Secret (stringData) and a
 * PersistentVolumeClaim; `get` tables and -o json; `status CLUSTER` per cluster (own pods,
 * Services and credentials, disjoint pod IPs); a file with one bad document applies nothing; a
 * MySQLBackup applied later lands on the applied claim; resume of both clusters; delete one
 * object, delete -f, delete everything. Real mariadbd; pod IPs in 127.20.40-127.20.41; no
 * process left behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RowDataPacket } from "mysql2";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, leftoverPids, query, tempStateDir } from "../helpers/local.js";
import { stateLayout } from "../../src/local/node/statedir.js";

const ROOT = join(import.meta.dirname, "../..");
const CLI = join(ROOT, "test/helpers/local-cli.ts");
const stateDir = tempStateDir("multi");
const badStateDir = tempStateDir("multi-bad");
const files = join(stateDir, "..", `${stateDir.split("/").pop()}-files`);
const file = (name: string, text: string): string => {
  const path = `${files}-${name}`;
  writeFileSync(path, text);
  return path;
};

const cluster = (name: string): string => `apiVersion: metamysql.dev/v1alpha1
kind: MySQLCluster
metadata:
  name: ${name}
spec:
  flavor: mariadb
  instances: 1
  storage:
    size: 1Gi
`;

const stackFile = file(
  "stack.yaml",
  `${cluster("alpha")}---
${cluster("beta")}---
apiVersion: v1
kind: Secret
metadata:
  name: app-secret
stringData:
  password: s3cret-value
---
apiVersion: v1
kind: PersistentVolumeClaim
metadata:
  name: backups
spec:
  accessModes: [ReadWriteOnce]
  resources:
    requests:
      storage: 2Gi
`,
);

const badFile = file(
  "bad.yaml",
  `apiVersion: v1
kind: Secret
metadata:
  name: would-be-created
stringData:
  k: v
---
apiVersion: v1
kind: ConfigMap
metadata:
  name: not-accepted
data: {}
---
apiVersion: metamysql.dev/v1alpha1
kind: MySQLBackup
metadata:
  name: Bad_Name
spec:
  clusterName: alpha
  storage:
    persistentVolumeClaim:
      claimName: backups
`,
);

const backupFile = file(
  "backup.yaml",
  `apiVersion: metamysql.dev/v1alpha1
kind: MySQLBackup
metadata:
  name: first
spec:
  clusterName: alpha
  storage:
    persistentVolumeClaim:
      claimName: backups
`,
);

interface Run {
  child: ChildProcess;
  out: string;
  exited: Promise<number | null>;
}

function start(args: string[]): Run {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const run: Run = { child, out: "", exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))) };
  child.stdout?.on("data", (d: Buffer) => (run.out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (run.out += d.toString()));
  return run;
}

async function cli(...args: string[]): Promise<{ code: number | null; out: string }> {
  const r = start([...args, "--state-dir", stateDir]);
  return { code: await r.exited, out: r.out };
}

interface Status {
  cluster: { metadata: { name: string }; status?: { state?: string } };
  pods: Array<{ name: string; ip: string; port: number; pid: number | null; ready: boolean }>;
  services: Record<string, string>;
  credentials: { user: string; password: string };
}

async function status(name: string): Promise<Status> {
  const r = await cli("status", name, "--json");
  expect(r.code, r.out).toBe(0);
  return JSON.parse(r.out) as Status;
}

const upArgs = ["up", "--state-dir", stateDir, "--ip-prefix", "127.20.40"];
const running: Run[] = [];

afterAll(async () => {
  for (const r of running) {
    if (r.child.exitCode === null) {
      r.child.kill("SIGINT");
      await r.exited;
    }
  }
  expect(leftoverPids(stateDir)).toEqual([]);
  expect(leftoverPids(badStateDir)).toEqual([]);
  for (const dir of [stateDir, badStateDir]) rmSync(dir, { recursive: true, force: true });
  for (const f of [stackFile, badFile, backupFile]) rmSync(f, { force: true });
}, 180_000);

describe("metamysql local with several clusters and objects (CLI)", () => {
  it("up -f with a bad document applies nothing and exits 1", async () => {
    const up = start(["up", "--state-dir", badStateDir, "--ip-prefix", "127.20.41", "-f", badFile]);
    running.push(up);
    expect(await up.exited).toBe(1);
    expect(up.out).toMatch(/nothing applied/);
    expect(up.out).toMatch(/document 2 \(ConfigMap not-accepted\): unknown kind ConfigMap/);
    expect(up.out).toMatch(/document 3 \(MySQLBackup Bad_Name\): metadata\.name "Bad_Name": must be a lower-case DNS-1123 subdomain/);
    const storeFile = stateLayout(badStateDir).storeFile;
    const stored = existsSync(storeFile) ? (JSON.parse(readFileSync(storeFile, "utf8")) as { objects: unknown[] }).objects : [];
    expect(stored).toEqual([]);
  }, 120_000);

  it("runs two clusters with their own pods, Services and credentials; get, apply, backup onto an applied claim", async () => {
    const up = start([...upArgs, "-f", stackFile]);
    running.push(up);
    await eventually(() => /alpha is up/.test(up.out) && /beta is up/.test(up.out), 150_000, `both clusters up in:\n${up.out}`);

    const get = await cli("get", "myc");
    expect(get.code, get.out).toBe(0);
    const [header, ...rows] = get.out.trim().split("\n");
    expect(header?.split(/\s{2,}/)).toEqual(["NAME", "STATE", "PRIMARY", "READY", "INSTANCES", "AGE"]);
    expect(rows.map((r) => r.split(/\s+/).slice(0, 5))).toEqual([
      ["alpha", "Healthy", "alpha-0", "1", "1"],
      ["beta", "Healthy", "beta-0", "1", "1"],
    ]);

    const ambiguous = await cli("status", "--json");
    expect(ambiguous.code).toBe(1);
    expect(ambiguous.out).toMatch(/2 clusters \(alpha, beta\): name one/);

    const a = await status("alpha");
    const b = await status("beta");
    expect(a.cluster.metadata.name).toBe("alpha");
    expect(a.pods.map((p) => p.name)).toEqual(["alpha-0"]);
    expect(b.pods.map((p) => p.name)).toEqual(["beta-0"]);
    expect(a.pods[0]?.ip).not.toBe(b.pods[0]?.ip);
    expect(Object.keys(a.services).sort()).toEqual(["alpha", "alpha-instances", "alpha-ro"]);
    expect(Object.keys(b.services).sort()).toEqual(["beta", "beta-instances", "beta-ro"]);
    expect(new Set([...Object.values(a.services), ...Object.values(b.services)]).size).toBe(6);
    expect(a.credentials.password).not.toBe(b.credentials.password);

    // Each cluster's Service reaches its own server, with its own credentials.
    const via = (s: Status) => ({ host: "127.0.0.1", port: Number(s.services[s.cluster.metadata.name]?.split(":")[1]), password: s.credentials.password });
    await query(via(a), "CREATE DATABASE only_in_alpha");
    const dbs = await query<{ Database: string } & RowDataPacket>(via(b), "SHOW DATABASES");
    expect(dbs.map((r) => r.Database)).not.toContain("only_in_alpha");

    // The Secret's stringData was folded into data (base64), as the API server does.
    const secret = JSON.parse((await cli("get", "secret", "app-secret", "-o", "json")).out) as { data: Record<string, string>; stringData?: unknown };
    expect(Buffer.from(secret.data.password ?? "", "base64").toString()).toBe("s3cret-value");
    expect(secret.stringData).toBeUndefined();
    const pvc = await cli("get", "pvc", "backups");
    expect(pvc.out).toMatch(/^NAME\s+STATUS\s+CAPACITY\s+ACCESS MODES/);
    expect(pvc.out).toMatch(/backups\s+Bound\s+2Gi\s+RWO/);
    const pods = await cli("get", "pods");
    expect(pods.out).toMatch(/alpha-0\s+1\/1\s+Running\s+0/);

    // One bad document: the file fails as a whole.
    const bad = await cli("apply", "-f", badFile);
    expect(bad.code).toBe(1);
    expect(bad.out).toMatch(/unknown kind ConfigMap/);
    const notThere = await cli("get", "secret", "would-be-created");
    expect(notThere.code).toBe(1);
    expect(notThere.out).toMatch(/not found/);
    const unknownKind = await cli("get", "widgets");
    expect(unknownKind.out).toMatch(/doesn't have a resource type "widgets"/);

    // A MySQLBackup applied on its own, onto the claim applied with the clusters.
    const applied = await cli("apply", "-f", backupFile);
    expect(applied.code, applied.out).toBe(0);
    expect(applied.out).toBe("mysqlbackup.metamysql.dev/first created\n");
    await eventually(
      async () => {
        const o = JSON.parse((await cli("get", "mysqlbackup", "first", "-o", "json")).out) as { status?: { state?: string } };
        return o.status?.state === "Completed";
      },
      120_000,
      "the backup to complete",
    );
    expect(existsSync(join(stateLayout(stateDir).pvcDir("default", "backups"), "alpha", "first"))).toBe(true);
    expect((await cli("get", "myb")).out).toMatch(/first\s+alpha\s+Completed/);
    const again = await cli("apply", "-f", backupFile);
    expect(again.out).toBe("mysqlbackup.metamysql.dev/first unchanged\n");

    up.child.kill("SIGINT");
    expect(await up.exited).toBe(0);
    expect(leftoverPids(stateDir)).toEqual([]);
  }, 900_000);

  it("up without -f resumes both clusters; delete KIND NAME, delete -f and delete (everything)", async () => {
    const up = start(upArgs);
    running.push(up);
    await eventually(() => /alpha is up/.test(up.out) && /beta is up/.test(up.out), 150_000, `both clusters up in:\n${up.out}`);
    expect(up.out).toMatch(/resuming cluster alpha/);
    expect(up.out).toMatch(/resuming cluster beta/);
    const a = await status("alpha");
    const dbs = await query<{ Database: string } & RowDataPacket>(
      { host: "127.0.0.1", port: Number(a.services.alpha?.split(":")[1]), password: a.credentials.password },
      "SHOW DATABASES",
    );
    expect(dbs.map((r) => r.Database)).toContain("only_in_alpha");

    const del = await cli("delete", "mysqlcluster", "beta");
    expect(del.code, del.out).toBe(0);
    expect(del.out).toBe("mysqlcluster.metamysql.dev/beta deleted\n");
    const left = await cli("get", "mysqlclusters", "-o", "json");
    expect((JSON.parse(left.out) as { items: Array<{ metadata: { name: string } }> }).items.map((i) => i.metadata.name)).toEqual(["alpha"]);
    // With one cluster left, status needs no name again.
    const only = JSON.parse((await cli("status", "--json")).out) as Status;
    expect(only.cluster.metadata.name).toBe("alpha");
    expect((await cli("get", "pods")).out).not.toMatch(/beta-0/);

    const delFile = await cli("delete", "-f", backupFile);
    expect(delFile.code, delFile.out).toBe(0);
    expect(delFile.out).toBe("mysqlbackup.metamysql.dev/first deleted\n");
    const missing = await cli("delete", "-f", backupFile);
    expect(missing.code).toBe(1);
    expect(missing.out).toMatch(/mysqlbackup\.metamysql\.dev\/first not found/);

    const all = await cli("delete");
    expect(all.code, all.out).toBe(0);
    expect(await up.exited).toBe(0);
    expect(up.out).toMatch(/finalize hook reported finalized/);
    expect(leftoverPids(stateDir)).toEqual([]);
    // The data stays (retained claims), as do the applied Secret and claim.
    expect(existsSync(join(stateLayout(stateDir).pvcDir("default", "data-alpha-0"), "mysql"))).toBe(true);
    const store = JSON.parse(readFileSync(stateLayout(stateDir).storeFile, "utf8")) as { objects: Array<{ kind: string; metadata: { name: string } }> };
    expect(store.objects.filter((o) => o.kind === "MySQLCluster" || o.kind === "MySQLBackup")).toEqual([]);
    expect(store.objects.some((o) => o.kind === "Secret" && o.metadata.name === "app-secret")).toBe(true);
  }, 600_000);
});
