/**
 * The verbs of `metamysql local` (ARCHITECTURE.md section 6) acted out on a running local
 * runtime: apply a cluster or another object, status, kill a pod, delete a pod or the cluster,
 * trigger a CronJob. Each does what kubectl (or the real control plane) would; failures are
 * ControlErrors with the HTTP status the control channel answers with. The runtime (runtime.ts)
 * exposes them as methods, the control channel (routes.ts) as routes.
 */
import { API_VERSION, CLUSTER_KIND, ROOT_USER, SECRET_ROOT_PASSWORD } from "../../api/constants.js";
import { isRecord, namespaceOf, recordField, stringField, type KObject } from "../apiserver/objects.js";
import type { ObjectStore } from "../apiserver/store.js";
import type { CronJobController } from "../controllers/cronjob.js";
import { isJobPod } from "../controllers/job.js";
import type { Kubelet } from "../kubelet/kubelet.js";
import type { Say } from "../narration.js";
import { flavorOfImage, missingServerMessage } from "../node/binaries.js";
import type { StateLayout } from "../node/statedir.js";
import type { ServiceProxies } from "../proxy/proxy.js";
import { ControlError } from "./channel.js";

/** `local status --json` (ARCHITECTURE.md section 6). */
export interface LocalStatus {
  cluster: KObject | null;
  pods: Array<{ name: string; ip: string; port: number; pid: number | null; ready: boolean }>;
  services: Record<string, string>;
  credentials: { user: string; password: string } | null;
}

/** The parts of a running local runtime that the verbs act on. */
export interface RuntimeParts {
  readonly layout: StateLayout;
  readonly store: ObjectStore;
  readonly kubelet: Kubelet;
  readonly proxies: ServiceProxies;
  readonly cronJobs: CronJobController;
  /** Reports a progress event. */
  readonly say: Say;
}

/** The MySQLCluster of this state dir, if any. */
export function clusterOf(store: ObjectStore): KObject | undefined {
  return store.list({ apiVersion: API_VERSION, kind: CLUSTER_KIND })[0];
}

/** The namespace the verbs address pods and CronJobs in: the cluster's, else "default". */
function verbNamespace(store: ObjectStore): string {
  const cluster = clusterOf(store);
  return cluster ? namespaceOf(cluster) : "default";
}

/**
 * The spec the local runtime runs: the manifest's, with `remoteRoot: true` unless the manifest
 * says otherwise. Remote root is opt-in in production (root only from inside a pod); here the
 * Services are the only way in, and `local status --json` names root as the cluster's
 * administrative account (ARCHITECTURE.md section 6).
 */
function localSpec(spec: unknown): unknown {
  if (spec === undefined) return { remoteRoot: true };
  if (isRecord(spec) && spec.remoteRoot === undefined) return { ...spec, remoteRoot: true };
  return spec;
}

/**
 * Creates or updates the cluster from a manifest (spec, labels, annotations), like
 * `kubectl apply`. One cluster per state dir.
 */
