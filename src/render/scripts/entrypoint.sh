#!/usr/bin/env bash
# metamysql entrypoint of the database container (ARCHITECTURE.md section 3): initialize an empty
# data dir, create the root, operator, replication and backup accounts (accounts.sh) with the
# binary log off (no GTIDs on a fresh instance), then exec the server with its per-pod identity
# (server_id = METAMYSQL_SERVER_ID_BASE + ordinal, report_host = pod name).
# A fresh data dir of a cluster that can seed (docs/backups.md: seed.sh is in the ConfigMap and
# METAMYSQL_SEED_SCAN / METAMYSQL_SEED_DIR are set) seeds from the newest complete backup of the
# cluster (scale-up, re-seed: the primary's binary logs may no longer hold everything), else from
# initDB.fromBackup, else initializes empty.
# shellcheck source=SCRIPTDIR/instance.sh
. "$(dirname "${BASH_SOURCE[0]}")/instance.sh"

# Version of the account set (accounts.sh). An instance initialized by an older operator (no
# marker `.metamysql-accounts-<N>`) gets the missing accounts on its next start (see
# `upgrade_accounts`). 2: the backup account.
ACCOUNTS_VERSION=2

log() { printf '%s metamysql-entrypoint %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$POD_NAME" "$*" >&2; }
accounts() { bash "$CONFIG_DIR/accounts.sh" "$@"; }
seed() { bash "$CONFIG_DIR/seed.sh" "$@"; }

user_args=()
if [ "$(id -u)" -eq 0 ]; then user_args=(--user=root); fi
mkdir -p "$RUN_DIR" "$TMP_DIR" "$DATA_DIR"
server_args=(--defaults-file="$CONFIG_DIR/my.cnf" --datadir="$DATA_DIR" --pid-file="$RUN_DIR/mysqld.pid" --tmpdir="$TMP_DIR" --server-id="$SERVER_ID" --report-host="$POD_NAME" "${user_args[@]}")
# The private setup server may write (the instance itself starts read-only).
if [ "$FLAVOR" = mysql ]; then open_for_init=(--read-only=OFF --super-read-only=OFF); else open_for_init=(--read-only=OFF); fi

install_db() {
  if [ "$FLAVOR" = mysql ]; then
    mysqld --defaults-file="$CONFIG_DIR/my.cnf" --initialize-insecure --datadir="$DATA_DIR" "${user_args[@]}" >"$TMP_DIR/install-db.log" 2>&1 || { cat "$TMP_DIR/install-db.log" >&2; exit 1; }
  else
    mariadb-install-db --defaults-file="$CONFIG_DIR/my.cnf" --datadir="$DATA_DIR" --auth-root-authentication-method=normal --skip-test-db "${user_args[@]}" >"$TMP_DIR/install-db.log" 2>&1 || { cat "$TMP_DIR/install-db.log" >&2; exit 1; }
  fi
}

# A private server for setup work: no network, this socket only. Sets init_socket and pid.
start_private_server() {
  init_socket="$RUN_DIR/init.sock"
  "$SERVER" "${server_args[@]}" "${open_for_init[@]}" --skip-networking --socket="$init_socket" &
  pid=$!
  for _ in $(seq 1 300); do
    if "$ADMIN" --protocol=socket --socket="$init_socket" -uroot ping >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then log "the server died during setup"; exit 1; fi
    sleep 0.2
  done
}

stop_private_server() {
  MYSQL_PWD="$METAMYSQL_ROOT_PASSWORD" "$ADMIN" --protocol=socket --socket="$init_socket" -uroot shutdown || kill "$pid" 2>/dev/null || true
  wait "$pid" || true
}

# An instance initialized by an older operator gets the accounts it lacks, once, locally and
# with the binary log off (no GTIDs). A failure is logged and retried on the next start; it
# never keeps the database down (only backups would fail, saying access was denied).
upgrade_accounts() {
  [ -f "$DATA_DIR/.metamysql-accounts-$ACCOUNTS_VERSION" ] && return 0
  log "adding the accounts of version $ACCOUNTS_VERSION (backup account)"
  local init_socket pid
  start_private_server
  if accounts upgrade | MYSQL_PWD="$METAMYSQL_ROOT_PASSWORD" "$CLIENT" --protocol=socket --socket="$init_socket" -uroot; then
    touch "$DATA_DIR/.metamysql-accounts-$ACCOUNTS_VERSION"
  else
    log "WARNING: could not add the backup account; backups of this instance will fail until the next start"
  fi
  stop_private_server
}

# The accounts (and, when the cluster seeds, the backup's data) into the private server.
# Seeding: the dump, the accounts and the GTID position go through ONE client session (the
# restored mysql schema may change root's password).
init_data() {
  if [ -n "${METAMYSQL_SEED_SCAN:-}" ] && [ -f "$CONFIG_DIR/seed.sh" ]; then
    latest_seed="$(seed latest)" || latest_seed=""
    if [ -n "$latest_seed" ]; then export METAMYSQL_SEED_DIR="$latest_seed"; fi
  fi
  if [ -n "${METAMYSQL_SEED_DIR:-}" ] && [ -f "$CONFIG_DIR/seed.sh" ]; then
    if ! seed check ||
      ! { seed sql; accounts seed; accounts init; seed position; } | "$CLIENT" --protocol=socket --socket="$init_socket" -uroot; then
      log "seeding from the backup in $METAMYSQL_SEED_DIR failed; the data dir will be initialized again"
      kill "$pid" 2>/dev/null || true
      wait "$pid" || true
      exit 1
    fi
    log "seeded from the backup in $METAMYSQL_SEED_DIR"
  else
    accounts init | "$CLIENT" --protocol=socket --socket="$init_socket" -uroot
  fi
}

initialize() {
  log "initializing an empty data directory"
  touch "$DATA_DIR/.metamysql-initializing"
  find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name .metamysql-initializing -exec rm -rf {} +
  install_db
  local init_socket pid
  start_private_server
  init_data
  stop_private_server
  rm -f "$DATA_DIR/.metamysql-initializing"
  touch "$DATA_DIR/.metamysql-accounts-$ACCOUNTS_VERSION" "$DATA_DIR/.metamysql-initialized"
  log "initialized: accounts root, $OPERATOR_USER, ${METAMYSQL_REPLICATION_USER:-}, ${METAMYSQL_BACKUP_USER:-} created without binary logging"
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
if [ -n "${METAMYSQL_BIND_ADDRESS:-}" ]; then bind_args=(--bind-address="$METAMYSQL_BIND_ADDRESS"); fi
log "starting $SERVER with server_id=$SERVER_ID"
exec "$SERVER" "${server_args[@]}" --socket="$SOCKET" --port="$PORT" "${bind_args[@]}"
