#!/usr/bin/env python3
"""Summarise switchyard results (JSON lines): counts, throughput, latency,
providers, fallbacks, failures by error.class.

    python3 scripts/summary.py results.jsonl [--wall-s SECONDS]

--wall-s is the time from the first job sent to the last result; without it
no throughput is printed. scripts/demo_view.py imports
summary_lines().
"""
import json
import sys
from collections import Counter


def pct(values, p):
    """Nearest-rank percentile (0 for an empty list)."""
    if not values:
        return 0
    values = sorted(values)
    k = max(0, min(len(values) - 1, int(-(-p * len(values) // 100)) - 1))
    return values[k]


def summary_lines(rows, wall_s=None, title="switchyard — summary"):
    # a job redone after a rebalance or crash can have two results: count the last one
    by_id = {}
    for r in rows:
        by_id[r.get("id")] = r
    dups = len(rows) - len(by_id)
    rows = list(by_id.values())
    ok = [r for r in rows if r.get("status") == "succeeded"]
    failed = [r for r in rows if r.get("status") != "succeeded"]
    providers = Counter(r.get("provider") or "?" for r in ok)
    classes = Counter((r.get("error") or {}).get("class", "?") for r in failed)
    def moved(r, how):  # succeeded after another provider failed (how="failed") or was skipped
        return any(a.get("provider") != r.get("provider") and
                   (a.get("outcome") == "skipped") == (how == "skipped") for a in r.get("attempts") or [])
    failed_over = sum(1 for r in ok if moved(r, "failed"))
    spilled = sum(1 for r in ok if moved(r, "skipped") and not moved(r, "failed"))
    skipped = Counter()
    for r in rows:
        for a in r.get("attempts") or []:
            if a.get("outcome") == "skipped":
                m = a.get("message") or ""
                why = ("breaker open" if "breaker" in m else "rate limit" if "rate limit" in m
                       else "in-flight cap" if "flight" in m else "other")
                skipped[(a.get("provider"), why)] += 1
    attempt_errors = Counter((a.get("provider"), a.get("outcome")) for r in rows for a in r.get("attempts") or []
                             if a.get("outcome") not in ("skipped", "succeeded", "resumed"))
    resumed = sum(1 for r in rows for a in r.get("attempts") or [] if a.get("outcome") == "resumed")
    lat = [r["timings"]["total_ms"] for r in ok if isinstance(r.get("timings"), dict)
           and isinstance(r["timings"].get("total_ms"), (int, float))]
    w = 44
    out = ["", "  " + title, "  " + "-" * w]
    out.append(f"  {'jobs':<22}{len(rows):>10}")
    out.append(f"  {'succeeded':<22}{len(ok):>10}")
    out.append(f"  {'failed':<22}{len(failed):>10}")
    for cls, n in sorted(classes.items()):
        out.append(f"    {'error.class ' + cls:<20}{n:>10}")
    if wall_s:
        out.append(f"  {'wall time':<22}{wall_s:>9.1f}s")
        out.append(f"  {'throughput':<22}{len(rows) / wall_s:>9.1f}  jobs/s")
    out.append(f"  {'latency p50':<22}{pct(lat, 50) / 1000:>9.2f}s")
    out.append(f"  {'latency p95':<22}{pct(lat, 95) / 1000:>9.2f}s")
    out.append(f"  {'latency max':<22}{(max(lat) if lat else 0) / 1000:>9.2f}s")
    for prov, n in sorted(providers.items()):
        share = 100.0 * n / len(ok) if ok else 0
        out.append(f"  {'via ' + prov:<22}{n:>10}  ({share:.0f}%)")
    out.append(f"  {'spilled over':<22}{spilled:>10}  (first provider skipped: its limit, cap or breaker)")
    out.append(f"  {'failed over':<22}{failed_over:>10}  (succeeded after another provider failed)")
    for (prov, why), n in sorted(skipped.items()):
        out.append(f"  {'  ' + str(prov) + ' skipped':<22}{n:>10}  ({why})")
    for (prov, outcome), n in sorted(attempt_errors.items()):
        out.append(f"  {'  ' + str(prov) + ' errors':<22}{n:>10}  (attempts: {outcome})")
    if resumed:
        out.append(f"  {'resumed':<22}{resumed:>10}  (tasks another worker created, taken over: task ledger)")
    if dups:
        out.append(f"  {'duplicate results':<22}{dups:>10}  (redone after a rebalance; at-least-once)")
    out.append("")
    return out


def main(argv):
    if not argv or argv[0] in ("-h", "--help"):
        print(__doc__.strip())
        return 2
    wall = None
    if "--wall-s" in argv:
        i = argv.index("--wall-s")
        wall = float(argv[i + 1])
        argv = argv[:i] + argv[i + 2:]
    with open(argv[0]) as f:
        rows = [json.loads(line) for line in f if line.strip()]
    print("\n".join(summary_lines(rows, wall)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
