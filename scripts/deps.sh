#!/usr/bin/env bash
# Install every build, test and demo dependency from Debian packages, when
# missing. Idempotent; runs as root without prompting (or through sudo).
set -euo pipefail

PKGS=(
  build-essential cmake ninja-build pkg-config git curl ca-certificates python3
  python3-prometheus-client      # test_metrics parses /metrics with its parser
  prometheus                     # promtool: the alert rule tests (contrib/prometheus)
  python3-confluent-kafka        # contrib/python/switchyard_client and its test
  libcurl4-openssl-dev libjson-c-dev librdkafka-dev libconfig-dev libuv1-dev
  libmicrohttpd-dev libcriterion-dev libgnutls28-dev
  openjdk-17-jre-headless maven   # the local Kafka broker (scripts/kafka.sh)
)

missing=()
for p in "${PKGS[@]}"; do
  # A Java 17+ and Maven already on PATH (e.g. another JDK build) will do.
  case "$p" in
    openjdk-17-jre-headless)
      if command -v java >/dev/null 2>&1 &&
         [ "$(java -version 2>&1 | sed -n 's/.*version "\([0-9]*\).*/\1/p' | head -1)" -ge 17 ] 2>/dev/null; then
        continue
      fi ;;
    maven) command -v mvn >/dev/null 2>&1 && continue ;;
  esac
  if ! dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed"; then
    missing+=("$p")
  fi
done

if [ ${#missing[@]} -eq 0 ]; then
  echo "deps: all ${#PKGS[@]} packages present"
  exit 0
fi

SUDO=""
if [ "$(id -u)" -ne 0 ]; then
  if command -v sudo >/dev/null 2>&1; then SUDO="sudo -n"; else
    echo "deps: missing ${missing[*]} and not root (no sudo); install them and retry" >&2
    exit 1
  fi
fi
echo "deps: installing ${missing[*]}"
export DEBIAN_FRONTEND=noninteractive
$SUDO apt-get update -qq
$SUDO apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "deps: done"
