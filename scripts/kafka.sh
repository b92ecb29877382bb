#!/usr/bin/env bash
# A local single-node Apache Kafka 3.9 (KRaft: broker + controller in one JVM)
# on 127.0.0.1, for tests, the demo and benchmarks. See scripts/kafka/README.md.
#
#   scripts/kafka.sh start                  start (or find running); last stdout line: 127.0.0.1:PORT
#   scripts/kafka.sh stop                   stop the broker this script started
#   scripts/kafka.sh status                 "running 127.0.0.1:PORT" (exit 0) or "stopped" (exit 3)
#   scripts/kafka.sh topic NAME PARTITIONS  create a topic if it does not exist (idempotent)
#   scripts/kafka.sh logs                   tail of the broker log
#   scripts/kafka.sh partitions             topic-partitions the running broker holds (its data dir)
#
# Environment: KAFKA_PORT (broker port; default 9092, or a free one if busy),
# KAFKA_CONTROLLER_PORT (default 9093, or a free one), KAFKA_HEAP_OPTS
# (default -Xms256m -Xmx512m), KAFKA_START_TIMEOUT (seconds, default 90),
# XDG_CACHE_HOME (cache root, default ~/.cache).
set -euo pipefail

SCRIPT_DIR=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
KDIR="$SCRIPT_DIR/kafka"
POM="$KDIR/pom.xml"

CACHE="${XDG_CACHE_HOME:-$HOME/.cache}/switchyard"
KAFKA_VERSION=$(sed -n 's:.*<kafka.version>\(.*\)</kafka.version>.*:\1:p' "$POM" | head -1)
[ -n "$KAFKA_VERSION" ] || { echo "kafka.sh: no <kafka.version> in $POM" >&2; exit 1; }
DIST="$CACHE/kafka-$KAFKA_VERSION"   # lib/*.jar + .pom.sha256 stamp
LIB="$DIST/lib"
STAMP="$DIST/.pom.sha256"
RUN="$CACHE/kafka-run"               # pid, port, server.properties, logs
DATA="$CACHE/kafka-data"             # log.dirs; wiped on every start
PIDFILE="$RUN/kafka.pid"
PORTFILE="$RUN/kafka.port"
PROPS="$RUN/server.properties"
LOGDIR="$RUN/logs"

log() { echo "kafka.sh: $*" >&2; }
die() { log "$*"; exit 1; }

# ---------------------------------------------------------------- installs

as_root() {
  if [ "$(id -u)" -eq 0 ]; then "$@"
  elif command -v sudo >/dev/null 2>&1; then sudo -n "$@"
  else die "need root or sudo to run: $*"
  fi
}

APT_UPDATED=""
apt_install() {
  command -v apt-get >/dev/null 2>&1 || die "missing $*, and no apt-get to install it"
  log "installing $* with apt-get"
  if [ -z "$APT_UPDATED" ]; then
    as_root env DEBIAN_FRONTEND=noninteractive apt-get update -qq >&2
    APT_UPDATED=1
  fi
  as_root env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
    --no-install-recommends "$@" </dev/null >&2
}

JAVA=""
java_major() {  # java_major BIN -> 17, 21, ... (or nothing)
  local v
  v=$("$1" -version 2>&1 | sed -n 's/.*version "\([^"]*\)".*/\1/p' | head -1)
  case "$v" in 1.*) v=${v#1.} ;; esac
  echo "${v%%[.+-]*}"
}
find_java() {
  local cand m
  for cand in ${JAVA_HOME:+"$JAVA_HOME/bin/java"} "$(command -v java 2>/dev/null || true)" \
              /usr/lib/jvm/java-17-openjdk-*/bin/java; do
    [ -n "$cand" ] && [ -x "$cand" ] || continue
    m=$(java_major "$cand")
    if [ -n "$m" ] && [ "$m" -ge 17 ] 2>/dev/null; then JAVA=$cand; return 0; fi
  done
  return 1
}
ensure_java() {
  find_java && return 0
  apt_install openjdk-17-jre-headless
  find_java || die "no java 17+ after installing openjdk-17-jre-headless"
}

