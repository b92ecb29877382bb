#!/usr/bin/env python3
"""demo_view.py — the live half of scripts/demo.sh.

Waits until the workers own every input partition (from their log), then runs
`switchyard-enqueue -c CONF --wait`, feeding it the jobs at a steady arrival
rate (like a bot's traffic), and reads the result lines it prints. While the
jobs run it shows a live view: on a terminal it is redrawn in place (ANSI
cursor home + clear), otherwise a plain line every few seconds. The numbers
come from the results (status, `provider`, `attempts`, `timings.total_ms`)
and, when the providers are the local fakeprov, from its `GET /_stats`
(requests per second, errors, tasks running now). Breaker states and jobs in
flight come from each worker's `/metrics` (--metrics-ports): a provider's
breaker is shown as the worst state among the workers, with how many workers
see it so.

--chaos makes fakeprov's KIE answer HTTP 500 to every create and poll for
--chaos-for seconds (POST /_control), then heals it.

Writes every result line to --out and ends with the summary table
(scripts/summary.py). Exit 0 when every job has a result; 1 otherwise.
Python standard library only.
"""
import argparse
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import http  # noqa: E402
from summary import summary_lines  # noqa: E402

PROVS = ("kie", "replicate")
BUCKET_S = 2.0
STOP = threading.Event()


def now():
    return time.monotonic()


class State:
    def __init__(self, total):
        self.lock = threading.Lock()
        self.total = total
        self.sent = 0
        self.t_first_sent = None
        self.t_last_result = None
        self.results = []            # (arrival monotonic, dict)
        self.seen = set()
        self.done = self.failed = 0
        self.by_prov = {p: 0 for p in PROVS}
        self.buckets = {}            # provider -> {bucket index: completions}
        self.skips = {p: [] for p in PROVS}     # estimated wall time of "circuit breaker open" skips
        self.fails = {p: [] for p in PROVS}     # estimated time of failed attempts
        self.ok_after = {p: [] for p in PROVS}  # arrival of successes via p
        self.stats = None            # latest fakeprov /_stats
        self.stats_hist = []         # (t, stats) of the last ~6 s
        self.events = []             # (t, text)
        self.enq_rc = None
        self.metrics = {}            # worker port -> {sample key: value} of its last /metrics page


def fetch_json(url, body=None, timeout=2.0):
    """GET (POST with body) url without any proxy; the JSON reply. Raises
    OSError on a connection failure or an HTTP error status."""
    status, data = http(url, "POST" if body is not None else "GET", body, timeout=timeout)
    if status != 200:
        raise OSError("%s: HTTP %d" % (url, status))
    return json.loads(data.decode())


# ------------------------------------------------------------------ workers

ASSIGN = re.compile(r'"msg":"(assigned|revoked) (\d+) partitions')


def wait_for_workers(log_path, partitions, timeout_s, say):
    """The fleet owns every partition (assigned minus revoked) and nothing moved for 1 s."""
    t0, last, since = now(), None, now()
    while not STOP.is_set():
        owned = 0
        try:
            with open(log_path, errors="replace") as f:
                for line in f:
                    m = ASSIGN.search(line)
                    if m:
                        owned += int(m.group(2)) * (1 if m.group(1) == "assigned" else -1)
        except OSError:
            pass
        if owned != last:
            last, since = owned, now()
        if owned == partitions and now() - since >= 1.0:
            say("workers own all %d partitions (%.1f s)" % (partitions, now() - t0))
            return True
        if now() - t0 > timeout_s:
            say("workers own %d of %d partitions after %d s" % (owned, partitions, timeout_s))
            return False
        time.sleep(0.1)
    return False


# ------------------------------------------------------------------ threads

def feeder(st, proc, lines, rate):
    try:
        t0 = now()
        for i, line in enumerate(lines):
            if STOP.is_set():
                break
            if rate > 0:
                delay = t0 + i / rate - now()
                if delay > 0:
                    time.sleep(delay)
            proc.stdin.write(line if line.endswith("\n") else line + "\n")
            proc.stdin.flush()
            with st.lock:
                st.sent += 1
                if st.t_first_sent is None:
                    st.t_first_sent = now()
    except (BrokenPipeError, OSError, ValueError):
        pass
    finally:
        try:
            proc.stdin.close()
        except (BrokenPipeError, OSError):
            pass


