"""Tests for quicken.gate: the verdict must pass and fail for the right reasons."""

from __future__ import annotations

from pathlib import Path

import pytest
from quicken import compare as C
from quicken import gate as G

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pyperf"

# shaped_head vs shaped_base: target_op 1.43x faster, other_op 1.20x slower
# (both significant), noisy_op unstable (std dev 40% of the mean).
INSTR_BASE = {"target_op": 10_000, "other_op": 5_000, "noisy_op": 7_000}
INSTR_HEAD = {"target_op": 7_590, "other_op": 5_000, "noisy_op": 7_000}


def shaped_rows(
    names: tuple[str, ...] = ("target_op", "other_op", "noisy_op"),
    base_instr: dict[str, int] | None = INSTR_BASE,
    head_instr: dict[str, int] | None = INSTR_HEAD,
) -> list[C.ComparisonRow]:
    comparison = C.compare_files(
        FIXTURES / "shaped_base.json",
        FIXTURES / "shaped_head.json",
        base_instructions=base_instr,
        head_instructions=head_instr,
    )
    return [row for row in comparison.rows if row.name in names]


def test_target_passes() -> None:
    verdict = G.evaluate(shaped_rows(("target_op",)), ["target_op"])
    assert verdict.passed, verdict.render()
    assert verdict.failures == [] and verdict.warnings == []
    target_rule = verdict.rules[0]
    assert target_rule.status == "pass"
    assert str(target_rule) == (
        "target_op: 1.43x faster (significant), instructions -24.1% — "
        "target ≥ 15% faster, significant, instructions ≤ -5%: pass"
    )
    assert verdict.render().startswith("gate: PASS (0 failed, 0 warning(s), ")


def test_bm_prefix_in_targets() -> None:
    assert G.evaluate(shaped_rows(("target_op",)), ["bm_target_op"]).passed


def test_target_too_slow() -> None:
    verdict = G.evaluate(shaped_rows(("target_op",)), ["target_op"], G.Thresholds(min_target_speedup=0.5))
    assert not verdict.passed
    [failure] = verdict.failures
    assert failure.benchmark == "target_op"
    assert "speedup 1.429x < 1.500x" in failure.detail
    assert "target ≥ 50% faster" in str(failure)


def test_non_target_significantly_slower() -> None:
    verdict = G.evaluate(shaped_rows(("target_op", "other_op")), ["target_op"])
    assert not verdict.passed
    [failure] = verdict.failures
    assert failure.benchmark == "other_op"
    assert str(failure) == "other_op: 1.20x slower (significant) — no significant slowdown > 1%: fail"
    # With a tolerance above the slowdown it passes.
    relaxed = G.evaluate(
        shaped_rows(("target_op", "other_op")), ["target_op"], G.Thresholds(max_wall_slowdown=0.25)
    )
    assert relaxed.passed, relaxed.render()


def test_instructions_not_confirming() -> None:
    flat = dict(INSTR_HEAD, target_op=INSTR_BASE["target_op"])
    verdict = G.evaluate(shaped_rows(("target_op",), head_instr=flat), ["target_op"])
    assert not verdict.passed
    assert "instructions not confirming (+0.0%)" in verdict.failures[0].detail
    # A small reduction below the required 5% does not confirm either.
    small = dict(INSTR_HEAD, target_op=9_800)
    assert not G.evaluate(shaped_rows(("target_op",), head_instr=small), ["target_op"]).passed


def test_instructions_missing() -> None:
    rows = shaped_rows(("target_op",), base_instr=None, head_instr=None)
    verdict = G.evaluate(rows, ["target_op"])
    assert not verdict.passed
    assert "not confirmed in instructions mode (no counts)" in verdict.failures[0].detail
    assert "instructions not measured" in verdict.failures[0].detail
    assert G.evaluate(rows, ["target_op"], G.Thresholds(require_instructions=False)).passed


def test_non_target_instruction_regression() -> None:
    more = dict(INSTR_HEAD, other_op=5_030)  # +0.6% > 0.5% tolerance
    rows = shaped_rows(("target_op", "other_op"), head_instr=more)
    verdict = G.evaluate(rows, ["target_op"], G.Thresholds(max_wall_slowdown=0.25))
    assert not verdict.passed
    [failure] = verdict.failures
    assert (failure.benchmark, failure.rule) == ("other_op", "instructions not > +0.5%")
    ok = dict(INSTR_HEAD, other_op=5_020)  # +0.4%
    rows = shaped_rows(("target_op", "other_op"), head_instr=ok)
    assert G.evaluate(rows, ["target_op"], G.Thresholds(max_wall_slowdown=0.25)).passed


