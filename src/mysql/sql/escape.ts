/**
 * Quoting for the few places where SQL text must carry values (replication statements do not
 * accept placeholders). Backslash-style escaping, as mysql2 itself does; the verbs that embed
 * secrets first clear NO_BACKSLASH_ESCAPES from their session (see `unsafeSqlModeFix`).
 */

const STRING_ESCAPES: Record<string, string> = {
  "\0": "\\0",
  "\b": "\\b",
  "\t": "\\t",
  "\n": "\\n",
  "\r": "\\r",
  "\x1a": "\\Z",
  "'": "\\'",
  '"': '\\"',
  "\\": "\\\\",
};

/** A SQL string literal for any JavaScript string (passwords, host names, GTID text). */
export function quoteString(value: string): string {
  // eslint-disable-next-line no-control-regex -- \x1a (Ctrl-Z) must be escaped, as mysql's own quoting does
  return `'${value.replace(/[\0\b\t\n\r\x1a'"\\]/g, (c) => STRING_ESCAPES[c] ?? c)}'`;
}

/** A backtick-quoted identifier; rejects NUL, which no identifier may contain. */
export function quoteIdent(name: string): string {
  if (name.length === 0 || name.includes("\0")) throw new Error(`invalid SQL identifier ${JSON.stringify(name)}`);
  return `\`${name.replace(/`/g, "``")}\``;
}

/** `'user'@'host'` account name. */
export function quoteAccount(user: string, host = "%"): string {
  return `${quoteString(user)}@${quoteString(host)}`;
}

/** A non-negative integer literal (ports, timeouts, counts), validated. */
export function intLiteral(value: number, what: string): string {
  if (!Number.isSafeInteger(value) || value < 0) throw new Error(`${what} must be a non-negative integer, got ${value}`);
  return String(value);
}

/**
 * Session statement run before any statement that embeds a string literal, so that the
 * backslash escaping of `quoteString` is interpreted as intended whatever the server's sql_mode.
 * Removes exactly that mode and keeps the others (a bare REPLACE left ",," and would also have
 * matched inside a longer name). The same statement starts every output of accounts.sh.
 */
export const unsafeSqlModeFix = "SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','))";
