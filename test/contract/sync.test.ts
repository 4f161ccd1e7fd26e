/**
 * Contract tests: Metacontroller-shaped requests posted over real HTTP (supertest) to the hook
 * server. No Kubernetes API server runs here; requests are built like Metacontroller's.
 */
import request from "supertest";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { createApp } from "../../src/server/app.js";
import { EnvConfigSchema } from "../../src/api/env.js";
import { asObserved, clusterObject, newClusterChildren, pod, syncRequest, type Obj } from "../helpers/metacontroller.js";
import { validateKubeObject } from "../helpers/kube-schema.js";

const silent = pino({ level: "silent" });
const NOW = new Date("2026-11-02T12:00:00Z");
let counter = 0;
const app = createApp({ logger: silent, now: () => NOW, generatePassword: () => `pw${++counter}` }).app;
const realApp = createApp({ logger: silent }).app;

const SPEC = { flavor: "mariadb", instances: 3, storage: { size: "1Gi" } };

async function sync(body: unknown, target = app) {
  return request(target)
    .post("/hooks/mysqlcluster/sync")
    .send(body as object)
    .set("content-type", "application/json");
}

/** A cluster that has been synced once: its children as observed and its status. */
async function existingCluster(spec: unknown = SPEC): Promise<{ parent: Obj; children: Obj[] }> {
  const first = await sync(syncRequest({ parent: clusterObject("shop", spec) }));
  expect(first.status).toBe(200);
  const parent = clusterObject("shop", spec, { status: first.body.status });
  const children = (first.body.children as Obj[]).map((c, i) => asObserved(c, parent, i));
  return { parent, children };
}

describe("sync: new cluster", () => {
  it("renders every child with the contract's names and reports Initializing", async () => {
    const res = await sync(syncRequest({ parent: clusterObject("shop", SPEC) }));
    expect(res.status).toBe(200);
    const names = (res.body.children as Obj[]).map((c) => `${c.kind}/${c.metadata.name}`);
    expect(names).toEqual(newClusterChildren("shop"));
    expect(res.body.status.state).toBe("Initializing");
    expect(res.body.status.currentPrimary).toBeUndefined();
    expect(res.body.status.endpoints).toEqual({ readWrite: "shop.shop-ns.svc:3306", readOnly: "shop-ro.shop-ns.svc:3306" });
    const specValid = res.body.status.conditions.find((c: { type: string }) => c.type === "SpecValid");
    expect(specValid.status).toBe("True");
    // Only fields a v2 hook may return (Metacontroller parses v2 responses strictly).
    expect(Object.keys(res.body).sort()).toEqual(["children", "resyncAfterSeconds", "status"]);
    expect(res.body.resyncAfterSeconds).toBeGreaterThan(0);
  });

  it("returns only objects that validate against the Kubernetes OpenAPI schemas", async () => {
    for (const spec of [
      SPEC,
      { flavor: "mysql" },
      { flavor: "mysql", resources: { requests: { cpu: "1000m", memory: "1Gi" } }, service: { type: "LoadBalancer", annotations: { a: "b" } } },
    ]) {
      const res = await sync(syncRequest({ parent: clusterObject("shop", spec) }));
      expect(res.status).toBe(200);
      for (const child of res.body.children as Obj[]) validateKubeObject(child);
    }
  });

  it("generates passwords from the injected generator once, for each key", async () => {
    const res = await sync(syncRequest({ parent: clusterObject("shop", SPEC) }), realApp);
    const secret = (res.body.children as Obj[]).find((c) => c.kind === "Secret") as Obj & { data: Record<string, string> };
    const values = Object.values(secret.data).map((v) => Buffer.from(v, "base64").toString());
    expect(Object.keys(secret.data).sort()).toEqual(["operator-password", "replication-password", "root-password"]);
    expect(new Set(values).size).toBe(3);
    for (const v of values) expect(v).toMatch(/^[A-Za-z0-9]{32}$/);
  });

  it("reports instances from the observed pods; a pod whose server cannot be probed is not ready", async () => {
    const { parent, children } = await existingCluster();
    // Nothing listens on the pods' loopback addresses: the probe is refused, which is data.
    const res = await sync(syncRequest({ parent, children, related: [pod("shop", 0), pod("shop", 1, { ready: false })] }));
    expect(res.status).toBe(200);
    const instances = res.body.status.instances as Array<{ name: string; ready: boolean; role: string; weight: number; message?: string }>;
    expect(instances.map((i) => [i.name, i.ready, i.role, i.weight])).toEqual([
      ["shop-0", false, "pending", 50],
      ["shop-1", false, "pending", 50],
      ["shop-2", false, "pending", 50],
    ]);
    expect(instances[0]?.message).toMatch(/ECONNREFUSED|refused/i);
    expect(instances[2]?.message).toMatch(/pod/);
    expect(res.body.status.state).toBe("Initializing");
    expect(res.body.status.readyInstances).toBe(0);
  });
});

