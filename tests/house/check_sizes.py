#!/usr/bin/env python3
"""The house's size rules (docs/architecture.md): no C++ file in frontend/, broadcast/ or common/
over 500 lines, no function there over 80 lines.

    check_sizes.py SOURCE_DIR BUILD_DIR [PATH_REGEX]

File lengths are counted here; function lengths come from clang-tidy's readability-function-size
(LineThreshold 80) run over BUILD_DIR/compile_commands.json with run-clang-tidy, two jobs at a time
(WEBIM_SIZE_JOBS to change). PATH_REGEX (searched in paths relative to SOURCE_DIR, e.g. 'common/')
narrows both checks. Each offender is printed as file:line: size. Exit 0: within the rules; 1: an
offender, or clang-tidy could not run or parse a file (its functions would go unchecked); 77: skipped, clang-tidy or run-clang-tidy is not installed.
"""
import os
import re
import shutil
import subprocess
import sys

DIRS = ("frontend", "broadcast", "common")
EXTENSIONS = (".cpp", ".cc", ".h", ".hpp")
MAX_FILE_LINES = 500
MAX_FUNCTION_LINES = 80
SKIPPED = 77

WARNING = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):\d+: warning: function '(?P<name>[^']*)' exceeds "
                     r"recommended size/complexity thresholds")
NOTE = re.compile(r"^[^:\s]+:\d+:\d+: note: (?P<count>\d+) (?P<what>[a-z ]+?) \(threshold (?P<limit>\d+)\)")
ERROR = re.compile(r"^(?P<file>[^:\s]+):(?P<line>\d+):\d+: error: (?P<text>.*)$")
ANSI = re.compile(r"\x1b\[[0-9;]*m")


def sources(root, wanted):
    for top in DIRS:
        for dirpath, _, names in os.walk(os.path.join(root, top)):
            for name in sorted(names):
                rel = os.path.relpath(os.path.join(dirpath, name), root)
                if name.endswith(EXTENSIONS) and wanted(rel):
                    yield rel


def long_files(root, files):
    offenders = []
    for rel in files:
        with open(os.path.join(root, rel), encoding="utf-8", errors="replace") as f:
            count = sum(1 for _ in f)
        if count > MAX_FILE_LINES:
            offenders.append(f"{rel}:1: {count} lines (file; limit {MAX_FILE_LINES})")
    return offenders


def long_functions(root, build, files, tool, runner):
    """Runs readability-function-size over the translation units among `files`; returns
    (offenders, notes). Functions in headers among `files` are reported once."""
    units = [os.path.join(root, rel) for rel in files if rel.endswith((".cpp", ".cc"))]
    headers = [rel for rel in files if not rel.endswith((".cpp", ".cc"))]
    if not units and not headers:
        return [], []
    real_root = os.path.realpath(root)
    # Every translation unit of the three directories parses the headers; only those in `files`
    # are reported (run-clang-tidy searches its regex in absolute paths).
    dirs = "|".join(DIRS)
    unit_regex = "^" + re.escape(real_root) + "/(" + dirs + ")/"
    header_regex = "^" + re.escape(real_root) + "/(" + "|".join(re.escape(h) for h in headers) + ")$" if headers else "^$"
    config = ("{CheckOptions: [{key: readability-function-size.LineThreshold, value: %d}]}" % MAX_FUNCTION_LINES)
    command = [runner, "-p", build, "-j", os.environ.get("WEBIM_SIZE_JOBS", "2"), "-clang-tidy-binary", tool,
               "-checks=-*,readability-function-size", "-config=" + config,
               "-extra-arg=-Wno-unknown-warning-option", "-header-filter=" + header_regex, "-quiet"]
    # Headers only: some translation unit of the three directories must parse them.
    command.append("^(" + "|".join(re.escape(os.path.realpath(u)) for u in sorted(units)) + ")$" if units else unit_regex)
    proc = subprocess.run(command, cwd=root, capture_output=True, text=True, errors="replace")
    offenders, notes, seen = [], [], set()
    pending = None
    for raw in (proc.stdout + proc.stderr).splitlines():
        line = ANSI.sub("", raw)
        if m := WARNING.match(line):
            pending = (os.path.relpath(os.path.realpath(m["file"]), real_root), m["line"], m["name"])
            continue
        if pending and (m := NOTE.match(line)):
            key = pending[:2]
            if key not in seen:
                seen.add(key)
                offenders.append(f"{pending[0]}:{pending[1]}: {m['count']} {m['what']} in function "
                                 f"'{pending[2]}' (limit {m['limit']})")
            pending = None
            continue
        if m := ERROR.match(line):
            rel = os.path.relpath(os.path.realpath(m["file"]), real_root)
            notes.append(f"{rel}:{m['line']}: clang-tidy could not parse this ({m['text']}), so the "
                         f"functions after it are unchecked: keep the code parseable by clang")
    if not offenders and not notes and proc.returncode != 0 and "warning:" not in proc.stdout:
        notes.append("run-clang-tidy exited %d:\n%s" % (proc.returncode, proc.stderr[-2000:]))
    return offenders, notes


def main(argv):
    if len(argv) not in (3, 4):
        print(__doc__, file=sys.stderr)
        return 2
    root, build = argv[1], argv[2]
    pattern = re.compile(argv[3]) if len(argv) == 4 else None
    wanted = (lambda rel: pattern.search(rel) is not None) if pattern else (lambda rel: True)
    files = list(sources(root, wanted))
    offenders = long_files(root, files)

    tool = os.environ.get("CLANG_TIDY") or shutil.which("clang-tidy")
    runner = os.environ.get("RUN_CLANG_TIDY") or shutil.which("run-clang-tidy")
    if not tool or not runner:
        for o in offenders:
            print(o)
        print("SKIPPED: clang-tidy or run-clang-tidy not found (function sizes unchecked; Debian: clang-tidy)")
        return SKIPPED
    if not os.path.exists(os.path.join(build, "compile_commands.json")):
        print(f"error: {build}/compile_commands.json is missing (CMAKE_EXPORT_COMPILE_COMMANDS)")
        return 1
    functions, notes = long_functions(root, build, files, tool, runner)
    offenders += functions
    for n in notes:
        print(n)
    for o in offenders:
        print(o)
    print(f"{len(files)} files checked: {len(offenders)} over the limits "
          f"(files {MAX_FILE_LINES} lines, functions {MAX_FUNCTION_LINES} lines)")
    if notes:
        print(f"{len(notes)} place(s) clang-tidy could not check: failing (a rule unchecked is not kept)")
    return 1 if offenders or notes else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
