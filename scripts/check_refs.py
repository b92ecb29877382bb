#!/usr/bin/env python3
"""The repository stands alone: fail when a file cites something outside it.

Checks every text file of the tree (sources, scripts, docs, build files):
- no reference to the design notes that lived outside the repository, or to
  a path above it (`../shared`, `/work/shared`);
- every `docs/<name>.md` it names exists, and a `§Heading` right after it
  (and each `, §Heading` chained to it) starts with a heading of that file;
- every relative Markdown link [text](path) resolves inside the repository.

Usage: scripts/check_refs.py [ROOT]   (default: the repository holding this
script). Prints one line per problem as FILE:LINE: message; exits 1 if any.
"""
import os
import re
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
SELF = os.path.abspath(__file__)

# Built from parts so this file does not match itself.
OUTSIDE = [
    ("DESIGN" + ".md", "the design notes outside the repository: cite docs/architecture.md or docs/delivery.md"),
    ("PROVIDERS" + ".md", "the provider notes outside the repository: cite docs/providers.md"),
    ("STYLE" + ".md", "a note outside the repository"),
    ("../" + "shared", "a path outside the repository"),
    ("/work/" + "shared", "a path outside the repository"),
]
TEXT_EXT = {".c", ".h", ".md", ".sh", ".py", ".txt", ".cmake", ".conf", ".yml", ".yaml", ".service", ".toml",
            ".cfg", ".in"}
SKIP_DIRS = {".git", "corpus", "__pycache__", "node_modules"}

DOC_REF = re.compile(r"docs/([A-Za-z0-9_.-]+\.md)")
MD_LINK = re.compile(r"\]\(([^)\s]+)\)")


def text_files(root):
    for d, dirs, files in os.walk(root):
        rel = os.path.relpath(d, root)
        dirs[:] = sorted(x for x in dirs
                         if x not in SKIP_DIRS and not (rel == "." and (x.startswith("build") or x == "out")))
        for f in sorted(files):
            p = os.path.join(d, f)
            ext = os.path.splitext(f)[1]
            if ext in TEXT_EXT or f == "CMakeLists.txt" or os.path.basename(d) in ("scripts", ".ci"):
                if os.path.abspath(p) != SELF and os.path.isfile(p):
                    yield p


def headings(path, cache={}):
    if path not in cache:
        hs = []
        with open(path, encoding="utf-8") as fh:
            fence = False
            for line in fh:
                if line.startswith("```"):
                    fence = not fence
                elif not fence and line.startswith("#"):
                    hs.append(line.lstrip("#").strip())
        cache[path] = sorted(hs, key=len, reverse=True)
    return cache[path]


def check_sections(docpath, rest):
    """rest is the text after 'docs/x.md'. Returns the unmatched § names."""
    bad = []
    m = re.match(r"\s*§", rest)
    while m:
        rest = rest[m.end():]
        h = next((h for h in headings(docpath) if rest.startswith(h)), None)
        if h is None:
            bad.append(re.split(r"[).;,`]|\*/", rest)[0].strip())
            break
        rest = rest[len(h):]
        m = re.match(r"(,|;| and)\s*§", rest)
    return bad


def main():
    root = os.path.abspath(sys.argv[1] if len(sys.argv) > 1 else os.path.join(HERE, ".."))
    problems = []
    for path in text_files(root):
        rel = os.path.relpath(path, root)
        try:
            with open(path, encoding="utf-8") as fh:
                lines = fh.read().split("\n")
        except (UnicodeDecodeError, OSError):
            continue
        for n, line in enumerate(lines, 1):
            where = f"{rel}:{n}"
            for needle, why in OUTSIDE:
                if needle in line:
                    problems.append(f"{where}: cites {needle}, {why}")
            for m in DOC_REF.finditer(line):
                # Only this repository's docs/: not e.g. https://host/docs/x.md.
                start = m.start()
                if start > 0 and line[start - 1] not in " \t(`'\"[<*":
                    continue
                doc = os.path.join(root, "docs", m.group(1))
                if not os.path.isfile(doc):
                    problems.append(f"{where}: docs/{m.group(1)} does not exist")
                    continue
                for name in check_sections(doc, line[m.end():]):
                    problems.append(f"{where}: docs/{m.group(1)} has no section \"{name}\"")
            if rel.endswith(".md"):
                for m in MD_LINK.finditer(line):
                    target = m.group(1)
                    if re.match(r"[a-z][a-z0-9+.-]*:", target) or target.startswith("#"):
                        continue
                    p = os.path.normpath(os.path.join(os.path.dirname(path), target.split("#")[0]))
                    if not (p == root or p.startswith(root + os.sep)):
                        problems.append(f"{where}: link {target} leaves the repository")
                    elif not os.path.exists(p):
                        problems.append(f"{where}: link {target} does not exist")
    for p in problems:
        print(p)
    if problems:
        print(f"check_refs: {len(problems)} reference(s) outside the repository or to missing docs", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
