"""The pipeline on the real pinned CPython: fetch, apply, build, run, refresh.

Uses the fixture series in tests/fixtures/cpython-series (not the product
series): patch 1 adds an overlay header and hooks it into Python/getversion.c
(the patched interpreter's sys.version ends with a tag), patch 2 changes
Python/bytecodes.c so the generated cases must be regenerated.

Slow (a full CPython build; ccache makes the second side cheap).  Set
QUICKEN_SKIP_INTEGRATION=1 to skip it locally.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from binaries import loop_growth, loop_instructions
from quicken import apply, build, codegen, config, records, refresh, source
from quicken.cli import main
from quicken.errors import QuickenError
from quicken.series import load as load_series
from realproject import MARKS, ROOT, write_config
from synthetic import change_code

FIXTURE = ROOT / "tests" / "fixtures" / "cpython-series"
TAG = "quicken-fixture"
NOP_MARK = "Quicken fixture: this comment reaches the generated cases."

pytestmark = MARKS


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> config.Config:
    root = tmp_path_factory.mktemp("project")
    write_config(root, root / "patches", root / "cpython_overlay")
    shutil.copytree(FIXTURE / "patches", root / "patches")
    shutil.copytree(FIXTURE / "cpython_overlay", root / "cpython_overlay")
    return config.load(root)


def git(cfg: config.Config, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cfg.worktree), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_fetch_verifies_the_pin(project: config.Config) -> None:
    src = source.fetch(project)
    assert src.digest == f"sha256:{project.pin.sha256}"
    assert source.sha256_file(src.path) == project.pin.sha256
    assert not [p for p in src.path.parent.iterdir() if p.name.startswith(".partial-")]


def test_apply_commits_one_patch_each_with_regenerated_files(project: config.Config) -> None:
    assert main(["-C", str(project.root), "apply"]) == 0
    log = git(project, "log", "--format=%s").splitlines()
    assert log == ["Mark NOP in the generated cases", "Tag fixture builds in sys.version",
                   "CPython 3.13.15 (pristine)"]
    assert git(project, "rev-parse", "pin-3.13.15^{commit}") == git(project, "rev-parse", "HEAD~2")
    # The generated cases come from regeneration, not from the patch.
    assert NOP_MARK in git(project, "show", "HEAD:Python/generated_cases.c.h")
    assert NOP_MARK not in git(project, "show", "HEAD~1:Python/generated_cases.c.h")
    patch2 = (project.patches / "0002-mark-nop-in-the-generated-cases.patch").read_text()
    assert "generated_cases.c.h" not in patch2
    changed = git(project, "diff", "--name-only", "HEAD~1", "HEAD").splitlines()
    assert {"Python/bytecodes.c", "Python/generated_cases.c.h", "Python/executor_cases.c.h"} <= set(changed)
    assert git(project, "status", "--porcelain") == ""


def test_build_fixups_apply_to_the_pin_and_the_series(project: config.Config, tmp_path: Path) -> None:
    fixups = [f for bc in project.build_configs.values() for f in bc.fixups]
    assert fixups  # the pystats deopt counter
    env = {**os.environ, "GIT_INDEX_FILE": str(tmp_path / "index")}
    for rev in ("pin-3.13.15", "HEAD"):
        subprocess.run(["git", "-C", str(project.worktree), "read-tree", rev], check=True, env=env)
        for fixup in fixups:
            check = subprocess.run(["git", "-C", str(project.worktree), "apply", "--cached", "--check",
                                    str(fixup.path)], capture_output=True, text=True, env=env)
            assert check.returncode == 0, f"{fixup.path.name} on {rev}: {check.stderr}"


def test_regenerating_the_pristine_tree_changes_nothing(project: config.Config) -> None:
    """The rules in quicken.toml reproduce the release's own generated files."""
    wt = apply.WorkTree(project)
    state = wt.state()
    scratch = apply.prepare_scratch(wt, state.pristine)
    inputs = ["Python/bytecodes.c", "Python/ceval.c", "Objects/longobject.c"]
    ran = apply.regen.regenerate(project, scratch, inputs, cache=None)
    assert ran == ["cases", "clinic", "global-objects"]
    assert scratch("write-tree") == wt.repo().tree_of(state.pristine)
    assert scratch.unstaged_paths() == []


