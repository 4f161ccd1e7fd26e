/**
 * The verbs of `metamysql local` (ARCHITECTURE.md section 6) acted out on a running local
 * runtime: apply a cluster or another object, status, kill a pod, delete a pod or the cluster,
 * trigger a CronJob. Each does what kubectl (or the real control plane) would; failures are
 * ControlErrors with the HTTP status the control channel answers with. The runtime (runtime.ts)
 * exposes them as methods, the control channel (routes.ts) as routes.
 */
import { API_VERSION, CLUSTER_KIND, ROOT_USER, SECRET_ROOT_PASSWORD } from "../../api/constants.js";
import { controllerOf, isRecord, namespaceOf, recordField, stringField, type KObject } from "../apiserver/objects.js";
import { type KindCatalog, type KindInfo, objectTable, qualifiedName } from "../apiserver/kinds.js";
import { isStoreError, type ObjectStore } from "../apiserver/store.js";
import type { CronJobController } from "../controllers/cronjob.js";
import { isJobPod } from "../controllers/job.js";
import type { Kubelet } from "../kubelet/kubelet.js";
import type { Say } from "../narration.js";
import { flavorOfImage, missingServerMessage } from "../node/binaries.js";
import type { StateLayout } from "../node/statedir.js";
import type { ServiceProxies } from "../proxy/proxy.js";
import { ControlError } from "./channel.js";
import { acceptedKindsText, admitDocuments } from "./documents.js";

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
  /** Every kind the API server knows (built-in and the CRDs'). */
  readonly catalog: KindCatalog;
  /** The kinds a file may hold: the CompositeControllers' parents, Secret, PersistentVolumeClaim. */
  readonly accepted: readonly KindInfo[];
  /** The kinds of the CompositeControllers' parents, in the order `delete` (everything) removes them. */
  readonly parents: readonly KindInfo[];
  /** The state dir's namespace. */
  readonly namespace: string;
}

/** The first MySQLCluster of this state dir, if any. */
export function clusterOf(store: ObjectStore): KObject | undefined {
  return store.list({ apiVersion: API_VERSION, kind: CLUSTER_KIND })[0];
}

/** Every MySQLCluster of this state dir. */
export function clustersOf(store: ObjectStore): KObject[] {
  return store.list({ apiVersion: API_VERSION, kind: CLUSTER_KIND });
}

/**
 * The MySQLCluster named `name`, or the only one when no name is given; undefined when there is
 * none. Throws (400) when no name is given and there are several, (404) when the named one is missing.
 */
export function pickCluster(store: ObjectStore, name?: string): KObject | undefined {
  const all = clustersOf(store);
  if (name !== undefined) {
    const found = all.find((c) => c.metadata.name === name);
    if (!found) throw new ControlError(404, `no MySQLCluster ${name}${all.length ? ` (there are: ${all.map((c) => c.metadata.name).join(", ")})` : ""}`);
    return found;
  }
  if (all.length > 1) throw new ControlError(400, `this state dir runs ${all.length} clusters (${all.map((c) => c.metadata.name).join(", ")}): name one`);
  return all[0];
}

