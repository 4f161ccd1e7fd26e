/**
 * The hook server's Prometheus metrics, on prom-client: its registry and exposition, histograms,
 * and the process and Node.js runtime metrics every exporter is expected to have (CPU, memory,
 * event-loop lag, GC, handles). Names and labels are part of the documented interface (README
 * "Metrics", dashboards and alerts use them): test/unit/metrics.test.ts pins the exposition.
 *
 * Per-cluster gauges are published through `collect()` callbacks from a store grouped by
 * (namespace, cluster): a sync replaces a cluster's series in one step (`deleteMatching`, then
 * `set`), finalize drops them, and a group not updated for `staleAfterMs` is left out of the
 * scrape (so a hook replica that no longer syncs a cluster stops publishing it).
 */
import * as prom from "prom-client";

type Labels = Record<string, string>;

/**
 * Label values in the alphabetical order of their names (`sortedNames`, sorted once per metric):
 * the exposition's label order is independent of how callers build the object.
 */
function ordered(sortedNames: readonly string[], labels: Labels): Labels {
  const out: Labels = {};
  for (const name of sortedNames) if (labels[name] !== undefined) out[name] = labels[name];
  return out;
}

/** A monotonically increasing counter. */
export class Counter {
  private readonly metric: prom.Counter<string>;
  private readonly sortedNames: readonly string[];
  constructor(registry: prom.Registry, name: string, help: string, labelNames: readonly string[]) {
    this.metric = new prom.Counter({ name, help, labelNames, registers: [registry] });
    this.sortedNames = [...labelNames].sort();
  }
  inc(labels: Labels = {}, by = 1): void {
    this.metric.inc(ordered(this.sortedNames, labels), by);
  }
}

/** Default buckets of the duration histograms (seconds). */
export const DURATION_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/** A histogram (seconds). */
export class Histogram {
  private readonly metric: prom.Histogram<string>;
  private readonly sortedNames: readonly string[];
  constructor(registry: prom.Registry, name: string, help: string, labelNames: readonly string[], buckets: readonly number[] = DURATION_BUCKETS) {
    this.metric = new prom.Histogram({ name, help, labelNames, buckets: [...buckets], registers: [registry] });
    this.sortedNames = [...labelNames].sort();
  }
  observe(labels: Labels, value: number): void {
    this.metric.observe(ordered(this.sortedNames, labels), value);
  }
}

interface Group {
  series: Map<string, { labels: Labels; value: number }>;
  /** ms since the epoch of the last `set` in this group. */
  updatedAt: number;
}

/**
 * A gauge whose series belong to a group (its namespace and cluster labels), published at scrape
 * time by prom-client's `collect()`.
 */
export class Gauge {
  private readonly groups = new Map<string, Group>();
  private readonly sortedNames: readonly string[];
  constructor(
    registry: prom.Registry,
    name: string,
    help: string,
    labelNames: readonly string[],
    private readonly clock: () => number,
    staleAfterMs: number,
    private readonly groupBy: readonly string[] = ["namespace", "cluster"],
  ) {
    this.sortedNames = [...labelNames].sort();
    const groups = this.groups;
    const now = clock;
    new prom.Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      collect(this: prom.Gauge<string>) {
        this.reset();
        const oldest = now() - staleAfterMs;
        for (const key of [...groups.keys()].sort()) {
          const group = groups.get(key);
          if (!group || group.updatedAt < oldest) continue;
          for (const k of [...group.series.keys()].sort()) {
            const s = group.series.get(k);
            if (s) this.set(s.labels, s.value);
          }
        }
      },
    });
  }
  private groupKey(labels: Labels): string {
    return this.groupBy.map((k) => labels[k] ?? "").join("\u0000");
  }
  set(labels: Labels, value: number): void {
    const g = this.groupKey(labels);
    let group = this.groups.get(g);
    if (!group) {
      group = { series: new Map(), updatedAt: 0 };
      this.groups.set(g, group);
    }
    group.updatedAt = this.clock();
    const l = ordered(this.sortedNames, labels);
    // Series key: name=value pairs in name order.
    let key = "";
    for (const name in l) key += `${name}\u0001${l[name] ?? ""}\u0000`;
    group.series.set(key, { labels: l, value });
  }
  /** Removes every series of the group named by `match` (its namespace and cluster labels). */
  deleteMatching(match: Labels): void {
    this.groups.delete(this.groupKey(match));
  }
}

/** The registry and its exposition (GET /metrics). */
export class Registry {
  readonly prom = new prom.Registry();
  /** Content type of the exposition. */
  get contentType(): string {
    return this.prom.contentType;
  }
  /** The exposition text. */
  render(): Promise<string> {
    return this.prom.metrics();
  }
}

