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
import { API_VERSION, CLUSTER_KIND, CLUSTER_PLURAL } from "../api/constants.js";
import { namespaceOf, numberField, RESOURCE_KINDS, type KObject } from "./apiserver/objects.js";
import { builtinKinds, KindCatalog, type KindInfo, kustomizationResources, loadCrdKinds } from "./apiserver/kinds.js";
import { ObjectStore, type WatchEvent } from "./apiserver/store.js";
import { startControlServer } from "./control/channel.js";
import { controlRoutes } from "./control/routes.js";
import {
  applyCluster,
  applyDocuments,
  type AppliedObject,
  applyObject,
  clusterCredentials,
  clustersOf,
  deleteCluster,
  deleteDocuments,
  deleteEverything,
  deleteNamed,
  deletePod,
  getObjects,
  isClusterPod,
  killPod,
  type LocalStatus,
  localStatus,
  pickCluster,
  type RuntimeParts,
  triggerCronJob,
  waitForStore,
} from "./control/verbs.js";
import { CronJobController } from "./controllers/cronjob.js";
import { JobController } from "./controllers/job.js";
import { podRunningAndReady, StatefulSetController } from "./controllers/statefulset.js";
import { Kubelet, type PodRuntimeInfo } from "./kubelet/kubelet.js";
import {
  type CompositeControllerConfig,
  type ControllerOverrides,
  mysqlClusterController,
  parseCompositeControllers,
} from "./metacontroller/controller-config.js";
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
  /**
   * A CompositeController manifest whose controllers replace those of the package's
   * metacontroller/ for the same parent resource (default: none; every CompositeController
   * metacontroller/kustomization.yaml lists is run).
   */
  controllerManifest?: string;
  /** The state dir's namespace (default: remembered, else the existing clusters', else "default"). */
  namespace?: string;
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
  /** Every CompositeController the runtime plays (the MySQLCluster one first). */
  readonly controllers: readonly MetacontrollerEmulator[];
  /** Every kind the local API server knows (built-in kinds and the shipped CRDs). */
  readonly catalog: KindCatalog;
  /** The kinds `apply -f` accepts: the controllers' parents, Secret and PersistentVolumeClaim. */
  readonly acceptedKinds: readonly KindInfo[];
  /** The state dir's namespace (one per state dir). */
  readonly namespace: string;
  readonly jobs: JobController;
  readonly cronJobs: CronJobController;
  readonly statefulSets: StatefulSetController;
  /** The MySQLCluster CompositeController. */
  readonly controller: CompositeControllerConfig;
  readonly hookUrl: string;
  readonly ipPrefix: string;
  readonly startedAt = Date.now();
  /** When every pod of every cluster was first Ready (ms since start), if it happened. */
  allReadyAfterMs: number | undefined;
  private readonly parentKinds: readonly KindInfo[];
  /** Resolves when the runtime has stopped. */
  readonly stopped: Promise<void>;
  private resolveStopped!: () => void;
  private stopping: Promise<void> | undefined;
  private readonly emitEvent: (ev: RuntimeEvent) => void;
  private readonly lock: StateLock;
  private readonly hookServer: HookServer | undefined;
  private control: { close(): Promise<void> } | undefined;
  private unwatch: (() => void) | undefined;
  /** Whether each cluster ("namespace/name") had all its pods Ready at the last look. */
  private readonly everReady = new Set<string>();
  private readonly lastAllReady = new Map<string, boolean>();

  private constructor(init: {
    layout: StateLayout;
    lock: StateLock;
    store: ObjectStore;
    settings: StateSettings;
    hookServer: HookServer | undefined;
    hookUrl: string;
    controllers: CompositeControllerConfig[];
    catalog: KindCatalog;
    opts: LocalRuntimeOptions;
  }) {
    const { layout, store, settings, opts } = init;
    this.layout = layout;
    this.lock = init.lock;
    this.store = store;
    this.hookServer = init.hookServer;
    this.hookUrl = init.hookUrl;
    const clusterConfig = init.controllers.find((c) => c.parent.kind === CLUSTER_KIND && c.parent.apiVersion === API_VERSION);
    if (!clusterConfig) throw new Error("no CompositeController for mysqlclusters");
    this.controller = clusterConfig;
    this.catalog = init.catalog;
    this.namespace = settings.namespace ?? "default";
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
    const resourceKinds = { ...RESOURCE_KINDS, ...init.catalog.resourceKinds() };
    const configs = [clusterConfig, ...init.controllers.filter((c) => c !== clusterConfig)];
    const emulators = configs.map(
      (controller) => new MetacontrollerEmulator({ store, controller, resourceKinds, onEvent: (ev) => this.metacontrollerEvent(ev) }),
    );
    this.controllers = emulators;
    this.metacontroller = emulators[0] as MetacontrollerEmulator;
    this.backupController = emulators[configs.findIndex((c) => c.parent.kind === "MySQLBackup")];
    this.parentKinds = configs.map((c) => {
      const info = init.catalog.byKind(c.parent.apiVersion, c.parent.kind);
      if (!info) throw new Error(`CompositeController ${c.name}: no CRD for ${c.parent.kind} (${c.parent.apiVersion})`);
      return info;
    });
    const builtin = (kind: string): KindInfo => init.catalog.byKind("v1", kind) as KindInfo;
    this.acceptedKinds = [...this.parentKinds, builtin("Secret"), builtin("PersistentVolumeClaim")];
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
      const store = new ObjectStore({ file: layout.storeFile });
      const existingNs = store.list({ apiVersion: API_VERSION, kind: CLUSTER_KIND })[0]?.metadata.namespace;
      const namespace = opts.namespace ?? previous?.namespace ?? existingNs ?? "default";
      if (previous?.namespace && opts.namespace && opts.namespace !== previous.namespace && store.all().some((o) => namespaceOf(o) === previous.namespace)) {
        throw new Error(`state dir ${layout.root} holds namespace "${previous.namespace}"; a state dir holds one namespace`);
      }
      const settings: StateSettings = {
        ipPrefix: opts.ipPrefix ? parseIpPrefix(opts.ipPrefix) : (previous?.ipPrefix ?? defaultIpPrefix(layout.root)),
        servicePorts: previous?.servicePorts ?? {},
        namespace,
      };
      writeSettings(layout, settings);
      // The previous run's processes are gone: like a node that restarted, its pods are
      // dropped and the StatefulSet controller recreates them in order.
      for (const pod of store.list({ kind: "Pod" })) store.remove(pod.apiVersion, pod.kind, namespaceOf(pod), pod.metadata.name);

      let hookUrl = opts.hookUrl;
      if (!hookUrl) {
        if (!opts.startHookServer) throw new Error("the local runtime needs a hook server: pass hookUrl or startHookServer");
        hookServer = await opts.startHookServer({ logLevel: opts.hookLogLevel ?? "info", logFile: join(layout.logsDir, "hooks.log") });
        hookUrl = hookServer.url;
      }
      const catalog = loadCatalog();
      const controllers = loadControllers(hookUrl, opts, catalog);
      const rt = new LocalRuntime({ layout, lock, store, settings, hookServer, hookUrl, controllers, catalog, opts });
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
    for (const c of this.controllers) c.start();
    this.jobs.start();
    this.cronJobs.start();
    if (control) {
      this.control = await startControlServer(
        this.layout.controlSocket,
        controlRoutes({
          status: (detail, cluster) => (detail ? { ...this.status(cluster), detail: this.kubelet.pods() } : this.status(cluster)),
          apply: (manifest) => this.apply(manifest),
          applyObject: (manifest) => this.applyObject(manifest),
          applyDocuments: (docs) => this.applyDocuments(docs),
          get: (kind, name) => getObjects(this.parts, kind, name),
          kill: (pod, signal) => this.kill(pod, signal),
          deleteEverything: () => deleteEverything(this.parts, 600_000),
          deleteNamed: (kind, name) => deleteNamed(this.parts, kind, name, 600_000),
          deleteDocuments: (docs) => deleteDocuments(this.parts, docs, 600_000),
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
    return {
      layout: this.layout,
      store: this.store,
      kubelet: this.kubelet,
      proxies: this.proxies,
      cronJobs: this.cronJobs,
      say: this.say,
      catalog: this.catalog,
      accepted: this.acceptedKinds,
      parents: this.parentKinds,
      namespace: this.namespace,
    };
  }

  /** The MySQLCluster named `name`, or the only one; undefined when none (throws when several and no name). */
  cluster(name?: string): KObject | undefined {
    try {
      return pickCluster(this.store, name);
    } catch (err) {
      if (name !== undefined) return undefined;
      throw err;
    }
  }

  /** Every MySQLCluster of the state dir. */
  clusters(): KObject[] {
    return clustersOf(this.store);
  }

  /** Creates or updates the cluster, like `kubectl apply` (control/verbs.ts applyCluster). */
  async apply(manifest: unknown): Promise<KObject> {
    return applyCluster(this.parts, manifest);
  }

  /** Creates or updates a MySQLBackup (or another controller's parent), Secret or PersistentVolumeClaim (control/verbs.ts applyObject). */
  applyObject(manifest: unknown): KObject {
    return applyObject(this.parts, manifest);
  }

  /** `local apply -f`: validates every document, then applies them all, or none (control/verbs.ts applyDocuments). */
  async applyDocuments(docs: unknown[]): Promise<AppliedObject[]> {
    return applyDocuments(this.parts, docs);
  }

  /** `local get KIND [NAME]` (control/verbs.ts getObjects). */
  get(kind: string, name?: string): ReturnType<typeof getObjects> {
    return getObjects(this.parts, kind, name);
  }

  /** Deletes an object applied with applyObject (a MySQLBackup goes through its finalize hook). */
  deleteObject(apiVersion: string, kind: string, name: string, namespace = "default"): void {
    this.store.delete(apiVersion, kind, namespace, name);
  }

  /** `local status [CLUSTER] --json`: the named cluster, or the only one. */
  status(cluster?: string): LocalStatus {
    return localStatus(this.parts, cluster);
  }

  /** A cluster's root account (the named one, or the only one), from its credentials Secret. */
  credentials(cluster?: string): { user: string; password: string } | null {
    const c = this.cluster(cluster);
    return c ? clusterCredentials(this.store, c) : null;
  }

  /** `local kill POD --signal KILL|STOP|CONT|TERM`. */
  kill(pod: string, signal: string): void {
    killPod(this.parts, pod, signal);
  }

  /** Deletes a Pod like `kubectl delete pod` (control/verbs.ts deletePod). */
  deletePod(pod: string, gracePeriodSeconds?: number): void {
    deletePod(this.parts, pod, gracePeriodSeconds);
  }

  /** Deletes a cluster (the named one, or the only one) like `kubectl delete`; resolves when its pods are gone (control/verbs.ts deleteCluster). */
  async deleteCluster(timeoutMs = 600_000, name?: string): Promise<void> {
    await deleteCluster(this.parts, timeoutMs, name);
  }

  /** `local delete` without arguments: every parent object, each finalized (control/verbs.ts deleteEverything). */
  async deleteEverything(timeoutMs = 600_000): Promise<void> {
    await deleteEverything(this.parts, timeoutMs);
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
    for (const c of this.controllers) await c.stop();
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
    if (obj.kind === "Pod" || obj.kind === "StatefulSet" || obj.kind === CLUSTER_KIND) {
      for (const cluster of clustersOf(this.store)) {
        const key = `${namespaceOf(cluster)}/${cluster.metadata.name}`;
        const ready = this.clusterPodsReady(cluster);
        if (ready && !this.lastAllReady.get(key)) {
          const ms = Date.now() - this.startedAt;
          const first = !this.everReady.has(key);
          this.everReady.add(key);
          const n = this.store.list({ kind: "Pod", namespace: namespaceOf(cluster) }).filter((p) => isClusterPod(cluster, p.metadata.name)).length;
          this.event(
            `cluster ${cluster.metadata.name}`,
            first ? "AllReady" : "AllReadyAgain",
            `all ${n} instances ready${first ? "" : " again"} (${(ms / 1000).toFixed(1)}s after start)`,
          );
        }
        this.lastAllReady.set(key, ready);
      }
      if (this.allReadyAfterMs === undefined && this.allPodsReady()) this.allReadyAfterMs = Date.now() - this.startedAt;
    }
  }

  /** True when the cluster (the named one, or every one, at least one) has all its StatefulSet's replicas created and Ready. */
  allPodsReady(name?: string): boolean {
    const clusters = name === undefined ? clustersOf(this.store) : clustersOf(this.store).filter((c) => c.metadata.name === name);
    return clusters.length > 0 && clusters.every((c) => this.clusterPodsReady(c));
  }

  private clusterPodsReady(cluster: KObject): boolean {
    const sts = this.store.get("apps/v1", "StatefulSet", namespaceOf(cluster), cluster.metadata.name);
    if (!sts) return false;
    const replicas = numberField(sts, "spec", "replicas") ?? 1;
    const pods = this.store.list({ kind: "Pod", namespace: namespaceOf(cluster) }).filter((p) => isClusterPod(cluster, p.metadata.name));
    return pods.length === replicas && pods.every(podRunningAndReady);
  }
}

/** The kinds of the local API server: Kubernetes' own and the CRDs of deploy/crds. */
function loadCatalog(): KindCatalog {
  return new KindCatalog([...builtinKinds(), ...loadCrdKinds(join(packageRoot(), "deploy", "crds"))]);
}

/**
 * Every CompositeController of the package's metacontroller/ (the files its kustomization.yaml
 * lists), with those of `opts.controllerManifest` replacing the ones for the same parent; the
 * built-in MySQLCluster controller when there is none for mysqlclusters.
 */
function loadControllers(hookUrl: string, opts: LocalRuntimeOptions, catalog: KindCatalog): CompositeControllerConfig[] {
  const overrides: ControllerOverrides = {
    ...(opts.hookTimeoutMs !== undefined ? { timeoutMs: opts.hookTimeoutMs } : {}),
    ...(opts.resyncPeriodSeconds !== undefined ? { resyncPeriodSeconds: opts.resyncPeriodSeconds } : {}),
  };
  const kinds = { ...RESOURCE_KINDS, ...catalog.resourceKinds() };
  const kindOf = (resource: string): string | undefined => kinds[resource];
  const read = (file: string): CompositeControllerConfig[] => {
    if (!existsSync(file)) throw new Error(`cannot read ${file}`);
    try {
      return parseCompositeControllers(readFileSync(file, "utf8"), hookUrl, overrides, kindOf);
    } catch (err) {
      throw new Error(`${file}: ${err instanceof Error ? err.message : String(err)}`, { cause: err });
    }
  };
  const byParent = new Map<string, CompositeControllerConfig>();
  for (const file of kustomizationResources(join(packageRoot(), "metacontroller"))) for (const cc of read(file)) byParent.set(cc.parent.resource, cc);
  if (opts.controllerManifest) {
    const own = read(opts.controllerManifest);
    if (own.length === 0) throw new Error(`${opts.controllerManifest}: no CompositeController`);
    for (const cc of own) byParent.set(cc.parent.resource, cc);
  }
  if (!byParent.has(CLUSTER_PLURAL)) byParent.set(CLUSTER_PLURAL, mysqlClusterController(hookUrl, overrides));
  return [...byParent.values()];
}
