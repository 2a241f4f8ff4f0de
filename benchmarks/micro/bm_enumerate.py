"""Micro-benchmark: ``enumerate`` over a list with tuple unpacking.

Exercises ``for i, x in enumerate(lst):`` (FOR_ITER over an enumerate object
followed by UNPACK_SEQUENCE of the yielded 2-tuple).
"""

from __future__ import annotations

import pyperf

SIZE = 200


def bench(loops: int, items: list[str]) -> float:
    range_it = range(loops)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for i, x in enumerate(items):
            index = i
            item = x
    elapsed = pyperf.perf_counter() - t0
    del index, item
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "for i, x in enumerate(lst) over a 200-item list"
    data = [f"item{i}" for i in range(SIZE)]
    runner.bench_time_func("enumerate", bench, data, inner_loops=SIZE)
