"""Micro-benchmark: subscripts of defaultdicts with keys they hold.

Exercises BINARY_SUBSCR and STORE_SUBSCR on collections.defaultdict, the
dict subclass of counting and grouping code (pyperformance mdp's
``dist[state] += p`` and ``dmin[state]``): per step one ``counts[key] += 1``
(a load and a store) and one load from a second table, over 256
precomputed int and str keys that are all present (no __missing__ call
after the set-up), so each step runs three dict subscripts.
"""

from __future__ import annotations

from collections import defaultdict

import pyperf

STEPS = 256
SUBSCRIPTS_PER_STEP = 3


def bench(loops: int, counts: defaultdict, table: defaultdict, keys: list) -> float:
    range_it = range(loops)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for key in keys:
            counts[key] += 1
            value = table[key]
    elapsed = pyperf.perf_counter() - t0
    del value
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = ("counts[key] += 1 and table[key] on defaultdicts "
                                      "holding the keys, 256 steps")
    keys = [k if k % 2 else f"k{k}" for k in range(STEPS)]
    counts = defaultdict(int)
    table = defaultdict(float)
    for key in keys:
        counts[key] += 0
        table[key] = 0.5
    runner.bench_time_func("defaultdict", bench, counts, table, keys,
                           inner_loops=STEPS * SUBSCRIPTS_PER_STEP)
