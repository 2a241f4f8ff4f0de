"""Validation records: binding, freshness, thresholds; pystats family figures."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import synthetic as S
from quicken import calibrate, compare, gate, pystats, records, validate
from quicken.errors import QuickenError
from quicken.series import load as load_series

EPYC = records.Machine("x86_64", "AMD EPYC", 2)
XEON = records.Machine("x86_64", "Intel Xeon", 2)


def write_record(project: S.Project, name: str, passed: bool,
                 runs: tuple[tuple[records.Machine, str, str, bool], ...] = ()) -> Path:
    """A record of ``name``'s current content; ``runs``: (machine, date, mode, passed)."""
    cfg = project.cfg()
    series = load_series(cfg)
    patch = series.patch(name)
    path = validate.record_path(cfg, patch)
    record = records.Record("validation", validate.binding(cfg, series, patch, "release"),
                            details={"verdict": {"passed": passed, "rules": []},
                                     "date": "2026-11-24T00:00:00Z"})
    for machine, date, mode, ok in runs or ((EPYC, "2026-11-24T00:00:00Z", "full", passed),):
        record.add(records.Run(machine, date, mode, ok))
    records.save(path, record)
    return path


def state(project: S.Project, name: str) -> tuple[str, str]:
    cfg = project.cfg()
    series = load_series(cfg)
    st = validate.standing(cfg, series, series.patch(name))
    return st.word(), st.why


def test_never_validated(make_project, two_patches) -> None:  # type: ignore[no-untyped-def]
    project = make_project(two_patches)
    assert state(project, two_patches[0].name) == ("never", "no validation record")


def test_validated_then_stale_when_the_patch_changes(make_project, two_patches) -> None:  # type: ignore[no-untyped-def]
    project = make_project(two_patches)
    name = two_patches[1].name
    write_record(project, name, passed=True)
    assert state(project, name)[0] == "validated"
    with open(project.patches / name, "ab") as f:
        f.write(b"\n")  # not the code: the record holds
    assert state(project, name)[0] == "validated"
    S.change_code(project.patches / name)
    assert state(project, name) == ("stale", "patch changed (diff or gate trailers)")


def test_stale_when_an_owned_overlay_file_changes(make_project, two_patches) -> None:  # type: ignore[no-untyped-def]
    project = make_project(two_patches)
    name = two_patches[0].name
    write_record(project, name, passed=True)
    (project.overlay / "Include/quicken_counter.h").write_text("#define QUICKEN_COUNTER 2\n")
    assert state(project, name) == ("stale", "overlay files changed")
    # The other patch owns no overlay file: its record is unaffected.
    write_record(project, two_patches[1].name, passed=True)
    assert state(project, two_patches[1].name)[0] == "validated"


def test_stale_when_pin_or_configuration_changes(make_project, two_patches) -> None:  # type: ignore[no-untyped-def]
    project = make_project(two_patches)
    name = two_patches[0].name
    path = write_record(project, name, passed=True)
    record = json.loads(path.read_text())
    record["binding"]["pin"]["sha256"] = "0" * 64
    path.write_text(json.dumps(record))
    assert state(project, name) == ("stale", "pin changed")
    record["binding"] = validate.binding(project.cfg(), load_series(project.cfg()),
                                         load_series(project.cfg()).patch(name), "release")
    record["binding"]["config"]["configure"] = ["--with-lto"]
    path.write_text(json.dumps(record))
    assert state(project, name) == ("stale", "build configuration changed")
    record["binding"]["config"]["configure"] = []
    record["binding"]["settings"]["threshold"] = 0.5
    path.write_text(json.dumps(record))
    assert state(project, name) == ("stale", "the gate's settings changed")


def test_failed_verdict_and_unreadable_record(make_project, two_patches) -> None:  # type: ignore[no-untyped-def]
    project = make_project(two_patches)
    name = two_patches[0].name
    path = write_record(project, name, passed=False)
    assert state(project, name)[0] == "failed"
    path.write_text("{not json")
    assert state(project, name)[0] == "stale"


