#!/usr/bin/env bash
# hub/durability-enospc (registered by durability.cmake): the hub's store runs out of disk space
# under load and recovers by itself when space is freed.
# Usage: durability_enospc.sh /path/to/webim-broadcast /path/to/durability_client
#
# A tmpfs of 32 MiB holds the hub's --data. Publishers run (durability_client, 4 in flight); a
# filler file takes the rest of the space until publishes are answered `unavailable`; the filler is
# deleted and publishes must succeed again within 10 s, without a restart. Then (durability_check.mjs):
# every acked message is in history exactly once, in order, seq 1..N without gap; seq continues at
# the last ack + 1 after the failure; unavailable publishes retried with the same cid are stored
# once. Finally kill -9 and restart on the same data: the same checks hold.
# Skips (exit 77) when tmpfs cannot be mounted (not root, no CAP_SYS_ADMIN).
set -u
HUB=${1:?usage: durability_enospc.sh webim-broadcast durability_client}
CLIENT=${2:?usage: durability_enospc.sh webim-broadcast durability_client}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/webim-enospc.XXXXXX)
MNT=$WORK/mnt
APP=ipc://$WORK/app
PID=
CPID=
FAILED=0
MOUNTED=0

cleanup() {
  [[ -n "$CPID" ]] && kill "$CPID" 2>/dev/null
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; fi
  if [[ $FAILED -ne 0 ]]; then echo "--- hub log (tail) ---"; tail -50 "$WORK"/hub*.log 2>/dev/null; fi
  [[ $MOUNTED -eq 1 ]] && umount "$MNT" 2>/dev/null
  rm -rf "$WORK"
}
trap cleanup EXIT

source "$(dirname "${BASH_SOURCE[0]}")/hub_script.sh"  # fail, check, field, wait_ready
count() { grep -c " $1 " "$WORK/client.out" 2>/dev/null || true; }

mkdir -p "$MNT"
if ! mount -t tmpfs -o size=32m tmpfs "$MNT" 2>"$WORK/mount.err"; then
  echo "skipped: cannot mount tmpfs ($(cat "$WORK/mount.err"))"
  exit 77
fi
MOUNTED=1

start_hub() {  # start_hub LOGNAME
  "$HUB" --app-ingress "$APP" --hub-ingress "ipc://$WORK/fe" --hub-pub "ipc://$WORK/pub" \
    --data "$MNT/data" --log-level info --retention '' 2>"$WORK/$1" &
  PID=$!
  wait_ready "$WORK/$1"
}

wait_for() {  # wait_for DESCRIPTION SECONDS COMMAND...
  local what=$1 secs=$2; shift 2
  for _ in $(seq $((secs * 10))); do
    "$@" && return 0
    kill -0 "$PID" 2>/dev/null || fail "hub died while waiting for: $what"
    sleep 0.1
  done
  fail "$what: not within $secs s"
}

start_hub hub1.log
"$CLIENT" "$APP" room:disk d- 0 4 300 "$WORK/stop" >"$WORK/client.out" &
CPID=$!
wait_for "200 acks" 20 bash -c "[ \$(grep -c ' ok ' '$WORK/client.out') -ge 200 ]"
echo "ok - publishing ($(count ok) acks so far)"

dd if=/dev/zero of="$MNT/filler" bs=64k 2>/dev/null  # until ENOSPC
echo "ok - disk full: $(df -h "$MNT" | awk 'NR==2 {print $3 " used of " $2}')"
wait_for "20 publishes answered unavailable" 20 bash -c "[ \$(grep -c ' unavailable ' '$WORK/client.out') -ge 20 ]"
sleep 1
kill -0 "$PID" 2>/dev/null || fail "hub died on ENOSPC"
echo "ok - hub alive, answering unavailable ($(count unavailable) so far)"

acks_at_free=$(count ok)
rm -f "$MNT/filler"
start=$(date +%s%N)
wait_for "publishes succeed again after freeing space" 10 \
  bash -c "[ \$(grep -c ' ok ' '$WORK/client.out') -ge $((acks_at_free + 50)) ]"
echo "ok - publishes succeed again $(( ($(date +%s%N) - start) / 1000000 )) ms after the space was freed"
sleep 0.5
touch "$WORK/stop"
wait "$CPID"; CPID=
grep -q "writable again" "$WORK/hub1.log" || fail "no recovery line in the hub log"
grep -q "group commits succeed again" "$WORK/hub1.log" || fail "no 'succeed again' line in the hub log"

node "$HERE/durability_check.mjs" "$HUB" "$APP" room:disk "$WORK/client.out" | tee "$WORK/check1.out"
[[ ${PIPESTATUS[0]} -eq 0 ]] || fail "history check"
total=$(sed -n 's/^history //p' "$WORK/check1.out")

kill -9 "$PID"; wait "$PID" 2>/dev/null; PID=
start_hub hub2.log
node "$HERE/durability_check.mjs" "$HUB" "$APP" room:disk "$WORK/client.out" >"$WORK/check2.out" ||
  { cat "$WORK/check2.out"; fail "history check after kill -9"; }
[[ "$(sed -n 's/^history //p' "$WORK/check2.out")" == "$total" ]] || fail "history changed across kill -9"
echo "ok - after kill -9 and restart: the same $total messages, checks hold"
r=$("$HUB" request --app-ingress "$APP" '{"op":"pub","ch":"room:disk","cid":"final","data":1}')
[[ "$r" == *"\"seq\":$((total + 1))"* ]] || fail "seq after restart: $r (expected $((total + 1)))"
echo "ok - seq continues after restart ($((total + 1)))"
kill -TERM "$PID"; wait "$PID"; rc=$?; PID=
[[ $rc -eq 0 ]] || fail "hub exit code $rc"
echo "all durability-enospc checks passed"