export function applyCluster(parts: RuntimeParts, manifest: unknown): KObject {
  if (!isRecord(manifest) || manifest.kind !== CLUSTER_KIND || manifest.apiVersion !== API_VERSION) {
    throw new ControlError(400, `expected a ${CLUSTER_KIND} with apiVersion ${API_VERSION}`);
  }
  const meta = recordField(manifest, "metadata");
  const name = stringField(meta, "name");
  if (!name) throw new ControlError(400, "metadata.name is required");
  const namespace = stringField(meta, "namespace") ?? "default";
  const existing = clusterOf(parts.store);
  if (existing && (existing.metadata.name !== name || namespaceOf(existing) !== namespace)) {
    throw new ControlError(
      409,
      `state dir ${parts.layout.root} already runs cluster ${namespaceOf(existing)}/${existing.metadata.name}; ` +
        `delete it first ("metamysql local delete") or use another --state-dir`,
    );
  }
  const flavor = stringField(manifest, "spec", "flavor") ?? "mysql";
  const image = stringField(manifest, "spec", "image");
  const serverFlavor = image ? flavorOfImage(image) : flavor === "mariadb" ? "mariadb" : "mysql";
  const missing = serverFlavor ? missingServerMessage(serverFlavor) : undefined;
  if (missing) throw new ControlError(422, missing);
  const labels = isRecord(meta.labels) ? (meta.labels as Record<string, string>) : undefined;
  const annotations = isRecord(meta.annotations) ? (meta.annotations as Record<string, string>) : undefined;
  if (!existing) {
    return parts.store.create({
      apiVersion: API_VERSION,
      kind: CLUSTER_KIND,
      metadata: { name, namespace, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
      spec: localSpec(manifest.spec),
    });
  }
  if (existing.metadata.deletionTimestamp) throw new ControlError(409, `cluster ${name} is being deleted`);
  const next: KObject = { ...existing, spec: localSpec(manifest.spec) };
  next.metadata = { ...existing.metadata };
  if (labels) next.metadata.labels = labels;
  else delete next.metadata.labels;
  if (annotations) next.metadata.annotations = annotations;
  else delete next.metadata.annotations;
  return parts.store.update(next);
}

/**
 * Creates or updates another object (MySQLBackup, Secret, PersistentVolumeClaim), like
 * `kubectl apply`: the spec (data for Secrets) is replaced, status is kept.
 */
export function applyObject(parts: RuntimeParts, manifest: unknown): KObject {
  if (!isRecord(manifest) || typeof manifest.kind !== "string" || typeof manifest.apiVersion !== "string") {
    throw new ControlError(400, "expected a Kubernetes object with apiVersion and kind");
  }
  if (manifest.kind === CLUSTER_KIND) throw new ControlError(400, "use apply for the MySQLCluster");
  const allowed = ["MySQLBackup", "Secret", "PersistentVolumeClaim"];
  if (!allowed.includes(manifest.kind)) throw new ControlError(400, `the local runtime applies only ${allowed.join(", ")} besides the cluster`);
  const meta = recordField(manifest, "metadata");
  const name = stringField(meta, "name");
  if (!name) throw new ControlError(400, "metadata.name is required");
  const namespace = stringField(meta, "namespace") ?? "default";
  const existing = parts.store.get(manifest.apiVersion, manifest.kind, namespace, name);
  const labels = isRecord(meta.labels) ? (meta.labels as Record<string, string>) : undefined;
  const body: KObject = { ...(manifest as KObject), metadata: { name, namespace, ...(labels ? { labels } : {}) } };
  delete body.status;
  if (!existing) return parts.store.create(body);
  return parts.store.update({ ...body, metadata: { ...existing.metadata, ...(labels ? { labels } : {}) } });
}

/** `local status --json`. */
export function localStatus(parts: RuntimeParts): LocalStatus {
  const cluster = clusterOf(parts.store);
  const ns = cluster ? namespaceOf(cluster) : "default";
  const pods = parts.kubelet
    .pods()
    .filter((p) => p.namespace === ns)
    .map((p) => ({ name: p.name, ip: p.ip, port: 3306, pid: p.pid ?? null, ready: p.ready }));
  return { cluster: cluster ?? null, pods, services: parts.proxies.addresses(ns), credentials: clusterCredentials(parts.store) };
}

/**
 * The cluster's root account, from its credentials Secret (the local runtime turns remote root on
 * unless the manifest turned it off: localSpec).
 */
export function clusterCredentials(store: ObjectStore): { user: string; password: string } | null {
  const cluster = clusterOf(store);
  if (!cluster) return null;
  if (recordField(cluster, "spec").remoteRoot === false) return null;
  const secretName = stringField(cluster, "spec", "credentialsSecretName") ?? `${cluster.metadata.name}-credentials`;
  const secret = store.get("v1", "Secret", namespaceOf(cluster), secretName);
  const raw = secret ? recordField(secret, "data")[SECRET_ROOT_PASSWORD] : undefined;
  if (typeof raw !== "string") return null;
  return { user: ROOT_USER, password: Buffer.from(raw, "base64").toString("utf8") };
}

/** `local kill POD --signal KILL|STOP|CONT|TERM`. */
export function killPod(parts: RuntimeParts, pod: string, signal: string): void {
  const sig = (signal.startsWith("SIG") ? signal : `SIG${signal}`).toUpperCase();
  if (!["SIGKILL", "SIGSTOP", "SIGCONT", "SIGTERM"].includes(sig)) {
    throw new ControlError(400, `unsupported signal ${signal}: use KILL, STOP, CONT or TERM`);
  }
  try {
    parts.kubelet.signal(verbNamespace(parts.store), pod, sig as NodeJS.Signals);
  } catch (err) {
    throw new ControlError(404, err instanceof Error ? err.message : String(err));
  }
}

/**
 * Deletes a Pod like `kubectl delete pod`: it gets a deletionTimestamp (the hooks see it
 * terminating), the kubelet runs the preStop hook, then SIGTERM, then SIGKILL at the end of
 * the grace period, and removes it; its StatefulSet then re-creates it with the same name
 * and PVC.
 */
export function deletePod(parts: RuntimeParts, pod: string, gracePeriodSeconds?: number): void {
  try {
    parts.store.delete("v1", "Pod", verbNamespace(parts.store), pod, gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds });
  } catch (err) {
    throw new ControlError(404, err instanceof Error ? err.message : String(err));
  }
  parts.say(`pod ${pod}`, "Deleting", `deletion requested${gracePeriodSeconds === undefined ? "" : ` (grace ${gracePeriodSeconds}s)`}`);
}

