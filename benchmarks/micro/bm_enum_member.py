"""Micro-benchmark: reading Enum members.

Exercises LOAD_GLOBAL + LOAD_ATTR ``Color.RED`` on an ``enum.Enum`` subclass
(whose metaclass is ``EnumType``), plus ``.value`` on the member.
"""

from __future__ import annotations

import enum

import pyperf

REPEAT = 10
OPS_PER_ROUND = 12


class Color(enum.Enum):
    RED = 1
    GREEN = 2
    BLUE = 3


class Flag(enum.IntEnum):
    READ = 4
    WRITE = 2
    EXEC = 1


def bench(loops: int) -> float:
    range_it = range(loops)
    inner = range(REPEAT)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for _ in inner:
            r = Color.RED
            r = Color.GREEN
            r = Color.BLUE
            r = Flag.READ
            r = Flag.WRITE
            r = Flag.EXEC
            r = Color.RED
            r = Flag.READ
            r = Color.BLUE
            r = Flag.EXEC
            r = Color.GREEN
            r = Flag.WRITE
    elapsed = pyperf.perf_counter() - t0
    del r
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "Color.RED / Flag.READ member loads on Enum and IntEnum (12 x 10)"
    runner.bench_time_func("enum_member", bench, inner_loops=REPEAT * OPS_PER_ROUND)
