#!/usr/bin/env bash
# metamysql probes of the database container: `probe.sh readiness|liveness|prestop`.
# - readiness: the server answers the probes' account with the expected server_id (an instance
#   that is up but not configured is not ready);
# - liveness: the server process answers a ping;
# - prestop: wait (bounded) until the instance is read-only, so the operator can switch the
#   primary away before the server stops.
# shellcheck source=SCRIPTDIR/instance.sh
. "$(dirname "${BASH_SOURCE[0]}")/instance.sh"

# The probes' account (accounts.sh probe_sql) with this start's password (entrypoint.sh), for the
# client only (MYSQL_PWD of that one command, never on its command line): no password of the
# Secret, which the operator rotates online. A server started by an older version of these
# scripts has no probe account: the operator's password of that start (or, older still, of its
# environment) then.
query() {
  local pw user="$OPERATOR_USER"
  if [ -s "$APPLIED_CREDENTIALS_DIR/probe-password" ]; then
    pw="$(cat "$APPLIED_CREDENTIALS_DIR/probe-password")"
    user="${METAMYSQL_PROBE_USER:-metamysql_probe}"
  elif [ -f "$APPLIED_CREDENTIALS_DIR/operator-password" ]; then
    pw="$(cat "$APPLIED_CREDENTIALS_DIR/operator-password")"
  elif [ -n "${METAMYSQL_OPERATOR_PASSWORD:-}" ]; then
    pw="$METAMYSQL_OPERATOR_PASSWORD"
  else
    echo "no credentials yet (the entrypoint has not started the server)" >&2
    return 1
  fi
  MYSQL_PWD="$pw" "$CLIENT" --protocol=socket --socket="$SOCKET" -u"$user" \
    --connect-timeout=2 -N -B -e "$1"
}

case "${1:-}" in
  readiness)
    # Ready = the server answers (accounts converged) and has this pod's identity.
    id="$(query 'SELECT @@server_id')" || exit 1
    [ "$id" = "$SERVER_ID" ] || { echo "server_id is $id, expected $SERVER_ID" >&2; exit 1; }
    ;;
  liveness)
    # A rebuild was requested (src/agent/rebuild.ts: the extra transactions are saved): stop the
    # server so that the container restarts into the entrypoint's rebuild. While the entrypoint
    # waits for the clone (no server running) the container is alive.
    if [ -f "$DATA_DIR/.metamysql-rebuild" ]; then
      if [ -s "$RUN_DIR/mysqld.pid" ] && kill -0 "$(cat "$RUN_DIR/mysqld.pid")" 2>/dev/null && [ ! -f "$DATA_DIR/.metamysql-rebuild-ready" ]; then
        echo "rebuild requested: stopping the server" >&2
        kill -TERM "$(cat "$RUN_DIR/mysqld.pid")" 2>/dev/null || true
        exit 1
      fi
      exit 0
    fi
    # Alive = the server process answers at all (even "access denied" proves that).
    "$ADMIN" --protocol=socket --socket="$SOCKET" --connect-timeout=2 ping >/dev/null 2>&1 || exit 1
    ;;
  prestop)
    # Give the operator time to move the primary away: wait until this instance is read-only
    # (replicas are already), at most METAMYSQL_PRESTOP_WAIT_SECONDS (settings.env); never block a server that
    # is down.
    for _ in $(seq 1 "${METAMYSQL_PRESTOP_WAIT_SECONDS:?METAMYSQL_PRESTOP_WAIT_SECONDS must be set}"); do
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
