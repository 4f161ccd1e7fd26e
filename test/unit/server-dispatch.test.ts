/**
 * The hook server's handler answers plain JSON hook requests without express (src/server.ts);
 * its answers must be the express app's, byte for byte: status, content type and length, body.
 */
import request from "supertest";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { createApp } from "../../src/server.js";
import { clusterObject, syncRequest } from "../helpers/metacontroller.js";

const silent = pino({ level: "silent" });
const NOW = new Date("2026-11-02T12:00:00Z");

/** Two identical servers (own counters, own metrics): one used through express, one through the handler. */
function pair(opts: { failing?: boolean } = {}) {
  const make = () => {
    let n = 0;
    return createApp({
      logger: silent,
      now: () => NOW,
      generatePassword: () => {
        if (opts.failing) throw new Error("entropy source unavailable");
        return `pw${++n}`;
      },
    });
  };
  return { viaExpress: make().app, viaHandler: make().handler };
}

const newCluster = JSON.stringify(syncRequest({ parent: clusterObject("shop", { flavor: "mariadb" }) }));
const CASES: Array<[string, string, string, string | undefined]> = [
  ["sync of a new cluster", "/hooks/mysqlcluster/sync", newCluster, "application/json"],
  ["charset utf-8", "/hooks/mysqlcluster/sync", newCluster, "application/json; charset=utf-8"],
  ["customize", "/hooks/mysqlcluster/customize", newCluster, "application/json"],
  ["finalize", "/hooks/mysqlcluster/finalize", JSON.stringify({ ...JSON.parse(newCluster), finalizing: true }), "application/json"],
  ["backup sync of a cluster body (400)", "/hooks/mysqlbackup/sync", newCluster, "application/json"],
  ["invalid spec", "/hooks/mysqlcluster/sync", JSON.stringify(syncRequest({ parent: clusterObject("shop", { instances: 0 }) })), "application/json"],
  ["malformed JSON", "/hooks/mysqlcluster/sync", "{bad", "application/json"],
  ["empty body", "/hooks/mysqlcluster/sync", "", "application/json"],
  ["not an object", "/hooks/mysqlcluster/sync", "[1]", "application/json"],
  ["BOM", "/hooks/mysqlcluster/sync", `\uFEFF${newCluster}`, "application/json"],
  ["text/plain (express path)", "/hooks/mysqlcluster/sync", newCluster, "text/plain"],
  ["trailing slash (express path)", "/hooks/mysqlcluster/sync/", newCluster, "application/json"],
  ["query string (express path)", "/hooks/mysqlcluster/sync?x=1", newCluster, "application/json"],
  ["unknown hook", "/hooks/mysqlcluster/nope", newCluster, "application/json"],
];

async function answer(target: Parameters<typeof request>[0], path: string, body: string, type: string | undefined) {
  const req = request(target).post(path);
  if (type) req.set("content-type", type);
  const res = await req.send(body);
  return { status: res.status, type: res.headers["content-type"], length: res.headers["content-length"], text: res.text };
}

describe("hook handler answers as the express app does", () => {
  it.each(CASES)("%s", async (_name, path, body, type) => {
    const { viaExpress, viaHandler } = pair();
    expect(await answer(viaHandler, path, body, type)).toEqual(await answer(viaExpress, path, body, type));
  });
  it("an internal failure: the same text 500", async () => {
    const { viaExpress, viaHandler } = pair({ failing: true });
    const a = await answer(viaHandler, "/hooks/mysqlcluster/sync", newCluster, "application/json");
    expect(a.status).toBe(500);
    expect(a).toEqual(await answer(viaExpress, "/hooks/mysqlcluster/sync", newCluster, "application/json"));
  });
  it("GET routes go to express", async () => {
    const { viaHandler } = pair();
    expect((await request(viaHandler).get("/healthz")).body).toEqual({ status: "ok" });
  });
});
