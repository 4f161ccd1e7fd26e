/**
 * Contract: a `spec.patches` entry that breaks a patch rule (src/render/patch-policy.ts) gives
 * 200, `state: Invalid`, `SpecValid=False` naming the patch and the rule, and every observed
 * child back exactly as last applied (issue 10 item 1), through the real hook server.
 */
import request from "supertest";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { createApp } from "../../src/server/app.js";
import { asObserved, clusterObject, pod, syncRequest, type Obj } from "../helpers/metacontroller.js";

const NOW = new Date("2026-11-02T12:00:00Z");
let counter = 0;
const app = createApp({ logger: pino({ level: "silent" }), now: () => NOW, generatePassword: () => `pw${++counter}` }).app;

const SPEC = { flavor: "mariadb", instances: 3, storage: { size: "1Gi" } };
const HARMLESS = { target: { kind: "StatefulSet" }, patch: [{ op: "add", path: "/spec/template/spec/priorityClassName", value: "db" }] };

async function sync(body: unknown) {
  return request(app)
    .post("/hooks/mysqlcluster/sync")
    .send(body as object)
    .set("content-type", "application/json");
}

async function existingCluster(): Promise<{ parent: Obj; children: Obj[] }> {
  const first = await sync(syncRequest({ parent: clusterObject("shop", SPEC) }));
  expect(first.status).toBe(200);
  const parent = clusterObject("shop", SPEC, { status: first.body.status });
  return { parent, children: (first.body.children as Obj[]).map((c, i) => asObserved(c, parent, i)) };
}

const cases: Array<{ name: string; patch: unknown; rule: string }> = [
  {
    name: "a privileged hostPID/hostNetwork StatefulSet mounting the host's / as root",
    patch: {
      target: { kind: "StatefulSet", name: "shop" },
      patch: [
        { op: "add", path: "/spec/template/spec/hostPID", value: true },
        { op: "add", path: "/spec/template/spec/hostNetwork", value: true },
        { op: "add", path: "/spec/template/spec/volumes/-", value: { name: "host", hostPath: { path: "/" } } },
        { op: "add", path: "/spec/template/spec/containers/0/volumeMounts/-", value: { name: "host", mountPath: "/host" } },
        { op: "replace", path: "/spec/template/spec/containers/0/securityContext", value: { privileged: true, runAsUser: 0 } },
      ],
    },
    rule: "pod security: host namespaces",
  },
  {
    name: "an EndpointSlice pointing at an arbitrary address",
    patch: { target: { kind: "EndpointSlice" }, patch: [{ op: "add", path: "/endpoints/-", value: { addresses: ["169.254.169.254"] } }] },
    rule: "unpatchable kind",
  },
  {
    name: "a Service with externalIPs",
    patch: { target: { kind: "Service", name: "shop" }, patch: [{ op: "add", path: "/spec/externalIPs", value: ["203.0.113.7"] }] },
    rule: "service: externalIPs",
  },
  {
    name: "a child moved to another namespace",
    patch: { target: { kind: "ConfigMap" }, patch: [{ op: "add", path: "/metadata/namespace", value: "kube-system" }] },
    rule: "namespace",
  },
];

describe("sync: a patch that breaks a patch rule -> 200, Invalid naming the patch and rule, children unchanged", () => {
  for (const tc of cases) {
    it(tc.name, async () => {
      const { parent, children } = await existingCluster();
      const bad = clusterObject("shop", { ...SPEC, patches: [HARMLESS, tc.patch] }, { status: parent["status"], generation: 2 });
      const res = await sync(syncRequest({ parent: bad, children, related: [pod("shop", 0)] }));
      expect(res.status).toBe(200);
      expect(res.body.status.state).toBe("Invalid");
      const cond = res.body.status.conditions.find((c: { type: string }) => c.type === "SpecValid");
      expect(cond.status).toBe("False");
      expect(cond.message).toContain("spec.patches[1]");
      expect(cond.message).toContain(`"${tc.rule}"`);
      expect(cond.message).not.toContain("spec.patches[0]");
      const lastApplied = children.map((c) =>
        JSON.parse((c.metadata["annotations"] as Record<string, string>)["metacontroller.k8s.io/last-applied-configuration"] ?? "{}"),
      );
      const byKey = (a: Obj, b: Obj) => `${a.kind}/${a.metadata.name}`.localeCompare(`${b.kind}/${b.metadata.name}`);
      expect([...(res.body.children as Obj[])].sort(byKey)).toEqual([...(lastApplied as Obj[])].sort(byKey));
    });
  }

  it("an allowed patch is applied", async () => {
    const { parent, children } = await existingCluster();
    const ok = clusterObject("shop", { ...SPEC, patches: [HARMLESS] }, { status: parent["status"], generation: 2 });
    const res = await sync(syncRequest({ parent: ok, children, related: [pod("shop", 0)] }));
    expect(res.status).toBe(200);
    expect(res.body.status.state).not.toBe("Invalid");
    const sts = (res.body.children as Obj[]).find((c) => c.kind === "StatefulSet") as Obj & { spec: { template: { spec: Record<string, unknown> } } };
    expect(sts.spec.template.spec["priorityClassName"]).toBe("db");
  });
});
