#!/usr/bin/env bash
# The demo: install what is missing, build, start a local Kafka (or use the one
# running) and the fake KIE + Replicate providers on 127.0.0.1, start a pool of
# 3 switchyard workers, put 500 interior-design jobs on a fresh 12-partition
# topic with switchyard-enqueue --wait, show them run live, print a summary,
# and stop everything it started.
#
#   scripts/demo.sh            # about a minute and a half
#   scripts/demo.sh --chaos    # KIE goes down (HTTP 500) for 20 s mid-run: failover and recovery
#   scripts/demo.sh --real-providers N   # N jobs on the REAL KIE / Replicate: bills your accounts
#   scripts/demo.sh --dry-run [...]      # print what would run (providers, jobs, billing), start nothing
#
# The fake providers are used unless --real-providers N is given: KIE_API_KEY
# and REPLICATE_API_TOKEN in the environment are ignored without it (it says
# so). With it, N jobs go to the providers whose key is set (KIE first), with
# their default rate limits; at least one key is required.
# Exits non-zero when most jobs did not succeed or some got no result.
# Environment: BUILD_DIR (default build), DEMO_JOBS (fake providers only,
# default 500), DEMO_RATE (job arrivals per second, default 8; 0 = all at once).
set -euo pipefail
cd "$(dirname "$0")/.."

usage() { echo "usage: scripts/demo.sh [--chaos] [--real-providers N] [--dry-run]" >&2; exit 2; }
say() { echo "demo: $*"; }

CHAOS="" REAL_N="" DRY=""
while [ $# -gt 0 ]; do
  case "$1" in
    --chaos) CHAOS=1 ;;
    --dry-run) DRY=1 ;;
    --real-providers)
      [ $# -ge 2 ] || { say "--real-providers needs the number of jobs to send (and bill)"; usage; }
      REAL_N=$2; shift ;;
    --real-providers=*) REAL_N=${1#*=} ;;
    -h|--help) sed -n '2,19p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    *) usage ;;
  esac
  shift
done

WORKERS=3
PARTITIONS=12
RATE=${DEMO_RATE:-8}
BUILD=${BUILD_DIR:-build}

# ---------------------------------------------------------------- the plan
# Decided before anything is installed, built or started, so --dry-run shows
# it without side effects. Real providers only on --real-providers N.
REAL="" REAL_NAMES=()
if [ -n "$REAL_N" ]; then
  case "$REAL_N" in
    ''|*[!0-9]*) say "--real-providers takes a job count (1..100000), not '$REAL_N'"; exit 2 ;;
  esac
  if [ "${#REAL_N}" -gt 6 ] || [ "$REAL_N" -lt 1 ] || [ "$REAL_N" -gt 100000 ]; then
    say "--real-providers takes a job count (1..100000), not '$REAL_N'"; exit 2
  fi
  [ -n "${KIE_API_KEY:-}" ] && REAL_NAMES+=("kie (https://api.kie.ai)")
  [ -n "${REPLICATE_API_TOKEN:-}" ] && REAL_NAMES+=("replicate (https://api.replicate.com)")
  if [ ${#REAL_NAMES[@]} -eq 0 ]; then
    say "--real-providers needs KIE_API_KEY and/or REPLICATE_API_TOKEN in the environment"; exit 2
  fi
  if [ -n "$CHAOS" ]; then say "--chaos needs the fake providers: drop --real-providers"; exit 2; fi
  REAL=1
  NJOBS=$REAL_N
  if [ -n "${DEMO_JOBS:-}" ] && [ "$DEMO_JOBS" != "$REAL_N" ]; then
    say "DEMO_JOBS=$DEMO_JOBS ignored: --real-providers $REAL_N sets the job count"
  fi
  say "plan: REAL providers, $NJOBS jobs to $(IFS=,; echo "${REAL_NAMES[*]}" | sed 's/,/, then /g')"
  say "plan: this bills your accounts for up to $NJOBS images (a job that fails over may be billed by both providers)"
else
  NJOBS=${DEMO_JOBS:-500}
  case "$NJOBS" in ''|*[!0-9]*|0) say "DEMO_JOBS must be a positive number, not '$NJOBS'"; exit 2 ;; esac
  if [ -n "${KIE_API_KEY:-}" ] || [ -n "${REPLICATE_API_TOKEN:-}" ]; then
    say "KIE_API_KEY / REPLICATE_API_TOKEN are set but ignored: using the fake providers (--real-providers N to bill the real ones)"
  fi
  unset KIE_API_KEY REPLICATE_API_TOKEN # nothing started from here can reach for them
  say "plan: fake providers (fakeprov on 127.0.0.1), $NJOBS jobs, nothing billed${CHAOS:+, chaos}"
fi
if [ -n "$DRY" ]; then say "dry run: nothing started"; exit 0; fi

scripts/deps.sh
say "building ($BUILD, Release)"
cmake -S . -B "$BUILD" -G Ninja -DCMAKE_BUILD_TYPE=Release -DBUILD_TESTING=OFF >/dev/null
cmake --build "$BUILD" -j"$(nproc)" --target switchyard switchyard-enqueue fakeprov >/dev/null

WORK=$(mktemp -d /tmp/switchyard-demo.XXXXXX)
FP_PID="" POOL_PID="" VIEW_PID="" STARTED_KAFKA=""

stop_pid() {  # stop_pid PID SECONDS: SIGTERM, wait up to SECONDS, then SIGKILL
  local pid=$1 i
  [ -n "$pid" ] && kill -0 "$pid" 2>/dev/null || return 0
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 $(($2 * 10))); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  if kill -0 "$pid" 2>/dev/null; then
    say "pid $pid still running after $2 s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
  fi
  wait "$pid" 2>/dev/null || true
}
cleanup() {
  local rc=$?
  trap - EXIT INT TERM
  stop_pid "$VIEW_PID" 15
  # the supervisor forwards SIGTERM to its workers and exits when they have
  stop_pid "$POOL_PID" 40
  stop_pid "$FP_PID" 10
  if [ -n "$STARTED_KAFKA" ]; then
    scripts/kafka.sh stop >/dev/null 2>&1 || true
    say "stopped the Kafka broker it started"
  fi
  exit "$rc"
}
trap cleanup EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# ---------------------------------------------------------------- Kafka
if scripts/kafka.sh status >/dev/null 2>&1; then
  BROKERS=$(scripts/kafka.sh start 2>/dev/null | tail -n 1)
  say "using the running Kafka at $BROKERS (left running)"
