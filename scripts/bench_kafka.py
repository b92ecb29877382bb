#!/usr/bin/env python3
"""bench_kafka.py — the measuring half of `scripts/bench.sh kafka`.

bench.sh builds, finds or starts the broker (scripts/kafka.sh) and starts one
fakeprov (`--gen-ms 0`); this script runs three passes against them, each on
fresh topics and a fresh consumer group:

  1. throughput, 1 worker:  N jobs through `switchyard -c FILE`
  2. throughput, W workers: the same through W worker processes in one group
     (separate processes, each with its own stderr, so each one's partition
     assignment can be watched and its exit code and CPU read)
  3. latency, 1 worker: a few thousand jobs fed at a steady low rate

Workers are started first; a pass begins only when their "assigned ..."
log lines add up to every input partition and stayed put for a second. The
load goes through `switchyard-enqueue --wait`, fed on a pipe: "first enqueue"
is the moment enqueue has read the first line (the pipe's FIONREAD drops to
0), "last result" the moment its last result line reaches us. In the latency
pass the feeder writes a blank line every millisecond between jobs (enqueue
ignores blank lines but serves its consumer after each), so a result is
printed within about 1 ms of its arrival, and the client-side round trip of
each job is measured independently of the worker's own `timings.total_ms`.

Every result is checked (one per job, all "succeeded"); workers are stopped
with SIGTERM and must exit 0. Only 127.0.0.1; every child is killed by pid on
the way out, also on SIGTERM/SIGINT. Writes the "## Kafka" section of
BENCH.md, keeping the rest.
"""
import argparse
import array
import datetime
import fcntl
import json
import resource
import os
import re
import signal
import subprocess
import sys
import termios
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (CHILDREN, KEYS, BenchFailed, extra_flags, machine, on_signal, pct,  # noqa: E402
                          proc_cpu_s, stats, stderr_tail, wide_rate, write_bench_md, write_conf)

SECTION = "## Kafka (`scripts/bench.sh kafka`)"


def say(msg):
    print("bench kafka: " + msg, flush=True)


def cpu_or_none(pid):
    try:
        return proc_cpu_s(pid)
    except (OSError, ValueError, IndexError):
        return None


def broker_pid_alive(pid):
    try:
        with open("/proc/%d/cmdline" % pid, "rb") as f:
            return b"kafka.Kafka" in f.read()
    except OSError:
        return False


def kafka_conf(path, a, prefix, ledger=True, batch=False):
    # Rate limits, per-provider caps and the breaker are opened wide, as in the
    # engine bench: this measures the Kafka path, not the policies.
    # log_level "info", not "warn": the only info lines are lifecycle ones
    # ("assigned N partitions", start/stop), none per successful job, and
    # the bench needs "assigned" to know when the workers have joined.
    kafka = {"brokers": a.brokers, "group": prefix, "input_topic": prefix + ".jobs",
             "output_topic": prefix + ".results", "dlq_topic": prefix + ".dlq"}
    if not ledger:
        kafka["ledger_topic"] = ""
    if getattr(a, "property", None):  # --property (experiments only: never in a BENCH.md run)
        kafka["properties"] = {k.replace(".", "_"): v for k, v in (p.split("=", 1) for p in a.property)}
    write_conf(path, a.fp_port, {"mode": "fixed", "first_ms": 1, "interval_ms": 1, "max_s": 600}, wide_rate(1000),
               {"max_in_flight": 1000, "metrics_listen": "", "log_level": "info"}, None if batch else kafka,
               title="scripts/bench.sh kafka")


def make_topics(prefix, partitions):
    for name, n in (("jobs", partitions), ("results", partitions), ("dlq", 1)):
        for attempt in range(3):  # a shared broker may be briefly unavailable
            p = subprocess.run(["scripts/kafka.sh", "topic", "%s.%s" % (prefix, name), str(n)],
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=90)
            if p.returncode == 0:
                break
            say("kafka.sh topic %s.%s failed (rc %d), attempt %d of 3" % (prefix, name, p.returncode, attempt + 1))
            time.sleep(2)
        if p.returncode != 0:
            raise BenchFailed("scripts/kafka.sh topic %s.%s %d failed (rc %d):\n%s" % (
                prefix, name, n, p.returncode, p.stdout.decode(errors="replace")))


ASSIGN_RE = re.compile(r'"msg":"(?:assigned|revoked) \d+ partitions \((\d+) (?:total|left)\)')


