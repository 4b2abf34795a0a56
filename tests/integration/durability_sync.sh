#!/usr/bin/env bash
# hub/durability-sync (registered by durability.cmake): no ack leaves the hub before the WAL sync
# that covers the acked message. kill -9 keeps the page cache, so a restart test alone cannot show
# a missing sync; this one counts and orders the syncs.
# Usage: durability_sync.sh webim-broadcast durability_client libwebim_sync_shim.so
#
# The hub runs with LD_PRELOAD=sync_shim (sync_shim.c): every write to a RocksDB WAL file is logged
# with the publish cids it carried, every fdatasync/fsync of a WAL file with its start and end, in
# one exactly ordered sequence with CLOCK_MONOTONIC timestamps; each WAL sync is slowed by 5 ms,
# so an ack sent before its sync ended would reach the client before the sync's end. A client
# publishes 3000 messages with 64 in flight and timestamps each send and ack (same clock).
# durability_sync_check.mjs then requires, for every ack: write -> sync start -> sync end -> ack
# received, and syncs <= group commits < acks. Negative control: the same run on a hub with
# --no-sync must fail the check (the test can see a missing sync).
set -u
HUB=${1:?usage: durability_sync.sh webim-broadcast durability_client libwebim_sync_shim.so}
CLIENT=${2:?}
SHIM=${3:?}
HERE=$(cd "$(dirname "$0")" && pwd)
WORK=$(mktemp -d /tmp/webim-sync.XXXXXX)
APP=ipc://$WORK/app
PID=
FAILED=0
MAX_BATCH=1024
cleanup() {
  if [[ -n "$PID" ]] && kill -0 "$PID" 2>/dev/null; then kill -9 "$PID" 2>/dev/null; fi
  if [[ $FAILED -ne 0 ]]; then echo "--- hub log ---"; tail -30 "$WORK"/hub*.log 2>/dev/null; fi
  rm -rf "$WORK"
}
trap cleanup EXIT
source "$(dirname "${BASH_SOURCE[0]}")/hub_script.sh"  # fail, check, field, wait_ready

run() {  # run NAME [hub flags...]: hub under the shim, 3000 publishes, leaves $WORK/NAME.{shim,client,commits}
  local name=$1; shift
  WEBIM_SHIM_LOG="$WORK/$name.shim" WEBIM_SHIM_DIR="$WORK/$name-data/" WEBIM_SHIM_SYNC_DELAY_US=5000 \
    LD_PRELOAD="$SHIM" "$HUB" --app-ingress "$APP" --hub-ingress "ipc://$WORK/fe" --hub-pub "ipc://$WORK/pub" \
    --data "$WORK/$name-data" --max-batch $MAX_BATCH --retention '' --log-level info "$@" 2>"$WORK/hub-$name.log" &
  PID=$!
  for _ in $(seq 100); do grep -q "webim-broadcast ready" "$WORK/hub-$name.log" && break; sleep 0.1; done
  grep -q "webim-broadcast ready" "$WORK/hub-$name.log" || fail "hub not ready"
  "$CLIENT" "$APP" room:sync dsync- 3000 64 100 >"$WORK/$name.client" || fail "client"
  s=$("$HUB" request --app-ingress "$APP" '{"op":"stats"}') || fail "stats"
  field commits "$s" >"$WORK/$name.commits"
  kill -TERM "$PID"; wait "$PID"; local rc=$?; PID=
  [[ $rc -eq 0 ]] || fail "hub exit code $rc"
  [[ -s "$WORK/$name.shim" ]] || { echo "skipped: the shim logged nothing (LD_PRELOAD not honoured?)"; exit 77; }
}

run synced
[[ $(grep -c ' ok ' "$WORK/synced.client") -eq 3000 ]] || fail "not every publish was acked"
node "$HERE/durability_sync_check.mjs" "$WORK/synced.shim" "$WORK/synced.client" "$(cat "$WORK/synced.commits")" $MAX_BATCH ||
  fail "an ack left before its sync (see above)"

run unsynced --no-sync
if out=$(node "$HERE/durability_sync_check.mjs" "$WORK/unsynced.shim" "$WORK/unsynced.client" \
           "$(cat "$WORK/unsynced.commits")" $MAX_BATCH); then
  echo "$out"; fail "negative control: the check passed on a hub with --no-sync"
fi
echo "ok - negative control: with --no-sync the check fails ($(grep -m1 -o 'FAIL: .*' <<<"$out"))"
echo "all durability-sync checks passed"
