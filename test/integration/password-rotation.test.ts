/**
 * Online password rotation (docs/clustering.md "Rotating passwords") through the real hook
 * server (real HTTP) against three real mariadbd instances on 127.10.96.x, while an application
 * writes to the primary: editing the Secrets changes the operator's, the replication and the
 * backup account's passwords on every instance through the primary's binary log, re-points the
 * replicas with the new replication password, records the new passwords as applied, and rolls
 * the pods for root (a new generation on the pod template). Nothing acknowledged is lost, nothing
 * is errant, the old passwords stop working, and no password reaches a log. A rotation cut short
 * (a password already changed on the server, nothing recorded) is finished by the next syncs.
 */
import { Writable } from "node:stream";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { pino } from "pino";
import { z } from "zod";
import { BACKUP_USER, OPERATOR_USER, REPLICATION_USER } from "../../src/api/constants.js";
import { EnvConfigSchema } from "../../src/api/env.js";
import { mariaErrant } from "../../src/topology/gtid.js";
import { startHookServer, type RunningServer } from "../../src/server/app.js";
import { APP_USER, destroyConnection, MariaDBHarness, TEST_PASSWORDS, type MariaDBInstance } from "../helpers/mariadb.js";
import { asObserved, clusterObject, pod, syncRequest, type Obj } from "../helpers/metacontroller.js";

const SUBNET = 96;
const CLUSTER = "rot";
const h = new MariaDBHarness({ subnet: SUBNET });
const insts: MariaDBInstance[] = [];
let server: RunningServer;
const logChunks: string[] = [];
const spec = { flavor: "mariadb", instances: 3, credentialsSecretName: "rot-secrets", failover: { delaySeconds: 1 } };

const b64 = (s: string) => Buffer.from(s, "utf8").toString("base64");
const unb64 = (s: unknown) => Buffer.from(String(s), "base64").toString("utf8");
const passwords: Record<"root" | "operator" | "replication" | "backup", string> = {
  root: "root-pw",
  operator: TEST_PASSWORDS.operator,
  replication: TEST_PASSWORDS.replication,
  backup: TEST_PASSWORDS.backup,
};
const secret = (): Obj => ({
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "rot-secrets", namespace: "shop-ns" },
  type: "Opaque",
  data: { "root-password": b64(passwords.root), "operator-password": b64(passwords.operator), "replication-password": b64(passwords.replication) },
});

/** What Metacontroller holds: the parent's status and the observed children. */
const state: { status: unknown; children: Obj[] } = { status: undefined, children: [] };

async function sync(): Promise<{ code: number; text: string }> {
  const parent = clusterObject(CLUSTER, spec, state.status === undefined ? {} : { status: state.status });
  const pods = insts.map((i) => pod(CLUSTER, i.ordinal, { ip: i.host }));
  const res = await fetch(`${server.url}/hooks/mysqlcluster/sync`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify(syncRequest({ parent, children: state.children, related: [...pods, secret()] })),
  });
  const text = await res.text();
  if (res.status === 200) {
    const json = z.object({ status: z.unknown(), children: z.array(z.record(z.string(), z.unknown())) }).parse(JSON.parse(text));
    state.status = json.status;
    const parentNow = clusterObject(CLUSTER, spec, { status: state.status });
    // Secrets are OnDelete children (metacontroller/): an existing one is never updated.
    state.children = (json.children as Obj[]).map((c, i) => {
      const existing = c.kind === "Secret" ? state.children.find((o) => o.kind === "Secret" && o.metadata.name === c.metadata.name) : undefined;
      return existing ?? asObserved(c, parentNow, i);
    });
  }
  return { code: res.status, text };
}

const StatusView = z.object({
  state: z.string().optional(),
  currentPrimary: z.string().optional(),
  instances: z.array(z.object({ name: z.string(), role: z.string(), ready: z.boolean() })).optional(),
});

function child(kind: string, name: string): Obj {
  const c = state.children.find((o) => o.kind === kind && o.metadata.name === name);
  if (!c) throw new Error(`no ${kind}/${name} among the children`);
  return c;
}

/** The newest `<c>-applied-credentials-<revision>`. */
function appliedName(): string {
  const revisions = state.children.flatMap((o) => {
    const m = o.kind === "Secret" ? /^rot-applied-credentials-(\d+)$/.exec(o.metadata.name) : null;
    return m ? [Number(m[1])] : [];
  });
  if (revisions.length === 0) throw new Error("no applied-credentials Secret");
  return `rot-applied-credentials-${Math.max(...revisions)}`;
}

function secretValue(name: string, key: string): string {
  return unb64((child("Secret", name === "rot-applied-credentials" ? appliedName() : name)["data"] as Record<string, string>)[key]);
}

