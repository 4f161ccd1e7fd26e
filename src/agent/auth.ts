/**
 * The agent's bearer token (Secret `<c>-agent-credentials`, key `agent-token`, mounted as a
 * file): read from the file on every request, so a rotated Secret takes effect without a
 * restart, and compared in constant time. Never logged, never on a command line.
 */
import { createHash, timingSafeEqual } from "node:crypto";
import { readFileSync } from "node:fs";

/** The token in `file` (surrounding whitespace removed); undefined when missing or empty. */
export function readToken(file: string): string | undefined {
  try {
    const token = readFileSync(file, "utf8").trim();
    return token === "" ? undefined : token;
  } catch {
    return undefined;
  }
}

/**
 * Whether `presented` equals `expected`, in time independent of where they differ: both are
 * hashed to 32 bytes first, so their lengths never leak either.
 */
export function tokenMatches(presented: string, expected: string): boolean {
  const a = createHash("sha256").update(presented, "utf8").digest();
  const b = createHash("sha256").update(expected, "utf8").digest();
  return timingSafeEqual(a, b) && expected !== "";
}

/** The token of an `Authorization: Bearer <token>` header, or undefined. */
export function bearerToken(header: string | undefined): string | undefined {
  const m = /^Bearer +(\S+) *$/i.exec(header ?? "");
  return m?.[1];
}