def owned(err_path):
    """Partitions a worker holds now, from its last assigned/revoked log line."""
    n = 0
    with open(err_path, errors="replace") as f:
        for line in f:
            m = ASSIGN_RE.search(line)
            if m:
                n = int(m.group(1))
    return n


def start_workers(a, conf, name, n):
    ws = []
    for i in range(n):
        err = os.path.join(a.work, "%s.worker%d.err" % (name, i))
        argv = [os.path.join(a.build, "switchyard"), "-c", conf]
        with open(err, "w") as ef:
            p = CHILDREN.popen(argv, term=True, stdout=subprocess.DEVNULL, stderr=ef)
        ws.append({"p": p, "err": err, "argv": argv})
    # Joined: every partition owned, each worker owns some, nothing moved for 1 s.
    t0, last, since = time.monotonic(), None, time.monotonic()
    while True:
        for w in ws:
            if w["p"].poll() is not None:
                raise BenchFailed("worker %d exited %d while joining; stderr tail:\n%s" % (
                    w["p"].pid, w["p"].returncode, stderr_tail(w["err"])))
        cur = [owned(w["err"]) for w in ws]
        if cur != last:
            last, since = cur, time.monotonic()
        if sum(cur) == a.partitions and min(cur) > 0 and time.monotonic() - since >= 1.0:
            return ws, time.monotonic() - t0, cur
        if time.monotonic() - t0 > 45:
            raise BenchFailed("workers did not take all %d partitions within 45 s (own %s)" % (a.partitions, cur))
        time.sleep(0.05)


def stop_workers(ws):
    """SIGTERM each worker; each must exit 0 within 40 s. Returns rusage per worker."""
    for w in ws:
        w["p"].send_signal(signal.SIGTERM)
    out, t0 = [], time.monotonic()
    for w in ws:
        p = w["p"]
        while True:
            pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            if pid:
                break
            if time.monotonic() - t0 > 40:
                p.kill()
                os.wait4(p.pid, 0)
                CHILDREN.remove(p)
                raise BenchFailed("worker %d still running 40 s after SIGTERM: killed; stderr tail:\n%s" % (
                    p.pid, stderr_tail(w["err"])))
            time.sleep(0.02)
        p.returncode = os.waitstatus_to_exitcode(status)
        CHILDREN.remove(p)
        w.update(rc=p.returncode, cpu=ru.ru_utime + ru.ru_stime, maxrss_kib=ru.ru_maxrss)
        out.append(w)
    for w in out:
        with open(w["err"], errors="replace") as f:
            w["warnings"] = [ln.strip()[:240] for ln in f if '"level":"warn"' in ln or '"level":"error"' in ln]
    bad = [w for w in out if w["rc"] != 0]
    if bad:
        raise BenchFailed("; ".join("worker %d exited %d after SIGTERM; stderr tail:\n%s" % (
            w["p"].pid, w["rc"], stderr_tail(w["err"])) for w in bad))
    return out


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


def unread(fd):
    b = array.array("i", [0])
    fcntl.ioctl(fd, termios.FIONREAD, b, True)
    return b[0]