def test_records_are_not_patches(make_project, two_patches) -> None:  # type: ignore[no-untyped-def]
    """A record under patches/ must not trip the 'patch file not in the series' check."""
    project = make_project(two_patches)
    write_record(project, two_patches[0].name, passed=True)
    assert len(load_series(project.cfg()).patches) == 2


def test_thresholds_from_config_and_trailer(make_project, two_patches) -> None:  # type: ignore[no-untyped-def]
    project = make_project(two_patches)
    cfg = project.cfg()
    series = load_series(cfg)
    th = validate.thresholds(cfg, series.patches[0])
    assert (th.min_target_speedup, th.max_wall_slowdown, th.max_instruction_slowdown) == (0.15, 0.01, 0.005)
    text = (project.patches / two_patches[1].name).read_text()
    marker = "A new instruction: the generated header must be regenerated on apply.\n"
    (project.patches / two_patches[1].name).write_text(
        text.replace(marker, marker + "\nQuicken-Threshold: 22.5%\n"))
    patch = load_series(cfg).patches[1]
    assert validate.thresholds(cfg, patch).min_target_speedup == pytest.approx(0.225)
    (project.patches / two_patches[1].name).write_text(
        text.replace(marker, marker + "\nQuicken-Threshold: fast\n"))
    with pytest.raises(QuickenError, match="Quicken-Threshold: 'fast' is not a percentage"):
        validate.thresholds(cfg, load_series(cfg).patches[1])


def test_run_tests_without_declared_tests_fails(tmp_path: Path) -> None:
    result = validate.run_tests(Path("/nonexistent/python"), [], tmp_path / "log", 1)
    assert result == gate.TestResults(False, "the patch declares no Quicken-Tests")


RAW = {
    "_specialized_instructions": [
        "BINARY_OP_ADD_INT", "TO_BOOL_INT", "LOAD_ATTR_SLOT", "LOAD_SUPER_ATTR_ATTR",
    ],
    "opcode[BINARY_OP].specializable": 1,
    "opcode[BINARY_OP].execution_count": 300,
    "opcode[BINARY_OP].specialization.deferred": 280,
    "opcode[BINARY_OP_ADD_INT].execution_count": 700,
    "opcode[LOAD_FAST].execution_count": 2000,
    "opcode[TO_BOOL].specializable": 1,
    "opcode[TO_BOOL].execution_count": 0,
    "opcode[TO_BOOL_INT].execution_count": 100,
    "opcode[LOAD_SUPER_ATTR].specializable": 1,
    "opcode[LOAD_SUPER_ATTR].execution_count": 10,
    "opcode[LOAD_ATTR].specializable": 1,
    "opcode[LOAD_ATTR].execution_count": 90,
    "opcode[LOAD_ATTR_SLOT].execution_count": 10,
    "opcode[POP_JUMP_IF_TRUE].specializable": 1,  # a branch-history cache, no specialized forms
    "opcode[POP_JUMP_IF_TRUE].execution_count": 50,
    "opcode[CALL].specializable": 1,
    "opcode[CALL].execution_count": 5,
    "opcode[CALL_KW].execution_count": 40,  # a basic instruction, not a form of CALL
}


def test_pystats_family_shares() -> None:
    s = pystats.summarize(RAW)
    assert s.total == 300 + 700 + 2000 + 100 + 10 + 90 + 10 + 50 + 5 + 40
    assert s.families["BINARY_OP"].specialized_share == pytest.approx(0.7)
    assert s.families["TO_BOOL"].specialized_share == 1.0
    # LOAD_SUPER_ATTR is not a specialized form of LOAD_ATTR (prefix is the family plus "_").
    assert s.families["LOAD_ATTR"].specialized == 10
    assert s.families["CALL"].specialized == 0 and not s.families["CALL"].adaptive
    assert not s.families["POP_JUMP_IF_TRUE"].adaptive
    assert s.unspecialized == 300 + 10 + 90
    assert s.unspecialized_share == pytest.approx(400 / s.total)
    assert s.cpython_not_specialized_share == pytest.approx((400 + 50 + 5) / s.total)
    assert s.upstream_not_specialized_share == pytest.approx((400 + 5) / s.total)


