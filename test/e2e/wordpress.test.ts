/**
 * WordPress on metamysql, end to end (issue 11), as a user runs it on one machine: the cluster,
 * database, account and password Secret of deploy/examples/wordpress.yaml in one multi-document
 * file (its Deployment, Service and volume claim are for Kubernetes: the local runtime runs no
 * WordPress pods, so the test serves Debian's WordPress with PHP's built-in server instead),
 * `metamysql local up -f FILE`, the site configured from the `<user>-connection` Secret and
 * connected through the `<c>` Service. WordPress installs, then posts are published continuously
 * (one PHP process per post, as web requests are) through a crash-loop failover (the primary
 * killed again each time it comes back) and a weight switchover. Afterwards every acknowledged
 * post exists, the home page lists the newest, and the account reaches no other schema.
 *
 * Prints the time from `local up -f` to a served page and posts acknowledged, not acknowledged
 * and lost. Pod IPs 127.20.50.0/24. Real mariadbd, real WordPress; no process left behind.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { readFileSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { RowDataPacket } from "mysql2";
import { afterAll, beforeEach, describe, expect, it } from "vitest";
import { parseAllDocuments, stringify } from "yaml";
import { z } from "zod";
import { controlRequest } from "../../src/local/control/channel.js";
import { stateLayout } from "../../src/local/node/statedir.js";
import { eventually, finishStateDir, leftoverPids, query, tempStateDir } from "../helpers/local.js";
import { WordPressSite, htmlTitle, type WordPressDatabase } from "../helpers/wordpress.js";

const ROOT = join(import.meta.dirname, "../..");
const CLI = join(ROOT, "test/helpers/local-cli.ts");
const EXAMPLE = join(ROOT, "deploy/examples/wordpress.yaml");
const IP_PREFIX = "127.20.50";
const SITE_TITLE = "metamysql WordPress e2e";

const stateDir = tempStateDir("wordpress");
const manifestFile = `${stateDir}-wordpress.yaml`;
let failed = false;
beforeEach(({ onTestFailed }) => onTestFailed(() => void (failed = true)));

// ---- the file: the example's database-side documents, sized for one machine ----

// What README.md tells a user to run locally: the documents above the "WordPress itself" line.
const exampleText = readFileSync(EXAMPLE, "utf8");
const databaseSide = exampleText.slice(0, exampleText.search(/^# ---- WordPress itself/m));
const exampleDocs = parseAllDocuments(databaseSide)
  .map((d) => d.toJS() as Record<string, unknown> | null)
  .filter((d): d is Record<string, unknown> => d !== null);
const ObjectMeta = z.looseObject({ metadata: z.looseObject({ name: z.string() }), spec: z.looseObject({}).optional() });
const clusterDoc = ObjectMeta.parse(exampleDocs.find((d) => d["kind"] === "MySQLCluster"));
const userDoc = ObjectMeta.parse(exampleDocs.find((d) => d["kind"] === "MySQLUser"));
const CLUSTER = clusterDoc.metadata.name;
const USER = userDoc.metadata.name;
const CONNECTION_SECRET = `${USER}-connection`;
const passwordRef = z.object({ name: z.string(), key: z.string() }).parse(userDoc.spec?.["passwordSecretKeyRef"]);
/** The password the MySQLUser references, from the example's Secret. */
const PASSWORD = z
  .string()
  .parse(
    (
      exampleDocs.find((d) => d["kind"] === "Secret" && ObjectMeta.parse(d).metadata.name === passwordRef.name)?.["stringData"] as
        Record<string, unknown> | undefined
    )?.[passwordRef.key],
  );

/** The example's documents; the cluster's spec with `changes` (small buffers: three servers on one machine). */
function manifest(changes: Record<string, unknown> = {}): string {
  const docs = exampleDocs.map((d) => {
    if (d["kind"] !== "MySQLCluster") return d;
    const spec = { ...(d["spec"] as Record<string, unknown>) };
    spec["mysqlConfig"] = { ...(spec["mysqlConfig"] as Record<string, unknown>), innodb_buffer_pool_size: "64M", max_connections: 100 };
    return { ...d, spec: { ...spec, ...changes } };
  });
  return docs.map((d) => stringify(d)).join("---\n");
}

// ---- the CLI ----

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

async function cli(args: string[]): Promise<{ code: number | null; out: string }> {
  const r = start([...args, "--state-dir", stateDir]);
  return { code: await r.exited, out: r.out };
}

