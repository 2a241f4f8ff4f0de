"""Micro-benchmark: class attributes of a class with a custom metaclass.

Exercises LOAD_ATTR on a class object whose metaclass is not ``type``
(``Settings.TIMEOUT``), the lookup path the 3.13 specializer declines.
"""

from __future__ import annotations

from typing import ClassVar

import pyperf

REPEAT = 10
OPS_PER_ROUND = 12


class Registry(type):
    """A trivial custom metaclass, as used by ORMs and plugin registries."""

    classes: ClassVar[list[type]] = []

    def __new__(mcls, name: str, bases: tuple[type, ...], ns: dict[str, object]) -> Registry:
        cls = super().__new__(mcls, name, bases, ns)
        mcls.classes.append(cls)
        return cls


class Settings(metaclass=Registry):
    TIMEOUT = 30
    RETRIES = 3
    NAME = "service"
    RATIO = 0.5


def bench(loops: int, cls: type[Settings]) -> float:
    range_it = range(loops)
    inner = range(REPEAT)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for _ in inner:
            r = Settings.TIMEOUT
            r = Settings.RETRIES
            r = Settings.NAME
            r = Settings.RATIO
            r = cls.TIMEOUT
            r = cls.RETRIES
            r = cls.NAME
            r = cls.RATIO
            r = Settings.TIMEOUT
            r = Settings.NAME
            r = cls.RETRIES
            r = cls.RATIO
    elapsed = pyperf.perf_counter() - t0
    del r
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "Cls.ATTR where type(Cls) is a custom metaclass (12 loads x 10)"
    runner.bench_time_func("metaclass_attr", bench, Settings, inner_loops=REPEAT * OPS_PER_ROUND)
