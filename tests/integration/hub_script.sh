# Helpers shared by the hub's shell tests (hub_e2e.sh, hub_postgres_e2e.sh, hub_wal_dir.sh,
# durability_enospc.sh, durability_sync.sh, retention_e2e.sh): sourced, never run. The script sets
# FAILED=0 (its cleanup prints the hub's log when a check failed) and PID (the hub it waits for).

fail() { echo "FAIL: $*"; FAILED=1; exit 1; }
check() {  # check DESCRIPTION ACTUAL EXPECTED
  if [[ "$2" != "$3" ]]; then fail "$1: expected '$3', got '$2'"; fi
  echo "ok - $1"
}
field() {  # field NAME JSON -> first value of "NAME": (string quotes stripped)
  sed -n "s/.*\"$1\":\(\"[^\"]*\"\|[0-9a-z]*\).*/\1/p" <<<"$2" | head -1 | tr -d '"'
}
wait_ready() {  # wait_ready LOGFILE [SECONDS]: the hub ($PID) logged its ready line, or fail
  local log=$1 secs=${2:-10}
  for _ in $(seq $((secs * 10))); do
    grep -q "webim-broadcast ready" "$log" && return 0
    kill -0 "$PID" 2>/dev/null || fail "hub exited during start"
    sleep 0.1
  done
  fail "hub not ready within $secs s"
}