def test_unstable_target_warns_and_does_not_pass() -> None:
    instr = dict(INSTR_HEAD, noisy_op=5_000)
    verdict = G.evaluate(
        shaped_rows(("noisy_op",), head_instr=instr), ["noisy_op"], G.Thresholds(min_target_speedup=0.0)
    )
    assert not verdict.passed
    target_rule = verdict.rules[0]
    # Not significant either, so it fails; the unstable reasons are in the text.
    assert target_rule.status == "fail"
    assert "unstable: head: std dev is 40% of the mean" in target_rule.detail


def test_unstable_but_otherwise_good_target_is_a_warning() -> None:
    row = shaped_rows(("target_op",))[0]
    unstable = C.ComparisonRow(**{**row.__dict__, "unstable_reasons": ("head: only 1 value(s)",)})
    verdict = G.evaluate([unstable], ["target_op"])
    assert not verdict.passed
    assert verdict.failures == []
    [warning] = [r for r in verdict.warnings if r.benchmark == "target_op"]
    assert warning.rule.startswith("target")
    assert str(warning).endswith(": warn")


def test_unstable_non_target_slowdown_is_a_warning() -> None:
    verdict = G.evaluate(shaped_rows(("target_op", "noisy_op")), ["target_op"])
    assert verdict.passed, verdict.render()
    [warning] = verdict.warnings
    assert warning.benchmark == "noisy_op"
    assert "1.02x slower (not significant), unstable" in warning.detail


def test_missing_and_empty_targets() -> None:
    verdict = G.evaluate(shaped_rows(("target_op",)), ["target_op", "dict_items"])
    assert not verdict.passed
    assert [(r.benchmark, r.detail) for r in verdict.failures] == [
        ("dict_items", "missing from the comparison results")
    ]
    verdict = G.evaluate(shaped_rows(("target_op",)), [])
    assert not verdict.passed
    assert verdict.failures[0].detail == "no target benchmarks"


def test_tests_and_pystats() -> None:
    rows = shaped_rows(("target_op",))
    failed = G.evaluate(rows, ["target_op"], tests=G.TestResults(False, "2 of 480 failed"))
    assert not failed.passed
    assert str(failed.failures[0]) == "tests failed (2 of 480 failed) — tests must pass: fail"
    assert G.evaluate(rows, ["target_op"], tests=G.TestResults(True)).passed

    deltas = {"FOR_ITER_DICT_ITEMS": 1200.0, "BINARY_OP_ADD_INT_FLOAT": 0.0}
    ok = G.evaluate(rows, ["target_op"], pystats_deltas=deltas, required_pystats=["FOR_ITER_DICT_ITEMS"])
    assert ok.passed
    zero = G.evaluate(
        rows, ["target_op"], pystats_deltas=deltas, required_pystats=["BINARY_OP_ADD_INT_FLOAT"]
    )
    assert not zero.passed
    missing = G.evaluate(rows, ["target_op"], required_pystats=["X"])
    assert not missing.passed and missing.failures[0].detail == "X: no pystats data"


def test_recorded_results_pass_and_fail() -> None:
    """Real recordings: loop_sum ~1.9x faster, str_join unchanged-ish."""
    comparison = C.compare_files(
        FIXTURES / "base.json",
        FIXTURES / "head.json",
        base_instructions={"loop_sum": 2000, "str_join": 300},
        head_instructions={"loop_sum": 1000, "str_join": 300},
    )
    verdict = G.evaluate(comparison.rows, ["loop_sum"])
    assert verdict.passed, verdict.render()
    assert not G.evaluate(comparison.rows, ["str_join"]).passed


def test_thresholds_validate() -> None:
    with pytest.raises(ValueError):
        G.Thresholds(min_target_speedup=15)
    with pytest.raises(ValueError):
        G.Thresholds(max_wall_slowdown=-0.01)


# -- whole-loop patches (Quicken-Scope: loop): the suite is the target --------------

LOOP = G.Thresholds(min_target_speedup=0.02, min_target_instruction_reduction=0.02)


def loop_row(name: str, ratio: float, significant: bool = True, instructions: float | None = 0.94
             ) -> C.ComparisonRow:
    return C.ComparisonRow(name, "second", 1.0, 0.01, 60, ratio, 0.01, 60, ratio, significant, None,
                           base_instructions=None if instructions is None else 100_000,
                           head_instructions=None if instructions is None else round(100_000 * instructions))


def suite_rows(faster: int = 7, total: int = 20) -> list[C.ComparisonRow]:
    """``faster`` benchmarks 1.05x faster (significant), the rest 1.01x (not significant)."""
    return [loop_row(f"bm{i}", 0.95 if i < faster else 0.99, i < faster) for i in range(total)]


