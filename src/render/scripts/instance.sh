# shellcheck shell=bash
# metamysql: what the database container's scripts share, sourced by entrypoint.sh and probe.sh
# (next to them in the ConfigMap `<c>-config`, ARCHITECTURE.md section 3): the instance's paths,
# its flavor's commands and its identity (server_id = METAMYSQL_SERVER_ID_BASE + ordinal), and where its passwords are.
# Every path comes from an environment variable whose default is the container's mount path, so
# the local runtime runs these same scripts against its own directories. The flavor and the
# operator's constants come from settings.env next to the scripts (rendered into the same
# ConfigMap by src/api/settings.ts, so scripts and settings always change together).
# The variables below are used by the scripts that source this file, not here:
# shellcheck disable=SC2034
set -euo pipefail
# shellcheck source=/dev/null
. "$(dirname "${BASH_SOURCE[0]}")/settings.env"
DATA_DIR="${METAMYSQL_DATA_DIR:-/var/lib/mysql}"
CONFIG_DIR="${METAMYSQL_CONFIG_DIR:-/etc/metamysql}"
RUN_DIR="${METAMYSQL_RUN_DIR:-/run/mysqld}"
TMP_DIR="${METAMYSQL_TMP_DIR:-/tmp}"
PORT="${METAMYSQL_PORT:-3306}"
SOCKET="$RUN_DIR/mysqld.sock"
# The mounted Secrets (files named like their keys), and the copy the entrypoint took of them at
# start, which the accounts were converged to and the probes use (entrypoint.sh).
CREDENTIALS_DIR="${METAMYSQL_CREDENTIALS_DIR:-/etc/metamysql-credentials}"
BACKUP_CREDENTIALS_DIR="${METAMYSQL_BACKUP_CREDENTIALS_DIR:-/etc/metamysql-backup-credentials}"
APPS_CREDENTIALS_DIR="${METAMYSQL_APPS_CREDENTIALS_DIR:-/etc/metamysql-apps-credentials}"
APPLIED_CREDENTIALS_DIR="$RUN_DIR/credentials"
export PATH="$PATH:/usr/sbin:/usr/local/sbin:/usr/local/mysql/bin"
: "${POD_NAME:?POD_NAME must be set}"
ORDINAL="${POD_NAME##*-}"
case "$ORDINAL" in ''|*[!0-9]*) echo "cannot read an ordinal from POD_NAME=$POD_NAME" >&2; exit 1;; esac
SERVER_ID_BASE="${METAMYSQL_SERVER_ID_BASE:?METAMYSQL_SERVER_ID_BASE must be set}"
SERVER_ID=$((SERVER_ID_BASE + ORDINAL))
OPERATOR_USER="${METAMYSQL_OPERATOR_USER:?METAMYSQL_OPERATOR_USER must be set}"
FLAVOR="${METAMYSQL_FLAVOR:?METAMYSQL_FLAVOR must be set (mysql or mariadb)}"
case "$FLAVOR" in
  mariadb) SERVER=mariadbd; CLIENT=mariadb; ADMIN=mariadb-admin;;
  mysql) SERVER=mysqld; CLIENT=mysql; ADMIN=mysqladmin;;
  *) echo "unknown METAMYSQL_FLAVOR=$FLAVOR (mysql or mariadb)" >&2; exit 1;;
esac
