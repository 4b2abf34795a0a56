#!/usr/bin/env bash
# CTest entries "sanitize/build", "sanitize/frontend" and "sanitize/hub": the servers under
# AddressSanitizer, UBSan and LeakSanitizer, driven by real clients.
#
#   sanitize.sh build SOURCE_DIR BUILD_DIR
#       builds webim-frontend and webim-broadcast with -fsanitize=address,undefined into BUILD_DIR
#       (g++, RelWithDebInfo; one build dir for both: the CTest fixture of the two runs below), and
#       BUILD_DIR/lsan_canary.so.
#   sanitize.sh run frontend|hub|both SOURCE_DIR BUILD_DIR FRONTEND BROADCAST [HUB_PROBE [DURABILITY_CLIENT]]
#       runs the tests that exercise that process against its sanitized binary (the other one is
#       FRONTEND / BROADCAST, the main build's; `both`: both sanitized, both lists):
#         frontend  its I/O and lifetime code (own epoll set, connections freed at the end of a loop
#                   iteration, the shared frame parser, backlogs, the HTTP fallback, gap filling,
#                   shard routing) and the checker's frontend faults (kill -9, SIGSTOP, slow
#                   subscribers): FRONTEND_TESTS;
#         hub       inbox routing, gaps and hub kill -9 + restart, shards, retention, kicks and the
#                   HTTP API through two frontends, app pushes, CURVE, the PHP client, the checker's
#                   hub faults (restart, shard restart, HWM flood, disk full) and the shell tests of
#                   the hub alone (malformed requests, retention, ENOSPC): HUB_TESTS. The tests' app
#                   client, `webim-broadcast request`, is the sanitized binary too.
#       Fails if a test fails or if any sanitizer report was written (log_path below), even one from
#       a process that crashed or leaked at shutdown where no test would notice. Exits 77 (CTest:
#       skipped) if nothing failed but a test could not run here (no tmpfs mount, no php-cli, ...).
#
# Leak checking is on (detect_leaks=1): every process the tests stop with SIGTERM (the harness's
# stop) runs LeakSanitizer at exit; processes a test kills with SIGKILL cannot be checked. First, a
# canary: the sanitized server with lsan_canary.so preloaded (it leaks a block on purpose) is
# started and stopped with SIGTERM, and its leak must be reported, or the run fails.
# Suppressions (third-party code only, each with its reason): sanitize.supp.
# Not run here: front_door's EMFILE case (WEBIM_TEST_UBSAN): UBSan's vptr check needs a free fd
# (it probes memory through pipe()) and reports false positives in a process at its fd limit.
set -euo pipefail
# node:<file>, checker:<scenario>, sh:<script>
FRONTEND_TESTS=(node:front_door node:ws_conformance node:js_fallback node:two_frontends node:inbox
  node:recovery_fallback node:gaps node:shards node:js_client node:join_races node:peer_auth node:hardening
  node:limits node:read_failures checker:frontend-kill checker:frontend-stop checker:slow-subscriber
  checker:slow-subscriber-large)
HUB_TESTS=(node:inbox node:gaps node:shards node:retention node:two_frontends node:recovery_fallback
  node:js_client node:curve node:php_client node:join_races node:kick_revocation node:channel_lifecycle node:pipeline
  checker:hub-restart checker:shard-restart checker:hwm-flood checker:disk-full sh:hub_e2e sh:retention_e2e
  sh:durability_enospc)
FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"
HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)

usage() { sed -n '5,11p' "${BASH_SOURCE[0]}" | sed 's/^# \{0,1\}//' >&2; exit 2; }

case "${1:-}" in
  build)
    SRC=${2:?} BUILD=${3:?}
    cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEBIM_WERROR=OFF \
      -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > "$BUILD.configure.log" 2>&1 ||
      { tail -20 "$BUILD.configure.log"; exit 1; }
    cmake --build "$BUILD" -j 2 --target webim-frontend webim-broadcast > "$BUILD.build.log" 2>&1 ||
      { tail -30 "$BUILD.build.log"; exit 1; }
    cc -shared -fPIC -O0 -o "$BUILD/lsan_canary.so" "$HERE/lsan_canary.c"
    echo "sanitize/build: $BUILD/frontend/webim-frontend $BUILD/broadcast/webim-broadcast"
    exit 0
    ;;
  run) ;;
  *) usage ;;
esac

WHICH=${2:?} SRC=${3:?} BUILD=${4:?}
export WEBIM_FRONTEND=${5:?} WEBIM_BROADCAST=${6:?}
PROBE=${7:-} DURABILITY_CLIENT=${8:-}
case "$WHICH" in
  frontend) TESTS=("${FRONTEND_TESTS[@]}") ;;
  hub) TESTS=("${HUB_TESTS[@]}") ;;
  both) TESTS=("${FRONTEND_TESTS[@]}")
    for t in "${HUB_TESTS[@]}"; do [[ " ${TESTS[*]} " == *" $t "* ]] || TESTS+=("$t"); done ;;
  *) usage ;;
esac
SANITIZED=()
if [[ $WHICH != hub ]]; then export WEBIM_FRONTEND=$BUILD/frontend/webim-frontend; SANITIZED+=(frontend); fi
if [[ $WHICH != frontend ]]; then export WEBIM_BROADCAST=$BUILD/broadcast/webim-broadcast; SANITIZED+=(hub); fi
for b in "$WEBIM_FRONTEND" "$WEBIM_BROADCAST" "$BUILD/lsan_canary.so"; do
  [[ -e $b ]] || { echo "sanitize/$WHICH: $b not built (sanitize.sh build)"; exit 1; }
