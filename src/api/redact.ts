/**
 * Redaction of secrets in text that leaves the process (log lines, the hook's 500 body).
 * The root rule is that no error carries SQL text (src/mysql/connection.ts names the operation
 * instead); this is the second line, applied at the boundary (src/server/app.ts) and to every
 * server error message: anything that looks like a password in SQL, my.cnf or key=value form,
 * and the statement fragment MySQL/MariaDB quote in syntax errors ("near '...' at line 1").
 */

export const REDACTED = "<redacted>";

/** A single- or double-quoted SQL string literal, with backslash escapes and doubled quotes. */
const QUOTED = String.raw`(?:'(?:[^'\\]|\\[\s\S]|'')*'?|"(?:[^"\\]|\\[\s\S]|"")*"?)`;
/** A hex or unquoted value (MASTER_PASSWORD=secret, X'...' literals). */
const BARE = String.raw`(?:[xX]${QUOTED}|0x[0-9a-fA-F]+|[^\s,;()'"][^\s,;()]*)`;

const RULES: ReadonlyArray<[RegExp, string]> = [
  // Syntax errors quote the statement from the error on: "near 'MASTER_PASSWORD='s3cr...' at line 1".
  // Greedy to the last "' at line N": the fragment may itself contain quotes.
  [/near '[\s\S]*' at line (\d+)/g, `near ${REDACTED} at line $1`],
  [/near '[\s\S]*$/g, `near ${REDACTED}`],
  // ER_WRONG_STRING_LENGTH quotes the value's first 64 characters: "String '...' is too long for MASTER_PASSWORD".
  [/String '[\s\S]*?' is too long for/g, `String ${REDACTED} is too long for`],
  // IDENTIFIED BY 'x', IDENTIFIED WITH plugin BY|AS 'x', IDENTIFIED BY PASSWORD 'hash'
  [new RegExp(String.raw`(IDENTIFIED\s+(?:WITH\s+\S+\s+)?(?:BY|AS)(?:\s+PASSWORD)?\s*)${QUOTED}`, "gi"), `$1'${REDACTED}'`],
  // PASSWORD('x'), PASSWORD 'x'
  [new RegExp(String.raw`\b(PASSWORD\s*\(\s*|PASSWORD\s+)${QUOTED}`, "gi"), `$1'${REDACTED}'`],
  // MASTER_PASSWORD = 'x', SOURCE_PASSWORD=x, SET PASSWORD FOR u = 'x', password: x, "pwd": "x"
  [new RegExp(String.raw`\b((?:MASTER_|SOURCE_)?(?:PASSWORD|PASSWD|PWD)["']?\s*(?:=|:|\s+FOR\s+\S+\s*=)\s*)(?:${QUOTED}|${BARE})`, "gi"), `$1'${REDACTED}'`],
];

/** `text` with everything that looks like a password (or a quoted statement fragment) replaced. */
export function redactSecrets(text: string): string {
  let out = text;
  for (const [re, replacement] of RULES) out = out.replace(re, replacement);
  return out;
}
