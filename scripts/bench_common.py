"""Helpers shared by the Python benchmarks of scripts/bench.sh and by
demo_view.py (stdlib only): the config writer, percentiles, the BENCH.md
section writer, loopback HTTP that never goes through a proxy, free ports,
fakeprov, and a registry of child processes killed by pid on the way out."""
import json
import os
import platform
import re
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request


class BenchFailed(Exception):
    pass


def on_signal(signum, _frame):
    """SIGTERM handler: unwind (finally blocks stop the children)."""
    raise SystemExit(128 + signum)


# ------------------------------------------------------------------ numbers

def pct(xs, p):
    """Nearest-rank percentile of a non-empty list."""
    s = sorted(xs)
    k = max(0, min(len(s) - 1, int(-(-p * len(s) // 100)) - 1))
    return s[k]


# ------------------------------------------------------------------ HTTP

# Loopback only: an http_proxy in the environment must never see these requests.
_OPENER = urllib.request.build_opener(urllib.request.ProxyHandler({}))


def http(url, method="GET", body=None, headers=None, timeout=10.0):
    """(status, body bytes) of one request, bypassing any proxy; an HTTP error
    status is returned, not raised; a connection failure raises OSError."""
    data = json.dumps(body).encode() if body is not None else None
    hdrs = {"Content-Type": "application/json"} if data is not None else {}
    hdrs.update(headers or {})
    req = urllib.request.Request(url, data=data, method=method, headers=hdrs)
    try:
        with _OPENER.open(req, timeout=timeout) as r:
            return r.status, r.read()
    except urllib.error.HTTPError as e:
        return e.code, e.read()


def get_json(url, timeout=10.0):
    """GET url (no proxy) and parse the JSON reply; raises OSError/ValueError."""
    status, data = http(url, timeout=timeout)
    if status != 200:
        raise OSError("GET %s: HTTP %d" % (url, status))
    return json.loads(data)


def stats(port):
    """fakeprov's /_stats (counts itself as a request)."""
    return get_json("http://127.0.0.1:%d/_stats" % port)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


# ------------------------------------------------------------------ processes

class Children:
    """Child processes still running. stop_all() (from a finally block) sends
    SIGTERM to those started with term=True and waits up to grace_s for them,
    then SIGKILLs whatever is left — always by pid."""

    def __init__(self):
        self.procs = []
        self.term = set()

    def popen(self, argv, term=False, **kw):
        p = subprocess.Popen(argv, **kw)
        self.add(p, term)
        return p

    def add(self, p, term=False):
        self.procs.append(p)
        if term:
            self.term.add(p.pid)

    def remove(self, p):
        if p in self.procs:
            self.procs.remove(p)
        self.term.discard(p.pid)

    def stop_all(self, grace_s=35.0):
        live = [p for p in self.procs if p.poll() is None]
        for p in live:
            p.send_signal(signal.SIGTERM if p.pid in self.term else signal.SIGKILL)
        t_end = time.monotonic() + grace_s
        for p in live:
            try:
                p.wait(max(0.1, t_end - time.monotonic()))
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()
        self.procs = []
        self.term = set()


CHILDREN = Children()


def proc_cpu_s(pid):
    """user+sys CPU seconds of a running process (from /proc/PID/stat)."""
    with open("/proc/%d/stat" % pid) as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def status_kib(pid, key):
    try:
        with open("/proc/%d/status" % pid) as f:
            for line in f:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def stderr_tail(path, n=15):
    with open(path, errors="replace") as f:
        return "".join("    " + t.rstrip()[:300] + "\n" for t in f.readlines()[-n:])


def start_fakeprov(build, tmp, args):
    """Start build/fakeprov on a free loopback port with extra args (registered
    in CHILDREN); returns (process, port)."""
    portfile = os.path.join(tmp, "port")
    p = CHILDREN.popen([os.path.join(build, "fakeprov"), "--listen", "127.0.0.1:0", "--port-file", portfile]
                       + list(args), stdout=subprocess.DEVNULL)
    for _ in range(200):
        if os.path.exists(portfile) and open(portfile).read().strip():
            return p, int(open(portfile).read())
        time.sleep(0.05)
    p.kill()
    p.wait()
    CHILDREN.remove(p)
    sys.exit("fakeprov did not start")


# ------------------------------------------------------------------ config

def _value(v):
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float):
        return repr(v)
    if isinstance(v, int):
        return str(v)
    if isinstance(v, dict):
        return "{ " + " ".join("%s = %s;" % (k, _value(x)) for k, x in v.items()) + " }"
    return json.dumps(str(v))  # a libconfig string: double quotes, backslash escapes


KEY_ENV = {"kie": "BENCH_KIE_KEY", "replicate": "BENCH_REPLICATE_KEY"}
KEYS = {"BENCH_KIE_KEY": "test-kie-key", "BENCH_REPLICATE_KEY": "test-replicate-key"}  # fakeprov's keys


def wide_rate(max_in_flight=None):
    """Rate limits, per-provider caps and the window opened wide: the bench
    measures the engine or the Kafka path, not the policies."""
    r = {"create_per_s": 1000000.0, "create_burst": 1000000, "create_window_max": 0,
         "poll_per_s": 1000000.0, "poll_burst": 1000000}
    if max_in_flight is not None:
        r["max_in_flight"] = max_in_flight
    return r


def write_conf(path, port, poll, rate, worker, kafka=None, names=("kie", "replicate"), extra="", title="a bench"):
    """A switchyard config: providers `names` (priority in that order) on
    fakeprov at 127.0.0.1:port, API keys from BENCH_*_KEY (KEYS), each with
    the given poll and rate_limit groups; then the worker group, the kafka
    group if given, and `extra` (raw libconfig text). Dict values become
    libconfig groups, str values strings."""
    provs = ["  { name = %s; type = %s; priority = %d;\n    base_url = \"http://127.0.0.1:%d\"; api_key_env = %s;\n"
             "    poll = %s;\n    rate_limit = %s;\n  }" % (_value(n), _value(n), i + 1, port, _value(KEY_ENV[n]),
                                                            _value(poll), _value(rate))
             for i, n in enumerate(names)]
    with open(path, "w") as f:
        f.write("# Generated by %s.\nproviders = (\n%s\n);\n" % (title, ",\n".join(provs)))
        f.write("worker = %s;\n" % _value(worker))
        if kafka is not None:
            f.write("kafka = %s;\n" % _value(kafka))
        f.write(extra)


# ------------------------------------------------------------------ BENCH.md

def machine():
    model = "?"
    with open("/proc/cpuinfo") as f:
        for line in f:
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    return "%d CPUs (nproc), %s, Linux %s" % (os.cpu_count(), model, platform.release())


def extra_flags(build):
    """Any CMAKE_C_FLAGS the build directory carries, so the record says so."""
    try:
        with open(os.path.join(build, "CMakeCache.txt")) as f:
            for line in f:
                if line.startswith("CMAKE_C_FLAGS:"):
                    v = line.split("=", 1)[1].strip()
                    return ", extra CMAKE_C_FLAGS `%s`" % v if v else ""
    except OSError:
        pass
    return ""


def write_bench_md(path, section):
    """Put section (a "## Title ..." block) in the Markdown file at path in
    place of the section with the same title line (up to the next "## "), or
    append it; the rest of the file is kept. Written atomically."""
    text = open(path).read() if os.path.exists(path) else "# switchyard benchmarks\n\n"
    title = section.split("\n", 1)[0]
    start = text.find(title + "\n")
    if start < 0:
        text = text.rstrip("\n") + "\n\n" + section
    else:
        m = re.compile(r"^## ", re.M).search(text, start + len(title))
        end = m.start() if m else len(text)
        text = text[:start] + section.rstrip("\n") + "\n" + ("\n" if m else "") + text[end:]
    with open(path + ".tmp", "w") as f:
        f.write(text)
    os.replace(path + ".tmp", path)
