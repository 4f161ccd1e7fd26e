#!/usr/bin/env bash
# metamysql entrypoint of the database container (ARCHITECTURE.md section 3): initialize an empty
# data dir, converge the root, operator, replication and backup accounts to the cluster's Secret
# (accounts.sh) on every start, with the binary log off (no GTIDs of its own), on a private server
# without networking, then exec the server with its per-pod identity (server_id =
# METAMYSQL_SERVER_ID_BASE + ordinal, report_host = pod name). Converging on every start makes the
# Secret the source of truth: a cluster re-created on its retained volumes with a new Secret (or
# after losing the generated one) starts with the Secret's passwords (docs/clustering.md
# "Accounts").
# Passwords come from the mounted Secret files (METAMYSQL_CREDENTIALS_DIR, METAMYSQL_BACKUP_CREDENTIALS_DIR),
# copied once at start into a private dir that the probes read (instance.sh); none is ever in an
# environment variable, so the server's process environment holds none.
# A fresh data dir of a cluster that can seed (docs/backups.md: seed.sh is in the ConfigMap and
# METAMYSQL_SEED_SCAN / METAMYSQL_SEED_DIR are set) seeds from the newest complete backup of the
# cluster (scale-up, re-seed: the primary's binary logs may no longer hold everything), else from
# initDB.fromBackup, else initializes empty.
# A data dir cloned by the agent's init step (`metamysql agent clone`, src/agent/clone.ts: a
# prepared physical copy of a donor and the marker .metamysql-cloned holding its GTID position)
# is finished here: accounts converged to the Secret, the binlog state and gtid_slave_pos set to
# the copy's position (the binary logs are not part of the copy), then it starts as a replica-to-be.
# shellcheck source=SCRIPTDIR/instance.sh
. "$(dirname "${BASH_SOURCE[0]}")/instance.sh"

log() { printf '%s metamysql-entrypoint %s: %s\n' "$(date -u +%Y-%m-%dT%H:%M:%SZ)" "$POD_NAME" "$*" >&2; }
accounts() { METAMYSQL_CREDENTIALS_DIR="$APPLIED_CREDENTIALS_DIR" bash "$CONFIG_DIR/accounts.sh" "$@"; }
seed() { bash "$CONFIG_DIR/seed.sh" "$@"; }

user_args=()
if [ "$(id -u)" -eq 0 ]; then user_args=(--user=root); fi
mkdir -p "$RUN_DIR" "$TMP_DIR" "$DATA_DIR"
server_args=(--defaults-file="$CONFIG_DIR/my.cnf" --datadir="$DATA_DIR" --pid-file="$RUN_DIR/mysqld.pid" --tmpdir="$TMP_DIR" --server-id="$SERVER_ID" --report-host="$POD_NAME" "${user_args[@]}")
# The private setup server may write (the instance itself starts read-only).
if [ "$FLAVOR" = mysql ]; then open_for_init=(--read-only=OFF --super-read-only=OFF); else open_for_init=(--read-only=OFF); fi

# The bootstrap server gets this pod's tmpdir too: a starting server deletes every "#sql*" file in
# its tmpdir, which in a shared /tmp would be another server's temporary tables.
install_db() {
  if [ "$FLAVOR" = mysql ]; then
    mysqld --defaults-file="$CONFIG_DIR/my.cnf" --initialize-insecure --datadir="$DATA_DIR" --tmpdir="$TMP_DIR" "${user_args[@]}" >"$TMP_DIR/install-db.log" 2>&1 || { cat "$TMP_DIR/install-db.log" >&2; exit 1; }
  else
    mariadb-install-db --defaults-file="$CONFIG_DIR/my.cnf" --datadir="$DATA_DIR" --tmpdir="$TMP_DIR" --auth-root-authentication-method=normal --skip-test-db "${user_args[@]}" >"$TMP_DIR/install-db.log" 2>&1 || { cat "$TMP_DIR/install-db.log" >&2; exit 1; }
  fi
}

