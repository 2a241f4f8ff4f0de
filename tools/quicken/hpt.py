"""Hierarchical performance testing (HPT): how sure is it that head is faster, and by how much?

The method of T. Chen, Y. Chen, Q. Guo, O. Temam, Y. Wu and W. Hu, "Statistical
performance comparisons of computers" (HPCA 2012), which bench_runner reports as
"HPT reliability".  It is hierarchical: the samples of one benchmark are judged
first, the benchmarks then, each counting once whatever its noise.

1. Per benchmark, a Wilcoxon rank-sum (Mann-Whitney) test of base's values
   against head's (every value of every process, pooled), two-sided at level
   ``alpha`` (normal approximation, corrected for ties).  A significant
   benchmark contributes ``d = log(median(base) / median(head))`` (positive: head
   faster); a benchmark whose samples cannot be told apart contributes 0.
2. Across benchmarks, a Wilcoxon signed-rank test of the ``d`` (ranks of ``|d|``,
   zeros split half and half between the two sides).  The *reliability* is the
   normal CDF of its statistic: the probability that head is faster on the
   population the benchmarks were drawn from.
3. The speedup head is ``confidence`` sure of is the largest ``s`` for which the
   reliability of "head's times multiplied by ``s`` are still faster" stays at or
   above ``confidence`` (found by bisection; below 1 it bounds a slowdown).

The relative difference (log of the medians' ratio) replaces the paper's
absolute one, so benchmarks of 1 ms and of 1 s are ranked on the same scale.
Pure Python: no numpy or scipy.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

#: Level of the per-benchmark rank-sum test (bench_runner's default).
ALPHA = 0.10
#: The reliabilities a speedup bound is reported for.
CONFIDENCES = (0.90, 0.95, 0.99)
#: Fewer values per side than this: the benchmark is not tested (counts as a tie).
MIN_VALUES = 3

Samples = Sequence[float]


def normal_cdf(x: float) -> float:
    return 0.5 * (1.0 + math.erf(x / math.sqrt(2.0)))


def _normal_quantile(p: float) -> float:
    """Inverse of :func:`normal_cdf` by bisection (only used for fixed levels)."""
    lo, hi = -10.0, 10.0
    for _ in range(100):
        mid = (lo + hi) / 2
        if normal_cdf(mid) < p:
            lo = mid
        else:
            hi = mid
    return (lo + hi) / 2


def median(values: Samples) -> float:
    items = sorted(values)
    if not items:
        raise ValueError("median of no values")
    mid = len(items) // 2
    return items[mid] if len(items) % 2 else (items[mid - 1] + items[mid]) / 2


def _ranks(values: Sequence[float]) -> tuple[list[float], list[int]]:
    """Mid-ranks (1-based) of ``values``, and the sizes of the groups of ties."""
    order = sorted(range(len(values)), key=values.__getitem__)
    ranks = [0.0] * len(values)
    ties: list[int] = []
    i = 0
    while i < len(order):
        j = i
        while j + 1 < len(order) and values[order[j + 1]] == values[order[i]]:
            j += 1
        for k in range(i, j + 1):
            ranks[order[k]] = (i + j) / 2 + 1
        ties.append(j - i + 1)
        i = j + 1
    return ranks, ties


def ranksum_z(a: Samples, b: Samples) -> float:
    """z statistic of the Wilcoxon rank-sum test; positive when ``a`` tends to be larger."""
    n, m = len(a), len(b)
    if not n or not m:
        raise ValueError("rank-sum test needs values on both sides")
    ranks, ties = _ranks([*a, *b])
    w = math.fsum(ranks[:n])
    mean = n * (n + m + 1) / 2
    total = n + m
    tie_term = sum(t ** 3 - t for t in ties) / (total * (total - 1)) if total > 1 else 0.0
    variance = n * m / 12 * ((total + 1) - tie_term)
    if variance <= 0:
        return 0.0  # every value equal
    return (w - mean) / math.sqrt(variance)


def benchmark_difference(base: Samples, head: Samples, *, alpha: float = ALPHA, scale: float = 1.0) -> float:
    """``log(median(base) / median(scale * head))`` if the rank-sum test tells them apart, else 0."""
    if len(base) < MIN_VALUES or len(head) < MIN_VALUES:
        return 0.0
    scaled = [scale * v for v in head]
    if abs(ranksum_z(base, scaled)) < _normal_quantile(1 - alpha / 2):
        return 0.0
    return math.log(median(base) / median(scaled))


def signed_rank_reliability(differences: Sequence[float]) -> float:
    """P(the population difference is positive): normal CDF of the signed-rank statistic."""
    n = len(differences)
    if n == 0:
        raise ValueError("no benchmarks")
    ranks, _ = _ranks([abs(d) for d in differences])
    w_plus = math.fsum(r if d > 0 else r / 2 if d == 0 else 0.0
                       for r, d in zip(ranks, differences, strict=True))
    mean = n * (n + 1) / 4
    sd = math.sqrt(n * (n + 1) * (2 * n + 1) / 24)
    return normal_cdf((w_plus - mean) / sd)


def reliability(pairs: Mapping[str, tuple[Samples, Samples]], *, alpha: float = ALPHA,
                scale: float = 1.0) -> float:
    """The probability that head (times multiplied by ``scale``) is faster than base.

    ``pairs`` maps each benchmark to (base values, head values); lower is better.
    """
    return signed_rank_reliability([benchmark_difference(b, h, alpha=alpha, scale=scale)
                                    for b, h in pairs.values()])


def speedup_bound(pairs: Mapping[str, tuple[Samples, Samples]], confidence: float, *,
                  alpha: float = ALPHA, lo: float = 0.1, hi: float = 10.0, precision: float = 1e-4
                  ) -> float | None:
    """The largest speedup ``s`` head has with reliability ``confidence`` (None: not even ``lo``).

    ``s`` above 1: head is that much faster; below 1: head is at worst that much slower.
    """
    if reliability(pairs, alpha=alpha, scale=lo) < confidence:
        return None
    if reliability(pairs, alpha=alpha, scale=hi) >= confidence:
        return hi
    a, b = math.log(lo), math.log(hi)
    while b - a > precision:
        mid = (a + b) / 2
        if reliability(pairs, alpha=alpha, scale=math.exp(mid)) >= confidence:
            a = mid
        else:
            b = mid
    return math.exp(a)


@dataclass(frozen=True)
class HptResult:
    benchmarks: int
    reliability: float  # P(head faster)
    bounds: dict[float, float | None]  # confidence -> speedup it is that sure of

    def describe(self) -> str:
        parts = [f"{self.reliability:.2%} likely that head is faster ({self.benchmarks} benchmarks)"]
        for conf, s in self.bounds.items():
            if s is None:
                parts.append(f"no {conf:.0%} bound")
            else:
                parts.append(f"{conf:.0%} sure of {'a speedup' if s >= 1 else 'at worst'} {s:.3f}x")
        return "; ".join(parts)


def hpt(pairs: Mapping[str, tuple[Samples, Samples]], *, alpha: float = ALPHA,
        confidences: Sequence[float] = CONFIDENCES) -> HptResult | None:
    """Reliability and speedup bounds, or None without benchmarks."""
    if not pairs:
        return None
    return HptResult(len(pairs), reliability(pairs, alpha=alpha),
                     {c: speedup_bound(pairs, c, alpha=alpha) for c in confidences})


def pairs_from_suites(base: object, head: object) -> dict[str, tuple[list[float], list[float]]]:
    """(base values, head values) of every benchmark in both pyperf suites."""
    import pyperf

    assert isinstance(base, pyperf.BenchmarkSuite) and isinstance(head, pyperf.BenchmarkSuite)
    names = set(head.get_benchmark_names())
    return {name: (list(base.get_benchmark(name).get_values()), list(head.get_benchmark(name).get_values()))
            for name in base.get_benchmark_names() if name in names}
