"""Micro-benchmark: mixed int/float arithmetic.

Exercises BINARY_OP ``+ - * /`` where one operand is an int and the other a
float (both orders), the case the 3.13 specializer leaves generic.
"""

from __future__ import annotations

import pyperf

REPEAT = 10
OPS_PER_ROUND = 16


def bench(loops: int, i: int, j: int, f: float, g: float) -> float:
    range_it = range(loops)
    inner = range(REPEAT)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for _ in inner:
            r = i + f
            r = f + j
            r = g - i
            r = j - g
            r = i * g
            r = f * j
            r = f / i
            r = j / g
            r = i + g
            r = g + i
            r = f - j
            r = i - f
            r = j * f
            r = g * i
            r = g / j
            r = i / f
    elapsed = pyperf.perf_counter() - t0
    del r
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "int+float, float-int, int*float, float/int ... (16 ops x 10)"
    runner.bench_time_func("mixed_arith", bench, 7, 3, 2.5, 0.75, inner_loops=REPEAT * OPS_PER_ROUND)
