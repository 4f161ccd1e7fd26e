/**
 * The operator and replication accounts, the same for both flavors except for the operator's
 * privileges (mysql-field-notes.md "least-privilege operator account"). Created with the binary
 * log off so a fresh instance holds no GTIDs of its own.
 */
import { OPERATOR_USER, REPLICATION_USER } from "../../api/constants.js";
import type { AccountPasswords } from "./dialect.js";
import { quoteAccount, quoteString } from "./escape.js";

/** Statements creating both accounts; `operatorGrants` are privilege lists, one GRANT each. */
export function accountSetupStatements(p: AccountPasswords, operatorGrants: ReadonlyArray<readonly string[]>): string[] {
  const op = quoteAccount(OPERATOR_USER);
  const repl = quoteAccount(REPLICATION_USER);
  return [
    "SET SESSION sql_log_bin=0",
    `CREATE USER IF NOT EXISTS ${op} IDENTIFIED BY ${quoteString(p.operator)}`,
    `ALTER USER ${op} IDENTIFIED BY ${quoteString(p.operator)}`,
    ...operatorGrants.map((privileges) => `GRANT ${privileges.join(", ")} ON *.* TO ${op}`),
    `CREATE USER IF NOT EXISTS ${repl} IDENTIFIED BY ${quoteString(p.replication)}`,
    `ALTER USER ${repl} IDENTIFIED BY ${quoteString(p.replication)}`,
    `GRANT REPLICATION SLAVE ON *.* TO ${repl}`,
    "SET SESSION sql_log_bin=1",
  ];
}
