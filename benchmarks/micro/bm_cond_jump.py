"""Micro-benchmark: conditional jumps on the results of specialized tests.

Exercises POP_JUMP_IF_FALSE / POP_JUMP_IF_TRUE / POP_JUMP_IF_NONE /
POP_JUMP_IF_NOT_NONE taken and not taken, after the conditions 3.13
specializes: int, float and str comparisons (COMPARE_OP_INT/_FLOAT/_STR),
truth tests of bools, ints, lists and strs (TO_BOOL_*), and ``is None``.
"""

from __future__ import annotations

import pyperf

REPEAT = 10
OPS_PER_ROUND = 12


def bench(
    loops: int,
    i: int,
    j: int,
    x: float,
    y: float,
    s: str,
    t: str,
    flag: bool,
    items: list[int],
    empty: list[int],
    none: None,
) -> float:
    range_it = range(loops)
    inner = range(REPEAT)
    n = 0
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for _ in inner:
            if i < j:
                n = 1
            if i == j:
                n = 2
            if x < y:
                n = 3
            if x == y:
                n = 4
            if s == t:
                n = 5
            if s != t:
                n = 6
            if flag:
                n = 7
            if not flag:
                n = 8
            if items:
                n = 9
            if empty:
                n = 10
            if none is None:
                n = 11
            if items is not None:
                n = 12
    elapsed = pyperf.perf_counter() - t0
    del n
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "if on int/float/str comparisons, bools, lists and None, taken and not"
    runner.bench_time_func(
        "cond_jump",
        bench,
        3,
        4,
        1.5,
        2.5,
        "spam",
        "eggs",
        True,
        [1, 2],
        [],
        None,
        inner_loops=REPEAT * OPS_PER_ROUND,
    )
