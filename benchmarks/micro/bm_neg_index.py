"""Micro-benchmark: negative-index subscripts on lists and tuples.

Exercises BINARY_SUBSCR ``a[-1]`` / ``t[-2]`` with constant negative int
indices, which the 3.13 list/tuple specializations reject.
"""

from __future__ import annotations

import pyperf

REPEAT = 10
OPS_PER_ROUND = 12


def bench(loops: int, a: list[int], t: tuple[int, ...]) -> float:
    range_it = range(loops)
    inner = range(REPEAT)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for _ in inner:
            r = a[-1]
            r = t[-1]
            r = a[-2]
            r = t[-2]
            r = a[-3]
            r = t[-3]
            r = a[-1]
            r = t[-1]
            r = a[-4]
            r = t[-4]
            r = a[-1]
            r = t[-1]
    elapsed = pyperf.perf_counter() - t0
    del r
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "lst[-1], tup[-2] ... negative constant indices (12 x 10)"
    runner.bench_time_func(
        "neg_index",
        bench,
        list(range(16)),
        tuple(range(16)),
        inner_loops=REPEAT * OPS_PER_ROUND,
    )
