"""HPT statistics against cases whose answer is known."""

from __future__ import annotations

import math
import random

import pytest
from quicken import hpt


def _samples(rng: random.Random, mean: float, n: int = 20, noise: float = 0.01) -> list[float]:
    return [mean * (1 + rng.uniform(-noise, noise)) for _ in range(n)]


def _suite(shift: float, benchmarks: int = 12, seed: int = 1) -> dict[str, tuple[list[float], list[float]]]:
    """Benchmarks whose head times are base / shift (shift 1.1: head 1.1x faster)."""
    rng = random.Random(seed)
    pairs = {}
    for i in range(benchmarks):
        mean = 0.001 * (i + 1) ** 2  # different scales on purpose
        pairs[f"bm{i}"] = (_samples(rng, mean), _samples(rng, mean / shift))
    return pairs


def test_ranksum_z_signs_and_ties() -> None:
    assert hpt.ranksum_z([1, 2, 3], [1, 2, 3]) == pytest.approx(0.0)
    assert hpt.ranksum_z([4, 5, 6, 7], [1, 2, 3, 4]) > 0
    assert hpt.ranksum_z([1.0] * 5, [1.0] * 5) == 0.0
    # textbook value: n = m = 10 fully separated -> W = 155, mean 105, sd sqrt(175)
    assert hpt.ranksum_z(list(range(11, 21)), list(range(1, 11))) == pytest.approx(50 / math.sqrt(175))


def test_signed_rank_known_values() -> None:
    # all positive, n = 10: W+ = 55, mean 27.5, sd = sqrt(10*11*21/24)
    expected = hpt.normal_cdf(27.5 / math.sqrt(10 * 11 * 21 / 24))
    assert hpt.signed_rank_reliability([0.1 * (i + 1) for i in range(10)]) == pytest.approx(expected)
    assert hpt.signed_rank_reliability([0.0] * 7) == pytest.approx(0.5)


def test_identical_samples_are_a_coin_toss() -> None:
    rng = random.Random(3)
    pairs = {}
    for i in range(15):
        values = _samples(rng, 0.01 * (i + 1))
        pairs[f"bm{i}"] = (values, list(values))
    assert hpt.reliability(pairs) == pytest.approx(0.5)
    result = hpt.hpt(pairs)
    assert result is not None and result.reliability == pytest.approx(0.5)
    bound = result.bounds[0.99]
    assert bound is not None and bound < 1.0  # no speedup can be claimed


def test_clearly_shifted_samples() -> None:
    pairs = _suite(1.10)
    result = hpt.hpt(pairs)
    assert result is not None
    assert result.reliability > 0.995
    bound = result.bounds[0.99]
    assert bound is not None and 1.07 < bound < 1.10  # near the shift, never past it
    assert result.bounds[0.90] is not None and result.bounds[0.90] >= bound
    assert "likely that head is faster" in result.describe()


def test_slower_head() -> None:
    pairs = _suite(1 / 1.05)
    result = hpt.hpt(pairs)
    assert result is not None and result.reliability < 0.005
    bound = result.bounds[0.99]
    assert bound is not None and 1 / 1.06 < bound < 1 / 1.04  # at worst ~5 % slower


def test_noise_hides_a_small_shift_in_few_values() -> None:
    rng = random.Random(5)
    pairs = {f"bm{i}": (_samples(rng, 1.0, n=5, noise=0.3), _samples(rng, 1 / 1.01, n=5, noise=0.3))
             for i in range(8)}
    assert 0.05 < hpt.reliability(pairs) < 0.95


def test_too_few_values_are_ties_and_empty_is_none() -> None:
    assert hpt.benchmark_difference([1.0, 1.0], [2.0, 2.0]) == 0.0
    assert hpt.hpt({}) is None
