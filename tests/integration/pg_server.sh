#!/usr/bin/env bash
# A throwaway PostgreSQL server for tests and benchmarks (used by postgres.cmake's CTest fixture,
# tests/unit/history_store_test.cpp and tests/bench/hub_bench.cpp).
#
# Usage: pg_server.sh start DIR   initdb + pg_ctl start in DIR (created; owned by the server user),
#                                 listening only on a unix socket in DIR; writes DIR/dsn (a libpq
#                                 connection string for the superuser `webim`, database `postgres`)
#        pg_server.sh stop DIR    pg_ctl stop (fast) and remove DIR
# Exit codes: 0 ok; 77 PostgreSQL server binaries not found (prints "postgres binaries not found",
# the tests' skip message); 1 anything else.
# Environment: WEBIM_PG_BIN (directory of initdb/pg_ctl; default the newest /usr/lib/postgresql/*/bin
#   or whatever is on PATH); extra `postgres -c` settings in WEBIM_PG_OPTS (e.g. "-c fsync=off").
# initdb refuses to run as root: as root the server runs as the `postgres` user (runuser).
# Settings: fsync=on and synchronous_commit=on (PostgreSQL's defaults), so a commit is durable.
set -euo pipefail

cmd=${1:-}
DIR=${2:-}
if [[ -z "$cmd" || -z "$DIR" ]]; then
  echo "usage: pg_server.sh start|stop DIR" >&2
  exit 1
fi

find_bin() {
  if [[ -n "${WEBIM_PG_BIN:-}" && -x "$WEBIM_PG_BIN/initdb" ]]; then echo "$WEBIM_PG_BIN"; return 0; fi
  local d
  for d in $(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V -r); do
    [[ -x "$d/initdb" && -x "$d/pg_ctl" ]] && { echo "$d"; return 0; }
  done
  if command -v initdb >/dev/null && command -v pg_ctl >/dev/null; then
    dirname "$(command -v initdb)"; return 0
  fi
  return 1
}

if ! BIN=$(find_bin); then
  echo "pg_server.sh: postgres binaries not found (install Debian's postgresql package); skipping" >&2
  echo "postgres binaries not found"
  exit 77
fi

if [[ $EUID -eq 0 ]]; then
  id postgres >/dev/null 2>&1 || { echo "pg_server.sh: running as root and no 'postgres' user" >&2; exit 1; }
  as_pg() { runuser -u postgres -- "$@"; }
  OWNER=postgres
else
  as_pg() { "$@"; }
  OWNER=$(id -un)
fi

case "$cmd" in
  start)
    mkdir -p "$DIR"
    DIR=$(cd "$DIR" && pwd)
    if [[ -f "$DIR/data/postmaster.pid" ]]; then  # a leftover from an aborted run
      as_pg "$BIN/pg_ctl" -D "$DIR/data" stop -m immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR/data" "$DIR/dsn"
    chown "$OWNER" "$DIR"
    chmod 0755 "$DIR"
    as_pg "$BIN/initdb" -D "$DIR/data" -U webim -A trust -E UTF8 --locale=C.UTF-8 --no-instructions \
      >"$DIR/initdb.log" 2>&1 || { cat "$DIR/initdb.log" >&2; exit 1; }
    # Unix socket only (no TCP port to collide with); the port number only names the socket file.
    # shellcheck disable=SC2086 # WEBIM_PG_OPTS is a list of options
    as_pg "$BIN/pg_ctl" -D "$DIR/data" -l "$DIR/server.log" -w -t 60 \
      -o "-k $DIR -c listen_addresses= -p 5432 -c fsync=on -c synchronous_commit=on ${WEBIM_PG_OPTS:-}" start \
      >/dev/null || { cat "$DIR/server.log" >&2; exit 1; }
    echo "host=$DIR port=5432 user=webim dbname=postgres" >"$DIR/dsn"
    cat "$DIR/dsn"
    ;;
  stop)
    if [[ -d "$DIR/data" ]]; then
      as_pg "$BIN/pg_ctl" -D "$DIR/data" stop -m fast -w >/dev/null 2>&1 ||
        as_pg "$BIN/pg_ctl" -D "$DIR/data" stop -m immediate >/dev/null 2>&1 || true
    fi
    rm -rf "$DIR"
    ;;
  *)
    echo "usage: pg_server.sh start|stop DIR" >&2
    exit 1
    ;;
esac