/** `metamysql local get KIND NAME -o json`: the object, or undefined while it does not exist. */
async function get(kind: string, name: string): Promise<Record<string, unknown> | undefined> {
  const r = await cli(["get", kind, name, "-o", "json"]);
  if (r.code !== 0) return undefined;
  const parsed = JSON.parse(r.out) as Record<string, unknown>;
  // A List (kubectl prints one for several objects) or the object itself.
  const items = Array.isArray(parsed["items"]) ? (parsed["items"] as Array<Record<string, unknown>>) : [parsed];
  return items.find((o) => (o["metadata"] as { name?: string } | undefined)?.name === name);
}

const StatusSchema = z.looseObject({
  cluster: z.looseObject({
    status: z.looseObject({ state: z.string().optional(), currentPrimary: z.string().optional(), instances: z.array(z.looseObject({})).optional() }).optional(),
  }),
  pods: z.array(z.object({ name: z.string(), ip: z.string(), port: z.number(), pid: z.number().nullable().optional(), ready: z.boolean() })),
  services: z.record(z.string(), z.string()),
  credentials: z.object({ user: z.string(), password: z.string() }).nullable(),
});
type Status = z.infer<typeof StatusSchema>;

/** `local status --json`, over the state dir's control channel (what the CLI verb prints). */
async function status(): Promise<Status> {
  return StatusSchema.parse(await controlRequest(stateLayout(stateDir), "GET", `/status?cluster=${CLUSTER}`));
}

async function kill(pod: string): Promise<void> {
  await controlRequest(stateLayout(stateDir), "POST", "/kill", { pod, signal: "KILL" });
}

/** A `host:port` Service address of the local runtime (each Service is a proxy on 127.0.0.1). */
function serviceAddress(st: Status, service: string): { host: string; port: number } {
  const addr = st.services[service];
  if (!addr) throw new Error(`no Service ${service} in ${JSON.stringify(st.services)}`);
  return { host: "127.0.0.1", port: Number(addr.split(":")[1]) };
}

// ---- the publishers ----

interface Ack {
  id: number;
  title: string;
  at: number;
}

/** Publishes posts back to back, each in a new PHP process, until stopped. */
class Publisher {
  readonly acks: Ack[] = [];
  readonly failures: Array<{ title: string; at: number; error: string }> = [];
  private stopped = false;
  private loop: Promise<void> | undefined;
  constructor(
    private readonly site: WordPressSite,
    private readonly prefix: string,
  ) {}

  start(): this {
    this.loop = (async () => {
      for (let n = 1; !this.stopped; n++) {
        const title = `${this.prefix} post ${n}`;
        const r = await this.site
          .publish(title, `<p>${title}, published while the cluster changes.</p>`)
          .catch((err: unknown) => ({ ok: false as const, error: String(err), ms: 0 }));
        if (r.ok) this.acks.push({ id: r.id, title, at: Date.now() });
        else {
          this.failures.push({ title, at: Date.now(), error: r.error });
          await new Promise((res) => setTimeout(res, 200));
        }
      }
    })();
    return this;
  }

  async stop(): Promise<void> {
    this.stopped = true;
    await this.loop;
  }

  /** Waits for `n` more acknowledged posts. */
  async waitForAcks(n: number, timeoutMs: number): Promise<void> {
    const want = this.acks.length + n;
    await eventually(
      () => this.acks.length >= want,
      timeoutMs,
      `${n} more acknowledged posts by ${this.prefix} (last failure: ${this.failures.at(-1)?.error ?? "none"})`,
    );
  }
}

// ---- the test ----

let up: Run | undefined;
let site: WordPressSite | undefined;
const publishers: Publisher[] = [];

afterAll(async () => {
  // Whatever failed before, the runtime below is always stopped (an orphaned `local up` would
  // keep its servers on 127.20.50.x).
  for (const p of publishers) await p.stop().catch(() => undefined);
  await site?.stop().catch(() => undefined);
  if (up && up.child.exitCode === null) {
    up.child.kill("SIGINT");
    await up.exited;
  }
  expect(leftoverPids(stateDir)).toEqual([]);
  rmSync(manifestFile, { force: true });
  finishStateDir(stateDir, failed);
}, 180_000);

