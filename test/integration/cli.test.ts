/**
 * The `metamysql` command as users run it: `node bin/metamysql.js` (what `npx metamysql` runs
 * after `npm ci`, which builds dist/ through `prepare`; `npm test` rebuilds first).
 */
import { spawn, spawnSync } from "node:child_process";
import { mkdtempSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { once } from "node:events";
import { describe, expect, it } from "vitest";
import { parseAllDocuments } from "yaml";
import { validateKubeObject } from "../helpers/kube-schema.js";
import { newClusterChildren } from "../helpers/metacontroller.js";

const BIN = new URL("../../bin/metamysql.js", import.meta.url).pathname;
const run = (...args: string[]) => spawnSync(process.execPath, [BIN, ...args], { encoding: "utf8", timeout: 20_000 });

function tempFile(name: string, text: string): string {
  const dir = mkdtempSync(join(tmpdir(), "mm-cli-"));
  const file = join(dir, name);
  writeFileSync(file, text);
  return file;
}

describe("metamysql render", () => {
  it("prints every child of a new cluster as multi-document YAML", () => {
    const r = run("render", "-f", "deploy/examples/mariadb.yaml");
    expect(r.status).toBe(0);
    const docs = parseAllDocuments(r.stdout).map((d) => d.toJSON() as { apiVersion: string; kind: string; metadata: { name: string } });
    expect(docs.map((d) => `${d.kind}/${d.metadata.name}`)).toEqual(newClusterChildren("shop"));
    for (const d of docs) validateKubeObject(d);
  });

  it.each([
    ["an invalid spec", "apiVersion: metamysql.dev/v1alpha1\nkind: MySQLCluster\nmetadata: {name: x}\nspec: {instances: 0}\n", /spec\.instances/],
    [
      "an operator-owned option",
      "apiVersion: metamysql.dev/v1alpha1\nkind: MySQLCluster\nmetadata: {name: x}\nspec: {mysqlConfig: {server_id: 3}}\n",
      /managed by the operator/,
    ],
    ["no MySQLCluster", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: x}\n", /no MySQLCluster/],
    ["broken YAML", "kind: [", /invalid YAML/],
  ])("fails clearly on %s", (_name, text, message) => {
    const r = run("render", "-f", tempFile("c.yaml", text));
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(message);
    expect(r.stdout).toBe("");
  });

  it("renders NetworkPolicy <c> for the hook namespace of the environment, as `serve` would (OPERATOR_NAMESPACE)", () => {
    const env = (ns?: string) => ({ ...process.env, ...(ns !== undefined ? { OPERATOR_NAMESPACE: ns } : {}) });
    const policyOf = (ns?: string) => {
      const r = spawnSync(process.execPath, [BIN, "render", "-f", "deploy/examples/mariadb.yaml"], { encoding: "utf8", timeout: 20_000, env: env(ns) });
      expect(r.status, r.stderr).toBe(0);
      return JSON.stringify(parseAllDocuments(r.stdout).find((d) => (d.toJSON() as { kind: string }).kind === "NetworkPolicy"));
    };
    expect(policyOf("dbops")).toContain('"kubernetes.io/metadata.name":"dbops"');
    const bad = spawnSync(process.execPath, [BIN, "render", "-f", "deploy/examples/mariadb.yaml"], {
      encoding: "utf8",
      timeout: 20_000,
      env: env("Not_A_Namespace"),
    });
    expect(bad.status).toBe(1);
    expect(bad.stderr).toMatch(/OPERATOR_NAMESPACE: must be a namespace name/);
  });

  it("fails clearly on a missing file and on missing arguments", () => {
    const missing = run("render", "-f", "/nonexistent/cluster.yaml");
    expect(missing.status).toBe(1);
    expect(missing.stderr).toMatch(/cannot read/);
    expect(run("render").status).toBe(2);
    expect(run("frobnicate").status).toBe(2);
  });
});

describe("metamysql serve", () => {
  it("serves the hooks and drains on SIGTERM", async () => {
    const child = spawn(process.execPath, [BIN, "serve", "--port", "0"], {
      env: { ...process.env, HOST: "127.0.0.1", LOG_LEVEL: "silent" },
      stdio: ["ignore", "ignore", "pipe"],
    });
    try {
      let err = "";
      child.stderr.on("data", (c: Buffer) => (err += c.toString()));
      const deadline = Date.now() + 15_000;
      while (!/listening on (http:\/\/\S+)/.test(err) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
      const url = /listening on (http:\/\/\S+)/.exec(err)?.[1];
      expect(url).toBeDefined();
      const health = await fetch(`${url}/healthz`);
      expect(health.status).toBe(200);
      child.kill("SIGTERM");
      const [code] = await once(child, "exit");
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill("SIGKILL");
    }
  });

  it("refuses a bad environment with a clear message", () => {
    const r = spawnSync(process.execPath, [BIN, "serve"], { encoding: "utf8", env: { ...process.env, PORT: "not-a-port" }, timeout: 10_000 });
    expect(r.status).toBe(1);
    expect(r.stderr).toMatch(/PORT/);
  });
});