def test_second_apply_is_a_noop(project: config.Config) -> None:
    before = git(project, "rev-parse", "HEAD")
    result = apply.run(project)
    assert result.noop
    assert git(project, "rev-parse", "HEAD") == before


def test_build_and_run_both_interpreters(project: config.Config) -> None:
    results = build.build_many(project, ["baseline", "patched"], None, lambda _: None)
    assert [r.target for r in results] == ["baseline", "patched"]
    versions = {}
    for r in results:
        out = subprocess.run([str(r.python), "-c", "import sys, dis; print(sys.version)"],
                             check=True, capture_output=True, text=True).stdout.strip()
        versions[r.target] = out
    assert versions["baseline"].startswith("3.13.15 ")
    assert not versions["baseline"].endswith(TAG)
    assert versions["patched"].startswith("3.13.15 ") and versions["patched"].endswith(TAG)
    again = build.build_many(project, ["baseline", "patched"], None, lambda _: None)
    assert all(r.cached for r in again)
    assert build.interpreter(project, "patched") == results[1].python


def test_codegen_reads_both_interpreter_loops(project: config.Config,
                                              capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["-C", str(project.root), "codegen", "--show", "BINARY_SUBSCR,NOP"]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == f"baseline: {build.interpreter(project, 'baseline')}"
    assert lines[2] == f"patched: {build.interpreter(project, 'patched')}"
    # 3.13.15 names 212 opcodes below 256 (specialized and instrumented ones included)
    assert " of 212 instruction entries jump " in lines[1] and " of 212 instruction entries " in lines[3]
    shown = [line for line in lines if line.startswith(("BINARY_SUBSCR (", "NOP ("))]
    assert [line.split(" (")[0] + line.split(" (")[1].split(",")[0] for line in shown] == [
        "BINARY_SUBSCRbaseline", "BINARY_SUBSCRpatched", "NOPbaseline", "NOPpatched"]
    assert all(line.count(";") == codegen.WINDOW - 1 for line in shown)


def test_refresh_round_trip_reproduces_the_tree(project: config.Config) -> None:
    header = project.worktree / "Include/internal/pycore_quicken_fixture.h"
    header.write_text(header.read_text().replace('"quicken-fixture"', '"quicken-fixture" /* refreshed */'))
    result = refresh.run(project, target="0001-tag-fixture-builds.patch")
    assert "cpython_overlay/Include/internal/pycore_quicken_fixture.h" in result.changed
    assert "/* refreshed */" in (project.overlay / "Include/internal/pycore_quicken_fixture.h").read_text()
    tip_tree = git(project, "rev-parse", "HEAD^{tree}")
    tip = git(project, "rev-parse", "HEAD")
    assert git(project, "status", "--porcelain") == ""
    shutil.rmtree(project.worktree)
    assert not apply.run(project).noop
    assert git(project, "rev-parse", "HEAD^{tree}") == tip_tree
    assert git(project, "rev-parse", "HEAD") == tip
    assert len(load_series(project).patches) == 2


def test_bench_smoke_both_modes(project: config.Config, monkeypatch: pytest.MonkeyPatch) -> None:
    """Plumbing, not speed: one micro-benchmark, both builds, both modes, minimal loops.

    The results directory is given relative to the caller's directory, as `-o DIR` is; the
    benchmark processes run elsewhere (a pyperformance script runs in its own directory).
    """
    from quicken import bench

    monkeypatch.chdir(project.root)
    result = bench.run(project, suite_spec="int_bitwise", mode="both", output=Path("smoke-results"),
                       overrides={"processes": 1, "values": 2, "warmups": 0}, instruction_loops=20)
    assert result.directory == project.root / "smoke-results"
    assert result.comparison is not None
    row = result.comparison.row("int_bitwise")
    assert row is not None and row.base_instructions and row.head_instructions
    for name in ("base.json", "head.json", "report.md", "summary.json", "ratios.png"):
        assert (result.directory / name).is_file(), name
    report = (result.directory / "report.md").read_text()
    assert "## Interpreter loop layout" in report and " of 212 instruction entries jump " in report
    out = subprocess.run([sys.executable, "-m", "pyperf", "compare_to", str(result.directory / "base.json"),
                          str(result.directory / "head.json")], capture_output=True, text=True)
    assert out.returncode == 0, out.stderr
    # One benchmark per file: pyperf prints "Mean +- std dev: [base] ... -> [head] ...", or says the
    # benchmark is hidden as not significant (it names it then).
    assert ("[base]" in out.stdout and "[head]" in out.stdout) or "int_bitwise" in out.stdout


def test_validate_writes_a_bound_record(project: config.Config) -> None:
    """The fixture patch declares no targets: the gate must fail it, and say why."""
    from quicken import validate, verify

    series = load_series(project)
    fixture = series.patch("0001-tag-fixture-builds.patch")
    with pytest.raises(QuickenError, match="has no verification record"):
        validate.run(project, [fixture.name], suite_spec="int_bitwise")
    (checked,) = verify.run(project, [fixture.name], verify.Options(quick=True, fuzz=False))
    assert checked.passed, verify.render(checked)
    assert len(checked.programs) >= 10 and checked.new == ()
    (outcome,) = validate.run(project, ["0001-tag-fixture-builds.patch"], suite_spec="int_bitwise",
                              overrides={"processes": 1, "values": 2, "warmups": 0})
    assert not outcome.verdict.passed
    assert any("no target benchmarks" in str(rule) for rule in outcome.verdict.failures)
    assert any("tests passed" in str(rule) for rule in outcome.verdict.rules)
    assert outcome.codegen == ()  # both loops read; the fixture patch does not touch ceval.c
    series = load_series(project)
    patch = series.patch("0001-tag-fixture-builds.patch")
    assert validate.standing(project, series, patch).word() == "failed"
    record = records.load(outcome.record, "validation")
    assert record is not None and record.details["sampling"] == {"processes": 1, "values": 2, "warmups": 0}
    (row,) = record.details["benchmarks"]
    counts = [row[f"{side}_{what}"] for side in ("base", "head") for what in ("processes", "values")]
    assert counts == [1, 2, 1, 2]
    change_code(patch.path)
    changed = load_series(project)
    assert validate.standing(project, changed, changed.patch(patch.name)).describe() == (
        "stale: patch changed (diff or gate trailers)")


def test_calibrate_moves_only_the_layout(project: config.Config) -> None:
    """The build against itself relinked at another layout: same work, the loop padded inside."""
    from quicken import calibrate

    cal = calibrate.run(project, "baseline", shift=48, suite_spec="int_bitwise",
                        overrides={"processes": 1, "values": 2, "warmups": 0})
    res = build.build_one(project, "baseline", None, lambda _: None)
    assert build.interior_padded(res, 48)
    assert git(project, "rev-parse", "HEAD") == git(project, "rev-parse", "quicken")  # branch untouched
    (b, h), = cal.result.instructions.values()
    assert abs(h / b - 1) < 0.01  # same code, same work
    text = calibrate.render(cal)
    assert "layout noise of baseline (+48 bytes" in text and "int_bitwise" in text


def test_a_relinked_interpreter_is_the_same_build_with_its_code_moved(project: config.Config) -> None:
    """A layout on the real build: the same objects linked again, the loop moved within its cache
    line and padded between its blocks, the ordinary functions by whole lines and the pads more;
    every instruction of the loop as compiled."""
    res = build.build_one(project, "baseline", None, lambda _: None)
    relinked = build.relink(project, res, 1040, lambda _: None)
    assert build.symbol_address(relinked, "_PyEval_EvalFrameDefault") \
        == build.symbol_address(res.python, "_PyEval_EvalFrameDefault") + 16  # type: ignore[operator]
    pads = sum(size for _, size in build.interior_pads(1040))
    assert abs(loop_growth(res.python, relinked) - pads) < 64  # alignment, jump encodings
    for name in ("PyObject_GenericSetAttr", "PyLong_FromSsize_t"):
        was, now = build.symbol_address(res.python, name), build.symbol_address(relinked, name)
        assert was is not None and now is not None
        assert now - was - 1040 - loop_growth(res.python, relinked) in range(64), (name, was, now)
    assert loop_instructions(relinked) == loop_instructions(res.python)
    assert build.interior_padded(res, 1040)  # padded by this or an earlier relink of the build
    run = [[str(python), "-c", "import sys, _testinternalcapi; print(sys.version, sys.prefix)"]
           for python in (res.python, relinked)]
    outputs = [subprocess.run(argv, check=True, capture_output=True, text=True).stdout for argv in run]
    assert outputs[0] == outputs[1]  # runs from the build directory as python does


