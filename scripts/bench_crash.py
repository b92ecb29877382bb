#!/usr/bin/env python3
"""bench_crash.py — the measuring half of `scripts/bench.sh crash`.

bench.sh builds, finds the broker and starts one fakeprov with a fixed,
multi-second generation time; this script runs one phase per ledger setting
(off, then on), each on fresh topics and a fresh consumer group:

  - W workers, each a separate `switchyard -c FILE` process in one group;
  - N jobs (alternately KIE-only and Replicate-only) fed at a steady rate
    through `switchyard-enqueue --wait`, whose stdin stays open for the whole
    phase (a blank line every 20 ms makes it serve its results consumer), so
    it prints *every* result message of these ids, duplicates included;
  - from one kill interval after the first job on, every interval one worker
    (round robin) gets SIGKILL and is restarted at once with the same config,
    until the last job is fed or after a fixed number of kills;
  - the phase ends when every id has a result (or at the phase timeout); then
    the workers get SIGTERM, the results are read for 3 s more, and enqueue's
    stdin is closed.

Per phase: provider creates from fakeprov's /_stats (delta over the phase,
both providers), results per id from enqueue's stdout, jobs without a result,
and the workers' `takeover: partition P running after T ms` log lines.
Writes the "## Crash" section of BENCH.md, keeping the rest. Only 127.0.0.1;
every child is stopped by pid on the way out.
"""
import argparse
import datetime
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_common import (CHILDREN, KEYS, BenchFailed, extra_flags, machine, on_signal, pct, stats,  # noqa: E402
                          stderr_tail, wide_rate, write_bench_md, write_conf)

SECTION = "## Crash (`scripts/bench.sh crash`)"
ASSIGN_RE = re.compile(r'"msg":"(?:assigned|revoked) \d+ partitions \((\d+) (?:total|left)\)')
TAKEOVER_RE = re.compile(r'takeover: partition (\d+) running after (\d+(?:\.\d+)?) ?ms')
TS_RE = re.compile(r'"ts":"([^"]+)"')
# librdkafka's note that a consumer property given to a producer is ignored
# (kafka.properties go to every client): expected here, not a disturbance.
BENIGN_RE = re.compile(r'is a consumer property and will be ignored|CONFWARN')


def say(msg):
    print("bench crash: " + msg, flush=True)


def knows_ledger(a):
    """Whether this build has kafka.ledger_topic: --check-config on a tiny config."""
    path = os.path.join(a.work, "probe.conf")
    with open(path, "w") as f:
        f.write('providers = ( { name = "kie"; type = "kie"; priority = 1; base_url = "http://127.0.0.1:%d"; '
                'api_key_env = "BENCH_KIE_KEY"; } );\n' % a.fp_port)
        f.write('kafka = { brokers = "%s"; group = "probe"; input_topic = "probe.jobs"; output_topic = '
                '"probe.results"; dlq_topic = "probe.dlq"; ledger_topic = ""; };\n' % a.brokers)
    p = subprocess.run([os.path.join(a.build, "switchyard"), "-c", path, "--check-config"],
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, timeout=60)
    out = p.stdout.decode(errors="replace")
    if p.returncode == 0:
        return True
    if "ledger_topic" in out:
        return False
    raise BenchFailed("--check-config of the probe config failed (rc %d):\n%s" % (p.returncode, out))


