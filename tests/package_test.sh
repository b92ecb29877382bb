#!/usr/bin/env bash
# The .deb, end to end: cpack in BUILD (a Release build), check the package's
# metadata and file list with dpkg-deb -I / -c, extract it with dpkg-deb -x
# into a temporary root and run the extracted binaries from there:
# --version, and --check-config on the shipped /etc/switchyard/switchyard.conf.
# The shipped config names its providers' key variables (api_key_env), so the
# check runs with placeholder keys; it needs no broker (nothing is contacted).
# Usage: package_test.sh BUILD_DIR SOURCE_DIR   (registered in CTest)
set -euo pipefail
build=$1 src=$2
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
fail() { echo "package_test: FAIL: $*" >&2; exit 1; }

(cd "$build" && cpack -G DEB -B "$tmp/pkg" >"$tmp/cpack.log") || { cat "$tmp/cpack.log" >&2; fail "cpack"; }
debs=("$tmp"/pkg/*.deb)
[ ${#debs[@]} -eq 1 ] && [ -f "${debs[0]}" ] || fail "expected one .deb, got: ${debs[*]}"
deb=${debs[0]}
echo "package_test: $(basename "$deb")"

# Metadata.
version=$("$build/switchyard" --version | awk '{print $2}')
[ "$(dpkg-deb -f "$deb" Package)" = switchyard ] || fail "Package: $(dpkg-deb -f "$deb" Package)"
[ "$(dpkg-deb -f "$deb" Version)" = "$version" ] || fail "Version $(dpkg-deb -f "$deb" Version), binary says $version"
[ "$(dpkg-deb -f "$deb" Architecture)" = "$(dpkg --print-architecture)" ] || fail "Architecture"
depends=$(dpkg-deb -f "$deb" Depends)
dpkg-deb -I "$deb" conffiles | grep -qx /etc/switchyard/switchyard.conf ||
  fail "/etc/switchyard/switchyard.conf is not a conffile"

# Contents: what must be there, and what must not (test and bench programs).
dpkg-deb -c "$deb" | awk '{print $6}' | sed 's|^\./|/|' >"$tmp/list"
for f in /usr/bin/switchyard /usr/bin/switchyard-enqueue \
         /etc/switchyard/switchyard.conf \
         /usr/lib/systemd/system/switchyard@.service \
         /usr/share/man/man1/switchyard.1 /usr/share/man/man1/switchyard-enqueue.1 \
         /usr/share/doc/switchyard/README.md /usr/share/doc/switchyard/README-config.md \
         /usr/share/doc/switchyard/systemd/README.md /usr/share/doc/switchyard/prometheus/alerts.yml; do
  grep -qx "$f" "$tmp/list" || fail "missing $f"
done
for f in "$src"/contrib/prometheus/* "$src"/contrib/grafana/*; do
  [ -e "$f" ] || continue
  rel=${f#"$src"/contrib/}
  grep -qxE "/usr/share/doc/switchyard/$rel/?" "$tmp/list" || fail "missing contrib/$rel"
done
if grep -E 'fakeprov|bench|/test_|\.o$|\.a$|CMake' "$tmp/list"; then fail "test/bench/build files in the package"; fi
if grep -vE '^/(etc/switchyard|usr/bin|usr/lib/systemd/system|usr/share/(man|doc))(/|$)|^/(etc|usr|usr/lib|usr/lib/systemd|usr/share)/$' "$tmp/list"; then
  fail "files outside the expected directories"
fi

# Extract and run from the temporary root.
root=$tmp/root
dpkg-deb -x "$deb" "$root"
cmp "$root/etc/switchyard/switchyard.conf" "$src/conf/switchyard.conf" || fail "shipped config differs from conf/switchyard.conf"
"$root/usr/bin/switchyard" --version | grep -q "^switchyard $version " || fail "switchyard --version"
"$root/usr/bin/switchyard-enqueue" --version | grep -q "^switchyard-enqueue $version " || fail "switchyard-enqueue --version"
conf=$root/etc/switchyard/switchyard.conf
# Without its key variables the config is refused (so the file really is read) ...
set +e
out=$(env -u KIE_API_KEY -u REPLICATE_API_TOKEN "$root/usr/bin/switchyard" -c "$conf" --check-config 2>&1)
rc=$?
set -e
[ $rc -eq 2 ] && grep -q 'KIE_API_KEY' <<<"$out" || fail "check-config without keys: rc=$rc: $out"
# ... and with them it passes.
KIE_API_KEY=placeholder REPLICATE_API_TOKEN=placeholder \
  "$root/usr/bin/switchyard" -c "$conf" --check-config || fail "switchyard --check-config on the shipped config"

# The unit runs the packaged binary.
unit=$root/usr/lib/systemd/system/switchyard@.service
for exe in $(sed -n 's/^Exec\(StartPre\|Start\)=\([^ ]*\).*/\2/p' "$unit"); do
  [ "$exe" = /usr/bin/switchyard ] || fail "unit runs $exe, not /usr/bin/switchyard"
done
grep -q '^ExecStart=/usr/bin/switchyard -c /etc/switchyard/%i.conf' "$unit" || fail "unit ExecStart"

# Man pages: the --help text, and valid roff (when groff is here).
grep -q 'check\\-config' "$root/usr/share/man/man1/switchyard.1" || fail "switchyard.1 lacks --check-config"
grep -q 'partitions' "$root/usr/share/man/man1/switchyard-enqueue.1" || fail "switchyard-enqueue.1 lacks --partitions"
if command -v groff >/dev/null; then
  for m in "$root"/usr/share/man/man1/*.1; do
    w=$(groff -man -Tutf8 -ww -z "$m" 2>&1)
    [ -z "$w" ] || fail "groff warnings in $(basename "$m"): $w"
  done
fi

# Depends covers every library the binaries link directly (DT_NEEDED).
pkg_of() {  # the Debian package that ships the library at path $1
  local p=$1 alt
  alt=$(readlink -f "$p")
  for q in "$p" "$alt" "${p#/usr}" "/usr$p"; do
    dpkg -S "$q" 2>/dev/null | head -n 1 | cut -d: -f1 && return 0
  done
  return 1
}
for b in "$root/usr/bin/switchyard" "$root/usr/bin/switchyard-enqueue"; do
  for so in $(readelf -d "$b" | sed -n 's/.*(NEEDED).*\[\(.*\)\]/\1/p'); do
    path=$(ldd "$b" | awk -v s="$so" '$1 == s { print $3; exit }')
    [ -n "$path" ] || fail "$(basename "$b"): $so not found by ldd"
    pkg=$(pkg_of "$path") || fail "no Debian package ships $path"
    grep -qE "(^|, )$pkg( |,|$)" <<<"$depends" || fail "$(basename "$b") links $so ($pkg), not in Depends: $depends"
  done
done
echo "package_test: ok ($(grep -c . "$tmp/list") entries; Depends: $depends)"