def test_pystats_deltas_and_render() -> None:
    base = pystats.summarize(RAW)
    better = dict(RAW)
    better["opcode[BINARY_OP].execution_count"] = 30
    better["opcode[BINARY_OP_ADD_INT].execution_count"] = 970
    head = pystats.summarize(better)
    d = pystats.deltas(base, head, ["BINARY_OP", "NO_SUCH_FAMILY"])
    assert d["BINARY_OP specialized share"] == pytest.approx(0.97 - 0.7)
    assert "NO_SUCH_FAMILY specialized share" not in d
    assert d["unspecialized share (lower is better)"] < 0
    verdict = gate.evaluate([], ["x"], pystats_deltas=d, required_pystats=["BINARY_OP specialized share"])
    assert any(r.status == "pass" and "BINARY_OP" in r.detail for r in verdict.rules)
    worse = gate.evaluate([], ["x"], pystats_deltas=pystats.deltas(head, base, ["BINARY_OP"]),
                          required_pystats=["BINARY_OP specialized share"])
    assert any(r.status == "fail" and "BINARY_OP" in r.detail for r in worse.rules)
    table = pystats.render(base, head)
    assert "| BINARY_OP | 70.0% | 97.0% | 280 | 280 | 0 | 0 |" in table
    assert "POP_JUMP_IF_TRUE |" not in table
    assert f"| **adaptive families not specialized** | {400 / base.total:.2%} |" in table
    assert f"(3.14's classification, gh-123236) | {405 / base.total:.2%} | {135 / head.total:.2%} |" in table
    # where the head's share is, largest family first, with what specializing it and those above
    # would leave; the branches are not in it (3.14's classification)
    generic = table[table.index("| not specialized (3.14's classification)"):].splitlines()[2:]
    assert generic == [
        f"| LOAD_ATTR | 90 | 90 | {90 / head.total:.2%} | {45 / head.total:.2%} |",
        f"| BINARY_OP | 300 | 30 | {30 / head.total:.2%} | {15 / head.total:.2%} |",
        f"| LOAD_SUPER_ATTR | 10 | 10 | {10 / head.total:.2%} | {5 / head.total:.2%} |",
        f"| CALL | 5 | 5 | {5 / head.total:.2%} | 0.00% |",
    ]


def test_pystats_load_refuses_garbage(tmp_path: Path) -> None:
    bad = tmp_path / "x.json"
    bad.write_text("nope")
    with pytest.raises(QuickenError, match="not a pystats JSON file"):
        pystats.load(bad)
    old = tmp_path / "old.json"
    old.write_text('{"opcode[CALL].execution_count": 1}')
    with pytest.raises(QuickenError, match=r"old\.json: no _specialized_instructions list"):
        pystats.load(old)


def _row(name: str, ratio: float, significant: bool, instr: tuple[int, int] | None,
         unstable: tuple[str, ...] = ()) -> compare.ComparisonRow:
    return compare.ComparisonRow(
        name=name, unit="second", base_mean=1.0, base_stdev=0.01, base_values=12, head_mean=ratio,
        head_stdev=0.01, head_values=12, ratio=ratio, significant=significant, t_score=None,
        unstable_reasons=unstable, base_instructions=instr[0] if instr else None,
        head_instructions=instr[1] if instr else None,
    )


def test_only_unconfirmed_wall_slowdowns_of_non_targets_are_rechecked() -> None:
    rows = (
        _row("nbody", 1.02, True, (1000, 1000)),          # slower, instructions flat: recheck
        _row("float", 1.02, True, (1000, 1100)),          # instructions confirm: a real regression
        _row("richards", 1.02, False, (1000, 1000)),      # not significant
        _row("go", 1.005, True, (1000, 1000)),            # within tolerance
        _row("chaos", 1.10, True, (1000, 1000), ("unstable",)),  # unstable: the gate could only warn
        _row("raytrace", 1.02, True, None),               # no instruction count to compare
        _row("int_bitwise", 1.02, True, (1000, 1000)),    # a target is judged by its own rule
    )
    assert validate.unconfirmed_slowdowns(rows, ["bm_int_bitwise"], gate.Thresholds()) == ["nbody", "chaos"]


