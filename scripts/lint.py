#!/usr/bin/env python3
"""lint.py — the rules of the C sources a compiler does not check.

Usage: scripts/lint.py [ROOT]   (default: the repository of this script)

1. Include direction (docs/architecture.md §Modules):

core/ is at the bottom and includes none of the other modules; conf/ builds on
core/ only; providers/ and queue/ build on core/ and conf/, never on worker/,
which composes them all. Every `#include "..."` of a .c or .h under those
folders is resolved (next to the including file first, then from ROOT, as the
compiler does with -I ROOT) and checked against FORBIDDEN. Prints each
violation as file:line and exits 1; exits 0 when there is none.

2. Banned calls (STYLE: bounded, checked conversions only): sprintf, vsprintf,
strcpy, strcat, gets, atoi, atol, atoll, atof, strtok, in every .c/.h of the
five source folders (tests may use them on their own fixtures).

3. Tests of a pointer read `!p` / `p`, never `p == NULL` / `p != NULL`, in an
if / while condition or before a `?` (STYLE; a stored comparison such as
`flag = p != NULL;` is fine).
"""
import os
import re
import sys

# folder -> folders it must not include
FORBIDDEN = {
    "core": ("conf", "providers", "queue", "worker"),
    "conf": ("providers", "queue", "worker"),
    "providers": ("worker",),
    "queue": ("worker",),
}

INCLUDE = re.compile(r'^\s*#\s*include\s*"([^"]+)"')
BANNED = re.compile(r'(?<![\w.>])(sprintf|vsprintf|strcpy|strcat|gets|atoi|atol|atoll|atof|strtok)\s*\(')
NULL_TEST = re.compile(r'(\b(if|while)\s*\(.*|\S.*\?\s.*)[!=]= NULL|[!=]= NULL\s*\?')
COMMENT = re.compile(r'/\*.*?\*/|//.*$|"(\\.|[^"\\])*"')


def target_dir(root, src, name):
    """Top folder (relative to root) of the file that `#include "name"` in src names."""
    for base in (os.path.dirname(src), root):
        path = os.path.normpath(os.path.join(base, name))
        if os.path.exists(path):
            break
    else:  # not found: judge by the spelling, as written from ROOT
        path = os.path.normpath(os.path.join(root, name))
    rel = os.path.relpath(path, root)
    return rel.split(os.sep)[0]


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, ".."))
    bad = 0
    for folder, banned in sorted(FORBIDDEN.items()) + [("worker", ())]:
        top = os.path.join(root, folder)
        for dirpath, _, files in os.walk(top):
            for fn in sorted(files):
                if not fn.endswith((".c", ".h")):
                    continue
                src = os.path.join(dirpath, fn)
                with open(src, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        code = COMMENT.sub("", line)
                        where = f"{os.path.relpath(src, root)}:{lineno}"
                        b = BANNED.search(code)
                        if b:
                            print(f"{where}: {b.group(1)}() is banned (use a bounded form: snprintf, memcpy "
                                  f"with a length, strtol with end/errno checks)")
                            bad += 1
                        if NULL_TEST.search(code):
                            print(f"{where}: write !p / p, not p == NULL / p != NULL, in a condition")
                            bad += 1
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        dst = target_dir(root, src, m.group(1))
                        if dst in banned:
                            print(f"{os.path.relpath(src, root)}:{lineno}: {folder}/ must not include "
                                  f"{dst}/ (\"{m.group(1)}\"; docs/architecture.md §Modules)")
                            bad += 1
    if bad:
        print(f"lint: {bad} problem(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
