#!/usr/bin/env bash
# CTest entry "sanitize/frontend": the frontend's I/O and lifetime code (its own epoll set,
# connections freed at the end of a loop iteration, the loop's shared frame parser, backlogs) under
# AddressSanitizer and UBSan, driven by real clients:
#   1. builds webim-frontend with -fsanitize=address,undefined into BUILD_DIR (g++, RelWithDebInfo);
#   2. runs the integration files that exercise those paths against it (the hub is the main build's);
#   3. fails if a test fails or if any sanitizer report was written (log_path below), even one from
#      a frontend that crashed at shutdown where no test would notice.
# Usage: sanitize_frontend.sh SOURCE_DIR BUILD_DIR WEBIM_BROADCAST
set -euo pipefail
SRC=${1:?usage: sanitize_frontend.sh SOURCE_DIR BUILD_DIR WEBIM_BROADCAST}
BUILD=${2:?}
export WEBIM_BROADCAST=${3:?}
FILES=(front_door ws_conformance js_fallback two_frontends inbox recovery_fallback join_races peer_auth hardening)
FLAGS="-fsanitize=address,undefined -fno-sanitize-recover=undefined -fno-omit-frame-pointer"

cmake -S "$SRC" -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo -DWEBIM_WERROR=OFF \
  -DCMAKE_CXX_FLAGS="$FLAGS" -DCMAKE_EXE_LINKER_FLAGS="-fsanitize=address,undefined" > "$BUILD.configure.log" 2>&1 ||
  { tail -20 "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" --target webim-frontend > "$BUILD.build.log" 2>&1 || { tail -30 "$BUILD.build.log"; exit 1; }
export WEBIM_FRONTEND="$BUILD/frontend/webim-frontend"

REPORTS=$(mktemp -d /tmp/webim-sanitize.XXXXXX)
trap 'rm -rf "$REPORTS"' EXIT
# Leak checks stay off: a frontend stopped mid-test legitimately leaves pools and ZeroMQ state.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:log_path=$REPORTS/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$REPORTS/ubsan"
status=0
for f in "${FILES[@]}"; do
  if node --test --test-reporter=dot "$SRC/tests/integration/$f.test.mjs" > "$REPORTS/$f.out" 2>&1; then
    echo "sanitize/frontend: $f passed"
  else
    echo "sanitize/frontend: $f FAILED"; tail -40 "$REPORTS/$f.out"; status=1
  fi
done
if compgen -G "$REPORTS/asan*" > /dev/null || compgen -G "$REPORTS/ubsan*" > /dev/null; then
  echo "sanitize/frontend: sanitizer reports:"; cat "$REPORTS"/asan* "$REPORTS"/ubsan* 2>/dev/null | head -80; status=1
fi
exit $status
