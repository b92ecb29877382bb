#!/usr/bin/env python3
"""bench_engine.py — the measuring half of `scripts/bench.sh engine`.

bench.sh builds, starts the two fakeprov instances (generation 0 ms and
30 000 ms) and owns their pids; this script runs switchyard and bench_ceiling
against them, one child at a time, and measures each child on its own:
wall time, user+sys CPU and ru_maxrss from os.wait4 (per child, so one run
never colours another's numbers), HTTP requests from fakeprov /_stats deltas,
and fakeprov's own CPU from /proc. Every result line is checked: one result
per job, all "succeeded", else the bench fails loudly (exit 1).

It only talks to 127.0.0.1 and kills (by pid) any child it started, also on
SIGTERM/SIGINT. Writes the "## Engine" section of BENCH.md, keeping the rest.

Scale: 1,000 (--scale-small), 20,000 (--mem-jobs) and 100,000 (--scale-jobs)
jobs held in flight at once against the 30 s fakeprov (max_in_flight = jobs;
they are requests queued per origin behind 64 connections, not connections,
so no file-descriptor limit applies): peak RSS per job above the 1-job
baseline, and CPU per job against the 1,000 run's. Each run is bounded (the
generation is 30 s; a run is killed after 90 s + 1 s per 1,000 jobs).
"""
import argparse
import datetime
import json
import os
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (CHILDREN, KEYS, BenchFailed, extra_flags, machine, on_signal, proc_cpu_s,  # noqa: E402
                          stats, status_kib, stderr_tail, wide_rate, write_bench_md, write_conf)


def engine_conf(path, port, max_in_flight, first_ms, interval_ms, hosts):
    write_conf(path, port, {"mode": "fixed", "first_ms": first_ms, "interval_ms": interval_ms, "max_s": 600},
               wide_rate(max_in_flight),
               {"max_in_flight": max_in_flight, "max_host_connections": hosts, "metrics_listen": "",
                "log_level": "warn"}, title="scripts/bench.sh engine")


def write_jobs(path, n, prefix, providers):
    with open(path, "w") as f:
        for i in range(n):
            p = providers[i % len(providers)]
            f.write('{"id":"%s-%d","prompt":"a room","providers":["%s"]}\n' % (prefix, i, p))


def run_child(argv, timeout_s, stderr=None, sample=None):
    """Runs argv with stdout on a pipe; returns dict(wall, cpu, user, sys,
    maxrss_kib, hwm_kib, rss, rc, lines). A child still running after
    timeout_s is killed and BenchFailed raised. `sample(pid)` is called about
    every 0.5 s while the child runs."""
    t0 = time.monotonic()
    p = CHILDREN.popen(argv, stdout=subprocess.PIPE, stderr=stderr)
    hwm, rss, lines = [0], [], []
    done = threading.Event()

    def reader():
        lines.extend(p.stdout)

    def sampler():
        ticks = 0
        while not done.wait(0.1):
            hwm[0] = max(hwm[0], status_kib(p.pid, "VmHWM"))
            rss.append((time.monotonic() - t0, status_kib(p.pid, "VmRSS")))
            ticks += 1
            if sample and ticks % 5 == 0:
                sample(p.pid)

    threads = [threading.Thread(target=f, daemon=True) for f in (reader, sampler)]
    for th in threads:
        th.start()
    while True:
        pid, status, ru = os.wait4(p.pid, os.WNOHANG)
        if pid:
            break
        if time.monotonic() - t0 > timeout_s:
            p.kill()
            os.wait4(p.pid, 0)
            p.returncode = -9
            done.set()
            CHILDREN.remove(p)
            raise BenchFailed("%s did not finish within %.0f s: killed (hang?)" % (os.path.basename(argv[0]),
                                                                                    timeout_s))
        time.sleep(0.02)
    wall = time.monotonic() - t0
    done.set()
    for th in threads:
        th.join(5)
    p.returncode = os.waitstatus_to_exitcode(status)
    CHILDREN.remove(p)
    return {"wall": wall, "cpu": ru.ru_utime + ru.ru_stime, "user": ru.ru_utime, "sys": ru.ru_stime,
            "maxrss_kib": ru.ru_maxrss, "hwm_kib": hwm[0], "rss": rss, "rc": p.returncode, "lines": lines}


