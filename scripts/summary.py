#!/usr/bin/env python3
"""Summarise a switchyard results JSONL file: counts, providers, failures, latency."""
import json
import sys
from collections import Counter


def pct(values, p):
    if not values:
        return 0
    values = sorted(values)
    k = min(len(values) - 1, max(0, int(round(p / 100.0 * (len(values) - 1)))))
    return values[k]


def main(path):
    rows = [json.loads(line) for line in open(path) if line.strip()]
    ok = [r for r in rows if r["status"] == "succeeded"]
    failed = [r for r in rows if r["status"] != "succeeded"]
    providers = Counter(r.get("provider") for r in ok)
    classes = Counter((r.get("error") or {}).get("class", "?") for r in failed)
    fallbacks = sum(1 for r in ok if len({a["provider"] for a in r.get("attempts", [])}) > 1)
    lat = [r["timings"]["total_ms"] for r in ok if r.get("timings")]
    span_ms = max(lat) if lat else 0
    print()
    print("  switchyard run — summary")
    print("  ------------------------------------------")
    print(f"  jobs                 {len(rows):>8}")
    print(f"  succeeded            {len(ok):>8}")
    print(f"  failed               {len(failed):>8}")
    for cls, n in sorted(classes.items()):
        print(f"    {cls:<18} {n:>8}")
    for prov, n in sorted(providers.items()):
        print(f"  via {prov:<16} {n:>8}")
    print(f"  fell back            {fallbacks:>8}")
    print(f"  latency p50          {pct(lat, 50) / 1000:>7.2f}s")
    print(f"  latency p95          {pct(lat, 95) / 1000:>7.2f}s")
    if span_ms:
        print(f"  throughput           {len(rows) / (span_ms / 1000):>7.1f} jobs/s")
    print()


if __name__ == "__main__":
    main(sys.argv[1])
