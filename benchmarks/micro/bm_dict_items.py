"""Micro-benchmark: iterate ``dict.items()`` with tuple unpacking.

Exercises ``for k, v in d.items():`` (FOR_ITER over a dict item iterator
followed by UNPACK_SEQUENCE of the yielded 2-tuple).
"""

from __future__ import annotations

import pyperf

SIZE = 200


def bench(loops: int, d: dict[str, int]) -> float:
    range_it = range(loops)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for k, v in d.items():
            key = k
            value = v
    elapsed = pyperf.perf_counter() - t0
    del key, value
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "for k, v in d.items() over a 200-entry str->int dict"
    data = {f"key{i}": i for i in range(SIZE)}
    runner.bench_time_func("dict_items", bench, data, inner_loops=SIZE)
