/**
 * The environment a container sees, resolved as the kubelet does: plain values with $(VAR)
 * expansion, valueFrom (fieldRef, secretKeyRef, configMapKeyRef, resourceFieldRef) and envFrom,
 * on top of a minimal image-like base (PATH with /usr/sbin, HOSTNAME = pod name). Values and
 * command arguments that start with a mountPath are rewritten to host dirs.
 */
import { arrayField, isRecord, namespaceOf, recordField, stringField, type KObject } from "../apiserver/objects.js";
import type { ObjectStore } from "../apiserver/store.js";
import { type Mount, rewritePath } from "./volumes.js";

/** The container cannot start yet (missing Secret key...): kubelet's CreateContainerConfigError. */
export class ContainerConfigError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "ContainerConfigError";
  }
}

const BASE_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin";

/** Expands $(VAR) references like Kubernetes ($$ escapes, unknown references stay). */
export function expandVars(value: string, env: Record<string, string>): string {
  return value.replace(/\$\$|\$\(([A-Za-z_][A-Za-z0-9_.-]*)\)/g, (whole, name: string | undefined) => {
    if (whole === "$$") return "$";
    return name !== undefined && env[name] !== undefined ? env[name] : whole;
  });
}

function fieldRefValue(pod: KObject, path: string): string {
  const labelMatch = /^metadata\.(labels|annotations)\['(.+)'\]$/.exec(path);
  if (labelMatch) {
    const map = labelMatch[1] === "labels" ? pod.metadata.labels : pod.metadata.annotations;
    return map?.[labelMatch[2] ?? ""] ?? "";
  }
  switch (path) {
    case "metadata.name":
      return pod.metadata.name;
    case "metadata.namespace":
      return namespaceOf(pod);
    case "metadata.uid":
      return pod.metadata.uid ?? "";
    case "status.podIP":
      return stringField(pod, "status", "podIP") ?? "";
    case "status.hostIP":
      return stringField(pod, "status", "hostIP") ?? "";
    case "spec.nodeName":
      return stringField(pod, "spec", "nodeName") ?? "";
    case "spec.serviceAccountName":
      return stringField(pod, "spec", "serviceAccountName") ?? "default";
    default:
      throw new ContainerConfigError(`fieldRef ${path} is not supported`);
  }
}

function keyRefValue(store: ObjectStore, ns: string, kind: "Secret" | "ConfigMap", ref: Record<string, unknown>): string | undefined {
  const name = stringField(ref, "name") ?? "";
  const key = stringField(ref, "key") ?? "";
  const obj = store.get("v1", kind, ns, name);
  const optional = ref.optional === true;
  if (!obj) {
    if (optional) return undefined;
    throw new ContainerConfigError(`${kind.toLowerCase()} "${name}" not found`);
  }
  const data = recordField(obj, "data");
  const raw = data[key];
  if (typeof raw === "string") return kind === "Secret" ? Buffer.from(raw, "base64").toString("utf8") : raw;
  const str = recordField(obj, "stringData")[key];
  if (typeof str === "string") return str;
  if (optional) return undefined;
  throw new ContainerConfigError(`couldn't find key ${key} in ${kind} ${ns}/${name}`);
}

/** Resolves the environment of `container` in `pod`, with mount paths rewritten. */
export function containerEnv(opts: {
  pod: KObject;
  container: Record<string, unknown>;
  store: ObjectStore;
  mounts: Mount[];
  home: string;
  extra?: Record<string, string>;
}): Record<string, string> {
  const { pod, container, store } = opts;
  const ns = namespaceOf(pod);
  const env: Record<string, string> = {
    PATH: BASE_PATH,
    HOSTNAME: pod.metadata.name,
    HOME: opts.home,
    LANG: "C.UTF-8",
  };
  for (const src of arrayField(container, "envFrom")) {
    if (!isRecord(src)) continue;
    const prefix = stringField(src, "prefix") ?? "";
    const cm = isRecord(src.configMapRef) ? src.configMapRef : undefined;
    const sec = isRecord(src.secretRef) ? src.secretRef : undefined;
    const ref = cm ?? sec;
    if (!ref) continue;
    const kind = cm ? "ConfigMap" : "Secret";
    const obj = store.get("v1", kind, ns, stringField(ref, "name") ?? "");
    if (!obj) {
      if (ref.optional === true) continue;
      throw new ContainerConfigError(`${kind.toLowerCase()} "${stringField(ref, "name")}" not found`);
    }
    for (const [k, v] of Object.entries(recordField(obj, "data"))) {
      if (typeof v === "string") env[prefix + k] = kind === "Secret" ? Buffer.from(v, "base64").toString("utf8") : v;
    }
  }
  for (const e of arrayField(container, "env")) {
    const name = stringField(e, "name");
    if (!name || !isRecord(e)) continue;
    if (typeof e.value === "string") {
      env[name] = expandVars(e.value, env);
      continue;
    }
    const from = recordField(e, "valueFrom");
    let value: string | undefined = "";
    if (isRecord(from.fieldRef)) value = fieldRefValue(pod, stringField(from.fieldRef, "fieldPath") ?? "");
    else if (isRecord(from.secretKeyRef)) value = keyRefValue(store, ns, "Secret", from.secretKeyRef);
    else if (isRecord(from.configMapKeyRef)) value = keyRefValue(store, ns, "ConfigMap", from.configMapKeyRef);
    else if (isRecord(from.resourceFieldRef)) value = "0";
    if (value !== undefined) env[name] = value;
  }
  for (const [k, v] of Object.entries(opts.extra ?? {})) env[k] = v;
  if (!env.PATH?.split(":").includes("/usr/sbin")) env.PATH = `${env.PATH ?? ""}:/usr/sbin`;
  for (const k of Object.keys(env)) env[k] = rewritePath(env[k] ?? "", opts.mounts);
  return env;
}

/** The argv of an exec (command + args), with $(VAR) expansion and mount paths rewritten. */
export function resolveArgv(parts: unknown[], env: Record<string, string>, mounts: Mount[]): string[] {
  return parts.filter((p): p is string => typeof p === "string").map((p) => rewritePath(expandVars(p, env), mounts));
}
