"""Client and AsyncClient: jobs to switchyard's input topic, results back from
its output topic, matched by job id.

How it works (one client = one producer + one consumer + two threads):

- The producer writes each job as JSON, keyed by its id (the worker refuses a
  message whose key is not the job's id). acks=all, idempotent.
- The consumer reads the output topic without a consumer group: at start it
  asks each partition's end offset and assigns every partition at exactly
  that offset, before the constructor returns. So a result for a job
  submitted through this client is never missed, and results already on the
  topic are never seen.
- Results are dispatched by job id (the message key) to a table of slots.
  A slot exists for every job submitted here and for every id someone waits
  on with result(). Results for any other id (other clients' jobs on the
  same topic) are skipped without parsing. The first result for an id wins;
  a duplicate (the pool is at-least-once) is ignored.
- A result that arrives before anyone calls result() is kept, so
  submit() ... result() never races. A slot nobody waits on is dropped
  `keep_s` seconds (default 600) after its last activity (submit, result
  arrival, end of a wait). result() hands the result over and drops the slot:
  call it once per job (concurrent waiters on one id all get it).
- A background thread polls the consumer, another serves the producer's
  delivery reports. Client is thread-safe; AsyncClient awaits asyncio futures
  completed from those threads, so it never blocks the event loop (except its
  constructor, which reads the topic's metadata: build it at start-up).
"""
import asyncio
import json
import logging
import threading
import time
import uuid

from confluent_kafka import Consumer, KafkaException, Producer, TopicPartition

log = logging.getLogger("switchyard_client")

_ID_MAX_BYTES = 256  # README "Messages": job id, 1-256 chars, no control characters


def _check_id(job_id):
    if not isinstance(job_id, str):
        raise TypeError("job id must be a str, not %s" % type(job_id).__name__)
    n = len(job_id.encode("utf-8"))
    if n < 1 or n > _ID_MAX_BYTES:
        raise ValueError("job id must be 1-%d bytes, got %d" % (_ID_MAX_BYTES, n))
    if any(ord(ch) < 0x20 or ord(ch) == 0x7F for ch in job_id):
        raise ValueError("job id must not contain control characters")


def _set_future(fut, value, exc=None):
    if fut.done():
        return
    if exc is not None:
        fut.set_exception(exc)
    else:
        fut.set_result(value)


class _Slot:
    __slots__ = ("event", "result", "futures", "waiters", "touched")

    def __init__(self, now):
        self.event = threading.Event()
        self.result = None
        self.futures = []  # (loop, future) of asyncio waiters
        self.waiters = 0  # threads inside Client.result()
        self.touched = now


