#!/usr/bin/env bash
# CTest load/scale: inboxes and rooms at scale through a hub kill -9 and a frontend restart.
#
# One hub and one frontend; `webim-bench hold` with 18,000 connections (users 1000000..1017999),
# each subscribed to its inbox and to two rooms of 100 (two partitions grouped differently). Three
# phases, each followed by the same check:
#   0  baseline
#   1  after kill -9 of the hub and a restart on the same data dir and endpoints; the messages go
#      out right after the restart (stored messages must reach their subscribers even before the
#      frontend has attached its inboxes again)
#   2  after the frontend is stopped (SIGTERM, clients get 1012) and started again with the same
#      --id and port; the messages go out as soon as it listens, while the bench reconnects every
#      connection and re-subscribes with since
# Each phase: 1,000 app pushes to random users' inboxes and one to each room (360), in one
# pipelined `webim-broadcast request -` batch, all acked; then, counted on the wire by the bench
# (its --report), within a bounded wait the cumulative deliveries must reach exactly the expected
# counts (inbox: the pushes sent; rooms: the members of every room written), with 0 duplicates,
# 0 gaps, 0 epoch changes, 0 resyncs, still exact a second later, and every connection subscribed.
# Prints one figure line per phase. Bounded: gives up at ~170 s; CTest TIMEOUT 240.
#   tests/load/scale.sh BENCH FRONTEND BROADCAST
# Knobs for development (the test uses the defaults): SCALE_CONNECTIONS, SCALE_INBOX_MSGS,
# SCALE_WAIT_S (per wait), SCALE_PHASES (default "0 1 2"; e.g. "0 2" skips the hub restart),
# KEEP_DIR=1 (keep the temp dir with the logs and the report).
set -euo pipefail
BENCH="$1" FRONTEND="$2" BROADCAST="$3"
N=${SCALE_CONNECTIONS:-18000}
INBOX_MSGS=${SCALE_INBOX_MSGS:-1000}
WAIT_S=${SCALE_WAIT_S:-60}
PHASES=${SCALE_PHASES:-0 1 2}
USER_BASE=1000000
ROOM_SIZE=100
PARTITIONS=2
BUDGET_S=170 # the whole test, so that it ends within 3 minutes
RUN_ID=scale
source "$(dirname "$0")/cluster.sh"
command -v node >/dev/null || { echo "scale: node is needed to read the bench's report" >&2; exit 2; }
cluster_init
START=$SECONDS
REPORT="$CLUSTER_DIR/report.json"
ROOMS=$(( (N + ROOM_SIZE - 1) / ROOM_SIZE )) # per partition

now() { date +%s.%N; }
secs_since() { awk -v a="$1" -v b="$(now)" 'BEGIN { printf "%.2f", b - a }'; }
left() { local l=$(( BUDGET_S - (SECONDS - START) )); [ "$l" -lt "$1" ] && echo "$l" || echo "$1"; }

diagnose() {
  echo "--- bench (last lines)" >&2; tail -5 "$CLUSTER_DIR/bench.log" >&2 || true
  echo "--- report" >&2; cat "$REPORT" >&2 || true
  echo "--- hub log (warnings, errors)" >&2
  grep -hiE 'warn|error|critical' "$CLUSTER_DIR"/hub*.log 2>/dev/null | tail -10 >&2 || true
  echo "--- frontend log (warnings, errors)" >&2
  grep -hiE 'warn|error|critical' "$CLUSTER_DIR"/fe*.log 2>/dev/null | tail -10 >&2 || true
}
fail() { echo "scale: FAIL $*" >&2; diagnose; exit 1; }

# The bench's report as shell words: subscribed reconnects resubscribed p50 p99 max
# inbox(msgs dups gaps epoch_changes resyncs not_recovered errors) room(the same) unexpected closes
snapshot() {
  node -e '
    const r = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
    const e = (o) => Object.values(o.errors).reduce((a, b) => a + b, 0);
    const k = (o) => [o.msgs, o.duplicates, o.gaps, o.epoch_changes, o.resyncs, o.not_recovered, e(o)];
    const closes = Object.entries(r.closes).filter(([, v]) => v > 0).map(([c, v]) => c + ":" + v).join(",") || "none";
    console.log([r.subscribed, r.reconnects, r.resubscribed, r.resubscribe_ms.p50, r.resubscribe_ms.p99,
      r.resubscribe_ms.max, ...k(r.inbox_wire), ...k(r.room_wire), r.unexpected_msgs, closes].join(" "));
  ' "$REPORT"
}
read_snapshot() {
  local line
  line=$(snapshot) || fail "cannot read the bench report $REPORT"
  read -r SUBSCRIBED RECONNECTS RESUBSCRIBED RP50 RP99 RMAX \
    I_MSGS I_DUPS I_GAPS I_EPOCH I_RESYNC I_NOTREC I_ERRS \
    R_MSGS R_DUPS R_GAPS R_EPOCH R_RESYNC R_NOTREC R_ERRS UNEXPECTED CLOSES <<<"$line"
}

