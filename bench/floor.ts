/**
 * The floor of `bench:hooks`: a bare node:http server (no express, no validation, no logic) that
 * reads a sync request, JSON.parses it and answers the observed children back with
 * JSON.stringify. What any hook server in Node must pay per request; prints its URL.
 */
import http from "node:http";
import type { AddressInfo } from "node:net";

type Groups = Record<string, Record<string, unknown> | null> | null | undefined;

/** The children of a sync request, flattened (Metacontroller's `children` map of maps). */
function observedChildren(groups: Groups): unknown[] {
  const out: unknown[] = [];
  for (const group of Object.values(groups ?? {})) for (const obj of Object.values(group ?? {})) out.push(obj);
  return out;
}

const server = http.createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on("data", (c: Buffer) => chunks.push(c));
  req.on("end", () => {
    const body = JSON.parse(Buffer.concat(chunks).toString("utf8")) as { parent?: { status?: unknown }; children?: Groups };
    const out = JSON.stringify({ status: body.parent?.status ?? {}, children: observedChildren(body.children) });
    res.writeHead(200, { "content-type": "application/json; charset=utf-8", "content-length": Buffer.byteLength(out) });
    res.end(out);
  });
});
server.keepAliveTimeout = 120_000;
server.on("connection", (socket) => socket.setNoDelay(true));
server.listen(0, "127.0.0.1", () => {
  process.stdout.write(`http://127.0.0.1:${(server.address() as AddressInfo).port}\n`);
});
process.on("SIGTERM", () => {
  server.close(() => process.exit(0));
  server.closeAllConnections();
});
