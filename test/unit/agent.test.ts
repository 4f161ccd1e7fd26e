/**
 * The agent (src/agent/) and how it is rendered (src/render/statefulset.ts, children.ts,
 * network-policy.ts): token comparison, the donors file, option-file quoting, the sidecar and
 * clone step in MariaDB pods (restricted, non-root, sharing the data volume and socket dir, the
 * token only in its own volume), the donors file outside the pod-template hash, the agent port
 * between the cluster's pods only, nothing of it for flavor mysql or spec.agent.enabled false.
 * The MySQL CLONE statements are checked as SQL text only: MySQL 8 is not available here.
 */
import { mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { describe, expect, it } from "vitest";
import { bearerToken, tokenMatches } from "../../src/agent/auth.js";
import { backupGtid, cloneBinlogState, parseDonors } from "../../src/agent/clone.js";
import { optionValue, writeDefaultsFile } from "../../src/agent/defaults-file.js";
import { mysqlCloneDonorGrants, mysqlCloneStatements } from "../../src/agent/mysql-clone.js";
import { agentImageFor, MySQLClusterSpecSchema, type Cluster, type MySQLClusterSpecInput } from "../../src/api/cluster.js";
import { AGENT_PORT, MYSQL_PORT } from "../../src/api/constants.js";
import { renderChildren } from "../../src/render/children.js";
import { buildNetworkPolicy } from "../../src/render/network-policy.js";

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

function cluster(spec: MySQLClusterSpecInput = {}): Cluster {
  return { name: "shop", namespace: "prod", uid: "uid-1", generation: 1, creationTimestamp: undefined, spec: MySQLClusterSpecSchema.parse(spec), status: {} };
}

function render(spec: MySQLClusterSpecInput, endpoints: Array<{ podName: string; ip: string }> = []): AnyObj[] {
  const r = renderChildren({
    cluster: cluster(spec),
    observed: [],
    credentials: { "root-password": "r", "operator-password": "o", "replication-password": "p" },
    backupPassword: "b",
    backupSigningKey: "a".repeat(64),
    agentToken: "the-token",
    appsPassword: "apps-pw",
    primary: undefined,
    readOnlyEndpoints: endpoints,
    operatorNamespace: "ops",
  });
  if (!r.ok) throw new Error("render failed");
  return r.children as AnyObj[];
}

const kind = (children: AnyObj[], k: string): AnyObj => children.find((c) => c["kind"] === k) as AnyObj;

describe("agent token", () => {
  it("matches only the exact token, whatever the lengths", () => {
    expect(tokenMatches("abc", "abc")).toBe(true);
    for (const wrong of ["", "ab", "abcd", "abd", "ABC"]) expect(tokenMatches(wrong, "abc")).toBe(false);
    expect(tokenMatches("", "")).toBe(false);
  });
  it("reads only a Bearer header", () => {
    expect(bearerToken("Bearer xyz")).toBe("xyz");
    expect(bearerToken("bearer xyz")).toBe("xyz");
    expect(bearerToken("Basic xyz")).toBeUndefined();
    expect(bearerToken(undefined)).toBeUndefined();
    expect(bearerToken("Bearer a b")).toBeUndefined();
  });
});

describe("the clone step's inputs", () => {
  it("donors: <pod> <ip> lines in order, malformed lines ignored", () => {
    expect(parseDonors("shop-1 10.0.0.5\n\nbad line here\nSHOP 1.2.3.4\nshop-0 10.0.0.4\nshop-2 not;an;ip\n", 8081)).toEqual([
      { pod: "shop-1", host: "10.0.0.5", port: 8081 },
      { pod: "shop-0", host: "10.0.0.4", port: 8081 },
    ]);
  });
  it("the copy's GTID from its binlog info file; a malformed one is refused", () => {
    const dir = mkdtempSync(join(tmpdir(), "agent-unit-"));
    try {
      expect(backupGtid(dir)).toBe("");
      writeFileSync(join(dir, "xtrabackup_binlog_info"), "mysql-bin.000003\t385\t0-100-7,1-101-2\n");
      expect(backupGtid(dir)).toBe("0-100-7,1-101-2");
      writeFileSync(join(dir, "xtrabackup_binlog_info"), "mysql-bin.000003\t385\t0-100-7';DROP\n");
      expect(() => backupGtid(dir)).toThrow(/no valid GTID/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
  it("the option file quotes the password, is 0600 and goes away", () => {
    expect(optionValue(`a"b\\c`)).toBe(`"a\\"b\\\\c"`);
    expect(() => optionValue("a\nb")).toThrow();
    const dir = mkdtempSync(join(tmpdir(), "agent-unit-"));
    try {
      const f = writeDefaultsFile(dir, { include: "/etc/metamysql/my.cnf", user: "u", password: "p w", socket: "/run/s.sock" });
      expect(statSync(f.path).mode & 0o777).toBe(0o600);
      expect(readFileSync(f.path, "utf8")).toContain('password="p w"');
      f.remove();
      expect(() => statSync(f.path)).toThrow();
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe("rendering the agent", () => {
  it("MariaDB pods run the agent sidecar and the clone step: restricted, non-root, the pod's data volume, the token only in its own volume", () => {
    const children = render({ flavor: "mariadb", version: "11.4.5" });
    const ps = kind(children, "StatefulSet")["spec"].template.spec;
    const agent = ps.containers.find((c: AnyObj) => c.name === "agent");
    const clone = ps.initContainers.find((c: AnyObj) => c.name === "clone");
    expect(agent.image).toBe("ghcr.io/metamysql/agent:0.1.0-mariadb-11.4.5");
    expect(agent.command).toEqual(["metamysql", "agent", "serve"]);
    expect(clone.command).toEqual(["metamysql", "agent", "clone"]);
    expect(agent.ports).toEqual([{ name: "agent", containerPort: AGENT_PORT, protocol: "TCP" }]);
    for (const c of [agent, clone]) {
      expect(c.securityContext).toEqual({ allowPrivilegeEscalation: false, capabilities: { drop: ["ALL"] }, readOnlyRootFilesystem: true, runAsNonRoot: true });
      expect(c.volumeMounts).toContainEqual({ name: "data", mountPath: "/var/lib/mysql" });
      expect(c.volumeMounts).toContainEqual({ name: "agent-token", mountPath: "/etc/metamysql-agent", readOnly: true });
      expect(JSON.stringify(c.env)).not.toContain("the-token");
      expect(c.volumeMounts.map((m: AnyObj) => m.name)).not.toContain("credentials");
    }
    expect(agent.volumeMounts).toContainEqual({ name: "run", mountPath: "/run/mysqld" });
    expect(ps.securityContext.runAsNonRoot).toBe(true);
    expect(ps.volumes).toContainEqual({
      name: "agent-token",
      secret: { secretName: "shop-agent-credentials", defaultMode: 0o440, items: [{ key: "agent-token", path: "agent-token" }] },
    });
    // The database container does not get the token.
    expect(ps.containers[0].volumeMounts.map((m: AnyObj) => m.name)).not.toContain("agent-token");
    const secret = children.find((c) => c["kind"] === "Secret" && c["metadata"].name === "shop-agent-credentials") as AnyObj;
    expect(Buffer.from(secret["data"]["agent-token"], "base64").toString()).toBe("the-token");
  });

  it("spec.agent.image overrides the image; the digest of the server version is not part of the default tag", () => {
    expect(agentImageFor(MySQLClusterSpecSchema.parse({ flavor: "mariadb", agent: { image: "reg.local/agent:1" } }))).toBe("reg.local/agent:1");
    expect(agentImageFor(MySQLClusterSpecSchema.parse({ flavor: "mariadb", version: `11.4.5@sha256:${"a".repeat(64)}` }))).toBe(
      "ghcr.io/metamysql/agent:0.1.0-mariadb-11.4.5",
    );
    expect(MySQLClusterSpecSchema.safeParse({ flavor: "mariadb", agent: { image: "Bad Image" } }).success).toBe(false);
  });

  it("the donors file lists the read-only endpoints and never rolls the pods", () => {
    const a = render({ flavor: "mariadb" }, []);
    const b = render({ flavor: "mariadb" }, [
      { podName: "shop-1", ip: "10.0.0.5" },
      { podName: "shop-2", ip: "10.0.0.6" },
    ]);
    expect(kind(a, "ConfigMap")["data"]["agent-donors"]).toBe("");
    expect(kind(b, "ConfigMap")["data"]["agent-donors"]).toBe("shop-1 10.0.0.5\nshop-2 10.0.0.6\n");
    expect(kind(b, "StatefulSet")["spec"].template).toEqual(kind(a, "StatefulSet")["spec"].template);
  });

  it("the NetworkPolicy admits the agent port from the cluster's own pods only", () => {
    const [np] = buildNetworkPolicy(cluster({ flavor: "mariadb" }), { operatorNamespace: "ops" }) as AnyObj[];
    const rules = np?.["spec"].ingress as AnyObj[];
    const withAgent = rules.filter((r) => r.ports.some((p: AnyObj) => p.port === AGENT_PORT));
    expect(withAgent).toHaveLength(1);
    expect(withAgent[0]?.from).toEqual([{ podSelector: { matchLabels: expect.any(Object) } }]);
    expect(withAgent[0]?.ports).toEqual([
      { port: MYSQL_PORT, protocol: "TCP" },
      { port: AGENT_PORT, protocol: "TCP" },
    ]);
  });

  it("no agent for flavor mysql or with spec.agent.enabled false", () => {
    for (const spec of [{ flavor: "mysql" }, { flavor: "mariadb", agent: { enabled: false } }] as MySQLClusterSpecInput[]) {
      const children = render(spec);
      const ps = kind(children, "StatefulSet")["spec"].template.spec;
      expect(ps.containers.map((c: AnyObj) => c.name)).toEqual(["mysql"]);
      expect(ps.initContainers).toBeUndefined();
      expect(kind(children, "ConfigMap")["data"]["agent-donors"]).toBeUndefined();
      const [np] = buildNetworkPolicy(cluster(spec), { operatorNamespace: "ops" }) as AnyObj[];
      expect(JSON.stringify(np)).not.toContain(String(AGENT_PORT));
    }
  });
});

describe("MySQL CLONE at the SQL-text level (MySQL 8 is not available here: text only, never run)", () => {
  it("allows the donor, then clones from it with the escaped password", () => {
    const sql = mysqlCloneStatements({ host: "10.0.0.5", port: 3306 }, "metamysql_backup", "pa'ss\\w");
    expect(sql).toEqual([
      "SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','))",
      "SET GLOBAL clone_valid_donor_list = '10.0.0.5:3306'",
      "CLONE INSTANCE FROM 'metamysql_backup'@'10.0.0.5':3306 IDENTIFIED BY 'pa\\'ss\\\\w'",
    ]);
    expect(mysqlCloneDonorGrants("metamysql_backup")).toEqual(["GRANT BACKUP_ADMIN ON *.* TO 'metamysql_backup'@'%'"]);
  });
  it("refuses a donor host that could break out of the statement", () => {
    expect(() => mysqlCloneStatements({ host: "x':1; DROP", port: 3306 }, "u", "p")).toThrow(/invalid donor host/);
    expect(() => mysqlCloneStatements({ host: "h", port: -1 }, "u", "p")).toThrow();
  });
});

describe("cloneBinlogState", () => {
  it("keeps the donor's earlier server_ids up to the copy's position, the position last in its domain", () => {
    // A cluster whose primary moved 100 -> 101 -> 102; the copy is at 0-102-900.
    expect(cloneBinlogState("0-100-500,0-101-800,0-102-905,1-100-7", "0-102-900")).toBe("0-100-500,0-101-800,0-102-900");
    expect(cloneBinlogState("", "0-102-900")).toBe("0-102-900");
    expect(cloneBinlogState("0-100-5", "")).toBe("");
    expect(cloneBinlogState("0-100-5,1-100-9", "0-101-6,1-100-9")).toBe("0-100-5,0-101-6,1-100-9");
  });
});