done

REPORTS=$(mktemp -d /tmp/webim-sanitize.XXXXXX)
CANARY_PID=
cleanup() {
  [[ -n $CANARY_PID ]] && kill -KILL "$CANARY_PID" 2>/dev/null
  rm -rf "$REPORTS"
}
trap cleanup EXIT
export WEBIM_TEST_UBSAN=1
export WEBIM_SANITIZED=1  # tests that measure memory skip that (ASan's quarantine keeps what is freed)
export LSAN_OPTIONS="suppressions=$HERE/sanitize.supp:print_suppressions=0"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/ubsan"
ASAN_BASE="detect_leaks=1:abort_on_error=1"

# The canary: the server leaks a block on purpose; stopped with SIGTERM, LeakSanitizer must say so.
canary() {  # canary NAME READY_PATTERN COMMAND...
  local name=$1 ready=$2; shift 2
  local dir=$REPORTS/canary-$name
  mkdir -p "$dir/run"
  ASAN_OPTIONS="$ASAN_BASE:verify_asan_link_order=0:log_path=$dir/asan" LD_PRELOAD=$BUILD/lsan_canary.so \
    "$@" > "$dir/log" 2>&1 &
  CANARY_PID=$!
  local i
  for ((i = 0; i < 300; i++)); do
    grep -q "$ready" "$dir/log" && break
    kill -0 "$CANARY_PID" 2>/dev/null || break
    sleep 0.1
  done
  kill -TERM "$CANARY_PID" 2>/dev/null || true
  wait "$CANARY_PID" || true
  CANARY_PID=
  if grep -qs webim_lsan_canary "$dir"/asan.*; then
    echo "sanitize/$WHICH: leak check works: the $name's leak on purpose was reported at its SIGTERM exit"
  else
    echo "sanitize/$WHICH: FAILED: the $name's leak on purpose was not reported: leak checking is not running"
    tail -20 "$dir/log"
    status=1
  fi
}
status=0
for s in "${SANITIZED[@]}"; do
  d=$REPORTS/canary-$s/run
  if [[ $s == hub ]]; then
    canary hub "webim-broadcast ready" "$WEBIM_BROADCAST" --app-ingress "ipc://$d/app" --hub-ingress "ipc://$d/in" \
      --hub-pub "ipc://$d/pub" --data "$d/data"
  else
    head -c 32 /dev/urandom | od -An -tx1 | tr -d ' \n' > "$REPORTS/canary-secret"
    canary frontend "webim-frontend ready" "$WEBIM_FRONTEND" --listen 127.0.0.1:0 --hub-ingress "ipc://$d/in" \
      --hub-pub "ipc://$d/pub" --secret-file "$REPORTS/canary-secret"
  fi
done

export ASAN_OPTIONS="$ASAN_BASE:log_path=$REPORTS/asan"
skipped=()
for t in "${TESTS[@]}"; do
  kind=${t%%:*} name=${t#*:}
  start=$SECONDS
  rc=0
  case $kind in
    node) node "$HERE/node_test.mjs" "$HERE/$name.test.mjs" > "$REPORTS/$name.out" 2>&1 || rc=$? ;;
    checker) WEBIM_CHECKER_SCENARIO=$name node "$HERE/node_test.mjs" "$HERE/checker.test.mjs" \
      > "$REPORTS/$name.out" 2>&1 || rc=$? ;;
    sh)
      args=("$WEBIM_BROADCAST")
      case $name in
        hub_e2e) [[ -n $PROBE ]] && args+=("$PROBE") || { echo "sanitize/$WHICH: $name.sh needs HUB_PROBE"; status=1; continue; } ;;
        durability_enospc) [[ -n $DURABILITY_CLIENT ]] && args+=("$DURABILITY_CLIENT") ||
          { echo "sanitize/$WHICH: $name.sh needs DURABILITY_CLIENT"; status=1; continue; } ;;
      esac
      timeout 150 bash "$HERE/$name.sh" "${args[@]}" > "$REPORTS/$name.out" 2>&1 || rc=$? ;;
  esac
  case $rc in
    0) echo "sanitize/$WHICH: $t passed ($((SECONDS - start)) s)" ;;
    77) echo "sanitize/$WHICH: $t skipped: $(grep -m1 -i 'skip' "$REPORTS/$name.out" | cut -c1-200)"; skipped+=("$t") ;;
    *) echo "sanitize/$WHICH: $t FAILED ($((SECONDS - start)) s)"; tail -60 "$REPORTS/$name.out"; status=1 ;;
  esac
done
if compgen -G "$REPORTS/asan*" > /dev/null || compgen -G "$REPORTS/ubsan*" > /dev/null; then
  echo "sanitize/$WHICH: sanitizer reports:"
  for r in "$REPORTS"/asan* "$REPORTS"/ubsan*; do [[ -e $r ]] && { echo "--- $(basename "$r")"; head -80 "$r"; }; done
  status=1
fi
if [[ $status -eq 0 && ${#skipped[@]} -gt 0 ]]; then
  echo "sanitize/$WHICH: nothing failed, but ${skipped[*]} could not run here: reported as skipped"
  exit 77
fi
exit $status
