#!/usr/bin/env bash
# hub/retention (registered by durability.cmake): a hub with a tiny retention limit.
# Usage: retention_e2e.sh /path/to/webim-broadcast
# Publish 20 to room:r (rule room:*=5/-), the hub's retention pass keeps the last 5: hist returns
# 16..20, the meta survives (seq continues at 21, same epoch), the dedup record of a trimmed message
# survives (a retry of cid r1 still answers seq 1), a channel no rule matches keeps everything, and a
# bad rule is a config error (exit 2).
set -u
HUB=${1:?usage: retention_e2e.sh /path/to/webim-broadcast}
WORK=$(mktemp -d /tmp/webim-retention.XXXXXX)
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
seqs() { grep -o '"seq":[0-9]*' <<<"$1" | cut -d: -f2 | tr '\n' ' ' | sed 's/ $//'; }

printf 'retention = ["room:*=5/-", "user:*=-/30d"]\nretention_interval = 1\n' >"$WORK/hub.toml"
"$HUB" --config "$WORK/hub.toml" --app-ingress "$APP" --hub-ingress "ipc://$WORK/fe" --hub-pub "ipc://$WORK/pub" \
  --data "$WORK/data" --log-level debug 2>"$WORK/hub.log" &
PID=$!
for _ in $(seq 100); do grep -q "webim-broadcast ready" "$WORK/hub.log" && break; sleep 0.1; done
grep -q "webim-broadcast ready" "$WORK/hub.log" || fail "hub not ready"

for i in $(seq 1 20); do
  r=$(req "{\"op\":\"pub\",\"ch\":\"room:r\",\"cid\":\"r$i\",\"data\":{\"i\":$i}}") || fail "pub $i"
  [[ "$(field seq "$r")" == "$i" ]] || fail "pub $i: $r"
  req "{\"op\":\"pub\",\"ch\":\"other:r\",\"cid\":\"o$i\",\"data\":{\"i\":$i}}" >/dev/null || fail "pub other $i"
done
EPOCH=$(field epoch "$r")
echo "ok - 20 publishes to room:r and other:r"

for _ in $(seq 50); do
  h=$(req '{"op":"hist","ch":"room:r","after":0,"limit":200}')
  [[ "$(seqs "$h")" == "16 17 18 19 20" ]] && break
  sleep 0.1
done
check "retention keeps the last 5 (hist after 0)" "$(seqs "$h")" "16 17 18 19 20"
check "hist more" "$(field more "$h")" false
h=$(req '{"op":"hist","ch":"room:r","before":18,"limit":200}')
check "hist before 18 starts at the oldest kept" "$(seqs "$h")" "16 17"
h=$(req '{"op":"hist","ch":"other:r","after":0,"limit":200}')
check "a channel without a rule keeps everything" "$(grep -o '"op":"msg"' <<<"$h" | wc -l)" 20
r=$(req '{"op":"pub","ch":"room:r","cid":"r21","data":{"i":21}}')
check "seq continues after retention" "$(field seq "$r")" 21
check "epoch kept" "$(field epoch "$r")" "$EPOCH"
r=$(req '{"op":"pub","ch":"room:r","cid":"r1","data":{"i":1}}')
check "dedup outlives retention: retry of r1 answers seq 1" "$(field seq "$r")" 1
for _ in $(seq 50); do
  h=$(req '{"op":"hist","ch":"room:r","after":0,"limit":200}')
  [[ "$(seqs "$h")" == "17 18 19 20 21" ]] && break
  sleep 0.1
done
check "the next pass trims again" "$(seqs "$h")" "17 18 19 20 21"
grep -q "retention pass:" "$WORK/hub.log" || fail "no retention pass logged"
kill -TERM "$PID"; wait "$PID"; rc=$?; PID=
check "SIGTERM exits 0" "$rc" 0

out=$("$HUB" --retention 'room:*=0/1d' --data "$WORK/data2" 2>&1); rc=$?
check "a bad retention rule exits 2" "$rc" 2
grep -q "retention: 'room:\*=0/1d'" <<<"$out" || fail "unclear message: $out"
printf 'retention = "room:*=5/-"\n' >"$WORK/bad.toml"
out=$("$HUB" --config "$WORK/bad.toml" 2>&1); rc=$?
check "retention must be an array" "$rc" 2
echo "all retention checks passed"
