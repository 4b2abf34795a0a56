#!/usr/bin/env bash
# The hub on PostgreSQL (registered by postgres.cmake, which starts the server: WEBIM_TEST_PG_DIR).
# Usage: hub_postgres_e2e.sh /path/to/webim-broadcast
# Publishes through the app ingress with `webim-broadcast request`, kill -9, restart on the same
# database: seq and epoch continue, dedup survives, history complete. Also: --store postgres without
# --pg-dsn and with an unreachable server exit 2 with one clear line.
set -u
HUB=${1:?usage: hub_postgres_e2e.sh /path/to/webim-broadcast}
PGDIR=${WEBIM_TEST_PG_DIR:?WEBIM_TEST_PG_DIR is not set (run through ctest)}
if [[ ! -f "$PGDIR/dsn" ]]; then echo "postgres binaries not found: skipped"; exit 0; fi
WORK=$(mktemp -d /tmp/webim-hub-pg-e2e.XXXXXX)
SCHEMA="e2e_$$_$RANDOM"
DSN="$(cat "$PGDIR/dsn") options='-c search_path=$SCHEMA'"
APP=ipc://$WORK/app
PID=
FAILED=0
PSQL=$(ls -d /usr/lib/postgresql/*/bin 2>/dev/null | sort -V | tail -1)/psql
[[ -x "$PSQL" ]] || PSQL=psql

cleanup() {
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null; fi
  if [[ $FAILED -ne 0 ]]; then echo "--- hub log ---"; cat "$WORK"/hub*.log 2>/dev/null; fi
  "$PSQL" -q "$(cat "$PGDIR/dsn")" -c "SET client_min_messages TO warning; DROP SCHEMA IF EXISTS $SCHEMA CASCADE" >/dev/null 2>&1
  rm -rf "$WORK"
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/hub_script.sh"  # fail, check, field, wait_ready
req() { "$HUB" request --app-ingress "$APP" --timeout-ms 5000 "$1"; }

"$PSQL" -q "$(cat "$PGDIR/dsn")" -c "CREATE SCHEMA $SCHEMA" || fail "cannot create schema"

start_hub() {  # start_hub LOGNAME
  "$HUB" --app-ingress "$APP" --hub-ingress "ipc://$WORK/fe" --hub-pub "ipc://$WORK/pub" \
    --store postgres --pg-dsn "$DSN" --log-level debug 2>"$WORK/$1" &
  PID=$!
  wait_ready "$WORK/$1" 15
}

start_hub hub1.log
grep -q "store=postgres" "$WORK/hub1.log" || fail "ready line does not name the store"
r1=$(req '{"op":"pub","ch":"room:a","from":"php","cid":"c1","data":{"n":1}}') || fail "pub 1"
check "first publish is seq 1" "$(field seq "$r1")" 1
EPOCH=$(field epoch "$r1")
[[ "$EPOCH" =~ ^[0-9a-f]{16}$ ]] || fail "epoch is not 16 hex digits: $r1"
for i in $(seq 2 20); do
  r=$(req "{\"op\":\"pub\",\"ch\":\"room:a\",\"from\":\"php\",\"cid\":\"c$i\",\"data\":{\"n\":$i}}") || fail "pub $i"
  [[ "$(field seq "$r")" == "$i" ]] || fail "publish $i got $r"
done
echo "ok - 20 publishes, seq 1..20"
r=$(req '{"op":"pub","ch":"room:a","from":"php","cid":"c1","data":{"n":1}}')
check "retry with the same cid gets the first seq" "$(field seq "$r")" 1

kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
start_hub hub2.log
r=$(req '{"op":"pub","ch":"room:a","from":"php","cid":"c21","data":{"n":21}}') || fail "pub after restart"
check "seq continues after kill -9" "$(field seq "$r")" 21
check "epoch kept across restart" "$(field epoch "$r")" "$EPOCH"
r=$(req '{"op":"pub","ch":"room:a","from":"php","cid":"c7","data":{"n":7}}')
check "dedup survives restart" "$(field seq "$r")" 7
h=$(req '{"op":"hist","ch":"room:a","after":0,"limit":200}') || fail "hist"
check "history complete after restart" "$(grep -o '"op":"msg"' <<<"$h" | wc -l)" 21
for i in 1 11 21; do grep -qF "\"data\":{\"n\":$i}" <<<"$h" || fail "message $i missing from history: $h"; done
echo "ok - history holds every message verbatim"
check "hist more" "$(field more "$h")" false
s=$(req '{"op":"stats"}')
check "channels counted from the store" "$(field channels "$s")" 1
kill -TERM "$PID"; wait "$PID"; rc=$?; PID=
check "SIGTERM exits 0" "$rc" 0

out=$("$HUB" --app-ingress "$APP" --store postgres 2>&1); rc=$?
check "postgres without --pg-dsn exits 2" "$rc" 2
grep -q "pg_dsn" <<<"$out" || fail "unclear message: $out"
out=$("$HUB" --app-ingress "$APP" --store postgres --pg-dsn "host=$WORK/nowhere connect_timeout=2" 2>&1); rc=$?
check "unreachable server exits 2" "$rc" 2
[[ $(wc -l <<<"$out") -eq 1 ]] || fail "should be one line: $out"
grep -q "cannot connect to PostgreSQL" <<<"$out" || fail "unclear message: $out"
out=$("$HUB" --app-ingress "$APP" --store mysql 2>&1); rc=$?
check "unknown store exits 2" "$rc" 2
echo "all hub postgres e2e checks passed"
