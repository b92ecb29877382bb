"""Every switchyard_* metric name a dashboard or rule file uses must be on a
/metrics page: `check_metric_names.py PAGE FILE...` prints the missing ones
(with the file) and exits 1, else prints how many names it checked.

On the page, a name counts when a sample carries it or a family declares it
(`# TYPE`): a histogram declares name_bucket, name_sum and name_count, so a
labelled family with no sample yet (no abandoned publish, callbacks off)
still counts as exported. Called by test_metrics (a live Kafka-mode worker)."""
import re
import sys

NAME = re.compile(r"\bswitchyard_[a-zA-Z0-9_:]*[a-zA-Z0-9_]")


def page_names(text):
    names = set()
    for ln in text.splitlines():
        if ln.startswith("# TYPE "):
            parts = ln.split()
            if len(parts) >= 4:
                name, kind = parts[2], parts[3]
                names.add(name)
                if kind == "histogram":
                    names.update(name + s for s in ("_bucket", "_sum", "_count"))
        elif ln and not ln.startswith("#"):
            names.add(re.split(r"[{\s]", ln, 1)[0])
    return names


def main():
    if len(sys.argv) < 3:
        print(__doc__.split("\n\n")[0], file=sys.stderr)
        return 2
    with open(sys.argv[1]) as f:
        have = page_names(f.read())
    missing, used = [], set()
    for path in sys.argv[2:]:
        with open(path) as f:
            text = f.read()
        names = set(NAME.findall(text))
        if not names:
            missing.append("%s: no switchyard_* name at all" % path)
        used |= names
        missing += ["%s: %s" % (path, n) for n in sorted(names - have)]
    for m in missing:
        print("not on the /metrics page: " + m)
    if not missing:
        print("%d metric names, all on the page" % len(used))
    return 1 if missing else 0


if __name__ == "__main__":
    sys.exit(main())