class Enqueue:
    """switchyard-enqueue --wait on pipes; stdout lines are stamped as they arrive."""

    def __init__(self, a, conf, err_path, timeout_s):
        self.err = err_path
        argv = [os.path.join(a.build, "switchyard-enqueue"), "-c", conf, "--wait", "--timeout", str(timeout_s)]
        self.argv = argv
        with open(err_path, "w") as ef:
            # stdin is written with os.write on its fd (never through the buffer)
            self.p = CHILDREN.popen(argv, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=ef)
        self.lines = []  # (monotonic s, raw line)
        self.reader = threading.Thread(target=self._read, daemon=True)
        self.reader.start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append((time.monotonic(), line))

    def first_line(self, line, timeout_s=30):
        """Writes one line; returns the moment enqueue has read it from the pipe."""
        fd = self.p.stdin.fileno()
        write_all(fd, line)
        t0 = time.monotonic()
        while unread(fd) > 0:
            if self.p.poll() is not None or time.monotonic() - t0 > timeout_s:
                raise BenchFailed("switchyard-enqueue did not read its stdin (rc %s); stderr:\n%s" % (
                    self.p.poll(), stderr_tail(self.err)))
            time.sleep(0.0005)
        return time.monotonic()

    def settle(self, prefix, workers, seconds):
        """Start-up, not measured: sends warm-up jobs, 12 at a time, until
        results came from every worker (so enqueue's producer and each
        worker's result producer know their topics' partition leaders), then
        waits `seconds` more, writing a blank line every 10 ms. Returns
        the first warm-up job's round trip and timings, and the jobs sent."""
        fd = self.p.stdin.fileno()
        t0 = self.first_line(job_line(prefix, 0))
        sent, seen, read, first_rtt, t_batch = 1, set(), 0, None, t0
        while len(seen) < workers:
            if self.p.poll() is not None or time.monotonic() - t0 > 30:
                raise BenchFailed("warm-up: results from %d of %d workers within 30 s (enqueue rc %s); stderr:\n%s"
                                  % (len(seen), workers, self.p.poll(), stderr_tail(self.err)))
            time.sleep(0.01)
            write_all(fd, b"\n")
            for _, line in self.lines[read:]:
                seen.add(json.loads(line).get("worker"))
                read += 1
            if first_rtt is None and self.lines:
                first_rtt = (self.lines[0][0] - t0) * 1000
            if len(self.lines) == sent and len(seen) < workers and time.monotonic() - t_batch > 0.5:
                write_all(fd, b"".join(job_line(prefix, sent + i) for i in range(12)))
                sent, t_batch = sent + 12, time.monotonic()
        while len(self.lines) < sent and time.monotonic() - t0 < 30:
            time.sleep(0.01)
            write_all(fd, b"\n")
        t_end = time.monotonic() + seconds
        while time.monotonic() < t_end:
            time.sleep(0.01)
            write_all(fd, b"\n")
        tm = json.loads(self.lines[0][1])["timings"]
        return {"rtt": first_rtt, "jobs": sent, "total_ms": tm["total_ms"], "queued_ms": tm["queued_ms"]}

    def finish(self, timeout_s):
        try:
            self.p.stdin.close()
        except BrokenPipeError:
            pass
        try:
            rc = self.p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.p.kill()
            self.p.wait()
            CHILDREN.remove(self.p)
            raise BenchFailed("switchyard-enqueue still running %.0f s after its input ended: killed; got %d "
                              "results; stderr:\n%s" % (timeout_s, len(self.lines), stderr_tail(self.err)))
        self.reader.join(10)
        CHILDREN.remove(self.p)
        return rc


def parse_results(enq, ids, rc, ws):
    """{id: (arrival monotonic s, result dict)}; raises unless every id succeeded."""
    got, bad, dup, want = {}, [], 0, set(ids)
    for t, line in enq.lines:
        r = json.loads(line)
        if r.get("id") not in want:  # the warm-up job
            continue
        if r.get("id") in got:
            dup += 1
            continue
        got[r.get("id")] = (t, r)
        if r.get("status") != "succeeded":
            bad.append(r)
    missing = [i for i in ids if i not in got]
    if bad or missing or rc != 0:
        msg = ["switchyard-enqueue exited %d; %d of %d jobs failed, %d without a result, %d duplicate results" % (
            rc, len(bad), len(ids), len(missing), dup)]
        msg += ["  first failed: " + json.dumps(b)[:400] for b in bad[:3]]
        msg += ["  first missing ids: " + ", ".join(missing[:5])] if missing else []
        msg += ["  enqueue stderr (tail):\n" + stderr_tail(enq.err)]
        msg += ["  worker %d stderr (tail):\n%s" % (w["p"].pid, stderr_tail(w["err"])) for w in ws]
        raise BenchFailed("\n".join(msg))
    return got, dup


def job_line(prefix, i):
    return ('{"id":"%s-%d","prompt":"bench","providers":["kie"]}\n' % (prefix, i)).encode()


def snapshot(a, ws):
    return {"t": time.monotonic(), "fp": stats(a.fp_port), "fp_cpu": cpu_or_none(a.fp_pid),
            "broker_cpu": cpu_or_none(a.broker_pid), "w_cpu": [cpu_or_none(w["p"].pid) for w in ws]}


def children_cpu():
    """CPU-seconds of this script's reaped children so far."""
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def delta(s0, s1, key):
    return None if s0[key] is None or s1[key] is None else s1[key] - s0[key]


