/**
 * The agent's `POST /rebuild` (src/agent/server.ts, rebuild.ts; docs/clustering.md "Automatic
 * rebuild"), on a loopback port with a temp data dir: the token is required, the request is
 * validated, the tail must be saved before the rebuild marker is written (no binary logs: 500 and
 * no marker), a request without a range (purged binary logs) writes the marker, and repeated
 * requests answer the same without saving again. The save itself with real binary logs is
 * covered end to end (test/e2e/rebuild.test.ts).
 */
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import type { AddressInfo } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Server } from "node:http";
import { afterEach, beforeEach, describe, expect, it } from "vitest";
import { binlogFiles } from "../../src/agent/rebuild.js";
import { startAgentServer } from "../../src/agent/server.js";

let dir: string;
let server: Server;
let port: number;

beforeEach(async () => {
  dir = mkdtempSync(join(tmpdir(), "mm-agent-rebuild-"));
  writeFileSync(join(dir, "token"), "the-token");
  mkdirSync(join(dir, "data"));
  server = await startAgentServer({
    address: "127.0.0.1",
    port: 0,
    flavor: "mariadb",
    tokenFile: join(dir, "token"),
    dataDir: join(dir, "data"),
    socket: join(dir, "none.sock"),
    myCnf: undefined,
    backupUser: "metamysql_backup",
    backupPasswordFile: join(dir, "none"),
    tmpDir: dir,
    mariadbBackup: "false",
    mariadbBinlog: "mariadb-binlog",
    log: () => undefined,
  });
  port = (server.address() as AddressInfo).port;
});

afterEach(async () => {
  await new Promise<void>((resolve) => server.close(() => resolve()));
  rmSync(dir, { recursive: true, force: true });
});

async function post(body: unknown, token = "the-token"): Promise<{ status: number; text: string }> {
  const res = await fetch(`http://127.0.0.1:${port}/rebuild`, {
    method: "POST",
    headers: { Authorization: `Bearer ${token}`, "Content-Type": "application/json" },
    body: JSON.stringify(body),
  });
  return { status: res.status, text: await res.text() };
}

const marker = () => join(dir, "data", ".metamysql-rebuild");
const save = { start: "0-100-50", stop: "0-100-53", serverId: 100 };
const savedFile = ".metamysql-saved/errant-0-100-53.sql";

describe("POST /rebuild", () => {
  it("refuses a wrong token and writes nothing", async () => {
    expect((await post({}, "wrong")).status).toBe(401);
    expect(existsSync(marker())).toBe(false);
  });

  it("refuses a malformed request: bad GTIDs, a file outside the saved dir, a range without a file", async () => {
    expect((await post({ save: { ...save, stop: "0-100-53;DROP" }, savedFile })).status).toBe(400);
    expect((await post({ save, savedFile: "../../etc/passwd" })).status).toBe(400);
    expect((await post({ save })).status).toBe(400);
    expect(existsSync(marker())).toBe(false);
  });

  it("does not rebuild when the tail cannot be saved (no binary logs): 500, no marker", async () => {
    const r = await post({ save, savedFile });
    expect(r.status).toBe(500);
    expect(r.text).toContain("could not save");
    expect(existsSync(marker())).toBe(false);
    expect(existsSync(join(dir, "data", savedFile))).toBe(false);
  });

  it("without a range (purged binary logs) writes the marker; a repeated request answers the same", async () => {
    const first = await post({});
    expect(first.status).toBe(202);
    expect(JSON.parse(first.text)).toEqual({ state: "rebuilding" });
    expect(existsSync(marker())).toBe(true);
    const again = await post({ save, savedFile });
    expect(again.status).toBe(202);
    expect(JSON.parse(again.text)).toEqual({ state: "rebuilding" });
    expect(readFileSync(marker(), "utf8").trim()).toBe("");
  });

  it("reads the binary logs in the index's order, relative to the data dir", () => {
    writeFileSync(join(dir, "data", "mysql-bin.index"), "./mysql-bin.000001\n./mysql-bin.000002\n");
    expect(binlogFiles(join(dir, "data"))).toEqual([join(dir, "data", "mysql-bin.000001"), join(dir, "data", "mysql-bin.000002")]);
  });
});
