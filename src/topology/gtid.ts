/**
 * Pure GTID parsing and comparison for both flavors (no I/O). docs/clustering.md "GTIDs".
 *
 * MariaDB GTIDs are `domain-server_id-seq`; a position (`gtid_binlog_pos`, `gtid_slave_pos`,
 * `Gtid_IO_Pos`) has one entry per domain, a state (`gtid_binlog_state`) one per
 * (domain, server_id). MySQL GTID sets are `uuid[:tag]:interval[:interval]...` separated by commas.
 * Every function here is total on well-formed input and throws `GtidParseError` otherwise, so a
 * probe can turn a malformed server answer into an observation error.
 */
import type { Flavor } from "../api/cluster.js";

/** Raised for text that is not a GTID list/set of the expected flavor. */
export class GtidParseError extends Error {
  override name = "GtidParseError";
}

// ---------------------------------------------------------------------------------------------
// MariaDB

/** One MariaDB GTID (or one entry of a position/state). */
export interface MariaGtid {
  domain: number;
  serverId: number;
  seq: number;
}

function safeInt(text: string, what: string, input: string): number {
  const n = Number(text);
  if (!/^[0-9]+$/.test(text) || !Number.isSafeInteger(n)) {
    throw new GtidParseError(`bad ${what} "${text}" in MariaDB GTID list "${input}"`);
  }
  return n;
}

/** Parses a MariaDB GTID list (`0-100-5,1-101-7`; empty string = empty list). */
export function parseMariaGtidList(text: string): MariaGtid[] {
  const trimmed = text.trim();
  if (trimmed === "") return [];
  return trimmed.split(",").map((part) => {
    const m = /^\s*([0-9]+)-([0-9]+)-([0-9]+)\s*$/.exec(part);
    if (!m || m[1] === undefined || m[2] === undefined || m[3] === undefined) {
      throw new GtidParseError(`"${part}" is not a MariaDB GTID in "${text}"`);
    }
    return { domain: safeInt(m[1], "domain", text), serverId: safeInt(m[2], "server_id", text), seq: safeInt(m[3], "seq", text) };
  });
}

/** Canonical text of a MariaDB GTID list: sorted by domain then server_id. */
export function formatMariaGtidList(list: readonly MariaGtid[]): string {
  return [...list]
    .sort((a, b) => a.domain - b.domain || a.serverId - b.serverId || a.seq - b.seq)
    .map((g) => `${g.domain}-${g.serverId}-${g.seq}`)
    .join(",");
}

/** Highest seq per domain of a list (a position, possibly computed from a state). */
export function mariaPositionByDomain(list: readonly MariaGtid[]): Map<number, MariaGtid> {
  const out = new Map<number, MariaGtid>();
  for (const g of list) {
    const cur = out.get(g.domain);
    if (!cur || g.seq > cur.seq) out.set(g.domain, g);
  }
  return out;
}

/** True when position `a` has reached position `b` in every domain of `b`. */
export function mariaPositionCovers(a: string, b: string): boolean {
  const pa = mariaPositionByDomain(parseMariaGtidList(a));
  for (const g of mariaPositionByDomain(parseMariaGtidList(b)).values()) {
    const have = pa.get(g.domain);
    if (!have || have.seq < g.seq) return false;
  }
  return true;
}

/** Per-domain maximum of several positions (e.g. `Gtid_IO_Pos` merged with `gtid_current_pos`). */
export function mariaPositionMerge(...positions: readonly string[]): string {
  const merged = new Map<number, MariaGtid>();
  for (const p of positions) {
    for (const g of mariaPositionByDomain(parseMariaGtidList(p)).values()) {
      const cur = merged.get(g.domain);
      if (!cur || g.seq > cur.seq) merged.set(g.domain, g);
    }
  }
  return formatMariaGtidList([...merged.values()]);
}

/**
 * Entries of an instance's `gtid_binlog_state` that the primary's state does not cover: for
 * (domain, server_id) the instance's seq is higher, or the primary has no entry at all
 * (field notes, "Divergence and errant transactions"). Empty = the instance is a subset.
 */