def test_a_whole_loop_patch_passes_on_the_suite_as_a_whole() -> None:
    verdict = G.evaluate(suite_rows(), [], LOOP, whole_loop=True)
    assert verdict.passed, verdict.render()
    wall, instructions = verdict.rules[:2]
    assert str(wall) == ("1.025x faster, 98.7% likely faster (7 of 20 benchmarks significantly faster) — "
                         "suite ≥ 2% faster (geometric mean), HPT reliability ≥ 95%: pass")
    assert str(instructions) == ("instructions -6.00% (20 benchmarks) — "
                                 "suite instructions ≤ -2% (geometric mean): pass")
    # The same rows judged as a targeted patch: it names no targets.
    assert "no target benchmarks" in G.evaluate(suite_rows(), [], LOOP).render()


def test_a_whole_loop_gain_does_not_buy_a_slowdown() -> None:
    rows = [*suite_rows(), loop_row("slower", 1.03)]
    verdict = G.evaluate(rows, [], LOOP, whole_loop=True)
    assert not verdict.passed
    assert [(r.benchmark, r.rule) for r in verdict.failures] == [("slower", "no significant slowdown > 1%")]


def test_a_whole_loop_patch_fails_without_confidence_speed_or_instructions() -> None:
    few = G.evaluate(suite_rows(faster=3), [], LOOP, whole_loop=True)
    assert [r.detail.split("[")[1] for r in few.failures] == [
        "speedup 1.016x < 1.020x; reliability 85.6% < 95%]"]
    flat = [loop_row(r.name, r.ratio, r.significant, 0.99) for r in suite_rows()]
    (failure,) = G.evaluate(flat, [], LOOP, whole_loop=True).failures
    assert failure.detail == "instructions -1.00% (20 benchmarks)"
    uncounted = [*suite_rows(), loop_row("wall_only", 0.95, instructions=None)]
    (failure,) = G.evaluate(uncounted, [], LOOP, whole_loop=True).failures
    assert failure.detail == "not confirmed in instructions mode (no counts: wall_only)"
    named = G.evaluate(suite_rows(), ["bm0"], LOOP, whole_loop=True)
    assert [r.rule for r in named.failures] == ["a whole-loop patch names no target benchmarks"]
    assert not G.evaluate([], [], LOOP, whole_loop=True).passed


def test_a_whole_loop_patch_on_instruction_counts_alone() -> None:
    counts = {"a": (1000, 930), "b": (1000, 990)}
    verdict = G.evaluate_instructions(counts, [], LOOP, whole_loop=True)
    assert verdict.passed and str(verdict.rules[0]).startswith("instructions -4.05% (2 benchmarks)")
    grown = G.evaluate_instructions({**counts, "c": (1000, 1010)}, [], LOOP, whole_loop=True)
    assert [r.benchmark for r in grown.failures] == ["c"]
    assert not G.evaluate_instructions({"a": (1000, 990)}, [], LOOP, whole_loop=True).passed


def test_a_placement_patch_needs_the_wall_clock_not_fewer_instructions() -> None:
    """``Quicken-Scope: layout``: the same code in other places; its instruction counts may stay flat
    but not grow, and the wall-clock rules are those of any whole-loop patch."""
    flat = [loop_row(r.name, r.ratio, r.significant, 1.002) for r in suite_rows()]
    assert not G.evaluate(flat, [], LOOP, whole_loop=True).passed
    verdict = G.evaluate(flat, [], LOOP, whole_loop=True, placement=True)
    assert verdict.passed, verdict.render()
    assert str(verdict.rules[1]) == ("instructions +0.20% (20 benchmarks) — suite instructions not > +0.5% "
                                     "(geometric mean; a placement change): pass")
    grown = [loop_row(r.name, r.ratio, r.significant, 1.006) for r in suite_rows()]
    failures = G.evaluate(grown, [], LOOP, whole_loop=True, placement=True).failures
    assert [r.detail for r in failures if r.benchmark is None] == ["instructions +0.60% (20 benchmarks)"]
    slow = [loop_row(r.name, 0.99, False, 1.0) for r in suite_rows()]
    assert "speedup 1.010x < 1.020x" in G.evaluate(slow, [], LOOP, whole_loop=True, placement=True).render()
    counts = {"a": (1000, 1001), "b": (1000, 1000)}
    assert G.evaluate_instructions(counts, [], LOOP, whole_loop=True, placement=True).passed
    assert not G.evaluate_instructions(counts, [], LOOP, whole_loop=True).passed
