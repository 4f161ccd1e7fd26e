/**
 * Contract (issue 10, item 6): a MySQLBackup may not be named `scheduled` or `final`. Its folder
 * `<cluster>/<name>` would be the cluster's scheduled (or final) backups, and deletionPolicy
 * Delete removed that folder: every scheduled backup. The CRD refuses the names (CEL at the root,
 * where rules may read metadata.name); the hooks refuse them too (an older CRD, the local
 * runtime, which does not evaluate CEL): sync renders no Job and reports why, finalize never
 * renders a remove Job.
 */
import request from "supertest";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { createApp } from "../../src/server/app.js";
import { RESERVED_BACKUP_NAMES } from "../../src/api/backup.js";
import { buildCrd } from "../../src/api/crd.js";
import { MYSQLBACKUP_CRD } from "../../src/api/generated.js";
import { clusterObject, pod, type Obj } from "../helpers/metacontroller.js";

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const app = createApp({ logger: pino({ level: "silent" }), now: () => new Date("2026-11-04T12:00:00Z"), generatePassword: () => "pw" }).app;

function backupObject(name: string, extra: { status?: unknown; deleting?: boolean } = {}): Obj {
  return {
    apiVersion: "metamysql.dev/v1alpha1",
    kind: "MySQLBackup",
    metadata: {
      name,
      namespace: "shop-ns",
      uid: "11111111-2222-4333-8444-555555555555",
      generation: 1,
      ...(extra.deleting ? { deletionTimestamp: "2026-11-04T11:00:00Z" } : {}),
    },
    spec: { clusterName: "shop", storage: { persistentVolumeClaim: { claimName: "backups" } }, deletionPolicy: "Delete" },
    ...(extra.status !== undefined ? { status: extra.status } : {}),
  };
}

function body(parent: Obj, related: Obj[], finalizing = false): Record<string, unknown> {
  const byType: Record<string, Record<string, Obj>> = {};
  for (const o of related) byType[`${o.kind}.${o.apiVersion}`] = { ...(byType[`${o.kind}.${o.apiVersion}`] ?? {}), [`shop-ns/${o.metadata.name}`]: o };
  return {
    controller: { apiVersion: "metacontroller.k8s.io/v1alpha1", kind: "CompositeController", metadata: { name: "metamysql-mysqlbackup" } },
    parent,
    children: { "Job.batch/v1": {}, "ConfigMap.v1": {} },
    related: { "Pod.v1": {}, ...byType },
    finalizing,
  };
}

async function post(hook: string, b: unknown): Promise<AnyObj> {
  const res = await request(app)
    .post(`/hooks/mysqlbackup/${hook}`)
    .send(b as object)
    .set("content-type", "application/json");
  expect(res.status).toBe(200);
  return res.body as AnyObj;
}

const cluster = clusterObject(
  "shop",
  { flavor: "mariadb", instances: 1, storage: { size: "1Gi" } },
  {
    namespace: "shop-ns",
    status: { currentPrimary: "shop-0", instances: [{ name: "shop-0", ordinal: 0, role: "primary", ready: true, weight: 50 }] },
  },
);

describe("reserved MySQLBackup names", () => {
  it("the CRD refuses them with a CEL rule on metadata.name at the root", () => {
    const root = buildCrd(MYSQLBACKUP_CRD).spec.versions[0]?.schema.openAPIV3Schema;
    expect(root?.["x-kubernetes-validations"]).toEqual([
      {
        rule: "!(self.metadata.name in ['scheduled', 'final'])",
        message: expect.stringContaining('must not be "scheduled" or "final"'),
      },
    ]);
  });

  it.each(RESERVED_BACKUP_NAMES)("sync: %s gets no Job, Failed with the reason", async (name) => {
    const res = await post("sync", body(backupObject(name), [cluster, pod("shop", 0, { flavor: "mariadb" })]));
    expect(res.children).toEqual([]);
    expect(res.status.state).toBe("Failed");
    expect(res.status.message).toContain(`metadata.name "${name}" is reserved`);
  });

  it.each(RESERVED_BACKUP_NAMES)("finalize: %s (even Completed, deletionPolicy Delete) never removes storage", async (name) => {
    const res = await post("finalize", body(backupObject(name, { status: { state: "Completed", path: `shop/${name}` }, deleting: true }), [], true));
    expect(res.children).toEqual([]);
    expect(res.finalized).toBe(true);
  });

  it("a name that merely contains them is fine", async () => {
    const res = await post("sync", body(backupObject("scheduled-2"), [cluster, pod("shop", 0, { flavor: "mariadb" })]));
    expect((res.children as AnyObj[]).map((c) => `${c.kind}/${c.metadata.name}`)).toEqual(["ConfigMap/scheduled-2-backup-script", "Job/scheduled-2-backup"]);
  });
});
