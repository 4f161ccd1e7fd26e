/**
 * Metacontroller's CompositeController, played locally against the ObjectStore: for each
 * parent it adds the finalizer, claims children by controller reference, asks the customize
 * hook which related objects to send (cached per uid and generation), calls sync (or finalize
 * while the parent is being deleted) with the documented request, then deletes the children
 * that were omitted, creates and updates the others (3-way apply, per-type update strategy),
 * replaces the status (with observedGeneration) and honours resyncAfterSeconds, the resync period
 * and `finalized`. Any failure aborts the sync and retries it with per-parent exponential backoff
 * (5 ms doubling to 1000 s). Changes to the parent, a child or a related object trigger a sync.
 * ARCHITECTURE.md sections 4 and 6; metacontroller-notes.md.
 */
import { z } from "zod";
import { MetacontrollerCustomizeResponseSchema, type MetacontrollerRelatedResourceRule, MetacontrollerSyncResponseSchema } from "../../api/metacontroller.js";
import { applyUpdate, withLastApplied } from "./apply.js";
import { type CompositeControllerConfig, finalizerName, type HookConfig } from "./controller-config.js";
import { callWebhook, HookCallError } from "./hookclient.js";
import {
  clone,
  controllerOf,
  deepEqual,
  isRecord,
  matchesSelector,
  metacontrollerGroupKey,
  namespaceOf,
  RESOURCE_KINDS,
  typeKey,
  type KObject,
  type LabelSelector,
} from "../apiserver/objects.js";
import { isStoreError, type ObjectStore, type WatchEvent } from "../apiserver/store.js";
import { WorkQueue } from "./workqueue.js";

/** Something the emulation reports (for the progress output and tests). */
export type MetacontrollerEvent =
  | { type: "SyncError"; parent: string; hook: string; message: string; retryInMs: number }
  | { type: "Synced"; parent: string; hook: string; durationMs: number; resyncAfterSeconds: number | undefined; statusMessage: string | undefined }
  | { type: "ChildCreated" | "ChildUpdated" | "ChildDeleted"; parent: string; child: string }
  | { type: "Finalized"; parent: string };

/** Options of the emulation. */
export interface MetacontrollerOptions {
  store: ObjectStore;
  controller: CompositeControllerConfig;
  onEvent?: (ev: MetacontrollerEvent) => void;
  /** Parallel parents (Metacontroller's --workers). */
  workers?: number;
  /**
   * Resource plural -> Kind of what customize hooks may ask for, besides objects.ts
   * RESOURCE_KINDS (the runtime adds every CRD it knows).
   */
  resourceKinds?: Readonly<Record<string, string>>;
}

type RelatedRule = MetacontrollerRelatedResourceRule;

/** The CompositeController emulation. */
export class MetacontrollerEmulator {
  private readonly store: ObjectStore;
  private readonly cc: CompositeControllerConfig;
  private readonly queue: WorkQueue;
  private readonly customizeCache = new Map<string, RelatedRule[]>();
  private readonly onEvent: (ev: MetacontrollerEvent) => void;
  private readonly relatedKinds: Readonly<Record<string, string>>;
  private unwatch: (() => void) | undefined;
  private resyncTimer: NodeJS.Timeout | undefined;

  /** Starts watching the store; call `stop()` to end. */
  constructor(opts: MetacontrollerOptions) {
    this.store = opts.store;
    this.cc = opts.controller;
    this.onEvent = opts.onEvent ?? (() => undefined);
    this.relatedKinds = { ...RESOURCE_KINDS, ...opts.resourceKinds };
    this.queue = new WorkQueue({
      workers: opts.workers ?? 5,
      baseDelayMs: 5,
      maxDelayMs: 1_000_000,
      handler: async (key) => {
        try {
          await this.sync(key);
        } catch (err) {
          if (err instanceof SyncFailure && err.requeued) {
            this.onEvent({ type: "SyncError", parent: key, hook: err.hook, message: err.message, retryInMs: err.retryInMs });
            return;
          }
          throw err;
        }
      },
      onError: (key, err, retryInMs) => {
        const hook = err instanceof SyncFailure ? err.hook : "sync";
        const message = err instanceof Error ? err.message : String(err);
        this.onEvent({ type: "SyncError", parent: key, hook, message, retryInMs });
      },
    });
  }

