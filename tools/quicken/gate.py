"""The acceptance gate for one patch: pure logic over comparison rows.

A patch passes when

* every target benchmark is faster by at least ``min_target_speedup``
  (wall clock, significant per pyperf's t-test, results stable) AND its
  instruction count drops by at least ``min_target_instruction_reduction``;
* no benchmark is significantly slower than ``max_wall_slowdown``, and no
  benchmark's instruction count grows more than ``max_instruction_slowdown``;
* the test results (if given) passed, and every required pystats counter
  (if given) increased.

A whole-loop patch (``Quicken-Scope: loop``: a compiler hint or a dispatch
change that touches every instruction) has no target benchmark; instead the
suite as a whole must be faster: the geometric mean of the time ratios by at
least ``min_target_speedup``, with HPT reliability (:mod:`quicken.hpt`) of at
least :data:`MIN_RELIABILITY` that head is faster, and the geometric mean of
the instruction counts lower by at least ``min_target_instruction_reduction``.
A placement patch (``Quicken-Scope: layout``: compiler options that change
where the loop's code lies, not what it executes) is judged the same way,
except that its instruction counts need only not grow (the geometric mean at
most ``max_instruction_slowdown`` up): callgrind counts what runs, not where it
lies, so fewer instructions is not its evidence.
The per-benchmark rules above apply unchanged: a whole-loop gain does not buy
a slowdown anywhere.

Unstable results never pass silently: an unstable target is a ``warn`` rule
and the verdict does not pass; an unstable non-target that looks slower is a
``warn`` rule (reported, but does not fail the verdict on its own).
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

from quicken.compare import ComparisonRow, geometric_mean
from quicken.hpt import signed_rank_reliability
from quicken.suite import canonical_name

Status = Literal["pass", "fail", "warn"]
PASS: Status = "pass"
FAIL: Status = "fail"
WARN: Status = "warn"
#: A whole-loop patch: the least HPT reliability that head is faster on the suite.
MIN_RELIABILITY = 0.95


@dataclass(frozen=True)
class Thresholds:
    """Fractions, not percent: 0.15 means 15%."""

    min_target_speedup: float = 0.15
    min_target_instruction_reduction: float = 0.05
    max_wall_slowdown: float = 0.01
    max_instruction_slowdown: float = 0.005
    require_instructions: bool = True

    def __post_init__(self) -> None:
        for name in (
            "min_target_speedup",
            "min_target_instruction_reduction",
            "max_wall_slowdown",
            "max_instruction_slowdown",
        ):
            value = getattr(self, name)
            if not 0.0 <= value < 1.0:
                raise ValueError(f"{name} must be a fraction in [0, 1), got {value!r}")


@dataclass(frozen=True)
class TestResults:
    """Outcome of the patch's test run (e.g. the regression tests it touches)."""

    __test__ = False  # not a pytest test class

    passed: bool
    summary: str = ""


@dataclass(frozen=True)
class RuleResult:
    """One checked rule, self-explaining: ``str(rule)`` is a report line."""

    status: Status
    rule: str
    detail: str
    benchmark: str | None = None
    ratio: float | None = None
    instructions_ratio: float | None = None

    def __str__(self) -> str:
        subject = f"{self.benchmark}: " if self.benchmark else ""
        return f"{subject}{self.detail} — {self.rule}: {self.status}"


@dataclass(frozen=True)
class Verdict:
    passed: bool
    rules: tuple[RuleResult, ...] = field(default_factory=tuple)

    @property
    def failures(self) -> list[RuleResult]:
        return [rule for rule in self.rules if rule.status == FAIL]

    @property
    def warnings(self) -> list[RuleResult]:
        return [rule for rule in self.rules if rule.status == WARN]

    def render(self) -> str:
        head = "PASS" if self.passed else "FAIL"
        counts = f"{len(self.failures)} failed, {len(self.warnings)} warning(s), {len(self.rules)} rule(s)"
        return "\n".join([f"gate: {head} ({counts})", *(f"  [{r.status}] {r}" for r in self.rules)]) + "\n"


def _pct(fraction: float) -> str:
    return f"{fraction * 100:g}%"


def _wall_text(row: ComparisonRow) -> str:
    text = f"{row.describe_time()} ({'significant' if row.significant else 'not significant'})"
    if row.unstable:
        text += ", unstable: " + "; ".join(row.unstable_reasons)
    return text


def _instr_text(row: ComparisonRow) -> str:
    change = row.describe_instructions()
    return f"instructions {change}" if change is not None else "instructions not measured"


