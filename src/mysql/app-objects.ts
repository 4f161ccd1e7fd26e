/**
 * SQL of MySQLDatabase and MySQLUser (docs/app-objects.md): text generators per flavor (pure,
 * unit-tested at the text level for MySQL 8.4, whose binaries cannot run here) and the verbs the
 * hooks run on the current primary with the operator account. Every write goes through the
 * binary log, so every instance and every future replica gets it.
 *
 * Ownership: `metamysql.owned_objects` (the operator's private schema) records each schema and
 * account an object created, with the object's uid. Nothing is altered, granted, revoked or
 * dropped without a row naming that uid; a schema or account that exists without one was not
 * created by metamysql and is never touched. A user cannot fake a row: no MySQLUser may be
 * granted on the private schema, and the schema name is refused for MySQLDatabase.
 *
 * No error carries SQL text (connection.ts): the verbs name what they did, the server's message
 * is redacted.
 */
import { z } from "zod";
import type { Flavor } from "../api/cluster.js";
import { PRIVATE_SCHEMA } from "../api/app-objects.js";
import { withSession, wrapError, type ConnectOptions, type Session } from "./connection.js";
import { isWritable } from "./act.js";
import { intLiteral, quoteAccount, quoteIdent, quoteString, unsafeSqlModeFix } from "./sql/escape.js";

/** Ownership table: kind `database` or `user`, name the schema or `user@host`. */
export const OWNED_TABLE = "owned_objects";
export type OwnedKind = "database" | "user";

/** Schema-level privileges, per flavor, and the mysql.db column of each. */
const DB_PRIVILEGES: ReadonlyArray<{ name: string; column: string; table: boolean; flavors: readonly Flavor[] }> = [
  { name: "SELECT", column: "Select_priv", table: true, flavors: ["mysql", "mariadb"] },
  { name: "INSERT", column: "Insert_priv", table: true, flavors: ["mysql", "mariadb"] },
  { name: "UPDATE", column: "Update_priv", table: true, flavors: ["mysql", "mariadb"] },
  { name: "DELETE", column: "Delete_priv", table: true, flavors: ["mysql", "mariadb"] },
  { name: "CREATE", column: "Create_priv", table: true, flavors: ["mysql", "mariadb"] },
  { name: "DROP", column: "Drop_priv", table: true, flavors: ["mysql", "mariadb"] },
  { name: "REFERENCES", column: "References_priv", table: true, flavors: ["mysql", "mariadb"] },
  { name: "INDEX", column: "Index_priv", table: true, flavors: ["mysql", "mariadb"] },
  { name: "ALTER", column: "Alter_priv", table: true, flavors: ["mysql", "mariadb"] },
  { name: "CREATE TEMPORARY TABLES", column: "Create_tmp_table_priv", table: false, flavors: ["mysql", "mariadb"] },
  { name: "LOCK TABLES", column: "Lock_tables_priv", table: false, flavors: ["mysql", "mariadb"] },
  { name: "CREATE VIEW", column: "Create_view_priv", table: true, flavors: ["mysql", "mariadb"] },
  { name: "SHOW VIEW", column: "Show_view_priv", table: true, flavors: ["mysql", "mariadb"] },
  { name: "CREATE ROUTINE", column: "Create_routine_priv", table: false, flavors: ["mysql", "mariadb"] },
  { name: "ALTER ROUTINE", column: "Alter_routine_priv", table: false, flavors: ["mysql", "mariadb"] },
  { name: "EXECUTE", column: "Execute_priv", table: false, flavors: ["mysql", "mariadb"] },
  { name: "EVENT", column: "Event_priv", table: false, flavors: ["mysql", "mariadb"] },
  { name: "TRIGGER", column: "Trigger_priv", table: true, flavors: ["mysql", "mariadb"] },
  { name: "DELETE HISTORY", column: "Delete_history_priv", table: true, flavors: ["mariadb"] },
];

