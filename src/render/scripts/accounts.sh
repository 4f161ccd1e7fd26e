#!/usr/bin/env bash
# metamysql accounts: prints the SQL that converges the accounts of an instance to the cluster's
# Secret, the ONE definition of the accounts and their privileges (production: entrypoint.sh, on
# every start; tests: test/helpers/mariadb.ts and test/integration/accounts-script.test.ts run
# this same file). Idempotent: it creates what is missing, sets every password to the Secret's,
# and sets each account's privileges to exactly those below (REVOKE ALL, then GRANT). Runs with
# the binary log off so no instance holds GTIDs of its own (mysql-field-notes.md), on the
# private init server (no network, socket only: entrypoint.sh).
#   accounts.sh converge  root, operator, replication, backup and apps accounts
#   accounts.sh service   operator, replication and backup accounts only (root untouched)
# Both also converge the probes' account 'metamysql_probe'@'localhost' (no privilege) when the
# credentials dir holds a probe-password (entrypoint.sh makes a new one at each start).
# Settings: METAMYSQL_FLAVOR, METAMYSQL_REMOTE_ROOT (spec.remoteRoot) and
# METAMYSQL_{OPERATOR,REPLICATION,BACKUP}_USER from settings.env next to this script
# (src/api/settings.ts). Passwords: files in METAMYSQL_CREDENTIALS_DIR named root-password,
# operator-password, replication-password, backup-password (only those the mode needs), never the
# environment. Nothing here prints a password anywhere but into the SQL on stdout.
set -euo pipefail
# A failure inside $(...) (a missing password) fails the whole script.
shopt -s inherit_errexit
# shellcheck source=/dev/null
. "$(dirname "${BASH_SOURCE[0]}")/settings.env"
FLAVOR="${METAMYSQL_FLAVOR:?METAMYSQL_FLAVOR must be set (mysql or mariadb)}"
OPERATOR_USER="${METAMYSQL_OPERATOR_USER:?METAMYSQL_OPERATOR_USER must be set}"
REPLICATION_USER="${METAMYSQL_REPLICATION_USER:?METAMYSQL_REPLICATION_USER must be set}"
BACKUP_USER="${METAMYSQL_BACKUP_USER:?METAMYSQL_BACKUP_USER must be set}"
PROBE_USER="${METAMYSQL_PROBE_USER:-metamysql_probe}"
APPS_USER="${METAMYSQL_APPS_USER:-metamysql_apps}"
REMOTE_ROOT="${METAMYSQL_REMOTE_ROOT:-false}"
CREDENTIALS_DIR="${METAMYSQL_CREDENTIALS_DIR:?METAMYSQL_CREDENTIALS_DIR must be set}"