def reader(st, proc, out_path):
    with open(out_path, "w") as out:
        for raw in proc.stdout:
            line = raw.strip()
            if not line:
                continue
            out.write(line + "\n")
            out.flush()
            try:
                r = json.loads(line)
            except ValueError:
                continue
            t = now()
            with st.lock:
                st.results.append((t, r))
                st.t_last_result = t
                if r.get("id") in st.seen:
                    continue  # a redone job: counted once
                st.seen.add(r.get("id"))
                st.done += 1
                total_s = ((r.get("timings") or {}).get("total_ms") or 0) / 1000.0
                start = t - total_s  # when the worker started the job (about)
                for a in r.get("attempts") or []:
                    p = a.get("provider")
                    if p not in st.skips:
                        continue
                    if a.get("outcome") == "skipped" and "breaker" in (a.get("message") or ""):
                        st.skips[p].append(start)
                    elif a.get("outcome") not in ("skipped", "succeeded", "resumed"):
                        el = (a.get("elapsed_ms") or 0) / 1000.0
                        st.fails[p].append(min(t, start + el))
                if r.get("status") == "succeeded":
                    p = r.get("provider") or "?"
                    st.by_prov[p] = st.by_prov.get(p, 0) + 1
                    b = int((t - (st.t_first_sent or t)) / BUCKET_S)
                    st.buckets.setdefault(p, {})
                    st.buckets[p][b] = st.buckets[p].get(b, 0) + 1
                    if p in st.ok_after:
                        st.ok_after[p].append(t)
                else:
                    st.failed += 1


def stats_poller(st, base):
    while not STOP.is_set():
        try:
            s = fetch_json(base + "/_stats", timeout=1.0)
            t = now()
            with st.lock:
                st.stats = s
                st.stats_hist.append((t, s))
                while st.stats_hist and t - st.stats_hist[0][0] > 6:
                    st.stats_hist.pop(0)
        except Exception:  # noqa: BLE001 - the view goes on without it
            pass
        STOP.wait(0.5)


SAMPLE = re.compile(r'^([a-zA-Z_:][a-zA-Z0-9_:]*)(\{[^}]*\})?\s+(\S+)')


def parse_metrics(text):
    """Prometheus text → {"name{labels}": value} (only what the view needs)."""
    out = {}
    for ln in text.splitlines():
        m = SAMPLE.match(ln)
        if m and m.group(1) in ("switchyard_provider_breaker_state", "switchyard_jobs_in_flight"):
            try:
                out[m.group(1) + (m.group(2) or "")] = float(m.group(3))
            except ValueError:
                pass
    return out


def metrics_poller(st, ports):
    while not STOP.is_set():
        for port in ports:
            try:
                status, data = http("http://127.0.0.1:%d/metrics" % port, timeout=1.0)
                if status != 200:
                    continue
                page = parse_metrics(data.decode())
            except Exception:  # noqa: BLE001 - a worker restarting: keep its last page
                continue
            with st.lock:
                st.metrics[port] = page
        STOP.wait(0.5)


def breaker_from_metrics(st, p):
    """Worst breaker state of provider p over the workers' pages, or None."""
    states = [m.get('switchyard_provider_breaker_state{provider="%s"}' % p) for m in st.metrics.values()]
    states = [x for x in states if x is not None]
    if not states:
        return None
    names = {0: "closed", 1: "half-open", 2: "OPEN"}
    worst = max(states)
    n = sum(1 for x in states if x == worst)
    word = names.get(int(worst), "?")
    if worst == 0:
        return word, "closed on all %d workers" % len(states)
    return word, "%s on %d of %d workers" % (word, n, len(states))


# ------------------------------------------------------------------ view

class Glyphs:
    def __init__(self, unicode_ok):
        if unicode_ok:
            self.full, self.empty, self.spark = "█", "░", " ▁▂▃▄▅▆▇█"
            self.dash = "─"
        else:
            self.full, self.empty, self.spark = "#", ".", " .:-=+*#%@"
            self.dash = "-"


