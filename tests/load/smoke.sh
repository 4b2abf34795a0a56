#!/usr/bin/env bash
# CTest smoke test for webim-bench: a hub + one frontend, `idle` with 200 connections, then
# `fanout` for 3 s; asserts zero drops/gaps, that the JSON results are written, and that fanout
# reports the hub's CPU apart and the publish->ack latency. < 30 s.
set -euo pipefail
BENCH="$1" FRONTEND="$2" BROADCAST="$3"
source "$(dirname "$0")/cluster.sh"
cluster_init
PORT=$(free_port)
start_hub
start_frontends 1 "$PORT"
FE=$(join_pids "${FRONTEND_PIDS[@]}")
OUT="$CLUSTER_DIR"
timeout 20 "$BENCH" idle --target "127.0.0.1:$PORT" --connections 200 --room-size 20 --rate 2000 \
  --secret-file "$SECRET_FILE" --server-pids "$FE" --hub-pid "$HUB_PID" --out "$OUT/idle.json" --quiet
timeout 25 "$BENCH" fanout --target "127.0.0.1:$PORT" --connections 200 --room-size 20 --rate 2000 \
  --pub-rate 200 --duration 3 --secret-file "$SECRET_FILE" --server-pids "$FE" --hub-pid "$HUB_PID" \
  --out "$OUT/fanout.json" --quiet
grep -q '"connections_held": 200' "$OUT/idle.json" || { echo "idle: not all 200 held"; cat "$OUT/idle.json"; exit 1; }
grep -q '"drops": 0,' "$OUT/fanout.json" || { echo "fanout: drops"; cat "$OUT/fanout.json"; exit 1; }
grep -q '"gaps": 0,' "$OUT/fanout.json" || { echo "fanout: gaps"; exit 1; }
grep -qE '"deliveries_per_s": [1-9]' "$OUT/fanout.json" || { echo "fanout: no deliveries"; cat "$OUT/fanout.json"; exit 1; }
# The hub's share and the publish->ack latency (bench-compare, bench-disk-pressure read them).
grep -qE '"hub_cpu_seconds": [0-9]' "$OUT/fanout.json" || { echo "fanout: no hub CPU"; cat "$OUT/fanout.json"; exit 1; }
grep -qE '"deliveries_per_frontend_cpu_s": [1-9]' "$OUT/fanout.json" || { echo "fanout: no frontend-only rate"; exit 1; }
grep -qE '"ack_us_p99": [1-9]' "$OUT/fanout.json" || { echo "fanout: no ack latency"; cat "$OUT/fanout.json"; exit 1; }
echo "smoke ok"
