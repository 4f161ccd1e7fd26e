/**
 * The container scripts shipped in ConfigMap `<c>-config` (ARCHITECTURE.md section 3):
 * - entrypoint.sh: initialize an empty data dir, create the root, operator and replication
 *   accounts with the binary log off (no GTIDs on a fresh instance), then exec the server with
 *   its per-pod identity (server_id = 100 + ordinal, report_host = pod name).
 * - probe.sh readiness|liveness|prestop: readiness = the server answers the operator account
 *   with the expected server_id (an instance that is up but not configured is not ready);
 *   liveness = the server process answers a ping; prestop = wait (bounded) until the instance is
 *   read-only, so the operator can switch the primary away before the server stops.
 * Every path comes from an environment variable whose default is the container's mount path,
 * so the local runtime runs these same scripts against its own directories.
 */
import type { Flavor } from "../api/cluster.js";
// The privilege lists are shared with src/mysql's account setup: one definition of least privilege.
import { MARIADB_BACKUP_PRIVILEGES, MARIADB_OPERATOR_PRIVILEGES } from "../mysql/sql/mariadb.js";
import { MYSQL_BACKUP_PRIVILEGES, MYSQL_OPERATOR_DYNAMIC_PRIVILEGES, MYSQL_OPERATOR_PRIVILEGES } from "../mysql/sql/mysql.js";
import { BACKUP_USER, OPERATOR_USER, PRESTOP_WAIT_SECONDS, REPLICATION_USER, SERVER_ID_BASE } from "../api/constants.js";

/**
 * Version of the account set. An instance initialized by an older operator (no marker
 * `.metamysql-accounts-<N>`) gets the missing accounts on its next start (see `upgrade_accounts`).
 * 2: the backup account.
 */
export const ACCOUNTS_VERSION = 2;

interface FlavorCommands {
  server: string;
  client: string;
  admin: string;
  install: string;
  operatorGrants: string[];
  backupGrant: string;
  openForInit: string;
}

const COMMANDS: Record<Flavor, FlavorCommands> = {
  mariadb: {
    server: "mariadbd",
    client: "mariadb",
    admin: "mariadb-admin",
    install:
      'mariadb-install-db --defaults-file="$CONFIG_DIR/my.cnf" --datadir="$DATA_DIR" --auth-root-authentication-method=normal --skip-test-db "${user_args[@]}" >"$TMP_DIR/install-db.log" 2>&1 || { cat "$TMP_DIR/install-db.log" >&2; exit 1; }',
    operatorGrants: [`GRANT ${MARIADB_OPERATOR_PRIVILEGES.join(", ")} ON *.* TO '${OPERATOR_USER}'@'%';`],
    backupGrant: `GRANT ${MARIADB_BACKUP_PRIVILEGES.join(", ")} ON *.* TO '${BACKUP_USER}'@'%';`,
    openForInit: "--read-only=OFF",
  },
  mysql: {
    server: "mysqld",
    client: "mysql",
    admin: "mysqladmin",
    install:
      'mysqld --defaults-file="$CONFIG_DIR/my.cnf" --initialize-insecure --datadir="$DATA_DIR" "${user_args[@]}" >"$TMP_DIR/install-db.log" 2>&1 || { cat "$TMP_DIR/install-db.log" >&2; exit 1; }',
    operatorGrants: [
      `GRANT ${MYSQL_OPERATOR_PRIVILEGES.join(", ")} ON *.* TO '${OPERATOR_USER}'@'%';`,
      `GRANT ${MYSQL_OPERATOR_DYNAMIC_PRIVILEGES.join(", ")} ON *.* TO '${OPERATOR_USER}'@'%';`,
    ],
    backupGrant: `GRANT ${MYSQL_BACKUP_PRIVILEGES.join(", ")} ON *.* TO '${BACKUP_USER}'@'%';`,
    openForInit: "--read-only=OFF --super-read-only=OFF",
  },
};

