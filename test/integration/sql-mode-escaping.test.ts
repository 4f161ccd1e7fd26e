/**
 * Passwords reach SQL intact whatever the server's sql_mode (issue 10, item 4): real mariadbd
 * started with sql_mode=NO_BACKSLASH_ESCAPES (127.10.41.x), where backslash-escaped literals mean
 * something else. accounts.sh output runs through the mariadb client over the socket, as the
 * entrypoint does; the hook's CHANGE MASTER (act.changeSource) runs over mysql2.
 */
import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import mysql from "mysql2/promise";
import { z } from "zod";
import { BACKUP_USER, OPERATOR_USER, REPLICATION_USER } from "../../src/api/constants.js";
import { changeSource } from "../../src/mysql/act.js";
import { connect } from "../../src/mysql/connection.js";
import { quoteString, unsafeSqlModeFix } from "../../src/mysql/sql/escape.js";
import { destroyConnection, MariaDBHarness, TEST_PASSWORDS, type MariaDBInstance } from "../helpers/mariadb.js";
import { accountsSql } from "../helpers/scripts.js";

const h = new MariaDBHarness({ subnet: 41, extraOptions: ["sql_mode=NO_BACKSLASH_ESCAPES"] });

/** Each holds ', \, ", ; and a newline, and would run a statement if a quote ended the literal early. */
const HOSTILE = {
  root: "r\\'; CREATE DATABASE pwned_root; -- \"\n'",
  operator: "o'\\'); CREATE DATABASE pwned_op; #\n\\",
  replication: "p\\\\'\"; DROP USER 'root'@'localhost'; --\n;",
  backup: "\\b'k\";\n'; CREATE DATABASE pwned_bk; -- \\",
} as const;

const CLIENT = "mariadb";
let primary: MariaDBInstance;
let fresh: MariaDBInstance;

async function login(inst: MariaDBInstance, user: string, password: string): Promise<string> {
  const conn = await mysql.createConnection({ host: inst.host, port: inst.port, user, password, connectTimeout: 2000 });
  try {
    const [rows] = await conn.query("SELECT CURRENT_USER() AS u");
    return z.array(z.object({ u: z.string() })).parse(rows)[0]?.u ?? "";
  } finally {
    destroyConnection(conn);
  }
}

/** Root over the socket: `sql`'s rows, after running `before` in the same session. */
async function rootRows(inst: MariaDBInstance, sql: string, password: string, before: string[] = []): Promise<Record<string, unknown>[]> {
  const conn = await mysql.createConnection({ socketPath: join(inst.dir, "mysqld.sock"), user: "root", password, connectTimeout: 2000 });
  try {
    for (const b of before) await conn.query(b);
    const [rows] = await conn.query(sql);
    return z.array(z.record(z.string(), z.unknown())).parse(rows);
  } finally {
    destroyConnection(conn);
  }
}

beforeAll(async () => {
  // The harness itself creates its accounts (passwords with ' and \) with accounts.sh under this mode.
  primary = await h.start(0);
  fresh = await h.start(1);
}, 60_000);

afterAll(async () => {
  await h.stopAll();
}, 30_000);

describe("sql_mode=NO_BACKSLASH_ESCAPES", () => {
  it("accounts.sh converge through the client: every exact password logs in, nothing else ran", async () => {
    // The harness's accounts out of the way: converge creates them with the hostile passwords.
    await h.rootQuery(fresh, `SET STATEMENT sql_log_bin=0 FOR DROP USER '${OPERATOR_USER}'@'%', '${REPLICATION_USER}'@'%', '${BACKUP_USER}'@'%'`);
    const sql = accountsSql("converge", "mariadb", HOSTILE, { remoteRoot: true });
    const r = spawnSync(CLIENT, ["--protocol=socket", `--socket=${join(fresh.dir, "mysqld.sock")}`, "-uroot"], {
      input: sql,
      encoding: "utf8",
      timeout: 20_000,
    });
    expect(r.stderr).toBe("");
    expect(r.status).toBe(0);

    expect(await login(fresh, "root", HOSTILE.root)).toBe("root@%");
    expect(await login(fresh, OPERATOR_USER, HOSTILE.operator)).toBe(`${OPERATOR_USER}@%`);
    expect(await login(fresh, REPLICATION_USER, HOSTILE.replication)).toBe(`${REPLICATION_USER}@%`);
    expect(await login(fresh, BACKUP_USER, HOSTILE.backup)).toBe(`${BACKUP_USER}@%`);
    await expect(login(fresh, OPERATOR_USER, HOSTILE.operator.slice(0, 2))).rejects.toThrow(/Access denied/);

    const dbs = (await rootRows(fresh, "SHOW DATABASES", HOSTILE.root)).map((row) => Object.values(row)[0]);
    expect(dbs.filter((d) => String(d).startsWith("pwned"))).toEqual([]);
    const users = (await rootRows(fresh, "SELECT CONCAT(User, '@', Host) AS a FROM mysql.user ORDER BY a", HOSTILE.root)).map((row) => row.a);
    expect(users).toEqual(expect.arrayContaining(["root@localhost", "root@%", `${OPERATOR_USER}@%`, `${REPLICATION_USER}@%`, `${BACKUP_USER}@%`]));
    // The server's own mode is untouched: only the init session dropped NO_BACKSLASH_ESCAPES.
    expect((await rootRows(fresh, "SELECT @@GLOBAL.sql_mode AS m", HOSTILE.root))[0]?.m).toBe("NO_BACKSLASH_ESCAPES");
    // Nothing reached the binary log.
    expect((await rootRows(fresh, "SELECT @@gtid_binlog_state AS s", HOSTILE.root))[0]?.s).toBe("");
  }, 30_000);

  it("the hook's CHANGE MASTER carries a password with ' and \\ intact", async () => {
    // Instance 1's accounts now carry the hostile passwords; the primary (instance 0) gets a
    // replication password like them (the harness's has only a quote).
    await rootRows(primary, "SELECT 1 AS one", TEST_PASSWORDS.root, [
      unsafeSqlModeFix,
      `SET STATEMENT sql_log_bin=0 FOR ALTER USER '${REPLICATION_USER}'@'%' IDENTIFIED BY ${quoteString(HOSTILE.replication)}`,
    ]);
    const s = await connect({ host: fresh.host, port: fresh.port, user: OPERATOR_USER, password: HOSTILE.operator, queryTimeoutMs: 5000 });
    try {
      await changeSource(s, "mariadb", {
        host: primary.host,
        port: primary.port,
        user: REPLICATION_USER,
        password: HOSTILE.replication,
        semiSyncReplica: false,
      });
    } finally {
      s.close();
    }
    const deadline = Date.now() + 15_000;
    let io = "";
    while (Date.now() < deadline) {
      const st = await rootRows(fresh, "SHOW SLAVE STATUS", HOSTILE.root);
      io = String(st[0]?.Slave_IO_Running ?? "");
      if (io === "Yes") break;
      await new Promise((res) => setTimeout(res, 200));
    }
    expect(io).toBe("Yes");
  }, 30_000);
});
