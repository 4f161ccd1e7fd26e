/**
 * Real WordPress (Debian's package, PHP's built-in server) against a real MariaDB server, with
 * the schema and account a MySQLDatabase `wordpress` and a MySQLUser granted ALL PRIVILEGES on it
 * would create: WordPress installs, publishes posts (one PHP process each), lists them and serves
 * its home page, and its account reaches nothing outside its schema. Servers on 127.10.93.x.
 */
import type { RowDataPacket } from "mysql2";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { MariaDBHarness, type MariaDBInstance } from "../helpers/mariadb.js";
import { query } from "../helpers/local.js";
import { WordPressSite, htmlTitle, type WordPressDatabase } from "../helpers/wordpress.js";

const h = new MariaDBHarness({ subnet: 93 });
let server: MariaDBInstance;
let site: WordPressSite | undefined;
const db: WordPressDatabase = { host: "", port: 3306, user: "wordpress", password: "wp-Pa$$'\\w0rd\"", database: "wordpress" };

beforeAll(async () => {
  server = await h.start(0);
  db.host = server.host;
  // Harness servers start read-only, like every instance; the operator opens the primary.
  await h.rootQuery(server, "SET GLOBAL read_only = OFF");
  // What the MySQLDatabase and MySQLUser hooks will do (ARCHITECTURE.md section 2): the schema,
  // the account with only that schema's privileges, and a second schema it must not reach.
  await h.rootQuery(server, "CREATE DATABASE wordpress CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci");
  await h.rootQuery(server, "CREATE DATABASE other");
  await h.rootQuery(server, "CREATE TABLE other.secret (v VARCHAR(20))");
  await h.rootQuery(server, "INSERT INTO other.secret VALUES ('not yours')");
  await h.rootQuery(server, "CREATE USER 'wordpress'@'%' IDENTIFIED BY ?", [db.password]);
  await h.rootQuery(server, "GRANT ALL PRIVILEGES ON `wordpress`.* TO 'wordpress'@'%'");
  site = await WordPressSite.create(db);
  await site.start();
}, 60_000);

afterAll(async () => {
  await site?.stop();
  await h.stopAll();
}, 60_000);

describe("WordPress on a MariaDB server, with an account limited to its schema", () => {
  it("installs, publishes 20 posts (one PHP process each), lists them all and shows the newest on the home page", async () => {
    const s = site as WordPressSite;
    expect(await s.install("metamysql integration")).toBe(true);
    // Installing again finds the site installed and changes nothing.
    expect(await s.install("metamysql integration")).toBe(false);
    const ids: number[] = [];
    const started = Date.now();
    for (let i = 1; i <= 20; i++) {
      const r = await s.publish(`Integration post ${i}`);
      if (!r.ok) throw new Error(`post ${i} not published: ${r.error}`);
      ids.push(r.id);
    }
    process.stderr.write(`WordPress: 20 posts in ${Date.now() - started} ms (one PHP process each)\n`);
    expect(new Set(ids).size).toBe(20);
    const posts = await s.posts();
    for (const [i, id] of ids.entries()) expect(posts).toContainEqual({ id, title: `Integration post ${i + 1}` });
    const home = await s.get("/");
    expect(home.status).toBe(200);
    expect(home.body).toContain(htmlTitle("Integration post 20"));
    expect(home.body).toContain("metamysql integration");
    // The post's own page too (?p=ID redirects to its permalink).
    const page = await s.get(`/?p=${String(ids[0])}`);
    expect(page.status).toBe(200);
    expect(page.body).toContain(htmlTitle("Integration post 1"));
    // The tables WordPress created live in its schema.
    const tables = await query<{ n: number } & RowDataPacket>(
      { host: db.host, port: db.port, user: db.user, password: db.password },
      "SELECT COUNT(*) AS n FROM information_schema.tables WHERE table_schema = 'wordpress' AND table_name = 'wp_posts'",
    );
    expect(Number(tables[0]?.n)).toBe(1);
  }, 240_000);

  it("a post whose database is unreachable is not acknowledged (non-zero exit), within seconds", async () => {
    const s = site as WordPressSite;
    // A loopback address nothing listens on: the connection is refused at once.
    s.setDatabase({ ...db, host: "127.10.93.250" });
    try {
      const r = await s.publish("never stored");
      expect(r.ok).toBe(false);
      expect(r.ms).toBeLessThan(20_000);
    } finally {
      s.setDatabase(db);
    }
    expect((await s.posts()).map((p) => p.title)).not.toContain("never stored");
  }, 60_000);

  it("the account cannot read mysql.user or another schema, nor grant itself more", async () => {
    const app = { host: db.host, port: db.port, user: db.user, password: db.password };
    await expect(query(app, "SELECT User FROM mysql.user")).rejects.toThrow(/denied/i);
    await expect(query(app, "SELECT v FROM other.secret")).rejects.toThrow(/denied/i);
    await expect(query(app, "CREATE DATABASE intruder")).rejects.toThrow(/denied/i);
    await expect(query(app, "GRANT ALL PRIVILEGES ON other.* TO 'wordpress'@'%'")).rejects.toThrow(/denied/i);
    const schemas = await query<{ s: string } & RowDataPacket>(app, "SELECT schema_name AS s FROM information_schema.schemata ORDER BY 1");
    expect(schemas.map((r) => r.s)).toEqual(["information_schema", "wordpress"]);
  }, 30_000);
});
