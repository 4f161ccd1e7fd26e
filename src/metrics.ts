/**
 * A small Prometheus registry (text exposition format 0.0.4): counters, gauges and histograms
 * with labels. Per-process; GET /metrics renders it.
 */

type Labels = Record<string, string>;

const NEEDS_ESCAPE = /[\\\n"]/;

/** A label value escaped for the text format (backslash, newline, double quote). */
function escapeLabelValue(value: string): string {
  return NEEDS_ESCAPE.test(value) ? value.replace(/\\/g, "\\\\").replace(/\n/g, "\\n").replace(/"/g, '\\"') : value;
}

/**
 * `k1="v1",k2="v2"` with keys sorted: the identity of a series. Called for every series set on
 * every sync, hence a plain loop and escaping only values that need it.
 */
function labelKey(labels: Labels): string {
  const keys = Object.keys(labels);
  if (keys.length > 1) keys.sort();
  let out = "";
  for (let i = 0; i < keys.length; i++) {
    const k = keys[i] as string;
    out += `${i > 0 ? "," : ""}${k}="${escapeLabelValue(String(labels[k]))}"`;
  }
  return out;
}

interface Metric {
  render(): string[];
}

/** A monotonically increasing counter. */
export class Counter implements Metric {
  private readonly values = new Map<string, number>();
  constructor(
    readonly name: string,
    readonly help: string,
  ) {}
  inc(labels: Labels = {}, by = 1): void {
    const k = labelKey(labels);
    this.values.set(k, (this.values.get(k) ?? 0) + by);
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} counter`];
    for (const [k, v] of [...this.values.entries()].sort()) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines;
  }
}

/** A value that goes up and down; `deleteMatching` drops series of clusters that went away. */
export class Gauge implements Metric {
  /** Series grouped by the key of their `group` labels (namespace/cluster), for cheap deletes. */
  private readonly groups = new Map<string, Map<string, number>>();
  constructor(
    readonly name: string,
    readonly help: string,
    private readonly groupBy: readonly string[] = ["namespace", "cluster"],
  ) {}
  private groupKey(labels: Labels): string {
    let key = "";
    for (let i = 0; i < this.groupBy.length; i++) key += `${i > 0 ? "\u0000" : ""}${labels[this.groupBy[i] as string] ?? ""}`;
    return key;
  }
  set(labels: Labels, value: number): void {
    const g = this.groupKey(labels);
    let series = this.groups.get(g);
    if (!series) {
      series = new Map();
      this.groups.set(g, series);
    }
    series.set(labelKey(labels), value);
  }
  /** Removes every series of the group named by `match` (its namespace and cluster labels). */
  deleteMatching(match: Labels): void {
    this.groups.delete(this.groupKey(match));
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} gauge`];
    const all: Array<[string, number]> = [];
    for (const series of this.groups.values()) all.push(...series.entries());
    for (const [k, v] of all.sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0))) lines.push(`${this.name}${k ? `{${k}}` : ""} ${v}`);
    return lines;
  }
}

/** A histogram with fixed buckets (seconds). */
export class Histogram implements Metric {
  private readonly series = new Map<string, { counts: number[]; sum: number; count: number }>();
  constructor(
    readonly name: string,
    readonly help: string,
    readonly buckets: readonly number[] = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
  ) {}
  observe(labels: Labels, value: number): void {
    const k = labelKey(labels);
    let s = this.series.get(k);
    if (!s) {
      s = { counts: this.buckets.map(() => 0), sum: 0, count: 0 };
      this.series.set(k, s);
    }
    for (let i = 0; i < this.buckets.length; i++) if (value <= (this.buckets[i] as number)) s.counts[i] = (s.counts[i] ?? 0) + 1;
    s.sum += value;
    s.count += 1;
  }
  render(): string[] {
    const lines = [`# HELP ${this.name} ${this.help}`, `# TYPE ${this.name} histogram`];
    for (const [k, s] of [...this.series.entries()].sort()) {
      const sep = k ? `${k},` : "";
      this.buckets.forEach((b, i) => lines.push(`${this.name}_bucket{${sep}le="${b}"} ${s.counts[i] ?? 0}`));
      lines.push(`${this.name}_bucket{${sep}le="+Inf"} ${s.count}`);
      lines.push(`${this.name}_sum${k ? `{${k}}` : ""} ${s.sum}`);
      lines.push(`${this.name}_count${k ? `{${k}}` : ""} ${s.count}`);
    }
    return lines;
  }
}

/** A set of metrics rendered together. */
export class Registry {
  private readonly metrics: Metric[] = [];
  counter(name: string, help: string): Counter {
    const m = new Counter(name, help);
    this.metrics.push(m);
    return m;
  }
  gauge(name: string, help: string): Gauge {
    const m = new Gauge(name, help);
    this.metrics.push(m);
    return m;
  }
  histogram(name: string, help: string, buckets?: readonly number[]): Histogram {
    const m = new Histogram(name, help, buckets);
    this.metrics.push(m);
    return m;
  }
  render(): string {
    return `${this.metrics.flatMap((m) => m.render()).join("\n")}\n`;
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
  backupLastSuccess: Gauge;
  backupLastSize: Gauge;
  backupScheduleState: Gauge;
  backupScheduleLastSuccess: Gauge;
}

/** Creates the hook server's metric set. */
export function createHookMetrics(): HookMetrics {
  const registry = new Registry();
  return {
    registry,
    hookRequests: registry.counter("metamysql_hook_requests_total", "Hook requests by hook and HTTP code."),
    hookDuration: registry.histogram("metamysql_hook_duration_seconds", "Hook handling time by hook."),
    clusterState: registry.gauge("metamysql_cluster_state", "1 for the cluster's current state, by namespace, cluster and state."),
    clusterInstances: registry.gauge("metamysql_cluster_instances", "Desired instances by namespace and cluster."),
    instanceReady: registry.gauge("metamysql_instance_ready", "1 when the instance's pod is ready, by namespace, cluster and instance."),
    instanceUp: registry.gauge("metamysql_instance_up", "1 when the operator could probe the instance's server in the last sync."),
    instanceReadOnly: registry.gauge("metamysql_instance_read_only", "1 when the instance is read-only."),
    instanceLag: registry.gauge("metamysql_instance_replication_lag_seconds", "Seconds_Behind_Master/Source of a replica."),
    instanceGtid: registry.gauge(
      "metamysql_instance_gtid_transactions",
      "GTID position as a number (MySQL: transactions in the set; MariaDB: sum of per-domain sequence numbers), by set executed|received.",
    ),
    operations: registry.counter("metamysql_operations_total", "Database operations by cluster, operation and result."),
    operationDuration: registry.histogram("metamysql_operation_duration_seconds", "Database operation time by operation."),
    backupLastSuccess: registry.gauge(
      "metamysql_backup_last_success_timestamp_seconds",
      "Completion time of the newest successful backup (MySQLBackup, schedule or final backup), by namespace and cluster.",
    ),
    backupLastSize: registry.gauge("metamysql_backup_last_size_bytes", "Size of the newest successful backup, by namespace and cluster."),
    backupScheduleState: registry.gauge(
      "metamysql_backup_schedule_state",
      "1 for the state (Running, Completed, Failed) of the newest run of a backup schedule, by namespace, cluster, schedule and state.",
    ),
    backupScheduleLastSuccess: registry.gauge(
      "metamysql_backup_schedule_last_success_timestamp_seconds",
      "Completion time of the newest completed run of a backup schedule, by namespace, cluster and schedule.",
    ),
  };
}