# wait_subscribed SECONDS: until every connection has all its subs answered ok.
wait_subscribed() {
  local deadline=$(( SECONDS + $1 ))
  while [ $SECONDS -lt "$deadline" ]; do
    kill -0 "$BENCH_PID" 2>/dev/null || fail "webim-bench exited early"
    if [ -s "$REPORT" ]; then read_snapshot; [ "$SUBSCRIBED" -ge "$N" ] && return 0; fi
    sleep 0.5
  done
  return 1
}

# send_phase PHASE: INBOX_MSGS pushes to random users' inboxes and one message to each room, in
# one pipelined batch; every request must be acked.
send_phase() {
  local p=$1 req="$CLUSTER_DIR/phase$1.requests" out="$CLUSTER_DIR/phase$1.replies"
  {
    shuf -r -n "$INBOX_MSGS" -i "0-$((N - 1))" |
      awk -v p="$p" -v base="$USER_BASE" '{ printf "{\"op\":\"pub\",\"ch\":\"user:%d\",\"data\":{\"phase\":%d,\"n\":%d},\"from\":\"system\",\"cid\":\"scale-%d-i%d\"}\n", base + $1, p, NR, p, NR }'
    awk -v p="$p" -v rooms="$ROOMS" -v parts="$PARTITIONS" -v run="$RUN_ID" 'BEGIN {
      for (k = 0; k < parts; k++) for (r = 0; r < rooms; r++) {
        ch = k == 0 ? sprintf("room:%s-%d", run, r) : sprintf("room:%s-p%d-%d", run, k, r)
        printf "{\"op\":\"pub\",\"ch\":\"%s\",\"data\":{\"phase\":%d},\"from\":\"system\",\"cid\":\"scale-%d-%s\"}\n", ch, p, p, ch
      } }'
  } >"$req"
  local sent; sent=$(wc -l <"$req")
  # Exit 3: every request answered, some refused (reported below with the first refusal).
  "$BROADCAST" request --app-ingress "$APP_EP" --timeout-ms 15000 - <"$req" >"$out" || [ $? -eq 3 ] ||
    fail "phase $p: the app ingress did not answer every request ($(wc -l <"$out") of $sent replies)"
  local acked; acked=$(grep -c '"ok":true' "$out" || true)
  [ "$acked" -eq "$sent" ] || fail "phase $p: $acked of $sent publishes acked; first refusal: $(grep -v '"ok":true' "$out" | head -1)"
}

# check_phase PHASE NAME T0: waits (bounded) until the cumulative wire counts reach the expected
# ones and every connection is subscribed (or something irreparable shows: a duplicate, gap, epoch
# change, resync or a message on a channel not subscribed), then checks them exactly a second later.
check_phase() {
  local p=$1 name=$2 t0=$3
  local want_inbox=$(( INBOX_MSGS * (DONE + 1) )) want_room=$(( N * PARTITIONS * (DONE + 1) ))
  local wait; wait=$(left "$WAIT_S")
  local deadline=$(( SECONDS + wait )) done_after="" anomaly=""
  while [ $SECONDS -lt "$deadline" ]; do
    kill -0 "$BENCH_PID" 2>/dev/null || fail "phase $p ($name): webim-bench exited early"
    read_snapshot
    if [ $((I_DUPS + R_DUPS + I_GAPS + R_GAPS + I_EPOCH + R_EPOCH + I_RESYNC + R_RESYNC + UNEXPECTED)) -gt 0 ]; then
      anomaly=$(secs_since "$t0")
      break
    fi
    if [ "$I_MSGS" -ge "$want_inbox" ] && [ "$R_MSGS" -ge "$want_room" ] && [ "$SUBSCRIBED" -ge "$N" ]; then
      done_after=$(secs_since "$t0")
      break
    fi
    sleep 0.25
  done
  [ -z "$done_after$anomaly" ] || sleep 1
  read_snapshot
  local bad=""
  [ -n "$done_after" ] || [ -n "$anomaly" ] || bad+=" deliveries incomplete after ${wait} s;"
  [ -z "$anomaly" ] || bad+=" stopped waiting ${anomaly} s after the first send, on counts no later delivery can repair;"
  [ -n "$bad" ] || [ "$I_MSGS" -eq "$want_inbox" ] || bad+=" inbox deliveries $I_MSGS != $want_inbox;"
  [ -n "$bad" ] || [ "$R_MSGS" -eq "$want_room" ] || bad+=" room deliveries $R_MSGS != $want_room;"
  [ "$((I_DUPS + R_DUPS))" -eq 0 ] || bad+=" duplicates $((I_DUPS + R_DUPS));"
  [ "$((I_GAPS + R_GAPS))" -eq 0 ] || bad+=" gaps $((I_GAPS + R_GAPS));"
  [ "$((I_EPOCH + R_EPOCH))" -eq 0 ] || bad+=" epoch changes $((I_EPOCH + R_EPOCH));"
  [ "$((I_RESYNC + R_RESYNC))" -eq 0 ] || bad+=" resyncs $((I_RESYNC + R_RESYNC));"
  [ "$UNEXPECTED" -eq 0 ] || bad+=" msgs on channels not subscribed $UNEXPECTED;"
  [ "$SUBSCRIBED" -ge "$N" ] || bad+=" subscribed $SUBSCRIBED of $N;"
  if [ -n "$bad" ]; then
    fail "phase $p ($name):${bad%;}: this phase's $INBOX_MSGS inbox pushes gave $((I_MSGS - INBOX_MSGS * DONE)) msg frames of $INBOX_MSGS expected, its $((ROOMS * PARTITIONS)) room messages $((R_MSGS - N * PARTITIONS * DONE)) of $((N * PARTITIONS)) (one per member); cumulative, counted on the wire: inbox $I_MSGS of $want_inbox (dups $I_DUPS, gaps $I_GAPS, epoch changes $I_EPOCH, resyncs $I_RESYNC, not recovered $I_NOTREC, errors $I_ERRS); rooms $R_MSGS of $want_room (dups $R_DUPS, gaps $R_GAPS, epoch changes $R_EPOCH, resyncs $R_RESYNC, not recovered $R_NOTREC, errors $R_ERRS); subscribed $SUBSCRIBED of $N; unexpected msgs $UNEXPECTED; closes $CLOSES"
  fi
  echo "scale: phase $p ($name): $INBOX_MSGS inbox + $((ROOMS * PARTITIONS)) room messages acked in ${ACK_S} s; all $want_inbox inbox and $want_room room deliveries (cumulative) ${done_after} s after the first send, exact 1 s later; dups 0, gaps 0, epoch changes 0, resyncs 0; reconnects $RECONNECTS, resubscribed $RESUBSCRIBED (close -> subscribed again p50 ${RP50} ms, p99 ${RP99} ms, max ${RMAX} ms); closes $CLOSES"
}

