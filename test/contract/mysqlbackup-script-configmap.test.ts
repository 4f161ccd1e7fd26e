/**
 * Contract: a MySQLBackup's Jobs never depend on the cluster's ConfigMap `<c>-config`. The sync
 * hook renders the backup's own script ConfigMap `<backup>-backup-script` (backup.sh, what it
 * sources, settings.env) next to the Job that mounts it; finalize of deletionPolicy Delete renders
 * it again for the remove Job, so a MySQLBackup whose cluster is gone can still be finalized.
 */
import request from "supertest";
import { describe, expect, it } from "vitest";
import { pino } from "pino";
import { createApp } from "../../src/server/app.js";
import { BACKUP_COMMON_SH, BACKUP_SH } from "../../src/backup/scripts/embedded.js";
import { renderSettings } from "../../src/api/settings.js";
import { asObserved, clusterObject, pod, type Obj } from "../helpers/metacontroller.js";

type AnyObj = Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any

const app = createApp({ logger: pino({ level: "silent" }), now: () => new Date("2026-11-04T12:00:00Z"), generatePassword: () => "pw" }).app;
const PVC = { persistentVolumeClaim: { claimName: "backups" } };

function backupObject(extra: { status?: unknown; deleting?: boolean } = {}): Obj {
  return {
    apiVersion: "metamysql.dev/v1alpha1",
    kind: "MySQLBackup",
    metadata: {
      name: "adhoc",
      namespace: "shop-ns",
      uid: "11111111-2222-4333-8444-555555555555",
      generation: 1,
      ...(extra.deleting ? { deletionTimestamp: "2026-11-04T11:00:00Z" } : {}),
    },
    spec: { clusterName: "shop", storage: PVC, deletionPolicy: "Delete" },
    ...(extra.status !== undefined ? { status: extra.status } : {}),
  };
}

function body(parent: Obj, children: Obj[], related: Obj[], finalizing = false): Record<string, unknown> {
  const byType = (objs: Obj[]) => {
    const out: Record<string, Record<string, Obj>> = {};
    for (const o of objs) out[`${o.kind}.${o.apiVersion}`] = { ...(out[`${o.kind}.${o.apiVersion}`] ?? {}), [`shop-ns/${o.metadata.name}`]: o };
    return out;
  };
  return {
    controller: { apiVersion: "metacontroller.k8s.io/v1alpha1", kind: "CompositeController", metadata: { name: "metamysql-mysqlbackup" } },
    parent,
    children: { "Job.batch/v1": {}, "ConfigMap.v1": {}, ...byType(children) },
    related: { "Pod.v1": {}, ...byType(related) },
    finalizing,
  };
}

async function post(hook: string, b: unknown) {
  const res = await request(app)
    .post(`/hooks/mysqlbackup/${hook}`)
    .send(b as object)
    .set("content-type", "application/json");
  expect(res.status).toBe(200);
  return res.body as AnyObj;
}

const scriptVolume = (job: AnyObj): AnyObj => (job.spec.template.spec.volumes as AnyObj[]).find((v) => v.name === "scripts") ?? {};

