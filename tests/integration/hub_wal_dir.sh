#!/usr/bin/env bash
# The RocksDB WAL in its own directory (wal_dir; docs/durability.md "Disk layout"), registered by
# hub.cmake. Usage: hub_wal_dir.sh /path/to/webim-broadcast
# A real hub with --wal-dir and the other I/O options set takes a stream of publishes (3,000, one
# `webim-broadcast request -` connection, up to 256 in flight) and is killed with -9 in the middle:
# the WAL files are in the WAL directory and none in the data directory; after a restart with the
# same flags every acknowledged publish is in the history (seq and data), and the seqs continue.
# Started without its wal_dir while the WAL holds data, the hub refuses (exit 2); once the files
# are moved to the data directory it opens with everything.
set -u
HUB=${1:?usage: hub_wal_dir.sh /path/to/webim-broadcast}
WORK=$(mktemp -d "${TMPDIR:-/tmp}/webim-hub-wal.XXXXXX")
APP=ipc://$WORK/app
PID=
GEN=
FAILED=0
N=3000
CHANNELS=20

cleanup() {
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null; fi
  if [[ -n "$GEN" ]] && kill -0 "$GEN" 2>/dev/null; then kill -9 "$GEN" 2>/dev/null; fi
  if [[ $FAILED -ne 0 ]]; then echo "--- hub log ---"; cat "$WORK"/hub*.log 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/hub_script.sh"  # fail, check, field, wait_ready
req() { "$HUB" request --app-ingress "$APP" --timeout-ms 3000 "$1"; }

start_hub() {  # start_hub LOGNAME
  "$HUB" --app-ingress "$APP" --hub-ingress "ipc://$WORK/fe" --hub-pub "ipc://$WORK/pub" \
    --data "$WORK/data" --wal-dir "$WORK/wal" --io-rate-limit 16777216 --bytes-per-sync 1048576 \
    --wal-bytes-per-sync 1048576 --log-level info 2>"$WORK/$1" &
  PID=$!
  wait_ready "$WORK/$1"
}

start_hub hub1.log
# The publishes trickle in (a pause every 50) so that the kill lands in the middle of the stream.
for i in $(seq 0 $((N - 1))); do
  echo "{\"op\":\"pub\",\"ch\":\"room:w$((i % CHANNELS))\",\"from\":\"t\",\"cid\":\"w$i\",\"data\":{\"i\":$i}}"
  if (( i % 50 == 49 )); then sleep 0.02; fi
done | "$HUB" request --app-ingress "$APP" --timeout-ms 1000 - >"$WORK/acks" 2>"$WORK/request.err" &
GEN=$!
for _ in $(seq 200); do
  n=$(grep -c '"seq"' "$WORK/acks" 2>/dev/null)
  [[ "${n:-0}" -ge 300 ]] && break
  sleep 0.05
done
# The replies reach the file in batches: count the WAL files while the stream runs.
wal_files=$(find "$WORK/wal" -maxdepth 1 -name '*.log' | wc -l)
data_wal_files=$(find "$WORK/data" -maxdepth 1 -name '*.log' | wc -l)
kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
# The client times out on what is in flight, but a send to a hub that is gone may block it for good
# (its DEALER has no peer): give it 3 s, then stop it. Lines it wrote are acknowledged publishes.
for _ in $(seq 30); do kill -0 "$GEN" 2>/dev/null || break; sleep 0.1; done
kill -TERM "$GEN" 2>/dev/null; wait "$GEN" 2>/dev/null; GEN=
[[ "$wal_files" -ge 1 ]] || fail "no WAL file (*.log) in the WAL directory: $(ls "$WORK/wal" 2>&1)"
echo "ok - the WAL is in the WAL directory ($wal_files file(s))"
check "no WAL file in the data directory" "$data_wal_files" 0
acked=$(grep -c '"seq"' "$WORK/acks")
[[ "$acked" -ge 300 && "$acked" -lt "$N" ]] || fail "the kill should land mid-stream: $acked of $N acknowledged"
echo "ok - killed with -9 after $acked of $N publishes were acknowledged"

start_hub hub2.log
: >"$WORK/hist"
for c in $(seq 0 $((CHANNELS - 1))); do
  after=0
  while :; do
    h=$(req "{\"op\":\"hist\",\"ch\":\"room:w$c\",\"after\":$after,\"limit\":200}") || fail "hist room:w$c: $h"
    echo "$h" | grep -o '"seq":[0-9]*,[^{]*"data":{"i":[0-9]*}' >>"$WORK/hist"
    grep -q '"more":true' <<<"$h" || break
    after=$(echo "$h" | grep -o '"seq":[0-9]*' | tail -1 | cut -d: -f2)
  done
done
# Line k of the replies answers publish k (input order): each acknowledged one must be stored.
awk '/"seq"/ { print "\"data\":{\"i\":" NR - 1 "}" }' "$WORK/acks" >"$WORK/want"
found=$(grep -o -F -f "$WORK/want" "$WORK/hist" | sort -u | wc -l)
check "every acknowledged publish is in the history after kill -9 + restart" "$found" "$acked"
r=$(req '{"op":"pub","ch":"room:w0","from":"t","cid":"after","data":{"after":true}}') || fail "pub after restart: $r"
[[ $(sed -n 's/.*"seq":\([0-9]*\).*/\1/p' <<<"$r") -gt 0 ]] || fail "no seq after restart: $r"
echo "ok - publishes continue after the restart ($(wc -l <"$WORK/hist") messages stored before)"
wal_files=$(find "$WORK/wal" -maxdepth 1 -name '*.log' | wc -l)
data_wal_files=$(find "$WORK/data" -maxdepth 1 -name '*.log' | wc -l)
[[ "$wal_files" -ge 1 ]] || fail "no WAL file in the WAL directory after the restart"
check "still no WAL file in the data directory after the restart" "$data_wal_files" 0
kill -TERM "$PID"; wait "$PID"; rc=$?; PID=
check "SIGTERM exits 0" "$rc" 0
# Opened without its wal_dir, RocksDB would replay none of the WAL and drop what is only there:
# the hub refuses (bad config, exit 2) until the files are moved.
out=$("$HUB" --app-ingress "$APP" --hub-ingress "ipc://$WORK/fe" --hub-pub "ipc://$WORK/pub" --data "$WORK/data" 2>&1); rc=$?
check "wal_dir dropped while the WAL holds data: exit 2" "$rc" 2
grep -q "WAL files (\*.log) are in $WORK/wal" <<<"$out" || fail "unclear message: $out"
mv "$WORK"/wal/*.log "$WORK/data/"
"$HUB" --app-ingress "$APP" --hub-ingress "ipc://$WORK/fe" --hub-pub "ipc://$WORK/pub" --data "$WORK/data" \
  --log-level info 2>"$WORK/hub3.log" &
PID=$!
for _ in $(seq 100); do grep -q "webim-broadcast ready" "$WORK/hub3.log" && break; sleep 0.1; done
h=$(req '{"op":"hist","ch":"room:w0","before":1000000,"limit":1}') || fail "hist after the move: $h"
check "after moving the WAL back, room:w0 ends with the publish made after the restart" \
  "$(grep -o '"seq":[0-9]*,[^{]*"data":{"after":true}' <<<"$h" | cut -d, -f1)" "$(grep -o '"seq":[0-9]*' <<<"$r")"
kill -TERM "$PID"; wait "$PID"; PID=
echo "all hub wal_dir checks passed"