export function mariaErrant(instanceState: string, primaryState: string): MariaGtid[] {
  const primary = new Map<string, number>();
  for (const g of parseMariaGtidList(primaryState)) {
    const key = `${g.domain}-${g.serverId}`;
    primary.set(key, Math.max(primary.get(key) ?? -1, g.seq));
  }
  return parseMariaGtidList(instanceState).filter((g) => {
    const have = primary.get(`${g.domain}-${g.serverId}`);
    return have === undefined || g.seq > have;
  });
}

// ---------------------------------------------------------------------------------------------
// MySQL

/** Closed interval of transaction numbers. */
export interface GtidInterval {
  start: number;
  end: number;
}

/** A MySQL GTID set: source (`uuid` or `uuid:tag`, lower case) -> sorted, merged intervals. */
export type MysqlGtidSet = ReadonlyMap<string, readonly GtidInterval[]>;

const UUID_RE = /^[0-9a-f]{8}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{4}-?[0-9a-f]{12}$/i;
const TAG_RE = /^[a-z_][a-z0-9_]{0,31}$/i;
const INTERVAL_RE = /^([0-9]+)(?:-([0-9]+))?$/;

function normalizeIntervals(list: readonly GtidInterval[]): GtidInterval[] {
  const sorted = [...list].sort((a, b) => a.start - b.start || a.end - b.end);
  const out: GtidInterval[] = [];
  for (const iv of sorted) {
    const last = out[out.length - 1];
    if (last && iv.start <= last.end + 1) last.end = Math.max(last.end, iv.end);
    else out.push({ ...iv });
  }
  return out;
}

function canonicalUuid(uuid: string): string {
  const hex = uuid.replace(/-/g, "").toLowerCase();
  return `${hex.slice(0, 8)}-${hex.slice(8, 12)}-${hex.slice(12, 16)}-${hex.slice(16, 20)}-${hex.slice(20)}`;
}

function parseInterval(token: string, text: string): GtidInterval {
  const m = INTERVAL_RE.exec(token);
  const start = Number(m?.[1]);
  const end = m?.[2] === undefined ? start : Number(m[2]);
  if (!m || !Number.isSafeInteger(start) || !Number.isSafeInteger(end) || start < 1 || end < start) {
    throw new GtidParseError(`bad interval "${token}" in MySQL GTID set "${text}"`);
  }
  return { start, end };
}

/** Parses a MySQL GTID set, including 8.4 tagged GTIDs (`uuid:tag:1-5`); newlines allowed. */
export function parseMysqlGtidSet(text: string): MysqlGtidSet {
  const acc = new Map<string, GtidInterval[]>();
  const cleaned = text.replace(/\s+/g, "");
  if (cleaned === "") return acc;
  for (const part of cleaned.split(",")) {
    const tokens = part.split(":");
    const uuid = tokens[0] ?? "";
    if (!UUID_RE.test(uuid)) throw new GtidParseError(`"${uuid}" is not a server UUID in "${text}"`);
    let key = canonicalUuid(uuid);
    let sawInterval = false;
    for (const token of tokens.slice(1)) {
      if (INTERVAL_RE.test(token)) {
        const list = acc.get(key) ?? [];
        list.push(parseInterval(token, text));
        acc.set(key, list);
        sawInterval = true;
      } else if (TAG_RE.test(token)) {
        key = `${canonicalUuid(uuid)}:${token.toLowerCase()}`;
      } else {
        throw new GtidParseError(`bad token "${token}" in MySQL GTID set "${text}"`);
      }
    }
    if (!sawInterval) throw new GtidParseError(`"${part}" has no interval in "${text}"`);
  }
  return new Map([...acc].map(([k, v]) => [k, normalizeIntervals(v)]));
}

