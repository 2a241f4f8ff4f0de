"""The contract with pyperf's private statistics (quicken/pyperf_api.py), checked on the installed pyperf.

pyproject.toml pins the pyperf versions this was checked with; a new pyperf
that moves or changes one of these fails here, not in a verdict.
"""

from __future__ import annotations

import pyperf
import pytest
from quicken import compare, pyperf_api


def _bench(values: list[float], loops: int = 4, name: str = "b") -> pyperf.Benchmark:
    runs = [pyperf.Run(values[i:i + 2], warmups=[(loops, 1.0)], metadata={"name": name, "loops": loops})
            for i in range(0, len(values), 2)]
    return pyperf.Benchmark(runs)


def test_t_table() -> None:
    assert pyperf_api.t95(1) == pytest.approx(12.706, abs=1e-3)
    assert pyperf_api.t95(3) == pytest.approx(3.182, abs=1e-3)
    assert pyperf_api.t95(30) == pytest.approx(2.042, abs=1e-3)


def test_two_sample_t_test() -> None:
    base = [1.00, 1.01, 0.99, 1.00, 1.02, 0.98]
    significant, t = pyperf_api.is_significant(base, [0.80, 0.81, 0.79, 0.80, 0.82, 0.78])
    assert significant and t > 0  # sample1 slower: positive t
    significant, t = pyperf_api.is_significant(base, [1.00, 0.99, 1.01, 1.01, 0.99, 1.00])
    assert not significant and abs(t) < 1


def test_benchmark_test_is_the_one_compare_to_prints() -> None:
    base, head = _bench([1.0, 1.01, 0.99, 1.0]), _bench([0.5, 0.51, 0.49, 0.5])
    significant, t = pyperf_api.is_significant_benchs(base, head)
    assert significant and t is not None and t > 0
    assert pyperf_api.is_significant_benchs(_bench([1.0]), _bench([2.0])) == (True, None)


def test_raw_values_match_pyperf_check() -> None:
    bench = _bench([0.25, 0.5, 1.0, 2.0], loops=8)
    assert pyperf_api.raw_values(bench) == [2.0, 4.0, 8.0, 16.0]
    assert pyperf_api.raw_values(bench) == bench._get_raw_values()  # what pyperf check reads


def test_compare_flags_short_raw_values() -> None:
    short = _bench([1e-6, 1e-6, 1e-6, 1e-6], loops=10)
    assert any("shortest raw value" in issue for issue in compare.stability_issues(short))