/** The hook server's metrics. */
export interface HookMetrics {
  registry: Registry;
  hookRequests: Counter;
  hookDuration: Histogram;
  clusterState: Gauge;
  clusterInstances: Gauge;
  instanceReady: Gauge;
  instanceUp: Gauge;
  instanceReadOnly: Gauge;
  instanceLag: Gauge;
  instanceGtid: Gauge;
  operations: Counter;
  operationDuration: Histogram;
  /** Operations that did not start: lock held by another hook replica, or sync budget spent. */
  operationsDeferred: Counter;
  backupLastSuccess: Gauge;
  backupLastSize: Gauge;
  backupScheduleState: Gauge;
  backupScheduleLastSuccess: Gauge;
}

export interface HookMetricsOptions {
  /** Process and Node.js runtime metrics (default true; off in tests that pin the exposition). */
  defaultMetrics?: boolean;
  /** Per-cluster series not updated for this long are left out of scrapes (default: never). */
  staleAfterMs?: number;
  /** ms since the epoch, for the staleness check (default Date.now). */
  clock?: () => number;
}

const CLUSTER = ["namespace", "cluster"];
const INSTANCE = [...CLUSTER, "instance"];

/** Creates the hook server's metric set. */
export function createHookMetrics(opts: HookMetricsOptions = {}): HookMetrics {
  const registry = new Registry();
  const r = registry.prom;
  if (opts.defaultMetrics ?? true) prom.collectDefaultMetrics({ register: r });
  const clock = opts.clock ?? Date.now;
  const stale = opts.staleAfterMs ?? Number.POSITIVE_INFINITY;
  const gauge = (name: string, help: string, labelNames: readonly string[]) => new Gauge(r, name, help, labelNames, clock, stale);
  return {
    registry,
    hookRequests: new Counter(r, "metamysql_hook_requests_total", "Hook requests by hook and HTTP code.", ["hook", "code"]),
    hookDuration: new Histogram(r, "metamysql_hook_duration_seconds", "Hook handling time by hook.", ["hook"]),
    clusterState: gauge("metamysql_cluster_state", "1 for the cluster's current state, by namespace, cluster and state.", [...CLUSTER, "state"]),
    clusterInstances: gauge("metamysql_cluster_instances", "Desired instances by namespace and cluster.", CLUSTER),
    instanceReady: gauge("metamysql_instance_ready", "1 when the instance's pod is ready, by namespace, cluster and instance.", INSTANCE),
    instanceUp: gauge("metamysql_instance_up", "1 when the operator could probe the instance's server in the last sync.", INSTANCE),
    instanceReadOnly: gauge("metamysql_instance_read_only", "1 when the instance is read-only.", INSTANCE),
    instanceLag: gauge("metamysql_instance_replication_lag_seconds", "Seconds_Behind_Master/Source of a replica.", INSTANCE),
    instanceGtid: gauge(
      "metamysql_instance_gtid_transactions",
      "GTID position as a number (MySQL: transactions in the set; MariaDB: sum of per-domain sequence numbers), by set executed|received.",
      [...INSTANCE, "set"],
    ),
    operations: new Counter(r, "metamysql_operations_total", "Database operations by cluster, operation and result.", [...CLUSTER, "operation", "result"]),
    operationDuration: new Histogram(r, "metamysql_operation_duration_seconds", "Database operation time by operation.", ["operation"]),
    operationsDeferred: new Counter(
      r,
      "metamysql_operations_deferred_total",
      "Database operations deferred before they started, by cluster, operation and reason (lock: another hook replica's operation holds the lock; budget: the sync budget is spent).",
      [...CLUSTER, "operation", "reason"],
    ),
    backupLastSuccess: gauge(
      "metamysql_backup_last_success_timestamp_seconds",
      "Completion time of the newest successful backup (MySQLBackup, schedule or final backup), by namespace and cluster.",
      CLUSTER,
    ),
    backupLastSize: gauge("metamysql_backup_last_size_bytes", "Size of the newest successful backup, by namespace and cluster.", CLUSTER),
    backupScheduleState: gauge(
      "metamysql_backup_schedule_state",
      "1 for the state (Running, Completed, Failed) of the newest run of a backup schedule, by namespace, cluster, schedule and state.",
      [...CLUSTER, "schedule", "state"],
    ),
    backupScheduleLastSuccess: gauge(
      "metamysql_backup_schedule_last_success_timestamp_seconds",
      "Completion time of the newest completed run of a backup schedule, by namespace, cluster and schedule.",
      [...CLUSTER, "schedule"],
    ),
  };
}
