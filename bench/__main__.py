"""`make bench`: run every benchmark module in turn; each prints its own tables.

    python -m bench             # all
    python -m bench store       # only those whose name contains "store"
"""

from __future__ import annotations

import importlib
import sys
import time

#: Benchmark modules, in the order they run (each has a main() that prints tables).
BENCHMARKS = [
    "bench.bench_store",
    "bench.bench_index",
    "bench.bench_match",
    "bench.bench_crawl",
    "bench.bench_browser",
    "bench.bench_distributed",
]


def main(argv: list[str]) -> None:
    wanted = argv[1:]
    for name in BENCHMARKS:
        if wanted and not any(w in name for w in wanted):
            continue
        print(f"\n=== {name} ===", flush=True)
        t0 = time.monotonic()
        module = importlib.import_module(name)
        saved, sys.argv = sys.argv, [name]
        try:
            module.main()
        finally:
            sys.argv = saved
        print(f"({name}: {time.monotonic() - t0:.0f} s)", flush=True)


if __name__ == "__main__":
    main(sys.argv)
