/**
 * The local runtime: runs one MySQLCluster on this machine without Kubernetes by playing
 * Metacontroller (against the real hook server, in-process or at --hook-url), the StatefulSet
 * controller, the kubelet (mariadbd/mysqld processes on loopback pod IPs) and kube-proxy (one
 * TCP proxy per Service), on top of an object store persisted in the state dir.
 * ARCHITECTURE.md section 6; docs/local-runtime.md lists where it simplifies.
 *
 * This file wires the parts together and starts and stops them; the verbs (apply, status, kill,
 * delete, trigger) are in control/verbs.ts, the control channel's routes in control/routes.ts,
 * and what is printed as things happen in narration.ts.
 */
import { appendFileSync, existsSync, mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { dirname, join } from "node:path";
import { fileURLToPath } from "node:url";
import { namespaceOf, numberField, type KObject } from "./apiserver/objects.js";
import { ObjectStore, type WatchEvent } from "./apiserver/store.js";
import { startControlServer } from "./control/channel.js";
import { controlRoutes } from "./control/routes.js";
import {
  applyCluster,
  applyObject,
  clusterCredentials,
  clusterOf,
  deleteCluster,
  deletePod,
  killPod,
  type LocalStatus,
  localStatus,
  type RuntimeParts,
  triggerCronJob,
  waitForStore,
} from "./control/verbs.js";
import { CronJobController } from "./controllers/cronjob.js";
import { JobController } from "./controllers/job.js";
import { podRunningAndReady, StatefulSetController } from "./controllers/statefulset.js";
import { Kubelet, type PodRuntimeInfo } from "./kubelet/kubelet.js";
import { type CompositeControllerConfig, mysqlClusterController, parseCompositeController } from "./metacontroller/controller-config.js";
import { MetacontrollerEmulator, type MetacontrollerEvent } from "./metacontroller/metacontroller.js";
import { narrateClusterChange, narrateMetacontroller, podEventLevel, type RuntimeEvent, type Say } from "./narration.js";
import { defaultIpPrefix, parseIpPrefix } from "./node/ipam.js";
import { killLeftovers, ProcessSupervisor } from "./node/process.js";
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
import { ServiceProxies } from "./proxy/proxy.js";

/** Options of a local runtime. */
export interface LocalRuntimeOptions {
  stateDir: string;
  /** Use this hook server instead of starting one in-process. */
  hookUrl?: string;
  /** Starts the in-process hook server when `hookUrl` is not given. */
  startHookServer?: StartHookServer;
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

/** Runtime details of the pods, for the human status view. */
export type PodDetail = PodRuntimeInfo;

/** A hook server the runtime started (and stops with itself). */
export interface HookServer {
  url: string;
  close(): Promise<void>;
}

/**
 * Starts the real hook server for the runtime, logging to `logFile`. Injected by the CLI (and
 * tests): the local runtime plays Kubernetes and Metacontroller and does not import the product's
 * server (ARCHITECTURE.md section 1).
 */
export type StartHookServer = (opts: { logLevel: string; logFile: string }) => Promise<HookServer>;

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
      onEvent: (ev) => this.event(`pod ${ev.pod}`, ev.reason, ev.message, podEventLevel(ev.reason)),
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
    this.metacontroller = new MetacontrollerEmulator({ store, controller: init.controller, onEvent: (ev) => this.metacontrollerEvent(ev) });
    this.backupController = init.backupController
      ? new MetacontrollerEmulator({ store, controller: init.backupController, onEvent: (ev) => this.metacontrollerEvent(ev) })
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
        if (!opts.startHookServer) throw new Error("the local runtime needs a hook server: pass hookUrl or startHookServer");
        hookServer = await opts.startHookServer({ logLevel: opts.hookLogLevel ?? "info", logFile: join(layout.logsDir, "hooks.log") });
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
      this.control = await startControlServer(
        this.layout.controlSocket,
        controlRoutes({
          status: (detail) => (detail ? { ...this.status(), detail: this.kubelet.pods() } : this.status()),
          apply: (manifest) => this.apply(manifest),
          applyObject: (manifest) => this.applyObject(manifest),
          kill: (pod, signal) => this.kill(pod, signal),
          deleteCluster: () => this.deleteCluster(),
          trigger: (cronJob) => triggerCronJob(this.parts, cronJob),
          stop: () => this.stop(),
        }),
      );
    }
    writeJsonAtomic(this.layout.runtimeFile, {
      pid: process.pid,
      socket: this.layout.controlSocket,
      hookUrl: this.hookUrl,
      startedAt: new Date(this.startedAt).toISOString(),
    });
    this.event("runtime", "Started", `state dir ${this.layout.root}, pod IPs ${this.ipPrefix}.0/24, hooks at ${this.hookUrl}`);
  }

  /** The parts the verbs act on. */
  private get parts(): RuntimeParts {
    return { layout: this.layout, store: this.store, kubelet: this.kubelet, proxies: this.proxies, cronJobs: this.cronJobs, say: this.say };
  }

  /** The MySQLCluster of this state dir, if any. */
  cluster(): KObject | undefined {
    return clusterOf(this.store);
  }

  /** Creates or updates the cluster, like `kubectl apply` (control/verbs.ts applyCluster). */
  async apply(manifest: unknown): Promise<KObject> {
    return applyCluster(this.parts, manifest);
  }

  /** Creates or updates a MySQLBackup, Secret or PersistentVolumeClaim (control/verbs.ts applyObject). */
  applyObject(manifest: unknown): KObject {
    return applyObject(this.parts, manifest);
  }

  /** Deletes an object applied with applyObject (a MySQLBackup goes through its finalize hook). */
  deleteObject(apiVersion: string, kind: string, name: string, namespace = "default"): void {
    this.store.delete(apiVersion, kind, namespace, name);
  }

  /** `local status --json`. */
  status(): LocalStatus {
    return localStatus(this.parts);
  }

  /** The cluster's root account, from its credentials Secret. */
  credentials(): { user: string; password: string } | null {
    return clusterCredentials(this.store);
  }

  /** `local kill POD --signal KILL|STOP|CONT|TERM`. */
  kill(pod: string, signal: string): void {
    killPod(this.parts, pod, signal);
  }

  /** Deletes a Pod like `kubectl delete pod` (control/verbs.ts deletePod). */
  deletePod(pod: string, gracePeriodSeconds?: number): void {
    deletePod(this.parts, pod, gracePeriodSeconds);
  }

  /** Deletes the cluster like `kubectl delete`; resolves when every pod is gone (control/verbs.ts deleteCluster). */
  async deleteCluster(timeoutMs = 600_000): Promise<void> {
    await deleteCluster(this.parts, timeoutMs);
  }

  /** Resolves when `predicate` holds (checked on every store change and every 200 ms). */
  async waitFor(predicate: () => boolean, timeoutMs: number, what: string | (() => string)): Promise<void> {
    await waitForStore(this.store, predicate, timeoutMs, what);
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
    const ev: RuntimeEvent = { time: new Date(), source, reason, message, level };
    this.trace(ev);
    this.emitEvent(ev);
  }

  /**
   * Appends to logs/events.log in the state dir, so a failed test or benchmark can be read
   * afterwards: every event, and what is too chatty to narrate (each sync, with its duration).
   */
  private trace(ev: RuntimeEvent): void {
    try {
      appendFileSync(this.layout.eventsLog, `${JSON.stringify(ev)}\n`, { mode: 0o600 });
    } catch {
      // the state dir is going away (runtime stopping)
    }
  }

  private metacontrollerEvent(ev: MetacontrollerEvent): void {
    if (ev.type !== "Synced") {
      narrateMetacontroller(ev, this.say);
      return;
    }
    const resync = ev.resyncAfterSeconds ? `, resync in ${ev.resyncAfterSeconds}s` : "";
    const message = `${ev.hook} of ${ev.parent} in ${ev.durationMs} ms${resync}: ${ev.statusMessage ?? ""}`;
    this.trace({ time: new Date(), source: "metacontroller", reason: "Synced", message, level: "info" });
  }

  private readonly say: Say = (source, reason, message, level) => this.event(source, reason, message, level);

  private observe(ev: WatchEvent): void {
    narrateClusterChange(ev, this.say);
    const obj = ev.object;
    if (obj.kind === "Pod" || obj.kind === "StatefulSet") {
      const all = this.allPodsReady();
      if (all && !this.lastAllReady) {
        const ms = Date.now() - this.startedAt;
        const first = this.allReadyAfterMs === undefined;
        this.allReadyAfterMs ??= ms;
        this.event(
          "runtime",
          first ? "AllReady" : "AllReadyAgain",
          `all ${this.readyCount()} instances ready${first ? "" : " again"} (${(ms / 1000).toFixed(1)}s after start)`,
        );
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
