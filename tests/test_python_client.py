#!/usr/bin/env python3
"""test_python_client.py — contrib/python/switchyard_client against the real
broker ($SY_KAFKA_BROKERS), a switchyard worker and fakeprov, with the
templates shipped in conf/switchyard.conf.

usage: test_python_client.py SWITCHYARD_BIN FAKEPROV_BIN

Like tests/kafkatest.c: fakeprov on a free port (--port-file), unique topics
made with the admin API, a worker config pointing both providers at fakeprov,
every child killed when this process dies (PR_SET_PDEATHSIG). Prints
"N passed, N failed"; exits 1 when any check failed.
"""
import asyncio
import ctypes
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import traceback

HERE = os.path.dirname(os.path.abspath(__file__))
SOURCE = os.path.dirname(HERE)
sys.path.insert(0, os.path.join(SOURCE, "contrib", "python"))

from confluent_kafka import Producer  # noqa: E402
from confluent_kafka.admin import AdminClient, NewTopic  # noqa: E402

from switchyard_client import AsyncClient, Client  # noqa: E402

PHOTO = "https://example.com/photos/room.jpg"
N_CONCURRENT = 50


def die_with_parent():
    libc = ctypes.CDLL("libc.so.6", use_errno=True)
    libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG


def spawn(argv, stderr_path, env=None):
    err = open(stderr_path, "ab")
    return subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=err, env=env, preexec_fn=die_with_parent)


