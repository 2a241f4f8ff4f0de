"""Micro-benchmark: compact-int bitwise operators, ``%`` and ``//``.

Exercises BINARY_OP ``& | ^ % //`` on small (compact) non-negative ints.
"""

from __future__ import annotations

import pyperf

REPEAT = 10
OPS_PER_ROUND = 15


def bench(loops: int, a: int, b: int, c: int) -> float:
    range_it = range(loops)
    inner = range(REPEAT)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for _ in inner:
            r = a & b
            r = a | c
            r = b ^ c
            r = a % b
            r = a // c
            r = c & a
            r = b | a
            r = a ^ c
            r = c % b
            r = b // c
            r = b & c
            r = c | b
            r = c ^ a
            r = a % c
            r = c // b
    elapsed = pyperf.perf_counter() - t0
    del r
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "a & b, a | b, a ^ b, a % b, a // b on small ints (15 ops x 10)"
    runner.bench_time_func("int_bitwise", bench, 0x5A5A, 0x3C3, 37, inner_loops=REPEAT * OPS_PER_ROUND)
