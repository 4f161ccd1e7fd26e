/**
 * `npm run bench:hooks`: drives a running hook server over HTTP with concurrent sync requests
 * for a 3-instance cluster (observed children and pods, as Metacontroller sends them) and prints
 * requests/s and latency percentiles. Starts its own server on an ephemeral port unless
 * HOOK_URL is set. Bounded: DURATION_S seconds (default 10), CONCURRENCY (default 16).
 */
import http from "node:http";
import { spawn, type ChildProcess } from "node:child_process";
import { once } from "node:events";
import { asObserved, clusterObject, pod, syncRequest, type Obj } from "../test/helpers/metacontroller.js";

const DURATION_S = Number(process.env["DURATION_S"] ?? 10);
const CONCURRENCY = Number(process.env["CONCURRENCY"] ?? 16);
const WARMUP_S = 1;

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

async function main(): Promise<void> {
  const external = process.env["HOOK_URL"];
  // The server runs in its own process, as in production; the load generator is this one.
  let server: ChildProcess | undefined;
  let base = external ?? "";
  if (!external) {
    server = spawn(process.execPath, ["--import", "tsx", new URL("./serve.ts", import.meta.url).pathname], { stdio: ["ignore", "pipe", "inherit"] });
    const [chunk] = (await once(server.stdout!, "data")) as [Buffer];
    base = chunk.toString().trim();
  }
  const url = new URL(process.env["BENCH_PATH"] ?? "/hooks/mysqlcluster/sync", base);
  const agent = new http.Agent({ keepAlive: true, maxSockets: CONCURRENCY });

  // A realistic request per client: an existing 3-instance cluster with all its children and 3
  // ready pods. One cluster per client, since syncs of one cluster are serialized (as in
  // Metacontroller, which never syncs one parent twice at once).
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
  const body = bodies[0] ?? "";

  const latencies: number[] = [];
  let errors = 0;
  const warmupEnd = Date.now() + WARMUP_S * 1000;
  const end = warmupEnd + DURATION_S * 1000;
  let measuredStart = 0;
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
        if (measuredStart === 0) measuredStart = Date.now();
        latencies.push(ms);
      }
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, (_, w) => worker(w)));
  const elapsed = (Date.now() - measuredStart) / 1000;
  latencies.sort((a, b) => a - b);
  const line = (k: string, v: string) => console.log(`${k.padEnd(22)} ${v}`);
  console.log(`bench:hooks  sync of a 3-instance cluster, ${CONCURRENCY} concurrent clients, ${DURATION_S}s (+${WARMUP_S}s warm-up)`);
  line("request size", `${(Buffer.byteLength(body) / 1024).toFixed(1)} KiB`);
  line("requests", String(latencies.length));
  line("errors", String(errors));
  line("throughput", `${(latencies.length / elapsed).toFixed(0)} syncs/s`);
  line("latency p50", `${percentile(latencies, 50).toFixed(2)} ms`);
  line("latency p99", `${percentile(latencies, 99).toFixed(2)} ms`);
  line("latency max", `${(latencies[latencies.length - 1] ?? NaN).toFixed(2)} ms`);
  agent.destroy();
  if (server) {
    server.kill("SIGTERM");
    await once(server, "exit");
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});