/** True for a pod of the cluster's StatefulSet (`<cluster>-<ordinal>`). */
export function isClusterPod(cluster: KObject, podName: string): boolean {
  const prefix = `${cluster.metadata.name}-`;
  return podName.startsWith(prefix) && /^\d+$/.test(podName.slice(prefix.length));
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
 * Creates or updates a cluster from a manifest (spec, labels, annotations), like
 * `kubectl apply`. A state dir holds any number of clusters.
 */
export function applyCluster(parts: RuntimeParts, manifest: unknown): KObject {
  if (!isRecord(manifest) || manifest.kind !== CLUSTER_KIND || manifest.apiVersion !== API_VERSION) {
    throw new ControlError(400, `expected a ${CLUSTER_KIND} with apiVersion ${API_VERSION}`);
  }
  const meta = recordField(manifest, "metadata");
  const name = stringField(meta, "name");
  if (!name) throw new ControlError(400, "metadata.name is required");
  const namespace = stringField(meta, "namespace") ?? parts.namespace;
  const existing = parts.store.get(API_VERSION, CLUSTER_KIND, namespace, name);
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
 * Creates or updates another object (MySQLBackup or another CompositeController's parent,
 * Secret, PersistentVolumeClaim), like `kubectl apply`: the spec (data for Secrets, with
 * stringData folded in) is replaced, labels and annotations too, status is kept. Unlike a file
 * applied with applyDocuments, the spec is not validated here (the hooks report an invalid one).
 */
export function applyObject(parts: RuntimeParts, manifest: unknown): KObject {
  if (!isRecord(manifest) || typeof manifest.kind !== "string" || typeof manifest.apiVersion !== "string") {
    throw new ControlError(400, "expected a Kubernetes object with apiVersion and kind");
  }
  if (manifest.kind === CLUSTER_KIND) throw new ControlError(400, "use apply for the MySQLCluster");
  const info = parts.catalog.byKind(manifest.apiVersion, manifest.kind);
  if (!info || !parts.accepted.includes(info)) throw new ControlError(400, `the local runtime applies only ${acceptedKindsText(parts.accepted)}`);
  const meta = recordField(manifest, "metadata");
  const name = stringField(meta, "name");
  if (!name) throw new ControlError(400, "metadata.name is required");
  const namespace = stringField(meta, "namespace") ?? parts.namespace;
  const labels = isRecord(meta.labels) ? (meta.labels as Record<string, string>) : undefined;
  const annotations = isRecord(meta.annotations) ? (meta.annotations as Record<string, string>) : undefined;
  const body: KObject = { ...(manifest as KObject), metadata: { name, namespace, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) } };
  delete body.status;
  if (info.kind === "Secret" && info.apiVersion === "v1" && isRecord(body.stringData)) {
    const data = isRecord(body.data) ? { ...body.data } : {};
    for (const [k, v] of Object.entries(body.stringData)) data[k] = Buffer.from(String(v), "utf8").toString("base64");
    body.data = data;
    delete body.stringData;
  }
  return writeObject(parts, body);
}

/** Creates `body`, or replaces everything but its status and system metadata (apply semantics). */
function writeObject(parts: RuntimeParts, body: KObject): KObject {
  const namespace = namespaceOf(body);
  const existing = parts.store.get(body.apiVersion, body.kind, namespace, body.metadata.name);
  if (!existing) {
    // The local volume binder: every claim is bound at once, to a dir under the state dir.
    if (body.kind === "PersistentVolumeClaim" && body.apiVersion === "v1") {
      const storage = stringField(body, "spec", "resources", "requests", "storage");
      return parts.store.create({
        ...body,
        status: { phase: "Bound", accessModes: recordField(body, "spec").accessModes, ...(storage ? { capacity: { storage } } : {}) },
      });
    }
    return parts.store.create(body);
  }
  if (existing.metadata.deletionTimestamp) throw new ControlError(409, `${body.kind} ${body.metadata.name} is being deleted`);
  const metadata = { ...existing.metadata };
  delete metadata.labels;
  delete metadata.annotations;
  if (body.metadata.labels) metadata.labels = body.metadata.labels;
  if (body.metadata.annotations) metadata.annotations = body.metadata.annotations;
  return parts.store.update({ ...body, metadata });
}

/** What applying one document did (kubectl's "created", "configured", "unchanged"). */
export interface AppliedObject {
  /** `mysqlcluster.metamysql.dev/shop`. */
  ref: string;
  action: "created" | "configured" | "unchanged";
  object: KObject;
}

/**
 * `local apply -f` / `local up -f`: validates every document (control/documents.ts) and applies
 * them in order only when all are valid; an invalid one fails the whole file and applies nothing.
 */
export async function applyDocuments(parts: RuntimeParts, docs: unknown[]): Promise<AppliedObject[]> {
  const admitted = admitDocuments(docs, { catalog: parts.catalog, accepted: parts.accepted, namespace: parts.namespace, store: parts.store });
  const out: AppliedObject[] = [];
  for (const obj of admitted) {
    const info = parts.catalog.byKind(obj.apiVersion, obj.kind);
    const before = parts.store.get(obj.apiVersion, obj.kind, namespaceOf(obj), obj.metadata.name);
    const after = obj.kind === CLUSTER_KIND ? applyCluster(parts, obj) : writeObject(parts, obj);
    const action = !before ? "created" : before.metadata.resourceVersion === after.metadata.resourceVersion ? "unchanged" : "configured";
    out.push({ ref: `${info ? qualifiedName(info) : obj.kind.toLowerCase()}/${obj.metadata.name}`, action, object: after });
  }
  return out;
}

/** `local status [CLUSTER] --json`: the named cluster, or the only one. */
export function localStatus(parts: RuntimeParts, clusterName?: string): LocalStatus {
  const cluster = pickCluster(parts.store, clusterName);
  const ns = cluster ? namespaceOf(cluster) : parts.namespace;
  const pods = parts.kubelet
    .pods()
    .filter((p) => p.namespace === ns && (!cluster || isClusterPod(cluster, p.name)))
    .map((p) => ({ name: p.name, ip: p.ip, port: 3306, pid: p.pid ?? null, ready: p.ready }));
  const services: Record<string, string> = {};
  for (const [name, addr] of Object.entries(parts.proxies.addresses(ns))) {
    const svc = parts.store.get("v1", "Service", ns, name);
    if (!cluster || (svc && controllerOf(svc)?.uid === cluster.metadata.uid)) services[name] = addr;
  }
  return { cluster: cluster ?? null, pods, services, credentials: cluster ? clusterCredentials(parts.store, cluster) : null };
}

/**
 * The cluster's root account, from its credentials Secret (the local runtime turns remote root on
 * unless the manifest turned it off: localSpec). Without a cluster: the only one's.
 */
export function clusterCredentials(store: ObjectStore, of?: KObject): { user: string; password: string } | null {
  const cluster = of ?? pickCluster(store);
  if (!cluster) return null;
  if (recordField(cluster, "spec").remoteRoot === false) return null;
  const secretName = stringField(cluster, "spec", "credentialsSecretName") ?? `${cluster.metadata.name}-credentials`;
  const secret = store.get("v1", "Secret", namespaceOf(cluster), secretName);
  const raw = secret ? recordField(secret, "data")[SECRET_ROOT_PASSWORD] : undefined;
  if (typeof raw !== "string") return null;
  return { user: ROOT_USER, password: Buffer.from(raw, "base64").toString("utf8") };
}

/** `local get KIND [NAME]`: the objects, and the table kubectl would print. */
export function getObjects(
  parts: RuntimeParts,
  kindName: string,
  name?: string,
): { kind: string; apiVersion: string; namespace: string; items: KObject[]; table: { columns: string[]; rows: string[][] } } {
  const info = parts.catalog.resolve(kindName);
  if (!info) throw new ControlError(404, `the server doesn't have a resource type "${kindName}"`);
  let items = parts.store.list({ apiVersion: info.apiVersion, kind: info.kind, namespace: parts.namespace });
  if (name !== undefined) {
    items = items.filter((o) => o.metadata.name === name);
    if (items.length === 0) throw new ControlError(404, `${qualifiedName(info)} "${name}" not found`);
  }
  const addresses = parts.proxies.addresses(parts.namespace);
  const table = objectTable(info, items, { now: Date.now(), serviceAddress: (ns, svc) => (ns === parts.namespace ? addresses[svc] : undefined) });
  return { kind: info.kind, apiVersion: info.apiVersion, namespace: parts.namespace, items, table };
}

/** `local kill POD --signal KILL|STOP|CONT|TERM`. */
export function killPod(parts: RuntimeParts, pod: string, signal: string): void {
  const sig = (signal.startsWith("SIG") ? signal : `SIG${signal}`).toUpperCase();
  if (!["SIGKILL", "SIGSTOP", "SIGCONT", "SIGTERM"].includes(sig)) {
    throw new ControlError(400, `unsupported signal ${signal}: use KILL, STOP, CONT or TERM`);
  }
  try {
    parts.kubelet.signal(parts.namespace, pod, sig as NodeJS.Signals);
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
    parts.store.delete("v1", "Pod", parts.namespace, pod, gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds });
  } catch (err) {
    throw new ControlError(404, err instanceof Error ? err.message : String(err));
  }
  parts.say(`pod ${pod}`, "Deleting", `deletion requested${gracePeriodSeconds === undefined ? "" : ` (grace ${gracePeriodSeconds}s)`}`);
}

