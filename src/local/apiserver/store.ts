/**
 * The local runtime's API server: an in-memory object store with the Kubernetes semantics the
 * controllers depend on (resourceVersion, generation, status subresource, finalizers, graceful
 * pod deletion, owner-reference garbage collection, watches), persisted to the state dir so that
 * `local up` resumes. ARCHITECTURE.md section 6; simplifications in docs/local-runtime.md.
 */
import { randomUUID } from "node:crypto";
import { closeSync, fchmodSync, mkdirSync, openSync, readFileSync, renameSync, writeFileSync, existsSync } from "node:fs";
import { dirname } from "node:path";
import { clone, deepEqual, keyOf, matchesSelector, namespaceOf, objectKey, rfc3339, typeKey, type KObject, type LabelSelector } from "./objects.js";

/** Mode of the state file: it holds Secrets, so only its owner may read it. */
export const STATE_FILE_MODE = 0o600;

/** Why a store operation failed, with the HTTP code the API server would answer. */
export type StoreErrorCode = "NotFound" | "AlreadyExists" | "Conflict" | "Invalid";

const HTTP_CODES: Record<StoreErrorCode, number> = { NotFound: 404, AlreadyExists: 409, Conflict: 409, Invalid: 422 };

/** An API error (NotFound, AlreadyExists, Conflict, Invalid). */
export class StoreError extends Error {
  readonly code: StoreErrorCode;
  readonly httpStatus: number;
  constructor(code: StoreErrorCode, message: string) {
    super(message);
    this.name = "StoreError";
    this.code = code;
    this.httpStatus = HTTP_CODES[code];
  }
}

/** True when `err` is a StoreError with `code`. */
export function isStoreError(err: unknown, code: StoreErrorCode): boolean {
  return err instanceof StoreError && err.code === code;
}

/** A change seen by watchers. `old` is set for MODIFIED and DELETED. */
export interface WatchEvent {
  type: "ADDED" | "MODIFIED" | "DELETED";
  object: KObject;
  old?: KObject;
}

/** Validates an update (old -> new); throws StoreError("Invalid") like admission would. */
export type UpdateValidator = (oldObj: KObject, newObj: KObject) => void;

/** What to list. */
export interface ListOptions {
  apiVersion?: string;
  kind: string;
  namespace?: string;
  labelSelector?: LabelSelector;
}

/** Options of a delete. */
export interface DeleteOptions {
  /** Fails with Conflict when the stored object has another uid (Metacontroller's precondition). */
  uid?: string;
  /** Grace period for Pods; defaults to spec.terminationGracePeriodSeconds (30). */
  gracePeriodSeconds?: number;
}

interface PersistedState {
  resourceVersion: number;
  objects: KObject[];
}

/** Fields of an object that are not its "spec" for generation purposes. */
const NON_SPEC_FIELDS = new Set(["apiVersion", "kind", "metadata", "status"]);

/** Kinds whose `status` is a subresource (a main-resource update cannot change it). */
function hasStatusSubresource(kind: string): boolean {
  return !["ConfigMap", "Secret", "EndpointSlice", "ServiceAccount", "Role", "RoleBinding", "NetworkPolicy"].includes(kind);
}

/**
 * In-memory API server. Every mutation bumps a global resourceVersion and is delivered to the
 * watchers synchronously (they must only enqueue work); objects handed out are copies.
 */
export class ObjectStore {
  private readonly objects = new Map<string, KObject>();
  private readonly listeners = new Set<(ev: WatchEvent) => void>();
  private readonly validators = new Map<string, UpdateValidator>();
  private rv = 0;
  private saveTimer: NodeJS.Timeout | undefined;
  private readonly file: string | undefined;

  /** A store persisted to `file` (JSON, written atomically shortly after each change). */
  constructor(opts: { file?: string } = {}) {
    this.file = opts.file;
    if (this.file && existsSync(this.file)) {
      const state = JSON.parse(readFileSync(this.file, "utf8")) as PersistedState;
      this.rv = state.resourceVersion;
      for (const obj of state.objects) this.objects.set(keyOf(obj), obj);
    }
  }

  /** Registers an admission check for updates of a type (e.g. immutable StatefulSet fields). */
  addValidator(apiVersion: string, kind: string, validator: UpdateValidator): void {
    this.validators.set(typeKey(apiVersion, kind), validator);
  }

