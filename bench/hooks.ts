/**
 * `npm run bench:hooks`: drives the hook server over HTTP with concurrent sync requests for a
 * 3-instance cluster (observed children and pods, as Metacontroller sends them) and prints
 * syncs/s and latency percentiles; then the same requests against the FLOOR (bench/floor.ts, a
 * bare node:http server that only JSON.parses the request and answers the children back),
 * and the ratio hook/floor. Each server runs in its own process, as in production; the load
 * generator is this one. Rounds alternate hook and floor so that machine noise hits both;
 * medians are printed. Bounded: ROUNDS (default 1) x 2 x DURATION_S seconds (default 10),
 * CONCURRENCY (default 16). On Linux it also prints each server's CPU time per request, which
 * machine load disturbs less than throughput. HOOK_URL measures a running hook server instead of starting one.
 */
import { readFileSync } from "node:fs";
import http from "node:http";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { asObserved, clusterObject, pod, syncRequest, type Obj } from "../test/helpers/metacontroller.js";

const DURATION_S = Number(process.env["DURATION_S"] ?? 10);
const CONCURRENCY = Number(process.env["CONCURRENCY"] ?? 16);
const ROUNDS = Number(process.env["ROUNDS"] ?? 1);
const WARMUP_S = 1;
const PATH = process.env["BENCH_PATH"] ?? "/hooks/mysqlcluster/sync";

function post(agent: http.Agent, url: URL, body: string): Promise<{ status: number; text: string }> {
  return new Promise((resolve, reject) => {
    const req = http.request(
      url,
      { method: "POST", agent, headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) }, timeout: 10_000 },
      (res) => {
        const chunks: Buffer[] = [];
        res.on("data", (c: Buffer) => chunks.push(c));
        res.on("end", () => resolve({ status: res.statusCode ?? 0, text: Buffer.concat(chunks).toString() }));
      },
    );
    req.on("socket", (socket) => socket.setNoDelay(true));
    req.on("error", reject);
    req.on("timeout", () => req.destroy(new Error("timeout")));
    req.end(body);
  });
}

function percentile(sorted: number[], p: number): number {
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] ?? NaN;
}

function median(values: number[]): number {
  const s = [...values].sort((a, b) => a - b);
  const mid = Math.floor(s.length / 2);
  return s.length % 2 ? (s[mid] ?? NaN) : ((s[mid - 1] ?? NaN) + (s[mid] ?? NaN)) / 2;
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc (Linux); undefined
 * elsewhere. CPU per request is what the server costs regardless of how busy the machine is.
 */
function cpuSeconds(pid: number | undefined): number | undefined {
  if (pid === undefined) return undefined;
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, "utf8");
    const fields = stat.slice(stat.lastIndexOf(")") + 2).split(" ");
    return (Number(fields[11]) + Number(fields[12])) / 100; // utime, stime in clock ticks (USER_HZ = 100)
  } catch {
    return undefined;
  }
}

interface Server {
  url: string;
  pid: number | undefined;
  stop: () => Promise<void>;
}

/** A server process started from a bench/ script that prints its URL on the first line. */
async function startServer(script: string): Promise<Server> {
  const child: ChildProcess = spawn(process.execPath, ["--import", "tsx", new URL(script, import.meta.url).pathname], { stdio: ["ignore", "pipe", "inherit"] });
  const [chunk] = (await once(child.stdout!, "data")) as [Buffer];
  return {
    url: chunk.toString().trim(),
    pid: child.pid,
    stop: async () => {
      child.kill("SIGTERM");
      if (child.exitCode === null) await once(child, "exit");
    },
  };
}

interface Result {
  requests: number;
  errors: number;
  throughput: number;
  p50: number;
  p99: number;
  max: number;
  /** Server CPU milliseconds per request (Linux only). */
  cpuMs: number;
}