class _Core:
    """The shared machinery: producer, consumer, slots, threads."""

    def __init__(self, brokers, input_topic, output_topic, keep_s=600.0, start_timeout=30.0, **settings):
        self.input_topic = input_topic
        self.output_topic = output_topic
        self.keep_s = float(keep_s)
        self._lock = threading.Lock()
        self._slots = {}
        self._closed = False
        self._stop = threading.Event()

        def on_error(err):
            log.warning("kafka: %s", err)

        common = {"bootstrap.servers": brokers, "error_cb": on_error}
        pconf = dict(common)
        # linger.ms 0: an interactive client submits one job at a time, and a
        # linger is all added latency (bulk submits still batch while a
        # request is in flight); settings may set it again.
        pconf.update({"enable.idempotence": True, "acks": "all", "linger.ms": 0, "message.timeout.ms": 30000})
        pconf.update(settings)
        cconf = dict(common)
        cconf.update({
            # assign() needs a group id; this one never joins (no subscribe) and never commits.
            "group.id": "switchyard-client-" + uuid.uuid4().hex,
            "enable.auto.commit": False,
            "enable.auto.offset.store": False,
            "enable.partition.eof": False,
            "auto.offset.reset": "latest",
            "fetch.wait.max.ms": 100,
        })
        cconf.update(settings)
        self._delivery_timeout = int(pconf.get("message.timeout.ms", 30000)) / 1000.0 + 5.0
        self._producer = Producer(pconf)
        self._consumer = Consumer(cconf)
        try:
            self._consumer.assign(self._end_offsets(start_timeout))
        except BaseException:
            self._consumer.close()
            self._producer.flush(1)
            raise
        self._threads = [
            threading.Thread(target=self._consume_loop, name="switchyard-client-consumer", daemon=True),
            threading.Thread(target=self._produce_loop, name="switchyard-client-producer", daemon=True),
        ]
        for t in self._threads:
            t.start()

    def _end_offsets(self, timeout):
        """Every partition of the output topic at its current end offset."""
        deadline = time.monotonic() + timeout
        why = "no metadata"
        while True:
            try:
                md = self._consumer.list_topics(self.output_topic, timeout=5)
                t = md.topics.get(self.output_topic)
                if t is not None and t.error is None and t.partitions:
                    parts = []
                    for p in sorted(t.partitions):
                        _, hi = self._consumer.get_watermark_offsets(
                            TopicPartition(self.output_topic, p), timeout=10, cached=False)
                        parts.append(TopicPartition(self.output_topic, p, hi))
                    return parts
                why = str(t.error) if t is not None and t.error is not None else "no partitions"
            except KafkaException as e:
                why = str(e)
            if time.monotonic() >= deadline:
                raise RuntimeError("output topic %s not usable within %.0f s: %s" % (self.output_topic, timeout, why))
            time.sleep(0.2)

    # ---- background threads ----

    def _consume_loop(self):
        next_gc = time.monotonic() + 1.0
        while not self._stop.is_set():
            try:
                msgs = self._consumer.consume(num_messages=500, timeout=0.1)
            except KafkaException as e:
                log.warning("consume: %s", e)
                time.sleep(0.1)
                continue
            for m in msgs:
                if m.error():
                    log.warning("consume: %s", m.error())
                    continue
                self._on_result(m.key(), m.value())
            now = time.monotonic()
            if now >= next_gc:
                self._gc(now)
                next_gc = now + 1.0

    def _produce_loop(self):
        while not self._stop.is_set():
            self._producer.poll(0.1)

    def _on_result(self, key, value):
        key_id = key.decode("utf-8", "replace") if key else None
        if key_id is not None:
            with self._lock:
                slot = self._slots.get(key_id)
                if slot is None or slot.event.is_set():
                    return  # not ours, or a duplicate
        try:
            res = json.loads(value) if value else None
        except ValueError:
            res = None
        if not isinstance(res, dict) or not isinstance(res.get("id"), str):
            log.warning("skipping an output message that is not a result object (key %r)", key_id)
            return
        if key_id is not None and res["id"] != key_id:
            return  # a message never speaks for an id it does not own
        self._fulfil(res["id"], res)

    def _fulfil(self, job_id, res):
        with self._lock:
            slot = self._slots.get(job_id)
            if slot is None or slot.event.is_set():
                return
            slot.result = res
            slot.touched = time.monotonic()
            slot.event.set()
            futures, slot.futures = slot.futures, []
        for loop, fut in futures:
            try:
                loop.call_soon_threadsafe(_set_future, fut, res)
            except RuntimeError:
                pass  # that event loop is closed

    def _gc(self, now):
        with self._lock:
            stale = [k for k, s in self._slots.items()
                     if s.waiters == 0 and not s.futures and now - s.touched > self.keep_s]
            for k in stale:
                del self._slots[k]

    # ---- slots ----

    def _slot(self, job_id):
        """The slot of job_id, created when missing (lock held by the caller)."""
        if self._closed:
            raise RuntimeError("switchyard client is closed")
        slot = self._slots.get(job_id)
        if slot is None:
            slot = self._slots[job_id] = _Slot(time.monotonic())
        return slot

    def _claim(self, job_id, slot):
        with self._lock:
            if self._slots.get(job_id) is slot:
                del self._slots[job_id]

    def prepare(self, job):
        """(id, message value) for job, its slot registered before it is sent."""
        if not isinstance(job, dict):
            raise TypeError("a job is a dict, not %s" % type(job).__name__)
        job = dict(job)
        if job.get("id") is None:
            job["id"] = uuid.uuid4().hex
        _check_id(job["id"])
        # allow_nan=False: NaN and Infinity are not JSON (ValueError here, not a dead letter there).
        value = json.dumps(job, ensure_ascii=False, allow_nan=False, separators=(",", ":")).encode("utf-8")
        with self._lock:
            self._slot(job["id"]).touched = time.monotonic()
        return job["id"], value

    def produce(self, job_id, value, on_delivery):
        """Queue one message; False when librdkafka's queue is full (try again)."""
        try:
            self._producer.produce(self.input_topic, value=value, key=job_id.encode("utf-8"),
                                   on_delivery=on_delivery)
            return True
        except BufferError:
            return False

    def forget(self, job_id):
        """Drop job_id's slot after a failed submit (unless someone waits on it)."""
        with self._lock:
            s = self._slots.get(job_id)
            if s is not None and s.waiters == 0 and not s.futures and not s.event.is_set():
                del self._slots[job_id]

    # ---- synchronous API ----

    def submit(self, job):
        job_id, value = self.prepare(job)
        done = threading.Event()
        box = []

        def on_delivery(err, msg):
            box.append(err)
            done.set()

        deadline = time.monotonic() + self._delivery_timeout
        while not self.produce(job_id, value, on_delivery):
            if time.monotonic() >= deadline:
                self.forget(job_id)
                raise KafkaException("producer queue full for %.0f s" % self._delivery_timeout)
            time.sleep(0.05)
        if not done.wait(max(0.0, deadline - time.monotonic())) or box[0] is not None:
            self.forget(job_id)
            raise KafkaException(box[0] if box else "no delivery report for job %s" % job_id)
        return job_id

    def result(self, job_id, timeout=None):
        _check_id(job_id)
        with self._lock:
            slot = self._slot(job_id)
            slot.waiters += 1
        try:
            slot.event.wait(timeout)
        finally:
            with self._lock:
                slot.waiters -= 1
                slot.touched = time.monotonic()
        if slot.result is None:
            if self._closed:
                raise RuntimeError("switchyard client closed while waiting for job %s" % job_id)
            raise TimeoutError("no result for job %s within %s s" % (job_id, timeout))
        self._claim(job_id, slot)
        return slot.result

    def close(self, timeout=10.0):
        with self._lock:
            if self._closed:
                return
            self._closed = True
        self._stop.set()
        for t in self._threads:
            t.join()
        self._producer.flush(timeout)
        self._consumer.close()
        err = RuntimeError("switchyard client closed")
        with self._lock:
            futures = []
            for s in self._slots.values():
                s.event.set()  # wakes result(): no result and closed -> RuntimeError
                futures += s.futures
                s.futures = []
        for loop, fut in futures:
            try:
                loop.call_soon_threadsafe(_set_future, fut, None, err)
            except RuntimeError:
                pass  # that event loop is closed


