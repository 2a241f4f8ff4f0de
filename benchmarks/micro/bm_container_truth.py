"""Micro-benchmark: truth tests of tuples, dicts and sets.

Exercises ``if t:`` / ``if not d:`` (TO_BOOL) on empty and non-empty
tuple, dict and set objects.
"""

from __future__ import annotations

import pyperf

REPEAT = 10
OPS_PER_ROUND = 12


def bench(
    loops: int,
    t: tuple[int, ...],
    et: tuple[int, ...],
    d: dict[str, int],
    ed: dict[str, int],
    s: set[int],
    es: set[int],
) -> float:
    range_it = range(loops)
    inner = range(REPEAT)
    n = 0
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for _ in inner:
            if t:
                n = 1
            if et:
                n = 2
            if d:
                n = 3
            if ed:
                n = 4
            if s:
                n = 5
            if es:
                n = 6
            if not t:
                n = 7
            if not et:
                n = 8
            if not d:
                n = 9
            if not ed:
                n = 10
            if not s:
                n = 11
            if not es:
                n = 12
    elapsed = pyperf.perf_counter() - t0
    del n
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "if t: / if not d: on empty and non-empty tuple, dict, set"
    runner.bench_time_func(
        "container_truth",
        bench,
        (1, 2, 3),
        (),
        {"a": 1},
        {},
        {1, 2},
        set(),
        inner_loops=REPEAT * OPS_PER_ROUND,
    )