describe("sync: existing cluster", () => {
  it("keeps the observed Secret's passwords", async () => {
    const { parent, children } = await existingCluster();
    const observedSecret = children.find((c) => c.kind === "Secret") as Obj & { data: Record<string, string> };
    const res = await sync(syncRequest({ parent, children }), realApp);
    const secret = (res.body.children as Obj[]).find((c) => c.kind === "Secret") as Obj & { data: Record<string, string> };
    expect(secret.data).toEqual(observedSecret.data);
  });

  it("answers the same request twice with byte-identical bodies (real clock, real generator)", async () => {
    const { parent, children } = await existingCluster();
    const body = syncRequest({ parent, children, related: [pod("shop", 0), pod("shop", 1), pod("shop", 2)] });
    const a = await sync(body, realApp);
    const b = await sync(body, realApp);
    expect(a.status).toBe(200);
    expect(a.text).toBe(b.text);
  });

  it("gives the same answer for hook v1 (name) and v2 (namespace/name) keys", async () => {
    const { parent, children } = await existingCluster();
    const related = [pod("shop", 0), pod("shop", 1)];
    const v1 = await sync(syncRequest({ parent, children, related, version: "v1" }));
    const v2 = await sync(syncRequest({ parent, children, related, version: "v2" }));
    expect(v1.status).toBe(200);
    expect(v1.text).toBe(v2.text);
  });

  it("never changes the StatefulSet's immutable fields (claim templates are sent back as observed)", async () => {
    const { parent, children } = await existingCluster();
    const grown = clusterObject("shop", { ...SPEC, storage: { size: "2Gi" } }, { status: parent["status"] });
    const res = await sync(syncRequest({ parent: grown, children }));
    const sts = (res.body.children as Obj[]).find((c) => c.kind === "StatefulSet") as Obj & { spec: Record<string, unknown> };
    const observed = children.find((c) => c.kind === "StatefulSet") as Obj & { spec: Record<string, unknown> };
    expect(sts.spec["volumeClaimTemplates"]).toEqual(observed.spec["volumeClaimTemplates"]);
    expect(sts.spec["selector"]).toEqual(observed.spec["selector"]);
    expect(sts.spec["serviceName"]).toEqual(observed.spec["serviceName"]);
  });
});

/** What Metacontroller last applied of each observed child. */
function lastAppliedOf(children: readonly Obj[]): Obj[] {
  return children.map(
    (c) => JSON.parse((c.metadata["annotations"] as Record<string, string>)["metacontroller.k8s.io/last-applied-configuration"] ?? "{}") as Obj,
  );
}

