#!/usr/bin/env bash
# The whole test suite: dependencies, the README's quick-start build (Release,
# warnings as errors) and the .deb test, a sanitizer build (ASan + UBSan,
# warnings as errors), every test registered in CTest.
# Usage: scripts/test.sh [--long]   (from anywhere)
#   --long  also the long tests (SY_LONG_TESTS=1): 1,000 KIE jobs through the
#           real rate window, ~10 more minutes. CI runs without it.
set -euo pipefail
cd "$(dirname "$0")/.."

case "${1:-}" in
  --long) export SY_LONG_TESTS=1 ;;
  "") ;;
  *) echo "usage: scripts/test.sh [--long]" >&2; exit 2 ;;
esac

scripts/deps.sh

# The include direction and the source rules (docs/architecture.md §Modules)
# first: a cheap check that fails before any build. Also a CTest (lint).
scripts/lint.py

# The README's quick-start build, run verbatim: its first code block, taken
# from README.md so the two cannot drift. It is the Release build of the whole
# tree, tests included; its cache is seeded with SY_WERROR=ON, so a warning in
# Release fails the suite. It runs in build-quickstart/, a mirror of the tree
# made of symlinks, so that its `-B build` never touches a developer's build/.
# Reused between runs (incremental); the .deb test (package_deb) runs in it.
QS=${QUICKSTART_DIR:-build-quickstart}
qs_cmds=$(awk '/^## Quick start/ { q = 1; next }
               q && /^```/ { if (blk) exit; blk = 1; next }
               blk' README.md)
if [ -z "$qs_cmds" ]; then echo "test.sh: no quick-start code block in README.md" >&2; exit 1; fi
mkdir -p "$QS"
for f in *; do
  case "$f" in build*|out|"$QS") continue ;; esac
  ln -sfn "$PWD/$f" "$QS/$f"
done
find "$QS" -maxdepth 1 -xtype l -delete   # entries gone from the tree
grep -qs '^SY_WERROR:BOOL=ON' "$QS/build/CMakeCache.txt" ||
  cmake -S "$QS" -B "$QS/build" -G Ninja -DSY_WERROR=ON >/dev/null
echo "test.sh: README quick-start build (in $QS/, log $QS/build.log):"
printf '  %s\n' "$qs_cmds"
qs_start=$SECONDS
if ! (cd "$QS" && CMAKE_BUILD_PARALLEL_LEVEL=$(nproc) bash -euo pipefail -c "$qs_cmds") >"$QS/build.log" 2>&1; then
  tail -n 60 "$QS/build.log" >&2
  echo "test.sh: the README quick-start build failed (Release, -Werror)" >&2
  exit 1
fi
(cd "$QS/build" && ctest -R '^package_deb$' --output-on-failure --no-tests=error)
echo "test.sh: quick-start build and package test: $((SECONDS - qs_start)) s"

BUILD=${BUILD_DIR:-build-test}
san_start=$SECONDS
cmake -S . -B "$BUILD" -G Ninja -DSANITIZE=ON -DSY_WERROR=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)"
echo "test.sh: sanitizer build: $((SECONDS - san_start)) s"

# Criterion reports a test's result before the sanitizers' exit-time checks
# (leaks) run, and child processes (switchyard, fakeprov) report on their own
# stderr: so every sanitizer report goes to a file, and any file fails the run.
SANLOG="$PWD/$BUILD/sanitizer-logs"
rm -rf "$SANLOG"
mkdir -p "$SANLOG"
export ASAN_OPTIONS="detect_leaks=1:halt_on_error=1:log_path=$SANLOG/asan"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1:log_path=$SANLOG/ubsan"
export LSAN_OPTIONS="suppressions=$PWD/tests/lsan.supp:print_suppressions=0"

# A real single-node Kafka for the end-to-end tests: ours, unless the caller
# points at one with SY_KAFKA_BROKERS. Stopped at the end if we started it.
if [ -z "${SY_KAFKA_BROKERS:-}" ]; then
  if scripts/kafka.sh status >/dev/null 2>&1; then
    # Topics pile up over many runs. A broker started by an older checkout
    # (Kafka's 10 MiB index files) slows down after a few hundred partitions'
    # worth of them (scripts/kafka/README.md, `partitions`): start afresh.
    held=$(scripts/kafka.sh partitions 2>/dev/null || echo 0)
    if [ "$held" -gt "${SY_KAFKA_MAX_PARTITIONS:-300}" ]; then
      echo "test.sh: the running broker holds $held partitions from earlier runs; restarting it with fresh data"
      scripts/kafka.sh stop
    fi
    SY_KAFKA_BROKERS=$(scripts/kafka.sh start | tail -n 1)
  else
    # An absolute path: the script is in "$BUILD" when it exits.
    kafka_sh="$PWD/scripts/kafka.sh"
    trap '"$kafka_sh" stop >/dev/null 2>&1 || true' EXIT
    SY_KAFKA_BROKERS=$(scripts/kafka.sh start | tail -n 1)
  fi
fi
export SY_KAFKA_BROKERS
echo "test.sh: Kafka at $SY_KAFKA_BROKERS"

cd "$BUILD"
set +e
# -j6 on two cores: the process tests mostly wait (timers, fakeprov's
# generation time, the broker). The order (COST, DEPENDS) is set in
# tests/CMakeLists.txt: the broker-outage test first, alone on Kafka.
# -j6 took 115-132 s where -j4 took 159 s (sum of the tests' own times about
# 500 s). SY_TEST_JOBS overrides the 6.
ctest_start=$SECONDS
ctest --output-on-failure --timeout 960 -j"${SY_TEST_JOBS:-6}"
rc=$?
echo "test.sh: tests: $((SECONDS - ctest_start)) s"
set -e
if [ -n "$(ls -A "$SANLOG")" ]; then
  echo "test.sh: sanitizer reports:" >&2
  for f in "$SANLOG"/*; do echo "== $f" >&2; head -60 "$f" >&2; done
  rc=1
fi
exit "$rc"