# The passwords of this start: the Secret files as mounted now, copied into a private dir of the
# run volume (0700, the probes read them there: instance.sh), so the accounts converged here and
# the probes' password stay one set even if the Secret changes before the next start.
# A pod of an older pod template (passwords in its environment, no Secret volumes) that restarts
# during the rollout to this version takes them from there; the server inherits none (unset below).
snapshot_credentials() {
  local key new="$APPLIED_CREDENTIALS_DIR.new"
  rm -rf "$new"
  (umask 077 && mkdir -p "$new")
  if [ ! -d "$CREDENTIALS_DIR" ] && [ -n "${METAMYSQL_ROOT_PASSWORD:-}" ]; then
    (
      umask 077
      printf '%s' "$METAMYSQL_ROOT_PASSWORD" >"$new/root-password"
      printf '%s' "${METAMYSQL_OPERATOR_PASSWORD:-}" >"$new/operator-password"
      printf '%s' "${METAMYSQL_REPLICATION_PASSWORD:-}" >"$new/replication-password"
      printf '%s' "${METAMYSQL_BACKUP_PASSWORD:-}" >"$new/backup-password"
    )
  else
    for key in root-password operator-password replication-password; do
      [ -s "$CREDENTIALS_DIR/$key" ] || { log "the credentials Secret has no $key"; exit 1; }
      (umask 077 && cp "$CREDENTIALS_DIR/$key" "$new/$key")
    done
    [ -s "$BACKUP_CREDENTIALS_DIR/password" ] || { log "the backup credentials Secret has no password"; exit 1; }
    (umask 077 && cp "$BACKUP_CREDENTIALS_DIR/password" "$new/backup-password")
    # The apps account's (MySQLDatabase/MySQLUser hooks); absent in a pod rendered before it existed.
    if [ -s "$APPS_CREDENTIALS_DIR/password" ]; then (umask 077 && cp "$APPS_CREDENTIALS_DIR/password" "$new/apps-password"); fi
  fi
  # The probes' own password (accounts.sh probe_sql): 128 random bits in hex, made once per pod
  # and kept in the run volume for the pod's life, so a restarted container converges the same
  # SQL as before (accounts_unchanged can skip the private server) and its probes keep working.
  if [ ! -s "$RUN_DIR/probe-secret" ]; then
    (umask 077 && od -An -N16 -tx1 /dev/urandom | tr -d ' \n' >"$RUN_DIR/probe-secret.new" && mv "$RUN_DIR/probe-secret.new" "$RUN_DIR/probe-secret")
  fi
  (umask 077 && cp "$RUN_DIR/probe-secret" "$new/probe-password")
  rm -rf "$APPLIED_CREDENTIALS_DIR"
  mv "$new" "$APPLIED_CREDENTIALS_DIR"
}

# A private server for setup work: no network, this socket only, and no grant tables until
# accounts.sh loads them (FLUSH PRIVILEGES): whatever passwords the data dir holds (a re-created
# cluster on its retained volumes, a lost Secret), the accounts can be set to the Secret's. Sets
# init_socket and pid.
start_private_server() {
  init_socket="$RUN_DIR/init.sock"
  "$SERVER" "${server_args[@]}" "${open_for_init[@]}" --skip-networking --skip-grant-tables --socket="$init_socket" &
  pid=$!
  for _ in $(seq 1 300); do
    if "$ADMIN" --protocol=socket --socket="$init_socket" -uroot ping >/dev/null 2>&1; then return 0; fi
    if ! kill -0 "$pid" 2>/dev/null; then log "the server died during setup"; exit 1; fi
    sleep 0.2
  done
  log "the private setup server did not answer"
  kill "$pid" 2>/dev/null || true
  wait "$pid" || true
  exit 1
}

# SIGTERM is a clean shutdown; no account needed (the grant tables may be loaded by now).
stop_private_server() {
  kill -TERM "$pid" 2>/dev/null || true
  wait "$pid" || true
}

# What the accounts were last converged to: a salted SHA-256 of the converge SQL (passwords,
# privileges, settings), in the data dir (0600) next to mysql.user, whose password hashes say more.
ACCOUNTS_STAMP="$DATA_DIR/.metamysql-accounts"
accounts_digest() { # SALT: prints SALT:sha256(SALT + the converge SQL)
  local sql
  sql="$(accounts converge)" || return 1
  printf '%s:%s\n' "$1" "$(printf '%s%s' "$1" "$sql" | sha256sum | cut -d' ' -f1)"
}
stamp_accounts() {
  local digest
  digest="$(accounts_digest "$(head -c 16 /dev/urandom | od -An -tx1 | tr -d ' \n')")" || return 0
  (umask 077 && printf '%s\n' "$digest" >"$ACCOUNTS_STAMP.new" && mv "$ACCOUNTS_STAMP.new" "$ACCOUNTS_STAMP")
}
# True when the accounts were converged to exactly this SQL already (a restart with an unchanged
# Secret): the private server (a second crash recovery, 1.5-2 s) is skipped, so a restarted
# primary is back that much sooner.
accounts_unchanged() {
  local stamp
  [ -f "$ACCOUNTS_STAMP" ] || return 1
  stamp="$(cat "$ACCOUNTS_STAMP")"
  [ "$(accounts_digest "${stamp%%:*}")" = "$stamp" ]
}

