"""Micro-benchmark: iterate a dict's keys.

Exercises ``for k in d:`` and ``for k in d.keys():`` (FOR_ITER over a dict
key iterator); half of the keys come from each form.
"""

from __future__ import annotations

import pyperf

SIZE = 100


def bench(loops: int, d: dict[str, int]) -> float:
    range_it = range(loops)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for k in d:
            key = k
        for k in d.keys():  # noqa: SIM118 - the .keys() form is the point
            key = k
    elapsed = pyperf.perf_counter() - t0
    del key
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "for k in d / for k in d.keys() over a 100-entry dict"
    data = {f"key{i}": i for i in range(SIZE)}
    runner.bench_time_func("dict_keys", bench, data, inner_loops=2 * SIZE)
