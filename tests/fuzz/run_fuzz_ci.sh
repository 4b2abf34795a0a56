#!/usr/bin/env bash
# CTest entry "fuzz/sanitize" (tests/fuzz/fuzz.cmake): the ASan/UBSan build of the pure library
# (docs/architecture.md rule 9) and a short, bounded run of each libFuzzer target.
#
#   1. configures and builds tests/fuzz (a standalone CMake project, clang++) into BUILD_DIR;
#   2. runs the pure library's unit tests built with -fsanitize=address,undefined;
#   3. runs each fuzzer for WEBIM_FUZZ_SECONDS (default 20) on a fresh copy of its seed corpus,
#      two at a time (CI has 2 cores), and fails on any crash, leak, timeout or out-of-memory.
#
# Usage: tests/fuzz/run_fuzz_ci.sh BUILD_DIR
# Environment: WEBIM_FUZZ_SECONDS (per target), WEBIM_FUZZ_CXX (default clang++), WEBIM_FUZZ_JOBS.
# Exit code: 0 passed, 77 skipped (no clang++ / libFuzzer: CTest's SKIP_RETURN_CODE), else failed.
set -euo pipefail

HERE=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
BUILD=${1:?usage: run_fuzz_ci.sh BUILD_DIR}
SECONDS_PER_TARGET=${WEBIM_FUZZ_SECONDS:-20}
CXX_BIN=${WEBIM_FUZZ_CXX:-clang++}
JOBS=${WEBIM_FUZZ_JOBS:-$(nproc)}
TARGETS=(fuzz_http_request fuzz_ws_frame fuzz_json_request fuzz_token)
SKIP=77

log() { printf 'fuzz-ci: %s\n' "$*"; }
start=$SECONDS

# --- can this machine build a libFuzzer + ASan/UBSan binary? Otherwise skip, do not fail. ----------
if ! command -v "$CXX_BIN" >/dev/null 2>&1; then
  log "SKIP: $CXX_BIN not found (Debian: apt-get install clang libclang-rt-14-dev)"
  exit $SKIP
fi
probe_dir=$(mktemp -d)
trap 'rm -rf "$probe_dir"' EXIT
printf '%s\n' '#include <cstddef>' '#include <cstdint>' \
  'extern "C" int LLVMFuzzerTestOneInput(const uint8_t*, size_t) { return 0; }' >"$probe_dir/probe.cpp"
if ! "$CXX_BIN" -fsanitize=fuzzer,address,undefined "$probe_dir/probe.cpp" -o "$probe_dir/probe" \
    >"$probe_dir/probe.log" 2>&1; then
  log "SKIP: $CXX_BIN cannot link -fsanitize=fuzzer,address,undefined (Debian: libclang-rt-14-dev):"
  sed 's/^/  /' "$probe_dir/probe.log" | head -5
  exit $SKIP
fi

export ASAN_OPTIONS=${ASAN_OPTIONS:-abort_on_error=1:detect_leaks=1:strict_string_checks=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

# --- build --------------------------------------------------------------------------------------
log "building the sanitizer project into $BUILD"
cmake -S "$HERE" -B "$BUILD" -G Ninja -DCMAKE_CXX_COMPILER="$CXX_BIN" >"$BUILD.configure.log" 2>&1 \
  || { cat "$BUILD.configure.log"; exit 1; }
cmake --build "$BUILD" -j "$JOBS"
log "build done after $((SECONDS - start))s"

# --- sanitized unit tests -----------------------------------------------------------------------
ctest --test-dir "$BUILD" -L unit --output-on-failure -j "$JOBS"
log "sanitized unit tests passed after $((SECONDS - start))s"

# --- bounded fuzzing ----------------------------------------------------------------------------
work="$BUILD/ci-run"
rm -rf "$work"
mkdir -p "$work"

run_target() {
  local t=$1 dir="$work/$1"
  mkdir -p "$dir/corpus" "$dir/artifacts"
  cp "$HERE/corpus/$t/." "$dir/corpus/" -R  # a copy: the checked-in seeds are never modified
  "$BUILD/$t" -max_total_time="$SECONDS_PER_TARGET" -rss_limit_mb=1024 -timeout=10 -print_final_stats=1 \
    -artifact_prefix="$dir/artifacts/" "$dir/corpus" >"$dir/log" 2>&1
}

summarize() {
  local t=$1 rc=$2 dir="$work/$1"
  local runs cov
  runs=$(grep -o 'Done [0-9]* runs in [0-9]* second' "$dir/log" | tail -1 || true)
  cov=$(grep -oE 'cov: [0-9]+ ft: [0-9]+' "$dir/log" | tail -1 || true)
  if [[ $rc -eq 0 ]]; then
    log "$t: ok (${runs:-no stats}; ${cov:-no coverage line})"
  else
    log "$t: FAILED (exit $rc); artifacts: $(ls "$dir/artifacts" 2>/dev/null | tr '\n' ' ')"
    log "  reproduce: $BUILD/$t $dir/artifacts/<file>"
    grep -E 'ERROR|invariant|runtime error|SUMMARY' "$dir/log" | head -20 | sed 's/^/  /'
    tail -40 "$dir/log" | sed 's/^/  | /'
  fi
}

failed=0
pids=()
names=()
for t in "${TARGETS[@]}"; do
  run_target "$t" &
  pids+=($!)
  names+=("$t")
  if ((${#pids[@]} >= JOBS)); then
    rc=0; wait "${pids[0]}" || rc=$?
    summarize "${names[0]}" $rc; ((rc == 0)) || failed=1
    pids=("${pids[@]:1}"); names=("${names[@]:1}")
  fi
done
for i in "${!pids[@]}"; do
  rc=0; wait "${pids[$i]}" || rc=$?
  summarize "${names[$i]}" $rc; ((rc == 0)) || failed=1
done

log "$([[ $failed -eq 0 ]] && echo passed || echo FAILED) after $((SECONDS - start))s"
exit $failed