  /** Watches the store, queues every parent, starts the resync period. */
  start(): void {
    this.unwatch = this.store.watch((ev) => this.onChange(ev));
    for (const p of this.parents()) this.queue.add(parentKey(p));
    const period = this.cc.resyncPeriodSeconds;
    if (period && period > 0) {
      this.resyncTimer = setInterval(() => {
        for (const p of this.parents()) this.queue.add(parentKey(p));
      }, period * 1000);
    }
  }

  /** Queues a sync of the parent `namespace/name` now. */
  enqueue(namespace: string, name: string): void {
    this.queue.add(`${namespace}/${name}`);
  }

  /** Consecutive failed syncs of a parent (0 after a success). */
  failures(namespace: string, name: string): number {
    return this.queue.failureCount(`${namespace}/${name}`);
  }

  /** Stops watching and waits for running syncs to finish. */
  async stop(): Promise<void> {
    this.unwatch?.();
    if (this.resyncTimer) clearInterval(this.resyncTimer);
    await this.queue.shutdown();
  }

  private parents(): KObject[] {
    return this.store.list({ apiVersion: this.cc.parent.apiVersion, kind: this.cc.parent.kind });
  }

  private onChange(ev: WatchEvent): void {
    const obj = ev.object;
    if (typeKey(obj.apiVersion, obj.kind) === typeKey(this.cc.parent.apiVersion, this.cc.parent.kind)) {
      if (ev.type === "DELETED") {
        for (const k of [...this.customizeCache.keys()]) if (k.startsWith(`${obj.metadata.uid}/`)) this.customizeCache.delete(k);
        return;
      }
      this.queue.add(parentKey(obj));
      return;
    }
    const parents = this.parents();
    const owner = controllerOf(obj);
    if (owner && this.isChildType(obj)) {
      const parent = parents.find((p) => p.metadata.uid === owner.uid);
      if (parent) this.queue.add(parentKey(parent));
    }
    for (const parent of parents) {
      const rules = this.customizeCache.get(customizeKey(parent));
      if (rules?.some((r) => this.related(r, parent, obj) || (ev.old !== undefined && this.related(r, parent, ev.old)))) {
        this.queue.add(parentKey(parent));
      }
    }
  }

  private isChildType(obj: KObject): boolean {
    return this.cc.children.some((c) => typeKey(c.apiVersion, c.kind) === typeKey(obj.apiVersion, obj.kind));
  }