/** CONCURRENCY clients, each posting its own body in a loop, for WARMUP_S + DURATION_S. */
async function measure(server: Server, path: string, bodies: readonly string[]): Promise<Result> {
  const url = new URL(path, server.url);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });
  const latencies: number[] = [];
  let errors = 0;
  const warmupEnd = Date.now() + WARMUP_S * 1000;
  const end = warmupEnd + DURATION_S * 1000;
  let measuredStart = 0;
  let cpuStart: number | undefined;
  const worker = async (w: number) => {
    const body = bodies[w] ?? "";
    while (Date.now() < end) {
      const t0 = process.hrtime.bigint();
      try {
        const res = await post(agent, url, body);
        if (res.status !== 200) errors++;
      } catch {
        errors++;
      }
      const ms = Number(process.hrtime.bigint() - t0) / 1e6;
      if (Date.now() >= warmupEnd) {
        if (measuredStart === 0) {
          measuredStart = Date.now();
          cpuStart = cpuSeconds(server.pid);
        }
        latencies.push(ms);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  const elapsed = (Date.now() - measuredStart) / 1000;
  const cpuEnd = cpuSeconds(server.pid);
  agent.destroy();
  latencies.sort((a, b) => a - b);
  return {
    requests: latencies.length,
    errors,
    throughput: latencies.length / elapsed,
    p50: percentile(latencies, 50),
    p99: percentile(latencies, 99),
    max: latencies[latencies.length - 1] ?? NaN,
    cpuMs: cpuStart === undefined || cpuEnd === undefined ? NaN : ((cpuEnd - cpuStart) * 1000) / latencies.length,
  };
}

/**
 * A realistic request per client: an existing 3-instance cluster with all its children (as
 * the hook rendered them) and 3 ready pods. One cluster per client, since syncs of one cluster
 * are serialized (as in Metacontroller, which never syncs one parent twice at once).
 */
async function buildBodies(url: URL): Promise<string[]> {
  const agent = new http.Agent({ keepAlive: true });
  const spec = { flavor: "mariadb", instances: 3, storage: { size: "10Gi" } };
  const bodies: string[] = [];
  for (let w = 0; w < CONCURRENCY; w++) {
    const name = `shop${w}`;
    const first = await post(agent, url, JSON.stringify(syncRequest({ parent: clusterObject(name, spec) })));
    if (first.status !== 200) throw new Error(`first sync failed: ${first.status} ${first.text}`);
    const firstBody = JSON.parse(first.text) as { status: unknown; children: Obj[] };
    const parent = clusterObject(name, spec, { status: firstBody.status });
    bodies.push(
      JSON.stringify(
        syncRequest({ parent, children: firstBody.children.map((c, i) => asObserved(c, parent, i)), related: [0, 1, 2].map((i) => pod(name, i, { ip: "" })) }),
      ),
    );
  }
  agent.destroy();
  return bodies;
}

async function main(): Promise<void> {
  const external = process.env["HOOK_URL"];
  const hook: Server = external ? { url: external, pid: undefined, stop: async () => {} } : await startServer("./serve.ts");
  const floor = await startServer("./floor.ts");
  try {
    const bodies = await buildBodies(new URL(PATH, hook.url));
    const hooks: Result[] = [];
    const floors: Result[] = [];
    for (let r = 0; r < ROUNDS; r++) {
      hooks.push(await measure(hook, PATH, bodies));
      floors.push(await measure(floor, PATH, bodies));
    }
    const line = (k: string, v: string) => console.log(`${k.padEnd(22)} ${v}`);
    const col = (rs: Result[], f: (r: Result) => number, digits: number) =>
      `${median(rs.map(f)).toFixed(digits).padStart(10)}${rs.length > 1 ? `   (${rs.map((x) => f(x).toFixed(digits)).join(", ")})` : ""}`;
    console.log(`bench:hooks  sync of a 3-instance cluster, ${CONCURRENCY} concurrent clients, ${ROUNDS} x ${DURATION_S}s (+${WARMUP_S}s warm-up) per server`);
    line("request size", `${(Buffer.byteLength(bodies[0] ?? "") / 1024).toFixed(1)} KiB`);
    for (const [name, rs] of [
      ["hook", hooks],
      ["floor (bare node:http)", floors],
    ] as const) {
      console.log(name);
      line(
        "  requests",
        col(rs, (r) => r.requests, 0),
      );
      line(
        "  errors",
        col(rs, (r) => r.errors, 0),
      );
      line(
        "  throughput syncs/s",
        col(rs, (r) => r.throughput, 0),
      );
      line(
        "  latency p50 ms",
        col(rs, (r) => r.p50, 2),
      );
      line(
        "  latency p99 ms",
        col(rs, (r) => r.p99, 2),
      );
      line(
        "  latency max ms",
        col(rs, (r) => r.max, 2),
      );
      line(
        "  server CPU ms/sync",
        col(rs, (r) => r.cpuMs, 3),
      );
    }
    const ratios = hooks.map((h, i) => h.throughput / (floors[i]?.throughput ?? NaN));
    line("ratio hook/floor", `${median(ratios).toFixed(2)}${ratios.length > 1 ? `   (${ratios.map((x) => x.toFixed(2)).join(", ")})` : ""}   throughput`);
    // CPU per request is steadier than throughput on a shared machine: floor CPU / hook CPU.
    const cpuRatios = hooks.map((h, i) => (floors[i]?.cpuMs ?? NaN) / h.cpuMs);
    line(
      "ratio floor/hook CPU",
      `${median(cpuRatios).toFixed(2)}${cpuRatios.length > 1 ? `   (${cpuRatios.map((x) => x.toFixed(2)).join(", ")})` : ""}   server CPU per sync`,
    );
  } finally {
    await hook.stop();
    await floor.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