def _check_target(row: ComparisonRow, th: Thresholds) -> RuleResult:
    rule = (
        f"target ≥ {_pct(th.min_target_speedup)} faster, significant, "
        f"instructions ≤ -{_pct(th.min_target_instruction_reduction)}"
    )
    detail = f"{_wall_text(row)}, {_instr_text(row)}"
    problems: list[str] = []
    fast_enough = row.speedup >= 1.0 + th.min_target_speedup
    if not fast_enough:
        problems.append(f"speedup {row.speedup:.3f}x < {1.0 + th.min_target_speedup:.3f}x")
    if not row.significant:
        problems.append("not significant")
    iratio = row.instructions_ratio
    if iratio is None:
        if th.require_instructions:
            problems.append("not confirmed in instructions mode (no counts)")
    elif iratio > 1.0 - th.min_target_instruction_reduction:
        problems.append(f"instructions not confirming ({(iratio - 1.0) * 100:+.1f}%)")
    if problems:
        detail += " [" + "; ".join(problems) + "]"
        status: Status = FAIL
    elif row.unstable:
        # The numbers look good but cannot be trusted: never a pass.
        status = WARN
    else:
        status = PASS
    return RuleResult(status, rule, detail, row.name, row.ratio, iratio)


def _check_regression(row: ComparisonRow, th: Thresholds) -> list[RuleResult]:
    results: list[RuleResult] = []
    wall_rule = f"no significant slowdown > {_pct(th.max_wall_slowdown)}"
    slower = row.ratio > 1.0 + th.max_wall_slowdown
    if slower and row.unstable:
        # Neither "significant" nor "not significant" can be trusted.
        status: Status = WARN
    elif slower and row.significant:
        status = FAIL
    else:
        status = PASS
    results.append(
        RuleResult(status, wall_rule, _wall_text(row), row.name, row.ratio, row.instructions_ratio)
    )
    iratio = row.instructions_ratio
    if iratio is not None:
        instr_rule = f"instructions not > +{_pct(th.max_instruction_slowdown)}"
        status = FAIL if iratio > 1.0 + th.max_instruction_slowdown else PASS
        results.append(RuleResult(status, instr_rule, _instr_text(row), row.name, row.ratio, iratio))
    return results


def _check_suite(rows: Sequence[ComparisonRow], th: Thresholds, placement: bool) -> list[RuleResult]:
    """A whole-loop patch's two suite rules: faster as a whole (HPT), fewer instructions as a whole
    (a placement patch: not more)."""
    wall_rule = (f"suite ≥ {_pct(th.min_target_speedup)} faster (geometric mean), "
                 f"HPT reliability ≥ {MIN_RELIABILITY:.0%}")
    if not rows:
        return [RuleResult(FAIL, wall_rule, "no benchmark measured")]
    gm = geometric_mean(row.ratio for row in rows)
    assert gm is not None
    # Each benchmark counts once (HPT): its log speedup if pyperf's test separates the sides, else a tie.
    reliability = signed_rank_reliability(
        [-math.log(row.ratio) if row.significant and not row.unstable else 0.0 for row in rows])
    faster = sum(row.significant and not row.unstable and row.ratio < 1.0 for row in rows)
    detail = (f"{1.0 / gm:.3f}x faster, {reliability:.1%} likely faster "
              f"({faster} of {len(rows)} benchmarks significantly faster)")
    problems = []
    if 1.0 / gm < 1.0 + th.min_target_speedup:
        problems.append(f"speedup {1.0 / gm:.3f}x < {1.0 + th.min_target_speedup:.3f}x")
    if reliability < MIN_RELIABILITY:
        problems.append(f"reliability {reliability:.1%} < {MIN_RELIABILITY:.0%}")
    if problems:
        detail += " [" + "; ".join(problems) + "]"
    results = [RuleResult(FAIL if problems else PASS, wall_rule, detail, None, gm)]
    counted = [row.instructions_ratio for row in rows if row.instructions_ratio is not None]
    if len(counted) < len(rows) and th.require_instructions:
        missing = ", ".join(row.name for row in rows if row.instructions_ratio is None)
        results.append(RuleResult(FAIL, _suite_instructions_rule(th, placement),
                                  f"not confirmed in instructions mode (no counts: {missing})"))
    elif counted:
        results.append(_check_suite_instructions(counted, th, placement))
    return results


def _suite_instructions_rule(th: Thresholds, placement: bool) -> str:
    if placement:
        return (f"suite instructions not > +{_pct(th.max_instruction_slowdown)} "
                "(geometric mean; a placement change)")
    return f"suite instructions ≤ -{_pct(th.min_target_instruction_reduction)} (geometric mean)"


def _check_suite_instructions(ratios: Sequence[float], th: Thresholds, placement: bool) -> RuleResult:
    """The geometric mean of the benchmarks' instruction ratios (head / base) drops by the threshold
    (a placement patch: grows by at most ``max_instruction_slowdown``)."""
    rule = _suite_instructions_rule(th, placement)
    igm = geometric_mean(ratios)
    if igm is None:
        return RuleResult(FAIL, rule, "no benchmark counted")
    limit = 1.0 + th.max_instruction_slowdown if placement else 1.0 - th.min_target_instruction_reduction
    ok = igm <= limit
    return RuleResult(PASS if ok else FAIL, rule,
                      f"instructions {(igm - 1.0) * 100:+.2f}% ({len(ratios)} benchmarks)", None, None, igm)


