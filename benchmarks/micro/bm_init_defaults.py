"""Micro-benchmark: instantiating a class whose ``__init__`` has defaults.

Exercises CALL / CALL_KW of a Python class whose ``__init__`` takes
positional parameters with defaults and keyword-only parameters.
"""

from __future__ import annotations

import pyperf

REPEAT = 10
OPS_PER_ROUND = 6


class Point:
    __slots__ = ("scale", "x", "y", "z")

    def __init__(self, x: float, y: float = 0.0, *, z: float = 0.0, scale: float = 1.0) -> None:
        self.x = x
        self.y = y
        self.z = z
        self.scale = scale


def bench(loops: int, a: float, b: float) -> float:
    range_it = range(loops)
    inner = range(REPEAT)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for _ in inner:
            p = Point(a)
            p = Point(a, b)
            p = Point(b)
            p = Point(a, z=b)
            p = Point(b, a, scale=2.0)
            p = Point(a, z=a, scale=b)
    elapsed = pyperf.perf_counter() - t0
    del p
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "Point(x), Point(x, y), Point(x, z=...) with defaults/kw-only (6 x 10)"
    runner.bench_time_func("init_defaults", bench, 1.5, 2.5, inner_loops=REPEAT * OPS_PER_ROUND)
