# shellcheck shell=bash
# The variables below are used by the scripts that source this file, not here:
# shellcheck disable=SC2034
# metamysql: what backup.sh and seed.sh share (docs/backups.md). Sourced, never run: both
# scripts find it next to themselves (in the ConfigMap `<c>-config`, and in src/backup/scripts/).
# No secret is ever printed: passwords reach the clients through MYSQL_PWD, S3 keys reach
# rclone through its RCLONE_CONFIG_STORE_* environment.
set -euo pipefail
# The flavor and the backup account's name: settings.env next to the scripts when the pod has it
# (src/api/settings.ts; the database pods and the backup Jobs mount it), else the environment
# (the Job's env, or a test running the scripts from src/backup/scripts/).
if [ -f "$(dirname "${BASH_SOURCE[0]}")/settings.env" ]; then
  # shellcheck source=/dev/null
  . "$(dirname "${BASH_SOURCE[0]}")/settings.env"
fi
export PATH="$PATH:/usr/sbin:/usr/local/sbin:/usr/local/mysql/bin"
FLAVOR="${METAMYSQL_FLAVOR:-mariadb}"
now() { date -u +%Y-%m-%dT%H:%M:%SZ; }
log() { printf '%s metamysql-backup: %s\n' "$(now)" "$*" >&2; }
# sha256 of stdin: openssl uses the CPU's SHA instructions (about 10x coreutils' sha256sum here).
sha256_of() { if command -v openssl >/dev/null 2>&1; then openssl dgst -sha256 -r | cut -d' ' -f1; else sha256sum | cut -d' ' -f1; fi; }
errtail() { if [ -s "$1" ]; then tail -n 3 "$1" | tr '\n' ' ' | cut -c1-600 || true; fi; }
if [ "$FLAVOR" = mysql ]; then CLIENT=mysql; DUMP=mysqldump; else CLIENT=mariadb; DUMP=mariadb-dump; fi
STORAGE="${METAMYSQL_STORAGE:-pvc}"
S3_ROOT="store:${METAMYSQL_S3_BUCKET:-}${METAMYSQL_S3_PREFIX:+/$METAMYSQL_S3_PREFIX}"
RCLONE=(rclone --config /dev/null --retries 2 --low-level-retries 3 --contimeout 10s --timeout 60s --s3-no-check-bucket -q)
