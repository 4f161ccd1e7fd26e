/**
 * The `metamysql local` verbs as a user runs them: `up` in the foreground (a child process),
 * `status --json`, `kill`, a second `up` on the busy state dir, SIGINT, resuming on the same
 * state dir with the same data, and `delete`. Real mariadbd; no process left behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { existsSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { eventually, leftoverPids, query, tempStateDir } from "../helpers/local.js";

const ROOT = join(import.meta.dirname, "../..");
const CLI = join(ROOT, "test/helpers/local-cli.ts");
const stateDir = tempStateDir("cli");
const manifestFile = join(stateDir, "..", `${stateDir.split("/").pop()}-cluster.yaml`);
writeFileSync(
  manifestFile,
  `apiVersion: metamysql.dev/v1alpha1
kind: MySQLCluster
metadata:
  name: solo
spec:
  flavor: mariadb
  instances: 1
  storage:
    size: 1Gi
`,
);

interface Run {
  child: ChildProcess;
  out: string;
  exited: Promise<number | null>;
}

function start(args: string[]): Run {
  const child = spawn(process.execPath, ["--import", "tsx", CLI, ...args], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"] });
  const run: Run = {
    child,
    out: "",
    exited: new Promise((resolve) => child.on("exit", (code) => resolve(code))),
  };
  child.stdout?.on("data", (d: Buffer) => (run.out += d.toString()));
  child.stderr?.on("data", (d: Buffer) => (run.out += d.toString()));
  return run;
}

async function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const r = start(args);
  const code = await r.exited;
  return { code, out: r.out };
}

const upArgs = ["up", "--state-dir", stateDir, "--ip-prefix", "127.20.2"];
const running: Run[] = [];

afterAll(async () => {
  for (const r of running) {
    if (r.child.exitCode === null) {
      r.child.kill("SIGINT");
      await r.exited;
    }
  }
  expect(leftoverPids(stateDir)).toEqual([]);
  rmSync(stateDir, { recursive: true, force: true });
  rmSync(manifestFile, { force: true });
}, 120_000);

describe("metamysql local (CLI)", () => {
  it("up prints progress and how to connect; status, kill and a busy state dir behave", async () => {
    const up = start([...upArgs, "-f", manifestFile]);
    running.push(up);
    await eventually(() => /solo is up: 1 instances ready/.test(up.out), 90_000, `"is up" in:\n${up.out}`);
    expect(up.out).toMatch(/solo-0 +started, pid \d+ on 127\.20\.2\.2:3306/);
    expect(up.out).toMatch(/mariadb -h 127\.0\.0\.1 -P \d+ -u root -p +# service solo\n/);
    expect(up.out).toMatch(/password of root +metamysql local status --state-dir \S+ --json/);

    const st = await cli(["status", "--state-dir", stateDir, "--json"]);
    expect(st.code).toBe(0);
    const status = JSON.parse(st.out) as {
      cluster: { metadata: { name: string }; status: { state?: string } };
      pods: Array<{ name: string; ip: string; port: number; pid: number; ready: boolean }>;
      services: Record<string, string>;
      credentials: { user: string; password: string };
    };
    expect(status.cluster.metadata.name).toBe("solo");
    expect(status.pods).toEqual([{ name: "solo-0", ip: "127.20.2.2", port: 3306, pid: expect.any(Number), ready: true }]);
    expect(Object.keys(status.services).sort()).toEqual(["solo", "solo-instances", "solo-ro"]);
    expect(status.credentials.user).toBe("root");
    // The password is printed only on request (status --json), never by up.
    expect(up.out).not.toContain(status.credentials.password);

    const target = { host: "127.20.2.2", port: 3306, password: status.credentials.password };
    await query(target, "CREATE DATABASE IF NOT EXISTS resume");
    await query(target, "CREATE TABLE IF NOT EXISTS resume.t (v VARCHAR(20))");
    await query(target, "INSERT INTO resume.t VALUES ('kept')");

    const second = await cli([...upArgs, "-f", manifestFile]);
    expect(second.code).toBe(1);
    expect(second.out).toMatch(/is in use by a running "metamysql local up" \(pid \d+\)/);

    const kill = await cli(["kill", "solo-0", "--state-dir", stateDir]);
    expect(kill.code).toBe(0);
    await eventually(
      async () => {
        const s = JSON.parse((await cli(["status", "--state-dir", stateDir, "--json"])).out) as typeof status;
        return s.pods[0]?.ready && s.pods[0].pid !== status.pods[0]?.pid;
      },
      60_000,
      "the killed instance to be back",
    );

    up.child.kill("SIGINT");
    expect(await up.exited).toBe(0);
    expect(up.out).toMatch(/all processes stopped/);
    expect(leftoverPids(stateDir)).toEqual([]);
    const after = await cli(["status", "--state-dir", stateDir]);
    expect(after.code).toBe(1);
    expect(after.out).toMatch(/no "metamysql local up" is running/);
  }, 240_000);

  it("up again on the same state dir resumes with the same data; delete stops everything and keeps it", async () => {
    const up = start(upArgs);
    running.push(up);
    await eventually(() => /solo is up/.test(up.out), 90_000, `"is up" in:\n${up.out}`);
    expect(up.out).toMatch(/resuming cluster solo/);
    const status = JSON.parse((await cli(["status", "--state-dir", stateDir, "--json"])).out) as {
      credentials: { password: string };
    };
    const rows = await query<{ v: string } & import("mysql2").RowDataPacket>(
      { host: "127.20.2.2", port: 3306, password: status.credentials.password },
      "SELECT v FROM resume.t",
    );
    expect(rows.map((r) => r.v)).toEqual(["kept"]);

    const del = await cli(["delete", "--state-dir", stateDir]);
    expect(del.code).toBe(0);
    expect(await up.exited).toBe(0);
    expect(up.out).toMatch(/finalize hook reported finalized/);
    expect(leftoverPids(stateDir)).toEqual([]);
    expect(existsSync(join(stateDir, "volumes", "default", "data-solo-0", "mysql"))).toBe(true);
  }, 240_000);
});