def check_results(out_path, err_path, n, prefix):
    ids, bad, providers = set(), [], {}
    with open(out_path) as f:
        for line in f:
            r = json.loads(line)
            ids.add(r.get("id"))
            providers[r.get("provider")] = providers.get(r.get("provider"), 0) + 1
            if r.get("status") != "succeeded":
                bad.append(r)
    missing = n - len(ids & {"%s-%d" % (prefix, i) for i in range(n)})
    if bad or missing:
        msg = ["%d of %d jobs failed, %d without a result" % (len(bad), n, missing)]
        msg += ["  first failed: " + json.dumps(b)[:400] for b in bad[:3]]
        raise BenchFailed("\n".join(msg) + "\n  switchyard stderr (tail):\n" + stderr_tail(err_path))
    return providers


def requests_delta(a, b):
    return b["requests"] - a["requests"] - 1  # the second /_stats call counts itself


def engine_run(a, name, port, fp_pid, providers, max_in_flight, first_ms, interval_ms, timeout_s, n=None,
               sample=None):
    n = n or a.jobs
    w = a.work
    conf, jobs, out, err = (os.path.join(w, "%s.%s" % (name, x)) for x in ("conf", "jobs.jsonl", "out.jsonl", "err"))
    engine_conf(conf, port, max_in_flight, first_ms, interval_ms, a.hosts)
    write_jobs(jobs, n, name, providers)
    s0, c0 = stats(port), proc_cpu_s(fp_pid)
    argv = [os.path.join(a.build, "switchyard"), "run", "-c", conf, "--jobs", jobs, "--out", out]
    try:
        with open(err, "w") as ef:
            r = run_child(argv, timeout_s, ef, sample)
    except BenchFailed as e:
        s1 = stats(port)
        raise BenchFailed("switchyard run (%s, %d jobs): %s\n  command: %s\n  fakeprov /_stats: %s\n"
                          "  switchyard stderr (tail):\n%s" % (name, n, e, " ".join(argv), json.dumps(s1),
                                                                stderr_tail(err)))
    s1, c1 = stats(port), proc_cpu_s(fp_pid)
    if r["rc"] != 0:
        raise BenchFailed("switchyard run (%s) exited %d; stderr tail:\n%s" % (name, r["rc"], stderr_tail(err)))
    r.pop("lines")
    r["by_provider"] = check_results(out, err, n, name)
    r.update(name=name, jobs=n, requests=requests_delta(s0, s1), fp_cpu=c1 - c0, stats=s1)
    with open(err) as f:
        r["warnings"] = sum(1 for line in f if '"warn"' in line or '"error"' in line)
    return r


def ceiling_run(a, concurrency):
    s0, c0 = stats(a.port0), proc_cpu_s(a.fp0_pid)
    r = run_child([os.path.join(a.build, "bench_ceiling"), "--url-base", "http://127.0.0.1:%d" % a.port0,
                   "--jobs", str(a.jobs), "--concurrency", str(concurrency),
                   "--max-host-connections", str(a.hosts)], 120)
    s1, c1 = stats(a.port0), proc_cpu_s(a.fp0_pid)
    line = b"".join(r.pop("lines")).decode().strip()
    if r["rc"] != 0:
        raise BenchFailed("bench_ceiling exited %d: %s" % (r["rc"], line))
    j = json.loads(line)
    r.update(name="ceiling-c%d" % concurrency, jobs=a.jobs, requests=requests_delta(s0, s1), fp_cpu=c1 - c0,
             client_requests=j["requests"])
    return r