def rate(st, prov, key, window=5.0):
    """Per-second rate of a fakeprov counter over the last `window` seconds."""
    h = st.stats_hist
    if len(h) < 2:
        return None
    t1, s1 = h[-1]
    t0, s0 = h[0]
    for t, s in h:
        if t1 - t >= window:
            t0, s0 = t, s
    if t1 - t0 < 0.4:
        return None
    try:
        return (s1[prov][key] - s0[prov][key]) / (t1 - t0)
    except (KeyError, TypeError):
        return None


def breaker_state(st, p, t):
    """The workers' breaker gauges; without them, guessed from the results."""
    m = breaker_from_metrics(st, p)
    if m:
        return m
    recent = [x for x in st.skips[p] if t - x <= 8.0]
    if recent:
        return "OPEN", "OPEN  (%d jobs skipped it)" % len(recent)
    if st.skips[p]:
        last_skip = max(st.skips[p])
        ok_since = [x for x in st.ok_after[p] if x > last_skip]
        if ok_since:
            return "closed", "closed (recovered, %d ok since)" % len(ok_since)
        return "probing", "half-open? (no skips lately)"
    fails = [x for x in st.fails[p] if t - x <= 8.0]
    if len(fails) >= 5:
        return "failing", "closed, failing (%d errors in 8 s)" % len(fails)
    return "closed", "closed"


def frame(st, a, g, width, chaos_txt):
    t = now()
    el = t - st.t_first_sent if st.t_first_sent else 0.0
    done, failed, sent, total = st.done, st.failed, st.sent, st.total
    inflight = sent - done
    if st.metrics:
        inflight = int(sum(m.get("switchyard_jobs_in_flight", 0) for m in st.metrics.values()))
    L = []
    title = "switchyard demo — %d interior-design jobs, %d workers, %d partitions, %s" % (
        total, a.workers, a.partitions, a.mode)
    L.append(title)
    L.append("t = %5.1f s   arrivals %s   topic %s" % (
        el, ("%.0f jobs/s" % a.rate) if a.rate > 0 else "all at once", a.topic))
    bw = max(20, min(60, width - 24))
    fill = int(bw * done / total) if total else bw
    L.append("[%s%s] %4d/%d %3.0f%%" % (g.full * fill, g.empty * (bw - fill), done, total,
                                          100.0 * done / total if total else 100))
    recent = [x for x, _ in st.results if t - x <= 5.0]
    L.append("done %-5d in flight %-5d failed %-4d waiting to arrive %-5d now %.1f jobs/s" % (
        done - failed, inflight, failed, total - sent, len(recent) / 5.0))
    L.append("")
    L.append("%-10s %6s %6s %8s %9s %10s %9s  %s" % (
        "provider", "done", "share", "last 5s", "running", "creates/s", "errors/s", "breaker (workers' /metrics)"))
    okn = sum(st.by_prov.values()) or 1
    for p in PROVS:
        n = st.by_prov.get(p, 0)
        last5 = sum(1 for x, r in st.results if t - x <= 5.0 and r.get("provider") == p
                    and r.get("status") == "succeeded")
        running = cr = er = None
        if st.stats and p in st.stats:
            running = st.stats[p].get("tasks_active")
            cr = rate(st, p, "creates")
            er = rate(st, p, "faults_injected")
        _, btxt = breaker_state(st, p, t)
        L.append("%-10s %6d %5.0f%% %8d %9s %10s %9s  %s" % (
            p, n, 100.0 * n / okn, last5,
            "-" if running is None else running,
            "-" if cr is None else "%.1f" % cr,
            "-" if er is None else "%.1f" % er, btxt))
    L.append("")
    nb = int(el / BUCKET_S) + 1
    cols = max(10, width - 14)
    first = max(0, nb - cols)
    peak = max([v for p in PROVS for v in st.buckets.get(p, {}).values()] or [1])
    L.append("completed per %gs (each column; newest on the right)" % BUCKET_S)
    for p in PROVS:
        b = st.buckets.get(p, {})
        row = ""
        for i in range(first, nb):
            v = b.get(i, 0)
            row += g.spark[0] if v == 0 else g.spark[max(1, min(8, int(round(8.0 * v / peak))))]
        L.append("%-10s %s" % (p, row))
    if chaos_txt:
        L.append("%-10s %s" % ("chaos", chaos_txt(first, nb)))
    L.append("")
    for te, text in st.events[-4:]:
        L.append("  %5.1f s  %s" % (te - (st.t_first_sent or te), text))
    return [ln[:width] for ln in L]