ensure_mvn() {
  command -v mvn >/dev/null 2>&1 || apt_install maven
  command -v mvn >/dev/null 2>&1 || die "no mvn after installing maven"
}

pom_hash() { sha256sum "$POM" | cut -d' ' -f1; }

# Resolve kafka_2.13 + runtime dependencies + logging binding into $LIB, once:
# skipped (no mvn run at all) while the stamp matches the pom's sha256.
ensure_jars() {
  local want
  want=$(pom_hash)
  if [ -f "$STAMP" ] && [ "$(cat "$STAMP")" = "$want" ] &&
     compgen -G "$LIB/kafka_2.13-$KAFKA_VERSION.jar" >/dev/null; then
    return 0
  fi
  ensure_mvn
  log "resolving Kafka $KAFKA_VERSION jars from Maven Central into $LIB"
  mkdir -p "$DIST"
  local tmp="$DIST/lib.tmp.$$"
  rm -rf "$tmp"
  # JAVA_HOME for mvn: the java we found (mvn needs a JDK only to compile; a JRE is fine here)
  if ! JAVA_HOME=$(dirname "$(dirname "$(readlink -f "$JAVA")")") \
       mvn -q -B -ntp -Dstyle.color=never -f "$POM" \
         dependency:copy-dependencies -DincludeScope=runtime \
         -DoutputDirectory="$tmp" </dev/null 2>&1 | sed 's/\x1b\[[0-9;]*m//g' >&2; then
    rm -rf "$tmp"
    die "mvn could not resolve the Kafka jars (see above)"
  fi
  [ -f "$tmp/kafka_2.13-$KAFKA_VERSION.jar" ] || { rm -rf "$tmp"; die "kafka_2.13-$KAFKA_VERSION.jar missing after mvn"; }
  rm -rf "$LIB"
  mv "$tmp" "$LIB"
  echo "$want" >"$STAMP"
  log "$(find "$LIB" -name '*.jar' | wc -l) jars in $LIB"
}

# ---------------------------------------------------------------- helpers

port_busy() {  # something accepts connections on 127.0.0.1:$1
  (exec 3<>"/dev/tcp/127.0.0.1/$1") 2>/dev/null
}
pick_port() {  # pick_port PREFERRED [EXCLUDE]: PREFERRED if free, else a free one
  local p=$1 ex=${2:-} i
  if [ "$p" != "$ex" ] && ! port_busy "$p"; then echo "$p"; return 0; fi
  for i in $(seq 1 200); do
    p=$(( 20000 + (RANDOM * 32768 + RANDOM) % 40000 ))
    if [ "$p" != "$ex" ] && ! port_busy "$p"; then echo "$p"; return 0; fi
  done
  die "no free port found"
}

# The pid of the broker this script started, if it is still running.
running_pid() {
  local pid
  [ -f "$PIDFILE" ] || return 1
  pid=$(cat "$PIDFILE" 2>/dev/null) || return 1
  case "$pid" in ''|*[!0-9]*) return 1 ;; esac
  kill -0 "$pid" 2>/dev/null || return 1
  # make sure the pid was not reused by something else
  tr '\0' ' ' <"/proc/$pid/cmdline" 2>/dev/null | grep -q "kafka.Kafka $PROPS" || return 1
  echo "$pid"
}

address() { echo "127.0.0.1:$(cat "$PORTFILE")"; }

TOOL_OPTS=(-Xms32m -Xmx256m -XX:+UseSerialGC -XX:TieredStopAtLevel=1
           -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true "-Dlog4j.configuration=file:$KDIR/tools-log4j.properties")
tool() {  # tool CLASS ARGS...: a Kafka command-line class on the cached jars
  "$JAVA" "${TOOL_OPTS[@]}" -cp "$LIB/*" "$@" </dev/null
}

