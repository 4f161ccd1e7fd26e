#!/usr/bin/env bash
# metamysql backup (docs/backups.md), run by the backup Jobs as `bash /etc/metamysql/backup.sh
# preflight|dump|upload|remove` from the ConfigMap `<c>-config`:
# - preflight: check the storage (S3 bucket usable, or the PVC writable);
# - dump: dump a healthy caught-up replica (the primary only when it is alone) with a consistent
#   snapshot and its GTID position, write the dump under a temporary name, then publish it and
#   write meta.json LAST (a backup is complete iff meta.json exists and the dump's sha256 matches
#   it), then apply `keep` retention;
# - upload (S3): publish what dump left in the scratch dir;
# - remove: delete a stored backup (deletionPolicy: Delete).
# The result (JSON) goes to the termination message, which the hooks read
# (src/backup/job-result.ts). Settings come from the environment (src/backup/job.ts).
# shellcheck source=SCRIPTDIR/backup-common.sh
. "$(dirname "${BASH_SOURCE[0]}")/backup-common.sh"
RESULT_FILE="${METAMYSQL_RESULT_FILE:-/dev/termination-log}"
json_str() { local s="${1//\\/\\\\}"; s="${s//\"/\\\"}"; s="${s//$'\n'/ }"; s="${s//$'\t'/ }"; s="${s//$'\r'/ }"; printf '"%s"' "$s"; }
result() { mkdir -p "$(dirname "$RESULT_FILE")"; printf '%s' "$1" >"$RESULT_FILE"; }
fail() { log "FAILED: $*"; result "{\"state\":\"Failed\",\"message\":$(json_str "$*")}"; exit 1; }
STEP="starting"
# A failure without a result of its own still leaves one saying where it failed.
on_exit() { local rc=$?; if [ $rc -ne 0 ] && [ ! -s "$RESULT_FILE" ]; then result "{\"state\":\"Failed\",\"message\":$(json_str "failed while $STEP (exit $rc)")}"; fi; }
trap on_exit EXIT

SCRATCH="${METAMYSQL_SCRATCH_DIR:-/scratch}"
# Every container of the pod starts with an empty result (an earlier step may have written one).
mkdir -p "$(dirname "$RESULT_FILE")" && : >"$RESULT_FILE"
PVC_ROOT="${METAMYSQL_PVC_ROOT:-/backup}"
COMPRESSION="${METAMYSQL_COMPRESSION:-gzip}"
case "$COMPRESSION" in gzip) FILE=dump.sql.gz; COMPRESS=(gzip -1 -c);; zstd) FILE=dump.sql.zst; COMPRESS=(zstd -1 -T0 -q -c);; none) FILE=dump.sql; COMPRESS=(cat);; *) fail "unknown compression $COMPRESSION";; esac
# The backup's path inside the storage: fixed (MySQLBackup) or <dir>/<timestamp>-<cluster uid>
# (schedules: the uid scopes retention to this cluster's own backups, also when another cluster
# of the same name writes to the same bucket and folder).
UID_SUFFIX="${METAMYSQL_CLUSTER_UID:+-$METAMYSQL_CLUSTER_UID}"
if [ -n "${METAMYSQL_BACKUP_PATH:-}" ]; then BPATH="$METAMYSQL_BACKUP_PATH"; else BPATH="${METAMYSQL_BACKUP_DIR:?}/$(date -u +%Y%m%dT%H%M%SZ)$UID_SUFFIX"; fi

# Every connection uses the least-privilege backup account (its password only through MYSQL_PWD).
BUSER="${METAMYSQL_BACKUP_USER:-}"   # settings.env, or the dump container's env (src/backup/job.ts)
sql() { MYSQL_PWD="${METAMYSQL_BACKUP_PASSWORD:-}" "$CLIENT" -h "$1" -P "${METAMYSQL_PORT:-3306}" -u"$BUSER" --connect-timeout=5 -N -B -e "$2"; }

preflight() {
  STEP="checking the storage"
  if [ "$STORAGE" = s3 ]; then
    local err="$SCRATCH/preflight.err"; mkdir -p "$SCRATCH"
    "${RCLONE[@]}" lsf --max-depth 1 "store:${METAMYSQL_S3_BUCKET}" >/dev/null 2>"$err" || fail "S3 bucket ${METAMYSQL_S3_BUCKET} is not usable (missing bucket or bad credentials): $(errtail "$err")"
  else
    if [ ! -d "$PVC_ROOT" ] || [ ! -w "$PVC_ROOT" ]; then fail "backup volume $PVC_ROOT is not writable"; fi
  fi
}

