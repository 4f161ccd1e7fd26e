/**
 * Dialect lookup by flavor. See dialect.ts.
 */
import type { Flavor } from "../../api/cluster.js";
import type { Dialect } from "./dialect.js";
import { mariadbDialect } from "./mariadb.js";
import { mysqlDialect } from "./mysql.js";

export type { BoundQuery, ChangeSourceOptions, Dialect, SemiSyncSourceOptions } from "./dialect.js";
export { mariadbDialect } from "./mariadb.js";
export { mysqlDialect, installSemiSyncPlugins } from "./mysql.js";
export { quoteAccount, quoteIdent, quoteString } from "./escape.js";

/** The SQL dialect of a flavor. */
export function dialectFor(flavor: Flavor): Dialect {
  return flavor === "mariadb" ? mariadbDialect : mysqlDialect;
}