  private async sync(key: string): Promise<void> {
    const slash = key.indexOf("/");
    const namespace = key.slice(0, slash);
    const name = key.slice(slash + 1);
    let parent = this.store.get(this.cc.parent.apiVersion, this.cc.parent.kind, namespace, name);
    if (!parent) return;
    const finalizer = finalizerName(this.cc.name);
    const deleting = parent.metadata.deletionTimestamp !== undefined;
    const hasFinalizer = (parent.metadata.finalizers ?? []).includes(finalizer);

    if (this.cc.hooks.finalize && !deleting && !hasFinalizer) {
      parent.metadata.finalizers = [...(parent.metadata.finalizers ?? []), finalizer];
      parent = this.store.update(parent);
    }
    if (deleting && !hasFinalizer) return;

    const selector = this.selectorOf(parent);
    const observed = this.claimChildren(parent);
    const rules = await this.customize(parent);
    const related = this.relatedObjects(parent, rules);
    const finalizing = deleting && this.cc.hooks.finalize !== undefined;
    const hook = finalizing ? this.cc.hooks.finalize : this.cc.hooks.sync;
    if (!hook) return;
    const request = {
      controller: this.controllerObject(),
      parent,
      children: this.groups(this.cc.children, observed),
      related: this.groups(
        rules.map((r) => ({ apiVersion: r.apiVersion, kind: this.relatedKinds[r.resource] ?? r.resource })),
        related,
      ),
      finalizing,
    };
    const started = Date.now();
    const result = await this.call(hook, finalizing ? "finalize" : "sync", request, key);
    const parsed = MetacontrollerSyncResponseSchema.safeParse(result);
    if (!parsed.success) {
      throw new SyncFailure(finalizing ? "finalize" : "sync", `invalid ${finalizing ? "finalize" : "sync"} response: ${z.prettifyError(parsed.error)}`);
    }
    const response = parsed.data;
    const statusMessage = isRecord(response.status) && typeof response.status.message === "string" ? response.status.message : undefined;
    this.onEvent({
      type: "Synced",
      parent: key,
      hook: finalizing ? "finalize" : "sync",
      durationMs: Date.now() - started,
      resyncAfterSeconds: response.resyncAfterSeconds,
      statusMessage,
    });

    if (response.resyncAfterSeconds && response.resyncAfterSeconds > 0) {
      this.queue.addAfter(key, response.resyncAfterSeconds * 1000);
    }
    if (response.finalized) {
      const fresh = this.store.get(this.cc.parent.apiVersion, this.cc.parent.kind, namespace, name);
      if (fresh && (fresh.metadata.finalizers ?? []).includes(finalizer)) {
        fresh.metadata.finalizers = (fresh.metadata.finalizers ?? []).filter((f) => f !== finalizer);
        this.store.update(fresh);
        this.onEvent({ type: "Finalized", parent: key });
      }
    }

    const desired = (response.children ?? []).map((c) => {
      const child = clone(c) as KObject;
      if (!child.metadata.namespace) child.metadata.namespace = namespaceOf(parent);
      if (this.cc.generateSelector) {
        child.metadata.labels = { ...(child.metadata.labels ?? {}) };
        if (!("controller-uid" in child.metadata.labels) && parent.metadata.uid) {
          child.metadata.labels["controller-uid"] = parent.metadata.uid;
        }
      }
      if (!matchesSelector(child.metadata.labels, selector)) {
        throw new SyncFailure("sync", `labels on desired child ${child.kind} ${child.metadata.namespace}/${child.metadata.name} don't match parent selector`);
      }
      return child;
    });

    let manageError: Error | undefined;
    if (!deleting || finalizing) {
      manageError = this.manageChildren(parent, observed, desired, key);
    }
    const status = { ...(response.status ?? {}), observedGeneration: parent.metadata.generation };
    const current = this.store.get(this.cc.parent.apiVersion, this.cc.parent.kind, namespace, name);
    if (current && current.metadata.uid === parent.metadata.uid && !deepEqual(current.status, status)) {
      current.status = status;
      delete current.metadata.resourceVersion;
      this.store.updateStatus(current);
    }
    if (manageError) throw manageError;
  }

  private async call(hook: HookConfig, name: string, body: unknown, key: string): Promise<unknown> {
    try {
      return await callWebhook(hook.url, body, hook.timeoutMs);
    } catch (err) {
      if (err instanceof HookCallError && err.statusCode === 429) {
        const delay = (err.retryAfterSeconds ?? 0) * 1000;
        this.queue.addAfter(key, delay);
        throw new SyncFailure(name, err.message, { requeued: true, retryInMs: delay });
      }
      throw new SyncFailure(name, err instanceof Error ? err.message : String(err));
    }
  }

  private selectorOf(parent: KObject): LabelSelector {
    if (this.cc.generateSelector) return { matchLabels: { "controller-uid": parent.metadata.uid ?? "" } };
    const sel = isRecord(parent.spec) ? parent.spec.selector : undefined;
    const s = (isRecord(sel) ? sel : {}) as LabelSelector;
    if (Object.keys(s.matchLabels ?? {}).length === 0 && (s.matchExpressions ?? []).length === 0) {
      throw new SyncFailure("sync", ".spec.selector must have either matchLabels, matchExpressions, or both");
    }
    return s;
  }