/** Syncs until the cluster is Healthy with every instance ready and `done()` holds. */
async function converge(done: () => boolean, max = 60): Promise<void> {
  const answers: string[] = [];
  for (let n = 0; n < max; n++) {
    const a = await sync();
    answers.push(a.code === 200 ? "200" : `${a.code} ${a.text.slice(0, 200)}`);
    const s = StatusView.parse(state.status ?? {});
    if (a.code === 200 && s.state === "Healthy" && (s.instances ?? []).every((i) => i.ready) && done()) return;
    await new Promise((r) => setTimeout(r, 150));
  }
  throw new Error(`did not converge: ${JSON.stringify(state.status)}; answers: ${answers.slice(-5).join(" | ")}`);
}

async function login(i: MariaDBInstance, user: string, password: string): Promise<boolean> {
  let conn: mysql.Connection | undefined;
  try {
    conn = await mysql.createConnection({ host: i.host, port: 3306, user, password, connectTimeout: 2000 });
    return true;
  } catch {
    return false;
  } finally {
    if (conn) destroyConnection(conn);
  }
}

async function rootValue(i: MariaDBInstance, sql: string): Promise<unknown> {
  const rows = z.array(z.record(z.string(), z.unknown())).parse(await h.rootQuery(i, sql));
  return Object.values(rows[0] ?? {})[0];
}

function primaryInstance(): MariaDBInstance {
  const name = StatusView.parse(state.status ?? {}).currentPrimary;
  const p = insts.find((i) => `${CLUSTER}-${i.ordinal}` === name);
  if (!p) throw new Error(`no primary in ${JSON.stringify(state.status)}`);
  return p;
}

/** An application inserting rows into the primary; a row counts once its commit returned. */
class Writer {
  readonly acked: number[] = [];
  private stopped = false;
  private loop: Promise<void> | undefined;
  start(): void {
    this.loop = (async () => {
      for (let id = 1; !this.stopped; id++) {
        let conn: mysql.Connection | undefined;
        try {
          conn = await mysql.createConnection({ host: primaryInstance().host, port: 3306, user: APP_USER, password: TEST_PASSWORDS.app, connectTimeout: 500 });
          await conn.query({ sql: "INSERT INTO app.t (id) VALUES (?)", values: [id], timeout: 2000 });
          this.acked.push(id);
        } catch {
          // not acknowledged
        } finally {
          if (conn) destroyConnection(conn);
        }
        await new Promise((r) => setTimeout(r, 10));
      }
    })();
  }
  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }
}

/** Every acknowledged row on every instance, nothing errant, one writable primary. */
async function assertNothingLost(writer: Writer): Promise<void> {
  const primary = primaryInstance();
  const pos = String(await rootValue(primary, "SELECT @@gtid_binlog_pos"));
  const primaryState = String(await rootValue(primary, "SELECT @@gtid_binlog_state"));
  for (const i of insts) {
    expect(Number(await rootValue(i, "SELECT @@read_only")), i.name).toBe(i === primary ? 0 : 1);
    if (i !== primary) expect(Number(await rootValue(i, `SELECT MASTER_GTID_WAIT('${pos}', 10)`)), i.name).toBe(0);
    const rows = z.array(z.object({ id: z.number() })).parse(await h.rootQuery(i, "SELECT id FROM app.t"));
    const have = new Set(rows.map((r) => r.id));
    expect(
      writer.acked.filter((id) => !have.has(id)),
      `${i.name} lacks acknowledged rows`,
    ).toEqual([]);
    expect(mariaErrant(String(await rootValue(i, "SELECT @@gtid_binlog_state")), primaryState), i.name).toEqual([]);
  }
}

beforeAll(async () => {
  insts.push(...(await Promise.all([0, 1, 2].map((n) => h.start(n)))));
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logChunks.push(chunk.toString("utf8"));
      cb();
    },
  });
  server = await startHookServer({
    host: "127.0.0.1",
    port: 0,
    config: { ...EnvConfigSchema.parse({}), MYSQL_CONNECT_TIMEOUT_MS: 1000 },
    logger: pino({ level: "debug" }, stream),
  });
  await converge(() => true);
  // The harness created the backup account with TEST_PASSWORDS.backup: make the operator-owned
  // Secret (and the record of what the servers hold) say so, as a real cluster's would.
  for (const name of ["rot-backup-credentials", appliedName()]) {
    const data = child("Secret", name)["data"] as Record<string, string>;
    data[name === "rot-backup-credentials" ? "password" : "backup-password"] = b64(TEST_PASSWORDS.backup);
  }
  await h.rootQuery(primaryInstance(), "CREATE DATABASE IF NOT EXISTS app");
  await h.rootQuery(primaryInstance(), "CREATE TABLE IF NOT EXISTS app.t (id INT PRIMARY KEY)");
}, 180_000);