lock() {  # serialise start/stop/topic of one cache folder
  mkdir -p "$RUN"
  if command -v flock >/dev/null 2>&1; then
    exec 9>"$RUN/lock"
    flock -w 180 9 || die "another kafka.sh holds $RUN/lock"
  fi
}

log_tail() {
  log "---- last lines of $LOGDIR/server.log and $RUN/kafka.out ----"
  tail -n 40 "$LOGDIR/server.log" >&2 2>/dev/null || true
  tail -n 20 "$RUN/kafka.out" >&2 2>/dev/null || true
}

# ---------------------------------------------------------------- commands

cmd_start() {
  lock
  local pid
  if pid=$(running_pid); then
    log "already running (pid $pid)"
    address
    return 0
  fi
  rm -f "$PIDFILE" "$PORTFILE"

  ensure_java
  ensure_jars

  local port cport
  if [ -n "${KAFKA_PORT:-}" ]; then
    port=$KAFKA_PORT
    port_busy "$port" && die "KAFKA_PORT=$port is in use"
  else
    port=$(pick_port 9092)
  fi
  if [ -n "${KAFKA_CONTROLLER_PORT:-}" ]; then
    cport=$KAFKA_CONTROLLER_PORT
    { [ "$cport" = "$port" ] || port_busy "$cport"; } && die "KAFKA_CONTROLLER_PORT=$cport is in use"
  else
    cport=$(pick_port 9093 "$port")
  fi

  # fresh data on every start: tests want a clean broker
  case "$DATA" in */switchyard/kafka-data) rm -rf "$DATA" ;; *) die "odd data dir $DATA" ;; esac
  mkdir -p "$DATA" "$LOGDIR"
  rm -f "$LOGDIR"/server.log*

  local tpl
  tpl=$(cat "$KDIR/server.properties.in")
  tpl=${tpl//@PORT@/$port}
  tpl=${tpl//@CPORT@/$cport}
  tpl=${tpl//@DATA@/$DATA}
  printf '%s\n' "$tpl" >"$PROPS"
  cp "$KDIR/log4j.properties" "$RUN/log4j.properties"

  # cluster id: 16 random bytes, base64url without padding (what random-uuid prints)
  local cid
  cid=$(head -c 16 /dev/urandom | base64 | tr '+/' '-_' | tr -d '=\n')
  # static quorum (controller.quorum.voters): format without --standalone
  tool kafka.tools.StorageTool format -t "$cid" -c "$PROPS" >&2 ||
    die "storage format failed"

  local heap=${KAFKA_HEAP_OPTS:--Xms256m -Xmx512m}
  local -a launch=()
  command -v setsid >/dev/null 2>&1 && launch=(setsid)
  # shellcheck disable=SC2086
  nohup "${launch[@]}" "$JAVA" -server $heap \
    -XX:+UseG1GC -XX:MaxGCPauseMillis=20 -XX:InitiatingHeapOccupancyPercent=35 \
    -XX:+ExplicitGCInvokesConcurrent -XX:+ExitOnOutOfMemoryError \
    -Djava.awt.headless=true -Djava.net.preferIPv4Stack=true \
    "-Dkafka.logs.dir=$LOGDIR" "-Dlog4j.configuration=file:$RUN/log4j.properties" \
    -cp "$LIB/*" kafka.Kafka "$PROPS" >"$RUN/kafka.out" 2>&1 </dev/null 9>&- &
  pid=$!
  echo "$pid" >"$PIDFILE"
  echo "$port" >"$PORTFILE"
  log "started Kafka $KAFKA_VERSION (pid $pid) on 127.0.0.1:$port, controller 127.0.0.1:$cport"

  # wait: the port answers, the broker logs that it started, then an admin
  # client round trip (list topics) succeeds
  local timeout=${KAFKA_START_TIMEOUT:-90} t0=$SECONDS
  while :; do
    if ! kill -0 "$pid" 2>/dev/null; then
      log "broker exited during startup"; log_tail; rm -f "$PIDFILE" "$PORTFILE"; exit 1
    fi
    if port_busy "$port" && grep -q 'Kafka Server started' "$LOGDIR/server.log" 2>/dev/null; then
      break
    fi
    if [ $((SECONDS - t0)) -ge "$timeout" ]; then
      log "broker not up after ${timeout}s"; log_tail; cmd_stop_locked >&2 || true; exit 1
    fi
    sleep 0.2
  done
  local left=$(( timeout - (SECONDS - t0) )); [ "$left" -ge 10 ] || left=10
  if ! timeout "$left" "$JAVA" "${TOOL_OPTS[@]}" -cp "$LIB/*" org.apache.kafka.tools.TopicCommand \
         --bootstrap-server "127.0.0.1:$port" --list </dev/null >/dev/null; then
    log "broker does not answer an admin request"; log_tail; cmd_stop_locked >&2 || true; exit 1
  fi
  log "ready in $((SECONDS - t0))s"
  echo "127.0.0.1:$port"
}

cmd_stop_locked() {
  local pid i
  if ! pid=$(running_pid); then
    rm -f "$PIDFILE" "$PORTFILE"
    log "not running"
    return 0
  fi
  kill -TERM "$pid" 2>/dev/null || true
  for i in $(seq 1 150); do   # 30 s
    kill -0 "$pid" 2>/dev/null || break
    sleep 0.2
  done
  if kill -0 "$pid" 2>/dev/null; then
    log "broker pid $pid still running after 30s: SIGKILL"
    kill -KILL "$pid" 2>/dev/null || true
    for i in $(seq 1 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  fi
  rm -f "$PIDFILE" "$PORTFILE"
  log "stopped (pid $pid)"
}

cmd_stop() {
  lock
  cmd_stop_locked
}

cmd_status() {
  local pid
  if pid=$(running_pid); then
    echo "running $(address) (pid $pid, Kafka $KAFKA_VERSION)"
    return 0
  fi
  echo "stopped"
  return 3
}

cmd_topic() {
  local name=${1:-} parts=${2:-}
  [ -n "$name" ] && [[ "$parts" =~ ^[1-9][0-9]*$ ]] || die "usage: kafka.sh topic NAME PARTITIONS"
  lock
  running_pid >/dev/null || die "broker is not running (scripts/kafka.sh start)"
  ensure_java
  local bs
  bs=$(address)
  tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --create --if-not-exists \
    --topic "$name" --partitions "$parts" --replication-factor 1 >&2 ||
    die "could not create topic $name"
  # idempotent only for the same shape: an existing topic must have PARTITIONS
  local desc have
  desc=$(tool org.apache.kafka.tools.TopicCommand --bootstrap-server "$bs" --describe --topic "$name") ||
    die "could not describe topic $name"
  have=$(printf '%s\n' "$desc" | sed -n 's/.*PartitionCount: *\([0-9]*\).*/\1/p' | head -1)
  [ "$have" = "$parts" ] || die "topic $name exists with $have partitions, not $parts"
  echo "topic $name partitions=$parts on $bs"
}

# Every run of the suite or a bench leaves its topics behind. A broker
# started with Kafka's 10 MiB index files (an older checkout) then answers
# far more slowly (README.md, `partitions`), which skews benchmarks and
# times tests out.
cmd_partitions() {
  running_pid >/dev/null || die "broker is not running (scripts/kafka.sh start)"
  find "$DATA" -mindepth 1 -maxdepth 1 -type d -name '*-[0-9]*' ! -name '__*' | wc -l
}

cmd_logs() {
  tail -n "${1:-100}" "$LOGDIR/server.log"
}

usage() {
  echo "usage: scripts/kafka.sh start|stop|status|topic NAME PARTITIONS|logs [N]|partitions" >&2
}

case "${1:-}" in
  start)  cmd_start ;;
  stop)   cmd_stop ;;
  status) cmd_status ;;
  topic)  shift; cmd_topic "$@" ;;
  logs)   shift; cmd_logs "$@" ;;
  partitions) cmd_partitions ;;
  -h|--help|help) usage ;;
  *) usage; exit 2 ;;
esac
