/**
 * Services of the local runtime, played by kube-proxy: one TCP proxy on 127.0.0.1 per Service
 * port, forwarding to the Service's endpoints (pods matched by its selector that are Ready and
 * not terminating, or with publishNotReadyAddresses all of them; for a Service without selector,
 * the ready endpoints of the EndpointSlices labelled kubernetes.io/service-name). Endpoints are
 * followed live for new connections; an established connection stays with its backend when that
 * endpoint leaves, as with kube-proxy (its conntrack entry outlives the endpoint): it ends when
 * either side closes it (a crashed server's kernel resets it, a hung one leaves the client to its
 * own timeout). A Service without endpoints refuses connections (reset). Backends are chosen
 * round-robin. ARCHITECTURE.md section 6.
 */
import { createServer, connect, type Server, type Socket } from "node:net";
import { arrayField, isRecord, matchesSelector, namespaceOf, numberField, recordField, stringField, type KObject } from "../apiserver/objects.js";
import type { ObjectStore, WatchEvent } from "../apiserver/store.js";

/** A backend address. */
export interface Backend {
  ip: string;
  port: number;
}

/** A TCP proxy from 127.0.0.1:port to a changing set of backends. */
export class TcpProxy {
  private backends: Backend[] = [];
  private next = 0;
  private readonly conns = new Map<Socket, { backend: string; upstream: Socket }>();
  private server: Server | undefined;
  port = 0;

  /** Listens on 127.0.0.1 (`port` 0 = ephemeral; a busy preferred port falls back to ephemeral). */
  async listen(preferredPort: number): Promise<number> {
    const tryListen = (port: number): Promise<Server> =>
      new Promise((resolve, reject) => {
        const server = createServer((client) => this.accept(client));
        server.once("error", reject);
        server.listen({ host: "127.0.0.1", port, exclusive: true }, () => {
          server.removeListener("error", reject);
          resolve(server);
        });
      });
    try {
      this.server = await tryListen(preferredPort);
    } catch (err) {
      if (preferredPort === 0) throw err;
      this.server = await tryListen(0);
    }
    const addr = this.server.address();
    this.port = typeof addr === "object" && addr ? addr.port : 0;
    return this.port;
  }

  /** Replaces the backends of new connections; open connections keep theirs (kube-proxy). */
  setBackends(backends: Backend[]): void {
    this.backends = backends;
  }

  /** Open client connections to a backend that is no longer an endpoint. */
  connectionsToRemoved(): number {
    const keep = new Set(this.backends.map(backendKey));
    return [...this.conns.values()].filter((c) => !keep.has(c.backend)).length;
  }

  /** Current backends. */
  current(): Backend[] {
    return [...this.backends];
  }

  /** Number of open client connections. */
  connections(): number {
    return this.conns.size;
  }

  /** Stops listening and closes every connection. */
  async close(): Promise<void> {
    for (const [client, c] of this.conns) {
      client.destroy();
      c.upstream.destroy();
    }
    this.conns.clear();
    const server = this.server;
    if (server) await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  private accept(client: Socket): void {
    const list = this.backends;
    if (list.length === 0) {
      client.resetAndDestroy();
      return;
    }
    const backend = list[this.next++ % list.length] as Backend;
    const upstream = connect({ host: backend.ip, port: backend.port });
    this.conns.set(client, { backend: backendKey(backend), upstream });
    const drop = (): void => {
      client.destroy();
      upstream.destroy();
      this.conns.delete(client);
    };
    client.on("error", drop);
    upstream.on("error", drop);
    client.on("close", drop);
    upstream.on("close", drop);
    client.setNoDelay(true);
    upstream.setNoDelay(true);
    client.pipe(upstream);
    upstream.pipe(client);
  }
}

function backendKey(b: Backend): string {
  return `${b.ip}:${b.port}`;
}

/** Endpoints of a Service port, computed like the EndpointSlice controller + kube-proxy. */
export function serviceBackends(store: ObjectStore, svc: KObject, port: Record<string, unknown>): Backend[] {
  const ns = namespaceOf(svc);
  const selector = recordField(svc, "spec", "selector") as Record<string, string>;
  const portName = stringField(port, "name") ?? "";
  const servicePort = numberField(port, "port") ?? 0;
  const targetPort = port.targetPort ?? servicePort;
  if (Object.keys(selector).length > 0) {
    const publishNotReady = recordField(svc, "spec").publishNotReadyAddresses === true;
    const out: Backend[] = [];
    for (const pod of store.list({ kind: "Pod", namespace: ns, labelSelector: { matchLabels: selector } })) {
      const ip = stringField(pod, "status", "podIP");
      if (!ip || pod.metadata.deletionTimestamp) continue;
      const ready = arrayField(pod, "status", "conditions").some((c) => stringField(c, "type") === "Ready" && stringField(c, "status") === "True");
      if (!ready && !publishNotReady) continue;
      const p = resolveTargetPort(pod, targetPort);
      if (p) out.push({ ip, port: p });
    }
    return out;
  }
  const out: Backend[] = [];
  const slices = store
    .list({ kind: "EndpointSlice", namespace: ns })
    .filter((s) => matchesSelector(s.metadata.labels, { matchLabels: { "kubernetes.io/service-name": svc.metadata.name } }));
  for (const slice of slices) {
    const ports = arrayField(slice, "ports").filter(isRecord);
    const match = ports.find((p) => (stringField(p, "name") ?? "") === portName) ?? (ports.length === 1 ? ports[0] : undefined);
    const p = numberField(match, "port") ?? (typeof targetPort === "number" ? targetPort : undefined);
    if (!p) continue;
    for (const ep of arrayField(slice, "endpoints")) {
      if (recordField(ep, "conditions").ready === false) continue;
      const ip = arrayField(ep, "addresses")[0];
      if (typeof ip === "string") out.push({ ip, port: p });
    }
  }
  return out;
}

function resolveTargetPort(pod: KObject, target: unknown): number | undefined {
  if (typeof target === "number") return target;
  if (typeof target === "string") {
    if (/^\d+$/.test(target)) return Number(target);
    for (const c of arrayField(pod, "spec", "containers")) {
      for (const p of arrayField(c, "ports")) {
        if (stringField(p, "name") === target) return numberField(p, "containerPort");
      }
    }
  }
  return undefined;
}

/** Something the proxies did. */
export interface ProxyEvent {
  service: string;
  message: string;
}

/** One proxy per Service port, following the store. */
export class ServiceProxies {
  private readonly proxies = new Map<string, { proxy: TcpProxy; svcUid: string; ready: Promise<number> }>();
  private unwatch: (() => void) | undefined;
  private pending = false;