else
  say "starting a local Kafka (first run: resolves the jars with Maven, a minute or two)"
  STARTED_KAFKA=1
  BROKERS=$(scripts/kafka.sh start 2>"$WORK/kafka.err" | tail -n 1) || {
    tail -n 30 "$WORK/kafka.err" >&2; exit 1; }
  say "Kafka at $BROKERS"
fi
case "$BROKERS" in 127.0.0.1:[0-9]*) ;; *) say "kafka.sh start printed '$BROKERS'"; exit 1 ;; esac

# ---------------------------------------------------------------- providers
PROVIDERS=()
if [ -n "$REAL" ]; then
  MODE="real providers"
  FP_URL=""
  prio=1
  if [ -n "${KIE_API_KEY:-}" ]; then
    # default rate limits; scope fleet: the 3 workers share one API key
    PROVIDERS+=("  { name = \"kie\"; type = \"kie\"; priority = $prio; base_url = \"https://api.kie.ai\";
    api_key_env = \"KIE_API_KEY\"; rate_limit = { scope = \"fleet\"; }; }")
    prio=2
  fi
  if [ -n "${REPLICATE_API_TOKEN:-}" ]; then
    PROVIDERS+=("  { name = \"replicate\"; type = \"replicate\"; priority = $prio; base_url = \"https://api.replicate.com\";
    api_key_env = \"REPLICATE_API_TOKEN\"; rate_limit = { scope = \"fleet\"; }; }")
  fi
  say "REAL providers (--real-providers $NJOBS): $NJOBS jobs will be billed"
