/**
 * The hook server's metrics (src/metrics/registry.ts, on prom-client): names, labels and the
 * exposition are a documented interface (README "Metrics"; dashboards and alerts use them), so
 * the text is pinned here.
 */
import { describe, expect, it } from "vitest";
import { createHookMetrics } from "../../src/metrics/registry.js";

/** Series lines of one metric family (no comments, no blank lines). */
function series(text: string, name: string): string[] {
  return text.split("\n").filter((l) => l.startsWith(`${name}{`) || l.startsWith(`${name} `));
}

describe("hook metrics exposition", () => {
  it("pins every metric name, type, help and label set", async () => {
    const m = createHookMetrics({ defaultMetrics: false, clock: () => 1_000 });
    const base = { namespace: "ns", cluster: "shop" };
    m.hookRequests.inc({ hook: "sync", code: "200" });
    m.hookRequests.inc({ code: "200", hook: "sync" });
    m.hookDuration.observe({ hook: "sync" }, 0.003);
    m.clusterState.set({ ...base, state: "Healthy" }, 1);
    m.clusterInstances.set(base, 3);
    m.instanceReady.set({ ...base, instance: "shop-0" }, 1);
    m.instanceUp.set({ ...base, instance: "shop-0" }, 1);
    m.instanceReadOnly.set({ ...base, instance: "shop-0" }, 0);
    m.instanceLag.set({ ...base, instance: "shop-1" }, 2);
    m.instanceGtid.set({ set: "executed", instance: "shop-0", ...base }, 42);
    m.operations.inc({ ...base, operation: "Switchover", result: "success" });
    m.operationDuration.observe({ operation: "Switchover" }, 0.2);
    m.backupLastSuccess.set(base, 1_700_000_000);
    m.backupLastSize.set(base, 1234);
    m.backupScheduleState.set({ ...base, schedule: "nightly", state: "Completed" }, 1);
    m.backupScheduleLastSuccess.set({ ...base, schedule: "nightly" }, 1_700_000_000);
    const text = await m.registry.render();
    const families = [...text.matchAll(/^# TYPE (\S+) (\S+)$/gm)].map((x) => `${x[1]} ${x[2]}`);
    expect(families).toEqual([
      "metamysql_hook_requests_total counter",
      "metamysql_hook_duration_seconds histogram",
      "metamysql_cluster_state gauge",
      "metamysql_cluster_instances gauge",
      "metamysql_instance_ready gauge",
      "metamysql_instance_up gauge",
      "metamysql_instance_read_only gauge",
      "metamysql_instance_replication_lag_seconds gauge",
      "metamysql_instance_gtid_transactions gauge",
      "metamysql_operations_total counter",
      "metamysql_operation_duration_seconds histogram",
      "metamysql_operations_deferred_total counter",
      "metamysql_backup_last_success_timestamp_seconds gauge",
      "metamysql_backup_last_size_bytes gauge",
      "metamysql_backup_schedule_state gauge",
      "metamysql_backup_schedule_last_success_timestamp_seconds gauge",
    ]);
    expect(text).toContain("# HELP metamysql_cluster_state 1 for the cluster's current state, by namespace, cluster and state.\n");
    // Labels are printed in alphabetical order whatever order the caller built them in.
    expect(series(text, "metamysql_hook_requests_total")).toEqual(['metamysql_hook_requests_total{code="200",hook="sync"} 2']);
    expect(series(text, "metamysql_cluster_state")).toEqual(['metamysql_cluster_state{cluster="shop",namespace="ns",state="Healthy"} 1']);
    expect(series(text, "metamysql_cluster_instances")).toEqual(['metamysql_cluster_instances{cluster="shop",namespace="ns"} 3']);
    expect(series(text, "metamysql_instance_ready")).toEqual(['metamysql_instance_ready{cluster="shop",instance="shop-0",namespace="ns"} 1']);
    expect(series(text, "metamysql_instance_up")).toEqual(['metamysql_instance_up{cluster="shop",instance="shop-0",namespace="ns"} 1']);
    expect(series(text, "metamysql_instance_read_only")).toEqual(['metamysql_instance_read_only{cluster="shop",instance="shop-0",namespace="ns"} 0']);
    expect(series(text, "metamysql_instance_replication_lag_seconds")).toEqual([
      'metamysql_instance_replication_lag_seconds{cluster="shop",instance="shop-1",namespace="ns"} 2',
    ]);
    expect(series(text, "metamysql_instance_gtid_transactions")).toEqual([
      'metamysql_instance_gtid_transactions{cluster="shop",instance="shop-0",namespace="ns",set="executed"} 42',
    ]);
    expect(series(text, "metamysql_operations_total")).toEqual([
      'metamysql_operations_total{cluster="shop",namespace="ns",operation="Switchover",result="success"} 1',
    ]);
    expect(series(text, "metamysql_backup_last_success_timestamp_seconds")).toEqual([
      'metamysql_backup_last_success_timestamp_seconds{cluster="shop",namespace="ns"} 1700000000',
    ]);
    expect(series(text, "metamysql_backup_last_size_bytes")).toEqual(['metamysql_backup_last_size_bytes{cluster="shop",namespace="ns"} 1234']);
    expect(series(text, "metamysql_backup_schedule_state")).toEqual([
      'metamysql_backup_schedule_state{cluster="shop",namespace="ns",schedule="nightly",state="Completed"} 1',
    ]);
    expect(series(text, "metamysql_backup_schedule_last_success_timestamp_seconds")).toEqual([
      'metamysql_backup_schedule_last_success_timestamp_seconds{cluster="shop",namespace="ns",schedule="nightly"} 1700000000',
    ]);
    expect(text).toContain('metamysql_hook_duration_seconds_bucket{le="0.005",hook="sync"} 1\n');
    expect(text).toContain('metamysql_hook_duration_seconds_bucket{le="+Inf",hook="sync"} 1\n');
    expect(text).toContain('metamysql_hook_duration_seconds_count{hook="sync"} 1\n');
    expect(text).toContain('metamysql_operation_duration_seconds_sum{operation="Switchover"} 0.2\n');
  });

  it("escapes label values", async () => {
    const m = createHookMetrics({ defaultMetrics: false });
    m.clusterInstances.set({ namespace: "ns", cluster: 'a"b\\c\nd' }, 1);
    expect(await m.registry.render()).toContain('metamysql_cluster_instances{cluster="a\\"b\\\\c\\nd",namespace="ns"} 1');
  });

  it("replaces a cluster's series in one step and never touches another cluster's", async () => {
    const m = createHookMetrics({ defaultMetrics: false });
    m.instanceReady.set({ namespace: "ns", cluster: "a", instance: "a-0" }, 1);
    m.instanceReady.set({ namespace: "ns", cluster: "a", instance: "a-1" }, 1);
    m.instanceReady.set({ namespace: "ns", cluster: "b", instance: "b-0" }, 1);
    m.instanceReady.deleteMatching({ namespace: "ns", cluster: "a" });
    m.instanceReady.set({ namespace: "ns", cluster: "a", instance: "a-0" }, 0);
    expect(series(await m.registry.render(), "metamysql_instance_ready")).toEqual([
      'metamysql_instance_ready{cluster="a",instance="a-0",namespace="ns"} 0',
      'metamysql_instance_ready{cluster="b",instance="b-0",namespace="ns"} 1',
    ]);
  });

  it("leaves out the series of clusters not updated for staleAfterMs", async () => {
    let now = 0;
    const m = createHookMetrics({ defaultMetrics: false, staleAfterMs: 60_000, clock: () => now });
    m.clusterInstances.set({ namespace: "ns", cluster: "old" }, 3);
    now = 50_000;
    m.clusterInstances.set({ namespace: "ns", cluster: "new" }, 5);
    now = 70_000;
    expect(series(await m.registry.render(), "metamysql_cluster_instances")).toEqual(['metamysql_cluster_instances{cluster="new",namespace="ns"} 5']);
    now = 200_000;
    expect(series(await m.registry.render(), "metamysql_cluster_instances")).toEqual([]);
  });

  it("exports the process and Node.js runtime metrics by default", async () => {
    const text = await createHookMetrics().registry.render();
    for (const name of ["process_cpu_user_seconds_total", "process_resident_memory_bytes", "nodejs_eventloop_lag_seconds", "nodejs_heap_size_used_bytes"]) {
      expect(text).toMatch(new RegExp(`^# TYPE ${name} `, "m"));
    }
  });
});