def crash_conf(path, a, prefix, ledger):
    """ledger: None = the build has no such key (write nothing), False = off (""), True = on."""
    kafka = {"brokers": a.brokers, "group": prefix, "input_topic": prefix + ".jobs",
             "output_topic": prefix + ".results", "dlq_topic": prefix + ".dlq"}
    if ledger is not None:
        kafka["ledger_topic"] = prefix + ".ledger" if ledger else ""
    kafka["properties"] = {"session_timeout_ms": str(a.session_ms),
                           "heartbeat_interval_ms": str(max(500, a.session_ms // 6))}
    write_conf(path, a.fp_port, {"mode": "fixed", "first_ms": max(500, a.gen_ms - 1000), "interval_ms": 500,
                                 "max_s": 600}, wide_rate(1000),
               {"max_in_flight": 1000, "metrics_listen": "", "log_level": "info"}, kafka,
               title="scripts/bench.sh crash")


def make_topic(a, name, n):
    for attempt in range(3):  # a shared broker may be briefly unavailable
        p = subprocess.run([os.path.join(a.build, "switchyard-enqueue"), "-b", a.brokers, "-t", name,
                            "--partitions", str(n)], stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                           stderr=subprocess.STDOUT, timeout=60)
        if p.returncode == 0:
            return
        say("creating topic %s failed (rc %d), attempt %d of 3" % (name, p.returncode, attempt + 1))
        time.sleep(2)
    raise BenchFailed("creating topic %s (%d partitions) failed:\n%s" % (name, n, p.stdout.decode(errors="replace")))


def owned(err_path):
    """Partitions a worker holds now, from its last assigned/revoked log line."""
    n = 0
    with open(err_path, errors="replace") as f:
        for line in f:
            m = ASSIGN_RE.search(line)
            if m:
                n = int(m.group(1))
    return n


class Pool:
    """W worker slots; a slot's process can be killed and replaced on its own."""

    def __init__(self, a, conf, phase):
        self.a, self.conf, self.phase = a, conf, phase
        self.slots = [None] * a.workers  # current {"p", "err"} per slot
        self.logs = []  # every stderr file of the phase
        self.incarnation = 0

    def start(self, i):
        self.incarnation += 1
        err = os.path.join(self.a.work, "%s.w%d.%d.err" % (self.phase, i, self.incarnation))
        with open(err, "w") as ef:
            p = CHILDREN.popen([os.path.join(self.a.build, "switchyard"), "-c", self.conf], term=True,
                               stdout=subprocess.DEVNULL, stderr=ef)
        self.slots[i] = {"p": p, "err": err}
        self.logs.append(err)

    def start_all(self):
        for i in range(len(self.slots)):
            self.start(i)
        # Joined: every partition owned, each worker owns some, nothing moved for 1 s.
        t0, last, since = time.monotonic(), None, time.monotonic()
        while True:
            for w in self.slots:
                if w["p"].poll() is not None:
                    raise BenchFailed("worker %d exited %d while joining; stderr tail:\n%s" % (
                        w["p"].pid, w["p"].returncode, stderr_tail(w["err"])))
            cur = [owned(w["err"]) for w in self.slots]
            if cur != last:
                last, since = cur, time.monotonic()
            if sum(cur) == self.a.partitions and min(cur) > 0 and time.monotonic() - since >= 1.0:
                return time.monotonic() - t0
            if time.monotonic() - t0 > 60:
                raise BenchFailed("workers did not take all %d partitions within 60 s (own %s)" % (
                    self.a.partitions, cur))
            time.sleep(0.05)

    def kill_restart(self, i):
        w = self.slots[i]
        if w["p"].poll() is not None:
            raise BenchFailed("worker %d (slot %d) had exited %d before its kill; stderr tail:\n%s" % (
                w["p"].pid, i, w["p"].returncode, stderr_tail(w["err"])))
        w["p"].send_signal(signal.SIGKILL)
        w["p"].wait()
        CHILDREN.remove(w["p"])
        self.start(i)

    def check_alive(self):
        for i, w in enumerate(self.slots):
            if w["p"].poll() is not None:
                raise BenchFailed("worker %d (slot %d) exited %d on its own; stderr tail:\n%s" % (
                    w["p"].pid, i, w["p"].returncode, stderr_tail(w["err"])))

    def stop(self, timeout_s=60):
        """SIGTERM every live worker; each must exit 0."""
        for w in self.slots:
            w["p"].send_signal(signal.SIGTERM)
        t_end = time.monotonic() + timeout_s
        bad = []
        for w in self.slots:
            try:
                rc = w["p"].wait(max(0.1, t_end - time.monotonic()))
            except subprocess.TimeoutExpired:
                w["p"].kill()
                rc = w["p"].wait()
                bad.append("worker %d still running %d s after SIGTERM: killed" % (w["p"].pid, timeout_s))
            CHILDREN.remove(w["p"])
            if rc != 0:
                bad.append("worker %d exited %s after SIGTERM; stderr tail:\n%s" % (w["p"].pid, rc,
                                                                                      stderr_tail(w["err"])))
        if bad:
            raise BenchFailed("; ".join(bad))


def write_all(fd, data):
    view = memoryview(data)
    while view:
        view = view[os.write(fd, view):]


class Feed:
    """switchyard-enqueue --wait with stdin held open; every stdout line stamped."""

    def __init__(self, a, conf, err_path):
        self.err = err_path
        with open(err_path, "w") as ef:
            self.p = CHILDREN.popen([os.path.join(a.build, "switchyard-enqueue"), "-c", conf, "--wait",
                                     "--timeout", "60"], term=True, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                    stderr=ef)
        self.lines = []
        self.lock = threading.Lock()  # one writer on the pipe at a time
        self.closed = False
        threading.Thread(target=self._read, daemon=True).start()
        threading.Thread(target=self._tick, daemon=True).start()

    def _read(self):
        for line in self.p.stdout:
            self.lines.append((time.monotonic(), line))

    def _tick(self):
        while True:
            time.sleep(0.02)
            with self.lock:
                if self.closed:
                    return
                try:
                    write_all(self.p.stdin.fileno(), b"\n")
                except (BrokenPipeError, OSError):
                    return

    def write(self, data):
        with self.lock:
            write_all(self.p.stdin.fileno(), data)

    def close(self, timeout_s=90):
        with self.lock:
            self.closed = True
            try:
                self.p.stdin.close()
            except BrokenPipeError:
                pass
        try:
            rc = self.p.wait(timeout_s)
        except subprocess.TimeoutExpired:
            self.p.kill()
            rc = self.p.wait()
        CHILDREN.remove(self.p)
        time.sleep(0.2)
        return rc


def job_line(prefix, i):
    prov = "kie" if i % 2 == 0 else "replicate"
    return ('{"id":"%s-%d","prompt":"bench crash %d","providers":["%s"]}\n' % (prefix, i, i, prov)).encode()


def ts_epoch(line):
    m = TS_RE.search(line)
    if not m:
        return None
    s = m.group(1).replace("Z", "+00:00")
    try:
        return datetime.datetime.fromisoformat(s).timestamp()
    except ValueError:
        return None


def run_phase(a, name, ledger):
    t_phase = time.monotonic()
    prefix = "crash-%d-%s" % (int(time.time() * 1000), name)
    conf = os.path.join(a.work, name + ".conf")
    crash_conf(conf, a, prefix, ledger)
    say("%s: topics %s.{jobs,results} (%d partitions), .dlq (1), group %s" % (name, prefix, a.partitions, prefix))
    for t, n in (("jobs", a.partitions), ("results", a.partitions), ("dlq", 1)):
        make_topic(a, "%s.%s" % (prefix, t), n)
    pool = Pool(a, conf, name)
    join_s = pool.start_all()
    say("%s: %d workers own all %d partitions after %.1f s" % (name, a.workers, a.partitions, join_s))

    fp0 = stats(a.fp_port)
    feed = Feed(a, conf, os.path.join(a.work, name + ".enqueue.err"))
    ids = ["%s-%d" % (prefix, i) for i in range(a.jobs)]
    want = set(ids)
    t0, t0_wall = time.monotonic(), time.time()
    kills, next_kill, sent = [], t0 + a.kill_every, 0
    while sent < a.jobs:
        now = time.monotonic()
        due = min(a.jobs, int((now - t0) * a.rate) + 1)
        if due > sent:
            feed.write(b"".join(job_line(prefix, i) for i in range(sent, due)))
            sent = due
        if now >= next_kill and len(kills) < a.max_kills:
            slot = len(kills) % a.workers
            pool.kill_restart(slot)
            kills.append((time.time(), slot))
            say("%s: kill %d: slot %d (SIGKILL + restart) at %.1f s, %d jobs fed, %d results" % (
                name, len(kills), slot, now - t0, sent, len(feed.lines)))
            next_kill += a.kill_every
        if feed.p.poll() is not None:
            raise BenchFailed("switchyard-enqueue exited %s while feeding; stderr:\n%s" % (
                feed.p.returncode, stderr_tail(feed.err)))
        pool.check_alive()
        time.sleep(0.01)
    t_fed = time.monotonic()
    say("%s: %d jobs fed in %.1f s, %d kills; waiting for every result (at most %d s)" % (
        name, a.jobs, t_fed - t0, len(kills), a.phase_timeout))

    def seen_ids():
        got = set()
        for _, line in list(feed.lines):
            try:
                i = json.loads(line).get("id")
            except ValueError:
                continue
            if i in want:
                got.add(i)
        return got

    t_last_print = time.monotonic()
    while True:
        got = seen_ids()
        if len(got) == a.jobs:
            break
        if time.monotonic() - t_fed > a.phase_timeout:
            break
        if feed.p.poll() is not None:
            raise BenchFailed("switchyard-enqueue exited %s; stderr:\n%s" % (feed.p.returncode,
                                                                          stderr_tail(feed.err)))
        pool.check_alive()
        if time.monotonic() - t_last_print > 15:
            say("%s: %d of %d ids have a result" % (name, len(got), a.jobs))
            t_last_print = time.monotonic()
        time.sleep(0.2)
    t_all = time.monotonic()
    pool.stop()
    time.sleep(3)  # results the workers published while stopping
    rc = feed.close()
    fp1 = stats(a.fp_port)

    results, by_id, failed, resumed = 0, {}, 0, 0
    for _, line in feed.lines:
        r = json.loads(line)
        if r.get("id") not in want:
            continue
        results += 1
        by_id[r["id"]] = by_id.get(r["id"], 0) + 1
        if r.get("status") != "succeeded":
            failed += 1
        if "resum" in json.dumps(r.get("attempts", "")):
            resumed += 1
    creates = {p: fp1[p]["creates"] - fp0[p]["creates"] for p in ("kie", "replicate")}
    tasks = {p: fp1[p]["tasks_created"] - fp0[p]["tasks_created"] for p in ("kie", "replicate")}
    t_first_kill = kills[0][0] if kills else None
    takeovers, warns, assigned = [], [], 0
    for path in pool.logs:
        with open(path, errors="replace") as f:
            for line in f:
                m = TAKEOVER_RE.search(line)
                if m and "(ledger off)" not in line:
                    t = ts_epoch(line)
                    takeovers.append({"ms": float(m.group(2)), "after_kill": t is not None and t_first_kill
                                      is not None and t >= t_first_kill, "log": os.path.basename(path),
                                      "timed_out": "read timed out" in line})
                if '"msg":"assigned ' in line:
                    assigned += 1
                if ('"level":"warn"' in line or '"level":"error"' in line) and not BENIGN_RE.search(line):
                    warns.append(line.strip()[:240])
    res = {"name": name, "ledger": ledger, "prefix": prefix, "jobs": a.jobs, "kills": len(kills),
           "kill_slots": [s for _, s in kills], "feed_s": t_fed - t0, "all_results_s": t_all - t0,
           "creates": creates, "tasks": tasks, "creates_total": sum(creates.values()),
           "results": results, "ids_with_result": len(by_id), "lost": a.jobs - len(by_id),
           "dup_ids": sum(1 for v in by_id.values() if v > 1), "failed": failed, "resumed": resumed,
           "enqueue_rc": rc, "takeovers": takeovers, "assigned_lines": assigned, "warns": warns,
           "join_s": join_s, "t0_wall": t0_wall, "wall_s": time.monotonic() - t_phase}
    res["extra_creates"] = res["creates_total"] - a.jobs
    res["extra_results"] = results - len(by_id)
    say("%s: %d creates (kie %d, replicate %d) for %d jobs: %+d; %d results for %d ids: %+d extra; %d lost; "
        "%d failed; %d takeover lines; %d kills; all results %.1f s after the first job" % (
            name, res["creates_total"], creates["kie"], creates["replicate"], a.jobs, res["extra_creates"],
            results, len(by_id), res["extra_results"], res["lost"], failed, len(takeovers), len(kills),
            res["all_results_s"]))
    return res


def per_k(x, n):
    return 1000.0 * x / n


def render(a, phases, ledger_known):
    lines = [SECTION, "",
             "- date: %s" % datetime.datetime.now().astimezone().strftime("%Y-%m-%d %H:%M %Z"),
             "- machine: %s" % machine(),
             "- command: `%s` (Release build in `%s`%s)" % (a.command, os.path.relpath(a.build), extra_flags(a.build)),
             "- broker: the local single-node Kafka 3.9 at %s (shared with whatever else runs); each phase on fresh "
             "topics `crash-<ms>-<phase>.{jobs,results}` (%d partitions), `.dlq` (1) and a fresh consumer group; "
             "the ledger topic `…ledger` is created by the workers" % (a.brokers, a.partitions),
             "- fakeprov: one instance for both phases, KIE + Replicate on one port, generation **%d ms fixed** "
             "(`--gen-ms %d --gen-dist fixed`); creates counted from its `/_stats` (`creates` per provider: every "
             "create request that reached it, delta over the phase)" % (a.gen_ms, a.gen_ms),
             "- workers: %d separate `switchyard -c FILE` processes in one group (cooperative-sticky), "
             "`kafka.properties` `session.timeout.ms = %d`, `heartbeat.interval.ms = %d` (so a killed worker's "
             "partitions move after ~%d s instead of 10), `max_in_flight = 1000`, rate limits opened wide, polling "
             "fixed (first poll %d ms after the create, then every 500 ms)" % (
                 a.workers, a.session_ms, max(500, a.session_ms // 6), a.session_ms // 1000,
                 max(500, a.gen_ms - 1000)),
             "- load: %d jobs per phase, alternately KIE-only and Replicate-only, fed at %.0f jobs/s through "
             "`switchyard-enqueue -c FILE --wait` (so ~%.0f jobs in generation at once) after the workers owned all "
             "partitions; enqueue's stdin stays open until the end, so it prints every result message of these ids, "
             "duplicates included" % (a.jobs, a.rate, a.rate * a.gen_ms / 1000.0),
             "- kills: from %.0f s after the first job, every %.0f s one worker (round robin over the %d slots) gets "
             "**SIGKILL** and is restarted at once with the same config (a new group member; the dead one's "
             "partitions move when its session times out), until the last job is fed or %d kills. The phase ends "
             "when every job has a result (at most %d s after the last job is fed); then every worker gets SIGTERM "
             "(must exit 0) and results are read for 3 s more" % (a.kill_every, a.kill_every, a.workers,
                                                                   a.max_kills, a.phase_timeout),
             "- duration: %s; the whole bench %.0f s" % (", ".join("phase %s %.0f s" % (r["name"], r["wall_s"])
                                                                  for r in phases), a.total_s),
             "- **extra creates** = provider creates − jobs (every job counts, including the killed workers' "
             "ones; a job created twice counts once extra); **extra results** = result messages − jobs with a "
             "result (duplicates by id); **lost** = jobs without any result. Per 1,000 jobs = × 1000 / jobs",
             ""]
    lines += ["| ledger | jobs | kills | provider creates (KIE + Replicate) | **extra creates / 1,000 jobs** "
              "| results | **extra results / 1,000 jobs** | jobs lost | failed results | results naming a resume "
              "| extra creates per kill | last result after first job s |",
              "|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for r in phases:
        label = {None: "off (build without the ledger)", False: "off (`ledger_topic = \"\"`)",
                 True: "on (`ledger_topic = \"<prefix>.ledger\"`)"}[r["ledger"]]
        lines.append("| %s | %d | %d | %d (%d + %d) | **%.0f** (%+d) | %d | **%.0f** (%+d) | %d | %d | %d | %s "
                     "| %.0f |" % (
                         label, r["jobs"], r["kills"], r["creates_total"], r["creates"]["kie"],
                         r["creates"]["replicate"], per_k(r["extra_creates"], r["jobs"]), r["extra_creates"],
                         r["results"], per_k(r["extra_results"], r["jobs"]), r["extra_results"], r["lost"],
                         r["failed"], r["resumed"],
                         "%.1f" % (r["extra_creates"] / r["kills"]) if r["kills"] else "–", r["all_results_s"]))
    on = [r for r in phases if r["ledger"] is True]
    lines += ["", "At the moment of a kill about rate × generation ÷ workers = %.0f jobs are in generation on the "
              "killed worker; without the ledger the next owner creates each of them again, and a result already "
              "published whose input offset was not yet committed (commits every second) is published again. "
              "\"results naming a resume\": results whose `attempts` mention a resumed task. fakeprov saw no "
              "create errors here (no faults injected), so every extra create is a re-creation after a kill or "
              "a rebalance." % (a.rate * a.gen_ms / 1000.0 / a.workers), ""]
    if on:
        r = on[0]
        tk = [t["ms"] for t in r["takeovers"] if t["after_kill"]]
        allt = [t["ms"] for t in r["takeovers"]]
        if tk:
            lines.append("Takeover with the ledger on, from the workers' `takeover: partition P running after "
                         "T ms` lines (a partition assigned to the worker → its ledger partition read to the end → "
                         "its jobs running; one line per partition per assignment), %d takeovers logged after the "
                         "first kill: **p50 %.0f ms, p99 %.0f ms**, max %.0f ms (nearest rank: with fewer than 100 "
                         "samples p99 is the largest or next to it); all %d including the initial joins on fresh "
                         "topics: p50 %.0f, p99 %.0f ms. Not included: the time before the assignment, i.e. the group "
                         "noticing the dead member (up to `session.timeout.ms` = %d ms after the kill) and the "
                         "rebalance itself; during it the dead worker's partitions wait." % (
                             len(tk), pct(tk, 50), pct(tk, 99), max(tk), len(allt), pct(allt, 50), pct(allt, 99),
                             a.session_ms))
            lines.append("Ledger reads that gave up at `ledger_read_timeout_ms`: %d." % sum(
                1 for t in r["takeovers"] if t["timed_out"]))
        else:
            lines.append("Takeover with the ledger on: no `takeover: partition P running after T ms` lines after "
                         "the first kill (%d in all)." % len(allt))
    elif not ledger_known:
        lines.append("**Ledger on: not measured** — this build has no `kafka.ledger_topic` "
                     "(`switchyard --check-config` refuses it); only the baseline ran.")
    warned = [r for r in phases if r["warns"]]
    if warned:
        lines += ["", "Warn/error lines in the workers' logs (expected some under kill -9: rebalances, the "
                  "killed member's session): %s. First: `%s`" % (
                      ", ".join("%s %d" % (r["name"], len(r["warns"])) for r in warned),
                      warned[0]["warns"][0].replace("`", "'"))]
    return "\n".join(lines) + "\n"


def main():
    ap = argparse.ArgumentParser()
    for k in ("build", "work", "bench-md", "command", "brokers"):
        ap.add_argument("--" + k, required=True)
    for k in ("fp-port", "fp-pid"):
        ap.add_argument("--" + k, type=int, required=True)
    ap.add_argument("--jobs", type=int, default=1000)
    ap.add_argument("--workers", type=int, default=3)
    ap.add_argument("--partitions", type=int, default=12)
    ap.add_argument("--gen-ms", type=int, default=6000)
    ap.add_argument("--rate", type=float, default=15.0)
    ap.add_argument("--kill-every", type=float, default=8.0)
    ap.add_argument("--max-kills", type=int, default=10)
    ap.add_argument("--session-ms", type=int, default=6000)
    ap.add_argument("--phase-timeout", type=int, default=240)
    ap.add_argument("--phases", default="off,on")
    a = ap.parse_args()
    signal.signal(signal.SIGTERM, on_signal)
    os.environ.update(KEYS)

    t_start = time.monotonic()
    known = knows_ledger(a)
    say("this build %s kafka.ledger_topic" % ("knows" if known else "does not know"))
    phases = []
    for name in a.phases.split(","):
        if name == "on" and not known:
            say("on: skipped (no kafka.ledger_topic in this build)")
            continue
        ledger = (True if name == "on" else False) if known else None
        phases.append(run_phase(a, name, ledger))
    a.total_s = time.monotonic() - t_start
    section = render(a, phases, known)
    write_bench_md(a.bench_md, section)
    with open(os.path.join(a.work, "summary.json"), "w") as f:
        json.dump(phases, f, default=str, indent=1)
    print()
    print(section)
    return 0 if all(r["lost"] == 0 for r in phases) else 1


if __name__ == "__main__":
    try:
        sys.exit(main())
    except BenchFailed as e:
        print("bench crash: FAILED: %s" % e, file=sys.stderr)
        sys.exit(1)
    finally:
        CHILDREN.stop_all()