/** Canonical text: sources sorted, intervals merged (`uuid:1-5:7,uuid:tag:1-2`). */
export function formatMysqlGtidSet(set: MysqlGtidSet): string {
  return [...set.keys()]
    .sort()
    .filter((k) => (set.get(k) ?? []).length > 0)
    .map((k) => `${k}:${(set.get(k) ?? []).map((iv) => (iv.start === iv.end ? `${iv.start}` : `${iv.start}-${iv.end}`)).join(":")}`)
    .join(",");
}

function subtractIntervals(a: readonly GtidInterval[], b: readonly GtidInterval[]): GtidInterval[] {
  let rest: GtidInterval[] = a.map((iv) => ({ ...iv }));
  for (const cut of b) {
    const next: GtidInterval[] = [];
    for (const iv of rest) {
      if (cut.end < iv.start || cut.start > iv.end) next.push(iv);
      else {
        if (iv.start < cut.start) next.push({ start: iv.start, end: cut.start - 1 });
        if (iv.end > cut.end) next.push({ start: cut.end + 1, end: iv.end });
      }
    }
    rest = next;
  }
  return rest;
}

/** `a - b`, the pure equivalent of `GTID_SUBTRACT(a, b)`. */
export function mysqlGtidSubtract(a: MysqlGtidSet, b: MysqlGtidSet): MysqlGtidSet {
  const out = new Map<string, GtidInterval[]>();
  for (const [k, ivs] of a) {
    const left = subtractIntervals(ivs, b.get(k) ?? []);
    if (left.length > 0) out.set(k, left);
  }
  return out;
}

/** `a ∪ b`. */
export function mysqlGtidUnion(...sets: readonly MysqlGtidSet[]): MysqlGtidSet {
  const acc = new Map<string, GtidInterval[]>();
  for (const s of sets) for (const [k, ivs] of s) acc.set(k, [...(acc.get(k) ?? []), ...ivs]);
  return new Map([...acc].map(([k, v]) => [k, normalizeIntervals(v)]));
}

/** Number of transactions in a set (used to rank, never stored in status). */
export function mysqlGtidCount(set: MysqlGtidSet): number {
  let n = 0;
  for (const ivs of set.values()) for (const iv of ivs) n += iv.end - iv.start + 1;
  return n;
}

// ---------------------------------------------------------------------------------------------
// Flavor-neutral helpers used by the decider

/** Transactions `instance` holds that `primary` lacks, as text; "" when none. */
export function errantTransactions(flavor: Flavor, instanceState: string, primaryState: string): string {
  if (flavor === "mariadb") return formatMariaGtidList(mariaErrant(instanceState, primaryState));
  return formatMysqlGtidSet(mysqlGtidSubtract(parseMysqlGtidSet(instanceState), parseMysqlGtidSet(primaryState)));
}

/** True when `a` contains every transaction of `b` (MariaDB: positions per domain). */
export function gtidCovers(flavor: Flavor, a: string, b: string): boolean {
  if (flavor === "mariadb") return mariaPositionCovers(a, b);
  return mysqlGtidSubtract(parseMysqlGtidSet(b), parseMysqlGtidSet(a)).size === 0;
}

/** Union of several sets/positions, canonical text. */
export function gtidMerge(flavor: Flavor, ...parts: readonly string[]): string {
  if (flavor === "mariadb") return mariaPositionMerge(...parts);
  return formatMysqlGtidSet(mysqlGtidUnion(...parts.map(parseMysqlGtidSet)));
}

/** True when the text is an empty GTID set/position/state. */
export function gtidIsEmpty(text: string): boolean {
  return text.replace(/\s+/g, "") === "";
}

/**
 * A number for metrics: MySQL, the transactions in the set; MariaDB, the sum over domains of
 * the highest sequence number of the position (GTID sequence numbers are per domain). Unparsable
 * text counts as 0: a metric must never fail a sync.
 */
export function gtidTransactionCount(flavor: Flavor, text: string): number {
  try {
    if (flavor === "mysql") return mysqlGtidCount(parseMysqlGtidSet(text));
    let n = 0;
    for (const g of mariaPositionByDomain(parseMariaGtidList(text)).values()) n += g.seq;
    return n;
  } catch {
    return 0;
  }
}
