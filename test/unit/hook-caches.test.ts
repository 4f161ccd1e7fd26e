/**
 * The sync hook's memos (hooks/mysqlcluster/): the same answers as computing afresh, and
 * callers cannot corrupt them.
 */
import { describe, expect, it } from "vitest";
import { MySQLClusterSpecSchema, type Cluster } from "../../src/api/cluster.js";
import { renderConfig } from "../../src/render/children.js";
import { cachedConfig } from "../../hooks/mysqlcluster/config-cache.js";
import { cachedSpecParse } from "../../hooks/mysqlcluster/spec-cache.js";

describe("spec parse cache", () => {
  it.each([
    ["defaults", {}],
    ["full", { flavor: "mariadb", instances: 5, mysqlConfig: { max_connections: 10 }, memberWeights: { "1": 90 } }],
    ["invalid", { instances: 0, mysqlConfig: { server_id: 1 } }],
  ])("%s: same result as zod, on a miss and on a hit", (_n, raw) => {
    const zod = MySQLClusterSpecSchema.safeParse(raw);
    for (let i = 0; i < 2; i++) {
      const r = cachedSpecParse(JSON.parse(JSON.stringify(raw)));
      expect(r.success).toBe(zod.success);
      expect(r.success ? r.data : r.error.issues).toEqual(zod.success ? zod.data : zod.error.issues);
    }
  });
  it("a hit is a copy: mutating it does not change the next answer", () => {
    const a = cachedSpecParse({ flavor: "mysql" });
    if (a.success) a.data.instances = 9;
    const b = cachedSpecParse({ flavor: "mysql" });
    expect(b.success && b.data.instances).toBe(3);
  });
});

describe("config cache", () => {
  const cluster = (spec: object): Cluster => ({
    name: "shop",
    namespace: "ns",
    uid: "u",
    generation: 1,
    creationTimestamp: undefined,
    spec: MySQLClusterSpecSchema.parse(spec),
    status: {},
  });
  it("gives what render/ computes, and follows the spec", () => {
    for (const spec of [{ flavor: "mariadb" }, { flavor: "mariadb", mysqlConfig: { max_connections: 10 } }]) {
      expect(cachedConfig(cluster(spec))).toEqual(renderConfig(cluster(spec)));
      expect(cachedConfig(cluster(spec))).toEqual(renderConfig(cluster(spec)));
    }
  });
  it("is frozen: a caller cannot change what the next sync gets", () => {
    const c = cachedConfig(cluster({ flavor: "mysql" }));
    expect(Object.isFrozen(c.data)).toBe(true);
  });
});