/**
 * Deletes the cluster like `kubectl delete`: Metacontroller calls finalize until it answers
 * finalized, the children are garbage collected, pods terminate. Resolves when every pod is
 * gone; data dirs (PVCs) are kept per the retention policy.
 */
export async function deleteCluster(parts: RuntimeParts, timeoutMs: number): Promise<void> {
  const { store } = parts;
  const cluster = clusterOf(store);
  if (!cluster) throw new ControlError(404, "no cluster to delete");
  if (!cluster.metadata.deletionTimestamp) {
    store.delete(cluster.apiVersion, cluster.kind, namespaceOf(cluster), cluster.metadata.name);
    parts.say(`cluster ${cluster.metadata.name}`, "Deleting", "deletion requested; waiting for the finalize hook");
  }
  const gone = (): boolean => !clusterOf(store) && store.list({ kind: "Pod" }).filter((p) => !isJobPod(p)).length === 0 && parts.kubelet.pods().length === 0;
  await waitForStore(store, gone, timeoutMs, "cluster deletion");
  parts.say(`cluster ${cluster.metadata.name}`, "Deleted", "cluster deleted, every instance stopped; data dirs kept");
}

/** `local trigger CRONJOB`: runs the CronJob now; returns the Job's name. */
export function triggerCronJob(parts: RuntimeParts, cronJob: string): string {
  try {
    return parts.cronJobs.trigger(verbNamespace(parts.store), cronJob).metadata.name;
  } catch (err) {
    throw new ControlError(404, err instanceof Error ? err.message : String(err));
  }
}

/**
 * Resolves when `predicate` holds (checked on every store change and every 200 ms). `what` names
 * the wait in the timeout error; as a function it is evaluated at the timeout, so the error tells
 * the state at that moment, not at the start of the wait.
 */
export async function waitForStore(store: ObjectStore, predicate: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
  if (predicate()) return;
  await new Promise<void>((resolve, reject) => {
    const done = (err?: Error): void => {
      clearInterval(tick);
      clearTimeout(timer);
      unwatch();
      if (err) reject(err);
      else resolve();
    };
    const check = (): void => {
      try {
        if (predicate()) done();
      } catch (err) {
        done(err instanceof Error ? err : new Error(String(err)));
      }
    };
    const unwatch = store.watch(() => queueMicrotask(check));
    const tick = setInterval(check, 200);
    const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for ${typeof what === "string" ? what : what()}`)), timeoutMs);
  });
}
