#!/bin/sh
# A man page from a program's --help and --version texts (no help2man needed).
# Usage: help2man.sh BINARY NAME "one-line summary" OUT.1
# The --help text becomes the DESCRIPTION verbatim (no-fill), so the page
# says exactly what the program says; FILES and SEE ALSO are fixed here.
set -eu
bin=$1 name=$2 summary=$3 out=$4

help=$("$bin" --help)
version=$("$bin" --version | head -n 1 | cut -d" " -f1-2)
# roff: a backslash is \e, a leading . or ' would be a request, - is \-.
esc() { sed -e 's/\\/\\e/g' -e 's/-/\\-/g' -e "s/^\([.']\)/\\\\\&\1/"; }

{
  printf '.TH %s 1 "" "%s" "User Commands"\n' "$(printf '%s' "$name" | tr a-z A-Z)" "$version"
  printf '.SH NAME\n%s \\- %s\n' "$(printf '%s' "$name" | esc)" "$(printf '%s' "$summary" | esc)"
  printf '.SH DESCRIPTION\n.nf\n'
  printf '%s\n' "$help" | esc
  printf '.fi\n'
  printf '.SH FILES\n.TP\n.I /etc/switchyard/NAME.conf\n'
  printf 'the configuration of the unit switchyard@NAME (libconfig syntax; see\n'
  printf '.IR /usr/share/doc/switchyard/README\\-config.md )\n'
  printf '.TP\n.I /etc/switchyard/NAME.env\nthe API keys that the config'"'"'s api_key_env settings name (mode 0600)\n'
  printf '.SH SEE ALSO\n'
  case "$name" in
    switchyard) printf '.BR switchyard\\-enqueue (1),\n' ;;
    *) printf '.BR switchyard (1),\n' ;;
  esac
  printf '.IR /usr/share/doc/switchyard/README.md\n'
} >"$out.tmp"
mv "$out.tmp" "$out"