  private claimChildren(parent: KObject): KObject[] {
    const out: KObject[] = [];
    for (const c of this.cc.children) {
      for (const obj of this.store.list({ apiVersion: c.apiVersion, kind: c.kind, namespace: namespaceOf(parent) })) {
        if (controllerOf(obj)?.uid === parent.metadata.uid) out.push(obj);
      }
    }
    return out;
  }

  private related(rule: RelatedRule, parent: KObject, obj: KObject): boolean {
    const kind = this.relatedKinds[rule.resource];
    return kind !== undefined && relatedMatches(rule, kind, parent, obj);
  }

  private relatedObjects(parent: KObject, rules: RelatedRule[]): KObject[] {
    const seen = new Set<string>();
    const out: KObject[] = [];
    for (const rule of rules) {
      const kind = this.relatedKinds[rule.resource];
      if (!kind) throw new SyncFailure("customize", `related resource "${rule.resource}" is not supported by the local runtime`);
      for (const obj of this.store.list({ apiVersion: rule.apiVersion, kind, namespace: rule.namespace ?? namespaceOf(parent) })) {
        if (!relatedMatches(rule, kind, parent, obj)) continue;
        const k = `${obj.kind}/${obj.metadata.name}`;
        if (!seen.has(k)) {
          seen.add(k);
          out.push(obj);
        }
      }
    }
    return out;
  }

  private async customize(parent: KObject): Promise<RelatedRule[]> {
    const hook = this.cc.hooks.customize;
    if (!hook) return [];
    const cacheKey = customizeKey(parent);
    const cached = this.customizeCache.get(cacheKey);
    if (cached) return cached;
    const result = await this.call(hook, "customize", { controller: this.controllerObject(), parent }, parentKey(parent));
    const parsed = MetacontrollerCustomizeResponseSchema.safeParse(result);
    if (!parsed.success) throw new SyncFailure("customize", `invalid customize response: ${z.prettifyError(parsed.error)}`);
    const rules = parsed.data.relatedResources ?? [];
    this.customizeCache.set(cacheKey, rules);
    return rules;
  }

  private groups(types: Array<{ apiVersion: string; kind: string }>, objects: KObject[]): Record<string, Record<string, KObject>> {
    const out: Record<string, Record<string, KObject>> = {};
    for (const t of types) out[metacontrollerGroupKey(t.apiVersion, t.kind)] = {};
    for (const obj of objects) {
      const g = metacontrollerGroupKey(obj.apiVersion, obj.kind);
      (out[g] ??= {})[`${namespaceOf(obj)}/${obj.metadata.name}`] = obj;
    }
    return out;
  }

