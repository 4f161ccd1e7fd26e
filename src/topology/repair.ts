/**
 * Automatic rebuild of a diverged instance (`spec.repair.errant`, docs/clustering.md "Automatic
 * rebuild"). PURE: which instance may be replaced by a clone of a healthy one, and which of its
 * transactions must be saved first (ARCHITECTURE.md invariant 8: nothing acknowledged is ever
 * discarded to repair an instance).
 *
 * The proven case (MariaDB, lossless durability): the instance is the old primary of the last
 * failover and every transaction it holds that the primary lacks carries its own server_id and
 * is held or received by no other instance. Under lossless semi-sync (AFTER_SYNC, never degrading
 * to async) a commit is acknowledged only after a replica received it, so that tail was never
 * acknowledged to anyone: it is saved (mariadb-binlog of exactly those GTIDs) and the instance
 * rebuilt. A replica whose source purged the binary logs it needs (error 1236) and holds nothing
 * errant is rebuilt too (nothing to save). Anything else stays quarantined for a human.
 */
import type { Flavor, LastOperation } from "../api/cluster.js";
import { SAVED_DIR } from "../api/constants.js";
import { parseMariaGtidList, type MariaGtid, mariaErrant } from "./gtid.js";

/** Replication error "could not read from the source's binary log" (purged logs, missing GTID). */
export const ER_SOURCE_FATAL_READING_BINLOG = 1236;

export interface RepairCandidate {
  name: string;
  serverId: number;
  /** MariaDB gtid_binlog_state. */
  gtidState: string;
  /** The replication error number of its receiver (0: none; undefined: not a replica). */
  ioErrno: number | undefined;
}

export interface RepairPeer {
  name: string;
  /** Undefined when the instance could not be probed (nothing can then be proven). */
  gtidState: string | undefined;
  /** What its receiver wrote to its relay log (MariaDB Gtid_IO_Pos), "" when none. */
  receivedGtids: string;
}

export interface RepairInput {
  mode: "Manual" | "Rebuild";
  flavor: Flavor;
  durability: "lossless" | "async";
  agentEnabled: boolean;
  lastOperation: LastOperation | undefined;
  /** The primary's gtid_binlog_state. */
  primaryState: string;
  candidate: RepairCandidate;
  /** Every other instance of the spec but the primary (reachable or not). */
  peers: readonly RepairPeer[];
}

/** The errant range to save: per (domain, server_id), after `start` up to and including `stop`. */
export interface SaveRange {
  /** GTID list for mariadb-binlog --start-position (the primary's last GTID of each stream). */
  start: string;
  /** GTID list for mariadb-binlog --stop-position (the instance's last errant GTID of each stream). */
  stop: string;
  serverId: number;
}

export type RepairVerdict = { rebuild: true; reason: string; save: SaveRange | undefined; savedFile: string | undefined } | { rebuild: false; reason: string };

const fmt = (g: MariaGtid) => `${g.domain}-${g.serverId}-${g.seq}`;

/** The saved file's name for an errant range (deterministic: a repeated request finds the same file). */
export function savedFileName(stop: string): string {
  return `${SAVED_DIR}/errant-${stop.replace(/,/g, "_")}.sql`;
}

/** Whether this instance may be rebuilt automatically, and what to save first. */
export function repairVerdict(input: RepairInput): RepairVerdict {
  const no = (reason: string): RepairVerdict => ({ rebuild: false, reason });
  if (input.mode === "Manual") return no("spec.repair.errant is Manual");
  if (input.flavor !== "mariadb") return no("automatic rebuild needs flavor mariadb (the agent's physical clone)");
  if (!input.agentEnabled) return no("automatic rebuild needs the agent (spec.agent.enabled)");
  const c = input.candidate;
  let errant: MariaGtid[];
  try {
    errant = mariaErrant(c.gtidState, input.primaryState);
  } catch (err) {
    return no(`cannot compare GTIDs: ${err instanceof Error ? err.message : String(err)}`);
  }
  if (errant.length === 0) {
    if (c.ioErrno === ER_SOURCE_FATAL_READING_BINLOG) {
      return { rebuild: true, reason: `${c.name} needs binary logs its source purged; rebuilding it by clone`, save: undefined, savedFile: undefined };
    }
    return no(`${c.name} holds nothing the primary lacks`);
  }
  if (input.durability !== "lossless") return no("without lossless durability a commit may have been acknowledged that no replica received");
  const lo = input.lastOperation;
  if (lo?.type !== "Failover" || lo.from !== c.name) return no(`${c.name} is not the old primary of the last failover`);
  const foreign = errant.filter((g) => g.serverId !== c.serverId);
  if (foreign.length > 0) return no(`its extra transactions ${foreign.map(fmt).join(",")} were not written by ${c.name} itself`);
  const primaryHas = new Map<string, number>();
  for (const g of parseMariaGtidList(input.primaryState)) {
    const key = `${g.domain}-${g.serverId}`;
    primaryHas.set(key, Math.max(primaryHas.get(key) ?? 0, g.seq));
  }
  for (const peer of input.peers) {
    if (peer.gtidState === undefined) return no(`${peer.name} is not reachable: cannot prove that no replica received the extra transactions`);
    let held: MariaGtid[];
    try {
      held = [...parseMariaGtidList(peer.gtidState), ...parseMariaGtidList(peer.receivedGtids)];
    } catch (err) {
      return no(`cannot compare GTIDs of ${peer.name}: ${err instanceof Error ? err.message : String(err)}`);
    }
    for (const g of held) {
      const have = primaryHas.get(`${g.domain}-${g.serverId}`) ?? 0;
      if (g.serverId === c.serverId && g.seq > have && errant.some((e) => e.domain === g.domain)) {
        return no(`${peer.name} received ${fmt(g)} of the extra transactions: they may have been acknowledged`);
      }
    }
  }
  const start = errant.map((g) => `${g.domain}-${g.serverId}-${primaryHas.get(`${g.domain}-${g.serverId}`) ?? 0}`).join(",");
  const stop = errant.map(fmt).join(",");
  return {
    rebuild: true,
    reason: `${c.name} is errant only by the unacknowledged tail (${stop}) it wrote as primary before the failover; saving it to ${savedFileName(stop)} and rebuilding it by clone`,
    save: { start, stop, serverId: c.serverId },
    savedFile: savedFileName(stop),
  };
}