def warm_broker(a):
    """One idempotent produce before the passes. On a fresh broker the first
    producer-id request creates the transaction coordinator's topic, which
    answers "Coordinator load in progress" for a few seconds; without this the
    first pass's workers log that at start and the pass is marked disturbed."""
    prefix = "bench-%d-warm" % int(time.time() * 1000)
    make_topics(prefix, 1)
    conf = os.path.join(a.work, "warm.conf")
    kafka_conf(conf, a, prefix)
    p = subprocess.run([os.path.join(a.build, "switchyard-enqueue"), "-c", conf], input=job_line(prefix, 0),
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=90)
    if p.returncode != 0:
        raise BenchFailed("warming the broker: switchyard-enqueue rc %d: %s" % (
            p.returncode, p.stderr.decode(errors="replace")[-800:]))


def new_pass(a, name, workers, ledger=True):
    prefix = "bench-%d-%s" % (int(time.time() * 1000), name)
    say("%s: topics %s.{jobs,results,dlq} (%d partitions), group %s ..." % (name, prefix, a.partitions, prefix))
    make_topics(prefix, a.partitions)
    conf = os.path.join(a.work, name + ".conf")
    kafka_conf(conf, a, prefix, ledger)
    ws, join_s, parts = start_workers(a, conf, name, workers)
    say("%s: %d worker(s) joined in %.1f s, partitions %s" % (name, workers, join_s, parts))
    return prefix, conf, ws


def throughput_pass(a, name, workers, ledger=True):
    prefix, conf, ws = new_pass(a, name, workers, ledger)
    n = a.jobs
    ids = ["%s-%d" % (prefix, i) for i in range(n)]
    rest = b"".join(job_line(prefix, i) for i in range(1, n))
    s0 = snapshot(a, ws)
    enq = Enqueue(a, conf, os.path.join(a.work, name + ".enqueue.err"), 120)
    warm = enq.settle(prefix + "-warm", workers, a.settle_s)
    e0 = cpu_or_none(enq.p.pid)
    t_first = enq.first_line(job_line(prefix, 0))
    wrote = {}

    def writer():
        try:
            write_all(enq.p.stdin.fileno(), rest)
        except BrokenPipeError:
            pass
        wrote["t"] = time.monotonic()
    th = threading.Thread(target=writer, daemon=True)
    th.start()
    th.join(150)
    # The client's CPU for the N jobs: its whole life (rusage of the children
    # reaped in finish(), only enqueue) less what it had used before the
    # first job. Its results come out as it serves its input, so it cannot
    # be read at the last result while it runs.
    c0 = children_cpu()
    rc = enq.finish(150)
    life = children_cpu() - c0
    s1 = snapshot(a, ws)
    got, dup = parse_results(enq, ids, rc, ws)
    t_last = max(t for t, _ in got.values())
    total = [r["timings"]["total_ms"] for _, r in got.values()]
    queued = [r["timings"]["queued_ms"] for _, r in got.values()]
    by_worker = {}
    for _, r in got.values():
        by_worker[r.get("worker")] = by_worker.get(r.get("worker"), 0) + 1
    ws = stop_workers(ws)
    wall = t_last - t_first
    res = {"name": name, "ledger": ledger, "workers": workers, "jobs": n, "wall": wall, "jobs_s": n / wall,
           "feed_s": wrote.get("t", t_last) - t_first, "total_ms": total, "queued_ms": queued,
           "requests": s1["fp"]["requests"] - s0["fp"]["requests"] - 1, "dup": dup,
           "fp_cpu": delta(s0, s1, "fp_cpu"), "broker_cpu": delta(s0, s1, "broker_cpu"),
           "enq_cpu": life - e0 if e0 is not None else None,
           "w_cpu": sum(w["cpu"] for w in ws), "w_rss_mib": max(w["maxrss_kib"] for w in ws) / 1024,
           "by_worker": sorted(by_worker.values(), reverse=True), "warm": warm,
           "warnings": [x for w in ws for x in w["warnings"]]}
    say("%s: %d jobs in %.2f s = %.0f jobs/s; total_ms p50 %d p99 %d; %d HTTP requests; warm-up: %d jobs, "
        "first round trip %.0f ms" % (name, n, wall, n / wall, pct(total, 50), pct(total, 99), res["requests"],
                                      warm["jobs"], warm["rtt"]))
    return res