def stop(proc, timeout):
    """SIGTERM, wait up to timeout s (then SIGKILL): the exit status, None after SIGKILL."""
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
    try:
        return proc.wait(timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()
        return None


def shipped_templates():
    with open(os.path.join(SOURCE, "conf", "switchyard.conf")) as f:
        text = f.read()
    m = re.search(r"\ntemplates = \{\n.*?\n\};\n", text, re.S)
    assert m, "no templates group in conf/switchyard.conf"
    return m.group(0)


class World:
    """fakeprov, topics and one worker."""

    def __init__(self, switchyard, fakeprov):
        self.brokers = os.environ.get("SY_KAFKA_BROKERS", "")
        if not self.brokers:
            raise SystemExit("SY_KAFKA_BROKERS is not set: start a broker (scripts/kafka.sh start) and export "
                             "SY_KAFKA_BROKERS=127.0.0.1:PORT, or run scripts/test.sh")
        self.dir = tempfile.mkdtemp(prefix="sy-pyclient-")
        base = "e2e-py-%d-%d" % (os.getpid(), int(time.time()))
        self.input, self.output, self.dlq, self.group = (base + s for s in ("-in", "-out", "-dlq", "-group"))
        print("topics %s-*, logs in %s" % (base, self.dir), flush=True)

        port_file = os.path.join(self.dir, "port")
        self.fp = spawn([fakeprov, "--listen", "127.0.0.1:0", "--port-file", port_file, "--gen-ms", "200",
                         "--threads", "2"], os.path.join(self.dir, "fakeprov.log"))
        self.port = 0
        for _ in range(200):
            try:
                with open(port_file) as f:
                    self.port = int(f.read().strip() or 0)
            except (OSError, ValueError):
                pass
            if self.port:
                break
            time.sleep(0.05)
        assert self.port, "fakeprov did not start"

        admin = AdminClient({"bootstrap.servers": self.brokers})
        futs = admin.create_topics([NewTopic(self.input, 4, 1), NewTopic(self.output, 4, 1),
                                    NewTopic(self.dlq, 1, 1)], operation_timeout=20)
        for f in futs.values():
            f.result(30)

        conf = os.path.join(self.dir, "worker.conf")
        poll = 'poll = { mode = "fixed"; first_ms = 50; interval_ms = 50; max_s = 120; };'
        limits = ("rate_limit = { create_per_s = 100000.0; create_burst = 100000; create_window_max = 0;"
                  " poll_per_s = 100000.0; poll_burst = 100000; max_in_flight = 100000; };")
        with open(conf, "w") as f:
            f.write("providers = (\n"
                    '  { name = "kie"; type = "kie"; priority = 1;\n'
                    '    base_url = "http://127.0.0.1:%d"; api_key_env = "SYTEST_KIE_KEY"; %s %s },\n'
                    '  { name = "replicate"; type = "replicate"; priority = 2;\n'
                    '    base_url = "http://127.0.0.1:%d"; api_key_env = "SYTEST_REPLICATE_KEY"; %s %s }\n'
                    ");\n"
                    'worker = { metrics_listen = ""; log_level = "info"; max_in_flight = 1000;'
                    " request_timeout_ms = 5000; connect_timeout_ms = 2000; shutdown_grace_s = 10; };\n"
                    'kafka = { brokers = "%s"; group = "%s"; input_topic = "%s"; output_topic = "%s";\n'
                    '  dlq_topic = "%s"; properties = { client_id = "pyclient-worker"; }; };\n'
                    % (self.port, poll, limits, self.port, poll, limits, self.brokers, self.group,
                       self.input, self.output, self.dlq))
            f.write(shipped_templates())
        env = dict(os.environ, SYTEST_KIE_KEY="test-kie-key", SYTEST_REPLICATE_KEY="test-replicate-key")
        self.worker = spawn([switchyard, "-c", conf], os.path.join(self.dir, "worker.log"), env)

    def client(self, **kw):
        return Client(self.brokers, input_topic=self.input, output_topic=self.output, **kw)

    def async_client(self, **kw):
        return AsyncClient(self.brokers, input_topic=self.input, output_topic=self.output, **kw)

    def close(self):
        """Stop the worker (must exit 0: a sanitizer report fails it) and fakeprov."""
        rc = stop(self.worker, 30)
        stop(self.fp, 10)
        return rc


# ---- checks ----

class Failed(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise Failed(msg)


def seed_job(i):
    """The seed's three flows in turn, with vars from each template's choices."""
    rooms = ["living room", "bedroom", "kitchen", "bathroom", "home office"]
    styles = ["scandinavian", "japandi", "industrial", "bohemian", "art deco"]
    k = i % 3
    if k == 0:
        return {"template": "restyle", "image_urls": [PHOTO],
                "vars": {"room": rooms[i % 5], "style": styles[i // 3 % 5]}, "metadata": {"n": i}}
    if k == 1:
        return {"template": "clear_room", "image_urls": [PHOTO], "metadata": {"n": i}}
    return {"template": "generate_room", "vars": {"room": rooms[i % 5]}, "metadata": {"n": i}}


def check_succeeded(res, job_id, i):
    check(isinstance(res, dict), "job %s: result %r is not a dict" % (job_id, res))
    check(res.get("id") == job_id, "job %s: result for %r" % (job_id, res.get("id")))
    check(res.get("status") == "succeeded", "job %s: status %r, error %r" % (job_id, res.get("status"),
                                                                          res.get("error")))
    check(res.get("result_urls"), "job %s: no result_urls" % job_id)
    check(res.get("metadata") == {"n": i}, "job %s: metadata %r" % (job_id, res.get("metadata")))


def test_timeout(w, c, ac):
    """No result within the timeout: TimeoutError, after about the timeout."""
    job_id = c.submit({"prompt": "a slow room [gen:4000]"})
    t0 = time.monotonic()
    try:
        c.result(job_id, timeout=1)
        raise Failed("result() returned before the job could finish")
    except TimeoutError:
        pass
    took = time.monotonic() - t0
    check(0.9 <= took < 5, "TimeoutError after %.2f s for timeout=1" % took)

    async def run():
        jid = await ac.submit({"prompt": "another slow room [gen:4000]"})
        try:
            await ac.result(jid, timeout=0.5)
            raise Failed("AsyncClient.result() returned before the job could finish")
        except TimeoutError:
            pass
        return jid
    asyncio.run(run())
    # Both jobs finish later: a result() after the timeout still gets it (the slot was kept).
    res = c.result(job_id, timeout=30)
    check(res.get("status") == "succeeded", "slow job: %r" % res)


def test_ids(w, c, ac):
    """An id is generated when the job has none; the caller's dict is untouched."""
    job = {"template": "generate_room", "vars": {"room": "kitchen"}}
    a, b = c.submit(job), c.submit(job)
    check("id" not in job, "submit modified the caller's job: %r" % job)
    check(re.fullmatch(r"[0-9a-f]{32}", a) and re.fullmatch(r"[0-9a-f]{32}", b) and a != b,
          "generated ids %r %r" % (a, b))
    check(c.result(a, timeout=30)["id"] == a, "result of a generated id")
    check(c.result(b, timeout=30)["id"] == b, "result of a generated id")
    own = "bot-chat-42-msg-7-%d" % os.getpid()
    check(c.submit(dict(job, id=own)) == own, "an id given by the job is kept")
    check(c.result(own, timeout=30)["id"] == own, "result of a given id")
    try:
        c.submit({"prompt": "x", "metadata": {"ratio": float("nan")}})
        raise Failed("a job with NaN (not JSON) accepted")
    except ValueError:
        pass
    for bad, exc in ((42, TypeError), ("", ValueError), ("x" * 257, ValueError), ("a\nb", ValueError)):
        try:
            c.submit(dict(job, id=bad))
            raise Failed("id %r accepted" % (bad,))
        except exc:
            pass


def test_threads(w, c, ac):
    """N concurrent Client.run() from threads, the seed's three flows."""
    results, errors = {}, []

    def one(i):
        try:
            job = dict(seed_job(i), id="thr-%d-%d" % (os.getpid(), i))
            results[i] = (job["id"], c.run(job, timeout=60))
        except Exception as e:  # noqa: BLE001 (reported below)
            errors.append("%d: %r" % (i, e))
    threads = [threading.Thread(target=one, args=(i,)) for i in range(N_CONCURRENT)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(90)
    check(not errors, "run() raised: %s" % errors[:3])
    check(len(results) == N_CONCURRENT, "%d of %d results" % (len(results), N_CONCURRENT))
    for i, (job_id, res) in results.items():
        check_succeeded(res, job_id, i)


def test_asyncio(w, c, ac):
    """N concurrent AsyncClient.run() through asyncio.gather, generated ids."""
    async def main():
        ticks = 0
        stop = asyncio.Event()

        async def ticker():  # the loop keeps running while the jobs are out
            nonlocal ticks
            while not stop.is_set():
                ticks += 1
                await asyncio.sleep(0.01)
        tk = asyncio.create_task(ticker())
        jobs = [seed_job(i) for i in range(N_CONCURRENT)]
        res = await asyncio.wait_for(asyncio.gather(*(ac.run(j, timeout=60) for j in jobs)), 90)
        stop.set()
        await tk
        return res, ticks
    results, ticks = asyncio.run(main())
    check(len({r["id"] for r in results}) == N_CONCURRENT, "ids not distinct")
    for i, res in enumerate(results):
        check_succeeded(res, res["id"], i)
    check(ticks > 10, "event loop blocked: %d ticks" % ticks)


def test_failed_jobs(w, c, ac):
    """Failed jobs come back as results, not exceptions."""
    res = c.run({"template": "generate_room", "vars": {"room": "dungeon"}}, timeout=30)
    check(res.get("status") == "failed", "invalid var: %r" % res)
    err = res.get("error") or {}
    check(err.get("class") == "invalid_input" and "vars.room" in (err.get("message") or ""),
          "invalid var: error %r" % err)
    res = asyncio.run(ac.run({"prompt": "a doomed room [fault:fail]", "providers": ["kie"]}, timeout=30))
    check(res.get("status") == "failed", "provider failure: %r" % res)
    check((res.get("error") or {}).get("class") in ("task_failed", "exhausted"), "provider failure: %r" % res)


def test_old_results_ignored(w, c, ac):
    """A client reads the output topic from its end: an older result is never seen."""
    stale = "stale-%d" % os.getpid()
    p = Producer({"bootstrap.servers": w.brokers})
    p.produce(w.output, key=stale, value='{"id":"%s","status":"succeeded"}' % stale)
    check(p.flush(10) == 0, "stale result not delivered")
    fresh = w.client()
    try:
        fresh.result(stale, timeout=1.5)
        raise Failed("a result produced before the client started was delivered")
    except TimeoutError:
        pass
    finally:
        fresh.close()


def test_dispatch_between_clients(w, c, ac):
    """Two clients on one output topic: each keeps only its own ids; a result
    that arrives before result() is called is kept until then."""
    other = w.client()
    try:
        mine = other.submit({"template": "generate_room", "vars": {"room": "attic"}})
        theirs = c.submit({"template": "generate_room", "vars": {"room": "nowhere"}})  # fails fast
        check(other.result(mine, timeout=30)["status"] == "succeeded", "other client's job")
        # c sees theirs arrive with nobody waiting: it is kept.
        slot = c._core._slots.get(theirs)
        deadline = time.monotonic() + 20
        while slot is not None and not slot.event.is_set() and time.monotonic() < deadline:
            time.sleep(0.05)
        check(slot is not None and slot.event.is_set(), "result not kept while nobody waited")
        check(mine not in c._core._slots, "a client kept another client's result")
        check(theirs not in other._core._slots, "a client kept another client's result")
        check(c.result(theirs, timeout=0)["status"] == "failed", "kept result")
        try:
            c.result(theirs, timeout=0.2)
            raise Failed("a claimed result was handed out twice")
        except TimeoutError:
            pass
    finally:
        other.close()


def test_close(w, c, ac):
    """close() wakes a waiter (RuntimeError) and refuses later calls."""
    x = w.client()
    job_id = x.submit({"prompt": "never waited for [gen:3000]"})
    box = []

    def wait():
        try:
            x.result(job_id, timeout=30)
            box.append("returned")
        except RuntimeError:
            box.append("closed")
        except Exception as e:  # noqa: BLE001
            box.append(repr(e))
    t = threading.Thread(target=wait)
    t.start()
    time.sleep(0.2)
    x.close()
    t.join(10)
    check(box == ["closed"], "waiter after close: %r" % box)
    try:
        x.submit({"prompt": "late"})
        raise Failed("submit after close accepted")
    except RuntimeError:
        pass

    async def async_close():
        y = w.async_client()
        jid = await y.submit({"prompt": "never awaited either [gen:3000]"})
        waiter = asyncio.ensure_future(y.result(jid, timeout=30))
        await asyncio.sleep(0.2)
        await y.close()
        try:
            await asyncio.wait_for(waiter, 10)
            return "returned"
        except RuntimeError:
            return "closed"
    got = asyncio.run(async_close())
    check(got == "closed", "async waiter after close: %r" % got)


def test_readme_examples(w, c, ac):
    """README's "Python client for bot developers" examples run as written
    (only the broker address and topic names swapped for this run's)."""
    import contextlib
    import io
    with open(os.path.join(SOURCE, "README.md")) as f:
        text = f.read()
    m = re.search(r"\n## Python client for bot developers\n(.*?)\n## ", text, re.S)
    check(m, "README has no Python client section")
    blocks = re.findall(r"```python\n(.*?)```", m.group(1), re.S)
    check(len(blocks) == 2, "README Python client section: %d python blocks, want 2" % len(blocks))
    for i, code in enumerate(blocks):
        code = (code.replace('"127.0.0.1:9092"', repr(w.brokers)).replace('"switchyard.jobs"', repr(w.input))
                .replace('"switchyard.results"', repr(w.output)))
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            exec(compile(code, "README.md python block %d" % (i + 1), "exec"), {"__name__": "readme"})
        urls = re.findall(r"http://127\.0\.0\.1:%d/files/" % w.port, out.getvalue())
        check(len(urls) == (1 if i == 0 else 3), "README block %d printed %r" % (i + 1, out.getvalue()))


TESTS = [test_timeout, test_ids, test_threads, test_asyncio, test_failed_jobs, test_old_results_ignored,
         test_dispatch_between_clients, test_close, test_readme_examples]


def main():
    if len(sys.argv) != 3:
        raise SystemExit(__doc__)
    t_start = time.monotonic()
    w = World(sys.argv[1], sys.argv[2])
    passed = failed = 0
    c = ac = None
    try:
        c = w.client()
        ac = w.async_client()
        for t in TESTS:
            t0 = time.monotonic()
            try:
                t(w, c, ac)
                passed += 1
                print("PASS %s (%.1f s)" % (t.__name__, time.monotonic() - t0), flush=True)
            except Exception:  # noqa: BLE001
                failed += 1
                print("FAIL %s (%.1f s)\n%s" % (t.__name__, time.monotonic() - t0, traceback.format_exc()),
                      flush=True)
    finally:
        if c:
            c.close()
        if ac:
            asyncio.run(ac.close())
        rc = w.close()
    if rc != 0:
        failed += 1
        print("FAIL worker exit status %r (log: %s/worker.log)" % (rc, w.dir), flush=True)
    print("%d passed, %d failed (%.1f s)" % (passed, failed, time.monotonic() - t_start), flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