afterAll(async () => {
  await server?.close();
  await h.stopAll();
}, 60_000);

describe("online password rotation", () => {
  it("editing the Secrets rotates every service account on every instance, under writes, losing nothing", async () => {
    const firstRecord = appliedName();
    const old = { ...passwords };
    const writer = new Writer();
    writer.start();
    try {
      await new Promise((r) => setTimeout(r, 300));
      passwords.operator = "op-NEW'\\pw";
      passwords.replication = 'repl-NEW"pw';
      passwords.root = "root-NEW-pw";
      passwords.backup = "bk-NEW-pw'";
      (child("Secret", "rot-backup-credentials")["data"] as Record<string, string>)["password"] = b64(passwords.backup);
      await converge(() => secretValue("rot-applied-credentials", "operator-password") === passwords.operator);
      await new Promise((r) => setTimeout(r, 300));
    } finally {
      await writer.stop();
    }
    expect(writer.acked.length).toBeGreaterThan(0);
    expect(secretValue("rot-applied-credentials", "replication-password")).toBe(passwords.replication);
    expect(secretValue("rot-applied-credentials", "backup-password")).toBe(passwords.backup);
    // Root logs in from inside the pod only: its change rolls the pods (generation 1).
    expect(secretValue("rot-applied-credentials", "root-password")).toBe(passwords.root);
    const template = (child("StatefulSet", CLUSTER)["spec"] as { template: { metadata: { annotations: Record<string, string> } } }).template;
    expect(template.metadata.annotations["metamysql.dev/root-generation"]).toBe("1");
    // A new revision of the record replaced the old one (Secrets are never updated in place).
    expect(appliedName()).not.toBe(firstRecord);
    expect(state.children.some((o) => o.metadata.name === firstRecord)).toBe(false);

    for (const i of insts) {
      for (const [user, key] of [
        [OPERATOR_USER, "operator"],
        [REPLICATION_USER, "replication"],
        [BACKUP_USER, "backup"],
      ] as const) {
        expect(await login(i, user, passwords[key]), `${user} with its new password on ${i.name}`).toBe(true);
        expect(await login(i, user, old[key]), `${user} with its old password on ${i.name}`).toBe(false);
      }
    }
    // The replicas replicate with the new password: a new connection of their receivers works.
    const primary = primaryInstance();
    for (const i of insts.filter((x) => x !== primary)) {
      await h.rootQuery(i, "STOP SLAVE IO_THREAD");
      await h.rootQuery(i, "START SLAVE IO_THREAD");
    }
    await h.rootQuery(primary, "INSERT INTO app.t (id) VALUES (1000000)");
    await converge(() => true);
    await assertNothingLost(writer);
    for (const i of insts.filter((x) => x !== primary)) {
      const rows = z
        .array(z.object({ Slave_IO_Running: z.string(), Last_IO_Errno: z.number() }).passthrough())
        .parse(await h.rootQuery(i, "SHOW SLAVE STATUS"));
      expect(rows[0]?.Slave_IO_Running, i.name).toBe("Yes");
      expect(rows[0]?.Last_IO_Errno, i.name).toBe(0);
    }
  }, 180_000);

  it("a rotation cut short (a password already changed, nothing recorded) is finished by the next syncs", async () => {
    const old = { ...passwords };
    passwords.operator = "op-THIRD-pw";
    passwords.replication = "repl-THIRD-pw";
    // As if a hook died after the operator's own change: the primary (and through its binary log,
    // every replica) already holds the new operator password.
    const primary = primaryInstance();
    await h.rootQuery(primary, `ALTER USER '${OPERATOR_USER}'@'%' IDENTIFIED BY ?`, [passwords.operator]);
    await converge(() => secretValue("rot-applied-credentials", "replication-password") === passwords.replication);
    for (const i of insts) {
      expect(await login(i, OPERATOR_USER, passwords.operator), i.name).toBe(true);
      expect(await login(i, REPLICATION_USER, passwords.replication), i.name).toBe(true);
      expect(await login(i, REPLICATION_USER, old.replication), i.name).toBe(false);
    }
    await assertNothingLost(new Writer());
  }, 120_000);

  it("no password, old or new, appears in the hook's logs", () => {
    const logs = logChunks.join("");
    expect(logs).toContain("passwords rotated online");
    for (const pw of [
      "op-NEW'\\pw",
      'repl-NEW"pw',
      "root-NEW-pw",
      "bk-NEW-pw'",
      "op-THIRD-pw",
      "repl-THIRD-pw",
      TEST_PASSWORDS.operator,
      TEST_PASSWORDS.replication,
    ]) {
      expect(logs.includes(pw), `a password in the logs`).toBe(false);
      expect(logs.includes(JSON.stringify(pw).slice(1, -1)), `an escaped password in the logs`).toBe(false);
    }
  });
});
