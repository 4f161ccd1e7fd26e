/**
 * Parts of the local runtime that touch the host: the object store's file, the state dir lock
 * (PIDs), the TCP proxy (sockets on loopback addresses) and the check for an installed database
 * server (runs its --version). Their pure neighbours are in test/unit/local-parts.test.ts.
 */
import { writeFileSync } from "node:fs";
import { createServer, connect, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";
import { ObjectStore } from "../../src/local/apiserver/store.js";
import { missingServerMessage } from "../../src/local/node/binaries.js";
import { acquireLock, stateLayout } from "../../src/local/node/statedir.js";
import { TcpProxy } from "../../src/local/proxy/proxy.js";
import { eventually, tempStateDir } from "../helpers/local.js";

describe("ObjectStore file", () => {
  it("persists to its file", () => {
    const file = join(tempStateDir("store"), "store.json");
    const store = new ObjectStore({ file });
    store.create({ apiVersion: "v1", kind: "ConfigMap", metadata: { name: "c" }, data: { a: "1" } });
    store.flush();
    expect(new ObjectStore({ file }).get("v1", "ConfigMap", "default", "c")?.data).toEqual({ a: "1" });
  });
});

describe("state dir lock", () => {
  it("refuses a second holder and takes over a stale lock", () => {
    const layout = stateLayout(tempStateDir("lock"));
    const lock = acquireLock(layout);
    // Same process holds it: a second acquire is refused with a clear message.
    expect(() => acquireLock(layout)).toThrow(/is in use by a running "metamysql local up"/);
    lock.release();
    // A lock left by a dead process is stale.
    writeFileSync(layout.lockFile, JSON.stringify({ pid: 2 ** 22 + 12345 }));
    acquireLock(layout).release();
  });
});

describe("TcpProxy", () => {
  const servers: Server[] = [];
  const echo = async (host: string, tag: string): Promise<number> => {
    const s = createServer((sock) => sock.end(tag));
    servers.push(s);
    await new Promise<void>((r) => s.listen(0, host, r));
    return (s.address() as { port: number }).port;
  };
  const read = (port: number): Promise<string> =>
    new Promise((resolve) => {
      let out = "";
      const c = connect({ host: "127.0.0.1", port });
      c.on("data", (d) => (out += d.toString()));
      c.on("close", () => resolve(out));
      c.on("error", () => resolve("error"));
    });
  afterAll(() => servers.forEach((s) => s.close()));

  it("round-robins over the backends, refuses without endpoints, keeps an established connection to a removed backend (kube-proxy) until a side closes it", async () => {
    const pa = await echo("127.20.3.2", "a");
    const pb = await echo("127.20.3.3", "b");
    const proxy = new TcpProxy();
    const port = await proxy.listen(0);
    expect(await read(port)).toBe("error");
    proxy.setBackends([
      { ip: "127.20.3.2", port: pa },
      { ip: "127.20.3.3", port: pb },
    ]);
    expect([await read(port), await read(port)].sort()).toEqual(["a", "b"]);

    const held: Socket[] = [];
    const hold = createServer((sock) => void held.push(sock));
    servers.push(hold);
    await new Promise<void>((r) => hold.listen(0, "127.20.3.4", r));
    proxy.setBackends([{ ip: "127.20.3.4", port: (hold.address() as { port: number }).port }]);
    const c = connect({ host: "127.0.0.1", port });
    const closed = new Promise<void>((r) => c.on("close", () => r()));
    c.on("error", () => undefined);
    await eventually(() => proxy.connections() === 1, 2000, "an open connection");
    proxy.setBackends([{ ip: "127.20.3.2", port: pa }]);
    // New connections go to the new endpoint; the established one still reaches the held backend.
    expect(await read(port)).toBe("a");
    expect(proxy.connections()).toBe(1);
    expect(proxy.connectionsToRemoved()).toBe(1);
    // The backend closing it (a crashed server) closes the client's side.
    hold.close();
    for (const s of held) s.destroy();
    await closed;
    expect(proxy.connections()).toBe(0);
    await proxy.close();
  });
});

describe("database server check", () => {
  it("names the missing server for a flavor", () => {
    expect(missingServerMessage("mariadb")).toBeUndefined();
    // On these machines mysqld is MariaDB's alias: flavor mysql must say so.
    expect(missingServerMessage("mysql")).toMatch(/flavor mysql needs MySQL Server/);
  });
});
