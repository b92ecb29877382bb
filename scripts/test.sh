#!/usr/bin/env bash
# The whole test suite: dependencies, a sanitizer build (ASan + UBSan), every
# test registered in CTest. Usage: scripts/test.sh   (from anywhere)
set -euo pipefail
cd "$(dirname "$0")/.."

scripts/deps.sh
BUILD=${BUILD_DIR:-build-test}
cmake -S . -B "$BUILD" -G Ninja -DSANITIZE=ON -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$BUILD" -j"$(nproc)"

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
    SY_KAFKA_BROKERS=$(scripts/kafka.sh start | tail -n 1)
  else
    trap 'scripts/kafka.sh stop >/dev/null 2>&1 || true' EXIT
    SY_KAFKA_BROKERS=$(scripts/kafka.sh start | tail -n 1)
  fi
fi
export SY_KAFKA_BROKERS
echo "test.sh: Kafka at $SY_KAFKA_BROKERS"

cd "$BUILD"
set +e
# -j2: the long, mostly idle rate-window test (highest COST) starts first and
# runs beside the others, which then go one at a time.
ctest --output-on-failure --timeout 960 -j2
rc=$?
set -e
if [ -n "$(ls -A "$SANLOG")" ]; then
  echo "test.sh: sanitizer reports:" >&2
  for f in "$SANLOG"/*; do echo "== $f" >&2; head -60 "$f" >&2; done
  rc=1
fi
exit "$rc"
