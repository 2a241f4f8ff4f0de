"""Micro-benchmark: comparing an int with a float.

Exercises COMPARE_OP ``<`` and ``==`` between int and float operands, both as
stored results and as branch conditions.
"""

from __future__ import annotations

import pyperf

REPEAT = 10
OPS_PER_ROUND = 12


def bench(loops: int, i: int, j: int, f: float, g: float) -> float:
    range_it = range(loops)
    inner = range(REPEAT)
    hits = 0
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for _ in inner:
            r = i < f
            r = f < j
            r = i == g
            r = g == j
            r = j < g
            r = f == i
            if i < g:
                hits = 1
            if f < i:
                hits = 2
            if j == f:
                hits = 3
            if g == i:
                hits = 4
            if j < f:
                hits = 5
            if g < j:
                hits = 6
    elapsed = pyperf.perf_counter() - t0
    del r, hits
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "int < float, int == float and reverse, as values and branches"
    runner.bench_time_func("int_float_compare", bench, 7, 3, 2.5, 3.0, inner_loops=REPEAT * OPS_PER_ROUND)