def evaluate(
    rows: Sequence[ComparisonRow],
    targets: Iterable[str],
    thresholds: Thresholds | None = None,
    *,
    tests: TestResults | None = None,
    pystats_deltas: Mapping[str, float] | None = None,
    required_pystats: Iterable[str] = (),
    whole_loop: bool = False,
    placement: bool = False,
) -> Verdict:
    """Judge a patch from its comparison rows.

    ``targets`` are benchmark names (a ``bm_`` prefix is ignored).
    ``pystats_deltas`` maps a pystats counter name to (head - base); each name
    in ``required_pystats`` must be present with a positive delta (e.g. the
    execution count of the new specialized instruction).  ``whole_loop``: the
    patch has no targets and the suite rules judge it (module docstring);
    ``placement``: with ``whole_loop``, a placement patch (module docstring).
    """
    th = thresholds or Thresholds()
    by_name = {canonical_name(row.name): row for row in rows}
    target_names = list(dict.fromkeys(canonical_name(t) for t in targets))
    rules: list[RuleResult] = []

    if whole_loop:
        if target_names:
            rules.append(RuleResult(FAIL, "a whole-loop patch names no target benchmarks",
                                    f"targets: {', '.join(target_names)}"))
        rules.extend(_check_suite(rows, th, placement))
    elif not target_names:
        rules.append(RuleResult(FAIL, "a patch must name its target benchmarks", "no target benchmarks"))
    for name in target_names:
        row = by_name.get(name)
        if row is None:
            rules.append(
                RuleResult(FAIL, "target must be measured", "missing from the comparison results", name)
            )
        else:
            rules.append(_check_target(row, th))

    for row in rows:
        rules.extend(_check_regression(row, th))

    if tests is not None:
        detail = "tests passed" if tests.passed else "tests failed"
        if tests.summary:
            detail += f" ({tests.summary})"
        rules.append(RuleResult(PASS if tests.passed else FAIL, "tests must pass", detail))

    for counter in dict.fromkeys(required_pystats):
        delta = None if pystats_deltas is None else pystats_deltas.get(counter)
        if delta is None:
            rules.append(RuleResult(FAIL, "pystats counter must increase", f"{counter}: no pystats data"))
        else:
            rules.append(
                RuleResult(
                    PASS if delta > 0 else FAIL,
                    "pystats counter must increase",
                    f"{counter}: {delta:+g}",
                )
            )

    targets_ok = whole_loop or (bool(target_names) and all(
        any(r.status == PASS and r.benchmark == name and r.rule.startswith("target") for r in rules)
        for name in target_names
    ))
    passed = targets_ok and not any(rule.status == FAIL for rule in rules)
    return Verdict(passed=passed, rules=tuple(rules))


def evaluate_instructions(
    counts: Mapping[str, tuple[int, int]],
    targets: Iterable[str],
    thresholds: Thresholds | None = None,
    *,
    whole_loop: bool = False,
    placement: bool = False,
) -> Verdict:
    """Judge a patch on instruction counts alone (``quicken validate --instructions-only``).

    ``counts`` maps a benchmark to (base, head) instructions per loop.  The
    instruction half of :func:`evaluate`: every target's count (a whole-loop
    patch: the suite's geometric mean) drops by at least
    ``min_target_instruction_reduction`` (a placement patch's: grows by at most
    ``max_instruction_slowdown``), and no count grows more than ``max_instruction_slowdown``.
    """
    th = thresholds or Thresholds()
    by_name = {canonical_name(name): (name, pair) for name, pair in counts.items()}
    target_names = list(dict.fromkeys(canonical_name(t) for t in targets))
    rules: list[RuleResult] = []
    if whole_loop:
        rules.append(_check_suite_instructions([head / base for base, head in counts.values()], th,
                                               placement))
    elif not target_names:
        rules.append(RuleResult(FAIL, "a patch must name its target benchmarks", "no target benchmarks"))
    target_rule = f"target instructions ≤ -{_pct(th.min_target_instruction_reduction)}"
    for name in target_names:
        if name not in by_name:
            rules.append(RuleResult(FAIL, "target must be measured", "missing from the instruction counts",
                                    name))
            continue
        base, head = by_name[name][1]
        ratio = head / base
        ok = ratio <= 1.0 - th.min_target_instruction_reduction
        rules.append(RuleResult(PASS if ok else FAIL, target_rule,
                                f"instructions {(ratio - 1.0) * 100:+.2f}%", by_name[name][0], None, ratio))
    growth_rule = f"instructions not > +{_pct(th.max_instruction_slowdown)}"
    for name, (base, head) in counts.items():
        ratio = head / base
        rules.append(RuleResult(FAIL if ratio > 1.0 + th.max_instruction_slowdown else PASS, growth_rule,
                                f"instructions {(ratio - 1.0) * 100:+.2f}%", name, None, ratio))
    passed = (whole_loop or bool(target_names)) and not any(rule.status == FAIL for rule in rules)
    return Verdict(passed=passed, rules=tuple(rules))