/** mysql.tables_priv Table_priv values -> privilege names. */
const TABLE_PRIV_VALUES: Record<string, string> = {
  select: "SELECT",
  insert: "INSERT",
  update: "UPDATE",
  delete: "DELETE",
  create: "CREATE",
  drop: "DROP",
  references: "REFERENCES",
  index: "INDEX",
  alter: "ALTER",
  "create view": "CREATE VIEW",
  "show view": "SHOW VIEW",
  trigger: "TRIGGER",
  "delete versioning rows": "DELETE HISTORY",
};

/**
 * The privileges a MySQLUser may hold on a schema (`table` "*") or a table, for a flavor: what the
 * operator account holds WITH GRANT OPTION (src/render/scripts/accounts.sh), never a global one.
 */
export function grantablePrivileges(flavor: Flavor, onTable: boolean): string[] {
  return DB_PRIVILEGES.filter((p) => p.flavors.includes(flavor) && (!onTable || p.table)).map((p) => p.name);
}

/** One declared or observed grant target with its privileges. */
export interface GrantSet {
  database: string;
  table: string;
  privileges: string[];
  grantOption: boolean;
}

/** A privilege as GRANT spells it: upper case, single spaces; ALL [PRIVILEGES] -> "ALL". */
export function normalizePrivilege(p: string): string {
  const s = p.trim().replace(/\s+/g, " ").toUpperCase();
  return s === "ALL PRIVILEGES" ? "ALL" : s;
}

/**
 * Declared grants, merged per target (privileges unioned, grant option if any entry asks), ALL
 * expanded to the flavor's list, sorted. Returns an error for a privilege metamysql does not grant.
 */
export function normalizeGrants(
  flavor: Flavor,
  grants: ReadonlyArray<{ privileges: readonly string[]; database: string; table: string; grantOption: boolean }>,
): { ok: true; grants: GrantSet[] } | { ok: false; message: string } {
  const byTarget = new Map<string, GrantSet>();
  for (const [i, g] of grants.entries()) {
    const onTable = g.table !== "*";
    const allowed = grantablePrivileges(flavor, onTable);
    const key = `${g.database}\0${g.table}`;
    const set = byTarget.get(key) ?? { database: g.database, table: g.table, privileges: [], grantOption: false };
    for (const raw of g.privileges) {
      const p = normalizePrivilege(raw);
      if (p === "ALL") set.privileges.push(...allowed);
      else if (allowed.includes(p)) set.privileges.push(p);
      else
        return {
          ok: false,
          message: `spec.grants[${i}]: ${p} is not a ${onTable ? "table" : "schema"} privilege metamysql grants on ${flavor} (${allowed.join(", ")}, ALL)`,
        };
    }
    set.grantOption ||= g.grantOption;
    byTarget.set(key, set);
  }
  const out = [...byTarget.values()].map((s) => ({ ...s, privileges: sortPrivileges([...new Set(s.privileges)]) }));
  out.sort((a, b) => (a.database === b.database ? cmp(a.table, b.table) : cmp(a.database, b.database)));
  return { ok: true, grants: out };
}