const COMMON_HEADER = `set -euo pipefail
DATA_DIR="\${METAMYSQL_DATA_DIR:-/var/lib/mysql}"
CONFIG_DIR="\${METAMYSQL_CONFIG_DIR:-/etc/metamysql}"
RUN_DIR="\${METAMYSQL_RUN_DIR:-/run/mysqld}"
TMP_DIR="\${METAMYSQL_TMP_DIR:-/tmp}"
PORT="\${METAMYSQL_PORT:-3306}"
SOCKET="$RUN_DIR/mysqld.sock"
export PATH="$PATH:/usr/sbin:/usr/local/sbin:/usr/local/mysql/bin"
: "\${POD_NAME:?POD_NAME must be set}"
ORDINAL="\${POD_NAME##*-}"
case "$ORDINAL" in ''|*[!0-9]*) echo "cannot read an ordinal from POD_NAME=$POD_NAME" >&2; exit 1;; esac
SERVER_ID=$((${SERVER_ID_BASE} + ORDINAL))
`;

/** entrypoint.sh for a flavor. */
export function renderEntrypoint(flavor: Flavor, opts: { seed?: boolean } = {}): string {
  const c = COMMANDS[flavor];
  // Seeding from a backup (docs/backups.md): only rendered when the cluster can seed, so the
  // entrypoint of other clusters is unchanged. The dump, the accounts and the GTID position go
  // through ONE client session: the restored mysql schema may change root's password.
  // A fresh data dir of a cluster with backup schedules seeds from the newest complete backup of
  // the cluster (scale-up, re-seed: the primary's binary logs may no longer hold everything),
  // else from initDB.fromBackup, else initializes empty.
  const initStep = opts.seed
    ? `if [ -n "\${METAMYSQL_SEED_SCAN:-}" ] && [ -f "$CONFIG_DIR/seed.sh" ]; then
    latest_seed="$(METAMYSQL_FLAVOR=${flavor} bash "$CONFIG_DIR/seed.sh" latest)" || latest_seed=""
    if [ -n "$latest_seed" ]; then export METAMYSQL_SEED_DIR="$latest_seed"; fi
  fi
  if [ -n "\${METAMYSQL_SEED_DIR:-}" ] && [ -f "$CONFIG_DIR/seed.sh" ]; then
    if ! METAMYSQL_FLAVOR=${flavor} bash "$CONFIG_DIR/seed.sh" check ||
      ! { METAMYSQL_FLAVOR=${flavor} bash "$CONFIG_DIR/seed.sh" sql; seed_accounts; init_sql; METAMYSQL_FLAVOR=${flavor} bash "$CONFIG_DIR/seed.sh" position; } | ${c.client} --protocol=socket --socket="$init_socket" -uroot; then
      log "seeding from the backup in $METAMYSQL_SEED_DIR failed; the data dir will be initialized again"
      kill "$pid" 2>/dev/null || true
      wait "$pid" || true
      exit 1
    fi
    log "seeded from the backup in $METAMYSQL_SEED_DIR"
  else
    init_sql | ${c.client} --protocol=socket --socket="$init_socket" -uroot
  fi`
    : `init_sql | ${c.client} --protocol=socket --socket="$init_socket" -uroot`;
  const seedAccounts = opts.seed
    ? `
# After a restore the accounts exist with the backup's passwords: set this cluster's.
seed_accounts() {
  cat <<SQL
SET SESSION sql_log_bin=0;
CREATE USER IF NOT EXISTS 'root'@'localhost';
CREATE USER IF NOT EXISTS 'root'@'%';
CREATE USER IF NOT EXISTS '${OPERATOR_USER}'@'%';
CREATE USER IF NOT EXISTS '${REPLICATION_USER}'@'%';
ALTER USER 'root'@'%' IDENTIFIED BY $(sql_string "$METAMYSQL_ROOT_PASSWORD");
ALTER USER '${OPERATOR_USER}'@'%' IDENTIFIED BY $(sql_string "$METAMYSQL_OPERATOR_PASSWORD");
ALTER USER '${REPLICATION_USER}'@'%' IDENTIFIED BY $(sql_string "$METAMYSQL_REPLICATION_PASSWORD");
SQL
  backup_account_sql
}
`
    : "";
  return `#!/usr/bin/env bash
# metamysql entrypoint (${flavor}), rendered by the operator. See src/render/scripts.ts.
${COMMON_HEADER}
log() { printf '%s metamysql-entrypoint %s: %s\\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$POD_NAME" "$*" >&2; }
# SQL string literal: backslashes and quotes escaped.
sql_string() { local s="\${1//\\\\/\\\\\\\\}"; s="\${s//\\'/\\\\\\'}"; printf "'%s'" "$s"; }

user_args=()
if [ "$(id -u)" -eq 0 ]; then user_args=(--user=root); fi
mkdir -p "$RUN_DIR" "$TMP_DIR" "$DATA_DIR"
server_args=(--defaults-file="$CONFIG_DIR/my.cnf" --datadir="$DATA_DIR" --pid-file="$RUN_DIR/mysqld.pid" --tmpdir="$TMP_DIR" --server-id="$SERVER_ID" --report-host="$POD_NAME" "\${user_args[@]}")

init_sql() {
  : "\${METAMYSQL_ROOT_PASSWORD:?}" "\${METAMYSQL_OPERATOR_PASSWORD:?}" "\${METAMYSQL_REPLICATION_PASSWORD:?}"
  local root op repl
  root="$(sql_string "$METAMYSQL_ROOT_PASSWORD")"
  op="$(sql_string "$METAMYSQL_OPERATOR_PASSWORD")"
  repl="$(sql_string "$METAMYSQL_REPLICATION_PASSWORD")"
  cat <<SQL
SET SESSION sql_log_bin=0;
DROP USER IF EXISTS ''@'localhost', ''@'$(hostname)';
DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', 'root'@'$(hostname)';
ALTER USER 'root'@'localhost' IDENTIFIED BY $root;
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY $root;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
CREATE USER IF NOT EXISTS '${OPERATOR_USER}'@'%' IDENTIFIED BY $op;
${c.operatorGrants.join("\n")}
CREATE USER IF NOT EXISTS '${REPLICATION_USER}'@'%' IDENTIFIED BY $repl;
GRANT REPLICATION SLAVE ON *.* TO '${REPLICATION_USER}'@'%';
SQL
  backup_account_sql
  echo "FLUSH PRIVILEGES;"
}

# The least-privilege account of backup Jobs (binary log off: the caller's session sets it).
backup_account_sql() {
  : "\${METAMYSQL_BACKUP_PASSWORD:?}"
  local bk; bk="$(sql_string "$METAMYSQL_BACKUP_PASSWORD")"
  cat <<SQL
CREATE USER IF NOT EXISTS '${BACKUP_USER}'@'%' IDENTIFIED BY $bk;
ALTER USER '${BACKUP_USER}'@'%' IDENTIFIED BY $bk;
${c.backupGrant}
SQL
}

# A private server for setup work: no network, this socket only. Sets init_socket and pid.
start_private_server() {
  init_socket="$RUN_DIR/init.sock"
  ${c.server} "\${server_args[@]}" ${c.openForInit} --skip-networking --socket="$init_socket" &
  pid=$!
  local i
  for i in $(seq 1 300); do
    if ${c.admin} --protocol=socket --socket="$init_socket" -uroot ping >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then log "the server died during setup"; exit 1; fi
    sleep 0.2
  done
}

stop_private_server() {
  MYSQL_PWD="$METAMYSQL_ROOT_PASSWORD" ${c.admin} --protocol=socket --socket="$init_socket" -uroot shutdown || kill "$pid" 2>/dev/null || true
  wait "$pid" || true
}

# An instance initialized by an older operator gets the accounts it lacks, once, locally and
# with the binary log off (no GTIDs). A failure is logged and retried on the next start; it
# never keeps the database down (only backups would fail, saying access was denied).
upgrade_accounts() {
  [ -f "$DATA_DIR/.metamysql-accounts-${ACCOUNTS_VERSION}" ] && return 0
  log "adding the accounts of version ${ACCOUNTS_VERSION} (backup account)"
  local init_socket pid
  start_private_server
  if { echo "SET SESSION sql_log_bin=0;"; backup_account_sql; echo "FLUSH PRIVILEGES;"; } |
    MYSQL_PWD="$METAMYSQL_ROOT_PASSWORD" ${c.client} --protocol=socket --socket="$init_socket" -uroot; then
    touch "$DATA_DIR/.metamysql-accounts-${ACCOUNTS_VERSION}"
  else
    log "WARNING: could not add the backup account; backups of this instance will fail until the next start"
  fi
  stop_private_server
}

${seedAccounts}
initialize() {
  log "initializing an empty data directory"
  touch "$DATA_DIR/.metamysql-initializing"
  find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name .metamysql-initializing -exec rm -rf {} +
  ${c.install}
  local init_socket pid
  start_private_server
  ${initStep}
  stop_private_server
  rm -f "$DATA_DIR/.metamysql-initializing"
  touch "$DATA_DIR/.metamysql-accounts-${ACCOUNTS_VERSION}" "$DATA_DIR/.metamysql-initialized"
  log "initialized: accounts root, ${OPERATOR_USER}, ${REPLICATION_USER}, ${BACKUP_USER} created without binary logging"
}

if [ -f "$DATA_DIR/.metamysql-initialized" ]; then
  log "data directory already initialized"
  upgrade_accounts
elif [ -f "$DATA_DIR/.metamysql-initializing" ] || [ -z "$(find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit)" ]; then
  initialize
else
  log "data directory holds data not initialized by metamysql (restored?); starting it as is"
fi

bind_args=()
if [ -n "\${METAMYSQL_BIND_ADDRESS:-}" ]; then bind_args=(--bind-address="$METAMYSQL_BIND_ADDRESS"); fi
log "starting ${c.server} with server_id=$SERVER_ID"
exec ${c.server} "\${server_args[@]}" --socket="$SOCKET" --port="$PORT" "\${bind_args[@]}"
`;
}