/**
 * Deletes a cluster (the named one, or the only one) like `kubectl delete`: Metacontroller calls
 * finalize until it answers finalized, the children are garbage collected, pods terminate.
 * Resolves when its pods are gone; data dirs (PVCs) are kept per the retention policy.
 */
export async function deleteCluster(parts: RuntimeParts, timeoutMs: number, name?: string): Promise<void> {
  const { store } = parts;
  const cluster = pickCluster(store, name);
  if (!cluster) throw new ControlError(404, "no cluster to delete");
  const ns = namespaceOf(cluster);
  if (!cluster.metadata.deletionTimestamp) {
    store.delete(cluster.apiVersion, cluster.kind, ns, cluster.metadata.name);
    parts.say(`cluster ${cluster.metadata.name}`, "Deleting", "deletion requested; waiting for the finalize hook");
  }
  const gone = (): boolean =>
    !store.get(cluster.apiVersion, cluster.kind, ns, cluster.metadata.name) &&
    store.list({ kind: "Pod", namespace: ns }).filter((p) => !isJobPod(p) && isClusterPod(cluster, p.metadata.name)).length === 0 &&
    parts.kubelet.pods().filter((p) => p.namespace === ns && isClusterPod(cluster, p.name)).length === 0;
  await waitForStore(store, gone, timeoutMs, `deletion of cluster ${cluster.metadata.name}`);
  parts.say(`cluster ${cluster.metadata.name}`, "Deleted", "cluster deleted, every instance stopped; data dirs kept");
}