# Least privilege of the operator account: what src/mysql/*.ts runs, nothing more (docs/clustering.md
# "Accounts" lists it per statement). One GRANT per line.
# MariaDB 10.11: PROCESS (information_schema.PROCESSLIST of every user), RELOAD (RESET SLAVE ALL:
# checked, 10.11 refuses it without), SLAVE MONITOR (SHOW SLAVE STATUS), REPLICATION SLAVE ADMIN (CHANGE MASTER, START/STOP/RESET SLAVE,
# rpl_semi_sync_slave_enabled), REPLICATION MASTER ADMIN (rpl_semi_sync_master_*), READ_ONLY ADMIN
# (SET GLOBAL read_only), CONNECTION ADMIN (KILL other users' connections; connecting when
# max_connections is reached).
# MySQL 8.4: PROCESS + SELECT on performance_schema (performance_schema.processlist), REPLICATION
# CLIENT (SHOW REPLICA STATUS), RELOAD (RESET REPLICA ALL), SYSTEM_VARIABLES_ADMIN (read_only,
# super_read_only, semi-sync globals), REPLICATION_SLAVE_ADMIN (CHANGE REPLICATION SOURCE,
# START/STOP REPLICA), CONNECTION_ADMIN (as above).
# Variables (@@gtid_*, @@read_only), SHOW GLOBAL VARIABLES/STATUS, MASTER_GTID_WAIT and
# WAIT_FOR_EXECUTED_GTID_SET need no privilege.
# The apps account (MySQLDatabase and MySQLUser: docs/app-objects.md, src/mysql/app-objects.ts),
# used by those hooks only, on the primary only, with a password only they and the database pods
# get (Secret <c>-apps-credentials): CREATE USER (create, alter, drop
# accounts), and the schema/table privileges a MySQLUser may be granted, WITH GRANT OPTION
# (only an account holding a privilege can grant it; without partial revokes, which MariaDB
# lacks, that means on *.*). The same list as grantablePrivileges() there. Kept apart from the
# operator account, which every sync uses on every instance and which can neither read data
# nor manage accounts.
# The backup account: what the dump needs (mariadb-dump --single-transaction --gtid
# --master-data=2, mysqldump --single-transaction --source-data=2 --set-gtid-purged=ON
# --no-tablespaces; --all-databases --routines --events --triggers), plus SHOW SLAVE|REPLICA
# STATUS to choose the source: no replication control (the dump never stops a replica's
# applier), no SUPER. MariaDB also PROCESS: the agent sidecar's physical copy (mariadb-backup
# --backup needs RELOAD, PROCESS, LOCK TABLES, BINLOG MONITOR; src/agent/server.ts).
APP_PRIVILEGES="SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, REFERENCES, INDEX, ALTER, CREATE TEMPORARY TABLES, LOCK TABLES, CREATE VIEW, SHOW VIEW, CREATE ROUTINE, ALTER ROUTINE, EXECUTE, EVENT, TRIGGER"
case "$FLAVOR" in
  mariadb)
    OPERATOR_GRANTS=("PROCESS, RELOAD, SLAVE MONITOR, REPLICATION SLAVE ADMIN, REPLICATION MASTER ADMIN, READ_ONLY ADMIN, CONNECTION ADMIN ON *.*")
    APPS_GRANTS=("CREATE USER ON *.*" "$APP_PRIVILEGES, DELETE HISTORY ON *.* WITH GRANT OPTION")
    BACKUP_PRIVILEGES="SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, PROCESS, BINLOG MONITOR, SLAVE MONITOR"
    ;;
  mysql)
    OPERATOR_GRANTS=(
      "PROCESS, REPLICATION CLIENT, RELOAD ON *.*"
      "SYSTEM_VARIABLES_ADMIN, REPLICATION_SLAVE_ADMIN, CONNECTION_ADMIN ON *.*"
      "SELECT ON performance_schema.*"
    )
    APPS_GRANTS=("CREATE USER ON *.*" "$APP_PRIVILEGES ON *.* WITH GRANT OPTION")
    BACKUP_PRIVILEGES="SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, REPLICATION CLIENT"
    ;;
  *) echo "unknown METAMYSQL_FLAVOR=$FLAVOR (mysql or mariadb)" >&2; exit 1;;
esac
case "$REMOTE_ROOT" in true|false) ;; *) echo "METAMYSQL_REMOTE_ROOT=$REMOTE_ROOT (true or false)" >&2; exit 1;; esac

# SQL string literal: backslashes and quotes escaped. That escaping means what it says only
# while the session's sql_mode lacks NO_BACKSLASH_ESCAPES (a user's mysqlConfig.sql_mode may
# set it, and a restored dump may change the session's): every mode's SQL starts with
# SESSION_SQL_MODE, which removes it and keeps the rest. Hex literals would not depend on the
# mode, but IDENTIFIED BY takes only a quoted string (MariaDB 10.11 rejects 0x.. and X'..'
# there: checked). The same statement as unsafeSqlModeFix in src/mysql/sql/escape.ts.
sql_string() { local s="${1//\\/\\\\}"; s="${s//\'/\\\'}"; printf "'%s'" "$s"; }
SESSION_SQL_MODE="SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','));"

