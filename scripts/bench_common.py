"""Helpers shared by the Python benchmarks of scripts/bench.sh (stdlib only)."""
import os
import subprocess
import sys
import time


def pct(xs, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


def start_fakeprov(build, tmp, args):
    """Start build/fakeprov on a free loopback port with extra args; returns (process, port)."""
    portfile = os.path.join(tmp, "port")
    p = subprocess.Popen([os.path.join(build, "fakeprov"), "--listen", "127.0.0.1:0", "--port-file", portfile]
                         + list(args), stdout=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(portfile) and open(portfile).read().strip():
            return p, int(open(portfile).read())
        time.sleep(0.05)
    p.kill()
    sys.exit("fakeprov did not start")


def replace_section(path, heading, section):
    """Put section in the Markdown file at path in place of the "## ..." section
    starting with heading (up to the next "## "), or append it."""
    text = open(path).read() if os.path.exists(path) else "# switchyard benchmarks\n"
    start = text.find(heading)
    if start >= 0:
        end = text.find("\n## ", start + 1)
        rest = text[end + 1:] if end >= 0 else ""
        text = text[:start] + section.rstrip("\n") + "\n" + ("\n" + rest if rest else "")
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(path, "w").write(text)
