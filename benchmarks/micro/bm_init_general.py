"""Micro-benchmark: positional calls of classes CALL_ALLOC_AND_ENTER_INIT does not take.

A dataclass-style class called without its defaulted fields, a class with
``__slots__`` (as pyperformance's float ``Point``), and a class whose
``__init__`` has keyword-only parameters with defaults, all called with
positional arguments only (CALL, not CALL_KW).
"""

from __future__ import annotations

import pyperf

REPEAT = 10
OPS_PER_ROUND = 4


class Record:
    def __init__(self, name: str, size: int = 0, tags: tuple[str, ...] = ()) -> None:
        self.name = name
        self.size = size
        self.tags = tags


class Vec:
    __slots__ = ("x", "y")

    def __init__(self, x: float, y: float) -> None:
        self.x = x
        self.y = y


class Options:
    def __init__(self, value: float, *, strict: bool = False, limit: int = 10) -> None:
        self.value = value
        self.strict = strict
        self.limit = limit


def bench(loops: int, a: float, b: float) -> float:
    range_it = range(loops)
    inner = range(REPEAT)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for _ in inner:
            r = Record("a")
            r = Record("b", 2)
            v = Vec(a, b)
            o = Options(a)
    elapsed = pyperf.perf_counter() - t0
    del r, v, o
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = ("Record(x), Record(x, y) with defaults, Vec(x, y) with __slots__, "
                                      "Options(x) with keyword-only defaults (4 x 10)")
    runner.bench_time_func("init_general", bench, 1.5, 2.5, inner_loops=REPEAT * OPS_PER_ROUND)