/** probe.sh for a flavor: `readiness`, `liveness` or `prestop`. */
export function renderProbe(flavor: Flavor): string {
  const c = COMMANDS[flavor];
  return `#!/usr/bin/env bash
# metamysql probes (${flavor}), rendered by the operator. See src/render/scripts.ts.
${COMMON_HEADER}
query() {
  MYSQL_PWD="\${METAMYSQL_OPERATOR_PASSWORD:-}" ${c.client} --protocol=socket --socket="$SOCKET" -u${OPERATOR_USER} \\
    --connect-timeout=2 -N -B -e "$1"
}

case "\${1:-}" in
  readiness)
    # Ready = the server answers the operator account and has this pod's identity.
    id="$(query 'SELECT @@server_id')" || exit 1
    [ "$id" = "$SERVER_ID" ] || { echo "server_id is $id, expected $SERVER_ID" >&2; exit 1; }
    ;;
  liveness)
    # Alive = the server process answers at all (even "access denied" proves that).
    ${c.admin} --protocol=socket --socket="$SOCKET" --connect-timeout=2 ping >/dev/null 2>&1 || exit 1
    ;;
  prestop)
    # Give the operator time to move the primary away: wait until this instance is read-only
    # (replicas are already), at most ${PRESTOP_WAIT_SECONDS}s; never block a server that is down.
    for _ in $(seq 1 ${PRESTOP_WAIT_SECONDS}); do
      ro="$(query 'SELECT @@global.read_only' 2>/dev/null)" || exit 0
      [ "$ro" = "1" ] && exit 0
      sleep 1
    done
    ;;
  *)
    echo "usage: probe.sh readiness|liveness|prestop" >&2
    exit 2
    ;;
esac
`;
}
