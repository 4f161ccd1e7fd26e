/**
 * The local runtime: runs one MySQLCluster on this machine without Kubernetes by playing
 * Metacontroller (against the real hook server, in-process or at --hook-url), the StatefulSet
 * controller, the kubelet (mariadbd/mysqld processes on loopback pod IPs) and kube-proxy (one
 * TCP proxy per Service), on top of an object store persisted in the state dir.
 * ARCHITECTURE.md section 6; docs/local-runtime.md lists where it simplifies.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { destination, pino } from "pino";
import { API_VERSION, KIND, ROOT_USER, SECRET_ROOT_PASSWORD } from "../api/constants.js";
import { flavorOfImage, missingServerMessage } from "./node/binaries.js";
import { type CompositeControllerConfig, mysqlClusterController, parseCompositeController } from "./metacontroller/controller-config.js";
import { ControlError, startControlServer } from "./control/channel.js";
import { CronJobController } from "./controllers/cronjob.js";
import { isJobPod, JobController } from "./controllers/job.js";
import { defaultIpPrefix, parseIpPrefix } from "./node/ipam.js";
import { Kubelet, type PodRuntimeInfo } from "./kubelet/kubelet.js";
import { MetacontrollerEmulator, type MetacontrollerEvent } from "./metacontroller/metacontroller.js";
import { isRecord, namespaceOf, numberField, recordField, stringField, type KObject } from "./apiserver/objects.js";
import { killLeftovers, ProcessSupervisor } from "./node/process.js";
import { ServiceProxies } from "./proxy/proxy.js";
import { podRunningAndReady, StatefulSetController } from "./controllers/statefulset.js";
import {
  acquireLock,
  readSettings,
  stateLayout,
  writeJsonAtomic,
  writeSettings,
  type StateLayout,
  type StateLock,
  type StateSettings,
} from "./node/statedir.js";
import { ObjectStore, type WatchEvent } from "./apiserver/store.js";

/** One line of progress: what happened, where. */
export interface RuntimeEvent {
  time: Date;
  /** "pod shop-0", "cluster shop", "service shop-ro", "metacontroller", "runtime". */
  source: string;
  reason: string;
  message: string;
  level: "info" | "warn" | "error";
}

/** Options of a local runtime. */
export interface LocalRuntimeOptions {
  stateDir: string;
  /** Use this hook server instead of starting one in-process. */
  hookUrl?: string;
  /** Loopback /24 for pod IPs ("127.20.1"); default: remembered, else derived from the state dir. */
  ipPrefix?: string;
  /** Webhook timeout (default: the CompositeController manifest's, else 10 s). */
  hookTimeoutMs?: number;
  /** Resync period (default: the manifest's, else 30 s). */
  resyncPeriodSeconds?: number;
  /** CompositeController manifest (default: metacontroller/mysqlcluster-controller.yaml of this package). */
  controllerManifest?: string;
  /** Log level of the in-process hook server (default "warn"). */
  hookLogLevel?: string;
  /** First CrashLoopBackOff delay (default 10 s, as Kubernetes). */
  crashLoopBaseMs?: number;
  /** Longest CrashLoopBackOff delay (default 300 s, as Kubernetes). */
  crashLoopMaxMs?: number;
  /** Serve the control channel for the `local` verbs (default true). */
  control?: boolean;
  onEvent?: (ev: RuntimeEvent) => void;
}

/** `local status --json` (ARCHITECTURE.md section 6). */
export interface LocalStatus {
  cluster: KObject | null;
  pods: Array<{ name: string; ip: string; port: number; pid: number | null; ready: boolean }>;
  services: Record<string, string>;
  credentials: { user: string; password: string } | null;
}

/** Runtime details of the pods, for the human status view. */
export type PodDetail = PodRuntimeInfo;

interface HookServer {
  url: string;
  close(): Promise<void>;
}

/** The package root (where package.json and metacontroller/ are). */
export function packageRoot(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let i = 0; i < 6; i++) {
    if (existsSync(join(dir, "package.json"))) return dir;
    dir = dirname(dir);
  }
  return process.cwd();
}