def test_targets_whose_wall_clock_disagrees_with_their_instructions_are_rechecked() -> None:
    th = gate.Thresholds(min_target_speedup=0.15, min_target_instruction_reduction=0.15)
    rows = (
        _row("a", 0.80, True, (1000, 800), ("base: std dev is 12% of the mean",)),  # unstable
        _row("b", 0.85, False, (1000, 800)),   # not significant
        _row("c", 0.90, True, (1000, 800)),    # significant, short of 1.15x
        _row("d", 0.80, True, (1000, 800)),    # passes as measured
        _row("e", 0.80, False, (1000, 900)),   # instructions do not confirm: fails, no recheck
        _row("f", 0.80, False, None),          # no counts
        _row("nbody", 1.20, False, (1000, 800)),  # not a target
    )
    assert validate.unconfirmed_targets(rows, list("abcdef"), th) == ["a", "b", "c"]


def test_instruction_failures_are_explained_by_function() -> None:
    from quicken import gate
    from quicken import validate as V
    verdict = gate.Verdict(False, (
        gate.RuleResult("fail", "instructions not > +0.5%", "instructions +0.7%", "init_defaults",
                        1.0, 1.007),
        gate.RuleResult("fail", "no significant slowdown > 1%", "1.04x slower", "nbody", 1.04, 1.0),
        gate.RuleResult("pass", "instructions not > +0.5%", "instructions +0.0%", "nbody", 1.04, 1.0),
    ))
    where = V.explain_instruction_failures(verdict, {"init_defaults": [("_PyEval_EvalFrameDefault", 180)]})
    assert where == ("init_defaults: _PyEval_EvalFrameDefault +180",)


def test_stale_when_the_code_below_changes_but_not_its_description(make_project, two_patches) -> None:  # type: ignore[no-untyped-def]
    project = make_project(two_patches)
    first, second = two_patches[0].name, two_patches[1].name
    write_record(project, second, passed=True)
    mail = project.patches / first
    # Rewording the earlier patch's description leaves the code below `second` as it was ...
    mail.write_bytes(mail.read_bytes().replace(b"Adds a call counter", b"Adds a counter of calls"))
    assert state(project, first) == ("never", "no validation record")
    assert state(project, second)[0] == "validated"
    # ... changing its code, or an overlay file it owns, does not.
    (project.overlay / "Include/quicken_counter.h").write_text("#define QUICKEN_COUNTER 2\n")
    assert state(project, second) == ("stale", "the patches below it changed")
    (project.overlay / "Include/quicken_counter.h").write_text("#define QUICKEN_COUNTER 1\n")
    assert state(project, second)[0] == "validated"
    code = mail.read_bytes().replace(b'+#include "quicken_counter.h"', b'+#include "quicken_count.h"')
    mail.write_bytes(code)
    assert state(project, second) == ("stale", "the patches below it changed")


def test_a_slowdown_that_follows_the_layout_is_not_significant() -> None:
    # 4 % slower where the patch put the loop, faster or level at the other offsets: layout noise.
    noise = calibrate.LayoutRecheck("neg_index", (0, 16, 32, 48), (1.04, 0.97, 1.01, 0.99))
    assert noise.ratio == pytest.approx((1.04 * 0.97 * 1.01 * 0.99) ** 0.25)
    assert not noise.significant
    # Slower at every offset by about the same: the patch's own effect.
    real = calibrate.LayoutRecheck("neg_index", (0, 16, 32, 48), (1.04, 1.03, 1.05, 1.04))
    assert real.significant and real.ratio > 1.03
    assert real.describe() == ("neg_index: 1.04x slower across layouts "
                               "(+0B 1.040, +16B 1.030, +32B 1.050, +48B 1.040; significant)")
    # A single layout says nothing about the spread between layouts.
    assert not calibrate.LayoutRecheck("x", (0,), (1.2,)).significant
    # Identical ratios everywhere: no spread, the sign decides.
    assert calibrate.LayoutRecheck("x", (0, 16), (1.02, 1.02)).significant


