/**
 * Volumes of a local pod: each volume is a host directory (a PersistentVolumeClaim under the
 * state dir, kept like a retained PV; emptyDir, ConfigMap and Secret volumes under the pod's
 * dir, removed with the pod), and each volumeMount's mountPath maps to one. Paths in the
 * container's env, command and probes that start with a mountPath are rewritten to the host
 * dir: one generic mapping, no special cases. ARCHITECTURE.md section 6.
 */
import { chmodSync, mkdirSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { dirname, join, relative, resolve } from "node:path";
import { arrayField, isRecord, namespaceOf, numberField, recordField, stringField, type KObject } from "../apiserver/objects.js";
import type { StateLayout } from "../node/statedir.js";
import type { ObjectStore } from "../apiserver/store.js";

/** A mountPath and the host directory that stands for it. */
export interface Mount {
  mountPath: string;
  hostPath: string;
  readOnly: boolean;
}

/** Volumes that are not ready yet (missing ConfigMap, Secret or claim): the pod waits. */
export class VolumeNotReadyError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "VolumeNotReadyError";
  }
}

/** Host dir of each pod volume by name. */
export function volumeDirs(pod: KObject, layout: StateLayout): Map<string, { dir: string; volume: Record<string, unknown> }> {
  const ns = namespaceOf(pod);
  const out = new Map<string, { dir: string; volume: Record<string, unknown> }>();
  for (const v of arrayField(pod, "spec", "volumes")) {
    if (!isRecord(v) || typeof v.name !== "string") continue;
    const claim = stringField(v, "persistentVolumeClaim", "claimName");
    const dir = claim ? layout.pvcDir(ns, claim) : join(layout.podDir(ns, pod.metadata.name), "volumes", v.name);
    out.set(v.name, { dir, volume: v });
  }
  return out;
}

/**
 * Creates the pod's volume dirs and writes ConfigMap/Secret contents. Throws
 * VolumeNotReadyError when a referenced object is missing (kubelet: ContainerCreating).
 */
export function prepareVolumes(pod: KObject, store: ObjectStore, layout: StateLayout): void {
  const ns = namespaceOf(pod);
  for (const [name, { dir, volume }] of volumeDirs(pod, layout)) {
    if (isRecord(volume.persistentVolumeClaim)) {
      const claim = stringField(volume, "persistentVolumeClaim", "claimName") ?? "";
      if (!store.get("v1", "PersistentVolumeClaim", ns, claim)) {
        throw new VolumeNotReadyError(`volume "${name}": persistentvolumeclaim "${claim}" not found`);
      }
      mkdirSync(dir, { recursive: true });
    } else if (isRecord(volume.emptyDir)) {
      mkdirSync(dir, { recursive: true });
    } else if (isRecord(volume.configMap) || isRecord(volume.secret)) {
      writeProjectedVolume(pod, name, dir, volume, store);
    } else {
      throw new VolumeNotReadyError(`volume "${name}": this volume type is not supported by the local runtime`);
    }
  }
}

/** Rewrites the ConfigMap and Secret volumes of a pod from the current objects (kubelet's refresh). */
export function refreshProjectedVolumes(pod: KObject, store: ObjectStore, layout: StateLayout): void {
  for (const [name, { dir, volume }] of volumeDirs(pod, layout)) {
    if (isRecord(volume.configMap) || isRecord(volume.secret)) {
      try {
        writeProjectedVolume(pod, name, dir, volume, store);
      } catch {
        // keep the old contents, like the kubelet
      }
    }
  }
}

function writeProjectedVolume(pod: KObject, name: string, dir: string, volume: Record<string, unknown>, store: ObjectStore): void {
  const ns = namespaceOf(pod);
  const isSecret = isRecord(volume.secret);
  const src = isSecret ? recordField(volume, "secret") : recordField(volume, "configMap");
  const objName = (isSecret ? stringField(src, "secretName") : stringField(src, "name")) ?? "";
  const obj = store.get("v1", isSecret ? "Secret" : "ConfigMap", ns, objName);
  if (!obj) {
    if (src.optional === true) {
      mkdirSync(dir, { recursive: true });
      return;
    }
    throw new VolumeNotReadyError(`volume "${name}": ${isSecret ? "secret" : "configmap"} "${objName}" not found`);
  }
  const data = new Map<string, Buffer>();
  for (const [k, v] of Object.entries(recordField(obj, "data"))) {
    if (typeof v === "string") data.set(k, isSecret ? Buffer.from(v, "base64") : Buffer.from(v));
  }
  if (!isSecret) {
    for (const [k, v] of Object.entries(recordField(obj, "binaryData"))) if (typeof v === "string") data.set(k, Buffer.from(v, "base64"));
  } else {
    for (const [k, v] of Object.entries(recordField(obj, "stringData"))) if (typeof v === "string") data.set(k, Buffer.from(v));
  }
  const defaultMode = numberField(src, "defaultMode") ?? 0o644;
  const files: Array<{ path: string; content: Buffer; mode: number }> = [];
  const items = arrayField(src, "items");
  if (items.length > 0) {
    for (const item of items) {
      const key = stringField(item, "key") ?? "";
      const content = data.get(key);
      if (!content) throw new VolumeNotReadyError(`volume "${name}": key "${key}" not found in "${objName}"`);
      files.push({ path: stringField(item, "path") ?? key, content, mode: numberField(item, "mode") ?? defaultMode });
    }
  } else {
    for (const [k, content] of data) files.push({ path: k, content, mode: defaultMode });
  }
  // Write a fresh copy next to the dir and swap it in, so readers never see a half-written set.
  const staging = `${dir}.new`;
  rmSync(staging, { recursive: true, force: true });
  mkdirSync(staging, { recursive: true });
  for (const f of files) {
    const target = resolve(staging, f.path);
    if (relative(staging, target).startsWith("..")) continue;
    mkdirSync(dirname(target), { recursive: true });
    writeFileSync(target, f.content);
    chmodSync(target, f.mode & 0o777);
  }
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dirname(dir), { recursive: true });
  renameSync(staging, dir);
}

/** The mounts of one container, longest mountPath first (for prefix rewriting). */
export function containerMounts(pod: KObject, container: Record<string, unknown>, layout: StateLayout): Mount[] {
  const dirs = volumeDirs(pod, layout);
  const mounts: Mount[] = [];
  for (const m of arrayField(container, "volumeMounts")) {
    const name = stringField(m, "name");
    const mountPath = stringField(m, "mountPath");
    const vol = name ? dirs.get(name) : undefined;
    if (!vol || !mountPath) continue;
    const sub = stringField(m, "subPath");
    const hostPath = sub ? join(vol.dir, sub) : vol.dir;
    if (sub) mkdirSync(hostPath, { recursive: true });
    mounts.push({ mountPath: mountPath.replace(/\/+$/, "") || "/", hostPath, readOnly: (m as { readOnly?: boolean }).readOnly === true });
  }
  return mounts.sort((a, b) => b.mountPath.length - a.mountPath.length);
}

/** `value` with a leading mountPath replaced by its host dir (whole path components only). */
export function rewritePath(value: string, mounts: Mount[]): string {
  for (const m of mounts) {
    if (value === m.mountPath) return m.hostPath;
    if (value.startsWith(`${m.mountPath}/`)) return m.hostPath + value.slice(m.mountPath.length);
  }
  return value;
}

/** Removes the per-pod dirs (emptyDirs, projected volumes) when the pod is gone. */
export function removePodDirs(pod: KObject, layout: StateLayout): void {
  rmSync(layout.podDir(namespaceOf(pod), pod.metadata.name), { recursive: true, force: true });
}