run_phase() {
  local p=$1 name=$2 t0; t0=$(now)
  send_phase "$p"
  ACK_S=$(secs_since "$t0")
  check_phase "$p" "$name" "$t0"
  DONE=$((DONE + 1))
}
DONE=0 # phases checked so far
want() { case " $PHASES " in *" $1 "*) return 0;; *) return 1;; esac; }

PORT=$(free_port)
start_hub
start_frontends 1 "$PORT"
"$BENCH" hold --target "127.0.0.1:$PORT" --connections "$N" --user-base "$USER_BASE" --rooms "$PARTITIONS" \
  --room-size "$ROOM_SIZE" --run-id "$RUN_ID" --rate 6000 --duration 300 --secret-file "$SECRET_FILE" \
  --server-pids "${FRONTEND_PIDS[0]}" --hub-pid "$HUB_PID" --report "$REPORT" --out "$CLUSTER_DIR/bench.json" \
  --quiet 2>"$CLUSTER_DIR/bench.log" &
BENCH_PID=$!
CLUSTER_PIDS=("$BENCH_PID" "${CLUSTER_PIDS[@]}") # stopped first
t_ramp=$(now)
wait_subscribed "$(left 60)" || fail "ramp: only ${SUBSCRIBED:-0} of $N connections subscribed (inbox + $PARTITIONS rooms each) in time"
echo "scale: $N connections (users $USER_BASE..$((USER_BASE + N - 1))), each with its inbox and $PARTITIONS rooms of $ROOM_SIZE, subscribed in $(secs_since "$t_ramp") s"

if want 0; then
  run_phase 0 "baseline"
fi
if want 1; then
  t_hub=$(now)
  restart_hub_kill9 || fail "the hub did not restart on its data dir"
  echo "scale: hub killed (-9) and restarted in $(secs_since "$t_hub") s; sending right away"
  run_phase 1 "after hub kill -9 + restart"
fi
if want 2; then
  FE=${FRONTEND_PIDS[0]}
  t_fe=$(now)
  kill -TERM "$FE"
  for _ in $(seq 1 300); do kill -0 "$FE" 2>/dev/null || break; sleep 0.05; done
  kill -0 "$FE" 2>/dev/null && fail "the frontend did not exit within 15 s of SIGTERM"
  wait "$FE" 2>/dev/null || true
  forget_pid "$FE"
  stopped_after=$(secs_since "$t_fe")
  mv "$CLUSTER_DIR/fe1.log" "$CLUSTER_DIR/fe1-before-restart.log"
  start_frontends 1 "$PORT" || fail "the frontend did not start again"
  echo "scale: frontend stopped (SIGTERM; exited after ${stopped_after} s) and started again as fe1 on port $PORT, $(secs_since "$t_fe") s after the SIGTERM; sending right away"
  run_phase 2 "after frontend restart"
fi
echo "scale ok in $((SECONDS - START)) s"
