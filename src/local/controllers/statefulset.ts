/**
 * The StatefulSet controller of the local runtime: pods `<sts>-<ordinal>` from the template
 * (with the pod-name, pod-index and controller-revision-hash labels, hostname and subdomain),
 * one PersistentVolumeClaim `<claim>-<sts>-<ordinal>` per volumeClaimTemplate (kept on scale
 * down and delete unless persistentVolumeClaimRetentionPolicy says Delete), OrderedReady
 * (create the next pod only when all before it are Running and Ready, scale down from the
 * highest ordinal one at a time) or Parallel, RollingUpdate from the highest ordinal at or above
 * the partition (one pod at a time, only while every pod is Running and Ready), pods below the
 * partition (re)created at the current revision, whose template is kept in a ControllerRevision
 * like Kubernetes does, and status (replicas, readyReplicas, currentRevision, ...). The immutable fields of
 * the spec are enforced on update, like the API server. ARCHITECTURE.md section 6.
 */
import { createHash } from "node:crypto";
import { rmSync } from "node:fs";
import {
  arrayField,
  clone,
  controllerOf,
  deepEqual,
  isRecord,
  namespaceOf,
  numberField,
  recordField,
  stringField,
  type KObject,
} from "../apiserver/objects.js";
import type { StateLayout } from "../node/statedir.js";
import { isStoreError, StoreError, type ObjectStore, type WatchEvent } from "../apiserver/store.js";
import { WorkQueue } from "../metacontroller/workqueue.js";

/** Label the StatefulSet controller puts on pods. */
export const POD_NAME_LABEL = "statefulset.kubernetes.io/pod-name";
export const POD_INDEX_LABEL = "apps.kubernetes.io/pod-index";
export const REVISION_LABEL = "controller-revision-hash";

const MUTABLE_SPEC_FIELDS = new Set(["replicas", "ordinals", "template", "updateStrategy", "persistentVolumeClaimRetentionPolicy", "minReadySeconds"]);

/** API-server validation of StatefulSet updates: only some spec fields may change. */
export function validateStatefulSetUpdate(oldObj: KObject, newObj: KObject): void {
  const a = recordField(oldObj, "spec");
  const b = recordField(newObj, "spec");
  const keys = new Set([...Object.keys(a), ...Object.keys(b)]);
  const changed = [...keys].filter((k) => !MUTABLE_SPEC_FIELDS.has(k) && !deepEqual(a[k], b[k]));
  if (changed.length > 0) {
    throw new StoreError(
      "Invalid",
      `StatefulSet.apps "${newObj.metadata.name}" is invalid: spec: Forbidden: updates to statefulset spec for fields other than ` +
        `'replicas', 'ordinals', 'template', 'updateStrategy', 'persistentVolumeClaimRetentionPolicy' and 'minReadySeconds' are forbidden (changed: ${changed.join(", ")})`,
    );
  }
}

/** True when the pod is Running and Ready and not being deleted. */
export function podRunningAndReady(pod: KObject): boolean {
  if (pod.metadata.deletionTimestamp) return false;
  if (stringField(pod, "status", "phase") !== "Running") return false;
  return arrayField(pod, "status", "conditions").some((c) => stringField(c, "type") === "Ready" && stringField(c, "status") === "True");
}

/** Revision hash of a pod template (stable JSON). */
export function templateRevision(sts: KObject): string {
  const json = stableStringify(recordField(sts, "spec", "template"));
  return `${sts.metadata.name}-${createHash("sha256").update(json).digest("hex").slice(0, 10)}`;
}