# A password as a SQL literal, from its file (a missing or empty file fails the script).
password() {
  local file="$CREDENTIALS_DIR/$1" value
  [ -s "$file" ] || { echo "accounts.sh: no $1 in $CREDENTIALS_DIR" >&2; return 1; }
  value="$(cat "$file")"
  sql_string "$value"
}

# An account with exactly this password and these grants (each "PRIVILEGES ON target").
account() {
  local user="$1" pw="$2"; shift 2
  local grant
  cat <<SQL
CREATE USER IF NOT EXISTS $user IDENTIFIED BY $pw;
ALTER USER $user IDENTIFIED BY $pw;
REVOKE ALL PRIVILEGES, GRANT OPTION FROM $user;
SQL
  # "... WITH GRANT OPTION" entries: the option goes after TO.
  for grant in "$@"; do
    case "$grant" in
      *" WITH GRANT OPTION") echo "GRANT ${grant% WITH GRANT OPTION} TO $user WITH GRANT OPTION;";;
      *) echo "GRANT $grant TO $user;";;
    esac
  done
}

# Root: administration from inside the pod only (socket), unless spec.remoteRoot: no anonymous or
# host-bound root accounts; root@'%' exists only while remote root is on.
root_sql() {
  local root; root="$(password root-password)"
  cat <<SQL
DROP USER IF EXISTS ''@'localhost', ''@'$(hostname)';
DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', 'root'@'$(hostname)';
CREATE USER IF NOT EXISTS 'root'@'localhost' IDENTIFIED BY $root;
ALTER USER 'root'@'localhost' IDENTIFIED BY $root;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'localhost' WITH GRANT OPTION;
SQL
  if [ "$REMOTE_ROOT" = true ]; then
    cat <<SQL
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY $root;
ALTER USER 'root'@'%' IDENTIFIED BY $root;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
SQL
  else
    echo "DROP USER IF EXISTS 'root'@'%';"
  fi
}

# The operator's, the replication and the backup account.
service_sql() {
  local op repl bk
  op="$(password operator-password)"
  repl="$(password replication-password)"
  bk="$(password backup-password)"
  account "'$OPERATOR_USER'@'%'" "$op" "${OPERATOR_GRANTS[@]}"
  account "'$REPLICATION_USER'@'%'" "$repl" "REPLICATION SLAVE ON *.*"
  account "'$BACKUP_USER'@'%'" "$bk" "$BACKUP_PRIVILEGES ON *.*"
  apps_sql
  probe_sql
}

# The apps account, when its password is there (a Secret rendered before it existed has none:
# the account then waits for the pod's next start).
apps_sql() {
  [ -s "$CREDENTIALS_DIR/apps-password" ] || return 0
  local pw; pw="$(password apps-password)"
  account "'$APPS_USER'@'%'" "$pw" "${APPS_GRANTS[@]}"
}

# The probes' account: from inside the pod only (socket), no privilege at all (reading
# @@server_id and @@read_only needs none), this start's random password. Probes so never use a
# password from the Secret, which the operator rotates online (docs/clustering.md).
probe_sql() {
  [ -s "$CREDENTIALS_DIR/probe-password" ] || return 0
  local pw; pw="$(password probe-password)"
  account "'$PROBE_USER'@'localhost'" "$pw"
}

# Print the whole SQL only once every part succeeded (a missing password prints nothing).
# FLUSH PRIVILEGES first: on a server started with --skip-grant-tables (the entrypoint's private
# server) it loads the grant tables, which account statements need; elsewhere it is harmless.
sql="$(
  echo "$SESSION_SQL_MODE"
  echo "SET SESSION sql_log_bin=0;"
  echo "FLUSH PRIVILEGES;"
  case "${1:-}" in
    converge) root_sql; service_sql;;
    service) service_sql;;
    *) echo "usage: accounts.sh converge|service" >&2; exit 2;;
  esac
  echo "FLUSH PRIVILEGES;"
)"
printf '%s\n' "$sql"