def test_the_row_judged_across_layouts_replaces_the_measured_one() -> None:
    measured = _row("neg_index", 1.04, True, (1000, 1000), ("head: std dev is 11% of the mean",))
    row = calibrate.LayoutRecheck("neg_index", (0, 16, 32, 48), (1.04, 0.97, 1.01, 0.99)).row(measured)
    assert not row.significant and not row.unstable
    assert row.ratio == pytest.approx(row.head_mean / row.base_mean)
    assert (row.base_instructions, row.head_instructions) == (1000, 1000)
    verdict = gate.evaluate((row,), ["int_bitwise"])
    assert [r.status for r in verdict.rules if r.benchmark == "neg_index"] == ["pass", "pass"]


def test_unconfirmed_slowdowns_are_measured_again_at_moved_layouts(
        applied: S.Project, two_patches, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from quicken import bench
    cfg = applied.cfg()
    patch = load_series(cfg).patches[1]
    runs: list[tuple[str, str, str, str, tuple[int, int]]] = []
    shifts = validate.RECHECK_SHIFTS
    later = dict(zip(shifts, (0.98, 1.0, 0.99), strict=True))  # neg_index at the moved layouts: no slowdown

    def run(_cfg, base, head, spec, mode, *_args, **kwargs):  # type: ignore[no-untyped-def]
        runs.append((base, head, spec, mode, kwargs["relink"]))
        shift, _ = kwargs["relink"]
        rows = (_row("neg_index", later[shift], True, None),)
        return bench.BenchResult(kwargs["output"], spec, mode, compare.Comparison("b", "h", rows))

    monkeypatch.setattr(bench, "run", run)
    monkeypatch.setattr(validate, "_runnable", lambda _cfg, names: names)
    first = bench.BenchResult(tmp_path, "quick", "both", compare.Comparison("b", "h", (
        _row("neg_index", 1.04, True, (1000, 1000)),   # slower, instructions flat: re-measured
        _row("nbody", 1.00, False, (1000, 1000)),      # not slower: left as measured
    )))
    rows, checks = validate.recheck_across_layouts(
        cfg, first, ("B", "H"), ("base", "head"), "release", patch, None, lambda _: None, more_shifts=())
    assert runs == [("B", "H", "neg_index", "wall", (shift, shift)) for shift in shifts]  # both relinked
    assert [c.as_record()["ratios"] for c in checks] == [[1.04, 0.98, 1.0, 0.99]]
    assert rows[0].name == "neg_index" and not rows[0].significant
    assert rows[1] == first.comparison.rows[1]  # type: ignore[union-attr]


def test_a_benchmark_the_layouts_leave_undecided_is_measured_at_more_layouts_once(
        applied: S.Project, two_patches, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from quicken import bench, calibrate
    cfg = applied.cfg()
    patch = load_series(cfg).patches[1]
    assert not patch.targets  # both benchmarks below are non-targets: their boundary is 1.01
    ratios = {  # time ratio at the unmoved layout (0) and each moved one
        "neg_index": {0: 1.04, 1040: 0.98, 2080: 1.03, 3120: 0.99, 528: 1.0, 1568: 0.99, 2608: 1.0},
        "richards": {0: 1.10, 1040: 1.11, 2080: 1.09, 3120: 1.10},  # clearly slower: decided
    }
    runs: list[tuple[str, int]] = []
    monkeypatch.setattr(bench, "run", _layout_run(lambda name, shift, _session: ratios[name][shift], runs))
    monkeypatch.setattr(validate, "_runnable", lambda _cfg, names: names)
    first = bench.BenchResult(tmp_path, "quick", "both", compare.Comparison("b", "h", tuple(
        _row(name, by_shift[0], True, (1000, 1000)) for name, by_shift in ratios.items())))
    messages: list[str] = []
    rows, checks = validate.recheck_across_layouts(
        cfg, first, ("B", "H"), ("base", "head"), "release", patch, None, messages.append)
    assert runs == [("neg_index,richards", s) for s in validate.RECHECK_SHIFTS] + [
        ("neg_index", s) for s in validate.MORE_RECHECK_SHIFTS] + [
        ("richards", s) for s in (0, *validate.RECHECK_SHIFTS)]  # the slowdown's second session
    by_name = {c.name: c for c in checks}
    undecided = by_name["neg_index"]
    assert isinstance(undecided, calibrate.LayoutRecheck)  # not slower across the layouts: judged once
    assert undecided.shifts == (0, *validate.RECHECK_SHIFTS, *validate.MORE_RECHECK_SHIFTS)
    assert list(undecided.ratios) == [ratios["neg_index"][s] for s in undecided.shifts]
    slower = by_name["richards"]
    assert isinstance(slower, calibrate.Reproduced) and slower.reproduced
    assert slower.first.shifts == slower.again.shifts == (0, *validate.RECHECK_SHIFTS)
    assert any("neg_index undecided across 4 layouts" in m for m in messages)
    verdict = gate.evaluate(rows, [])
    failed = {r.benchmark for r in verdict.rules if r.status == "fail" and r.benchmark is not None}
    assert failed == {"richards"}


def _layout_run(ratio, runs: list[tuple[str, int]]):  # type: ignore[no-untyped-def]
    """A stand-in for ``bench.run`` at layout probes: ``ratio(name, shift, session)``, where a
    session starts again each time the unmoved builds (``B`` and ``H``) are measured."""
    from quicken import bench
    session = [0]

    def run(_cfg, base, head, spec, mode, *_args, **kwargs):  # type: ignore[no-untyped-def]
        shift, _ = kwargs["relink"]
        if shift == 0:
            session[0] += 1
        runs.append((spec, shift))
        rows = tuple(_row(name, ratio(name, shift, session[0]), True, None) for name in spec.split(","))
        return bench.BenchResult(kwargs["output"], spec, mode, compare.Comparison("b", "h", rows))
    return run


def test_a_non_target_slowdown_fails_only_if_a_second_session_of_the_layouts_reproduces_it(
        applied: S.Project, two_patches, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from quicken import bench, calibrate
    cfg = applied.cfg()
    patch = load_series(cfg).patches[1]
    assert not patch.targets
    shifts = (0, *validate.RECHECK_SHIFTS)
    # Session 1: the first run (unmoved, given below) and the recheck at three layouts; session 2:
    # all four again, the unmoved builds measured afresh.
    sessions = {
        "dict_keys": ({0: 1.06, 1040: 1.06, 2080: 1.03, 3120: 1.04}, dict.fromkeys(shifts, 1.0)),
        "nbody": ({0: 1.08, 1040: 1.04, 2080: 1.05, 3120: 1.04},
                  {0: 1.05, 1040: 1.04, 2080: 1.06, 3120: 1.03}),
    }
    runs: list[tuple[str, int]] = []
    monkeypatch.setattr(bench, "run", _layout_run(lambda name, shift, k: sessions[name][k][shift], runs))
    monkeypatch.setattr(validate, "_runnable", lambda _cfg, names: names)
    first = bench.BenchResult(tmp_path, "quick", "both", compare.Comparison("b", "h", (
        _row("dict_keys", 1.06, True, (1000, 1000)),
        _row("nbody", 1.08, True, (1000, 1001)),
        _row("float", 1.05, True, (1000, 1050)),  # 5 % more instructions: a slowdown they explain
    )))
    messages: list[str] = []
    rows, checks = validate.recheck_across_layouts(
        cfg, first, ("B", "H"), ("base", "head"), "release", patch, None, messages.append)
    # float's slowdown is the instructions': neither re-measured nor measured again
    assert runs == [("dict_keys,nbody", s) for s in (*validate.RECHECK_SHIFTS, *shifts)]
    by_name = {c.name: c for c in checks}
    assert set(by_name) == {"dict_keys", "nbody"}
    keys, nbody = by_name["dict_keys"], by_name["nbody"]
    assert isinstance(keys, calibrate.Reproduced) and isinstance(nbody, calibrate.Reproduced)
    assert keys.first.significant and not keys.again.significant and not keys.reproduced
    assert nbody.reproduced
    assert "dict_keys: 1.05x slower across layouts" in keys.describe() and "not reproduced" in keys.describe()
    assert keys.as_record()["again"] == {"name": "dict_keys", "shifts": list(shifts), "ratios": [1.0] * 4,
                                          "ratio": 1.0, "t_score": 0.0, "significant": False}
    assert calibrate.judged_from_record(keys.as_record()) == keys  # what export reads back
    verdict = gate.evaluate(rows, [])
    failed = {r.benchmark for r in verdict.rules if r.status == "fail" and r.benchmark is not None}
    assert failed == {"nbody", "float"}
    assert not verdict.passed


def test_a_whole_loop_patch_measures_every_benchmark_at_moved_layouts_and_is_judged_on_the_suite(
        make_project, mails, monkeypatch, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    from quicken import bench
    mail = mails.patch("Cold labels", {"README": "cold\n"},
                       trailers=("Quicken-Scope: loop", "Quicken-Threshold: 2%"))
    cfg = make_project([mail]).cfg()
    patch = load_series(cfg).patches[0]
    assert patch.whole_loop and validate.thresholds(cfg, patch).min_target_speedup == 0.02
    # The same at every layout; six of eight benchmarks faster.
    ratios = {"nbody": 0.95, "richards": 0.96, "float": 1.0, "go": 0.95, "chaos": 0.96, "deltablue": 0.95,
              "raytrace": 0.96, "fannkuch": 1.0}
    runs: list[str] = []

    def run(_cfg, base, head, spec, mode, *_args, **kwargs):  # type: ignore[no-untyped-def]
        runs.append(spec)
        rows = tuple(_row(name, ratios[name], ratios[name] < 1.0, None) for name in spec.split(","))
        return bench.BenchResult(kwargs["output"], spec, mode, compare.Comparison("b", "h", rows))

    monkeypatch.setattr(bench, "run", run)
    monkeypatch.setattr(validate, "_runnable", lambda _cfg, names: names)
    first = bench.BenchResult(tmp_path, "quick", "both", compare.Comparison("b", "h", tuple(
        _row(name, ratio, ratio < 1.0, (1000, 940)) for name, ratio in ratios.items())))
    rows, checks = validate.recheck_across_layouts(
        cfg, first, ("B", "H"), ("base", "head"), "release", patch, None, lambda _: None)
    assert runs == [",".join(ratios)] * len(validate.RECHECK_SHIFTS)  # not only the suspects
    assert [c.name for c in checks] == list(ratios)
    verdict = gate.evaluate(rows, patch.targets, validate.thresholds(cfg, patch), whole_loop=True)
    assert verdict.passed, verdict.render()
    assert "1.035x faster, 99.0% likely faster (6 of 8 benchmarks" in verdict.render()
    three = gate.evaluate(rows[:3], patch.targets, validate.thresholds(cfg, patch), whole_loop=True)
    assert [r.detail.split("[")[1] for r in three.failures] == ["reliability 90.9% < 95%]"]  # too few to tell


def test_the_interval_across_layouts_and_the_boundary_it_may_hold() -> None:
    from quicken import calibrate
    check = calibrate.LayoutRecheck("container_truth", (0, 1040, 2080, 3120), (0.885, 0.880, 0.830, 0.923))
    low, high = check.interval()
    assert low < check.ratio < high and high < 1.0  # significantly faster ...
    th = gate.Thresholds(min_target_speedup=0.15)
    target = validate.boundary("container_truth", ["container_truth"], th)
    assert target == pytest.approx(1 / 1.15)
    assert check.straddles(target)  # ... but 1.15x faster or not, four layouts cannot tell
    assert validate.boundary("richards", ["container_truth"], th) == pytest.approx(1.0 + th.max_wall_slowdown)
    assert not calibrate.LayoutRecheck("x", (0, 16), (0.8, 0.8)).straddles(1 / 1.15)  # no spread