function stableStringify(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(stableStringify).join(",")}]`;
  if (isRecord(value)) {
    return `{${Object.keys(value)
      .sort()
      .filter((k) => value[k] !== undefined)
      .map((k) => `${JSON.stringify(k)}:${stableStringify(value[k])}`)
      .join(",")}}`;
  }
  return JSON.stringify(value);
}

/** Something the controller did. */
export interface StatefulSetEvent {
  statefulSet: string;
  reason: string;
  message: string;
}

/** The controller. */
export class StatefulSetController {
  private readonly store: ObjectStore;
  private readonly layout: StateLayout;
  private readonly queue: WorkQueue;
  private readonly onEvent: (ev: StatefulSetEvent) => void;
  private unwatch: (() => void) | undefined;

  /** Creates the controller; `start()` begins reconciling. */
  constructor(opts: { store: ObjectStore; layout: StateLayout; onEvent?: (ev: StatefulSetEvent) => void }) {
    this.store = opts.store;
    this.layout = opts.layout;
    this.onEvent = opts.onEvent ?? (() => undefined);
    this.store.addValidator("apps/v1", "StatefulSet", validateStatefulSetUpdate);
    this.queue = new WorkQueue({ handler: (key) => this.reconcile(key), baseDelayMs: 5, maxDelayMs: 30_000 });
  }

  /** Watches StatefulSets, Pods and PVCs. */
  start(): void {
    this.unwatch = this.store.watch((ev) => this.onChange(ev));
    for (const sts of this.store.list({ kind: "StatefulSet" })) this.queue.add(`${namespaceOf(sts)}/${sts.metadata.name}`);
  }

  /** Stops reconciling. */
  async stop(): Promise<void> {
    this.unwatch?.();
    await this.queue.shutdown();
  }

  private onChange(ev: WatchEvent): void {
    const obj = ev.object;
    if (obj.kind === "StatefulSet") {
      this.queue.add(`${namespaceOf(obj)}/${obj.metadata.name}`);
      return;
    }
    if (obj.kind === "PersistentVolumeClaim" && ev.type === "DELETED") {
      rmSync(this.layout.pvcDir(namespaceOf(obj), obj.metadata.name), { recursive: true, force: true });
      this.onEvent({ statefulSet: "-", reason: "VolumeDeleted", message: `PersistentVolumeClaim ${obj.metadata.name} and its data deleted` });
      return;
    }
    if (obj.kind === "Pod") {
      const owner = controllerOf(obj);
      if (owner?.kind === "StatefulSet") this.queue.add(`${namespaceOf(obj)}/${owner.name}`);
    }
  }

  private async reconcile(key: string): Promise<void> {
    const [ns = "default", name = ""] = key.split("/");
    const sts = this.store.get("apps/v1", "StatefulSet", ns, name);
    if (!sts) return;
    const spec = recordField(sts, "spec");
    const replicas = numberField(spec, "replicas") ?? 1;
    const start = numberField(spec, "ordinals", "start") ?? 0;
    const ordered = (stringField(spec, "podManagementPolicy") ?? "OrderedReady") === "OrderedReady";
    const revision = templateRevision(sts);
    const pods = this.store.list({ apiVersion: "v1", kind: "Pod", namespace: ns }).filter((p) => controllerOf(p)?.uid === sts.metadata.uid);
    const byOrdinal = new Map<number, KObject>();
    for (const p of pods) {
      const ord = ordinalOf(name, p.metadata.name);
      if (ord !== undefined) byOrdinal.set(ord, p);
    }
    const wanted = Array.from({ length: replicas }, (_, i) => start + i);
    const strategy = stringField(spec, "updateStrategy", "type") ?? "RollingUpdate";
    const partition = strategy === "RollingUpdate" ? (numberField(spec, "updateStrategy", "rollingUpdate", "partition") ?? 0) : 0;
    const currentRevision = stringField(sts, "status", "currentRevision") ?? revision;
    this.ensureRevision(sts, revision);
    // Kubernetes: a pod below the partition is (re)created at the current revision (OnDelete:
    // every pod at the update revision); at or above it at the update revision.
    const revisionFor = (ord: number): { name: string; template: Record<string, unknown> } => {
      const cur =
        strategy === "RollingUpdate" && ord - start < partition && currentRevision !== revision ? this.revisionTemplate(sts, currentRevision) : undefined;
      return cur ? { name: currentRevision, template: cur } : { name: revision, template: recordField(sts, "spec", "template") };
    };
    const condemned = [...byOrdinal.keys()].filter((o) => !wanted.includes(o)).sort((a, b) => b - a);
    const retention = recordField(spec, "persistentVolumeClaimRetentionPolicy");

    let blocked = false;
    for (const ord of wanted) {
      const pod = byOrdinal.get(ord);
      if (!pod) {
        this.ensureClaims(sts, ord, retention);
        this.store.create(this.newPod(sts, ord, revisionFor(ord)));
        this.onEvent({ statefulSet: name, reason: "SuccessfulCreate", message: `create Pod ${name}-${ord}` });
        if (ordered) {
          blocked = true;
          break;
        }
        continue;
      }
      const phase = stringField(pod, "status", "phase");
      if (phase === "Failed" || phase === "Succeeded") {
        if (!pod.metadata.deletionTimestamp) this.deletePod(pod, "recreate failed pod");
        if (ordered) {
          blocked = true;
          break;
        }
        continue;
      }
      if (ordered && !podRunningAndReady(pod)) {
        blocked = true;
        break;
      }
    }

    if (!blocked || !ordered) {
      const terminating = condemned.some((o) => byOrdinal.get(o)?.metadata.deletionTimestamp);
      if (!(ordered && terminating)) {
        for (const ord of condemned) {
          const pod = byOrdinal.get(ord);
          if (!pod || pod.metadata.deletionTimestamp) continue;
          this.deletePod(pod, `scale down to ${replicas}`);
          if (ordered) break;
        }
      }
    }
    if (stringField(retention, "whenScaled") === "Delete") this.deleteScaledClaims(sts, wanted, byOrdinal);

    if (strategy === "RollingUpdate" && !blocked && condemned.length === 0) {
      const live = wanted.map((o) => byOrdinal.get(o)).filter((p): p is KObject => p !== undefined);
      const allReady = live.length === wanted.length && live.every(podRunningAndReady);
      if (allReady) {
        const stale = [...wanted].reverse().find((o) => o - start >= partition && byOrdinal.get(o)?.metadata.labels?.[REVISION_LABEL] !== revision);
        const pod = stale !== undefined ? byOrdinal.get(stale) : undefined;
        if (pod) this.deletePod(pod, `rolling update to revision ${revision}`);
      }
    }
    this.writeStatus(sts, pods, revision, replicas);
  }

  private deletePod(pod: KObject, why: string): void {
    try {
      this.store.delete("v1", "Pod", namespaceOf(pod), pod.metadata.name);
      this.onEvent({ statefulSet: controllerOf(pod)?.name ?? "", reason: "SuccessfulDelete", message: `delete Pod ${pod.metadata.name} (${why})` });
    } catch (err) {
      if (!isStoreError(err, "NotFound")) throw err;
    }
  }

  /** The ControllerRevision `<revision>` holding the template (created once, owned by the StatefulSet). */
  private ensureRevision(sts: KObject, revision: string): void {
    const ns = namespaceOf(sts);
    if (this.store.get("apps/v1", "ControllerRevision", ns, revision)) return;
    const existing = this.store.list({ kind: "ControllerRevision", namespace: ns }).filter((r) => controllerOf(r)?.uid === sts.metadata.uid);
    this.store.create({
      apiVersion: "apps/v1",
      kind: "ControllerRevision",
      metadata: {
        name: revision,
        namespace: ns,
        labels: { ...((recordField(sts, "spec", "selector").matchLabels as Record<string, string> | undefined) ?? {}) },
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "StatefulSet", name: sts.metadata.name, uid: sts.metadata.uid ?? "", controller: true, blockOwnerDeletion: true },
        ],
      },
      data: { spec: { template: clone(recordField(sts, "spec", "template")) } },
      revision: Math.max(0, ...existing.map((r) => numberField(r, "revision") ?? 0)) + 1,
    });
    // Kubernetes keeps revisionHistoryLimit (10) old revisions besides the current and update ones.
    const current = stringField(sts, "status", "currentRevision");
    const old = existing
      .filter((r) => r.metadata.name !== current && r.metadata.name !== revision)
      .sort((a, b) => (numberField(a, "revision") ?? 0) - (numberField(b, "revision") ?? 0));
    for (const r of old.slice(0, Math.max(0, old.length - 10))) this.store.delete("apps/v1", "ControllerRevision", namespaceOf(r), r.metadata.name);
  }

  private revisionTemplate(sts: KObject, revision: string): Record<string, unknown> | undefined {
    const rev = this.store.get("apps/v1", "ControllerRevision", namespaceOf(sts), revision);
    if (!rev || controllerOf(rev)?.uid !== sts.metadata.uid) return undefined;
    const template = recordField(rev, "data", "spec", "template");
    return Object.keys(template).length > 0 ? template : undefined;
  }

  private newPod(sts: KObject, ordinal: number, rev: { name: string; template: Record<string, unknown> }): KObject {
    const name = `${sts.metadata.name}-${ordinal}`;
    const revision = rev.name;
    const template = clone(rev.template);
    const meta = recordField(template, "metadata");
    const spec = clone(recordField(template, "spec"));
    const volumes = arrayField(spec, "volumes").filter(isRecord);
    for (const claim of arrayField(sts, "spec", "volumeClaimTemplates")) {
      const claimName = stringField(claim, "metadata", "name");
      if (!claimName) continue;
      const idx = volumes.findIndex((v) => v.name === claimName);
      const vol = { name: claimName, persistentVolumeClaim: { claimName: `${claimName}-${sts.metadata.name}-${ordinal}` } };
      if (idx >= 0) volumes[idx] = vol;
      else volumes.push(vol);
    }
    spec.volumes = volumes;
    spec.hostname = name;
    const serviceName = stringField(sts, "spec", "serviceName");
    if (serviceName) spec.subdomain = serviceName;
    spec.nodeName = "local";
    return {
      apiVersion: "v1",
      kind: "Pod",
      metadata: {
        name,
        namespace: namespaceOf(sts),
        labels: {
          ...((meta.labels as Record<string, string> | undefined) ?? {}),
          [POD_NAME_LABEL]: name,
          [POD_INDEX_LABEL]: String(ordinal),
          [REVISION_LABEL]: revision,
        },
        ...(isRecord(meta.annotations) ? { annotations: meta.annotations as Record<string, string> } : {}),
        ownerReferences: [
          { apiVersion: "apps/v1", kind: "StatefulSet", name: sts.metadata.name, uid: sts.metadata.uid ?? "", controller: true, blockOwnerDeletion: true },
        ],
      },
      spec,
    };
  }

  private ensureClaims(sts: KObject, ordinal: number, retention: Record<string, unknown>): void {
    const ns = namespaceOf(sts);
    for (const tmpl of arrayField(sts, "spec", "volumeClaimTemplates")) {
      const claim = stringField(tmpl, "metadata", "name");
      if (!claim) continue;
      const name = `${claim}-${sts.metadata.name}-${ordinal}`;
      if (this.store.get("v1", "PersistentVolumeClaim", ns, name)) continue;
      const ownedBySts = stringField(retention, "whenDeleted") === "Delete";
      this.store.create({
        apiVersion: "v1",
        kind: "PersistentVolumeClaim",
        metadata: {
          name,
          namespace: ns,
          labels: { ...((recordField(sts, "spec", "selector").matchLabels as Record<string, string> | undefined) ?? {}) },
          ...(ownedBySts
            ? {
                ownerReferences: [
                  {
                    apiVersion: "apps/v1",
                    kind: "StatefulSet",
                    name: sts.metadata.name,
                    uid: sts.metadata.uid ?? "",
                    controller: true,
                    blockOwnerDeletion: true,
                  },
                ],
              }
            : {}),
        },
        spec: clone(recordField(tmpl, "spec")),
        status: { phase: "Bound" },
      });
      this.onEvent({ statefulSet: sts.metadata.name, reason: "SuccessfulCreate", message: `create Claim ${name}` });
    }
  }

  private deleteScaledClaims(sts: KObject, wanted: number[], pods: Map<number, KObject>): void {
    const ns = namespaceOf(sts);
    for (const tmpl of arrayField(sts, "spec", "volumeClaimTemplates")) {
      const claim = stringField(tmpl, "metadata", "name");
      if (!claim) continue;
      const prefix = `${claim}-${sts.metadata.name}-`;
      for (const pvc of this.store.list({ kind: "PersistentVolumeClaim", namespace: ns })) {
        if (!pvc.metadata.name.startsWith(prefix)) continue;
        const ord = Number(pvc.metadata.name.slice(prefix.length));
        if (!Number.isInteger(ord) || wanted.includes(ord) || pods.has(ord)) continue;
        this.store.delete("v1", "PersistentVolumeClaim", ns, pvc.metadata.name);
      }
    }
  }

  private writeStatus(sts: KObject, pods: KObject[], revision: string, replicas: number): void {
    const fresh = this.store.get("apps/v1", "StatefulSet", namespaceOf(sts), sts.metadata.name);
    if (!fresh) return;
    const current = this.store.list({ apiVersion: "v1", kind: "Pod", namespace: namespaceOf(sts) }).filter((p) => controllerOf(p)?.uid === sts.metadata.uid);
    const ready = current.filter(podRunningAndReady).length;
    const updated = current.filter((p) => p.metadata.labels?.[REVISION_LABEL] === revision).length;
    const prev = recordField(fresh, "status");
    const status = {
      observedGeneration: fresh.metadata.generation,
      replicas: current.length,
      readyReplicas: ready,
      availableReplicas: ready,
      currentReplicas: updated === current.length ? current.length : current.length - updated,
      updatedReplicas: updated,
      currentRevision: updated === current.length && current.length >= replicas ? revision : (stringField(prev, "currentRevision") ?? revision),
      updateRevision: revision,
      collisionCount: 0,
    };
    void pods;
    if (deepEqual(prev, status)) return;
    fresh.status = status;
    delete fresh.metadata.resourceVersion;
    this.store.updateStatus(fresh);
  }
}

function ordinalOf(sts: string, pod: string): number | undefined {
  if (!pod.startsWith(`${sts}-`)) return undefined;
  const rest = pod.slice(sts.length + 1);
  return /^(0|[1-9][0-9]*)$/.test(rest) ? Number(rest) : undefined;
}
