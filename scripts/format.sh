#!/bin/sh
# Format every tracked C file (*.c, *.h, tests and tests/fakeprov included)
# with the repository's .clang-format.
#   scripts/format.sh           rewrite the files in place
#   scripts/format.sh --check   change nothing; list the files that differ and exit 1 if any
# Needs clang-format 14 (CLANG_FORMAT overrides the binary): other versions
# format a few constructs differently, so the check would flap between them.
set -eu
cd "$(dirname "$0")/.."

CF=${CLANG_FORMAT:-}
if [ -z "$CF" ]; then
    for c in clang-format-14 clang-format; do
        if command -v "$c" >/dev/null 2>&1; then CF=$c; break; fi
    done
fi
if [ -z "$CF" ] || ! command -v "$CF" >/dev/null 2>&1; then
    echo "format.sh: clang-format-14 not found (apt-get install clang-format-14, or set CLANG_FORMAT)" >&2
    exit 2
fi
case "$("$CF" --version)" in
    *"version 14."*) ;;
    *) echo "format.sh: warning: $CF is not clang-format 14; its output may differ" >&2 ;;
esac

mode=apply
case "${1:-}" in
    --check) mode=check ;;
    "") ;;
    *) echo "usage: scripts/format.sh [--check]" >&2; exit 2 ;;
esac

files=$(git ls-files '*.c' '*.h')
if [ "$mode" = apply ]; then
    # shellcheck disable=SC2086
    printf '%s\n' $files | xargs "$CF" -i --style=file
    exit 0
fi

bad=0
for f in $files; do
    if ! "$CF" --style=file "$f" | cmp -s - "$f"; then
        echo "$f"
        bad=1
    fi
done
if [ "$bad" -ne 0 ]; then
    echo "format.sh: the files above differ from .clang-format; run scripts/format.sh" >&2
fi
exit "$bad"