describe("a MySQLBackup owns the script ConfigMap its Jobs mount", () => {
  it("sync renders <backup>-backup-script (backup.sh, backup-common.sh, settings.env) and the Job mounts it, not <c>-config", async () => {
    const cluster = clusterObject(
      "shop",
      { flavor: "mysql", instances: 1, storage: { size: "1Gi" } },
      {
        namespace: "shop-ns",
        status: { currentPrimary: "shop-0", instances: [{ name: "shop-0", ordinal: 0, role: "primary", ready: true, weight: 50 }] },
      },
    );
    const res = await post("sync", body(backupObject(), [], [cluster, pod("shop", 0, { flavor: "mysql" })]));
    const children = res.children as AnyObj[];
    expect(children.map((c) => `${c.kind}/${c.metadata.name}`)).toEqual(["ConfigMap/adhoc-backup-script", "Job/adhoc-backup"]);
    const cm = children[0] as AnyObj;
    expect(cm.data).toEqual({ "backup-common.sh": BACKUP_COMMON_SH, "backup.sh": BACKUP_SH, "settings.env": renderSettings("mysql") });
    const job = children[1] as AnyObj;
    expect(scriptVolume(job).configMap.name).toBe("adhoc-backup-script");
    expect(JSON.stringify(job)).not.toContain("shop-config");
    // The cluster's uid: in the status (what deletionPolicy Delete checks) and in meta.json.
    expect(res.status.clusterUID).toBe("9a1c1f1e-0000-4000-8000-000000000001");
    const dump = (job.spec.template.spec.containers as AnyObj[]).find((c) => c.name === "dump") as AnyObj;
    expect((dump.env as AnyObj[]).find((e) => e.name === "METAMYSQL_CLUSTER_UID")?.value).toBe("9a1c1f1e-0000-4000-8000-000000000001");

    // Observed afterwards: both kept as they are while the Job runs.
    const parent = backupObject({ status: res.status });
    const observed = children.map((c, i) => asObserved(c as Obj, parent, i));
    const again = await post("sync", body(parent, observed, [cluster, pod("shop", 0, { flavor: "mysql" })]));
    expect((again.children as AnyObj[]).map((c) => `${c.kind}/${c.metadata.name}`).sort()).toEqual(["ConfigMap/adhoc-backup-script", "Job/adhoc-backup"]);
  });

  it("deletionPolicy Delete, cluster gone: finalize renders the script ConfigMap and a remove Job that mounts it, and finalizes once it succeeded", async () => {
    const parent = backupObject({ status: { state: "Completed", path: "shop/adhoc" }, deleting: true });
    // No MySQLCluster among the related objects, no children left.
    const first = await post("finalize", body(parent, [], [], true));
    expect(first.finalized).toBe(false);
    const children = first.children as AnyObj[];
    expect(children.map((c) => `${c.kind}/${c.metadata.name}`)).toEqual(["ConfigMap/adhoc-backup-script", "Job/adhoc-remove"]);
    const job = children[1] as AnyObj;
    expect(job.spec.template.spec.containers.map((c: AnyObj) => c.command)).toEqual([["bash", "/etc/metamysql/backup.sh", "remove"]]);
    expect(scriptVolume(job).configMap.name).toBe("adhoc-backup-script");
    expect(Object.keys((children[0] as AnyObj).data)).toEqual(["backup-common.sh", "backup.sh", "settings.env"]);
    // Every volume of the remove pod exists without the cluster: its ConfigMap and the storage claim.
    expect(JSON.stringify(job)).not.toContain("shop-config");

    const observed = children.map((c, i) => asObserved(c as Obj, parent, i));
    const running = await post("finalize", body(parent, observed, [], true));
    expect(running.finalized).toBe(false);
    expect((running.children as AnyObj[]).map((c) => `${c.kind}/${c.metadata.name}`)).toEqual(["ConfigMap/adhoc-backup-script", "Job/adhoc-remove"]);

    const done = observed.map((c) => (c.kind === "Job" ? { ...c, status: { succeeded: 1 } } : c));
    const fin = await post("finalize", body(parent, done, [], true));
    expect(fin.finalized).toBe(true);
    expect(fin.children).toEqual([]);
  });

  it("deletionPolicy Delete is scoped to the cluster's uid: the remove Job gets the status's clusterUID and no signing key; a `Kept` result is reported", async () => {
    const uid = "9a1c1f1e-0000-4000-8000-000000000001";
    const parent = backupObject({ status: { state: "Completed", path: "shop/adhoc", clusterUID: uid }, deleting: true });
    const first = await post("finalize", body(parent, [], [], true));
    const job = (first.children as AnyObj[]).find((c) => c.kind === "Job") as AnyObj;
    const remove = job.spec.template.spec.containers[0] as AnyObj;
    expect((remove.env as AnyObj[]).find((e) => e.name === "METAMYSQL_CLUSTER_UID")?.value).toBe(uid);
    // It runs after the cluster (and its Secret) are gone: no signing key, no backup password.
    expect(JSON.stringify(job)).not.toContain("backup-credentials");
    const observed = (first.children as AnyObj[]).map((c, i) => asObserved(c as Obj, parent, i));
    const done = observed.map((c) => (c.kind === "Job" ? { ...c, status: { succeeded: 1 } } : c));
    const kept = {
      apiVersion: "v1",
      kind: "Pod",
      metadata: { name: "adhoc-remove-x1", namespace: "shop-ns", labels: { "batch.kubernetes.io/job-name": "adhoc-remove", "metamysql.dev/backup": "adhoc" } },
      status: {
        phase: "Succeeded",
        containerStatuses: [
          {
            name: "remove",
            state: {
              terminated: {
                exitCode: 0,
                message: JSON.stringify({ state: "Kept", message: "kept the stored backup at shop/adhoc: it belongs to another cluster (uid x, expected y)" }),
              },
            },
          },
        ],
      },
    } as Obj;
    const fin = await post("finalize", body(parent, done, [kept], true));
    expect(fin.finalized).toBe(true);
    expect(fin.status.message).toMatch(/kept the stored backup at shop\/adhoc: it belongs to another cluster/);
  });
});
