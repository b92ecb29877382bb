#!/usr/bin/env python3
"""make_seeds.py — (re)writes the seed files tests/fuzz/corpus/<target>/seed-*
from tests/fixtures and a few hand-written cases. Inputs found by fuzzing
(named by their SHA-1, after `-merge=1`) sit beside them and are kept.
Run from anywhere: python3 tests/fuzz/make_seeds.py"""
import glob, hashlib, json, os, re, struct

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIX = os.path.join(ROOT, "tests", "fixtures")
OUT = os.path.join(ROOT, "tests", "fuzz", "corpus")


def put(target, data, name=None):
    if isinstance(data, str):
        data = data.encode()
    d = os.path.join(OUT, target)
    os.makedirs(d, exist_ok=True)
    name = name or hashlib.sha1(data).hexdigest()[:16]
    with open(os.path.join(d, "seed-" + re.sub(r"[^A-Za-z0-9_.-]", "_", name)), "wb") as f:
        f.write(data)


def lines(path):
    with open(path, "rb") as f:
        return [l.rstrip(b"\n") for l in f if l.strip()]


def read(path):
    with open(path, "rb") as f:
        return f.read()


JOB_EXTRA = [
    '{"id":"n0","prompt":"a\\u0000b"}',
    '{"id":"s1","prompt":"\\ud800 lone"}',
    '{"id":"nan","prompt":"x","deadline_s":NaN}',
    '{"id":"big","prompt":"x","metadata":{"n":1e400}}',
    '{"id":"deep","prompt":"x","metadata":' + "[" * 40 + "]" * 40 + "}",
    '{"id":"t1","template":"restyle","vars":{"room":"bedroom","style":"japandi"},"image_urls":["https://e.com/a.jpg"]}',
    '{"id":"\\u00e9\\ud83d\\ude00","prompt":"caf\\u00e9","metadata":{"k":"\\ud83d\\ude00","a":[1,2.5,-3e2,true,null]}}',
    '{"id":"m","prompt":"x","metadata":"\xff\xfe"}',
]

# codec_job_parse: job lines.
for p in sorted(glob.glob(os.path.join(FIX, "jobs", "*.jsonl"))):
    for i, l in enumerate(lines(p)):
        put("codec_job_parse", l, "%s-%d" % (os.path.basename(p), i))
for i, j in enumerate(JOB_EXTRA):
    put("codec_job_parse", j.encode("utf-8", "surrogateescape") if "\xff" not in j else j.encode("latin-1"), "extra-%d" % i)

# kie_parse / replicate_parse: flag byte (0 create, 1 poll), 2-byte status, Retry-After line, body.
for prov in ("kie", "replicate"):
    for p in sorted(glob.glob(os.path.join(FIX, prov, "*"))):
        b = os.path.basename(p)
        m = re.search(r"\.http(\d+)\.", b)
        status = int(m.group(1)) if m else 200
        flag = 1 if b.startswith("poll") else 0
        ra = b"7\n" if status == 429 else b""
        put(prov + "_parse", bytes([flag]) + struct.pack(">H", status) + ra + read(p), b)

# webhook: type byte (0 KIE, 1 Replicate), id, ts, sig lines, body.
KIE_CB = read(os.path.join(FIX, "kie", "poll_success.http200.json"))
KIE_FAIL = read(os.path.join(FIX, "kie", "poll_fail_500.http200.json"))
REP_BODY = b'{"id":"gm3qorzdhgbfurvjtvhg6dckhu","status":"succeeded","output":"https://replicate.delivery/x.png","error":null}'
put("webhook", b"\x00\n1786428635\n/JPVPIpyi4wOiDqWeYsu3GgLJWO2YkqNCXxG1ZSgSFk=\n" + KIE_CB, "kie-success")
put("webhook", b"\x00\n1786428635\nAAAA\n" + KIE_FAIL, "kie-fail")
put("webhook", b"\x01msg_1\n1786428635\nv1,5uUPP596bi0I9VN3VvqMyXTHvHKW2nJXWOvjJ65Ji74= v2,x\n" + REP_BODY, "rep-success")
for b in ("poll_failed_e1001.http200.json", "poll_processing.http200.json", "poll_succeeded_array.http200.json"):
    put("webhook", b"\x01msg_2\n1786428000\nv1,AAAA\n" + read(os.path.join(FIX, "replicate", b)), "rep-" + b)

# envelope: the handoff record.
def envelope(prov, job, task, part, body):
    return json.dumps({"provider": prov, "job": job, "task_id": task, "partition": part,
                       "event": body.decode("utf-8")}, separators=(",", ":"), ensure_ascii=False)

put("envelope", envelope("kie", "job-1", "task_google_1765178608584", 3, KIE_CB), "kie")
put("envelope", envelope("replicate", "job/1 \u00fc", "gm3qorzdhgbfurvjtvhg6dckhu", -1, REP_BODY), "rep")
put("envelope", '{"provider":"kie","job":"j","task_id":"t","partition":0,"event":"a\\u0000b"}', "regress-l5-nul-body")  # L-5
put("envelope", '{"provider":"kie","job":"j"}', "short")

# enqueue_line: stdin lines.
for p in sorted(glob.glob(os.path.join(FIX, "jobs", "*.jsonl"))):
    for i, l in enumerate(lines(p)[:6]):
        put("enqueue_line", l, "%s-%d" % (os.path.basename(p), i))
for i, l in enumerate(['  {"prompt":"no id"}  \r\n', "{}", "   \t", "[1,2]", '{"id":""}', '{"id":7,"prompt":"x"}',
                       '{"id":"a"} trailing']):
    put("enqueue_line", l, "extra-%d" % i)
# M-5 regression: an id with \u0000 (key shorter than klen: heap over-read).
put("enqueue_line", '{"id":"\\u0000xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx"}', "regress-m5-nul-id")

# template: flag byte (1 op given, 2 edit, 4 image_urls), name line, vars JSON.
for i, (f, n, v) in enumerate([(4, "restyle", '{"room":"bedroom","style":"japandi"}'), (0, "room", '{"room":"hall"}'),
                               (0, "braces", '{"x":"{y}"}'), (1, "counts", '{"n":3,"ratio":1.5e3}'),
                               (3, "restyle", '{"room":"kitchen","style":"loft"}'), (0, "free", '{"x":" "}'),
                               (0, "many", '{"x":"' + "a" * 1200 + '"}'), (0, "fixed", "null"), (0, "nope", "{}")]):
    put("template", bytes([f]) + n.encode() + b"\n" + v.encode(), "t-%d-%s" % (i, n))

# conf_load: config files.
for p in sorted(glob.glob(os.path.join(FIX, "config", "*.conf"))) + [os.path.join(ROOT, "conf", "switchyard.conf")]:
    put("conf_load", read(p), os.path.basename(p))
