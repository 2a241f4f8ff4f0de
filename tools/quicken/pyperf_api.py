"""What Quicken uses of pyperf beyond its public API, in one place.

pyperf's statistics are the ones ``pyperf compare_to`` prints, and Quicken's
verdicts must agree with them, so Quicken calls pyperf's own t-test rather
than a second implementation.  They are not public API; the supported pyperf
versions are pinned in pyproject.toml (``pyperf>=2.8,<2.12``) and
``tests/test_pyperf_contract.py`` checks, on the installed pyperf, that each
of them still exists and gives the known answers Quicken relies on.  Everything
else goes through pyperf's public API (``BenchmarkSuite``, ``Benchmark``,
``Run``).
"""

from __future__ import annotations

from collections.abc import Sequence

import pyperf
from pyperf._compare import is_significant as _is_significant
from pyperf._compare import is_significant_benchs as _is_significant_benchs
from pyperf._utils import tdist95conf_level as _tdist95conf_level


def is_significant(sample1: Sequence[float], sample2: Sequence[float]) -> tuple[bool, float]:
    """pyperf's two-sample t-test at 95 %: (significant, t score)."""
    significant, t_score = _is_significant(list(sample1), list(sample2))
    return bool(significant), float(t_score)


def is_significant_benchs(base: pyperf.Benchmark, head: pyperf.Benchmark) -> tuple[bool, float | None]:
    """The test ``pyperf compare_to`` applies to two benchmarks (None: one value each, no t score)."""
    significant, t_score = _is_significant_benchs(base, head)
    return bool(significant), None if t_score is None else float(t_score)


def t95(degrees_of_freedom: int) -> float:
    """Two-sided 95 % critical value of Student's t (pyperf's table)."""
    return float(_tdist95conf_level(degrees_of_freedom))


def raw_values(bench: pyperf.Benchmark) -> list[float]:
    """Each value times the loops it covered (what ``pyperf check`` calls raw values), warmups excluded."""
    return [value * run.get_total_loops() for run in bench.get_runs() for value in run.values]