function cmp(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

const ORDER = DB_PRIVILEGES.map((p) => p.name);
function sortPrivileges(ps: string[]): string[] {
  return [...ps].sort((a, b) => ORDER.indexOf(a) - ORDER.indexOf(b));
}

/** `db`.* with `_` and `%` escaped: a schema-level GRANT treats them as wildcards otherwise. */
export function grantTarget(database: string, table: string): string {
  const db = quoteIdent(database.replace(/[_%]/g, (c) => `\\${c}`));
  return table === "*" ? `${db}.*` : `${quoteIdent(database)}.${quoteIdent(table)}`;
}

/** The statements that turn `current` into `desired` for one account (REVOKE first, then GRANT). */
export function grantStatements(account: string, current: readonly GrantSet[], desired: readonly GrantSet[]): string[] {
  const key = (g: GrantSet): string => `${g.database}\0${g.table}`;
  const cur = new Map(current.map((g) => [key(g), g]));
  const want = new Map(desired.map((g) => [key(g), g]));
  const revokes: string[] = [];
  const grants: string[] = [];
  for (const [k, c] of cur) {
    const d = want.get(k);
    const target = grantTarget(c.database, c.table);
    const extra = c.privileges.filter((p) => !d?.privileges.includes(p));
    if (extra.length > 0) revokes.push(`REVOKE ${extra.join(", ")} ON ${target} FROM ${account}`);
    if (c.grantOption && !d?.grantOption) revokes.push(`REVOKE GRANT OPTION ON ${target} FROM ${account}`);
  }
  for (const [k, d] of want) {
    const c = cur.get(k);
    const missing = d.privileges.filter((p) => !c?.privileges.includes(p));
    const optionMissing = d.grantOption && !c?.grantOption;
    if (missing.length === 0 && !optionMissing) continue;
    const privs = optionMissing ? d.privileges : missing;
    grants.push(`GRANT ${privs.join(", ")} ON ${grantTarget(d.database, d.table)} TO ${account}${d.grantOption ? " WITH GRANT OPTION" : ""}`);
  }
  return [...revokes, ...grants];
}

/** The SQL text of every verb, for a flavor (MySQL 8.4 and MariaDB speak the same here). */
export const appSql = {
  createPrivateSchema: `CREATE DATABASE IF NOT EXISTS ${quoteIdent(PRIVATE_SCHEMA)}`,
  createOwnedTable:
    `CREATE TABLE IF NOT EXISTS ${quoteIdent(PRIVATE_SCHEMA)}.${quoteIdent(OWNED_TABLE)} (` +
    "kind VARCHAR(16) NOT NULL, name VARCHAR(400) NOT NULL, owner_uid VARCHAR(64) NOT NULL, owner VARCHAR(600) NOT NULL, " +
    "PRIMARY KEY (kind, name)) ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
  ownedTableExists: "SELECT COUNT(*) AS n FROM information_schema.TABLES WHERE TABLE_SCHEMA = ? AND TABLE_NAME = ?",
  selectOwner: `SELECT owner_uid, owner FROM ${quoteIdent(PRIVATE_SCHEMA)}.${quoteIdent(OWNED_TABLE)} WHERE kind = ? AND name = ?`,
  insertOwner: `INSERT INTO ${quoteIdent(PRIVATE_SCHEMA)}.${quoteIdent(OWNED_TABLE)} (kind, name, owner_uid, owner) VALUES (?, ?, ?, ?)`,
  deleteOwner: `DELETE FROM ${quoteIdent(PRIVATE_SCHEMA)}.${quoteIdent(OWNED_TABLE)} WHERE kind = ? AND name = ? AND owner_uid = ?`,
  schemaExists: "SELECT DEFAULT_CHARACTER_SET_NAME AS cs, DEFAULT_COLLATION_NAME AS co FROM information_schema.SCHEMATA WHERE SCHEMA_NAME = ?",
  createDatabase(name: string, characterSet: string, collation: string | undefined): string {
    return `CREATE DATABASE ${quoteIdent(name)} CHARACTER SET ${quoteIdent(characterSet)}${collation ? ` COLLATE ${quoteIdent(collation)}` : ""}`;
  },
  alterDatabase(name: string, characterSet: string, collation: string | undefined): string {
    return `ALTER DATABASE ${quoteIdent(name)} CHARACTER SET ${quoteIdent(characterSet)}${collation ? ` COLLATE ${quoteIdent(collation)}` : ""}`;
  },
  dropDatabase(name: string): string {
    return `DROP DATABASE IF EXISTS ${quoteIdent(name)}`;
  },
  accountExists: "SELECT max_user_connections AS m FROM mysql.user WHERE User = ? AND Host = ?",
  /** CREATE USER (never IF NOT EXISTS: an account that appeared meanwhile is not adopted). */
  createUser(user: string, host: string, password: string, maxUserConnections: number): string {
    return `CREATE USER ${quoteAccount(user, host)} IDENTIFIED BY ${quoteString(password)} WITH MAX_USER_CONNECTIONS ${intLiteral(maxUserConnections, "maxUserConnections")}`;
  },
  setPassword(user: string, host: string, password: string): string {
    return `ALTER USER ${quoteAccount(user, host)} IDENTIFIED BY ${quoteString(password)}`;
  },
  setMaxUserConnections(user: string, host: string, n: number): string {
    return `ALTER USER ${quoteAccount(user, host)} WITH MAX_USER_CONNECTIONS ${intLiteral(n, "maxUserConnections")}`;
  },
  dropUser(user: string, host: string): string {
    return `DROP USER IF EXISTS ${quoteAccount(user, host)}`;
  },
  selectDbGrants: "SELECT * FROM mysql.db WHERE User = ? AND Host = ?",
  selectTableGrants: "SELECT Db AS db, Table_name AS t, Table_priv AS p FROM mysql.tables_priv WHERE User = ? AND Host = ?",
} as const;

/** A mysql.db Db value without the `\_` / `\%` escapes of a literal name. */
function unescapeDb(db: string): string {
  return db.replace(/\\([_%\\])/g, "$1");
}

/** Grants as stored in mysql.db and mysql.tables_priv rows (pure; exported for tests). */
export function grantsFromRows(dbRows: ReadonlyArray<Record<string, unknown>>, tableRows: ReadonlyArray<Record<string, unknown>>): GrantSet[] {
  const out: GrantSet[] = [];
  for (const row of dbRows) {
    const privileges = DB_PRIVILEGES.filter((p) => String(row[p.column] ?? "N") === "Y").map((p) => p.name);
    const grantOption = String(row["Grant_priv"] ?? "N") === "Y";
    if (privileges.length === 0 && !grantOption) continue;
    out.push({ database: unescapeDb(String(row["Db"] ?? "")), table: "*", privileges, grantOption });
  }
  for (const row of tableRows) {
    const values = String(row["p"] ?? "")
      .split(",")
      .map((v) => v.trim().toLowerCase())
      .filter((v) => v !== "");
    const privileges = sortPrivileges(values.map((v) => TABLE_PRIV_VALUES[v]).filter((v): v is string => v !== undefined));
    const grantOption = values.includes("grant");
    if (privileges.length === 0 && !grantOption) continue;
    out.push({ database: String(row["db"] ?? ""), table: String(row["t"] ?? ""), privileges, grantOption });
  }
  return out;
}

/** Ownership of one object, as the private table records it. */
export type Ownership = { state: "ours" } | { state: "free" } | { state: "other"; owner: string };

/** The primary could not be written to (read-only, unreachable): the object stays Pending. */
export class NotWritable extends Error {
  override name = "NotWritable";
}

/** An object exists and has no row of ours, or another object's: never touched. */
export class NotOwned extends Error {
  override name = "NotOwned";
}

/** Runs `fn` on the primary: checks it is writable, and clears NO_BACKSLASH_ESCAPES first. */
export async function onPrimary<T>(opts: ConnectOptions & { flavor: Flavor }, fn: (s: Session) => Promise<T>): Promise<T> {
  let session: Session | undefined;
  try {
    return await withSession(opts, async (s) => {
      session = s;
      if (!(await isWritable(s, opts.flavor))) throw new NotWritable(`${opts.name ?? opts.host} is read-only (not the writable primary)`);
      await run(s, "clear NO_BACKSLASH_ESCAPES", unsafeSqlModeFix);
      return await fn(s);
    });
  } catch (err) {
    if (session === undefined && !(err instanceof NotWritable)) throw new NotWritable(wrapError(`connect to ${opts.name ?? opts.host}`, err).message);
    throw err;
  }
}

async function run(s: Session, what: string, sql: string, values: readonly (string | number)[] = []): Promise<Record<string, unknown>[]> {
  try {
    return await s.query(sql, values);
  } catch (err) {
    // Never the statement (it may hold a password): what we did, and the server's redacted message.
    throw wrapError(what, err);
  }
}

/** Creates the private schema and the ownership table when missing (no binlog event otherwise). */
export async function ensureOwnershipTable(s: Session): Promise<void> {
  const rows = await run(s, "look for the ownership table", appSql.ownedTableExists, [PRIVATE_SCHEMA, OWNED_TABLE]);
  if (Number(rows[0]?.["n"] ?? 0) > 0) return;
  await run(s, `create schema ${PRIVATE_SCHEMA}`, appSql.createPrivateSchema);
  await run(s, "create the ownership table", appSql.createOwnedTable);
}

/** Who owns `name` of `kind`, relative to `uid`. */
export async function ownershipOf(s: Session, kind: OwnedKind, name: string, uid: string): Promise<Ownership> {
  const rows = await run(s, `read the owner of ${kind} ${name}`, appSql.selectOwner, [kind, name]);
  const row = z.object({ owner_uid: z.string(), owner: z.string() }).safeParse(rows[0]);
  if (!row.success) return { state: "free" };
  return row.data.owner_uid === uid ? { state: "ours" } : { state: "other", owner: row.data.owner };
}

/** The owner's record: claims an object before it is created (a crash in between leaves a claim, never an orphan). */
async function claim(s: Session, kind: OwnedKind, name: string, uid: string, owner: string): Promise<void> {
  await run(s, `record ${kind} ${name} as owned`, appSql.insertOwner, [kind, name, uid, owner]);
}

/** Forgets the ownership of an object (finalize). */
export async function release(s: Session, kind: OwnedKind, name: string, uid: string): Promise<void> {
  await run(s, `release ${kind} ${name}`, appSql.deleteOwner, [kind, name, uid]);
}

/** Identity of the Kubernetes object that owns what it creates. */
export interface Owner {
  uid: string;
  /** `<Kind> <namespace>/<name>`, for messages. */
  describe: string;
}

function notOwnedMessage(what: string, own: Ownership): string {
  return own.state === "other" ? `${what} exists and is managed by ${own.owner}` : `${what} exists and is not managed by metamysql`;
}

/** Result of converging one object: what changed (for logs and tests). */
export interface ConvergeResult {
  created: boolean;
  changes: string[];
}

/** Creates the schema (claimed first) or converges its character set and collation. */
export async function convergeDatabase(
  s: Session,
  db: { name: string; characterSet: string; collation: string | undefined },
  owner: Owner,
): Promise<ConvergeResult> {
  await ensureOwnershipTable(s);
  const own = await ownershipOf(s, "database", db.name, owner.uid);
  const rows = await run(s, `look for schema ${db.name}`, appSql.schemaExists, [db.name]);
  const existing = z.object({ cs: z.string(), co: z.string() }).safeParse(rows[0]);
  if (own.state !== "ours") {
    if (existing.success || own.state === "other") throw new NotOwned(notOwnedMessage(`schema ${db.name}`, own));
    await claim(s, "database", db.name, owner.uid, owner.describe);
  }
  if (!existing.success) {
    await run(s, `create schema ${db.name}`, appSql.createDatabase(db.name, db.characterSet, db.collation));
    return { created: true, changes: ["created"] };
  }
  const csDiffers = existing.data.cs.toLowerCase() !== db.characterSet.toLowerCase();
  const coDiffers = db.collation !== undefined && existing.data.co.toLowerCase() !== db.collation.toLowerCase();
  if (!csDiffers && !coDiffers) return { created: false, changes: [] };
  await run(s, `alter schema ${db.name}`, appSql.alterDatabase(db.name, db.characterSet, db.collation));
  return { created: false, changes: ["character set"] };
}

/** Drops (deletionPolicy Delete) or keeps the schema, and releases it; only if it is ours. */
export async function removeDatabase(s: Session, name: string, uid: string, drop: boolean): Promise<"dropped" | "released" | "not ours"> {
  await ensureOwnershipTable(s);
  const own = await ownershipOf(s, "database", name, uid);
  if (own.state !== "ours") return "not ours";
  if (drop) await run(s, `drop schema ${name}`, appSql.dropDatabase(name));
  await release(s, "database", name, uid);
  return drop ? "dropped" : "released";
}

/** What a MySQLUser converges to. */
export interface AccountSpec {
  user: string;
  host: string;
  password: string;
  /** Set the password even if the account exists (a new Secret version). */
  setPassword: boolean;
  maxUserConnections: number;
  grants: GrantSet[];
}

/** Reads the grants an account holds on schemas and tables. */
export async function readGrants(s: Session, user: string, host: string): Promise<GrantSet[]> {
  const dbRows = await run(s, `read schema grants of ${user}@${host}`, appSql.selectDbGrants, [user, host]);
  const tableRows = await run(s, `read table grants of ${user}@${host}`, appSql.selectTableGrants, [user, host]);
  return grantsFromRows(dbRows, tableRows);
}

/** Creates the account (claimed first) or converges its password, limits and grants. */
export async function convergeAccount(s: Session, spec: AccountSpec, owner: Owner): Promise<ConvergeResult> {
  await ensureOwnershipTable(s);
  const name = `${spec.user}@${spec.host}`;
  const account = quoteAccount(spec.user, spec.host);
  const own = await ownershipOf(s, "user", name, owner.uid);
  const rows = await run(s, `look for account ${name}`, appSql.accountExists, [spec.user, spec.host]);
  const exists = rows.length > 0;
  if (own.state !== "ours") {
    if (exists || own.state === "other") throw new NotOwned(notOwnedMessage(`account ${name}`, own));
    await claim(s, "user", name, owner.uid, owner.describe);
  }
  const changes: string[] = [];
  let created = false;
  if (!exists) {
    await run(s, `create account ${name}`, appSql.createUser(spec.user, spec.host, spec.password, spec.maxUserConnections));
    created = true;
    changes.push("created");
  } else {
    if (spec.setPassword) {
      await run(s, `set the password of ${name}`, appSql.setPassword(spec.user, spec.host, spec.password));
      changes.push("password");
    }
    if (Number(rows[0]?.["m"] ?? 0) !== spec.maxUserConnections) {
      await run(s, `set MAX_USER_CONNECTIONS of ${name}`, appSql.setMaxUserConnections(spec.user, spec.host, spec.maxUserConnections));
      changes.push("maxUserConnections");
    }
  }
  const current = created ? [] : await readGrants(s, spec.user, spec.host);
  for (const stmt of grantStatements(account, current, spec.grants)) {
    await run(s, `${stmt.startsWith("GRANT") ? "grant" : "revoke"} privileges of ${name}`, stmt);
    changes.push(stmt.split(" ")[0]!.toLowerCase());
  }
  return { created, changes };
}

/** Drops (deletionPolicy Delete) or keeps the account, and releases it; only if it is ours. */
export async function removeAccount(s: Session, user: string, host: string, uid: string, drop: boolean): Promise<"dropped" | "released" | "not ours"> {
  await ensureOwnershipTable(s);
  const name = `${user}@${host}`;
  const own = await ownershipOf(s, "user", name, uid);
  if (own.state !== "ours") return "not ours";
  if (drop) await run(s, `drop account ${name}`, appSql.dropUser(user, host));
  await release(s, "user", name, uid);
  return drop ? "dropped" : "released";
}
