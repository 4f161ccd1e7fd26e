/**
 * Metacontroller's client-side "apply" (pkg/dynamic/apply): a 3-way merge of the observed
 * object, the last configuration we applied (kept in an annotation) and the desired one. Maps
 * merge recursively, fields dropped from the desired object are removed, lists of objects that
 * share a conventional key (containerPort, port, mountPath, name, uid, ip, path) merge as maps,
 * other lists are replaced. System metadata and status are never changed by an apply.
 */
import { clone, isRecord, type KObject } from "../apiserver/objects.js";

/** Annotation holding the last applied configuration (Metacontroller's name). */
export const LAST_APPLIED_ANNOTATION = "metacontroller.k8s.io/last-applied-configuration";

const KNOWN_MERGE_KEYS = ["containerPort", "port", "mountPath", "name", "uid", "ip", "path"];
const SYSTEM_METADATA = ["selfLink", "uid", "resourceVersion", "generation", "creationTimestamp", "deletionTimestamp", "deletionGracePeriodSeconds"];

/** The last applied configuration recorded on `obj`, if any. */
export function lastAppliedOf(obj: KObject): Record<string, unknown> | undefined {
  const raw = obj.metadata.annotations?.[LAST_APPLIED_ANNOTATION];
  if (!raw) return undefined;
  const parsed: unknown = JSON.parse(raw);
  return isRecord(parsed) ? parsed : undefined;
}

/** `desired` with the last-applied annotation recorded, as Metacontroller creates a child. */
export function withLastApplied(desired: KObject): KObject {
  const obj = clone(desired);
  const annotations = { ...(obj.metadata.annotations ?? {}) };
  delete annotations[LAST_APPLIED_ANNOTATION];
  const recorded = clone(obj);
  recorded.metadata.annotations = Object.keys(annotations).length ? annotations : undefined;
  if (recorded.metadata.annotations === undefined) delete recorded.metadata.annotations;
  obj.metadata.annotations = { ...annotations, [LAST_APPLIED_ANNOTATION]: JSON.stringify(recorded) };
  return obj;
}

/**
 * The updated object for an InPlace update of `observed` towards `desired` (ApplyUpdate).
 * Compare the result with `observed` to decide whether an update is needed.
 */
export function applyUpdate(observed: KObject, desired: KObject): KObject {
  const lastApplied = lastAppliedOf(observed) ?? {};
  const update = clone(desired);
  if (update.metadata.annotations) delete update.metadata.annotations[LAST_APPLIED_ANNOTATION];
  const merged = merge(clone(observed), lastApplied, update) as KObject;
  for (const f of SYSTEM_METADATA) {
    if (observed.metadata[f] === undefined) delete merged.metadata[f];
    else merged.metadata[f] = clone(observed.metadata[f]);
  }
  if (observed.status === undefined) delete merged.status;
  else merged.status = clone(observed.status);
  const recorded = clone(update);
  if (recorded.metadata.annotations && Object.keys(recorded.metadata.annotations).length === 0) {
    delete recorded.metadata.annotations;
  }
  merged.metadata.annotations = { ...(merged.metadata.annotations ?? {}), [LAST_APPLIED_ANNOTATION]: JSON.stringify(recorded) };
  return merged;
}

/** 3-way merge of JSON values (exported for unit tests). */
export function merge(destination: unknown, lastApplied: unknown, desired: unknown): unknown {
  if (isRecord(destination)) {
    if (!isRecord(desired)) return clone(desired);
    return mergeObject(destination, isRecord(lastApplied) ? lastApplied : {}, desired);
  }
  if (Array.isArray(destination)) {
    if (!Array.isArray(desired)) return clone(desired);
    return mergeArray(destination, Array.isArray(lastApplied) ? lastApplied : [], desired);
  }
  return clone(desired);
}

function mergeObject(destination: Record<string, unknown>, lastApplied: Record<string, unknown>, desired: Record<string, unknown>): Record<string, unknown> {
  for (const key of Object.keys(lastApplied)) {
    if (!(key in desired)) delete destination[key];
  }
  for (const [key, value] of Object.entries(desired)) {
    destination[key] = merge(destination[key], lastApplied[key], value);
  }
  return destination;
}

function mergeArray(destination: unknown[], lastApplied: unknown[], desired: unknown[]): unknown[] {
  const key = detectListMapKey(destination, lastApplied, desired);
  if (!key) return clone(desired);
  const toMap = (list: unknown[]): Record<string, unknown> => {
    const out: Record<string, unknown> = {};
    for (const item of list) if (isRecord(item)) out[String(item[key])] = item;
    return out;
  };
  const destMap = mergeObject(toMap(destination), toMap(lastApplied), toMap(desired));
  const out: unknown[] = [];
  const added = new Set<string>();
  for (const item of [...destination, ...desired]) {
    if (!isRecord(item)) continue;
    const k = String(item[key]);
    if (added.has(k) || !(k in destMap)) continue;
    out.push(destMap[k]);
    added.add(k);
  }
  return out;
}

function detectListMapKey(...lists: unknown[][]): string {
  let common: Set<string> | undefined;
  for (const list of lists) {
    for (const item of list) {
      if (!isRecord(item)) return "";
      const keys = Object.keys(item);
      common = common ? new Set(keys.filter((k) => common?.has(k))) : new Set(keys);
    }
  }
  return KNOWN_MERGE_KEYS.find((k) => common?.has(k)) ?? "";
}