def plain_line(st, t):
    el = t - st.t_first_sent if st.t_first_sent else 0.0
    parts = ["demo: t=%5.1fs" % el, "done %d/%d" % (st.done, st.total),
             "in flight %d" % (int(sum(m.get("switchyard_jobs_in_flight", 0) for m in st.metrics.values()))
                               if st.metrics else st.sent - st.done), "failed %d" % st.failed]
    parts.append(" ".join("%s %d" % (p, st.by_prov.get(p, 0)) for p in PROVS))
    parts.append("breaker " + " ".join("%s %s" % (p, breaker_state(st, p, t)[0]) for p in PROVS))
    if st.stats:
        r = rate(st, "kie", "faults_injected")
        if r:
            parts.append("kie errors %.1f/s" % r)
    return " | ".join(parts)


# ------------------------------------------------------------------ main

def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--enqueue", required=True, help="path to switchyard-enqueue")
    ap.add_argument("--conf", required=True)
    ap.add_argument("--jobs", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--worker-log", required=True)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--topic", default="")
    ap.add_argument("--mode", default="fake providers")
    ap.add_argument("--fakeprov", default="", help="http://127.0.0.1:PORT of fakeprov (stats, chaos)")
    ap.add_argument("--metrics-ports", default="", help="comma-separated /metrics ports of the workers")
    ap.add_argument("--rate", type=float, default=8.0, help="job arrivals per second (0: all at once)")
    ap.add_argument("--chaos", action="store_true")
    ap.add_argument("--chaos-at", type=float, default=15.0)
    ap.add_argument("--chaos-for", type=float, default=20.0)
    ap.add_argument("--timeout", type=int, default=240)
    a = ap.parse_args()

    tty = sys.stdout.isatty() and os.environ.get("TERM", "dumb") != "dumb"
    enc = (sys.stdout.encoding or "").lower().replace("-", "")
    g = Glyphs(enc == "utf8")

    def say(msg):
        print("demo: " + msg, flush=True)

    def on_signal(signum, _frame):
        STOP.set()
        raise KeyboardInterrupt
    signal.signal(signal.SIGTERM, on_signal)

    with open(a.jobs) as f:
        lines = [ln for ln in f if ln.strip()]
    st = State(len(lines))
    if a.chaos and not a.fakeprov:
        say("--chaos needs the fake providers; ignored")
        a.chaos = False

    proc = None
    threads = []
    try:
        say("waiting for %d workers to take the %d partitions of %s" % (a.workers, a.partitions, a.topic))
        if not wait_for_workers(a.worker_log, a.partitions, 60, say):
            return 1
        ports = [int(x) for x in a.metrics_ports.split(",") if x]
        if ports:
            threads.append(threading.Thread(target=metrics_poller, args=(st, ports), daemon=True))
        if a.fakeprov:
            threads.append(threading.Thread(target=stats_poller, args=(st, a.fakeprov), daemon=True))
        errf = open(a.out + ".enqueue.err", "w")
        proc = subprocess.Popen([a.enqueue, "-c", a.conf, "--wait", "--timeout", str(a.timeout)],
                                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=errf,
                                text=True, bufsize=1)
        threads.append(threading.Thread(target=feeder, args=(st, proc, lines, a.rate), daemon=True))
        threads.append(threading.Thread(target=reader, args=(st, proc, a.out), daemon=True))
        for th in threads:
            th.start()
        say("sending %d jobs%s" % (st.total, (" at %.0f/s" % a.rate) if a.rate > 0 else ""))

        chaos_phase = 0  # 0 before, 1 on, 2 healed
        chaos_on = chaos_off = None

        def chaos_txt(first, nb):
            if not a.chaos:
                return None
            s = ""
            for i in range(first, nb):
                lo, hi = i * BUCKET_S, (i + 1) * BUCKET_S
                on = chaos_on is not None and hi > chaos_on and (chaos_off is None or lo < chaos_off)
                s += "X" if on else " "
            return s + "   X = KIE answers HTTP 500"

        if tty:
            sys.stdout.write("\x1b[?25l\x1b[2J")
        next_plain = now()
        while True:
            t = now()
            el = t - st.t_first_sent if st.t_first_sent else 0.0
            if a.chaos and chaos_phase == 0 and st.t_first_sent and el >= a.chaos_at:
                try:
                    fetch_json(a.fakeprov + "/_control", {"provider": "kie", "fault": "http500", "rate": 1.0})
                    msg = "CHAOS: KIE down — every create and poll gets HTTP 500 for %.0f s" % a.chaos_for
                except Exception as e:  # noqa: BLE001
                    msg = "chaos: /_control failed: %s" % e
                chaos_phase, chaos_on = 1, el
                with st.lock:
                    st.events.append((t, msg))
                if not tty:
                    say(msg)
            elif chaos_phase == 1 and el >= a.chaos_at + a.chaos_for:
                try:
                    fetch_json(a.fakeprov + "/_control", {"provider": "kie", "fault": "none"})
                    msg = "CHAOS over: KIE healthy again"
                except Exception as e:  # noqa: BLE001
                    msg = "chaos: /_control failed: %s" % e
                chaos_phase, chaos_off = 2, el
                with st.lock:
                    st.events.append((t, msg))
                if not tty:
                    say(msg)
            finished = proc.poll() is not None
            if tty:
                width = shutil.get_terminal_size((100, 30)).columns
                with st.lock:
                    L = frame(st, a, g, width, chaos_txt)
                sys.stdout.write("\x1b[H" + "".join(ln + "\x1b[K\n" for ln in L) + "\x1b[J")
                sys.stdout.flush()
            elif t >= next_plain or finished:
                with st.lock:
                    print(plain_line(st, t), flush=True)
                next_plain = t + 5.0
            if finished:
                break
            time.sleep(0.25)
        for th in threads[-2:]:
            th.join(timeout=5)
        if chaos_phase == 1:  # the run ended inside the outage: heal it anyway
            try:
                fetch_json(a.fakeprov + "/_control", {"provider": "kie", "fault": "none"})
            except Exception:  # noqa: BLE001
                pass
        st.enq_rc = proc.returncode
    except KeyboardInterrupt:
        STOP.set()
        if proc is not None and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()
        if tty:
            sys.stdout.write("\x1b[?25h\n")
        say("interrupted")
        return 130
    finally:
        STOP.set()
        if tty:
            sys.stdout.write("\x1b[?25h")
            sys.stdout.flush()

    with st.lock:
        rows = [r for _, r in st.results]
        wall = (st.t_last_result - st.t_first_sent) if st.t_last_result and st.t_first_sent else None
    title = "switchyard demo — summary (%s%s)" % (a.mode, ", chaos" if a.chaos else "")
    print("\n".join(summary_lines(rows, wall, title)), flush=True)
    if a.chaos and chaos_on is not None:
        print("  chaos: KIE answered HTTP 500 from t=%.0f s to t=%.0f s" % (
            chaos_on, chaos_off if chaos_off is not None else chaos_on), flush=True)
    missing = st.total - st.done
    if st.enq_rc != 0 or missing:
        try:
            with open(a.out + ".enqueue.err") as f:
                tail = f.read().strip().splitlines()[-5:]
        except OSError:
            tail = []
        say("switchyard-enqueue exited %s; %d of %d jobs without a result" % (st.enq_rc, missing, st.total))
        for ln in tail:
            print("  " + ln.split("\r")[-1])
    rc, why = verdict(st.total, st.done, st.failed, st.enq_rc)
    if why:
        say(why)
    return rc


def verdict(total, done, failed, enq_rc):
    """The demo's exit status and, when it failed, why: 1 when most jobs
    (more than half) did not succeed, failed or without a result; also 1
    when any job got no result or switchyard-enqueue failed; else 0."""
    succeeded = done - failed
    if total > 0 and succeeded * 2 < total:
        return 1, "FAILED: only %d of %d jobs succeeded (%d failed, %d without a result)" % (
            succeeded, total, failed, total - done)
    if enq_rc != 0 or done < total:
        return 1, "FAILED: %d of %d jobs without a result" % (total - done, total)
    return 0, ""


if __name__ == "__main__":
    sys.exit(main())