def fmt_row(r):
    n = r["jobs"]
    return "| %s | %d | %.2f | %.0f | %d | %.0f | %.2f | %.3f | %.2f | %.1f |" % (
        r["label"], n, r["wall"], n / r["wall"], r["requests"], r["requests"] / r["wall"], r["cpu"],
        1000 * r["cpu"] / n, r["fp_cpu"], r["maxrss_kib"] / 1024)


def rps(r):
    return r["requests"] / r["wall"]


def median(xs):
    xs = sorted(xs)
    return (xs[(len(xs) - 1) // 2] + xs[len(xs) // 2]) / 2


def render(a, kies, ceils, mixed, ceil_q, wides, mems, base):
    kie, ceil, wide = max(kies, key=rps), max(ceils, key=rps), max(wides, key=rps)
    head = ("| run | jobs | wall s | jobs/s | HTTP requests | requests/s | CPU s (user+sys) | CPU s / 1k jobs "
            "| fakeprov CPU s | peak RSS MiB |\n|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|")
    lines = ["## Engine (`scripts/bench.sh engine`)", "",
             "- date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
             "- machine: %s" % machine(),
             "- command: `%s` (Release build in `%s`%s)" % (a.command, os.path.relpath(a.build), extra_flags(a.build)),
             "- fakeprov: `--gen-ms 0 --threads 2` for throughput, `--gen-ms 30000 --gen-dist fixed --threads 2` "
             "for memory; on 127.0.0.1, sharing the CPUs with the measured client",
             "- switchyard: `worker.max_in_flight = %d`, `max_host_connections = %d`, poll `first_ms = 1`, "
             "`interval_ms = 1` (generation 0 ms: one create + one poll per KIE job; a Replicate create "
             "already answers `succeeded`), rate limits opened wide" % (a.concurrency, a.hosts),
             "- bench_ceiling (`bench/ceiling.c`): the same N, one create + one poll per job, nothing else; "
             "**the ceiling is `--concurrency %d --max-host-connections %d`** (concurrency = connection cap: "
             "every transfer has its connection, bare curl's fast case); `--concurrency %d` (transfers queued "
             "inside curl behind the cap, curl's slow case) is a reference row only" % (a.hosts, a.hosts,
                                                                                       a.concurrency),
             "- wall: process start to exit (results to a file with `--out`); "
             "HTTP requests counted by fakeprov (`/_stats` deltas); CPU and peak RSS are the measured "
             "process's own (`wait4` rusage); best of %d runs by requests/s where marked" % a.reps,
             "", head]
    lines += [fmt_row(dict(kie, label="switchyard, KIE only, max_in_flight %d (best of %d)" % (a.concurrency,
                                                                                               len(kies)))),
              fmt_row(dict(wide, label="switchyard, KIE only, max_in_flight %d (best of %d)" % (wide["mif"],
                                                                                                len(wides)))),
              fmt_row(dict(mixed, label="switchyard, mixed: alternate jobs on kie / replicate")),
              fmt_row(dict(ceil, label="**bench_ceiling, concurrency %d = connection cap (the ceiling, best of %d)**"
                           % (a.hosts, len(ceils)))),
              fmt_row(dict(ceil_q, label="bench_ceiling, concurrency %d, queued behind the cap (reference only)"
                           % a.concurrency))]
    cpu_job = lambda r: r["cpu"] / r["jobs"]
    runs_of = lambda rs: ", ".join("%.0f" % rps(r) for r in rs)  # noqa: E731
    med_rps = lambda rs: median([rps(r) for r in rs])  # noqa: E731
    med_cpu = lambda rs: median([cpu_job(r) for r in rs])  # noqa: E731
    lines += ["", "All runs (interleaved: switchyard, ceiling, switchyard wide; one after another), requests/s: "
              "switchyard KIE only %s; bench_ceiling %s; switchyard max_in_flight %d %s." % (
                  runs_of(kies), runs_of(ceils), wide["mif"], runs_of(wides)), "",
              "**Ratio** (switchyard KIE-only requests/s ÷ bench_ceiling requests/s at concurrency = connection "
              "cap, %d connections; best run ÷ best run): **%.2f** at max_in_flight %d, **%.2f** at %d "
              "(target ≥ 0.8). CPU per job ÷ the ceiling's (of those runs): **%.2f** and **%.2f** "
              "(target ≤ 1.3). Median ÷ median over all runs: requests/s %.2f and %.2f, CPU per job %.2f and "
              "%.2f." % (
                  a.hosts, rps(kie) / rps(ceil), a.concurrency, rps(wide) / rps(ceil), wide["mif"],
                  cpu_job(kie) / cpu_job(ceil), cpu_job(wide) / cpu_job(ceil),
                  med_rps(kies) / med_rps(ceils), med_rps(wides) / med_rps(ceils),
                  med_cpu(kies) / med_cpu(ceils), med_cpu(wides) / med_cpu(ceils)), ""]
    small = mems[0]
    cpu_above = lambda r: max(0.0, r["cpu"] - base["cpu"]) / r["jobs"]  # noqa: E731
    lines += ["Memory and CPU with all jobs in flight at once (fakeprov `--gen-ms 30000`, `worker.max_in_flight` "
              "= jobs, poll `first_ms = %d`, `interval_ms = 5000`: each job is one create, a poll answered "
              "`pending`, a poll answered `success`; the 1-job baseline is the same binary running one job against "
              "the 0 ms fakeprov, %.1f MiB peak RSS, %.3f CPU s). *Above baseline* subtracts the baseline's peak "
              "RSS and CPU (start-up) before dividing by the jobs:" % (a.mem_first_ms, base["maxrss_kib"] / 1024,
                                                                      base["cpu"]), "",
              "| jobs in flight | peak tasks in flight at fakeprov | peak RSS MiB | KiB per job above the 1-job "
              "baseline | RSS while all wait for their first poll, MiB | CPU s | CPU ms per job above the "
              "baseline | … ÷ at %d | wall s | HTTP requests |" % small["jobs"],
              "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for m in mems:
        steady = [kib for t, kib in m["rss"] if t <= a.mem_first_ms / 1000 - 2]
        lines.append("| %d | %d | %.1f | %.2f | %.1f | %.2f | %.4f | %.2f | %.1f | %d |" % (
            m["jobs"], m["peak_active"], m["maxrss_kib"] / 1024, (m["maxrss_kib"] - base["maxrss_kib"]) / m["jobs"],
            (steady[-1] if steady else 0) / 1024, m["cpu"], 1000 * cpu_above(m),
            cpu_above(m) / cpu_above(small) if cpu_above(small) > 0 else 0, m["wall"], m["requests"]))
    big = mems[-1]
    lines += ["", "At %d in flight: **%.2f KiB per job** above the 1-job baseline (target ≤ 2); CPU per job "
              "**%.2f ×** the %d-in-flight run's (target within ±20 %%)." % (
                  big["jobs"], (big["maxrss_kib"] - base["maxrss_kib"]) / big["jobs"],
                  cpu_above(big) / cpu_above(small) if cpu_above(small) > 0 else 0, small["jobs"]), ""]
    runs = kies + wides + [mixed, base] + mems
    warned = ["%s %d" % (r["name"], r["warnings"]) for r in runs if r["warnings"]]
    if warned:
        lines += ["Warning/error log lines from switchyard: " + ", ".join(warned), ""]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    for k in ("build", "work", "bench-md", "command"):
        ap.add_argument("--" + k, required=True)
    for k in ("port0", "fp0-pid", "port30", "fp30-pid"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--jobs", type=int, default=20000)
    ap.add_argument("--concurrency", type=int, default=1000)
    ap.add_argument("--hosts", type=int, default=64)
    ap.add_argument("--wide", type=int, default=20000)  # the second max_in_flight row
    ap.add_argument("--mem-jobs", type=int, default=20000)
    ap.add_argument("--scale-small", type=int, default=1000)  # the CPU-per-job reference
    ap.add_argument("--scale-jobs", type=int, default=100000)  # 0: no 100k row
    ap.add_argument("--mem-first-ms", type=int, default=25000)
    ap.add_argument("--reps", type=int, default=5)
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    os.environ.update(KEYS)

    def say(msg):
        print("bench engine: " + msg, flush=True)

    kies, ceils, wides = [], [], []
    for i in range(a.reps):  # interleaved, so a noisy neighbour hits both alike
        say("run %d/%d: %d KIE-only jobs through switchyard, max_in_flight %d ..." % (i + 1, a.reps, a.jobs,
                                                                                    a.concurrency))
        kies.append(engine_run(a, "kie", a.port0, a.fp0_pid, ["kie"], a.concurrency, 1, 1, 60))
        say("  %.2f s, %.0f requests/s" % (kies[-1]["wall"], rps(kies[-1])))
        say("run %d/%d: bench_ceiling, concurrency %d = connection cap ..." % (i + 1, a.reps, a.hosts))
        ceils.append(ceiling_run(a, a.hosts))
        say("  %.2f s, %.0f requests/s" % (ceils[-1]["wall"], rps(ceils[-1])))
        say("run %d/%d: %d KIE-only jobs, max_in_flight %d ..." % (i + 1, a.reps, a.jobs, a.wide))
        wides.append(engine_run(a, "wide", a.port0, a.fp0_pid, ["kie"], a.wide, 1, 1, 60))
        wides[-1]["mif"] = a.wide
        say("  %.2f s, %.0f requests/s" % (wides[-1]["wall"], rps(wides[-1])))
    say("bench_ceiling, concurrency %d (queued behind the cap; reference) ..." % a.concurrency)
    ceil_q = ceiling_run(a, a.concurrency)
    say("  %.2f s, %.0f requests/s" % (ceil_q["wall"], rps(ceil_q)))
    say("%d mixed jobs (alternating kie / replicate) ..." % a.jobs)
    mixed = engine_run(a, "mixed", a.port0, a.fp0_pid, ["kie", "replicate"], a.concurrency, 1, 1, 60)
    say("  %.2f s, %.0f requests/s" % (mixed["wall"], rps(mixed)))

    say("memory baseline: 1 job ...")
    base = engine_run(a, "base", a.port0, a.fp0_pid, ["kie"], a.mem_jobs, 1, 1, 30, n=1)
    mems = []
    for n in sorted(set(x for x in (a.scale_small, a.mem_jobs, a.scale_jobs) if x > 0)):
        say("memory: %d jobs in flight at once (about %d s) ..." % (n, a.mem_first_ms / 1000 + 5 + n / 5000))
        peak = [0]

        def sample(_pid):
            try:
                peak[0] = max(peak[0], stats(a.port30)["kie"]["tasks_active"])
            except (OSError, ValueError):
                pass

        # Bounded: creating 100,000 tasks takes seconds, the generation 30 s.
        m = engine_run(a, "mem%d" % n, a.port30, a.fp30_pid, ["kie"], n, a.mem_first_ms, 5000, 90 + n // 1000,
                       n=n, sample=sample)
        m["peak_active"] = peak[0]
        say("  peak RSS %.1f MiB, CPU %.2f s, %d tasks in flight at fakeprov at most" % (
            m["maxrss_kib"] / 1024, m["cpu"], peak[0]))
        if peak[0] < n * 0.99:
            say("WARNING: only %d of %d tasks were in flight at once at fakeprov" % (peak[0], n))
        mems.append(m)

    section = render(a, kies, ceils, mixed, ceil_q, wides, mems, base)
    write_bench_md(a.bench_md, section)
    print()
    print(section)
    with open(os.path.join(a.work, "summary.json"), "w") as f:
        json.dump({"kie": kies, "ceiling": ceils, "ceiling_queued": ceil_q, "wide": wides, "mixed": mixed,
                   "mem": mems, "base": base},
                  f, indent=1, default=str)
    return 0


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchFailed as e:
        print("bench engine: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
    finally:
        CHILDREN.stop_all()