class Client:
    """A thread-safe switchyard client.

    Client(brokers, input_topic=..., output_topic=..., **librdkafka_settings)
    librdkafka settings (dotted names, e.g. **{"security.protocol": "SSL"})
    go to both the producer and the consumer. keep_s: how long a result nobody
    has asked for yet is kept (default 600 s). start_timeout: how long to wait
    for the output topic's metadata (default 30 s).
    """

    def __init__(self, brokers, input_topic="switchyard.jobs", output_topic="switchyard.results", **settings):
        self._core = _Core(brokers, input_topic, output_topic, **settings)

    def submit(self, job):
        """Send job (a dict, the README's job object); returns its id. An id
        is generated (uuid4 hex) when the job has none; the caller's dict is
        not modified. Returns once the broker has acknowledged the message;
        raises KafkaException when it cannot be delivered."""
        return self._core.submit(job)

    def result(self, job_id, timeout=None):
        """The result dict of job_id, failed jobs included (check
        result["status"]). Raises TimeoutError when none arrives within timeout
        seconds (None: wait as long as it takes)."""
        return self._core.result(job_id, timeout)

    def run(self, job, timeout=None):
        """submit(job), then result(its id, timeout)."""
        return self._core.result(self._core.submit(job), timeout)

    def close(self):
        """Flush, stop the threads, close the consumer. Waiters get RuntimeError."""
        self._core.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


class AsyncClient:
    """Client's methods as coroutines, for asyncio bots. The constructor blocks
    briefly (the output topic's metadata and end offsets): build it at
    start-up. Nothing else blocks the event loop."""

    def __init__(self, brokers, input_topic="switchyard.jobs", output_topic="switchyard.results", **settings):
        self._core = _Core(brokers, input_topic, output_topic, **settings)

    async def submit(self, job):
        core = self._core
        loop = asyncio.get_running_loop()
        job_id, value = core.prepare(job)
        fut = loop.create_future()

        def on_delivery(err, msg):
            try:
                loop.call_soon_threadsafe(_set_future, fut, err)
            except RuntimeError:
                pass

        deadline = time.monotonic() + core._delivery_timeout
        while not core.produce(job_id, value, on_delivery):
            if time.monotonic() >= deadline:
                core.forget(job_id)
                raise KafkaException("producer queue full for %.0f s" % core._delivery_timeout)
            await asyncio.sleep(0.05)
        try:
            err = await asyncio.wait_for(fut, max(0.0, deadline - time.monotonic()))
        except asyncio.TimeoutError:
            err = "no delivery report for job %s" % job_id
        if err is not None:
            core.forget(job_id)
            raise KafkaException(err)
        return job_id

    async def result(self, job_id, timeout=None):
        core = self._core
        _check_id(job_id)
        loop = asyncio.get_running_loop()
        fut = loop.create_future()
        with core._lock:
            slot = core._slot(job_id)
            if slot.event.is_set():
                fut.set_result(slot.result)
            else:
                slot.futures.append((loop, fut))
        try:
            res = await asyncio.wait_for(fut, timeout)
        except asyncio.TimeoutError:
            raise TimeoutError("no result for job %s within %s s" % (job_id, timeout)) from None
        finally:
            with core._lock:
                if (loop, fut) in slot.futures:
                    slot.futures.remove((loop, fut))
                slot.touched = time.monotonic()
        core._claim(job_id, slot)
        return res

    async def run(self, job, timeout=None):
        return await self.result(await self.submit(job), timeout)

    async def close(self):
        await asyncio.get_running_loop().run_in_executor(None, self._core.close)

    async def __aenter__(self):
        return self

    async def __aexit__(self, *exc):
        await self.close()
