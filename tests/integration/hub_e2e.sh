#!/usr/bin/env bash
# End-to-end test of webim-broadcast through its app ingress (registered by hub.cmake).
# Usage: hub_e2e.sh /path/to/webim-broadcast [/path/to/hub_frontend_probe]
# Starts a real hub on ipc:// endpoints in a temp dir and drives it with `webim-broadcast request`:
# publish/sequence, idempotent retry, history, stats, malformed request, kill -9 + restart on the
# same data dir (seq and epoch continue), integers beyond 64 bits kept verbatim, SIGTERM exit 0,
# bad config exit 2.
set -u
HUB=${1:?usage: hub_e2e.sh /path/to/webim-broadcast [/path/to/hub_frontend_probe]}
PROBE=${2:-}
WORK=$(mktemp -d /tmp/webim-hub-e2e.XXXXXX)
APP=ipc://$WORK/app
PID=
FAILED=0

cleanup() {
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null; fi
  if [[ $FAILED -ne 0 ]]; then echo "--- hub log ---"; cat "$WORK"/hub*.log 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/hub_script.sh"  # fail, check, field, wait_ready
req() { "$HUB" request --app-ingress "$APP" --timeout-ms 3000 "$1"; }

start_hub() {  # start_hub LOGNAME
  "$HUB" --app-ingress "$APP" --hub-ingress "ipc://$WORK/fe" --hub-pub "ipc://$WORK/pub" \
    --data "$WORK/data" --log-level debug 2>"$WORK/$1" &
  PID=$!
  wait_ready "$WORK/$1"
}

start_hub hub1.log

DATA='{"text":"hello",  "n":12345678901234567890,"z":1,"a":[1, 2]}'
r1=$(req "{\"op\":\"pub\",\"ch\":\"room:a\",\"from\":\"php\",\"cid\":\"c1\",\"data\":$DATA}") || fail "pub 1: $r1"
check "first publish is seq 1" "$(field seq "$r1")" 1
EPOCH=$(field epoch "$r1")
[[ "$EPOCH" =~ ^[0-9a-f]{16}$ ]] || fail "epoch is not 16 hex digits: $r1"
r2=$(req '{"op":"pub","ch":"room:a","data":"second","cid":"c2"}') || fail "pub 2"
check "second publish is seq 2" "$(field seq "$r2")" 2
check "same epoch" "$(field epoch "$r2")" "$EPOCH"
r3=$(req "{\"op\":\"pub\",\"ch\":\"room:a\",\"from\":\"php\",\"cid\":\"c1\",\"data\":$DATA}") || fail "retry"
check "retry with the same cid gets the first seq" "$(field seq "$r3")" 1
check "retry keeps the epoch" "$(field epoch "$r3")" "$EPOCH"
r4=$(req '{"op":"pub","ch":"room:b","data":1,"from":"php","cid":"c1"}')
check "same cid for another channel" "$(field code "$r4")" bad_request

h=$(req '{"op":"hist","ch":"room:a","after":0,"limit":10}') || fail "hist"
check "hist ok" "$(field ok "$h")" true
check "history holds the message once" "$(grep -o '"op":"msg"' <<<"$h" | wc -l)" 2
grep -qF "\"data\":$DATA}" <<<"$h" || fail "data not verbatim in history: $h"
echo "ok - data relayed byte for byte"
check "hist more" "$(field more "$h")" false
hb=$(req '{"op":"hist","ch":"room:a","before":2}')
check "hist before 2 has one message" "$(grep -o '"op":"msg"' <<<"$hb" | wc -l)" 1

s=$(req '{"op":"stats"}') || fail "stats"
check "stats ok" "$(field ok "$s")" true
check "stats published" "$(field published "$s")" 2
check "stats channels" "$(field channels "$s")" 1
check "stats duplicates" "$(field duplicates "$s")" 1

bad=$(req '{"op":"pub","ch":"room:a","data":'); rc=$?
check "malformed JSON is bad_request" "$(field code "$bad")" bad_request
check "a refused request exits 3" "$rc" 3
batch=$(printf '%s\n' '{"op":"stats"}' '{"op":"nope"}' '{"op":"stats"}' | "$HUB" request --app-ingress "$APP" --timeout-ms 3000 -); rc=$?
check "a batch with a refused request exits 3" "$rc" 3
check "a batch prints every reply" "$(printf '%s\n' "$batch" | grep -c '"ok":')" 3
kicked=$(req '{"op":"kick","user":"42","reason":"test"}')
check "kick is accepted" "$kicked" '{"ok":true}'
bad=$(req '{"op":"kick","user":"42","code":1000}')
check "kick with a non-4xxx code is refused" "$(field code "$bad")" bad_request
ok=$(req '{"op":"stats"}'); rc=$?
check "hub still serves after malformed requests" "$(field ok "$ok")" true
check "an answered request exits 0" "$rc" 0

if [[ -n "$PROBE" ]]; then
  "$PROBE" "ipc://$WORK/fe" "ipc://$WORK/pub" room:fe || fail "frontend probe"
  "$PROBE" "ipc://$WORK/fe" "ipc://$WORK/pub" room:fe || fail "frontend probe on an existing channel"
  s=$(req '{"op":"stats"}')
  check "stats counts the frontend" "$(field frontends "$s")" 1
fi

kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
start_hub hub2.log
r5=$(req '{"op":"pub","ch":"room:a","data":{"after":"restart"},"cid":"c3"}') || fail "pub after restart"
check "seq continues after kill -9" "$(field seq "$r5")" 3
check "epoch kept across restart" "$(field epoch "$r5")" "$EPOCH"
r6=$(req "{\"op\":\"pub\",\"ch\":\"room:a\",\"from\":\"php\",\"cid\":\"c1\",\"data\":$DATA}")
check "dedup survives restart" "$(field seq "$r6")" 1
s=$(req '{"op":"stats"}')
check "channels counted from the store" "$(field channels "$s")" "$([[ -n "$PROBE" ]] && echo 2 || echo 1)"

# Integers beyond 64 bits (simdjson's DOM rejects them) are stored and relayed byte for byte.
BIG='{"n":123456789012345678901234567890,"z":[-0, 1E+2],"a":-987654321098765432109876543210}'
rb=$(req "{\"op\":\"pub\",\"ch\":\"room:big\",\"data\":$BIG,\"cid\":\"big1\"}") || fail "big-int pub: $rb"
check "pub with a 30-digit integer is accepted" "$(field seq "$rb")" 1
hbig=$(req '{"op":"hist","ch":"room:big","after":0}') || fail "big-int hist"
grep -qF "\"data\":$BIG}" <<<"$hbig" || fail "30-digit integer not verbatim in history: $hbig"
echo "ok - 30-digit integer comes back verbatim from hist"

kill -TERM "$PID"
for _ in $(seq 50); do kill -0 "$PID" 2>/dev/null || break; sleep 0.1; done
wait "$PID"; rc=$?; PID=
check "SIGTERM exits 0" "$rc" 0
grep -q "webim-broadcast stopped" "$WORK/hub2.log" || fail "no 'stopped' line"

out=$("$HUB" request --app-ingress "$APP" --timeout-ms 300 '{"op":"stats"}' 2>&1); rc=$?
check "request times out with exit 1" "$rc" 1
grep -q "no reply" <<<"$out" || fail "timeout message missing: $out"

printf 'app_ingress = "%s"\nbogus_key = 1\n' "$APP" >"$WORK/bad.toml"
out=$("$HUB" --config "$WORK/bad.toml" 2>&1); rc=$?
check "unknown config key exits 2" "$rc" 2
grep -q "unknown key 'bogus_key'" <<<"$out" || fail "unclear message: $out"
printf 'dedup_ttl = "long"\n' >"$WORK/bad2.toml"
out=$("$HUB" --config "$WORK/bad2.toml" 2>&1); rc=$?
check "wrong type exits 2" "$rc" 2
out=$("$HUB" --app-ingress "nonsense" --data "$WORK/data2" 2>&1); rc=$?
check "bad endpoint exits 2" "$rc" 2
[[ $(wc -l <<<"$out") -eq 1 ]] || fail "bad config should be one line: $out"
touch "$WORK/file"
out=$("$HUB" --app-ingress "$APP" --hub-ingress "ipc://$WORK/fe" --hub-pub "ipc://$WORK/pub" \
  --data "$WORK/file/db" 2>&1); rc=$?
check "unwritable data dir exits 2" "$rc" 2
echo "all hub e2e checks passed"
