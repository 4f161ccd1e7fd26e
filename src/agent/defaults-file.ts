/**
 * A MariaDB option file for one tool run: the server's my.cnf (included, so innodb settings
 * match the server's) and the backup account's user and password. Written 0600 into a private
 * 0700 dir and removed after the run: the password is never on argv or in the environment.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";

/** A value as an option-file string: quoted, backslash and quote escaped, no line breaks. */
export function optionValue(value: string): string {
  if (/[\n\r\0]/.test(value)) throw new Error("option values may not contain line breaks or NUL");
  return `"${value.replace(/\\/g, "\\\\").replace(/"/g, '\\"')}"`;
}

/** Writes the option file; returns its path and a function that removes it. */
export function writeDefaultsFile(
  tmpDir: string,
  opts: { include?: string; user: string; password: string; socket?: string },
): { path: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpDir, "metamysql-agent-"));
  const path = join(dir, "client.cnf");
  const lines: string[] = [];
  if (opts.include) lines.push(`!include ${opts.include}`);
  for (const group of ["client", "mariadb-backup"]) {
    lines.push(`[${group}]`, `user=${optionValue(opts.user)}`, `password=${optionValue(opts.password)}`);
    if (opts.socket) lines.push(`socket=${optionValue(opts.socket)}`);
  }
  writeFileSync(path, `${lines.join("\n")}\n`, { mode: 0o600 });
  return { path, remove: () => rmSync(dir, { recursive: true, force: true }) };
}
