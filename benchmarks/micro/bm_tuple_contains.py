"""Micro-benchmark: membership test in a small tuple.

Exercises CONTAINS_OP ``x in (..)`` against constant and variable tuples of
3-5 ints or strings (hits and misses).
"""

from __future__ import annotations

import pyperf

REPEAT = 10
OPS_PER_ROUND = 10


def bench(loops: int, small: tuple[int, ...], i: int, j: int, s: str, m: str) -> float:
    range_it = range(loops)
    inner = range(REPEAT)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for _ in inner:
            r = i in small
            r = j in small
            r = i in (1, 2, 3)
            r = j in (1, 2, 3, 4, 5)
            r = s in ("GET", "HEAD")
            r = m in ("GET", "HEAD", "OPTIONS")
            r = i not in small
            r = j not in (7, 8, 9)
            r = s not in ("PUT", "POST")
            r = m in ("DELETE", "PATCH")
    elapsed = pyperf.perf_counter() - t0
    del r
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "x in (1, 2, 3) / s in ('GET', 'HEAD') on small tuples (10 x 10)"
    runner.bench_time_func(
        "tuple_contains",
        bench,
        (3, 5, 8, 13),
        8,
        4,
        "GET",
        "POST",
        inner_loops=REPEAT * OPS_PER_ROUND,
    )