caught_up() {
  # Wait (bounded) until the replica has applied what the primary had when the backup started.
  local r
  if [ "$FLAVOR" = mysql ]; then r="$(sql "$1" "SELECT WAIT_FOR_EXECUTED_GTID_SET('$PRIMARY_POS', ${METAMYSQL_MAX_LAG_SECONDS:-60})" 2>/dev/null)" || return 1
  else r="$(sql "$1" "SELECT MASTER_GTID_WAIT('$PRIMARY_POS', ${METAMYSQL_MAX_LAG_SECONDS:-60})" 2>/dev/null)" || return 1; fi
  [ "$r" = 0 ]
}

choose_source() {
  STEP="choosing the source instance"
  PRIMARY_POS=""
  if [ -n "${METAMYSQL_PRIMARY:-}" ]; then
    if [ "$FLAVOR" = mysql ]; then PRIMARY_POS="$(sql "${METAMYSQL_PRIMARY#*=}" "SELECT @@GLOBAL.gtid_executed" 2>/dev/null | tr -d '
')" || PRIMARY_POS=""
    else PRIMARY_POS="$(sql "${METAMYSQL_PRIMARY#*=}" "SELECT @@GLOBAL.gtid_binlog_pos" 2>/dev/null)" || PRIMARY_POS=""; fi
  fi
  local reasons="" cand pod ip st lag n=0
  for cand in ${METAMYSQL_SOURCES:-}; do n=$((n + 1)); done
  for cand in ${METAMYSQL_SOURCES:-}; do
    pod="${cand%%=*}"; ip="${cand#*=}"
    if ! st="$(MYSQL_PWD="${METAMYSQL_BACKUP_PASSWORD:-}" "$CLIENT" -h "$ip" -P "${METAMYSQL_PORT:-3306}" -u"$BUSER" --connect-timeout=5 -e "SHOW SLAVE STATUS\G" 2>&1)"; then reasons="$reasons $pod: cannot connect ($(printf '%s' "$st" | tail -n1 | cut -c1-160));"; continue; fi
    if [ -z "$st" ]; then
      if [ "$n" -eq 1 ]; then SOURCE_POD="$pod"; SOURCE_IP="$ip"; SOURCE_ROLE=primary; return 0; fi
      reasons="$reasons $pod: not a replica;"; continue
    fi
    if ! grep -Eq '(Slave|Replica)_IO_Running: Yes' <<<"$st" || ! grep -Eq '(Slave|Replica)_SQL_Running: Yes' <<<"$st"; then reasons="$reasons $pod: replication not running;"; continue; fi
    if [ -n "${PRIMARY_POS:-}" ] && ! caught_up "$ip"; then reasons="$reasons $pod: not caught up with the primary within ${METAMYSQL_MAX_LAG_SECONDS:-60}s;"; continue; fi
    lag="$(sed -nE 's/.*Seconds_Behind_(Master|Source): ([0-9]+|NULL).*/\2/p' <<<"$st" | head -n1)"
    if [ "$lag" = NULL ] || [ -z "$lag" ] || [ "$lag" -gt "${METAMYSQL_MAX_LAG_SECONDS:-60}" ]; then reasons="$reasons $pod: lagging ($lag s);"; continue; fi
    SOURCE_POD="$pod"; SOURCE_IP="$ip"; SOURCE_ROLE=replica; return 0
  done
  fail "no healthy caught-up instance to back up:${reasons:- no instance}"
}

# The dump itself, its PID in $SCRATCH/dump.pid for the watchdog; its exit status is returned.
dump_cmd() {
  MYSQL_PWD="${METAMYSQL_BACKUP_PASSWORD:-}" "$DUMP" "${args[@]}" 2>"$err" &
  echo "$!" >"$SCRATCH/dump.pid"
  wait "$!"
}

watch_dump() {
  # Stops the process in pid file $1 when file $2 has not grown for METAMYSQL_STALL_SECONDS.
  local pid="" file="$2" last=-1 size idle=0 limit="${METAMYSQL_STALL_SECONDS:-300}"
  while [ -z "$pid" ]; do sleep 0.1 & wait "$!"; pid="$(cat "$1" 2>/dev/null || true)"; done
  while kill -0 "$pid" 2>/dev/null; do
    # In the background and waited for: a TERM ends this loop at once (a foreground sleep
    # would delay it by up to a second).
    sleep 1 & wait "$!"
    size="$(stat -c %s "$file" 2>/dev/null || echo 0)"
    if [ "$size" != "$last" ]; then last="$size"; idle=0; else idle=$((idle + 1)); fi
    if [ "$idle" -ge "$limit" ]; then : >"$SCRATCH/stalled"; kill "$pid" 2>/dev/null || true; return 0; fi
  done
}

gtid_of() {
  # The GTID position the dump recorded (commented out: set explicitly on restore), from the
  # first 256 KiB and last 64 KiB of the uncompressed stream, captured while dumping.
  # MySQL writes it near the top; for MariaDB both ends are read (where it stands depends on the
  # mariadb-dump version and on --master-data vs --dump-slave).
  local text
  text="$(cat "$SCRATCH/dump.head" 2>/dev/null || true)"
  if [ "$FLAVOR" != mysql ]; then text="$text
$(cat "$SCRATCH/dump.tail" 2>/dev/null || true)"; fi
  if [ "$FLAVOR" = mysql ]; then
    sed -nE "s/.*GTID_PURGED=(\/\*!80000 '\+'\*\/ )?'([^']*)'.*/\2/p" <<<"$text" | head -n1 | tr -d '\n '
  else
    sed -nE "s/.*gtid_slave_pos='([^']*)'.*/\1/p" <<<"$text" | head -n1
  fi
}

dump() {
  [ -n "$BUSER" ] || fail "METAMYSQL_BACKUP_USER is not set"
  # Every backup is signed: no key, no backup (rather than one that no seed would accept).
  local probe; probe="$(printf x | hmac_sha256 "$SIGNING_KEY_FILE" 2>/dev/null)" || probe=""
  [ "${#probe}" -eq 64 ] || fail "no usable backup signing key at $SIGNING_KEY_FILE (key signing-key of Secret <cluster>-backup-credentials: 64 hex digits)"
  preflight
  choose_source
  local started version major dir tmp err
  started="$(now)"
  STEP="reading the server version of $SOURCE_POD"
  version="$(sql "$SOURCE_IP" "SELECT VERSION()")" || fail "cannot read the server version of $SOURCE_POD"
  major="$(sed -nE 's/^([0-9]+\.[0-9]+).*/\1/p' <<<"$version")"
  if [ "$STORAGE" = s3 ]; then dir="$SCRATCH/out"; else dir="$PVC_ROOT/$BPATH"; fi
  if [ -f "$dir/meta.json" ]; then fail "a completed backup already exists at $BPATH; refusing to overwrite it"; fi
  mkdir -p "$dir" || fail "cannot create $dir (disk full or read-only volume?)"
  tmp="$dir/.$FILE.partial"; err="${SCRATCH}/dump.err"; mkdir -p "$SCRATCH"
  local args=(--host="$SOURCE_IP" --port="${METAMYSQL_PORT:-3306}" --user="$BUSER" --single-transaction --quick --all-databases --routines --events --triggers --hex-blob --max-allowed-packet=1G)
  # The position is the source's own binary log position at the snapshot (a replica logs what it
  # applies: log_slave_updates), so a replica's applier is never stopped for the dump.
  if [ "$FLAVOR" = mysql ]; then
    args+=(--source-data=2 --set-gtid-purged=ON --no-tablespaces)
  else
    args+=(--gtid --master-data=2)
  fi
  STEP="dumping $SOURCE_POD"
  log "dumping $SOURCE_POD ($SOURCE_ROLE, $version) to $BPATH ($COMPRESSION)"
  # The uncompressed stream's head and tail hold the completion trailer and the GTID position.
  # Uncompressed, the dump goes straight to the file (no extra copy) and both are read back by
  # seeking; compressed, a FIFO keeps the last 64 KiB of the stream (one extra copy, no re-read).
  # bench:backup measured the alternatives on 2 cores: checksumming through a tee while dumping,
  # or flushing in the background while dumping, both cost more than this (they compete with
  # mariadb-dump and the server for CPU and block the writer).
  rm -f "$SCRATCH/dump.head" "$SCRATCH/dump.tail" "$SCRATCH/fifo.tail"
  local p_tail="" p_watch ok=1 werr="$SCRATCH/write.err"
  : >"$werr"
  rm -f "$SCRATCH/stalled" "$SCRATCH/dump.pid"
  watch_dump "$SCRATCH/dump.pid" "$tmp" & p_watch=$!
  if [ "$COMPRESSION" = none ]; then
    dump_cmd >"$tmp" || ok=0
  else
    mkfifo "$SCRATCH/fifo.tail" || fail "cannot create a FIFO in $SCRATCH"
    tail -c 65536 <"$SCRATCH/fifo.tail" >"$SCRATCH/dump.tail" & p_tail=$!
    dump_cmd | tee "$SCRATCH/fifo.tail" | "${COMPRESS[@]}" 2>"$werr" >"$tmp" || ok=0
  fi
  # mariadb-dump has no I/O timeout: a source that hangs mid-dump (accepting, never answering)
  # would keep the Job running forever. A dump whose output has not grown for
  # METAMYSQL_STALL_SECONDS (default 300) is stopped and the backup ends Failed.
  kill "$p_watch" 2>/dev/null || true; wait "$p_watch" 2>/dev/null || true
  if [ -n "$p_tail" ]; then wait "$p_tail" || ok=0; fi
  rm -f "$SCRATCH/fifo.tail" "$SCRATCH/dump.pid"
  if [ "$ok" != 1 ]; then
    rm -f "$tmp"
    if [ -f "$SCRATCH/stalled" ]; then fail "dump of $SOURCE_POD stalled: no output for ${METAMYSQL_STALL_SECONDS:-300} s (is the server hung?); stopped"; fi
    if grep -q . "$werr" 2>/dev/null; then fail "writing the dump of $SOURCE_POD to $BPATH failed: $(errtail "$werr")"; fi
    if grep -q "errno 28" "$err" 2>/dev/null; then fail "writing the dump of $SOURCE_POD to $BPATH failed: no space left on the volume ($(errtail "$err"))"; fi
    if grep -q . "$err" 2>/dev/null; then fail "dump of $SOURCE_POD failed: $(errtail "$err")"; fi
    fail "writing the dump of $SOURCE_POD to $BPATH failed"
  fi
  if [ "$COMPRESSION" = none ]; then
    tail -c 65536 "$tmp" >"$SCRATCH/dump.tail"
    head -c 262144 "$tmp" >"$SCRATCH/dump.head"
  else
    (set +o pipefail; case "$COMPRESSION" in gzip) gzip -dc "$tmp";; *) zstd -dc -q "$tmp";; esac 2>/dev/null | head -c 262144 >"$SCRATCH/dump.head") || true
  fi
  STEP="checking the dump"
  # A dump that was cut short has no completion trailer.
  tail -c 200 "$SCRATCH/dump.tail" | grep -q "Dump completed" || { rm -f "$tmp"; fail "dump of $SOURCE_POD is incomplete: $(errtail "$err")"; }
  local gtid sum size p_sync=""
  gtid="$(gtid_of)"
  valid_gtid "$FLAVOR" "$gtid" || { rm -f "$tmp"; fail "the dump of $SOURCE_POD recorded a GTID position that is not a $FLAVOR GTID set: $(printf '%s' "$gtid" | cut -c1-200)"; }
  # On a PVC the dump must be on disk before meta.json says it is complete: flush it while
  # checksumming it (I/O and CPU overlap). The S3 scratch copy needs no flush (the upload reads it).
  if [ "$STORAGE" != s3 ]; then sync "$tmp" 2>"$werr" & p_sync=$!; fi
  sum="$(sha256_of <"$tmp")"
  if [ -n "$p_sync" ] && ! wait "$p_sync"; then rm -f "$tmp"; fail "cannot flush the dump to the backup volume: $(errtail "$werr")"; fi
  [ "${#sum}" -eq 64 ] || { rm -f "$tmp"; fail "no checksum of the dump"; }
  [ "$(stat -c %s "$tmp")" -gt 0 ] || { rm -f "$tmp"; fail "the dump file is empty"; }
  size="$(stat -c %s "$tmp")"
  STEP="writing the backup"
  mv -f "$tmp" "$dir/$FILE" || fail "cannot rename the dump (disk full?)"
  META="{\"format\":2,\"cluster\":$(json_str "${METAMYSQL_CLUSTER:-}"),\"clusterUID\":$(json_str "${METAMYSQL_CLUSTER_UID:-}"),\"path\":$(json_str "$BPATH"),\"flavor\":\"$FLAVOR\",\"serverVersion\":$(json_str "$version"),\"majorVersion\":\"$major\",\"gtidPosition\":$(json_str "$gtid"),\"sourceInstance\":\"$SOURCE_POD\",\"sourceRole\":\"$SOURCE_ROLE\",\"compression\":\"$COMPRESSION\",\"file\":\"$FILE\",\"sizeBytes\":$size,\"sha256\":\"$sum\",\"startedAt\":\"$started\",\"completedAt\":\"$(now)\"}"
  META="$(sign_meta "$META" "$SIGNING_KEY_FILE")" || fail "cannot sign meta.json"
  if [ "$STORAGE" = s3 ]; then
    printf '%s' "$META" >"$dir/meta.json.pending"
    log "dump done ($size bytes); the upload container publishes it"
    result "{\"state\":\"Running\",\"message\":\"dumped; uploading\"}"
    return 0
  fi
  printf '%s\n' "$META" >"$dir/.meta.json.partial" && sync "$dir/.meta.json.partial" 2>/dev/null; mv -f "$dir/.meta.json.partial" "$dir/meta.json" || fail "cannot write meta.json (disk full?)"
  retention
  log "completed: $BPATH ($size bytes, gtid $gtid)"
  result "{\"state\":\"Completed\",\"meta\":$META}"
}