else
  MODE="fake providers"
  # Fake KIE + Replicate: generation time lognormal around 4 s; KIE keeps its
  # real window (at most 20 creates in any 10 s, else 429), and answers 2% of
  # creates with HTTP 500, so retries and fallback show up.
  "$BUILD/fakeprov" --listen 127.0.0.1:0 --port-file "$WORK/fakeprov.port" \
    --gen-ms 4000 --gen-dist lognormal --kie-window-limit 20 --kie-window-s 10 \
    --fault http500@kie=0.02 --threads 2 --seed 7 >/dev/null 2>"$WORK/fakeprov.err" &
  FP_PID=$!
  for _ in $(seq 100); do [ -s "$WORK/fakeprov.port" ] && break; sleep 0.05; done
  [ -s "$WORK/fakeprov.port" ] || { say "fakeprov did not start"; cat "$WORK/fakeprov.err" >&2; exit 1; }
  FP_PORT=$(cat "$WORK/fakeprov.port")
  FP_URL="http://127.0.0.1:$FP_PORT"
  say "fake KIE + Replicate on $FP_URL (pid $FP_PID)"
  export DEMO_KIE_KEY=test-kie-key DEMO_REPLICATE_KEY=test-replicate-key
  # KIE: its real window (18 creates per sliding 11 s, for the whole fleet),
  # so most jobs spill over to Replicate; Replicate and polling opened wider
  # than the defaults (fakeprov has no limit there).
  PROVIDERS=("  { name = \"kie\"; type = \"kie\"; priority = 1; base_url = \"$FP_URL\"; api_key_env = \"DEMO_KIE_KEY\";
    poll = { mode = \"fixed\"; first_ms = 2500; interval_ms = 500; max_s = 120; };
    rate_limit = { create_per_s = 1.6; create_burst = 18; create_window_max = 18; create_window_s = 11;
                   poll_per_s = 60.0; poll_burst = 60; scope = \"fleet\"; };
    # each worker sees about 0.5 KIE creates/s: a shorter window, so the breaker acts within the outage
    breaker = { window = 10; min_calls = 5; failure_rate = 0.5; open_s = 8; half_open_probes = 2; }; }" \
             "  { name = \"replicate\"; type = \"replicate\"; priority = 2; base_url = \"$FP_URL\"; api_key_env = \"DEMO_REPLICATE_KEY\";
    poll = { mode = \"fixed\"; first_ms = 2500; interval_ms = 500; max_s = 120; };
    rate_limit = { create_per_s = 40.0; create_burst = 60; poll_per_s = 200.0; poll_burst = 200; }; }")
fi

RUN_ID="demo-$(date +%Y%m%d-%H%M%S)-$$"
# /metrics of worker i on METRICS_BASE + i: the first free run of ports from 19464
METRICS_BASE=$(python3 - "$WORKERS" <<'PY'
import socket, sys
n = int(sys.argv[1])
for base in range(19464, 20464, n):
    socks = []
    try:
        for i in range(n):
            s = socket.socket()
            s.bind(("127.0.0.1", base + i))
            socks.append(s)
        print(base)
        break
    except OSError:
        pass
    finally:
        for s in socks:
            s.close()
PY
)
[ -n "$METRICS_BASE" ] || { say "no free ports for the workers' /metrics"; exit 1; }
METRICS_PORTS=$(seq -s, "$METRICS_BASE" $((METRICS_BASE + WORKERS - 1)))
CONF="$WORK/demo.conf"
{
  echo "# Generated by scripts/demo.sh ($MODE)."
  echo "providers = ("
  (IFS=$'\n'; n=${#PROVIDERS[@]}; i=0
   for p in "${PROVIDERS[@]}"; do i=$((i + 1)); [ $i -lt $n ] && echo "$p," || echo "$p"; done)
  echo ");"
  echo "worker = { max_in_flight = 300; metrics_listen = \"127.0.0.1:$METRICS_BASE\"; log_level = \"info\"; shutdown_grace_s = 20; };"
  echo "kafka = { brokers = \"$BROKERS\"; group = \"$RUN_ID\"; input_topic = \"$RUN_ID.jobs\";"
  echo "          output_topic = \"$RUN_ID.results\"; dlq_topic = \"$RUN_ID.dlq\"; };"
} >"$CONF"
"$BUILD/switchyard" -c "$CONF" --check-config >/dev/null

# ---------------------------------------------------------------- topic, workers
# the input topic, and the results topic too (else enqueue --wait first looks for it for 5 s)
for t in "$RUN_ID.jobs" "$RUN_ID.results"; do
  "$BUILD/switchyard-enqueue" -c "$CONF" -t "$t" --partitions "$PARTITIONS" </dev/null 2>"$WORK/topic.err" || {
    cat "$WORK/topic.err" >&2; exit 1; }
done
say "topics $RUN_ID.jobs and .results ($PARTITIONS partitions each)"

"$BUILD/switchyard" -c "$CONF" --workers "$WORKERS" </dev/null >/dev/null 2>"$WORK/workers.log" &
POOL_PID=$!
say "$WORKERS workers (supervisor pid $POOL_PID), log $WORK/workers.log, /metrics on 127.0.0.1:{${METRICS_PORTS}}"

python3 scripts/jobs/make_demo_jobs.py "$NJOBS" >"$WORK/jobs.jsonl"

# ---------------------------------------------------------------- run + view
VIEW=(python3 scripts/demo_view.py --enqueue "$BUILD/switchyard-enqueue" --conf "$CONF"
      --jobs "$WORK/jobs.jsonl" --out "$WORK/results.jsonl" --worker-log "$WORK/workers.log"
      --workers "$WORKERS" --partitions "$PARTITIONS" --topic "$RUN_ID.jobs" --mode "$MODE"
      --rate "$RATE" --metrics-ports "$METRICS_PORTS")
[ -n "$FP_URL" ] && VIEW+=(--fakeprov "$FP_URL")
[ -n "$CHAOS" ] && VIEW+=(--chaos)
# in the background + wait, so that a SIGTERM to this script is handled at once
"${VIEW[@]}" &
VIEW_PID=$!
set +e
wait "$VIEW_PID"
VIEW_RC=$?
set -e
VIEW_PID=""

say "stopping the workers"
stop_pid "$POOL_PID" 40
POOL_PID=""
if grep -q '"level":"error"' "$WORK/workers.log"; then
  say "worker errors (from $WORK/workers.log):"
  grep '"level":"error"' "$WORK/workers.log" | tail -n 5 >&2
fi
say "results in $WORK/results.jsonl"
exit "$VIEW_RC"
