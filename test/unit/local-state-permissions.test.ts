/**
 * The local runtime's state is owner-only (issue 10, item 12): store.json holds the Secrets
 * (passwords), so it is written 0600 and the state dir is 0700, whatever the umask and also
 * when an older run left world-readable files behind.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ObjectStore } from "../../src/local/apiserver/store.js";
import { acquireLock, stateLayout, writeJsonAtomic } from "../../src/local/node/statedir.js";

const dirs: string[] = [];
const fresh = (): string => {
  const d = mkdtempSync(join(tmpdir(), "metamysql-perm-"));
  dirs.push(d);
  return d;
};
const mode = (p: string): number => statSync(p).mode & 0o777;

afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

const SECRET = {
  apiVersion: "v1",
  kind: "Secret",
  metadata: { name: "shop-credentials", namespace: "default" },
  stringData: { "root-password": "s3cret" },
};

describe("local state permissions", () => {
  it("store.json is 0600 in a 0700 dir it creates, even when a world-readable tmp file is left over", () => {
    const root = join(fresh(), "state");
    const file = join(root, "store.json");
    const store = new ObjectStore({ file });
    store.create(SECRET);
    store.flush();
    expect(mode(root)).toBe(0o700);
    expect(mode(file)).toBe(0o600);
    expect(readFileSync(file, "utf8")).toContain("shop-credentials");

    writeFileSync(`${file}.tmp`, "old", { mode: 0o644 });
    store.flush();
    expect(mode(file)).toBe(0o600);
  });

  it("the state dir becomes 0700 when the runtime takes it, and its JSON files are 0600", () => {
    const root = join(fresh(), "state");
    mkdirSync(root, { mode: 0o755 });
    const layout = stateLayout(root);
    const lock = acquireLock(layout);
    try {
      expect(mode(root)).toBe(0o700);
      writeJsonAtomic(layout.settingsFile, { ipPrefix: "127.0.0", servicePorts: {} });
      expect(mode(layout.settingsFile)).toBe(0o600);
    } finally {
      lock.release();
    }
  });
});