/** A running local runtime. */
export class LocalRuntime {
  readonly layout: StateLayout;
  readonly store: ObjectStore;
  readonly supervisor: ProcessSupervisor;
  readonly kubelet: Kubelet;
  readonly proxies: ServiceProxies;
  readonly metacontroller: MetacontrollerEmulator;
  /** The MySQLBackup CompositeController (metacontroller/mysqlbackup-controller.yaml), if present. */
  readonly backupController: MetacontrollerEmulator | undefined;
  readonly jobs: JobController;
  readonly cronJobs: CronJobController;
  readonly statefulSets: StatefulSetController;
  readonly controller: CompositeControllerConfig;
  readonly hookUrl: string;
  readonly ipPrefix: string;
  readonly startedAt = Date.now();
  /** When every pod of the cluster was first Ready (ms since start), if it happened. */
  allReadyAfterMs: number | undefined;
  /** Resolves when the runtime has stopped. */
  readonly stopped: Promise<void>;
  private resolveStopped!: () => void;
  private stopping: Promise<void> | undefined;
  private readonly emitEvent: (ev: RuntimeEvent) => void;
  private readonly lock: StateLock;
  private readonly hookServer: HookServer | undefined;
  private control: { close(): Promise<void> } | undefined;
  private unwatch: (() => void) | undefined;
  private lastAllReady = false;

  private constructor(init: {
    layout: StateLayout;
    lock: StateLock;
    store: ObjectStore;
    settings: StateSettings;
    hookServer: HookServer | undefined;
    hookUrl: string;
    controller: CompositeControllerConfig;
    backupController?: CompositeControllerConfig | undefined;
    opts: LocalRuntimeOptions;
  }) {
    const { layout, store, settings, opts } = init;
    this.layout = layout;
    this.lock = init.lock;
    this.store = store;
    this.hookServer = init.hookServer;
    this.hookUrl = init.hookUrl;
    this.controller = init.controller;
    this.ipPrefix = settings.ipPrefix;
    this.emitEvent = opts.onEvent ?? (() => undefined);
    this.stopped = new Promise((resolve) => (this.resolveStopped = resolve));
    this.supervisor = new ProcessSupervisor({ pidLog: layout.pidLog });
    this.kubelet = new Kubelet({
      store,
      layout,
      supervisor: this.supervisor,
      ipPrefix: settings.ipPrefix,
      ...(opts.crashLoopBaseMs !== undefined ? { crashLoopBaseMs: opts.crashLoopBaseMs } : {}),
      ...(opts.crashLoopMaxMs !== undefined ? { crashLoopMaxMs: opts.crashLoopMaxMs } : {}),
      onEvent: (ev) => {
        const warn = ["BackOff", "Failed", "Unhealthy", "NotReady", "FailedPreStopHook", "ServerNotInstalled", "CreateContainerConfigError", "RunContainerError", "CreateContainerError"];
        this.event(`pod ${ev.pod}`, ev.reason, ev.message, warn.includes(ev.reason) ? "warn" : "info");
      },
    });
    this.statefulSets = new StatefulSetController({
      store,
      layout,
      onEvent: (ev) => this.event(`statefulset ${ev.statefulSet}`, ev.reason, ev.message),
    });
    this.proxies = new ServiceProxies(
      store,
      settings.servicePorts,
      (ev) => this.event(`service ${ev.service}`, "Endpoints", ev.message),
      (ports) => writeSettings(layout, { ...settings, servicePorts: ports }),
    );
    this.metacontroller = new MetacontrollerEmulator({ store, controller: init.controller, onEvent: (ev) => this.onMetacontrollerEvent(ev) });
    this.backupController = init.backupController
      ? new MetacontrollerEmulator({ store, controller: init.backupController, onEvent: (ev) => this.onMetacontrollerEvent(ev) })
      : undefined;
    this.jobs = new JobController({
      store,
      layout,
      supervisor: this.supervisor,
      onEvent: (ev) => this.event(`job ${ev.job}`, ev.reason, ev.message, ev.reason === "Failed" ? "warn" : "info"),
    });
    this.cronJobs = new CronJobController(store, (ev) => this.event(`cronjob ${ev.cronJob}`, ev.reason, ev.message));
  }

