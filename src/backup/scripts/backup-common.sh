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
# Backups are signed (docs/backups.md "Signed backups"): meta.json ends with
# "signature":"hmac-sha256:<hex>", an HMAC-SHA256 over the bytes before it (closed with "}"); the
# meta binds the dump through its sha256. The key (32 bytes, 64 hex digits) is a file of the
# Secret `<c>-backup-credentials` mounted only into the containers that sign or verify.
SIGNING_KEY_FILE="${METAMYSQL_SIGNING_KEY_FILE:-/etc/metamysql-signing/own/signing-key}"
# HMAC-SHA256 (RFC 2104) of stdin with the hex key in file $1, printed as hex. The key never
# reaches a command line (`openssl dgst -hmac KEY` and `-macopt hexkey:KEY` would put it in argv,
# readable in /proc by any process of the pod): it is read by the builtin `read`, and the padded
# keys are written by the builtin printf into the stdin of the hash. Exit 2: malformed key.
hmac_sha256() {
  local key="" i b ipad="" opad="" inner ih=""
  IFS= read -r key <"$1" || [ -n "$key" ] || return 2
  key="${key%$'\r'}"
  [[ "$key" =~ ^[0-9a-fA-F]{64}$ ]] || return 2
  for ((i = 0; i < 64; i++)); do
    if ((i < 32)); then b=$((16#${key:i*2:2})); else b=0; fi
    printf -v ipad '%s\\x%02x' "$ipad" $((b ^ 0x36))
    printf -v opad '%s\\x%02x' "$opad" $((b ^ 0x5c))
  done
  inner="$({ printf '%b' "$ipad"; cat; } | sha256_of)"
  [ "${#inner}" -eq 64 ] || return 1
  for ((i = 0; i < 64; i += 2)); do ih="$ih\\x${inner:i:2}"; done
  { printf '%b' "$opad"; printf '%b' "$ih"; } | sha256_of
}
# Signs the meta JSON object $1 (no trailing newline) with the key in $2: prints it signed.
sign_meta() {
  local sig
  sig="$(printf '%s' "$1" | hmac_sha256 "$2")" && [ "${#sig}" -eq 64 ] || return 1
  printf '%s,"signature":"hmac-sha256:%s"}' "${1%\}}" "$sig"
}
# Verifies the signed meta.json $1 with the key in $2. Prints why it is refused (exit 1).
verify_meta() {
  local content body sig want
  content="$(cat "$1" 2>/dev/null)" || { echo "meta.json unreadable"; return 1; }
  if ! [[ "$content" =~ ^(\{.*),\"signature\":\"hmac-sha256:([0-9a-f]{64})\"\}$ ]]; then echo "meta.json is not signed (a backup of an older operator, or not written by this cluster)"; return 1; fi
  body="${BASH_REMATCH[1]}}"; sig="${BASH_REMATCH[2]}"
  [ -r "$2" ] || { echo "no signing key at $2"; return 1; }
  want="$(printf '%s' "$body" | hmac_sha256 "$2")" || { echo "the signing key in $2 is not 64 hex digits"; return 1; }
  [ "$want" = "$sig" ] || { echo "meta.json's signature does not match the signing key (tampered with, or signed by another cluster's key)"; return 1; }
}
# A GTID position as the flavor writes it, nothing else (it is pasted into SQL): MariaDB
# domain-server-seq lists, MySQL uuid[:tag]:intervals sets. Empty (no position) is valid.
valid_gtid() {
  local g="$2" n='[0-9]{1,20}'
  [ -n "$g" ] || return 0
  if [ "$1" = mysql ]; then
    local u='[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}' t='[A-Za-z_][A-Za-z0-9_]{0,31}'
    local one="$u(:($t|$n(-$n)?))+"
    [[ "$g" =~ ^$one(,$one)*$ ]]
  else
    [[ "$g" =~ ^$n-$n-$n(,$n-$n-$n)*$ ]]
  fi
}
RCLONE=(rclone --config /dev/null --retries 2 --low-level-retries 3 --contimeout 10s --timeout 60s --s3-no-check-bucket -q)
