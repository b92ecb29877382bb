#!/usr/bin/env bash
# Benchmarks against the local fake providers; results go to BENCH.md (each
# subcommand owns one "## ..." section and leaves the others alone).
#
#   scripts/bench.sh engine    engine throughput, the bare-curl ceiling, memory and CPU at 1k/20k/100k in flight
#   scripts/bench.sh kafka     end-to-end jobs/s through Kafka (1 and 3 workers), latency
#   scripts/bench.sh chaos     a KIE outage: requests to it and success rate, naive client vs switchyard
#   scripts/bench.sh polling   polls per job and detection delay: fixed 3 s vs adaptive polling
#   scripts/bench.sh crash     workers killed with -9 and restarted: extra creates and results, ledger off/on
#
# Release build in build-bench (BUILD_DIR overrides). Only 127.0.0.1 is used;
# every process started here is stopped by pid on exit.
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/bench.sh engine|kafka|chaos|polling|crash" >&2; }

BUILD=${BUILD_DIR:-build-bench}
PIDS=()
WORK=""
cleanup() {
  local i pid
  for ((i = ${#PIDS[@]} - 1; i >= 0; i--)); do # newest first: the helper before the servers
    pid=${PIDS[i]}
    if kill -0 "$pid" 2>/dev/null; then
      kill "$pid" 2>/dev/null || true
      wait "$pid" 2>/dev/null || true
    fi
  done
  if [ -n "$WORK" ] && [ -z "${BENCH_KEEP:-}" ]; then rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

build() {
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  ninja -C "$BUILD" switchyard fakeprov bench_ceiling >/dev/null
}

# start_fakeprov NAME ARGS... : starts it in the background, sets FP_PORT and FP_PID.
start_fakeprov() {
  local name=$1
  shift
  "$BUILD/fakeprov" --listen 127.0.0.1:0 --port-file "$WORK/$name.port" "$@" >"$WORK/$name.log" 2>&1 &
  FP_PID=$!
  PIDS+=("$FP_PID")
  for _ in $(seq 200); do
    [ -s "$WORK/$name.port" ] && break
    kill -0 "$FP_PID" 2>/dev/null || { cat "$WORK/$name.log" >&2; echo "bench: fakeprov $name died" >&2; exit 1; }
    sleep 0.05
  done
  [ -s "$WORK/$name.port" ] || { echo "bench: fakeprov $name did not start" >&2; exit 1; }
  FP_PORT=$(cat "$WORK/$name.port")
}

engine() {
  build
  # Loopback only: no proxy may get in the way of curl or urllib.
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
  WORK=$(mktemp -d /tmp/switchyard-bench.XXXXXX)
  start_fakeprov gen0 --gen-ms 0 --gen-dist fixed --threads 2
  local port0=$FP_PORT pid0=$FP_PID
  start_fakeprov gen30 --gen-ms 30000 --gen-dist fixed --threads 2
  local port30=$FP_PORT pid30=$FP_PID
  echo "bench engine: fakeprov on 127.0.0.1:$port0 (gen 0 ms) and 127.0.0.1:$port30 (gen 30 s); work dir $WORK"
  # In the background + wait, so a signal reaches the trap at once; the
  # helper kills its own children (switchyard, bench_ceiling) by pid.
  python3 scripts/bench_engine.py --build "$BUILD" --work "$WORK" --bench-md BENCH.md \
    --command "scripts/bench.sh engine" --port0 "$port0" --fp0-pid "$pid0" \
    --port30 "$port30" --fp30-pid "$pid30" "$@" &
  PIDS+=($!)
  wait $!
}

# The broker: the one scripts/kafka.sh runs. Stopped on exit only if started
# here (and still the same pid); one that was already running is left alone.
BROKER_STARTED_PID=""
kafka_cleanup() {
  cleanup
  local st
  if [ -n "$BROKER_STARTED_PID" ]; then
    st=$(scripts/kafka.sh status 2>/dev/null || true)
    case "$st" in
      *"(pid $BROKER_STARTED_PID,"*) scripts/kafka.sh stop >&2 || true ;;
      *) echo "bench: the broker this bench started (pid $BROKER_STARTED_PID) is no longer the one running; left alone" >&2 ;;
    esac
  fi
}

kafka() {
  trap kafka_cleanup EXIT
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  ninja -C "$BUILD" switchyard switchyard-enqueue fakeprov >/dev/null
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
  WORK=$(mktemp -d /tmp/switchyard-bench.XXXXXX)

  local brokers note pid st
  brokers=$(scripts/kafka.sh start 2>"$WORK/kafka-start.err" | tail -n 1) ||
    { cat "$WORK/kafka-start.err" >&2; echo "bench: scripts/kafka.sh start failed" >&2; exit 1; }
  st=$(scripts/kafka.sh status) || { echo "bench: broker not running after start: $st" >&2; exit 1; }
  pid=$(printf '%s\n' "$st" | sed -n 's/.*(pid \([0-9]*\),.*/\1/p')
  [ -n "$pid" ] || { echo "bench: cannot read the broker pid from: $st" >&2; exit 1; }
  if grep -q "already running" "$WORK/kafka-start.err"; then
    note="already running, pid $pid; left running"
  else
    BROKER_STARTED_PID=$pid
    note="started by this bench, pid $pid; stopped at the end"
  fi
  local held
  held=$(scripts/kafka.sh partitions)
  note="$note; it held $held topic-partitions at the start"
  if [ "$held" -gt 300 ]; then
    echo "bench kafka: WARNING: the broker holds $held topic-partitions from earlier runs; one started" \
      "by an older checkout answers slowly (scripts/kafka/README.md, partitions); for representative" \
      "numbers: scripts/kafka.sh stop, then run this again" >&2
  fi
  echo "bench kafka: broker $brokers ($note)"

  start_fakeprov fp --gen-ms 0 --threads 2
  echo "bench kafka: fakeprov on 127.0.0.1:$FP_PORT (gen 0 ms); work dir $WORK"
  python3 scripts/bench_kafka.py --build "$BUILD" --work "$WORK" --bench-md BENCH.md \
    --command "scripts/bench.sh kafka" --brokers "$brokers" --broker-pid "$pid" --broker-note "$note" \
    --fp-port "$FP_PORT" --fp-pid "$FP_PID" "$@" &
  PIDS+=($!)
  wait $!
}

# crash: the running broker (started here only when none is: then stopped at
# the end, as in kafka), one fakeprov with multi-second generation, and
# bench_crash.py under a hard time limit (CRASH_TIMEOUT s, default 1500).
crash() {
  trap kafka_cleanup EXIT
  cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
  ninja -C "$BUILD" -j2 switchyard switchyard-enqueue fakeprov >/dev/null
  unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
  export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
  WORK=$(mktemp -d /tmp/switchyard-bench.XXXXXX)

  local brokers st pid gen_ms=${CRASH_GEN_MS:-6000}
  if st=$(scripts/kafka.sh status 2>/dev/null); then
    brokers=$(printf '%s\n' "$st" | sed -n 's/^running \(127\.0\.0\.1:[0-9]*\).*/\1/p')
  else
    brokers=$(scripts/kafka.sh start 2>"$WORK/kafka-start.err" | tail -n 1) ||
      { cat "$WORK/kafka-start.err" >&2; echo "bench: scripts/kafka.sh start failed" >&2; exit 1; }
    st=$(scripts/kafka.sh status) || { echo "bench: broker not running after start: $st" >&2; exit 1; }
    pid=$(printf '%s\n' "$st" | sed -n 's/.*(pid \([0-9]*\),.*/\1/p')
    BROKER_STARTED_PID=$pid
  fi
  [ -n "$brokers" ] || { echo "bench: cannot read the broker address from: $st" >&2; exit 1; }
  echo "bench crash: broker $brokers"

  start_fakeprov fp --gen-ms "$gen_ms" --gen-dist fixed --threads 2
  echo "bench crash: fakeprov on 127.0.0.1:$FP_PORT (gen $gen_ms ms); work dir $WORK"
  timeout --signal=TERM --kill-after=60 "${CRASH_TIMEOUT:-1500}" \
    python3 scripts/bench_crash.py --build "$BUILD" --work "$WORK" --bench-md BENCH.md \
    --command "scripts/bench.sh crash${*:+ $*}" --brokers "$brokers" --fp-port "$FP_PORT" --fp-pid "$FP_PID" \
    --gen-ms "$gen_ms" "$@" &
  PIDS+=($!)
  wait $!
}

case "${1:-}" in
  engine)
    shift
    engine "$@"
    ;;
  kafka)
    shift
    kafka "$@"
    ;;
  chaos)
    shift
    build
    BENCH_BUILD="$PWD/$BUILD" python3 scripts/bench_chaos.py "$@"
    ;;
  polling)
    shift
    build
    unset http_proxy https_proxy HTTP_PROXY HTTPS_PROXY all_proxy ALL_PROXY
    export NO_PROXY=127.0.0.1,localhost no_proxy=127.0.0.1,localhost
    BENCH_BUILD="$PWD/$BUILD" python3 scripts/bench_polling.py "$@" &
    PIDS+=($!)
    wait $!
    ;;
  crash)
    shift
    crash "$@"
    ;;
  *)
    usage
    exit 2
    ;;
esac
