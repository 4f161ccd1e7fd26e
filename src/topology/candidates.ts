/**
 * Candidate choice for bootstrap, switchover and failover (docs/clustering.md "Choosing a
 * primary"). Pure; shared by the decider and by src/mysql/operations.ts, which re-checks the
 * failover choice after fencing.
 */
import type { Flavor } from "../api/cluster.js";
import { errantTransactions, gtidCovers } from "./gtid.js";

/** An instance that could become primary, with the GTIDs it holds (received or executed). */
export interface RankedInstance {
  name: string;
  ordinal: number;
  weight: number;
  gtids: string;
}

/** Result of a choice: the winner, or why there is none (for status messages). */
export type Choice = { ok: true; name: string } | { ok: false; reason: string };

/** Highest weight first, then lowest ordinal: the deterministic tie-break everywhere. */
export function byPreference(a: { weight: number; ordinal: number }, b: { weight: number; ordinal: number }): number {
  return b.weight - a.weight || a.ordinal - b.ordinal;
}

/**
 * Failover: among `candidates` (eligible: reachable, non-errant, weight > 0, in the spec), the
 * ones whose received GTIDs cover what every instance in `constraining` (all reachable
 * non-errant instances, weight 0 included) received; the most preferred of those wins.
 * No covering candidate means promoting anyone could drop transactions another replica holds.
 */
export function chooseFailoverCandidate(flavor: Flavor, candidates: readonly RankedInstance[], constraining: readonly RankedInstance[]): Choice {
  return chooseCovering(candidates, constraining, (a, b) => gtidCovers(flavor, a, b));
}

function chooseCovering(candidates: readonly RankedInstance[], constraining: readonly RankedInstance[], covers: (a: string, b: string) => boolean): Choice {
  if (candidates.length === 0) return { ok: false, reason: "no eligible replica (reachable, non-errant, weight above 0)" };
  const covering = candidates.filter((c) => constraining.every((o) => o.name === c.name || covers(c.gtids, o.gtids)));
  const best = [...covering].sort(byPreference)[0];
  if (best) return { ok: true, name: best.name };
  const leader = [...constraining].find((o) => candidates.every((c) => c.name === o.name || !covers(c.gtids, o.gtids)));
  return {
    ok: false,
    reason: leader ? `no eligible replica has received everything ${leader.name} received` : "the replicas' received transactions diverge",
  };
}

/**
 * Bootstrap: the most preferred instance (weight > 0) whose GTID state (MariaDB
 * gtid_binlog_state, MySQL gtid_executed) contains every other instance's, i.e. no other
 * instance would be errant against it. On a new cluster all are empty, so simply the highest
 * weight, then the lowest ordinal.
 */
export function chooseBootstrapCandidate(flavor: Flavor, instances: readonly RankedInstance[]): Choice {
  const eligible = instances.filter((i) => i.weight > 0);
  const choice = chooseCovering(eligible, instances, (a, b) => errantTransactions(flavor, b, a) === "");
  return choice.ok ? choice : { ok: false, reason: "no instance holds every other instance's transactions" };
}

/** Switchover: the most preferred of the healthy, caught-up candidates (already filtered). */
export function chooseSwitchoverCandidate(candidates: readonly { name: string; ordinal: number; weight: number }[]): string | undefined {
  return [...candidates].filter((c) => c.weight > 0).sort(byPreference)[0]?.name;
}