def batch_pass(a):
    """The same N KIE-only jobs in batch mode (`switchyard run`, no Kafka), same
    providers and max_in_flight: the reference for the one-worker ratio."""
    conf, jobs, out = (os.path.join(a.work, "batch." + x) for x in ("conf", "jobs.jsonl", "out.jsonl"))
    kafka_conf(conf, a, "batch", batch=True)  # the same file without its kafka group
    with open(jobs, "wb") as f:
        f.write(b"".join(job_line("batch", i) for i in range(a.jobs)))
    c0 = children_cpu()
    t0 = time.monotonic()
    p = subprocess.run([os.path.join(a.build, "switchyard"), "run", "-c", conf, "--jobs", jobs, "--out", out],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=120)
    wall = time.monotonic() - t0
    cpu = children_cpu() - c0  # only this child was reaped in between
    with open(out) as f:
        ok = sum(1 for line in f if '"status":"succeeded"' in line)
    if p.returncode != 0 or ok != a.jobs:
        raise BenchFailed("batch pass: rc %d, %d of %d succeeded; stderr tail: %s" % (
            p.returncode, ok, a.jobs, p.stderr.decode(errors="replace")[-800:]))
    say("batch: %d jobs in %.2f s = %.0f jobs/s, CPU %.2f s" % (a.jobs, wall, a.jobs / wall, cpu))
    return {"wall": wall, "jobs_s": a.jobs / wall, "cpu": cpu}


def latency_pass(a, name):
    prefix, conf, ws = new_pass(a, name, 1)
    skip, n, rate = a.lat_warmup, a.lat_jobs, a.lat_rate
    ids = ["%s-%d" % (prefix, i) for i in range(skip + n)]
    s0 = snapshot(a, ws)
    enq = Enqueue(a, conf, os.path.join(a.work, name + ".enqueue.err"), 60)
    fd = enq.p.stdin.fileno()
    warm = enq.settle(prefix + "-warm", 1, a.settle_s)
    start = enq.first_line(b"\n")
    sent = {}
    # One write per millisecond: a job every 1000/rate ms, a blank line otherwise.
    every = max(1, int(round(1000.0 / rate)))
    tick, i, deadline = 0, 0, None
    while True:
        target = start + tick * 0.001
        d = target - time.monotonic()
        if d > 0:
            time.sleep(d)
        if i < skip + n and tick % every == 0:
            write_all(fd, job_line(prefix, i))
            sent[ids[i]] = time.monotonic()
            i += 1
            if i == skip + n:
                deadline = time.monotonic() + 30
        else:
            write_all(fd, b"\n")
        tick += 1
        if deadline and (len(enq.lines) >= warm["jobs"] + skip + n or time.monotonic() > deadline):
            break
        if enq.p.poll() is not None:
            break
    feed_s = time.monotonic() - start
    rc = enq.finish(60)
    s1 = snapshot(a, ws)
    got, dup = parse_results(enq, ids, rc, ws)
    ws = stop_workers(ws)
    meas = ids[skip:]
    total = [got[j][1]["timings"]["total_ms"] for j in meas]
    rtt = [(got[j][0] - sent[j]) * 1000 for j in meas]
    res = {"name": name, "workers": 1, "jobs": n, "warmup": skip, "rate": 1000.0 / every, "feed_s": feed_s,
           "total_ms": total, "queued_ms": [got[j][1]["timings"]["queued_ms"] for j in meas], "rtt_ms": rtt,
           "requests": s1["fp"]["requests"] - s0["fp"]["requests"] - 1, "dup": dup,
           "fp_cpu": delta(s0, s1, "fp_cpu"), "broker_cpu": delta(s0, s1, "broker_cpu"),
           "w_cpu": sum(w["cpu"] for w in ws), "warm": warm,
           "warnings": [x for w in ws for x in w["warnings"]]}
    say("%s: %d jobs at %.0f/s: total_ms p50 %d p99 %d; client round trip p50 %.1f p99 %.1f ms; warm-up "
        "first round trip %.0f ms" % (name, n, res["rate"], pct(total, 50), pct(total, 99), pct(rtt, 50),
                                      pct(rtt, 99), warm["rtt"]))
    return res


def fmt_cpu(v):
    return "?" if v is None else "%.1f" % v


def others(r):
    """CPU-seconds of everything but the worker in a throughput run."""
    return sum(x for x in (r["broker_cpu"], r["fp_cpu"], r["enq_cpu"]) if x is not None)


