# Registers the sanitizer/fuzz CTest entry in the main build. Included at the end of
# tests/CMakeLists.txt (OPTIONAL). The main build itself compiles nothing here: the entry's script
# builds the standalone project tests/fuzz (clang++, ASan/UBSan, libFuzzer) into <build>/sanitize,
# runs the pure library's unit tests under ASan/UBSan, then each fuzzer for 20 s on its seeds.
# Without clang++ or libFuzzer the script exits 77 and CTest reports the test as skipped.
#
# Cost (2 cores): a cold build is ~80 s of CPU (simdjson-heavy files), incremental builds are
# seconds; the fuzzers run two at a time, 4 x 20 s. PROCESSORS 2: it keeps both cores busy, so CTest
# does not run other tests (timing-sensitive integration tests) next to it.
add_test(NAME fuzz/sanitize
         COMMAND ${CMAKE_CURRENT_LIST_DIR}/run_fuzz_ci.sh ${PROJECT_BINARY_DIR}/sanitize)
set_tests_properties(fuzz/sanitize PROPERTIES
  SKIP_RETURN_CODE 77
  TIMEOUT 420
  PROCESSORS 2
  LABELS "fuzz;sanitize")
