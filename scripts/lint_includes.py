#!/usr/bin/env python3
"""lint_includes.py — the include direction of docs/architecture.md §Modules.

Usage: scripts/lint_includes.py [ROOT]   (default: the repository of this script)

core/ is at the bottom and includes none of the other modules; conf/ builds on
core/ only; providers/ and queue/ build on core/ and conf/, never on worker/,
which composes them all. Every `#include "..."` of a .c or .h under those
folders is resolved (next to the including file first, then from ROOT, as the
compiler does with -I ROOT) and checked against FORBIDDEN. Prints each
violation as file:line and exits 1; exits 0 when there is none.
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
    for folder, banned in sorted(FORBIDDEN.items()):
        top = os.path.join(root, folder)
        for dirpath, _, files in os.walk(top):
            for fn in sorted(files):
                if not fn.endswith((".c", ".h")):
                    continue
                src = os.path.join(dirpath, fn)
                with open(src, encoding="utf-8", errors="replace") as f:
                    for lineno, line in enumerate(f, 1):
                        m = INCLUDE.match(line)
                        if not m:
                            continue
                        dst = target_dir(root, src, m.group(1))
                        if dst in banned:
                            print(f"{os.path.relpath(src, root)}:{lineno}: {folder}/ must not include "
                                  f"{dst}/ (\"{m.group(1)}\"; docs/architecture.md §Modules)")
                            bad += 1
    if bad:
        print(f"lint_includes: {bad} forbidden include(s)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