# Every start of an initialized data dir: the accounts as the Secret says, locally, binary log off
# (unless they already are). A failure keeps the server down (it would only answer "access
# denied"); the pod restarts.
converge_accounts() {
  local init_socket pid
  if accounts_unchanged; then
    log "accounts already converged to the credentials Secret"
    return 0
  fi
  rm -f "$ACCOUNTS_STAMP"
  start_private_server
  if ! accounts converge | "$CLIENT" --protocol=socket --socket="$init_socket" -uroot; then
    log "could not converge the accounts to the credentials Secret"
    stop_private_server
    exit 1
  fi
  stop_private_server
  stamp_accounts
  log "accounts converged to the credentials Secret without binary logging"
}

# The accounts (and, when the cluster seeds, the backup's data) into the private server.
# Seeding: the dump, the accounts and the GTID position go through ONE client session (the
# restored mysql schema replaces the accounts; accounts.sh sets this cluster's right after).
init_data() {
  if [ -n "${METAMYSQL_SEED_SCAN:-}" ] && [ -f "$CONFIG_DIR/seed.sh" ]; then
    latest_seed="$(seed latest)" || latest_seed=""
    if [ -n "$latest_seed" ]; then export METAMYSQL_SEED_DIR="$latest_seed"; fi
  fi
  if [ -n "${METAMYSQL_SEED_DIR:-}" ] && [ -f "$CONFIG_DIR/seed.sh" ]; then
    if ! seed check ||
      ! { seed sql; accounts converge; seed position; } | "$CLIENT" --protocol=socket --socket="$init_socket" -uroot; then
      log "seeding from the backup in $METAMYSQL_SEED_DIR failed; the data dir will be initialized again"
      stop_private_server
      exit 1
    fi
    log "seeded from the backup in $METAMYSQL_SEED_DIR"
  else
    accounts converge | "$CLIENT" --protocol=socket --socket="$init_socket" -uroot
  fi
}

initialize() {
  log "initializing an empty data directory"
  touch "$DATA_DIR/.metamysql-initializing"
  find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name .metamysql-initializing ! -name .metamysql-saved -exec rm -rf {} +
  install_db
  local init_socket pid
  start_private_server
  init_data
  stop_private_server
  stamp_accounts
  rm -f "$DATA_DIR/.metamysql-initializing"
  touch "$DATA_DIR/.metamysql-initialized"
  log "initialized: accounts root, $OPERATOR_USER, ${METAMYSQL_REPLICATION_USER:-}, ${METAMYSQL_BACKUP_USER:-} created without binary logging"
}

# A prepared physical copy from a donor (the clone init step): the same accounts and position
# statements as a logical seed (seed.sh position), on the copy's own data.
finish_clone() {
  local gtid donor state init_socket pid
  gtid="$(sed -n 1p "$DATA_DIR/.metamysql-cloned")"
  donor="$(sed -n 2p "$DATA_DIR/.metamysql-cloned")"
  # The binary log state: the donor's history up to the copy's position (src/agent/clone.ts
  # cloneBinlogState); the position alone when the marker has none.
  state="$(sed -n 3p "$DATA_DIR/.metamysql-cloned")"
  if ! [[ "$state" =~ ^[0-9]+-[0-9]+-[0-9]+(,[0-9]+-[0-9]+-[0-9]+)*$ ]]; then state="$gtid"; fi
  # This goes into SQL: a MariaDB GTID list or nothing.
  if ! [[ "$gtid" =~ ^([0-9]+-[0-9]+-[0-9]+(,[0-9]+-[0-9]+-[0-9]+)*)?$ ]]; then
    log "the cloned data dir's GTID position is malformed; initializing again"
    rm -f "$DATA_DIR/.metamysql-cloned"
    touch "$DATA_DIR/.metamysql-initializing"
    initialize
    return
  fi
  log "finishing the physical copy cloned from $donor (gtid $gtid)"
  start_private_server
  if ! {
    accounts converge
    echo "SET SESSION sql_log_bin=0;"
    if [ "$FLAVOR" = mariadb ] && [ -n "$gtid" ]; then
      echo "RESET MASTER;"
      echo "SET GLOBAL gtid_binlog_state='$state';"
      echo "SET GLOBAL gtid_slave_pos='$gtid';"
    fi
  } | "$CLIENT" --protocol=socket --socket="$init_socket" -uroot; then
    log "could not finish the cloned data dir; it will be initialized again"
    stop_private_server
    rm -f "$DATA_DIR/.metamysql-cloned"
    touch "$DATA_DIR/.metamysql-initializing"
    exit 1
  fi
  stop_private_server
  rm -f "$DATA_DIR/.metamysql-cloned"
  touch "$DATA_DIR/.metamysql-initialized"
  log "cloned from $donor: accounts converged, replication position $gtid"
}

