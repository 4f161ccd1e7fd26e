/**
 * `tsx bench/wire-snapshot.ts > FILE`: the raw HTTP answers (status line, headers, body; Date
 * masked) of the hook server to a new-cluster sync, an existing-cluster sync, an invalid spec
 * and malformed JSON, with pinned time and passwords. Diff two snapshots to prove a
 * performance change kept the responses byte for byte.
 */
import net from "node:net";
import { pino } from "pino";
import { EnvConfigSchema } from "../src/api/env.js";
import { startHookServer } from "../src/server/app.js";
import { asObserved, clusterObject, pod, syncRequest, type Obj } from "../test/helpers/metacontroller.js";
const s = await startHookServer({
  config: { ...EnvConfigSchema.parse({}), PORT: 0, HOST: "127.0.0.1", LOG_LEVEL: "silent" },
  logger: pino({ level: "silent" }),
  now: () => new Date("2026-11-01T12:00:00Z"),
  generatePassword: () => "p".repeat(32),
});
function raw(body: string, headers = "Content-Type: application/json\r\n", length = Buffer.byteLength(body)): Promise<string> {
  return new Promise((resolve) => {
    const c = net.connect(s.port, "127.0.0.1", () =>
      c.end(`POST /hooks/mysqlcluster/sync HTTP/1.1\r\nHost: x\r\n${headers}Content-Length: ${length}\r\nConnection: close\r\n\r\n${body}`),
    );
    let out = "";
    c.on("data", (d) => (out += d.toString()));
    c.on("end", () => resolve(out.replace(/^Date: .*\r\n/m, "Date: X\r\n")));
  });
}
const spec = { flavor: "mariadb", instances: 3 };
const a = await raw(JSON.stringify(syncRequest({ parent: clusterObject("shop", spec) })));
const first = JSON.parse(a.slice(a.indexOf("\r\n\r\n") + 4)) as { status: unknown; children: Obj[] };
const parent = clusterObject("shop", spec, { status: first.status });
const b = await raw(
  JSON.stringify(
    syncRequest({ parent, children: first.children.map((c, i) => asObserved(c, parent, i)), related: [0, 1, 2].map((i) => pod("shop", i, { ip: "" })) }),
  ),
);
const c = await raw(JSON.stringify(syncRequest({ parent: clusterObject("shop", { instances: 0 }) })));
const d = await raw("{bad");
const small = JSON.stringify(syncRequest({ parent: clusterObject("shop", spec) }));
const more = [
  await raw(""),
  await raw("   "),
  await raw('"a string"'),
  await raw("[1]"),
  await raw(`\uFEFF${small}`),
  await raw(small, "Content-Type: application/json; charset=utf-8\r\n"),
  await raw(small, "Content-Type: application/json; charset=UTF-8\r\n"),
  await raw(small, "Content-Type: application/json; charset=latin1\r\n"),
  await raw(small, "Content-Type: text/plain\r\n"),
  await raw(small, ""),
  await raw(small, "Content-Type: application/json\r\nContent-Encoding: gzip\r\n"),
  await raw("x".repeat(100), "Content-Type: application/json\r\n", 17 * 1024 * 1024),
];
process.stdout.write([a, b, c, d, ...more].join("\n=====\n"));
await s.close();