/**
 * `local delete KIND NAME`: deletes one object like `kubectl delete` (a parent goes through its
 * finalize hook; a cluster's pods stop) and resolves when it is gone. Returns its reference.
 */
export async function deleteNamed(parts: RuntimeParts, kindName: string, name: string, timeoutMs: number): Promise<string> {
  const info = parts.catalog.resolve(kindName);
  if (!info) throw new ControlError(404, `the server doesn't have a resource type "${kindName}"`);
  const ref = `${qualifiedName(info)}/${name}`;
  if (info.kind === CLUSTER_KIND && info.apiVersion === API_VERSION) {
    await deleteCluster(parts, timeoutMs, name);
    return ref;
  }
  try {
    parts.store.delete(info.apiVersion, info.kind, parts.namespace, name);
  } catch (err) {
    if (isStoreError(err, "NotFound")) throw new ControlError(404, `${ref} not found`);
    throw err;
  }
  await waitForStore(parts.store, () => !parts.store.get(info.apiVersion, info.kind, parts.namespace, name), timeoutMs, `deletion of ${ref}`);
  parts.say(`${info.singular} ${name}`, "Deleted", "deleted");
  return ref;
}

/**
 * `local delete -f FILE`: deletes the objects a file names, in order; one that does not exist is
 * reported and the others are still deleted (like kubectl). Returns what happened to each.
 */
export async function deleteDocuments(
  parts: RuntimeParts,
  docs: unknown[],
  timeoutMs: number,
): Promise<Array<{ ref: string; deleted: boolean; error?: string }>> {
  const targets = docs.map((doc, i) => {
    const info =
      isRecord(doc) && typeof doc.apiVersion === "string" && typeof doc.kind === "string" ? parts.catalog.byKind(doc.apiVersion, doc.kind) : undefined;
    const name = stringField(doc, "metadata", "name");
    if (!info || !name) throw new ControlError(422, `document ${i + 1}: not an object of a known kind with metadata.name; nothing deleted`);
    return { info, name };
  });
  const out: Array<{ ref: string; deleted: boolean; error?: string }> = [];
  for (const t of targets) {
    try {
      out.push({ ref: await deleteNamed(parts, t.info.plural, t.name, timeoutMs), deleted: true });
    } catch (err) {
      out.push({ ref: `${qualifiedName(t.info)}/${t.name}`, deleted: false, error: err instanceof Error ? err.message : String(err) });
    }
  }
  return out;
}

/**
 * `local delete` without arguments: every parent object, each through its finalize hook, the
 * other controllers' parents (backups, databases, users) before the clusters they act on; then
 * waits for every cluster's pods to stop. Secrets and PVCs (the data) are kept.
 */
export async function deleteEverything(parts: RuntimeParts, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  const isCluster = (k: KindInfo): boolean => k.kind === CLUSTER_KIND && k.apiVersion === API_VERSION;
  for (const info of [...parts.parents.filter((k) => !isCluster(k)), ...parts.parents.filter(isCluster)]) {
    const objects = parts.store.list({ apiVersion: info.apiVersion, kind: info.kind, namespace: parts.namespace });
    await Promise.all(objects.map((o) => deleteNamed(parts, info.plural, o.metadata.name, Math.max(1000, deadline - Date.now()))));
  }
}

/** `local trigger CRONJOB`: runs the CronJob now; returns the Job's name. */
export function triggerCronJob(parts: RuntimeParts, cronJob: string): string {
  try {
    return parts.cronJobs.trigger(parts.namespace, cronJob).metadata.name;
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
