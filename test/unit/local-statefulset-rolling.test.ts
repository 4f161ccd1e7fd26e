/**
 * The local runtime's StatefulSet controller keeps Kubernetes' RollingUpdate semantics that the
 * supervised rollout relies on (docs/clustering.md "Rolling updates"): only ordinals at or above
 * the partition get the update revision, highest first, one pod at a time and only while every
 * pod is Running and Ready; a pod below the partition is re-created at the current revision.
 * The test plays the kubelet: it marks pods Running and Ready and removes deleted ones.
 */
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterEach, describe, expect, it } from "vitest";
import { ObjectStore } from "../../src/local/apiserver/store.js";
import type { KObject } from "../../src/local/apiserver/objects.js";
import { REVISION_LABEL, StatefulSetController } from "../../src/local/controllers/statefulset.js";
import { stateLayout } from "../../src/local/node/statedir.js";
import { eventually } from "../helpers/local.js";

const dirs: string[] = [];
const stops: Array<() => Promise<void>> = [];
afterEach(async () => {
  for (const s of stops.splice(0)) await s();
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function sts(replicas: number, partition: number, value: string): KObject {
  return {
    apiVersion: "apps/v1",
    kind: "StatefulSet",
    metadata: { name: "db", namespace: "default" },
    spec: {
      replicas,
      podManagementPolicy: "OrderedReady",
      serviceName: "db",
      selector: { matchLabels: { app: "db" } },
      template: { metadata: { labels: { app: "db" }, annotations: { v: value } }, spec: { containers: [{ name: "c", image: "x" }] } },
      updateStrategy: { type: "RollingUpdate", rollingUpdate: { partition } },
    },
  };
}

function setup(): { store: ObjectStore; pods: () => Map<string, { v: string; rev: string }>; statefulSet: () => KObject } {
  const dir = mkdtempSync(join(tmpdir(), "metamysql-sts-"));
  dirs.push(dir);
  const store = new ObjectStore();
  const ctl = new StatefulSetController({ store, layout: stateLayout(dir) });
  // The kubelet: every pod runs and is ready at once; a deleted pod goes away at once.
  const unwatch = store.watch((ev) => {
    const o = ev.object;
    if (o.kind !== "Pod" || ev.type === "DELETED") return;
    queueMicrotask(() => {
      const cur = store.get("v1", "Pod", "default", o.metadata.name);
      if (!cur) return;
      if (cur.metadata.deletionTimestamp) return store.remove("v1", "Pod", "default", o.metadata.name);
      if ((cur.status as { phase?: string } | undefined)?.phase === "Running") return;
      cur.status = { phase: "Running", conditions: [{ type: "Ready", status: "True" }] };
      delete cur.metadata.resourceVersion;
      store.updateStatus(cur);
    });
  });
  ctl.start();
  stops.push(async () => {
    unwatch();
    await ctl.stop();
  });
  const pods = () =>
    new Map(
      store
        .list({ apiVersion: "v1", kind: "Pod", namespace: "default" })
        .filter((p) => !p.metadata.deletionTimestamp)
        .map((p) => [p.metadata.name, { v: p.metadata.annotations?.["v"] ?? "", rev: p.metadata.labels?.[REVISION_LABEL] ?? "" }]),
    );
  const statefulSet = () => store.get("apps/v1", "StatefulSet", "default", "db") as KObject;
  return { store, pods, statefulSet };
}

function apply(store: ObjectStore, obj: KObject): void {
  const cur = store.get("apps/v1", "StatefulSet", "default", "db");
  if (!cur) store.create(obj);
  else store.update({ ...obj, metadata: { ...obj.metadata } });
}

const values = (m: Map<string, { v: string }>) => [...m.entries()].sort().map(([n, p]) => `${n}=${p.v}`);

describe("local StatefulSet controller: RollingUpdate with a partition", () => {
  it("updates only ordinals at or above the partition, and re-creates a pod below it at the current revision", async () => {
    const { store, pods, statefulSet } = setup();
    apply(store, sts(3, 3, "a"));
    await eventually(() => pods().size === 3 && [...pods().values()].every((p) => p.v === "a"), 10_000, "3 pods at a");
    // A new template held entirely: nothing is replaced.
    apply(store, sts(3, 3, "b"));
    await eventually(
      () => (statefulSet().status as { updateRevision?: string } | undefined)?.updateRevision !== [...pods().values()][0]?.rev,
      10_000,
      "new revision",
    );
    await new Promise((r) => setTimeout(r, 200));
    expect(values(pods())).toEqual(["db-0=a", "db-1=a", "db-2=a"]);
    // Partition 2: only db-2 is updated.
    apply(store, sts(3, 2, "b"));
    await eventually(() => pods().get("db-2")?.v === "b" && pods().size === 3, 10_000, "db-2 updated");
    await new Promise((r) => setTimeout(r, 200));
    expect(values(pods())).toEqual(["db-0=a", "db-1=a", "db-2=b"]);
    // A pod below the partition that goes away comes back at the current revision (a), not b.
    store.delete("v1", "Pod", "default", "db-0");
    await eventually(() => pods().size === 3 && pods().has("db-0"), 10_000, "db-0 re-created");
    expect(pods().get("db-0")?.v).toBe("a");
    // Partition 0: the rest follow, and the current revision becomes the update revision.
    apply(store, sts(3, 0, "b"));
    await eventually(() => values(pods()).join() === "db-0=b,db-1=b,db-2=b", 10_000, "all at b");
    await eventually(
      () => {
        const s = statefulSet().status as { currentRevision?: string; updateRevision?: string };
        return s.currentRevision === s.updateRevision;
      },
      10_000,
      "currentRevision = updateRevision",
    );
  });
});