describe("WordPress on metamysql (local runtime, real MariaDB, real WordPress)", () => {
  const startedAt = Date.now();
  let db: WordPressDatabase | undefined;
  let servedMs = 0;

  it("local up -f on the example's documents gives a connection Secret that WordPress installs with and serves from", async () => {
    expect(exampleDocs.map((d) => d["kind"]).sort()).toEqual(["MySQLCluster", "MySQLDatabase", "MySQLUser", "Secret"]);
    writeFileSync(manifestFile, manifest());
    const t0 = Date.now();
    up = start(["up", "-f", manifestFile, "--state-dir", stateDir, "--ip-prefix", IP_PREFIX, "--resync-period", "10"]);
    const secret = await eventually(() => get("Secret", CONNECTION_SECRET), 240_000, `Secret ${CONNECTION_SECRET} (up's output:\n${up?.out ?? ""})`);
    const data = z.record(z.string(), z.string()).parse(secret["data"] ?? {});
    const value = (k: string): string => Buffer.from(data[k] ?? "", "base64").toString("utf8");
    for (const k of ["host", "port", "database", "username", "password", "uri", "jdbcUrl", "readOnlyHost"])
      expect(value(k), `${CONNECTION_SECRET}.${k}`).not.toBe("");
    expect(value("database")).toBe("wordpress");
    expect(value("username")).toBe("wordpress");
    // The password is the one the MySQLUser referenced.
    expect(value("password")).toBe(PASSWORD);
    // host names the read-write Service `<c>` (its first DNS label), readOnlyHost `<c>-ro`.
    expect(value("host").split(".")[0]).toBe(CLUSTER);
    expect(value("readOnlyHost").split(".")[0]).toBe(`${CLUSTER}-ro`);
    expect(value("uri")).toContain(value("host"));
    expect(value("jdbcUrl")).toContain(value("host"));
    const ready = async (kind: string, name: string): Promise<boolean> =>
      z.looseObject({ state: z.string() }).safeParse((await get(kind, name))?.["status"]).data?.state === "Ready";
    await eventually(() => ready("MySQLUser", USER), 60_000, `MySQLUser ${USER} Ready`);
    await eventually(() => ready("MySQLDatabase", "wordpress"), 60_000, "MySQLDatabase wordpress Ready");

    // On this machine the Service's DNS name is its local proxy.
    await eventually(async () => (await status()).cluster.status?.state === "Healthy", 120_000, `cluster ${CLUSTER} Healthy`);
    const st = await status();
    db = { ...serviceAddress(st, value("host").split(".")[0] ?? ""), user: value("username"), password: value("password"), database: value("database") };
    site = await WordPressSite.create(db);
    await site.start();
    expect(await site.install(SITE_TITLE)).toBe(true);
    const home = await site.get("/");
    expect(home.status).toBe(200);
    expect(home.body).toContain(SITE_TITLE);
    servedMs = Date.now() - t0;
    process.stderr.write(`WordPress: local up -f to a served page in ${(servedMs / 1000).toFixed(1)} s\n`);
  }, 300_000);

  it("publishes continuously through a crash-loop failover and a weight switchover; every acknowledged post exists and the home page lists the newest", async () => {
    const s = site;
    if (!s) throw new Error("no site: the previous step failed");
    // Two publishers: requests arrive concurrently on a real site.
    for (const prefix of ["Alpha", "Bravo"]) publishers.push(new Publisher(s, prefix).start());
    for (const p of publishers) await p.waitForAcks(5, 60_000);

    // Crash loop: kill the primary, and again each time it is started again, until a replica is
    // promoted (and at least twice). The first restart is immediate (within the failover delay a
    // primary back is reopened); the back-off after the second crash outlasts the delay.
    const before = await status();
    const old = before.cluster.status?.currentPrimary ?? "";
    expect(old).toMatch(new RegExp(`^${CLUSTER}-\\d$`));
    const failoverAt = Date.now();
    let kills = 0;
    let lastPid: number | null | undefined;
    await eventually(
      async () => {
        const st = await status();
        // Until a replica is promoted, and at least twice: a crash loop, not one crash.
        if (st.cluster.status?.currentPrimary && st.cluster.status.currentPrimary !== old && kills >= 2) return true;
        const pod = st.pods.find((p) => p.name === old);
        if (pod?.pid && pod.pid !== lastPid) {
          lastPid = pod.pid;
          kills++;
          await kill(old);
        }
        return false;
      },
      240_000,
      `failover away from ${old} (killed ${kills} times)`,
    );
    const afterFailover = await status();
    const promoted = afterFailover.cluster.status?.currentPrimary ?? "";
    for (const p of publishers) await p.waitForAcks(5, 90_000);
    const failoverGap = Math.max(...publishers.map((p) => gapAround(p.acks, failoverAt)));

    // Weight switchover to the remaining healthy replica (the killed one may still be backing off).
    const target = await eventually(
      async () => {
        const st = await status();
        const inst = z.array(z.looseObject({ name: z.string(), role: z.string(), ready: z.boolean() })).parse(st.cluster.status?.instances ?? []);
        return inst.find((i) => i.name !== old && i.name !== promoted && i.role === "replica" && i.ready)?.name;
      },
      90_000,
      `a ready replica other than ${old} and ${promoted}`,
    );
    const ordinal = target.slice(CLUSTER.length + 1);
    writeFileSync(manifestFile, manifest({ memberWeights: { [ordinal]: 100 } }));
    const switchoverAt = Date.now();
    const applied = await cli(["apply", "-f", manifestFile]);
    expect(applied.code, applied.out).toBe(0);
    await eventually(async () => (await status()).cluster.status?.currentPrimary === target, 120_000, `${target} primary after the weight change`);
    for (const p of publishers) await p.waitForAcks(5, 90_000);
    const switchoverGap = Math.max(...publishers.map((p) => gapAround(p.acks, switchoverAt)));
    for (const p of publishers) await p.stop();

    // Every acknowledged post exists, as WordPress lists them through `<c>`.
    const posts = await s.posts();
    const have = new Map(posts.map((p) => [p.id, p.title]));
    const acks = publishers.flatMap((p) => p.acks);
    const lost = acks.filter((a) => have.get(a.id) !== a.title);
    const notAcked = publishers.reduce((n, p) => n + p.failures.length, 0);
    process.stderr.write(
      `WordPress: ${acks.length} posts acknowledged, ${lost.length} lost, ${notAcked} not acknowledged (failed requests); ` +
        `primary ${old} killed ${kills} times, failed over to ${promoted} (longest pause between posts ${failoverGap} ms), ` +
        `switched over to ${target} (${switchoverGap} ms); local up -f to a served page ${(servedMs / 1000).toFixed(1)} s\n`,
    );
    expect(lost).toEqual([]);
    expect(new Set(acks.map((a) => a.id)).size).toBe(acks.length);

    // The home page lists the newest post: one published now, and the last one acknowledged.
    const newest = await s.publish("The newest post after the failover and switchover");
    if (!newest.ok) throw new Error(`the newest post was not published: ${newest.error}`);
    const home = await s.get("/");
    expect(home.status).toBe(200);
    expect(home.body).toContain(htmlTitle("The newest post after the failover and switchover"));
    const lastAck = acks.reduce((a, b) => (b.id > a.id ? b : a));
    expect(home.body).toContain(htmlTitle(lastAck.title));
  }, 600_000);

  it("the account reaches its own schema and nothing else", async () => {
    if (!db) throw new Error("no database account: the first step failed");
    const st = await status();
    const root = { ...serviceAddress(st, CLUSTER), user: st.credentials?.user ?? "root", password: st.credentials?.password ?? "" };
    await query(root, "CREATE DATABASE IF NOT EXISTS other", 10_000);
    await query(root, "CREATE TABLE IF NOT EXISTS other.secret (v VARCHAR(20))", 10_000);
    const app = { ...serviceAddress(st, CLUSTER), user: db.user, password: db.password };
    const schemas = await query<{ s: string } & RowDataPacket>(app, "SELECT schema_name AS s FROM information_schema.schemata ORDER BY 1");
    expect(schemas.map((r) => r.s)).toEqual(["information_schema", "wordpress"]);
    await expect(query(app, "SELECT User FROM mysql.user")).rejects.toThrow(/denied/i);
    await expect(query(app, "SELECT v FROM other.secret")).rejects.toThrow(/denied/i);
    await expect(query(app, "CREATE DATABASE intruder")).rejects.toThrow(/denied/i);
    await expect(query(app, `GRANT ALL PRIVILEGES ON other.* TO '${db.user}'@'%'`)).rejects.toThrow(/denied/i);
    process.stderr.write(`WordPress e2e total ${((Date.now() - startedAt) / 1000).toFixed(0)} s\n`);
  }, 60_000);
});

/** The longest pause between consecutive acknowledged posts from shortly before `t` on. */
function gapAround(acks: readonly Ack[], t: number): number {
  let best = 0;
  for (let i = 1; i < acks.length; i++) {
    const a = acks[i] as Ack;
    const prev = acks[i - 1] as Ack;
    if (a.at >= t - 1000) best = Math.max(best, a.at - prev.at);
  }
  return best;
}