  /** Locks the state dir, restores the store and starts every controller. */
  static async start(opts: LocalRuntimeOptions): Promise<LocalRuntime> {
    const layout = stateLayout(opts.stateDir);
    const lock = acquireLock(layout);
    let hookServer: HookServer | undefined;
    try {
      mkdirSync(layout.logsDir, { recursive: true });
      killLeftovers(layout.pidLog);
      writeFileSync(layout.pidLog, "");
      const previous = readSettings(layout);
      const settings: StateSettings = {
        ipPrefix: opts.ipPrefix ? parseIpPrefix(opts.ipPrefix) : (previous?.ipPrefix ?? defaultIpPrefix(layout.root)),
        servicePorts: previous?.servicePorts ?? {},
      };
      writeSettings(layout, settings);
      const store = new ObjectStore({ file: layout.storeFile });
      // The previous run's processes are gone: like a node that restarted, its pods are
      // dropped and the StatefulSet controller recreates them in order.
      for (const pod of store.list({ kind: "Pod" })) store.remove(pod.apiVersion, pod.kind, namespaceOf(pod), pod.metadata.name);

      let hookUrl = opts.hookUrl;
      if (!hookUrl) {
        hookServer = await startInProcessHookServer(opts.hookLogLevel ?? "info", join(layout.logsDir, "hooks.log"));
        hookUrl = hookServer.url;
      }
      const controller = loadController(hookUrl, opts);
      const backupController = loadBackupController(hookUrl, opts);
      const rt = new LocalRuntime({ layout, lock, store, settings, hookServer, hookUrl, controller, backupController, opts });
      await rt.begin(opts.control ?? true);
      return rt;
    } catch (err) {
      await hookServer?.close();
      lock.release();
      throw err;
    }
  }

  private async begin(control: boolean): Promise<void> {
    this.unwatch = this.store.watch((ev) => this.observe(ev));
    this.proxies.start();
    this.kubelet.start();
    this.statefulSets.start();
    this.metacontroller.start();
    this.backupController?.start();
    this.jobs.start();
    this.cronJobs.start();
    if (control) {
      this.control = await startControlServer(this.layout.controlSocket, {
        "GET /status": async (_b, q) => (q.get("detail") ? { ...this.status(), detail: this.kubelet.pods() } : this.status()),
        "POST /apply": async (body) => this.apply(body),
        "POST /kill": async (body) => {
          const b = isRecord(body) ? body : {};
          this.kill(String(b.pod ?? ""), String(b.signal ?? "KILL"));
          return { ok: true };
        },
        "POST /delete": async () => {
          await this.deleteCluster();
          setImmediate(() => void this.stop());
          return { ok: true };
        },
        "POST /object": async (body) => this.applyObject(body),
        "POST /trigger": async (body) => {
          const b = isRecord(body) ? body : {};
          const ns = this.cluster() ? namespaceOf(this.cluster() as KObject) : "default";
          try {
            return { job: this.cronJobs.trigger(ns, String(b.cronJob ?? "")).metadata.name };
          } catch (err) {
            throw new ControlError(404, err instanceof Error ? err.message : String(err));
          }
        },
        "POST /stop": async () => {
          setImmediate(() => void this.stop());
          return { ok: true };
        },
      });
    }
    writeJsonAtomic(this.layout.runtimeFile, {
      pid: process.pid,
      socket: this.layout.controlSocket,
      hookUrl: this.hookUrl,
      startedAt: new Date(this.startedAt).toISOString(),
    });
    this.event("runtime", "Started", `state dir ${this.layout.root}, pod IPs ${this.ipPrefix}.0/24, hooks at ${this.hookUrl}`);
  }

  /** The MySQLCluster of this state dir, if any. */
  cluster(): KObject | undefined {
    return this.store.list({ apiVersion: API_VERSION, kind: KIND })[0];
  }

