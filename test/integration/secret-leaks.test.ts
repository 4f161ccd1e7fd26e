/**
 * No password of the cluster reaches a log line or a hook response when a statement that holds
 * one fails (issue 10, item 2), against real mariadbd on 127.10.47.x (test/helpers/mariadb.ts):
 * - through the real sync hook: a replication password longer than MariaDB's 96-character
 *   MASTER_PASSWORD limit makes CHANGE MASTER fail, and MariaDB quotes the password's first 64
 *   characters in its error ("String '...' is too long for MASTER_PASSWORD");
 * - a syntax error, whose message quotes the statement "near '...' at line 1";
 * - a timeout of CHANGE MASTER itself (the instance SIGSTOPped just before it).
 * pino output is captured from a destination stream; the 500 body from the response.
 */
import { Writable } from "node:stream";
import request from "supertest";
import { pino, type Logger } from "pino";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { OPERATOR_USER, REPLICATION_USER } from "../../src/api/constants.js";
import { changeSource } from "../../src/mysql/act.js";
import { connect, type Session } from "../../src/mysql/connection.js";
import { createApp, loggableError } from "../../src/server/app.js";
import { MariaDBHarness, TEST_PASSWORDS, type MariaDBInstance } from "../helpers/mariadb.js";
import { asObserved, clusterObject, pod, syncRequest, type Obj } from "../helpers/metacontroller.js";

const h = new MariaDBHarness({ subnet: 47 });
const insts: MariaDBInstance[] = [];

/** Over 96 characters (MASTER_PASSWORD's limit), quote and backslash included, unique in any text. */
const REPLICATION_PASSWORD = `Rp1-${"q7Zt".repeat(20)}'\\"-${"k9".repeat(10)}-end`;
const ROOT_PASSWORD = "root-Pw-9f8e7d6c5b";
const PASSWORDS = [REPLICATION_PASSWORD, ROOT_PASSWORD, TEST_PASSWORDS.operator, TEST_PASSWORDS.replication];

/** Every password, and every 12-character piece of the long one (servers quote prefixes). */
function leaks(text: string): string[] {
  const pieces = new Set(PASSWORDS);
  for (let i = 0; i + 12 <= REPLICATION_PASSWORD.length; i += 6) pieces.add(REPLICATION_PASSWORD.slice(i, i + 12));
  // JSON logs escape quotes and backslashes: check the escaped forms too.
  const found: string[] = [];
  for (const p of pieces) if (text.includes(p) || text.includes(JSON.stringify(p).slice(1, -1))) found.push(p);
  return found;
}

function capture(): { logger: Logger; text: () => string } {
  const chunks: string[] = [];
  const stream = new Writable({
    write(chunk: Buffer, _enc, cb) {
      chunks.push(chunk.toString("utf8"));
      cb();
    },
  });
  return { logger: pino({ level: "trace" }, stream), text: () => chunks.join("") };
}

function b64(s: string): string {
  return Buffer.from(s, "utf8").toString("base64");
}

beforeAll(async () => {
  insts.push(await h.start(0), await h.start(1));
}, 120_000);

afterAll(async () => {
  await h.stopAll();
}, 60_000);

