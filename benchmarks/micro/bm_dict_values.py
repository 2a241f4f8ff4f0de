"""Micro-benchmark: iterate ``dict.values()``.

Exercises ``for v in d.values():`` (FOR_ITER over a dict value iterator).
"""

from __future__ import annotations

import pyperf

SIZE = 200


def bench(loops: int, d: dict[str, int]) -> float:
    range_it = range(loops)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for v in d.values():
            value = v
    elapsed = pyperf.perf_counter() - t0
    del value
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "for v in d.values() over a 200-entry str->int dict"
    data = {f"key{i}": i for i in range(SIZE)}
    runner.bench_time_func("dict_values", bench, data, inner_loops=SIZE)
