"""Micro-benchmark: returns from small Python functions and methods.

Every return from a Python function clears its frame (releases the
arguments and locals, the function and the code object) and pops it off
the thread's data stack.  The loop makes 8 calls per step to the shapes of
ordinary helper code: a function of two arguments and two locals, one of
five arguments, a method reading attributes, a method calling another
method (two frames), a closure over a cell and a function returning a
constant, each called on ints, floats and a small object.
"""

from __future__ import annotations

import pyperf

STEPS = 100
CALLS_PER_STEP = 8  # norm2() calls dot(): seven call sites, eight frames


class Vec:
    def __init__(self, x: float, y: float) -> None:
        self.x = x
        self.y = y

    def dot(self, other: Vec) -> float:
        return self.x * other.x + self.y * other.y

    def norm2(self) -> float:
        return self.dot(self)


def add2(a: int, b: int) -> int:
    s = a + b
    d = a - b
    return s * d


def five(a: int, b: int, c: int, d: int, e: int) -> int:
    return a + e


def make_counter(start: int):
    total = start

    def bump(k: int) -> int:
        return total + k

    return bump


def nothing() -> None:
    return None


def bench(loops: int, items: list, v: Vec, w: Vec, bump) -> float:
    range_it = range(loops)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for i in items:
            add2(i, 3)
            five(i, 1, 2, 3, 4)
            v.dot(w)
            w.norm2()
            bump(i)
            nothing()
            add2(i, i)
    elapsed = pyperf.perf_counter() - t0
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = ("8 calls of small functions and methods per step, "
                                      "100 steps")
    runner.bench_time_func("call_return", bench, list(range(STEPS)), Vec(1.5, 2.0),
                           Vec(0.5, -1.0), make_counter(7),
                           inner_loops=STEPS * CALLS_PER_STEP)