describe("a failing CHANGE MASTER leaks no password", () => {
  it("through the sync hook: neither the pino output nor the 500 body holds a password", async () => {
    const { logger, text } = capture();
    const { app } = createApp({ logger });
    const spec = { flavor: "mariadb", instances: 2, credentialsSecretName: "db-secrets", failover: { delaySeconds: 1 } };
    const secret: Obj = {
      apiVersion: "v1",
      kind: "Secret",
      metadata: { name: "db-secrets", namespace: "shop-ns" },
      type: "Opaque",
      data: {
        "root-password": b64(ROOT_PASSWORD),
        "operator-password": b64(TEST_PASSWORDS.operator),
        "replication-password": b64(REPLICATION_PASSWORD),
      },
    };
    const pods = insts.map((i) => pod("db", i.ordinal, { ip: i.host }));
    let parent = clusterObject("db", spec);
    let children: Obj[] = [];
    const bodies: string[] = [];
    let failure: request.Response | undefined;
    for (let n = 0; n < 6 && !failure; n++) {
      const res = await request(app)
        .post("/hooks/mysqlcluster/sync")
        .set("content-type", "application/json")
        .send(syncRequest({ parent, children, related: [...pods, secret] }));
      bodies.push(res.text);
      if (res.status === 500) {
        failure = res;
        break;
      }
      expect(res.status).toBe(200);
      parent = clusterObject("db", spec, { status: res.body.status });
      children = (res.body.children as Obj[]).map((c, i) => asObserved(c, parent, i));
    }
    expect(failure?.status, `no failing sync; answers: ${bodies.map((b) => b.slice(0, 300)).join("\n")}`).toBe(500);
    // The failure is the one we forced, named by operation, with the server's error.
    expect(failure?.text).toMatch(/change source on db-1: 127\.10\.47\.11:3306: String <redacted> is too long for MASTER_PASSWORD/);
    expect(failure?.text).toContain("too long for MASTER_PASSWORD");
    expect(failure?.text).not.toContain("CHANGE MASTER");
    const logs = text();
    expect(logs).toContain("hook failed");
    expect(leaks(failure?.text ?? "")).toEqual([]);
    expect(leaks(logs)).toEqual([]);
    expect(leaks(bodies.join("\n").replace(failure?.text ?? "", ""))).toEqual([]);
  }, 60_000);

  it("a syntax error does not echo the statement (MariaDB quotes it from the error on)", async () => {
    const s = await connect({ host: insts[1]!.host, port: 3306, user: OPERATOR_USER, password: TEST_PASSWORDS.operator });
    try {
      const err = await s.query(`CHANGE MASTER TO BOGUS_OPTION=1, MASTER_PASSWORD='${REPLICATION_PASSWORD.replace(/\\/g, "\\\\").replace(/'/g, "\\'")}'`).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      const { logger, text } = capture();
      logger.error({ err }, "raw error object logged with the default serializer");
      logger.error({ err: loggableError(err) }, (err as Error).message);
      expect((err as Error).message).toContain("ER_PARSE_ERROR");
      expect((err as Error).message).not.toContain("BOGUS_OPTION");
      expect(leaks((err as Error).message)).toEqual([]);
      expect(leaks((err as Error).stack ?? "")).toEqual([]);
      expect(leaks(text())).toEqual([]);
    } finally {
      s.close();
    }
  }, 30_000);

  it("a CHANGE MASTER that times out (instance SIGSTOPped) names the operation, not the statement", async () => {
    const inst = insts[1]!;
    const s = await connect({ host: inst.host, port: 3306, user: OPERATOR_USER, password: TEST_PASSWORDS.operator, queryTimeoutMs: 800 });
    // Stop the server right before CHANGE MASTER, so that this very statement times out.
    const stopping: Session = {
      host: s.host,
      close: () => s.close(),
      query(sql, values, timeoutMs) {
        if (sql.startsWith("CHANGE MASTER")) h.signal(inst, "SIGSTOP");
        return s.query(sql, values, timeoutMs);
      },
    };
    try {
      const err = await changeSource(stopping, "mariadb", {
        host: insts[0]!.host,
        port: 3306,
        user: REPLICATION_USER,
        password: REPLICATION_PASSWORD.slice(0, 90),
        semiSyncReplica: false,
      }).then(
        () => undefined,
        (e: unknown) => e,
      );
      expect(err).toBeInstanceOf(Error);
      const { logger, text } = capture();
      logger.info({ err }, "raw");
      expect((err as Error).message).toMatch(/^change source on 127\.10\.47\.11: .*(timed out|timeout)/i);
      expect(leaks((err as Error).message)).toEqual([]);
      expect(leaks(text())).toEqual([]);
    } finally {
      s.close();
      h.signal(inst, "SIGCONT");
    }
  }, 30_000);
});