upload() {
  local dir="$SCRATCH/out" err="$SCRATCH/upload.err"
  [ -f "$dir/meta.json.pending" ] || fail "no finished dump to upload"
  META="$(cat "$dir/meta.json.pending")"
  local file; file="$(sed -nE 's/.*"file":"([^"]+)".*/\1/p' <<<"$META")"
  BPATH="$(sed -nE 's/.*"path":"([^"]+)".*/\1/p' <<<"$META")"
  STEP="uploading to S3"
  if "${RCLONE[@]}" lsf "$S3_ROOT/$BPATH/meta.json" 2>/dev/null | grep -q meta.json; then fail "a completed backup already exists at $BPATH; refusing to overwrite it"; fi
  "${RCLONE[@]}" copyto "$dir/$file" "$S3_ROOT/$BPATH/$file" 2>"$err" || fail "upload to s3://${METAMYSQL_S3_BUCKET}/$BPATH failed: $(errtail "$err")"
  printf '%s\n' "$META" | "${RCLONE[@]}" rcat "$S3_ROOT/$BPATH/meta.json" 2>"$err" || fail "upload of meta.json failed: $(errtail "$err")"
  rm -rf "$dir"
  retention
  log "completed: s3://${METAMYSQL_S3_BUCKET}/$BPATH"
  result "{\"state\":\"Completed\",\"meta\":$META}"
}

retention() {
  # Only this cluster's own backups are ever removed: folders named <timestamp>-<its uid> (a
  # cluster of the same name with another uid, in the same bucket and folder, has other names;
  # folders of older operators, without a uid, are left alone). Names are read line by line
  # (IFS= read -r): no word splitting, no globbing.
  [ -n "${METAMYSQL_KEEP:-}" ] && [ -n "${METAMYSQL_BACKUP_DIR:-}" ] || return 0
  STEP="applying retention"
  local uid="${METAMYSQL_CLUSTER_UID:-}"
  if [ -z "$uid" ]; then log "retention: skipped (the cluster's uid is unknown)"; return 0; fi
  local d="$METAMYSQL_BACKUP_DIR" keep="$METAMYSQL_KEEP" x listing err="$SCRATCH/retention.err" n=0 newest=""
  local -a mine=() complete=()
  mkdir -p "$SCRATCH"
  if [ "$STORAGE" = s3 ]; then
    listing="$("${RCLONE[@]}" lsf -R --max-depth 2 "$S3_ROOT/$d/" 2>"$err")" || { log "retention: cannot list $d: $(errtail "$err")"; return 0; }
  else
    listing="$(cd "$PVC_ROOT/$d" && find . -mindepth 1 -maxdepth 2 \( -type d -printf '%P/\n' -o -type f -name meta.json -printf '%P\n' \))" || { log "retention: cannot list $d"; return 0; }
  fi
  while IFS= read -r x; do
    x="${x%/}"
    if ! [[ "$x" =~ ^[0-9]{8}T[0-9]{6}Z-(.*)$ ]] || [ "${BASH_REMATCH[1]}" != "$uid" ]; then continue; fi
    mine+=("$x")
    if grep -qxF "$x/meta.json" <<<"$listing"; then complete+=("$x"); fi
  done < <(grep -v '/.' <<<"$listing" | sort -ru)
  if [ "${#complete[@]}" -gt 0 ]; then newest="${complete[0]}"; fi
  for x in "${mine[@]}"; do
    if printf '%s\n' "${complete[@]}" | grep -qxF "$x"; then
      n=$((n + 1)); [ "$n" -le "$keep" ] && continue
    elif [ -z "$newest" ] || [[ "$x" > "$newest" ]]; then
      continue   # incomplete and newer (or nothing complete yet): possibly still being written
    fi
    log "retention: removing $d/$x"
    if [ "$STORAGE" = s3 ]; then "${RCLONE[@]}" purge "$S3_ROOT/$d/$x" || log "retention: cannot remove $d/$x"; else rm -rf "${PVC_ROOT:?}/${d:?}/${x:?}"; fi
  done
}

remove() {
  # deletionPolicy: Delete of a MySQLBackup: only a backup that meta.json says is this cluster's
  # (its uid). Another cluster's backup at the same path (a cluster of the same name in another
  # namespace, same bucket) is left alone, and so is a folder without meta.json.
  STEP="deleting the stored backup"
  local uid="${METAMYSQL_CLUSTER_UID:-}" meta="" err="$SCRATCH/remove.err" owner
  mkdir -p "$SCRATCH"
  if [ "$STORAGE" = s3 ]; then
    local found
    if ! found="$("${RCLONE[@]}" lsf "$S3_ROOT/$BPATH/" 2>"$err")"; then
      grep -qi "directory not found" "$err" || fail "cannot list s3://${METAMYSQL_S3_BUCKET}/$BPATH: $(errtail "$err")"
      found=""
    fi
    if grep -qx meta.json <<<"$found"; then
      meta="$("${RCLONE[@]}" cat "$S3_ROOT/$BPATH/meta.json" 2>"$err")" || fail "cannot read s3://${METAMYSQL_S3_BUCKET}/$BPATH/meta.json: $(errtail "$err")"
    fi
  elif [ -f "$PVC_ROOT/$BPATH/meta.json" ]; then
    meta="$(cat "$PVC_ROOT/$BPATH/meta.json")"
  fi
  if [ -z "$meta" ]; then log "nothing to delete at $BPATH (no meta.json)"; result "{\"state\":\"Deleted\",\"message\":\"no backup at $BPATH\"}"; return 0; fi
  owner="$(sed -nE 's/.*"clusterUID":"([^"]*)".*/\1/p' <<<"$meta" | head -n1)"
  if [ -z "$uid" ] || [ "$owner" != "$uid" ]; then
    log "not deleting $BPATH: its meta.json names cluster uid '${owner}', not this backup's cluster '${uid}'"
    result "{\"state\":\"Kept\",\"message\":$(json_str "kept the stored backup at $BPATH: it belongs to another cluster (uid ${owner:-unknown}, expected ${uid:-unknown})")}"
    return 0
  fi
  if [ "$STORAGE" = s3 ]; then "${RCLONE[@]}" purge "$S3_ROOT/$BPATH" 2>"$err" || fail "cannot delete s3://${METAMYSQL_S3_BUCKET}/$BPATH: $(errtail "$err")"; else rm -rf "${PVC_ROOT:?}/${BPATH:?}"; fi
  result "{\"state\":\"Deleted\"}"
}
case "${1:-}" in
  preflight) preflight; result "{\"state\":\"Running\"}";;
  dump) dump;;
  upload) upload;;
  remove) remove;;
  *) echo "usage: backup.sh preflight|dump|upload|remove" >&2; exit 2;;
esac
