/**
 * MySQL's physical copy: the CLONE plugin, run by the recipient (no agent stream; the MariaDB
 * path is server.ts + clone.ts). The statements a fresh MySQL 8 instance runs to copy a donor
 * (https://dev.mysql.com/doc/refman/8.4/en/clone-plugin-remote.html): the donor allowed by
 * clone_valid_donor_list, then CLONE INSTANCE, which replaces the recipient's data, restarts it
 * and leaves gtid_executed/gtid_purged at the copy's position (then CHANGE REPLICATION SOURCE
 * ... SOURCE_AUTO_POSITION=1 as for any replica). The donor's account needs BACKUP_ADMIN, the
 * recipient's CLONE_ADMIN, and both servers the clone plugin loaded (plugin-load-add=mysql_clone.so).
 * Not wired into the MySQL pods yet (no agent sidecar for flavor mysql). SQL text only: MySQL 8 is not available in this project's test
 * environment (test/unit/agent-mysql-clone.test.ts checks the text).
 */
import { intLiteral, quoteAccount, quoteString, unsafeSqlModeFix } from "../mysql/sql/escape.js";

/** A donor address as clone_valid_donor_list takes it (host names or IPv4, no separators). */
const HOST = /^[A-Za-z0-9]([A-Za-z0-9.-]*[A-Za-z0-9])?$/;

/** The statements that clone a MySQL recipient from `donor` with the donor account `user`. */
export function mysqlCloneStatements(donor: { host: string; port: number }, user: string, password: string): string[] {
  if (!HOST.test(donor.host)) throw new Error(`invalid donor host ${JSON.stringify(donor.host)}`);
  const port = intLiteral(donor.port, "donor port");
  return [
    unsafeSqlModeFix,
    `SET GLOBAL clone_valid_donor_list = ${quoteString(`${donor.host}:${port}`)}`,
    `CLONE INSTANCE FROM ${quoteAccount(user, donor.host)}:${port} IDENTIFIED BY ${quoteString(password)}`,
  ];
}

/** The donor-side grants of the clone account (MySQL 8.0.17+). */
export function mysqlCloneDonorGrants(user: string): string[] {
  return [`GRANT BACKUP_ADMIN ON *.* TO ${quoteAccount(user)}`];
}
