/**
 * Pod IPs for the local runtime: loopback addresses in a /24 chosen per state dir (so two
 * runtimes in different state dirs don't collide), each pod getting its own address and port
 * 3306 like a pod IP. ARCHITECTURE.md section 6; mysql-field-notes.md "Running several
 * instances on one machine".
 */
import { createHash } from "node:crypto";

/** Second octets left to other users of 127/8 on these machines (tests and other engineers). */
const RESERVED_SECOND_OCTETS = new Set([0, 10, 20, 30, 53]);

/** Parses "127.X.Y" (also "127.X.Y.0/24") into the three-octet prefix, or throws. */
export function parseIpPrefix(text: string): string {
  const m = /^127\.(\d{1,3})\.(\d{1,3})(?:\.0(?:\/24)?)?$/.exec(text.trim());
  if (!m || Number(m[1]) > 255 || Number(m[2]) > 255) {
    throw new Error(`invalid --ip-prefix "${text}": expected three octets of a loopback /24 such as 127.20.1`);
  }
  return `127.${Number(m[1])}.${Number(m[2])}`;
}

/** A stable /24 in 127/8 derived from the state dir path, avoiding reserved ranges. */
export function defaultIpPrefix(stateDir: string): string {
  const h = createHash("sha256").update(stateDir).digest();
  let second = 64 + ((h[0] ?? 0) % 190);
  while (RESERVED_SECOND_OCTETS.has(second)) second++;
  return `127.${second}.${(h[1] ?? 0) % 256}`;
}

/** The lowest free host address of `prefix` (hosts 2..254), or throws when full. */
export function allocateIp(prefix: string, inUse: Iterable<string>): string {
  const used = new Set(inUse);
  for (let host = 2; host < 255; host++) {
    const ip = `${prefix}.${host}`;
    if (!used.has(ip)) return ip;
  }
  throw new Error(`no free pod IP left in ${prefix}.0/24`);
}
