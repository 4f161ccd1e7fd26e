/**
 * The operator, replication and backup accounts, the same for both flavors except for the operator's
 * privileges (mysql-field-notes.md "least-privilege operator account"). Created with the binary
 * log off so a fresh instance holds no GTIDs of its own.
 */
import { BACKUP_USER, OPERATOR_USER, REPLICATION_USER } from "../../api/constants.js";
import type { AccountPasswords } from "./dialect.js";
import { quoteAccount, quoteString } from "./escape.js";

/**
 * Statements creating the accounts; `operatorGrants` are privilege lists, one GRANT each.
 * The backup account is created only when its password is given.
 */
export function accountSetupStatements(p: AccountPasswords, operatorGrants: ReadonlyArray<readonly string[]>, backupGrants: readonly string[]): string[] {
  const op = quoteAccount(OPERATOR_USER);
  const repl = quoteAccount(REPLICATION_USER);
  const backup = quoteAccount(BACKUP_USER);
  return [
    "SET SESSION sql_log_bin=0",
    `CREATE USER IF NOT EXISTS ${op} IDENTIFIED BY ${quoteString(p.operator)}`,
    `ALTER USER ${op} IDENTIFIED BY ${quoteString(p.operator)}`,
    ...operatorGrants.map((privileges) => `GRANT ${privileges.join(", ")} ON *.* TO ${op}`),
    `CREATE USER IF NOT EXISTS ${repl} IDENTIFIED BY ${quoteString(p.replication)}`,
    `ALTER USER ${repl} IDENTIFIED BY ${quoteString(p.replication)}`,
    `GRANT REPLICATION SLAVE ON *.* TO ${repl}`,
    ...(p.backup === undefined
      ? []
      : [
          `CREATE USER IF NOT EXISTS ${backup} IDENTIFIED BY ${quoteString(p.backup)}`,
          `ALTER USER ${backup} IDENTIFIED BY ${quoteString(p.backup)}`,
          `GRANT ${backupGrants.join(", ")} ON *.* TO ${backup}`,
        ]),
    "SET SESSION sql_log_bin=1",
  ];
}
