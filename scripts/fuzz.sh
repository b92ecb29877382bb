#!/usr/bin/env bash
# fuzz.sh [SECONDS] [FILTER] — builds the libFuzzer harnesses of tests/fuzz
# with clang-14 (-fsanitize=fuzzer,address,undefined) into build-fuzz/ and runs
# each target (or those whose name contains FILTER) for SECONDS (default 60),
# starting from the committed corpus tests/fuzz/corpus/<target>/. Prints one
# row per target: run time, executions, corpus (files/bytes), coverage
# (libFuzzer cov/ft) and crashes (artifacts in build-fuzz/artifacts/<target>/).
#
# Environment:
#   FUZZ_JOBS=N   targets run at once (default 1); runs are niced (19)
#   FUZZ_MERGE=1  afterwards, rewrite tests/fuzz/corpus/<target>/ as its seed-*
#                 and regress-* files plus the inputs of this run that add
#                 coverage (-merge=1)
#   FUZZ_ARGS     extra libFuzzer flags
# Exit status 1 when any target crashed. Installs clang-14 and
# libclang-rt-14-dev with apt when missing.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$PWD
SECS=${1:-60}
FILTER=${2:-}
JOBS=${FUZZ_JOBS:-1}
B=$ROOT/build-fuzz
TARGETS=(codec_job_parse codec_job_diff jread_diff kie_parse replicate_parse webhook envelope enqueue_line template conf_load)

if ! command -v clang-14 >/dev/null || ! ls /usr/lib/llvm-14/lib/clang/*/lib/linux/libclang_rt.fuzzer-x86_64.a >/dev/null 2>&1; then
    echo "fuzz.sh: installing clang-14 and libclang-rt-14-dev" >&2
    SUDO=; [ "$(id -u)" -eq 0 ] || SUDO=sudo
    $SUDO apt-get update -qq && $SUDO apt-get install -y -qq clang-14 libclang-rt-14-dev >/dev/null
fi

sel=()
for t in "${TARGETS[@]}"; do [[ -z $FILTER || $t == *"$FILTER"* ]] && sel+=("$t"); done
[ ${#sel[@]} -gt 0 ] || { echo "fuzz.sh: no target matches '$FILTER'" >&2; exit 2; }

cmake -S . -B "$B" -G Ninja -DFUZZ=ON -DBUILD_TESTING=OFF -DCMAKE_C_COMPILER=clang-14 \
      -DCMAKE_BUILD_TYPE=RelWithDebInfo >/dev/null
cmake --build "$B" -j2 --target "${sel[@]/#/fuzz_}" >/dev/null

export ASAN_OPTIONS=detect_leaks=1:allocator_may_return_null=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1
export LSAN_OPTIONS=suppressions=$ROOT/tests/lsan.supp:print_suppressions=0

run_one() { # target
    local t=$1 work=$B/corpus/$1 art=$B/artifacts/$1/ dict=tests/fuzz/dict/$1.dict
    [ -f "$dict" ] || dict=tests/fuzz/dict/json.dict
    mkdir -p "$work" "$art"
    cp -n tests/fuzz/corpus/"$t"/* "$work"/ 2>/dev/null || true
    nice -n 19 "$B/tests/fuzz/fuzz_$t" -max_total_time="$SECS" -rss_limit_mb=2048 -timeout=10 \
        -dict="$dict" -artifact_prefix="$art" -print_final_stats=1 ${FUZZ_ARGS:-} \
        "$work" >"$B/$t.log" 2>&1 || true
}

start=$(date +%s)
running=0
for t in "${sel[@]}"; do
    run_one "$t" &
    running=$((running + 1))
    if [ "$running" -ge "$JOBS" ]; then wait -n || true; running=$((running - 1)); fi
done
wait

if [ "${FUZZ_MERGE:-0}" = 1 ]; then
    for t in "${sel[@]}"; do
        c=tests/fuzz/corpus/$t m=$B/merge/$t
        rm -rf "$m" && mkdir -p "$m"
        cp "$c"/seed-* "$m"/ && cp "$c"/regress-* "$m"/ 2>/dev/null || true
        nice -n 19 "$B/tests/fuzz/fuzz_$t" -merge=1 -rss_limit_mb=2048 -timeout=10 -artifact_prefix="$B/artifacts/$t/" \
            "$m" "$B/corpus/$t" \
            >"$B/$t.merge.log" 2>&1
        rm -rf "$c" && cp -r "$m" "$c"
    done
fi

printf '%-16s %7s %12s %14s %6s %7s %7s\n' target time_s execs corpus_files/B cov ft crashes
bad=0
for t in "${sel[@]}"; do
    log=$B/$t.log
    execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
    secs=$(sed -n 's/^stat::.*//; s/^Done [0-9]* runs in \([0-9]*\) second.*/\1/p' "$log" | tail -1)
    last=$(grep -E '^#[0-9]+' "$log" | grep 'cov:' | tail -1 || true)
    cov=$(sed -n 's/.* cov: \([0-9]*\).*/\1/p' <<<"$last")
    ft=$(sed -n 's/.* ft: \([0-9]*\).*/\1/p' <<<"$last")
    dir=$B/corpus/$t
    [ "${FUZZ_MERGE:-0}" = 1 ] && dir=tests/fuzz/corpus/$t
    files=$(find "$dir" -type f | wc -l)
    bytes=$(find "$dir" -type f -printf '%s\n' | awk '{s+=$1} END {print s+0}')
    crashes=$(find "$B/artifacts/$t" -type f \( -name 'crash-*' -o -name 'leak-*' -o -name 'timeout-*' -o -name 'oom-*' \) \
              -newermt "@$start" | wc -l)
    [ "$crashes" -eq 0 ] || bad=1
    printf '%-16s %7s %12s %14s %6s %7s %7s\n' "$t" "${secs:-?}" "${execs:-?}" "$files/$bytes" "${cov:-?}" "${ft:-?}" "$crashes"
done
[ "$bad" -eq 0 ] || echo "fuzz.sh: crashes found; inputs in $B/artifacts/<target>/, logs in $B/<target>.log" >&2
exit "$bad"