function sorted(objs: readonly Obj[]): Obj[] {
  return [...objs].sort((a, b) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`));
}

describe("sync: NetworkPolicy <c> admits the hook pods of the namespace the hook server is configured with", () => {
  it("OPERATOR_NAMESPACE from the env config reaches the rendered policy", async () => {
    const config = EnvConfigSchema.parse({ OPERATOR_NAMESPACE: "dbops" });
    const configured = createApp({ logger: silent, config }).app;
    const res = await sync(syncRequest({ parent: clusterObject("shop", SPEC) }), configured);
    expect(res.status).toBe(200);
    const np = (res.body.children as Obj[]).find((c) => c.kind === "NetworkPolicy");
    const hookRule = JSON.stringify(np?.["spec"]);
    expect(hookRule).toContain('"kubernetes.io/metadata.name":"dbops"');
    expect(hookRule).not.toContain("metamysql-system");
  });
});

describe("sync: invalid spec or forbidden change -> 200, Invalid, children unchanged", () => {
  const cases: Array<{ name: string; spec: unknown; path: string; option?: string }> = [
    { name: "instances below range", spec: { ...SPEC, instances: 0 }, path: "spec.instances" },
    { name: "instances above range", spec: { ...SPEC, instances: 10 }, path: "spec.instances" },
    { name: "unknown flavor", spec: { ...SPEC, flavor: "postgres" }, path: "spec.flavor" },
    { name: "flavor changed", spec: { ...SPEC, flavor: "mysql" }, path: "spec.flavor" },
    { name: "storage class changed", spec: { ...SPEC, storage: { size: "1Gi", storageClassName: "fast" } }, path: "spec.storage.storageClassName" },
    { name: "storage shrunk", spec: { ...SPEC, storage: { size: "512Mi" } }, path: "spec.storage.size" },
    // The servers hold the passwords of the Secret they started with (issue 10, found by the property tests).
    { name: "credentials Secret switched", spec: { ...SPEC, credentialsSecretName: "mine" }, path: "spec.credentialsSecretName" },
    { name: "bad quantity", spec: { ...SPEC, storage: { size: "lots" } }, path: "spec.storage.size" },
    { name: "operator-owned server_id", spec: { ...SPEC, mysqlConfig: { server_id: 7 } }, path: "spec.mysqlConfig.server_id" },
    { name: "operator-owned log-bin (dashes)", spec: { ...SPEC, mysqlConfig: { "log-bin": "x" } }, path: "spec.mysqlConfig.log-bin" },
    { name: "operator-owned gtid option", spec: { ...SPEC, mysqlConfig: { gtid_strict_mode: "OFF" } }, path: "spec.mysqlConfig.gtid_strict_mode" },
    { name: "operator-owned read_only", spec: { ...SPEC, mysqlConfig: { read_only: "OFF" } }, path: "spec.mysqlConfig.read_only" },
    {
      name: "operator-owned semi-sync",
      spec: { ...SPEC, mysqlConfig: { rpl_semi_sync_master_timeout: 1 } },
      path: "spec.mysqlConfig.rpl_semi_sync_master_timeout",
    },
    // issue 10: prefixes the server strips cannot reach an owned or code-loading option
    { name: "loose_read_only", spec: { ...SPEC, mysqlConfig: { loose_read_only: "OFF" } }, path: "spec.mysqlConfig.loose_read_only", option: `"read_only"` },
    { name: "skip_log_bin", spec: { ...SPEC, mysqlConfig: { skip_log_bin: "ON" } }, path: "spec.mysqlConfig.skip_log_bin", option: `"log_bin"` },
    {
      name: "loose_gtid_strict_mode",
      spec: { ...SPEC, mysqlConfig: { loose_gtid_strict_mode: "OFF" } },
      path: "spec.mysqlConfig.loose_gtid_strict_mode",
      option: `"gtid_strict_mode"`,
    },
    {
      name: "loose_init_file",
      spec: { ...SPEC, mysqlConfig: { loose_init_file: "/tmp/x.sql" } },
      path: "spec.mysqlConfig.loose_init_file",
      option: `"init_file"`,
    },
    {
      name: "loose-skip-log-bin",
      spec: { ...SPEC, mysqlConfig: { "loose-skip-log-bin": "ON" } },
      path: "spec.mysqlConfig.loose-skip-log-bin",
      option: `"log_bin"`,
    },
    {
      name: "init_connect",
      spec: { ...SPEC, mysqlConfig: { init_connect: "DROP DATABASE x" } },
      path: "spec.mysqlConfig.init_connect",
      option: `"init_connect"`,
    },
    {
      name: "plugin_load_add",
      spec: { ...SPEC, mysqlConfig: { plugin_load_add: "evil.so" } },
      path: "spec.mysqlConfig.plugin_load_add",
      option: `"plugin_load_add"`,
    },
    {
      name: "read_onl (MariaDB prefix matching)",
      spec: { ...SPEC, mysqlConfig: { read_onl: "OFF" } },
      path: "spec.mysqlConfig.read_onl",
      option: `"read_only"`,
    },
    { name: "weight for a missing ordinal", spec: { ...SPEC, memberWeights: { "5": 10 } }, path: "spec.memberWeights.5" },
    { name: "all weights zero", spec: { ...SPEC, instances: 1, memberWeights: { "0": 0 } }, path: "spec.memberWeights" },
    { name: "weight out of range", spec: { ...SPEC, memberWeights: { "0": 101 } }, path: "spec.memberWeights.0" },
    {
      name: "patch that does not apply",
      spec: { ...SPEC, patches: [{ target: { kind: "StatefulSet" }, patch: [{ op: "remove", path: "/spec/nope" }] }] },
      path: "spec.patches[0]",
    },
    // issue 10: network policy clients, digests, and patches of the NetworkPolicy
    {
      name: "network policy client with ipBlock and a selector",
      spec: { ...SPEC, networkPolicy: { clients: [{ podSelector: {}, ipBlock: { cidr: "10.0.0.0/8" } }] } },
      path: "spec.networkPolicy.clients[0].ipBlock",
    },
    {
      name: "network policy client with a bad label value",
      spec: { ...SPEC, networkPolicy: { clients: [{ podSelector: { matchLabels: { app: "a b" } } }] } },
      path: "spec.networkPolicy.clients[0].podSelector.matchLabels.app",
    },
    { name: "truncated image digest", spec: { ...SPEC, image: `mariadb@sha256:${"0".repeat(63)}` }, path: "spec.image" },
    {
      name: "patch that widens the NetworkPolicy to every pod of the namespace",
      spec: { ...SPEC, patches: [{ target: { kind: "NetworkPolicy" }, patch: [{ op: "replace", path: "/spec/podSelector", value: {} }] }] },
      path: "spec.patches[0]",
      option: "network policy: pod selector",
    },
    {
      name: "patch for a kind that is not rendered",
      spec: { ...SPEC, patches: [{ target: { kind: "Deployment" }, patch: [{ op: "add", path: "/x", value: 1 }] }] },
      path: "spec.patches[0]",
    },
  ];
  for (const tc of cases) {
    it(tc.name, async () => {
      const { parent, children } = await existingCluster();
      const bad = clusterObject("shop", tc.spec, { status: parent["status"], generation: 2 });
      const res = await sync(syncRequest({ parent: bad, children, related: [pod("shop", 0)] }));
      expect(res.status).toBe(200);
      expect(res.body.status.state).toBe("Invalid");
      const cond = res.body.status.conditions.find((c: { type: string }) => c.type === "SpecValid");
      expect(cond.status).toBe("False");
      expect(cond.message).toContain(tc.path);
      if (tc.option !== undefined) expect(cond.message).toContain(tc.option);
      // Every observed child is returned exactly as last applied: nothing deleted or modified.
      const lastApplied = children.map((c) =>
        JSON.parse((c.metadata["annotations"] as Record<string, string>)["metacontroller.k8s.io/last-applied-configuration"] ?? "{}"),
      );
      const byKey = (a: Obj, b: Obj) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);
      expect([...(res.body.children as Obj[])].sort(byKey)).toEqual([...(lastApplied as Obj[])].sort(byKey));
      // The previous status (the decision about the primary, instances) is kept.
      expect(res.body.status.endpoints).toEqual((parent["status"] as Record<string, unknown>)["endpoints"]);
    });
  }

  it("the ConfigMap records the last valid spec, and an invalid spec leaves it so", async () => {
    const { parent, children } = await existingCluster();
    const cm = children.find((c) => c.kind === "ConfigMap");
    const recorded = JSON.parse((cm?.metadata["annotations"] as Record<string, string>)["metamysql.dev/spec"] ?? "{}") as Record<string, unknown>;
    expect(recorded).toMatchObject(SPEC);
    const bad = clusterObject("shop", { ...SPEC, instances: 2, mysqlConfig: { read_only: "OFF" } }, { status: parent["status"], generation: 2 });
    const res = await sync(syncRequest({ parent: bad, children, related: [pod("shop", 0), pod("shop", 1), pod("shop", 2)] }));
    expect(res.body.status.state).toBe("Invalid");
    const out = (res.body.children as Obj[]).find((c) => c.kind === "ConfigMap");
    expect(JSON.parse((out?.metadata["annotations"] as Record<string, string>)["metamysql.dev/spec"] ?? "{}")).toEqual(recorded);
    // Observed now, on the last valid spec (3 instances; their pods exist but no server answers
    // here), not kept from the previous status (no pods then) nor taken from the invalid spec.
    const instances = res.body.status.instances as Array<{ name: string; message?: string }>;
    expect(instances.map((i) => i.name)).toEqual(["shop-0", "shop-1", "shop-2"]);
    expect(instances.map((i) => i.message)).not.toContain("pod not created yet");
  });

  it("disabling the NetworkPolicy omits it (Metacontroller deletes it); the rest is unchanged", async () => {
    const { parent, children } = await existingCluster();
    const off = clusterObject("shop", { ...SPEC, networkPolicy: { enabled: false } }, { status: parent["status"], generation: 2 });
    const res = await sync(syncRequest({ parent: off, children, related: [pod("shop", 0)] }));
    expect(res.status).toBe(200);
    const names = (res.body.children as Obj[]).map((c) => `${c.kind}/${c.metadata.name}`);
    expect(names).toEqual(newClusterChildren("shop").filter((n) => n !== "NetworkPolicy/shop"));
  });

  it("an invalid spec on a new cluster creates nothing", async () => {
    const res = await sync(syncRequest({ parent: clusterObject("shop", { instances: 0 }) }));
    expect(res.status).toBe(200);
    expect(res.body.status.state).toBe("Invalid");
    expect(res.body.children).toEqual([]);
  });

  it("observed children without a last-applied annotation come back without server-owned fields", async () => {
    const { children } = await existingCluster();
    const bare = children.map((c) => {
      const copy = structuredClone(c);
      delete (copy.metadata["annotations"] as Record<string, string>)["metacontroller.k8s.io/last-applied-configuration"];
      return copy;
    });
    const res = await sync(syncRequest({ parent: clusterObject("shop", { instances: 0 }), children: bare }));
    expect(res.body.children).toHaveLength(bare.length);
    for (const c of res.body.children as Obj[]) {
      expect(c.metadata["uid"]).toBeUndefined();
      expect(c.metadata["resourceVersion"]).toBeUndefined();
      expect(c["status"]).toBeUndefined();
    }
  });
});

describe("malformed requests -> 400 with a JSON error", () => {
  const cases: Array<{ name: string; body: string }> = [
    { name: "not JSON", body: "{nope" },
    { name: "a JSON array", body: "[]" },
    { name: "no parent", body: JSON.stringify({ children: {} }) },
    { name: "parent of another kind", body: JSON.stringify({ parent: { apiVersion: "v1", kind: "ConfigMap", metadata: { name: "x" } } }) },
    { name: "children not an object", body: JSON.stringify({ parent: clusterObject("shop", SPEC), children: "x" }) },
    {
      name: "a child without metadata.name",
      body: JSON.stringify({ parent: clusterObject("shop", SPEC), children: { "Secret.v1": { a: { apiVersion: "v1", kind: "Secret", metadata: {} } } } }),
    },
  ];
  for (const tc of cases) {
    it(tc.name, async () => {
      const res = await request(app).post("/hooks/mysqlcluster/sync").set("content-type", "application/json").send(tc.body);
      expect(res.status).toBe(400);
      expect(res.headers["content-type"]).toMatch(/json/);
      expect(typeof res.body.error).toBe("string");
    });
  }
});

describe("internal errors -> 500 with a reason, never a partial list", () => {
  it("a failing password generator gives a text 500", async () => {
    const failing = createApp({
      logger: silent,
      generatePassword: () => {
        throw new Error("entropy source unavailable");
      },
    }).app;
    const res = await sync(syncRequest({ parent: clusterObject("shop", SPEC) }), failing);
    expect(res.status).toBe(500);
    expect(res.text).toContain("entropy source unavailable");
  });
});

describe("finalize", () => {
  it("removes the StatefulSet first and keeps the rest while pods stop", async () => {
    const { parent, children } = await existingCluster();
    const res = await request(app)
      .post("/hooks/mysqlcluster/finalize")
      .send(syncRequest({ parent, children, related: [pod("shop", 0, { terminating: true })], finalizing: true }));
    expect(res.status).toBe(200);
    expect(res.body.finalized).toBe(false);
    expect((res.body.children as Obj[]).map((c) => c.kind)).not.toContain("StatefulSet");
    expect((res.body.children as Obj[]).length).toBe(children.length - 1);
    expect(res.body.resyncAfterSeconds).toBeGreaterThan(0);
  });

  it("reports finalized once no StatefulSet and no pod is left", async () => {
    const { parent, children } = await existingCluster();
    const rest = children.filter((c) => c.kind !== "StatefulSet");
    const res = await request(app)
      .post("/hooks/mysqlcluster/finalize")
      .send(syncRequest({ parent, children: rest, finalizing: true }));
    expect(res.body.finalized).toBe(true);
    expect(res.body.children).toEqual([]);
  });

  it("called without finalizing, returns every observed child unchanged and never finalized", async () => {
    const { parent, children } = await existingCluster();
    const res = await request(app)
      .post("/hooks/mysqlcluster/finalize")
      .send(syncRequest({ parent, children, related: [pod("shop", 0)], finalizing: false }));
    expect(res.status).toBe(200);
    expect(res.body.finalized).not.toBe(true);
    expect(sorted(res.body.children as Obj[])).toEqual(sorted(lastAppliedOf(children)));
    // Nothing left either: still not finalized, nothing returned that was not there.
    const empty = await request(app)
      .post("/hooks/mysqlcluster/finalize")
      .send(syncRequest({ parent, finalizing: false }));
    expect(empty.body.finalized).not.toBe(true);
    expect(empty.body.children).toEqual([]);
  });

  describe("invalid spec at deletion with spec.backups.onDelete", () => {
    const BACKUP_SPEC = { ...SPEC, backups: { onDelete: true, onDeleteStorage: { persistentVolumeClaim: { claimName: "backups" } } } };
    const INVALID = { ...BACKUP_SPEC, mysqlConfig: { read_only: "OFF" } };

    async function deleting(spec: unknown, opts: { stripRecordedSpec?: boolean; skip?: boolean } = {}) {
      const { parent, children } = await existingCluster(BACKUP_SPEC);
      const observed = opts.stripRecordedSpec
        ? children.map((c) => {
            if (c.kind !== "ConfigMap") return c;
            const copy = structuredClone(c);
            const annotations = copy.metadata["annotations"] as Record<string, string>;
            delete annotations["metamysql.dev/spec"];
            const applied = JSON.parse(annotations["metacontroller.k8s.io/last-applied-configuration"] ?? "{}") as Obj;
            delete (applied.metadata["annotations"] as Record<string, string>)["metamysql.dev/spec"];
            annotations["metacontroller.k8s.io/last-applied-configuration"] = JSON.stringify(applied);
            return copy;
          })
        : children;
      const bad = clusterObject("shop", spec, { status: parent["status"], generation: 2 });
      bad.metadata["deletionTimestamp"] = "2026-11-02T11:59:00Z";
      if (opts.skip) bad.metadata["annotations"] = { "metamysql.dev/skip-final-backup": "true" };
      const res = await request(app)
        .post("/hooks/mysqlcluster/finalize")
        .send(syncRequest({ parent: bad, children: observed, related: [pod("shop", 0)], finalizing: true }));
      expect(res.status).toBe(200);
      return { res, observed };
    }

    it("still takes the final backup, by the last valid spec recorded on the ConfigMap; the StatefulSet stays", async () => {
      const { res, observed } = await deleting(INVALID);
      expect(res.body.finalized).toBe(false);
      const out = res.body.children as Obj[];
      expect(out.some((c) => c.kind === "StatefulSet")).toBe(true);
      const job = out.find((c) => c.kind === "Job" && c.metadata.name === "shop-final-backup");
      expect(job).toBeDefined();
      expect(JSON.stringify(job)).toContain('"claimName":"backups"');
      // Every other child as observed.
      expect(sorted(out.filter((c) => c.kind !== "Job"))).toEqual(sorted(lastAppliedOf(observed)));
      expect(res.body.status.message).toContain("taking the final backup");
    });

    it("the same final-backup Job as for the valid spec", async () => {
      const jobOf = (children: Obj[]) => children.find((c) => c.kind === "Job");
      const invalid = jobOf((await deleting(INVALID)).res.body.children as Obj[]);
      const valid = jobOf((await deleting(BACKUP_SPEC)).res.body.children as Obj[]);
      expect(invalid).toBeDefined();
      expect(invalid).toEqual(valid);
    });

    it("without a recorded spec, blocks deletion and says how to proceed; the skip annotation lets it go", async () => {
      const { res, observed } = await deleting(INVALID, { stripRecordedSpec: true });
      expect(res.body.finalized).toBe(false);
      expect(sorted(res.body.children as Obj[])).toEqual(sorted(lastAppliedOf(observed)));
      const message = res.body.status.message as string;
      expect(message).toContain("spec.mysqlConfig.read_only");
      expect(message).toContain("deletion is blocked");
      expect(message).toContain("metamysql.dev/skip-final-backup=true");
      expect(res.body.status.conditions.find((c: { type: string }) => c.type === "Ready")).toMatchObject({ status: "False", message });

      const skipped = (await deleting(INVALID, { stripRecordedSpec: true, skip: true })).res;
      expect(skipped.body.finalized).toBe(false);
      expect((skipped.body.children as Obj[]).some((c) => c.kind === "StatefulSet")).toBe(false);
      expect((skipped.body.children as Obj[]).some((c) => c.kind === "Job")).toBe(false);
    });
  });

  it("finalizes even when the spec is invalid", async () => {
    const res = await request(app)
      .post("/hooks/mysqlcluster/finalize")
      .send(syncRequest({ parent: clusterObject("shop", { instances: 99 }), finalizing: true }));
    expect(res.status).toBe(200);
    expect(res.body.finalized).toBe(true);
  });
});

describe("customize", () => {
  it("asks for the cluster's pods by label", async () => {
    const res = await request(app)
      .post("/hooks/mysqlcluster/customize")
      .send({ controller: {}, parent: clusterObject("shop", SPEC) });
    expect(res.status).toBe(200);
    expect(res.body).toEqual({
      relatedResources: [
        {
          apiVersion: "v1",
          resource: "pods",
          namespace: "shop-ns",
          labelSelector: {
            matchLabels: {
              "app.kubernetes.io/component": "database",
              "app.kubernetes.io/instance": "shop",
              "app.kubernetes.io/managed-by": "metamysql",
            },
          },
        },
      ],
    });
  });

  it("adds the user's credentials Secret by name", async () => {
    const res = await request(app)
      .post("/hooks/mysqlcluster/customize")
      .send({ parent: clusterObject("shop", { ...SPEC, credentialsSecretName: "shop-secrets" }) });
    expect(res.body.relatedResources[1]).toEqual({ apiVersion: "v1", resource: "secrets", namespace: "shop-ns", names: ["shop-secrets"] });
  });

  it("with an invalid spec, still relates what the last valid spec may need: the backup Jobs' pods and a validly named Secret", async () => {
    const res = await request(app)
      .post("/hooks/mysqlcluster/customize")
      .send({ parent: clusterObject("shop", { ...SPEC, credentialsSecretName: "shop-secrets", mysqlConfig: { read_only: "OFF" } }) });
    expect(res.status).toBe(200);
    const related = res.body.relatedResources as Array<{ resource: string; names?: string[]; labelSelector?: { matchLabels: Record<string, string> } }>;
    expect(related.find((r) => r.resource === "secrets")?.names).toEqual(["shop-secrets"]);
    expect(related.some((r) => r.labelSelector?.matchLabels["app.kubernetes.io/component"] === "backup")).toBe(true);
    const badName = await request(app)
      .post("/hooks/mysqlcluster/customize")
      .send({ parent: clusterObject("shop", { ...SPEC, credentialsSecretName: "Not A Name", instances: 0 }) });
    expect((badName.body.relatedResources as Array<{ resource: string }>).some((r) => r.resource === "secrets")).toBe(false);
  });

  it("rejects a malformed body with 400", async () => {
    const res = await request(app).post("/hooks/mysqlcluster/customize").send({ nope: true });
    expect(res.status).toBe(400);
  });
});

describe("operational endpoints", () => {
  it("serves healthz, readyz and Prometheus metrics", async () => {
    expect((await request(app).get("/healthz")).status).toBe(200);
    expect((await request(app).get("/readyz")).status).toBe(200);
    await sync(syncRequest({ parent: clusterObject("shop", SPEC) }));
    const metrics = await request(app).get("/metrics");
    expect(metrics.status).toBe(200);
    expect(metrics.text).toContain('metamysql_hook_requests_total{code="200",hook="sync"}');
    expect(metrics.text).toContain("# TYPE metamysql_hook_duration_seconds histogram");
  });
});