  /** `ports`: preferred host port per "namespace/service:port" (updated as proxies start). */
  constructor(
    private readonly store: ObjectStore,
    private readonly ports: Record<string, number>,
    private readonly onEvent: (ev: ProxyEvent) => void = () => undefined,
    private readonly onPortsChanged: (ports: Record<string, number>) => void = () => undefined,
  ) {}

  /** Starts following Services, Pods and EndpointSlices. */
  start(): void {
    this.unwatch = this.store.watch((ev) => this.onChange(ev));
    this.schedule();
  }

  /** "127.0.0.1:PORT" of each Service (its first port), by name. */
  addresses(namespace?: string): Record<string, string> {
    const out: Record<string, string> = {};
    for (const [key, p] of [...this.proxies].sort()) {
      const [nsName = ""] = key.split(":");
      const [ns, name] = nsName.split("/");
      if (namespace && ns !== namespace) continue;
      if (name && !(name in out) && p.proxy.port) out[name] = `127.0.0.1:${p.proxy.port}`;
    }
    return out;
  }

  /** The proxy of a Service port (tests). */
  proxy(namespace: string, service: string, port = 3306): TcpProxy | undefined {
    return this.proxies.get(`${namespace}/${service}:${port}`)?.proxy;
  }

  /** Resolves when every current proxy listens and has its endpoints. */
  async settled(): Promise<void> {
    this.reconcile();
    await Promise.all([...this.proxies.values()].map((p) => p.ready));
  }

  /** Closes every proxy. */
  async stop(): Promise<void> {
    this.unwatch?.();
    const all = [...this.proxies.values()];
    this.proxies.clear();
    await Promise.all(
      all.map(async (p) => {
        await p.ready.catch(() => 0);
        await p.proxy.close();
      }),
    );
  }

  private onChange(ev: WatchEvent): void {
    if (["Service", "Pod", "EndpointSlice"].includes(ev.object.kind)) this.schedule();
  }

  private schedule(): void {
    if (this.pending) return;
    this.pending = true;
    queueMicrotask(() => {
      this.pending = false;
      this.reconcile();
    });
  }

  private reconcile(): void {
    const seen = new Set<string>();
    for (const svc of this.store.list({ kind: "Service" })) {
      for (const port of arrayField(svc, "spec", "ports").filter(isRecord)) {
        const key = `${namespaceOf(svc)}/${svc.metadata.name}:${numberField(port, "port") ?? 0}`;
        seen.add(key);
        let entry = this.proxies.get(key);
        if (entry && entry.svcUid !== svc.metadata.uid) {
          void entry.proxy.close();
          this.proxies.delete(key);
          entry = undefined;
        }
        if (!entry) {
          const proxy = new TcpProxy();
          const ready = proxy.listen(this.ports[key] ?? 0).then((p) => {
            if (this.ports[key] !== p) {
              this.ports[key] = p;
              this.onPortsChanged(this.ports);
            }
            this.onEvent({ service: svc.metadata.name, message: `listening on 127.0.0.1:${p}` });
            return p;
          });
          entry = { proxy, svcUid: svc.metadata.uid ?? "", ready };
          this.proxies.set(key, entry);
        }
        const before = entry.proxy.current().map(backendKey).sort().join(",");
        const backends = serviceBackends(this.store, svc, port);
        const after = backends.map(backendKey).sort().join(",");
        entry.proxy.setBackends(backends);
        if (before !== after) {
          this.onEvent({ service: svc.metadata.name, message: after ? `endpoints ${after}` : "no endpoints" });
        }
      }
    }
    for (const [key, entry] of [...this.proxies]) {
      if (seen.has(key)) continue;
      this.proxies.delete(key);
      void entry.ready.then(
        () => entry.proxy.close(),
        () => undefined,
      );
    }
  }
}
