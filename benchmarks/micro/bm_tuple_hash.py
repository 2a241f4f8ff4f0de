"""Micro-benchmark: tuples of ints hashed as dict and set keys.

Exercises tuplehash() on the key shapes of memo tables and search states
(pyperformance mdp and go): existing keys looked up again, which hashes
them again (3.13 does not cache a tuple's hash): ``(x, y)`` in a dict, a
nested ``((x, y), d)`` in a set and a six-int named tuple in a dict, over
256 precomputed steps whose keys are all distinct (no key compares equal
to another one, so a hit finds the very object it stored and compares
nothing).
"""

from __future__ import annotations

from collections import namedtuple

import pyperf

SIZE = 16
STEPS = 256
LOOKUPS_PER_STEP = 3

State = namedtuple("State", "x y d hp mp turn")


def bench(loops: int, table: dict, seen: set, states: dict, steps: list) -> float:
    range_it = range(loops)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for cell, probe, state in steps:
            a = table[cell]
            b = probe in seen
            c = states[state]
    elapsed = pyperf.perf_counter() - t0
    del a, b, c
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = ("table[(x, y)], ((x, y), d) in seen and "
                                      "states[State(...)] with existing keys, 256 steps")
    steps = []
    for k in range(STEPS):
        x, y, d = k % SIZE, k // SIZE, k % 4
        steps.append(((x, y), ((x, y), d), State(x, y, d, 100 - k % 50, k % 30, k)))
    table = {cell: i for i, (cell, _, _) in enumerate(steps)}
    seen = {probe for i, (_, probe, _) in enumerate(steps) if i % 3 == 0}
    states = {state: i for i, (_, _, state) in enumerate(steps)}
    runner.bench_time_func("tuple_hash", bench, table, seen, states, steps,
                           inner_loops=STEPS * LOOKUPS_PER_STEP)