def render(a, runs, lat, broker_note, batches):
    t1, t1off, tw = runs
    lines = [SECTION, "",
             "- date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
             "- machine: %s" % machine(),
             "- command: `%s` (Release build in `%s`%s)" % (a.command, os.path.relpath(a.build), extra_flags(a.build)),
             "- broker: local single-node Kafka 3.9 from `scripts/kafka.sh` on %s (%s), sharing the CPUs with "
             "everything else; every pass on fresh topics `bench-<ms>-<pass>.{jobs,results,dlq}` (input and results "
             "%d partitions, DLQ 1) and a fresh consumer group" % (a.brokers, broker_note, a.partitions),
             "- fakeprov: one instance, `--gen-ms 0 --threads 2` (instant generation: each KIE job is one create "
             "+ one poll)",
             "- switchyard: `worker.max_in_flight = 1000`, `metrics_listen = \"\"`, `log_level = \"info\"` (only "
             "lifecycle lines at info, none per successful job; the bench reads \"assigned\" from them), KIE poll "
             "`first_ms = 1`, `interval_ms = 1`, rate limits and provider caps opened wide (as in the engine bench); "
             "KIE-only jobs `{\"id\":\"…\",\"prompt\":\"bench\",\"providers\":[\"kie\"]}`",
             "- %d workers = %d separate `switchyard -c FILE` processes in one group (what `--workers %d` "
             "forks, but each with its own stderr, exit code and rusage)" % (a.workers, a.workers, a.workers),
             "- load: `switchyard-enqueue -c FILE --wait` fed on a pipe, started after the workers owned all "
             "partitions for 1 s. Before the clock starts, warm-up jobs (12 at a time) go through until every "
             "worker has answered one, then %.0f s of idle (see *Start-up* below for the first job). **jobs/s** = N ÷ (enqueue has read the first job line → the last result line "
             "reaches the bench); the enqueue client produces and consumes on the same 2 CPUs" % a.settle_s,
             "- **`total_ms`** is the worker's own `timings.total_ms`: from the input message's Kafka timestamp "
             "(CreateTime, stamped by the producer in switchyard-enqueue when it accepts the message, so it includes "
             "enqueue's `linger.ms`, 0 since it sends each job at once) to the result JSON being built in the worker — i.e. "
             "enqueue batching + broker append + consumer fetch + parse + the KIE create and poll requests + any "
             "queueing in the worker. It does **not** include producing the result (the worker's `linger.ms = 10`, "
             "the idempotent ack) or the client fetching it. Millisecond resolution, same machine clock",
             "- **client round trip** (latency pass only): measured by the bench itself, from writing a job line "
             "into enqueue's stdin to reading its result line from enqueue's stdout; covers everything "
             "`total_ms` covers plus the result's produce, ack and consumption by the client. The feeder writes a "
             "blank line every 1 ms between jobs so enqueue serves its consumer at least every ~1 ms "
             "(≤ 1 ms of quantisation)",
             "- generation time is 0 here, so all of both figures is what Kafka + switchyard (+ the enqueue "
             "client) add",
             "- every pass checks one result per job, all `succeeded`, and that each worker exits 0 after SIGTERM",
             "- the task ledger is on (the default: `kafka.ledger_topic` = `<input>.ledger`, three records a "
             "job — `created`, `done`, tombstone — acks=all, `linger.ms = 20`) except in the `ledger off` row (`ledger_topic = \"\"`)",
             "- **batch**: the same N KIE-only jobs through `switchyard run` (no Kafka; same providers and "
             "`max_in_flight`), run %d times around the Kafka passes: %s (its CPU: the whole `switchyard run` "
             "process, start-up included)" % (
                 len(batches), ", ".join("%.0f jobs/s (CPU %.2f s)" % (b["jobs_s"], b["cpu"]) for b in batches)),
             "", "Throughput (saturation: all N jobs put on the topic as fast as enqueue can):", "",
             "| run | workers | jobs | first enqueue → last result s | **jobs/s** | enqueue fed all jobs by s "
             "| `total_ms` p50 | `total_ms` p99 | `total_ms` max | HTTP requests | worker CPU s | broker CPU s "
             "| fakeprov CPU s | enqueue CPU s | results per worker |",
             "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in (t1, t1off, tw):
        lines.append("| %s | %d | %d | %.2f | **%.0f** | %.2f | %d | %d | %d | %d | %s | %s | %s | %s | %s |" % (
            r["name"] + ("" if r["ledger"] else " (ledger off)"), r["workers"], r["jobs"], r["wall"], r["jobs_s"], r["feed_s"], pct(r["total_ms"], 50),
            pct(r["total_ms"], 99), max(r["total_ms"]), r["requests"], fmt_cpu(r["w_cpu"]),
            fmt_cpu(r["broker_cpu"]), fmt_cpu(r["fp_cpu"]), fmt_cpu(r["enq_cpu"]),
            " / ".join(map(str, r["by_worker"]))))
    cpu = [(r["w_cpu"] or 0) + others(r) for r in (t1, tw)]
    batch = max(b["jobs_s"] for b in batches)
    budget = os.cpu_count() * t1["jobs"] / (0.9 * batch)  # CPU-s for the N jobs at 0.9 × batch
    lines += ["", "**Ratio**, one worker ÷ batch mode on the same jobs (best batch run, %.0f jobs/s): **%.2f** with "
              "the ledger on, %.2f with it off (target ≥ 0.9)." % (batch, t1["jobs_s"] / batch,
                                                                   t1off["jobs_s"] / batch), "",
              "Under saturation `total_ms` is mostly time the job waited on the topic or in the worker "
              "(up to `max_in_flight` jobs are in flight at once), so it says little about per-job overhead; the "
              "latency pass below does. Worker + broker + fakeprov + the enqueue client used %.1f and %.1f "
              "CPU-seconds of the %.1f and %.1f available (%d CPUs × wall) in the 1-worker and %d-worker runs "
              "(worker CPU is the whole process life, start-up and warm-up included; the client's is from the "
              "first job to its exit). Broker CPU is the whole broker process, which may also serve other "
              "clients. At 0.9 × the batch rate these %d jobs would have %.1f CPU-seconds on this machine: the "
              "broker, fakeprov and the client alone took %.1f of them in the 1-worker run, which leaves the "
              "worker %.1f, against the %.1f it used (batch mode: %.1f for the same jobs)." % (
                  cpu[0], cpu[1], os.cpu_count() * t1["wall"], os.cpu_count() * tw["wall"],
                  os.cpu_count(), tw["workers"], t1["jobs"], budget, others(t1), budget - others(t1),
                  t1["w_cpu"] or 0,
                  min(b["cpu"] for b in batches)), "",
              "Latency at low load (1 worker, %d jobs at a steady %.0f jobs/s after %d warm-up jobs that are not "
              "counted):" % (lat["jobs"], lat["rate"], lat["warmup"]), "",
              "| measure | p50 ms | p90 ms | p99 ms | max ms |", "|---|--:|--:|--:|--:|"]
    for label, xs, f in (("`timings.total_ms` (worker: input timestamp → result built)", lat["total_ms"], "%d"),
                         ("`timings.queued_ms` (input timestamp → job started in the worker)", lat["queued_ms"], "%d"),
                         ("client round trip (line into enqueue → result line out)", lat["rtt_ms"], "%.1f")):
        lines.append(("| %s | " + " | ".join([f] * 4) + " |") % (label, pct(xs, 50), pct(xs, 90), pct(xs, 99),
                                                                max(xs)))
    runs_, prev = [], False
    for q in lat["queued_ms"]:
        if q > 20 and not prev:
            runs_.append(0)
        if q > 20:
            runs_[-1] += 1
        prev = q > 20
    lines += ["", "The tail comes from short stalls before the worker takes a job: %d of %d jobs had `queued_ms` "
              "> 20 ms, in %d run(s) of consecutive jobs (longest %d jobs) whose delay mostly falls by about the %.0f ms "
              "send interval from one job to the next — everything queued behind one pause (broker, consumer fetch "
              "or CPU contention; not attributed further), not slow individual jobs. The CPUs and the broker are "
              "shared with whatever else runs on the machine, and the tail varies a lot from run to run: rerun "
              "before comparing p99s." % (
                  sum(runs_), len(lat["queued_ms"]), len(runs_), max(runs_) if runs_ else 0, 1000 / lat["rate"])]
    lines += ["", "Latency pass: %d HTTP requests at fakeprov, worker CPU %s s, broker CPU %s s over %.1f s." % (
        lat["requests"], fmt_cpu(lat["w_cpu"]), fmt_cpu(lat["broker_cpu"]), lat["feed_s"]), ""]
    lines += ["*Start-up* (not in the numbers above): the first job of each pass, on fresh topics with "
              "freshly started workers and enqueue, had a client round trip of %s ms, of which `total_ms` %s "
              "(`queued_ms` %s). The worker fetches its output, DLQ and ledger topics' metadata at start and "
              "switchyard-enqueue its input topic's, so the first message is not held for librdkafka's 1 s scan "
              "of topics it has no metadata for (before that change: ~1.9 s, ~1 s of it before the worker saw "
              "the job)." % (
                  " / ".join("%.0f" % r["warm"]["rtt"] for r in (t1, tw, lat)),
                  " / ".join("%d" % r["warm"]["total_ms"] for r in (t1, tw, lat)),
                  " / ".join("%d" % r["warm"]["queued_ms"] for r in (t1, tw, lat)))]
    warned = [r for r in (t1, t1off, tw, lat) if r["warnings"]]
    if warned:
        lines += ["", "**Disturbed:** warn/error lines in the workers' logs (%s) — e.g. a broker that stopped "
                  "answering (session time-outs, rejoins); the affected numbers above are not steady-state. First "
                  "one: `%s`" % (", ".join("%s %d" % (r["name"], len(r["warnings"])) for r in warned),
                                 warned[0]["warnings"][0].replace("`", "'"))]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    for k in ("build", "work", "bench-md", "command", "brokers", "broker-note"):
        ap.add_argument("--" + k, required=True)
    for k in ("fp-port", "fp-pid", "broker-pid"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--lat-jobs", type=int, default=2000)
    ap.add_argument("--lat-rate", type=float, default=200.0)
    ap.add_argument("--lat-warmup", type=int, default=50)
    ap.add_argument("--settle-s", type=float, default=2.0)
    ap.add_argument("--property", action="append", default=[], metavar="K=V",
                    help="a librdkafka property for the workers and enqueue (kafka.properties), with --only")
    ap.add_argument("--only", default="",
                    help="comma-separated passes to run (batch,1w,1w-noledger,3w,latency); prints, leaves BENCH.md")
    a = ap.parse_args()
    if a.property and not a.only:
        ap.error("--property is for experiments: use it with --only (BENCH.md records the defaults)")
    signal.signal(signal.SIGTERM, on_signal)
    os.environ.update(KEYS)

    def check_broker(after):
        if not broker_pid_alive(a.broker_pid):
            raise BenchFailed("the broker (pid %d) is gone after %s: stopped or restarted by someone else? "
                              "Numbers discarded; run again" % (a.broker_pid, after))

    only = set(x for x in a.only.split(",") if x)
    want = lambda k: not only or k in only  # noqa: E731
    if any(want(k) for k in ("1w", "1w-noledger", "3w", "latency")):
        warm_broker(a)
    runs, batches = [], [batch_pass(a)] if want("batch") else []
    for key, name, w, ledger in (("1w", "throughput-1w", 1, True), ("1w-noledger", "throughput-1w-noledger", 1, False),
                                 ("3w", "throughput-%dw" % a.workers, a.workers, True)):
        if not want(key):
            continue
        say("%s: %d jobs, %d worker(s) ..." % (name, a.jobs, w))
        runs.append(throughput_pass(a, name, w, ledger))
        check_broker(name)
    if want("batch"):
        batches.append(batch_pass(a))
    lat = None
    if want("latency"):
        say("latency-1w: %d jobs at %.0f/s, 1 worker ..." % (a.lat_jobs, a.lat_rate))
        lat = latency_pass(a, "latency-1w")
        check_broker("latency-1w")
    if only:
        for r in runs:
            say("%s: %.0f jobs/s; CPU s: worker %s, broker %s, fakeprov %s, enqueue %s" % (
                r["name"], r["jobs_s"], fmt_cpu(r["w_cpu"]), fmt_cpu(r["broker_cpu"]), fmt_cpu(r["fp_cpu"]),
                fmt_cpu(r["enq_cpu"])))
        for b in batches:
            say("batch: %.0f jobs/s, CPU %.2f s" % (b["jobs_s"], b["cpu"]))
        if lat:
            for k in ("total_ms", "queued_ms", "rtt_ms"):
                say("latency %s p50 %.1f p90 %.1f p99 %.1f" % (k, pct(lat[k], 50), pct(lat[k], 90), pct(lat[k], 99)))
        return 0

    section = render(a, runs, lat, a.broker_note, batches)
    write_bench_md(a.bench_md, section)
    print()
    print(section)
    with open(os.path.join(a.work, "summary.json"), "w") as f:
        json.dump({"runs": runs, "latency": lat, "batch": batches}, f, default=str)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchFailed as e:
        print("bench kafka: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
    finally:
        CHILDREN.stop_all()  # workers drain on SIGTERM; anything else is killed
