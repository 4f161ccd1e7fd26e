#!/usr/bin/env bash
# metamysql accounts: prints the SQL that creates the accounts of an instance, the ONE definition
# of the accounts and their privileges (production: entrypoint.sh; tests: test/helpers/mariadb.ts
# and test/integration/accounts-script.test.ts run this same file). Created with the binary log
# off so a fresh instance holds no GTIDs of its own (mysql-field-notes.md).
#   accounts.sh init      a fresh data dir: root (local and remote), operator, replication, backup
#   accounts.sh service   operator, replication and backup accounts only (root untouched)
#   accounts.sh upgrade   the accounts added since version 1 (the backup account)
#   accounts.sh seed      after a restore: this cluster's passwords on the restored accounts
# Settings: METAMYSQL_FLAVOR and METAMYSQL_{OPERATOR,REPLICATION,BACKUP}_USER from settings.env
# next to this script (src/api/settings.ts); environment: the passwords
# METAMYSQL_{ROOT,OPERATOR,REPLICATION,BACKUP}_PASSWORD a mode needs. Nothing here prints a
# password anywhere but into the SQL on stdout.
set -euo pipefail
# A failure inside $(...) (a missing password) fails the whole script.
shopt -s inherit_errexit
# shellcheck source=/dev/null
. "$(dirname "${BASH_SOURCE[0]}")/settings.env"
FLAVOR="${METAMYSQL_FLAVOR:?METAMYSQL_FLAVOR must be set (mysql or mariadb)}"
OPERATOR_USER="${METAMYSQL_OPERATOR_USER:?METAMYSQL_OPERATOR_USER must be set}"
REPLICATION_USER="${METAMYSQL_REPLICATION_USER:?METAMYSQL_REPLICATION_USER must be set}"
BACKUP_USER="${METAMYSQL_BACKUP_USER:?METAMYSQL_BACKUP_USER must be set}"

# Least privilege of the operator account (mysql-field-notes.md "least-privilege operator
# account"), one GRANT per line.
# MariaDB 10.11+: every orchestration step ran with these (field notes, "Read-only").
# MySQL 8.4: SYSTEM_VARIABLES_ADMIN (read_only, super_read_only, semi-sync globals),
# REPLICATION_SLAVE_ADMIN (CHANGE REPLICATION SOURCE, START/STOP REPLICA), RELOAD (RESET
# REPLICA), REPLICATION CLIENT (SHOW REPLICA STATUS), PROCESS + SELECT
# (performance_schema.processlist), CONNECTION_ADMIN (KILL, connecting when max_connections is
# reached), BINLOG_ADMIN; BACKUP_ADMIN and CLONE_ADMIN repair an errant instance by cloning
# from the primary (README "Repairing an errant instance").
# The backup account: what the dump needs (mariadb-dump --single-transaction --gtid
# --master-data=2, mysqldump --single-transaction --source-data=2 --set-gtid-purged=ON
# --no-tablespaces; --all-databases --routines --events --triggers), plus SHOW SLAVE|REPLICA
# STATUS to choose the source: no replication control (the dump never stops a replica's
# applier), no SUPER.
case "$FLAVOR" in
  mariadb)
    OPERATOR_PRIVILEGES=("RELOAD, PROCESS, SELECT, REPLICATION SLAVE ADMIN, SLAVE MONITOR, BINLOG MONITOR, REPLICATION MASTER ADMIN, READ_ONLY ADMIN, BINLOG ADMIN, CONNECTION ADMIN")
    BACKUP_PRIVILEGES="SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, BINLOG MONITOR, SLAVE MONITOR"
    ;;
  mysql)
    OPERATOR_PRIVILEGES=(
      "RELOAD, PROCESS, SELECT, REPLICATION CLIENT"
      "SYSTEM_VARIABLES_ADMIN, REPLICATION_SLAVE_ADMIN, CONNECTION_ADMIN, BINLOG_ADMIN, BACKUP_ADMIN, CLONE_ADMIN"
    )
    BACKUP_PRIVILEGES="SELECT, SHOW VIEW, TRIGGER, EVENT, LOCK TABLES, RELOAD, REPLICATION CLIENT"
    ;;
  *) echo "unknown METAMYSQL_FLAVOR=$FLAVOR (mysql or mariadb)" >&2; exit 1;;
esac