  private manageChildren(parent: KObject, observed: KObject[], desired: KObject[], key: string): Error | undefined {
    const errors: string[] = [];
    const id = (o: KObject): string => `${typeKey(o.apiVersion, o.kind)}/${namespaceOf(o)}/${o.metadata.name}`;
    const desiredIds = new Set(desired.map(id));
    for (const obj of observed) {
      if (obj.metadata.deletionTimestamp || desiredIds.has(id(obj))) continue;
      try {
        this.store.delete(obj.apiVersion, obj.kind, namespaceOf(obj), obj.metadata.name, { uid: obj.metadata.uid ?? "" });
        this.onEvent({ type: "ChildDeleted", parent: key, child: `${obj.kind}/${obj.metadata.name}` });
      } catch (err) {
        if (!isStoreError(err, "NotFound")) errors.push(`can't delete ${obj.kind} ${obj.metadata.name}: ${String(err)}`);
      }
    }
    const observedById = new Map(observed.map((o) => [id(o), o]));
    for (const want of desired) {
      const type = this.cc.children.find((c) => typeKey(c.apiVersion, c.kind) === typeKey(want.apiVersion, want.kind));
      if (!type) {
        errors.push(`${want.kind} ${want.metadata.name}: ${want.apiVersion} ${want.kind} is not a child resource of CompositeController ${this.cc.name}`);
        continue;
      }
      const have = observedById.get(id(want));
      try {
        if (!have) {
          const obj = withLastApplied(want);
          obj.metadata.ownerReferences = [
            ...(obj.metadata.ownerReferences ?? []),
            {
              apiVersion: parent.apiVersion,
              kind: parent.kind,
              name: parent.metadata.name,
              uid: parent.metadata.uid ?? "",
              controller: true,
              blockOwnerDeletion: true,
            },
          ];
          this.store.create(obj);
          this.onEvent({ type: "ChildCreated", parent: key, child: `${want.kind}/${want.metadata.name}` });
          continue;
        }
        const next = applyUpdate(have, want);
        if (deepEqual(next, have) || have.metadata.deletionTimestamp) continue;
        switch (type.updateMethod) {
          case "OnDelete":
            break;
          case "Recreate":
          case "RollingRecreate":
            this.store.delete(have.apiVersion, have.kind, namespaceOf(have), have.metadata.name, { uid: have.metadata.uid ?? "" });
            this.onEvent({ type: "ChildDeleted", parent: key, child: `${want.kind}/${want.metadata.name}` });
            break;
          case "InPlace":
          case "RollingInPlace":
            this.store.update(next);
            this.onEvent({ type: "ChildUpdated", parent: key, child: `${want.kind}/${want.metadata.name}` });
            break;
        }
      } catch (err) {
        if (isStoreError(err, "NotFound") || isStoreError(err, "Conflict") || isStoreError(err, "AlreadyExists")) continue;
        errors.push(`${want.kind} ${want.metadata.name}: ${err instanceof Error ? err.message : String(err)}`);
      }
    }
    return errors.length ? new SyncFailure("sync", `can't reconcile children for ${parent.kind} ${key}: ${errors.join("; ")}`) : undefined;
  }

  private controllerObject(): KObject {
    return {
      apiVersion: "metacontroller.k8s.io/v1alpha1",
      kind: "CompositeController",
      metadata: { name: this.cc.name },
      spec: {
        parentResource: { apiVersion: this.cc.parent.apiVersion, resource: this.cc.parent.resource },
        childResources: this.cc.children.map((c) => ({
          apiVersion: c.apiVersion,
          resource: c.resource,
          updateStrategy: { method: c.updateMethod },
        })),
        generateSelector: this.cc.generateSelector,
        ...(this.cc.resyncPeriodSeconds ? { resyncPeriodSeconds: this.cc.resyncPeriodSeconds } : {}),
      },
    };
  }
}

/** A failed sync step, naming the hook it belongs to. */
export class SyncFailure extends Error {
  readonly hook: string;
  readonly requeued: boolean;
  readonly retryInMs: number;
  constructor(hook: string, message: string, opts: { requeued?: boolean; retryInMs?: number } = {}) {
    super(message);
    this.name = "SyncFailure";
    this.hook = hook;
    this.requeued = opts.requeued ?? false;
    this.retryInMs = opts.retryInMs ?? 0;
  }
}

function parentKey(p: KObject): string {
  return `${namespaceOf(p)}/${p.metadata.name}`;
}

function customizeKey(p: KObject): string {
  return `${p.metadata.uid}/${p.metadata.generation}`;
}

function relatedMatches(rule: RelatedRule, kind: string, parent: KObject, obj: KObject): boolean {
  if (obj.kind !== kind || typeKey(obj.apiVersion, obj.kind) !== typeKey(rule.apiVersion, kind)) return false;
  if (namespaceOf(obj) !== (rule.namespace ?? namespaceOf(parent))) return false;
  if (rule.names && rule.names.length > 0 && !rule.names.includes(obj.metadata.name)) return false;
  if (rule.labelSelector && !matchesSelector(obj.metadata.labels, rule.labelSelector as LabelSelector)) return false;
  return true;
}