  /**
   * Creates or updates the cluster from a manifest (spec, labels, annotations), like
   * `kubectl apply`. One cluster per state dir.
   */
  async apply(manifest: unknown): Promise<KObject> {
    if (!isRecord(manifest) || manifest.kind !== KIND || manifest.apiVersion !== API_VERSION) {
      throw new ControlError(400, `expected a ${KIND} with apiVersion ${API_VERSION}`);
    }
    const meta = recordField(manifest, "metadata");
    const name = stringField(meta, "name");
    if (!name) throw new ControlError(400, "metadata.name is required");
    const namespace = stringField(meta, "namespace") ?? "default";
    const existing = this.cluster();
    if (existing && (existing.metadata.name !== name || namespaceOf(existing) !== namespace)) {
      throw new ControlError(
        409,
        `state dir ${this.layout.root} already runs cluster ${namespaceOf(existing)}/${existing.metadata.name}; ` +
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
      return this.store.create({
        apiVersion: API_VERSION,
        kind: KIND,
        metadata: { name, namespace, ...(labels ? { labels } : {}), ...(annotations ? { annotations } : {}) },
        spec: manifest.spec ?? {},
      });
    }
    if (existing.metadata.deletionTimestamp) throw new ControlError(409, `cluster ${name} is being deleted`);
    const next: KObject = { ...existing, spec: manifest.spec ?? {} };
    next.metadata = { ...existing.metadata };
    if (labels) next.metadata.labels = labels;
    else delete next.metadata.labels;
    if (annotations) next.metadata.annotations = annotations;
    else delete next.metadata.annotations;
    return this.store.update(next);
  }

  /**
   * Creates or updates another object (MySQLBackup, Secret, PersistentVolumeClaim), like
   * `kubectl apply`: the spec (data for Secrets) is replaced, status is kept.
   */
  applyObject(manifest: unknown): KObject {
    if (!isRecord(manifest) || typeof manifest.kind !== "string" || typeof manifest.apiVersion !== "string") {
      throw new ControlError(400, "expected a Kubernetes object with apiVersion and kind");
    }
    if (manifest.kind === KIND) throw new ControlError(400, "use apply for the MySQLCluster");
    const allowed = ["MySQLBackup", "Secret", "PersistentVolumeClaim"];
    if (!allowed.includes(manifest.kind)) throw new ControlError(400, `the local runtime applies only ${allowed.join(", ")} besides the cluster`);
    const meta = recordField(manifest, "metadata");
    const name = stringField(meta, "name");
    if (!name) throw new ControlError(400, "metadata.name is required");
    const namespace = stringField(meta, "namespace") ?? "default";
    const existing = this.store.get(manifest.apiVersion, manifest.kind, namespace, name);
    const labels = isRecord(meta.labels) ? (meta.labels as Record<string, string>) : undefined;
    const body: KObject = { ...(manifest as KObject), metadata: { name, namespace, ...(labels ? { labels } : {}) } };
    delete body.status;
    if (!existing) return this.store.create(body);
    return this.store.update({ ...body, metadata: { ...existing.metadata, ...(labels ? { labels } : {}) } });
  }

  /** Deletes an object applied with applyObject (a MySQLBackup goes through its finalize hook). */
  deleteObject(apiVersion: string, kind: string, name: string, namespace = "default"): void {
    this.store.delete(apiVersion, kind, namespace, name);
  }

  /** `local status --json`. */
  status(): LocalStatus {
    const cluster = this.cluster();
    const ns = cluster ? namespaceOf(cluster) : "default";
    const pods = this.kubelet
      .pods()
      .filter((p) => p.namespace === ns)
      .map((p) => ({ name: p.name, ip: p.ip, port: 3306, pid: p.pid ?? null, ready: p.ready }));
    return { cluster: cluster ?? null, pods, services: this.proxies.addresses(ns), credentials: this.credentials() };
  }

  /** The cluster's root account, from its credentials Secret. */
  credentials(): { user: string; password: string } | null {
    const cluster = this.cluster();
    if (!cluster) return null;
    const secretName = stringField(cluster, "spec", "credentialsSecretName") ?? `${cluster.metadata.name}-credentials`;
    const secret = this.store.get("v1", "Secret", namespaceOf(cluster), secretName);
    const raw = secret ? recordField(secret, "data")[SECRET_ROOT_PASSWORD] : undefined;
    if (typeof raw !== "string") return null;
    return { user: ROOT_USER, password: Buffer.from(raw, "base64").toString("utf8") };
  }

  /** `local kill POD --signal KILL|STOP|CONT|TERM`. */
  kill(pod: string, signal: string): void {
    const sig = (signal.startsWith("SIG") ? signal : `SIG${signal}`).toUpperCase();
    if (!["SIGKILL", "SIGSTOP", "SIGCONT", "SIGTERM"].includes(sig)) {
      throw new ControlError(400, `unsupported signal ${signal}: use KILL, STOP, CONT or TERM`);
    }
    const ns = this.cluster() ? namespaceOf(this.cluster() as KObject) : "default";
    try {
      this.kubelet.signal(ns, pod, sig as NodeJS.Signals);
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
  deletePod(pod: string, gracePeriodSeconds?: number): void {
    const ns = this.cluster() ? namespaceOf(this.cluster() as KObject) : "default";
    try {
      this.store.delete("v1", "Pod", ns, pod, gracePeriodSeconds === undefined ? {} : { gracePeriodSeconds });
    } catch (err) {
      throw new ControlError(404, err instanceof Error ? err.message : String(err));
    }
    this.event(`pod ${pod}`, "Deleting", `deletion requested${gracePeriodSeconds === undefined ? "" : ` (grace ${gracePeriodSeconds}s)`}`);
  }

  /**
   * Deletes the cluster like `kubectl delete`: Metacontroller calls finalize until it answers
   * finalized, the children are garbage collected, pods terminate. Resolves when every pod is
   * gone; data dirs (PVCs) are kept per the retention policy.
   */
  async deleteCluster(timeoutMs = 600_000): Promise<void> {
    const cluster = this.cluster();
    if (!cluster) throw new ControlError(404, "no cluster to delete");
    if (!cluster.metadata.deletionTimestamp) {
      this.store.delete(cluster.apiVersion, cluster.kind, namespaceOf(cluster), cluster.metadata.name);
      this.event(`cluster ${cluster.metadata.name}`, "Deleting", "deletion requested; waiting for the finalize hook");
    }
    await this.waitFor(() => !this.cluster() && this.store.list({ kind: "Pod" }).filter((p) => !isJobPod(p)).length === 0 && this.kubelet.pods().length === 0, timeoutMs, "cluster deletion");
    this.event(`cluster ${cluster.metadata.name}`, "Deleted", "cluster deleted, every instance stopped; data dirs kept");
  }

  /** Resolves when `predicate` holds (checked on every store change and every 200 ms). */
  async waitFor(predicate: () => boolean, timeoutMs: number, what: string): Promise<void> {
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
      const unwatch = this.store.watch(() => queueMicrotask(check));
      const tick = setInterval(check, 200);
      const timer = setTimeout(() => done(new Error(`timed out after ${timeoutMs} ms waiting for ${what}`)), timeoutMs);
    });
  }

  /** Stops everything (controllers, processes, proxies, hook server) and releases the state dir. */
  stop(): Promise<void> {
    this.stopping ??= this.doStop();
    return this.stopping;
  }

  private async doStop(): Promise<void> {
    this.event("runtime", "Stopping", "stopping every instance");
    await this.metacontroller.stop();
    await this.backupController?.stop();
    await this.cronJobs.stop();
    await this.jobs.stop();
    await this.statefulSets.stop();
    await this.kubelet.stop();
    await this.supervisor.stopAll(10_000);
    await this.proxies.stop();
    this.unwatch?.();
    await this.control?.close();
    await this.hookServer?.close();
    this.store.flush();
    this.lock.release();
    this.event("runtime", "Stopped", "all processes stopped");
    this.resolveStopped();
  }

  private event(source: string, reason: string, message: string, level: RuntimeEvent["level"] = "info"): void {
    this.emitEvent({ time: new Date(), source, reason, message, level });
  }

  private onMetacontrollerEvent(ev: MetacontrollerEvent): void {
    switch (ev.type) {
      case "SyncError":
        this.event("metacontroller", "SyncError", `${ev.hook} of ${ev.parent} failed: ${ev.message}; retrying in ${formatMs(ev.retryInMs)}`, "warn");
        break;
      case "ChildCreated":
      case "ChildUpdated":
      case "ChildDeleted":
        this.event("metacontroller", ev.type, `${ev.type.slice(5).toLowerCase()} ${ev.child}`);
        break;
      case "Finalized":
        this.event("metacontroller", "Finalized", `${ev.parent}: finalize hook reported finalized`);
        break;
      case "Synced":
        break;
    }
  }

  private observe(ev: WatchEvent): void {
    const obj = ev.object;
    if (obj.kind === KIND && ev.type === "MODIFIED" && ev.old) {
      const before = recordField(ev.old, "status");
      const after = recordField(obj, "status");
      const name = `cluster ${obj.metadata.name}`;
      if (before.state !== after.state && typeof after.state === "string") {
        const msg = stringField(after, "message");
        this.event(name, "State", `${String(before.state ?? "(none)")} -> ${after.state}${msg ? `: ${msg}` : ""}`, after.state === "Healthy" || after.state === "Initializing" ? "info" : "warn");
      }
      if ((before.currentPrimary ?? "") !== (after.currentPrimary ?? "")) {
        this.event(name, "Primary", after.currentPrimary ? `primary is now ${String(after.currentPrimary)}${before.currentPrimary ? ` (was ${String(before.currentPrimary)})` : ""}` : `no primary (was ${String(before.currentPrimary)})`, "warn");
      }
    }
    if (obj.kind === "Pod" || obj.kind === "StatefulSet") {
      const all = this.allPodsReady();
      if (all && !this.lastAllReady) {
        const ms = Date.now() - this.startedAt;
        const first = this.allReadyAfterMs === undefined;
        this.allReadyAfterMs ??= ms;
        this.event("runtime", first ? "AllReady" : "AllReadyAgain", `all ${this.readyCount()} instances ready${first ? "" : " again"} (${(ms / 1000).toFixed(1)}s after start)`);
      }
      this.lastAllReady = all;
    }
  }

  private readyCount(): number {
    return this.store.list({ kind: "Pod" }).filter(podRunningAndReady).length;
  }

  /** True when the cluster's StatefulSet has all its replicas created and Ready. */
  allPodsReady(): boolean {
    const cluster = this.cluster();
    if (!cluster) return false;
    const sts = this.store.get("apps/v1", "StatefulSet", namespaceOf(cluster), cluster.metadata.name);
    if (!sts) return false;
    const replicas = numberField(sts, "spec", "replicas") ?? 1;
    const pods = this.store
      .list({ kind: "Pod", namespace: namespaceOf(cluster) })
      .filter((p) => p.metadata.name.startsWith(`${cluster.metadata.name}-`) && /^\d+$/.test(p.metadata.name.slice(cluster.metadata.name.length + 1)));
    return pods.length === replicas && pods.every(podRunningAndReady);
  }
}

function formatMs(ms: number): string {
  return ms < 1000 ? `${ms} ms` : `${(ms / 1000).toFixed(ms < 10_000 ? 1 : 0)} s`;
}

function loadController(hookUrl: string, opts: LocalRuntimeOptions): CompositeControllerConfig {
  const overrides = {
    ...(opts.hookTimeoutMs !== undefined ? { timeoutMs: opts.hookTimeoutMs } : {}),
    ...(opts.resyncPeriodSeconds !== undefined ? { resyncPeriodSeconds: opts.resyncPeriodSeconds } : {}),
  };
  const file = opts.controllerManifest ?? join(packageRoot(), "metacontroller", "mysqlcluster-controller.yaml");
  if (existsSync(file)) {
    const parsed = parseCompositeController(readFileSync(file, "utf8"), hookUrl, overrides);
    if (parsed) return parsed;
    if (opts.controllerManifest) throw new Error(`${file}: no CompositeController for mysqlclusters`);
  } else if (opts.controllerManifest) {
    throw new Error(`cannot read ${file}`);
  }
  return mysqlClusterController(hookUrl, overrides);
}

/** The MySQLBackup controller from metacontroller/mysqlbackup-controller.yaml, when present. */
function loadBackupController(hookUrl: string, opts: LocalRuntimeOptions): CompositeControllerConfig | undefined {
  const file = join(packageRoot(), "metacontroller", "mysqlbackup-controller.yaml");
  if (!existsSync(file)) return undefined;
  const overrides = {
    ...(opts.hookTimeoutMs !== undefined ? { timeoutMs: opts.hookTimeoutMs } : {}),
    ...(opts.resyncPeriodSeconds !== undefined ? { resyncPeriodSeconds: opts.resyncPeriodSeconds } : {}),
  };
  return parseCompositeController(readFileSync(file, "utf8"), hookUrl, overrides, { resource: "mysqlbackups", kind: "MySQLBackup" });
}

/** The real hook server on an ephemeral port, logging to `logFile` (not to the progress output). */
async function startInProcessHookServer(logLevel: string, logFile: string): Promise<HookServer> {
  const { startHookServer } = await import("../server.js");
  const level = logLevel as "info";
  const logger = pino({ level, base: { component: "metamysql-hooks" } }, destination({ dest: logFile, sync: true, append: true }));
  return await startHookServer({ port: 0, host: "127.0.0.1", logLevel: level, logger });
}
