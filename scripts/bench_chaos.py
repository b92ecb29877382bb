#!/usr/bin/env python3
"""scripts/bench.sh chaos — a KIE outage, three clients.

KIE answers HTTP 500 to every request for the whole run while Replicate is
healthy (fakeprov on 127.0.0.1). For the same N jobs we count the requests
the failing provider receives and the job success rate of:

  naive       a hand-written client: create on KIE, retry each failed request
              3 times at once (what most bots do), then poll
  sy-kie      switchyard, KIE only (no fallback): breaker + retry budget
  sy-default  switchyard with its priority list (KIE, then Replicate)

Writes the "## Chaos" section of BENCH.md. Python stdlib only.
"""
import concurrent.futures
import json
import os
import signal
import subprocess
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (CHILDREN, KEYS, http, on_signal, start_fakeprov, stats, write_bench_md,  # noqa: E402
                          write_conf)

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BUILD = os.environ.get("BENCH_BUILD", os.path.join(ROOT, "build-bench"))
N = int(os.environ.get("CHAOS_JOBS", "500"))


def naive_http(port, method, path, body=None, key="test-kie-key"):
    try:
        return http(f"http://127.0.0.1:{port}{path}", method, body,
                    {"Authorization": f"Bearer {key}", "User-Agent": "naive/1", "Content-Type": "application/json"})
    except OSError:
        return 0, b""


def outage(port):
    naive_http(port, "POST", "/_control", {"provider": "kie", "fault": "http500", "rate": 1.0})


def naive_job(port, i):
    """One job the hand-written way: create with 3 immediate retries, then poll."""
    body = {"model": "google/nano-banana", "input": {"prompt": f"a room {i}"}}
    for _ in range(4):
        status, data = naive_http(port, "POST", "/api/v1/jobs/createTask", body)
        try:
            reply = json.loads(data)
        except ValueError:
            reply = {}
        if status == 200 and reply.get("code") == 200:
            task = reply["data"]["taskId"]
            for _ in range(100):
                time.sleep(0.3)
                s, d = naive_http(port, "GET", f"/api/v1/jobs/recordInfo?taskId={task}")
                try:
                    state = json.loads(d)["data"]["state"]
                except (ValueError, KeyError, TypeError):
                    continue
                if state == "success":
                    return True
                if state == "fail":
                    return False
            return False
    return False


def run_naive(port):
    t0 = time.time()
    with concurrent.futures.ThreadPoolExecutor(max_workers=50) as ex:
        ok = sum(ex.map(lambda i: naive_job(port, i), range(N)))
    return ok, time.time() - t0


def run_switchyard(port, tmp, providers):
    conf = os.path.join(tmp, "c.conf")
    jobs = os.path.join(tmp, "jobs.jsonl")
    out = os.path.join(tmp, "out.jsonl")
    rate = {"create_per_s": 1000.0, "create_burst": 1000, "create_window_max": 0, "poll_per_s": 1000.0,
            "poll_burst": 1000}
    write_conf(conf, port, {"mode": "fixed", "first_ms": 300, "interval_ms": 300, "max_s": 60}, rate,
               {"max_in_flight": 50, "metrics_listen": "", "log_level": "error", "default_deadline_s": 120},
               title="scripts/bench.sh chaos")
    with open(jobs, "w") as f:
        for i in range(N):
            f.write(json.dumps({"id": f"c-{i}", "prompt": f"a room {i}", "providers": providers}) + "\n")
    env = dict(os.environ, **KEYS)
    t0 = time.time()
    subprocess.run([os.path.join(BUILD, "switchyard"), "run", "-c", conf, "--jobs", jobs, "--out", out],
                   env=env, check=True, stderr=subprocess.DEVNULL)
    rows = [json.loads(l) for l in open(out) if l.strip()]
    ok = sum(1 for r in rows if r["status"] == "succeeded")
    return ok, time.time() - t0


def measure(name, fn):
    with tempfile.TemporaryDirectory() as tmp:
        fp, port = start_fakeprov(BUILD, tmp, ["--gen-ms", "300", "--threads", "2"])
        try:
            outage(port)
            ok, secs = fn(port, tmp)
            s = stats(port)
        finally:
            fp.terminate()
            fp.wait()
            CHILDREN.remove(fp)
    row = {"client": name, "jobs": N, "succeeded": ok, "kie_requests": s["kie"]["creates"] + s["kie"]["polls"],
           "replicate_requests": s["replicate"]["creates"] + s["replicate"]["polls"], "seconds": secs}
    print(f"bench chaos: {name:<11} {ok}/{N} succeeded, {row['kie_requests']} requests to failing KIE, "
          f"{row['replicate_requests']} to Replicate, {secs:.1f} s", file=sys.stderr)
    return row


def write_bench(rows):
    path = os.path.join(ROOT, "BENCH.md")
    lines = ["## Chaos (`scripts/bench.sh chaos`)", "",
             f"- date: {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())}; machine: {os.cpu_count()} CPUs",
             "- command: `scripts/bench.sh chaos` (Release build in `build-bench`)",
             f"- scenario: fakeprov on 127.0.0.1 answers HTTP 500 to every KIE request for the whole run; "
             f"Replicate is healthy; {N} jobs; generation 300 ms",
             "- naive: 50 threads, KIE only, each failed create retried 3 times at once (4 tries), then polls",
             "- switchyard: `max_in_flight = 50`, default breaker and retry settings (rate limits opened wide "
             "so they do not hide the difference); `sy-kie` is limited to KIE, `sy-default` may fall back to "
             "Replicate", "",
             "| client | jobs | succeeded | success rate | requests to failing KIE | requests to Replicate | wall s |",
             "|---|--:|--:|--:|--:|--:|--:|"]
    for r in rows:
        lines.append(f"| {r['client']} | {r['jobs']} | {r['succeeded']} | {100.0 * r['succeeded'] / r['jobs']:.1f}% "
                     f"| {r['kie_requests']} | {r['replicate_requests']} | {r['seconds']:.1f} |")
    write_bench_md(path, "\n".join(lines) + "\n")


def main():
    rows = [measure("naive", lambda port, tmp: run_naive(port)),
            measure("sy-kie", lambda port, tmp: run_switchyard(port, tmp, ["kie"])),
            measure("sy-default", lambda port, tmp: run_switchyard(port, tmp, ["kie", "replicate"]))]
    write_bench(rows)
    print("\n".join(f"{r['client']:<11} success {100.0 * r['succeeded'] / r['jobs']:5.1f}%  "
                    f"KIE requests {r['kie_requests']:6}" for r in rows))


if __name__ == "__main__":
    signal.signal(signal.SIGTERM, on_signal)
    try:
        main()
    finally:
        CHILDREN.stop_all()
