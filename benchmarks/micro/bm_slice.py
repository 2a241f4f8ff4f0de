"""Micro-benchmark: two-bound slices of lists, tuples and strs, and slice stores into lists.

Exercises BINARY_SLICE (``lst[i:j]``, ``t[1:]``, ``s[:k]``, ``s[i:j]``) and
STORE_SLICE (``lst[:k] = other``, as in fannkuch; sizes kept) with small-int and None
bounds: in 3.13 each builds a slice object only for the container to unpack it.
"""

from __future__ import annotations

import pyperf

REPEAT = 10
OPS_PER_ROUND = 10


def bench(loops: int, lst: list[int], t: tuple[int, ...], s: str) -> float:
    range_it = range(loops)
    inner = range(REPEAT)
    other = lst[:4]
    i, j, k = 2, 6, 4
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for _ in inner:
            r = lst[i:j]
            r = t[1:]
            r = s[:k]
            r = s[i:j]
            lst[:k] = other
            r = lst[k:]
            r = s[1:-1]
            r = t[i:j]
            lst[i:j] = r
            r = t[:k]
    elapsed = pyperf.perf_counter() - t0
    del r
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "lst[i:j], t[1:], s[:k], lst[:k] = other ... two-bound slices (10 x 10)"
    runner.bench_time_func(
        "slice",
        bench,
        list(range(8)),
        tuple(range(8)),
        "abcdefghijkl",
        inner_loops=REPEAT * OPS_PER_ROUND,
    )