# SQL string literal: backslashes and quotes escaped. That escaping means what it says only
# while the session's sql_mode lacks NO_BACKSLASH_ESCAPES (a user's mysqlConfig.sql_mode may
# set it, and a restored dump may change the session's): every mode's SQL starts with
# SESSION_SQL_MODE, which removes it and keeps the rest. Hex literals would not depend on the
# mode, but IDENTIFIED BY takes only a quoted string (MariaDB 10.11 rejects 0x.. and X'..'
# there: checked). The same statement as unsafeSqlModeFix in src/mysql/sql/escape.ts.
sql_string() { local s="${1//\\/\\\\}"; s="${s//\'/\\\'}"; printf "'%s'" "$s"; }
SESSION_SQL_MODE="SET SESSION sql_mode = TRIM(BOTH ',' FROM REPLACE(CONCAT(',', @@SESSION.sql_mode, ','), ',NO_BACKSLASH_ESCAPES,', ','));"

# Root: no anonymous or host-bound root accounts; root@localhost (socket) and root@'%' share the
# root password.
root_sql() {
  local root; root="$(sql_string "${METAMYSQL_ROOT_PASSWORD:?}")"
  cat <<SQL
DROP USER IF EXISTS ''@'localhost', ''@'$(hostname)';
DROP USER IF EXISTS 'root'@'127.0.0.1', 'root'@'::1', 'root'@'$(hostname)';
ALTER USER 'root'@'localhost' IDENTIFIED BY $root;
CREATE USER IF NOT EXISTS 'root'@'%' IDENTIFIED BY $root;
GRANT ALL PRIVILEGES ON *.* TO 'root'@'%' WITH GRANT OPTION;
SQL
}

# The operator's and the replication account, then the backup account.
service_sql() {
  local op repl privileges
  op="$(sql_string "${METAMYSQL_OPERATOR_PASSWORD:?}")"
  repl="$(sql_string "${METAMYSQL_REPLICATION_PASSWORD:?}")"
  echo "CREATE USER IF NOT EXISTS '$OPERATOR_USER'@'%' IDENTIFIED BY $op;"
  for privileges in "${OPERATOR_PRIVILEGES[@]}"; do echo "GRANT $privileges ON *.* TO '$OPERATOR_USER'@'%';"; done
  cat <<SQL
CREATE USER IF NOT EXISTS '$REPLICATION_USER'@'%' IDENTIFIED BY $repl;
GRANT REPLICATION SLAVE ON *.* TO '$REPLICATION_USER'@'%';
SQL
  backup_sql
}

# The least-privilege account of backup Jobs (binary log off: the caller's session sets it).
backup_sql() {
  local bk; bk="$(sql_string "${METAMYSQL_BACKUP_PASSWORD:?}")"
  cat <<SQL
CREATE USER IF NOT EXISTS '$BACKUP_USER'@'%' IDENTIFIED BY $bk;
ALTER USER '$BACKUP_USER'@'%' IDENTIFIED BY $bk;
GRANT $BACKUP_PRIVILEGES ON *.* TO '$BACKUP_USER'@'%';
SQL
}

# After a restore the accounts exist with the backup's passwords: set this cluster's.
seed_sql() {
  : "${METAMYSQL_ROOT_PASSWORD:?}" "${METAMYSQL_OPERATOR_PASSWORD:?}" "${METAMYSQL_REPLICATION_PASSWORD:?}"
  cat <<SQL
$SESSION_SQL_MODE
SET SESSION sql_log_bin=0;
CREATE USER IF NOT EXISTS 'root'@'localhost';
CREATE USER IF NOT EXISTS 'root'@'%';
CREATE USER IF NOT EXISTS '$OPERATOR_USER'@'%';
CREATE USER IF NOT EXISTS '$REPLICATION_USER'@'%';
ALTER USER 'root'@'%' IDENTIFIED BY $(sql_string "${METAMYSQL_ROOT_PASSWORD:?}");
ALTER USER '$OPERATOR_USER'@'%' IDENTIFIED BY $(sql_string "${METAMYSQL_OPERATOR_PASSWORD:?}");
ALTER USER '$REPLICATION_USER'@'%' IDENTIFIED BY $(sql_string "${METAMYSQL_REPLICATION_PASSWORD:?}");
SQL
  backup_sql
}

# Print the whole SQL only once every part succeeded (a missing password prints nothing).
sql="$(
  case "${1:-}" in
    init) echo "$SESSION_SQL_MODE"; echo "SET SESSION sql_log_bin=0;"; root_sql; service_sql; echo "FLUSH PRIVILEGES;";;
    service) echo "$SESSION_SQL_MODE"; echo "SET SESSION sql_log_bin=0;"; service_sql; echo "FLUSH PRIVILEGES;";;
    upgrade) echo "$SESSION_SQL_MODE"; echo "SET SESSION sql_log_bin=0;"; backup_sql; echo "FLUSH PRIVILEGES;";;
    seed) seed_sql;;
    *) echo "usage: accounts.sh init|service|upgrade|seed" >&2; exit 2;;
  esac
)"
printf '%s\n' "$sql"