# Automatic rebuild (docs/clustering.md "Automatic rebuild"; src/agent/rebuild.ts): the agent saved
# this instance's extra transactions to .metamysql-saved/ and wrote .metamysql-rebuild; the liveness
# probe stopped the server. The data dir is moved aside (kept until the clone succeeded), the
# agent sidecar clones into the emptied data dir (it has the tools and Node.js; this container may
# not), then finish_clone runs as for any clone. When no donor works the old data is put back and
# the instance starts as it was (still errant; the operator asks again later).
REBUILD_MARKER="$DATA_DIR/.metamysql-rebuild"
REBUILD_READY="$DATA_DIR/.metamysql-rebuild-ready"
REBUILD_FAILED="$DATA_DIR/.metamysql-rebuild-failed"
REBUILD_OLD="$DATA_DIR/.metamysql-rebuild-old"
rebuild_keep() { find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name lost+found ! -name .metamysql-saved ! -name .metamysql-rebuild ! -name .metamysql-rebuild-ready ! -name .metamysql-rebuild-failed ! -name .metamysql-rebuild-old "$@"; }
rebuild() {
  local waited=0
  if [ ! -f "$REBUILD_READY" ] && [ ! -f "$DATA_DIR/.metamysql-cloned" ]; then
    log "rebuilding: moving the data directory aside (saved transactions: $(cat "$REBUILD_MARKER"))"
    mkdir -p "$REBUILD_OLD"
    rebuild_keep -exec mv -t "$REBUILD_OLD" {} +
    touch "$REBUILD_READY"
  fi
  log "rebuilding: waiting for the agent to clone a donor"
  while [ -f "$REBUILD_READY" ]; do
    sleep 1
    waited=$((waited + 1))
    if [ $((waited % 60)) -eq 0 ]; then log "rebuilding: still waiting for the agent's clone (${waited}s)"; fi
  done
  if [ -f "$DATA_DIR/.metamysql-cloned" ] && [ ! -f "$REBUILD_FAILED" ]; then
    rm -rf "$REBUILD_OLD"
    rm -f "$REBUILD_MARKER"
    log "rebuilt by clone; the old data directory is removed, the saved transactions kept in $DATA_DIR/.metamysql-saved"
    return 0
  fi
  log "rebuilding failed (no donor could be cloned): putting the old data directory back"
  rebuild_keep -exec rm -rf {} +
  find "$REBUILD_OLD" -mindepth 1 -maxdepth 1 -exec mv -t "$DATA_DIR" {} +
  rmdir "$REBUILD_OLD"
  rm -f "$REBUILD_FAILED" "$REBUILD_MARKER"
}

snapshot_credentials
unset METAMYSQL_ROOT_PASSWORD METAMYSQL_OPERATOR_PASSWORD METAMYSQL_REPLICATION_PASSWORD METAMYSQL_BACKUP_PASSWORD MYSQL_PWD
if [ -f "$REBUILD_MARKER" ]; then rebuild; fi
if [ -f "$DATA_DIR/.metamysql-initialized" ]; then
  log "data directory already initialized"
  converge_accounts
elif [ -f "$DATA_DIR/.metamysql-cloned" ]; then
  finish_clone
elif [ -f "$DATA_DIR/.metamysql-initializing" ] || [ -z "$(find "$DATA_DIR" -mindepth 1 -maxdepth 1 ! -name lost+found -print -quit)" ]; then
  initialize
else
  log "data directory holds data not initialized by metamysql (restored?); starting it as is"
fi

bind_args=()
if [ -n "${METAMYSQL_BIND_ADDRESS:-}" ]; then bind_args=(--bind-address="$METAMYSQL_BIND_ADDRESS"); fi
log "starting $SERVER with server_id=$SERVER_ID"
exec "$SERVER" "${server_args[@]}" --socket="$SOCKET" --port="$PORT" "${bind_args[@]}"
