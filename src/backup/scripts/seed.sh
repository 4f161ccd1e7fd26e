#!/usr/bin/env bash
# metamysql seeding from a backup (docs/backups.md), from the ConfigMap `<c>-config`:
# `seed.sh fetch|fetch-latest|latest|check|sql|position`. The init container downloads a backup
# (initDB) or the newest scheduled backup of the cluster (fresh instances joining a running
# cluster: scale-up, re-seed) from S3 into the seed dir; the entrypoint picks it, verifies it
# (meta.json's signature, checksum, flavor, major version and GTID position) and streams it into
# the fresh server with sql_log_bin=0, then sets the GTID position from meta.json. Nothing of a
# backup that fails a check is ever executed. Settings come from the environment
# (src/backup/seed.ts).
# shellcheck source=SCRIPTDIR/backup-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/backup-common.sh"

SEED_DIR="${METAMYSQL_SEED_DIR:-/seed}"
DATA_DIR="${METAMYSQL_DATA_DIR:-/var/lib/mysql}"
# The key that must have signed the backup: this cluster's own for its scheduled backups (under
# METAMYSQL_SEED_SCAN), else the key of initDB.fromBackup.signingKeySecretName.
key_for() {
  if [ -n "${METAMYSQL_SEED_SCAN:-}" ] && [[ "$1" == "$METAMYSQL_SEED_SCAN"/* ]]; then echo "$SIGNING_KEY_FILE"; else echo "${METAMYSQL_SEED_KEY_FILE:-$SIGNING_KEY_FILE}"; fi
}
meta_field() { sed -nE "s/.*\"$1\":\"?([^\",}]*)\"?.*/\1/p" "$SEED_DIR/meta.json" | head -n1; }

fetch() {
  # Init container: download the backup when the data dir still has to be initialized.
  if [ -f "$DATA_DIR/.metamysql-initialized" ]; then echo "data dir initialized; nothing to fetch" >&2; exit 0; fi
  if [ -f "$DATA_DIR/.metamysql-cloned" ]; then echo "data dir cloned from a donor (agent); nothing to fetch" >&2; exit 0; fi
  [ "$STORAGE" = s3 ] || exit 0
  local src="$S3_ROOT/${METAMYSQL_SEED_PATH:?}" err="$SEED_DIR/.fetch.err"
  mkdir -p "$SEED_DIR"
  rm -f "$SEED_DIR"/*
  # rclone copyto of a missing object succeeds and creates nothing: check what arrived.
  if ! "${RCLONE[@]}" copyto "$src/meta.json" "$SEED_DIR/meta.json" 2>"$err" || [ ! -s "$SEED_DIR/meta.json" ]; then
    echo "no completed backup at s3://${METAMYSQL_S3_BUCKET}/${METAMYSQL_SEED_PATH} (meta.json missing): $(tail -n2 "$err" | tr '\n' ' ')" >&2; exit 1
  fi
  local file; file="$(meta_field file)"
  if ! "${RCLONE[@]}" copyto "$src/$file" "$SEED_DIR/$file" 2>"$err" || [ ! -f "$SEED_DIR/$file" ]; then
    echo "download of $file failed: $(tail -n2 "$err" | tr '\n' ' ')" >&2; exit 1
  fi
  rm -f "$err"
  echo "fetched $(meta_field path) ($(meta_field sizeBytes) bytes)" >&2
}

check() {
  # Refuse anything but a complete backup of the same flavor and major version.
  [ -f "$SEED_DIR/meta.json" ] || { echo "seed: no completed backup in $SEED_DIR (meta.json missing): refusing to initialize from it" >&2; exit 1; }
  local flavor major file sum mine why
  why="$(verify_meta "$SEED_DIR/meta.json" "$(key_for "$SEED_DIR")")" || { echo "seed: refusing the backup in $SEED_DIR: $why" >&2; exit 1; }
  if [ -n "${METAMYSQL_SEED_SCAN:-}" ] && [[ "$SEED_DIR" == "$METAMYSQL_SEED_SCAN"/* ]] && [ -n "${METAMYSQL_CLUSTER_UID:-}" ] && [ "$(meta_field clusterUID)" != "$METAMYSQL_CLUSTER_UID" ]; then
    echo "seed: refusing the backup in $SEED_DIR: it is not a backup of this cluster (uid $(meta_field clusterUID))" >&2; exit 1
  fi
  valid_gtid "$FLAVOR" "$(meta_field gtidPosition)" || { echo "seed: refusing the backup in $SEED_DIR: its GTID position is not a $FLAVOR GTID set" >&2; exit 1; }
  flavor="$(meta_field flavor)"; major="$(meta_field majorVersion)"; file="$(meta_field file)"
  if [ "$FLAVOR" = mysql ]; then mine="$(mysqld --version 2>/dev/null)"; else mine="$(mariadbd --version 2>/dev/null)"; fi
  mine="$(sed -nE 's/.*Ver ([0-9]+\.[0-9]+).*/\1/p' <<<"$mine")"
  [ "$flavor" = "$FLAVOR" ] || { echo "seed: the backup is from $flavor but this cluster runs $FLAVOR: refusing to restore it" >&2; exit 1; }
  [ "$major" = "$mine" ] || { echo "seed: the backup is from $flavor $major but this server is $FLAVOR $mine: refusing to restore across major versions" >&2; exit 1; }
  [ -f "$SEED_DIR/$file" ] || { echo "seed: $file missing next to meta.json" >&2; exit 1; }
  sum="$(sha256_of <"$SEED_DIR/$file")"
  [ "$sum" = "$(meta_field sha256)" ] || { echo "seed: checksum mismatch for $file: the backup is damaged, refusing it" >&2; exit 1; }
  echo "seed: restoring $(meta_field path) ($flavor $major, gtid $(meta_field gtidPosition))" >&2
}

pick_newest() {
  # "<completedAt> <dir>" of each backup of this cluster under the scan root (<schedule>/<timestamp>),
  # newest first. A backup belongs to this cluster by uid (by name when the uid is unknown).
  # Only signed ones count (verify_meta): a planted meta.json with this cluster's uid is skipped.
  local root="${METAMYSQL_SEED_SCAN:?}" m key want why
  if [ -n "${METAMYSQL_CLUSTER_UID:-}" ]; then key=clusterUID; want="$METAMYSQL_CLUSTER_UID"; else key=cluster; want="${METAMYSQL_CLUSTER:-}"; fi
  for m in "$root"/*/*/meta.json; do
    [ -f "$m" ] || continue
    SEED_DIR="${m%/meta.json}"
    if [ -z "$want" ] || [ "$(meta_field "$key")" != "$want" ]; then continue; fi
    if ! why="$(verify_meta "$m" "$SIGNING_KEY_FILE")"; then echo "seed: skipping ${SEED_DIR#"$root"/}: $why" >&2; continue; fi
    printf '%s %s\n' "$(meta_field completedAt)" "$SEED_DIR"
  done | sort -r
}

latest() {
  # Entrypoint of a fresh data dir: prints the newest COMPLETE backup of this cluster that passes
  # check (meta.json, checksum, flavor, major version), or nothing (then the instance initializes
  # empty, or from initDB.fromBackup, and replicates everything from the primary).
  [ -d "${METAMYSQL_SEED_SCAN:-/nonexistent}" ] || return 0
  local at d
  while read -r at d; do
    if (SEED_DIR="$d"; check) 2>/dev/null; then echo "$d"; return 0; fi
    echo "seed: skipping $d (completed $at): not usable" >&2
  done < <(pick_newest)
}

fetch_latest() {
  # Init container (S3 schedules): download every meta.json of the cluster's scheduled backups,
  # then the dump of the newest one of this cluster, into the scan dir. The entrypoint checks it.
  if [ -f "$DATA_DIR/.metamysql-initialized" ]; then echo "data dir initialized; nothing to fetch" >&2; exit 0; fi
  if [ -f "$DATA_DIR/.metamysql-cloned" ]; then echo "data dir cloned from a donor (agent); nothing to fetch" >&2; exit 0; fi
  local src="$S3_ROOT/${METAMYSQL_SEED_S3_PATH:?}" dst="${METAMYSQL_SEED_SCAN:?}" err at d file
  mkdir -p "$dst"
  find "$dst" -mindepth 1 -delete
  err="$dst/.fetch.err"
  # One recursive listing (--fast-list) rather than one per folder.
  "${RCLONE[@]}" copy --fast-list --include '/*/*/meta.json' "$src" "$dst" 2>"$err" || { echo "cannot list the scheduled backups in s3://${METAMYSQL_S3_BUCKET}/${METAMYSQL_SEED_S3_PATH}: $(tail -n2 "$err" | tr '\n' ' ')" >&2; exit 1; }
  read -r at d < <(pick_newest) || true
  if [ -z "${d:-}" ]; then echo "no completed backup of this cluster yet: the instance initializes without one" >&2; exit 0; fi
  SEED_DIR="$d"; file="$(meta_field file)"
  if ! "${RCLONE[@]}" copyto "$src/${d#"$dst"/}/$file" "$d/$file" 2>"$err" || [ ! -f "$d/$file" ]; then
    echo "download of ${d#"$dst"/}/$file failed: $(tail -n2 "$err" | tr '\n' ' ')" >&2; exit 1
  fi
  rm -f "$err"
  echo "fetched ${d#"$dst"/} (completed $at)" >&2
}

sql() {
  # The dump with binary logging off for the session (no local GTIDs).
  local file; file="$(meta_field file)"
  echo "SET SESSION sql_log_bin=0;"
  if [ "$FLAVOR" = mysql ]; then echo "RESET BINARY LOGS AND GTIDS;"; fi
  case "$(meta_field compression)" in gzip) gzip -dc "$SEED_DIR/$file";; zstd) zstd -dc -q "$SEED_DIR/$file";; *) cat "$SEED_DIR/$file";; esac
  echo ";"
  # The restored mysql schema takes effect now; the accounts are set right after.
  echo "SET SESSION sql_log_bin=0;"
  echo "FLUSH PRIVILEGES;"
}

position() {
  # After the accounts: the replication position of the backup.
  local gtid; gtid="$(meta_field gtidPosition)"
  # check refused anything else already; checked again: this goes into SQL.
  valid_gtid "$FLAVOR" "$gtid" || { echo "seed: the backup's GTID position is not a $FLAVOR GTID set" >&2; exit 1; }
  if [ "$FLAVOR" = mariadb ] && [ -n "$gtid" ]; then
    echo "RESET MASTER;"
    echo "SET GLOBAL gtid_binlog_state='$gtid';"
    echo "SET GLOBAL gtid_slave_pos='$gtid';"
  fi
  echo "FLUSH PRIVILEGES;"
}

case "${1:-}" in
  fetch) fetch;;
  fetch-latest) fetch_latest;;
  latest) latest;;
  check) check;;
  sql) sql;;
  position) position;;
  *) echo "usage: seed.sh fetch|fetch-latest|latest|check|sql|position" >&2; exit 2;;
esac
