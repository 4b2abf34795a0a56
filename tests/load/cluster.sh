# Shared by scripts/bench-memory, scripts/bench-compare, scripts/million and tests/load/smoke.sh:
# starts a webim hub and frontends (or the Node ws server) in a temp dir, stops them on exit.
# Source it; set WEBIM_BUILD (default: build-load under the repo) or FRONTEND/BROADCAST/BENCH.
# CLUSTER_TMPDIR: where the temp dir (hub store, sockets, logs) goes (default /tmp; put it on the
# disk to measure when the hub syncs). HUB_SYNC=1: the hub fsyncs every group commit (default: --no-sync).
# Every wait is bounded; cluster_stop kills only the pids it started (and has not forgotten).

LOAD_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
WEBIM_BUILD="${WEBIM_BUILD:-$LOAD_ROOT/build-load}"
FRONTEND="${FRONTEND:-$WEBIM_BUILD/frontend/webim-frontend}"
BROADCAST="${BROADCAST:-$WEBIM_BUILD/broadcast/webim-broadcast}"
BENCH="${BENCH:-$WEBIM_BUILD/tests/load/webim-bench}"
CLUSTER_PIDS=()
FRONTEND_PIDS=()
HUB_PID=""

cluster_init() {
  for b in "$FRONTEND" "$BROADCAST" "$BENCH"; do
    [ -x "$b" ] || { echo "missing binary $b (build: ninja -C $WEBIM_BUILD)" >&2; exit 2; }
  done
  mkdir -p "${CLUSTER_TMPDIR:-/tmp}"
  CLUSTER_DIR="$(mktemp -d "${CLUSTER_TMPDIR:-/tmp}/webim-load.XXXXXX")"
  SECRET_FILE="$CLUSTER_DIR/secret"
  head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$SECRET_FILE"; echo >> "$SECRET_FILE"
  API_KEY_FILE="$CLUSTER_DIR/api-keys"
  head -c 24 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$API_KEY_FILE"; echo >> "$API_KEY_FILE"
  APP_EP="ipc://$CLUSTER_DIR/app"
  INGRESS_EP="ipc://$CLUSTER_DIR/ingress"
  PUB_EP="ipc://$CLUSTER_DIR/pub"
  trap cluster_stop EXIT
  trap 'exit 130' INT TERM
}

# A free TCP port below the ephemeral range.
free_port() {
  local p
  for _ in $(seq 1 50); do
    p=$(( 20000 + RANDOM % 10000 ))
    if ! ss -Hltn "sport = :$p" 2>/dev/null | grep -q .; then echo "$p"; return; fi
  done
  echo 24999
}

# wait_line FILE REGEX SECONDS
wait_line() {
  local deadline=$(( $(date +%s) + $3 ))
  while [ "$(date +%s)" -le "$deadline" ]; do
    grep -qE "$2" "$1" 2>/dev/null && return 0
    sleep 0.05
  done
  echo "timed out waiting for /$2/ in $1:" >&2; tail -5 "$1" >&2
  return 1
}

start_hub() {
  local sync=(--no-sync)
  [ "${HUB_SYNC:-0}" = 1 ] && sync=()
  "$BROADCAST" --app-ingress "$APP_EP" --hub-ingress "$INGRESS_EP" --hub-pub "$PUB_EP" \
    --data "$CLUSTER_DIR/hub" ${sync[@]+"${sync[@]}"} --log-level info "$@" > "$CLUSTER_DIR/hub.log" 2>&1 &
  HUB_PID=$!
  CLUSTER_PIDS+=("$HUB_PID")
  wait_line "$CLUSTER_DIR/hub.log" 'webim-broadcast ready' 20
}

# start_frontends COUNT PORT [extra flags...]: COUNT frontends sharing 127.0.0.1:PORT (SO_REUSEPORT).
# SIGTERM sends their clients away at once unless FE_DRAIN_WINDOW_MS says otherwise.
start_frontends() {
  local count=$1 port=$2; shift 2
  local i
  for i in $(seq 1 "$count"); do
    "$FRONTEND" --listen "127.0.0.1:$port" --hub-ingress "$INGRESS_EP" --hub-pub "$PUB_EP" \
      --secret-file "$SECRET_FILE" --api-key-file "$API_KEY_FILE" --id "fe$i" --log-level warn \
      --max-connections "${FE_MAX_CONNECTIONS:-1000000}" --rate-limit 1000000 --rate-burst 1000000 --max-backlog-bytes 16777216 \
      --auth-timeout-ms 120000 --handshake-timeout-ms 120000 --drain-window-ms "${FE_DRAIN_WINDOW_MS:-0}" \
      "$@" > "$CLUSTER_DIR/fe$i.log" 2>&1 &
    FRONTEND_PIDS+=("$!")
    CLUSTER_PIDS+=("$!")
  done
  # --log-level warn hides the ready line: wait for the port to accept instead.
  local deadline=$(( $(date +%s) + 30 ))
  while ! ss -Hltn "sport = :$port" | grep -q .; do
    [ "$(date +%s)" -le "$deadline" ] || { echo "frontends did not listen on $port" >&2; cat "$CLUSTER_DIR"/fe1.log >&2; return 1; }
    sleep 0.05
  done
  # all COUNT sockets bound
  while [ "$(ss -Hltn "sport = :$port" | wc -l)" -lt "$count" ]; do
    [ "$(date +%s)" -le "$deadline" ] || { echo "only $(ss -Hltn "sport = :$port" | wc -l)/$count frontends listen" >&2; return 1; }
    sleep 0.05
  done
  sleep 0.3  # hub link up
}

join_pids() { local IFS=,; echo "$*"; }

# forget_pid PID: after the caller stopped and reaped PID itself (a hub kill -9, a frontend
# restart), so that cluster_stop never signals a pid the system may have recycled.
forget_pid() {
  local p keep=()
  for p in "${CLUSTER_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  CLUSTER_PIDS=("${keep[@]}")
  keep=()
  for p in "${FRONTEND_PIDS[@]}"; do [ "$p" = "$1" ] || keep+=("$p"); done
  FRONTEND_PIDS=("${keep[@]}")
}

# restart_hub_kill9: kill -9 the hub, reap it, start it again on the same data dir and endpoints
# (the old log is kept as hub-<n>.log). Returns start_hub's status.
restart_hub_kill9() {
  kill -KILL "$HUB_PID" 2>/dev/null || true
  wait "$HUB_PID" 2>/dev/null || true
  forget_pid "$HUB_PID"
  local n=1
  while [ -e "$CLUSTER_DIR/hub-$n.log" ]; do n=$((n + 1)); done
  mv "$CLUSTER_DIR/hub.log" "$CLUSTER_DIR/hub-$n.log"
  start_hub "$@"
}

# Stops what this script started (SIGTERM, then SIGKILL after 10 s), removes the temp dir.
cluster_stop() {
  local p
  for p in "${CLUSTER_PIDS[@]}"; do kill -TERM "$p" 2>/dev/null || true; done
  local deadline=$(( $(date +%s) + 10 ))
  for p in "${CLUSTER_PIDS[@]}"; do
    while kill -0 "$p" 2>/dev/null && [ "$(date +%s)" -le "$deadline" ]; do sleep 0.1; done
    kill -KILL "$p" 2>/dev/null || true
    wait "$p" 2>/dev/null || true
  done
  CLUSTER_PIDS=()
  [ -n "${KEEP_DIR:-}" ] || rm -rf "$CLUSTER_DIR"
}
