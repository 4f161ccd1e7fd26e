/**
 * Observe: one `InstanceObservation` per instance, from the related Pods plus a bounded,
 * parallel probe of each server at its pod IP (ARCHITECTURE.md section 4). An unreachable or
 * hung server is data (`probe.ok === false`), never an exception.
 */
import type { Cluster } from "../../src/api/cluster.js";
import { LABEL_CONTROLLER_REVISION, MYSQL_PORT, OPERATOR_USER, SERVER_ID_BASE } from "../../src/api/constants.js";
import { isPodReady, type Pod } from "../../src/api/k8s.js";
import { readInstanceStatus } from "../../src/mysql/index.js";
import { podName } from "../../src/api/names.js";
import type { ObservedInstance } from "./rotation.js";

export interface ObserveOptions {
  operatorPassword: string | undefined;
  /**
   * Operator passwords tried, in order, when the server refuses `operatorPassword` (a password
   * rotation in progress: hooks/mysqlcluster/rotation.ts).
   */
  fallbackPasswords?: readonly string[];
  connectTimeoutMs: number;
  queryTimeoutMs: number;
  /** Probe servers at this port (3306, the container port named mysql). */
  port?: number;
  /**
   * The current primary (status.currentPrimary). It is probed AFTER the others: a replica read
   * later than its primary can hold transactions the primary committed in between, which would
   * look errant (or ahead of a restarted primary). Read last, the primary's GTID state contains
   * everything its replicas received from it (docs/clustering.md "Observe").
   */
  primary?: string;
  /**
   * `performance.now()` times by which the probes must be over (the sync budget): the other
   * instances' by `others`, the primary's (read last) by `primary`. A probe that would run past
   * its deadline is cut there and reported as failed.
   */
  deadlines?: { others: number; primary: number };
}

/** Observes every instance of the spec and every existing pod, probing servers in parallel. */
export async function observeInstances(
  cluster: Cluster,
  pods: ReadonlyArray<{ ordinal: number; pod: Pod }>,
  opts: ObserveOptions,
): Promise<ObservedInstance[]> {
  const ordinals = new Set<number>([...Array.from({ length: cluster.spec.instances }, (_, i) => i), ...pods.map((p) => p.ordinal)]);
  const sorted = [...ordinals].sort((a, b) => a - b);
  const observeOne = async (ordinal: number, deadline: number | undefined): Promise<ObservedInstance> => {
    const name = podName(cluster.name, ordinal);
    const pod = pods.find((p) => p.ordinal === ordinal)?.pod;
    const podIP = pod?.status?.podIP || undefined;
    const base = {
      name,
      ordinal,
      podExists: pod !== undefined,
      podReady: pod ? isPodReady(pod) : false,
      terminating: Boolean(pod?.metadata.deletionTimestamp),
      podIP,
      revision: pod?.metadata.labels?.[LABEL_CONTROLLER_REVISION],
    };
    if (!podIP || opts.operatorPassword === undefined) return { ...base, probe: undefined };
    const read = (password: string) =>
      readInstanceStatus({
        host: podIP,
        port: opts.port ?? MYSQL_PORT,
        user: OPERATOR_USER,
        password,
        connectTimeoutMs: opts.connectTimeoutMs,
        queryTimeoutMs: opts.queryTimeoutMs,
        flavor: cluster.spec.flavor,
        expectedServerId: SERVER_ID_BASE + ordinal,
        ...(deadline !== undefined ? { deadline } : {}),
      });
    let password = opts.operatorPassword;
    let probe = await read(password);
    for (const next of opts.fallbackPasswords ?? []) {
      if (probe.ok || !probe.accessDenied || next === password) continue;
      const retried = await read(next);
      if (retried.ok || !retried.accessDenied) {
        probe = retried;
        password = next;
      }
    }
    return { ...base, probe, operatorPassword: password };
  };
  const primaryOrdinal = sorted.find((o) => opts.primary !== undefined && podName(cluster.name, o) === opts.primary);
  const others = await Promise.all(sorted.filter((o) => o !== primaryOrdinal).map((o) => observeOne(o, opts.deadlines?.others)));
  const primary = primaryOrdinal === undefined ? [] : [await observeOne(primaryOrdinal, opts.deadlines?.primary)];
  return [...others, ...primary].sort((a, b) => a.ordinal - b.ordinal);
}