  /** Subscribes to every change; returns the unsubscribe function. */
  watch(listener: (ev: WatchEvent) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  /** A copy of the object, or undefined. */
  get(apiVersion: string, kind: string, namespace: string, name: string): KObject | undefined {
    const obj = this.objects.get(objectKey(apiVersion, kind, namespace, name));
    return obj ? clone(obj) : undefined;
  }

  /** Copies of the matching objects, sorted by namespace and name. */
  list(opts: ListOptions): KObject[] {
    const out: KObject[] = [];
    for (const obj of this.objects.values()) {
      if (obj.kind !== opts.kind) continue;
      if (opts.apiVersion && typeKey(obj.apiVersion, obj.kind) !== typeKey(opts.apiVersion, opts.kind)) continue;
      if (opts.namespace && namespaceOf(obj) !== opts.namespace) continue;
      if (opts.labelSelector && !matchesSelector(obj.metadata.labels, opts.labelSelector)) continue;
      out.push(clone(obj));
    }
    return out.sort((a, b) => keyOf(a).localeCompare(keyOf(b)));
  }

  /** Every stored object (copies). */
  all(): KObject[] {
    return [...this.objects.values()].map((o) => clone(o));
  }

  /** Creates an object; fills uid, resourceVersion, generation, creationTimestamp, namespace. */
  create(input: KObject): KObject {
    const obj = clone(input);
    obj.metadata.namespace = namespaceOf(obj);
    const key = keyOf(obj);
    if (this.objects.has(key)) {
      throw new StoreError("AlreadyExists", `${obj.kind} "${obj.metadata.name}" already exists`);
    }
    obj.metadata.uid = randomUUID();
    obj.metadata.resourceVersion = String(++this.rv);
    obj.metadata.generation = 1;
    obj.metadata.creationTimestamp = rfc3339();
    delete obj.metadata.deletionTimestamp;
    delete obj.metadata.deletionGracePeriodSeconds;
    this.objects.set(key, obj);
    this.emit({ type: "ADDED", object: clone(obj) });
    return clone(obj);
  }

  /**
   * Updates the main resource: status is kept (status subresource), system metadata is kept,
   * generation bumps when anything outside metadata and status changes. A resourceVersion in
   * the input must match (optimistic concurrency). No-op updates change nothing.
   */
  update(input: KObject): KObject {
    const key = keyOf({ ...input, metadata: { ...input.metadata, namespace: namespaceOf(input) } });
    const old = this.objects.get(key);
    if (!old) throw new StoreError("NotFound", `${input.kind} "${input.metadata.name}" not found`);
    this.checkPreconditions(old, input);
    const next = clone(input);
    next.metadata.namespace = namespaceOf(old);
    for (const f of ["uid", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds", "generation"] as const) {
      if (old.metadata[f] === undefined) delete next.metadata[f];
      else next.metadata[f] = old.metadata[f] as never;
    }
    if (hasStatusSubresource(old.kind)) {
      if (old.status === undefined) delete next.status;
      else next.status = clone(old.status);
    }
    const validator = this.validators.get(typeKey(old.apiVersion, old.kind));
    if (validator) validator(old, next);
    next.metadata.resourceVersion = old.metadata.resourceVersion;
    if (deepEqual(old, next)) return clone(old);
    if (specChanged(old, next)) next.metadata.generation = (old.metadata.generation ?? 0) + 1;
    return this.commit(key, old, next);
  }

  /** Replaces the status (the status subresource). No-op when unchanged. */
  updateStatus(input: KObject): KObject {
    const key = keyOf({ ...input, metadata: { ...input.metadata, namespace: namespaceOf(input) } });
    const old = this.objects.get(key);
    if (!old) throw new StoreError("NotFound", `${input.kind} "${input.metadata.name}" not found`);
    this.checkPreconditions(old, input);
    if (deepEqual(old.status, input.status)) return clone(old);
    const next = clone(old);
    if (input.status === undefined) delete next.status;
    else next.status = clone(input.status);
    return this.commit(key, old, next);
  }

  /**
   * Deletes an object the way the API server does: objects with finalizers (and Pods, which the
   * kubelet terminates gracefully) get a deletionTimestamp; others are removed at once and their
   * dependents are garbage collected (background propagation).
   */
  delete(apiVersion: string, kind: string, namespace: string, name: string, opts: DeleteOptions = {}): void {
    const key = objectKey(apiVersion, kind, namespace, name);
    const old = this.objects.get(key);
    if (!old) throw new StoreError("NotFound", `${kind} "${name}" not found`);
    if (opts.uid && old.metadata.uid !== opts.uid) {
      throw new StoreError("Conflict", `${kind} "${name}": uid precondition failed`);
    }
    const graceful = kind === "Pod";
    if ((old.metadata.finalizers ?? []).length > 0 || graceful) {
      if (old.metadata.deletionTimestamp) return;
      const next = clone(old);
      let grace = 0;
      if (graceful) {
        const spec = (old.spec ?? {}) as { terminationGracePeriodSeconds?: number };
        grace = opts.gracePeriodSeconds ?? spec.terminationGracePeriodSeconds ?? 30;
        next.metadata.deletionGracePeriodSeconds = grace;
      }
      next.metadata.deletionTimestamp = rfc3339(new Date(Date.now() + grace * 1000));
      this.commit(key, old, next);
      return;
    }
    this.removeKey(key);
  }

  /** Removes an object now (the kubelet's final delete of a terminated Pod; GC of dependents). */
  remove(apiVersion: string, kind: string, namespace: string, name: string): void {
    const key = objectKey(apiVersion, kind, namespace, name);
    if (this.objects.has(key)) this.removeKey(key);
  }

  /** Writes pending changes to the state file now. */
  flush(): void {
    if (this.saveTimer) clearTimeout(this.saveTimer);
    this.saveTimer = undefined;
    if (!this.file) return;
    mkdirSync(dirname(this.file), { recursive: true, mode: 0o700 });
    const state: PersistedState = { resourceVersion: this.rv, objects: [...this.objects.values()] };
    const tmp = `${this.file}.tmp`;
    // The state holds Secrets (passwords): owner-only, also when a tmp file of an older run,
    // created with the umask's mode, is reused (the mode of open() applies only on creation).
    const fd = openSync(tmp, "w", STATE_FILE_MODE);
    try {
      fchmodSync(fd, STATE_FILE_MODE);
      writeFileSync(fd, JSON.stringify(state, null, 1));
    } finally {
      closeSync(fd);
    }
    renameSync(tmp, this.file);
  }

  private checkPreconditions(old: KObject, input: KObject): void {
    const rv = input.metadata.resourceVersion;
    if (rv !== undefined && rv !== old.metadata.resourceVersion) {
      throw new StoreError("Conflict", `Operation cannot be fulfilled on ${old.kind} "${old.metadata.name}": the object has been modified`);
    }
    if (input.metadata.uid !== undefined && input.metadata.uid !== old.metadata.uid) {
      throw new StoreError("Conflict", `${old.kind} "${old.metadata.name}": uid precondition failed`);
    }
  }

  private commit(key: string, old: KObject, next: KObject): KObject {
    next.metadata.resourceVersion = String(++this.rv);
    if (next.metadata.deletionTimestamp && (next.metadata.finalizers ?? []).length === 0 && next.kind !== "Pod") {
      this.objects.set(key, next);
      this.removeKey(key);
      return clone(next);
    }
    this.objects.set(key, next);
    this.emit({ type: "MODIFIED", object: clone(next), old: clone(old) });
    return clone(next);
  }

  private removeKey(key: string): void {
    const old = this.objects.get(key);
    if (!old) return;
    this.objects.delete(key);
    this.rv++;
    this.emit({ type: "DELETED", object: clone(old), old: clone(old) });
    this.collectGarbage(old);
  }

  /** Background propagation: dependents whose owners are all gone are deleted. */
  private collectGarbage(owner: KObject): void {
    const uid = owner.metadata.uid;
    if (!uid) return;
    for (const obj of [...this.objects.values()]) {
      const refs = obj.metadata.ownerReferences ?? [];
      if (!refs.some((r) => r.uid === uid)) continue;
      const liveOwners = refs.filter((r) => r.uid !== uid && this.hasUid(r.uid));
      if (liveOwners.length > 0) continue;
      try {
        this.delete(obj.apiVersion, obj.kind, namespaceOf(obj), obj.metadata.name);
      } catch {
        // already gone
      }
    }
  }

  private hasUid(uid: string): boolean {
    for (const o of this.objects.values()) if (o.metadata.uid === uid) return true;
    return false;
  }

  private emit(ev: WatchEvent): void {
    this.scheduleSave();
    for (const l of [...this.listeners]) {
      try {
        l(ev);
      } catch (err) {
        process.emitWarning(`local runtime watcher failed: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
  }

  private scheduleSave(): void {
    if (!this.file || this.saveTimer) return;
    this.saveTimer = setTimeout(() => {
      this.saveTimer = undefined;
      try {
        this.flush();
      } catch (err) {
        process.emitWarning(`local runtime: cannot save state: ${err instanceof Error ? err.message : String(err)}`);
      }
    }, 200);
    this.saveTimer.unref();
  }
}

function specChanged(a: KObject, b: KObject): boolean {
  const keys = new Set([...Object.keys(a), ...Object.keys(b)].filter((k) => !NON_SPEC_FIELDS.has(k)));
  for (const k of keys) if (!deepEqual(a[k], b[k])) return true;
  return false;
}
