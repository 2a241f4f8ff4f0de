"""quicken bench: the pieces that need no built interpreter."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from quicken import bench, compare
from quicken.errors import QuickenError

FIXTURES = Path(__file__).parent / "fixtures" / "pyperf"


def sides(tmp_path: Path) -> tuple[bench.Side, bench.Side]:
    return (bench.Side("baseline", tmp_path / "b/python", "a" * 40, tmp_path / "b/src"),
            bench.Side("patched", tmp_path / "h/python", "b" * 40, tmp_path / "h/src"))


def test_calibrated_loops_come_from_pyperf_metadata() -> None:
    assert bench._calibrated_loops(FIXTURES / "base.json") == 262144


def test_calibration_without_loops_is_refused(tmp_path: Path) -> None:
    data = json.loads((FIXTURES / "base.json").read_text())
    for b in data["benchmarks"]:
        b.get("metadata", {}).pop("loops", None)
        for run in b["runs"]:
            run.get("metadata", {}).pop("loops", None)
    data["metadata"].pop("loops", None)
    path = tmp_path / "noloops.json"
    path.write_text(json.dumps(data))
    with pytest.raises(QuickenError, match="recorded no loop count"):
        bench._calibrated_loops(path)


def test_instruction_only_report(tmp_path: Path) -> None:
    result = bench.BenchResult(tmp_path, "quick", "instructions", None,
                               instructions={"int_bitwise": (2000, 1500), "richards": (1000, 1000)})
    base, head = sides(tmp_path)
    bench.write_report(result, base, head)
    report = (tmp_path / "report.md").read_text()
    assert "| int_bitwise | 2,000 | 1,500 | -25.0% |" in report
    assert "| richards | 1,000 | 1,000 | +0.0% |" in report
    assert "geometric mean" in report and "-13.4%" in report
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["instructions"]["int_bitwise"] == [2000, 1500]
    assert "results:" in bench.render_text(result)


def test_wall_report_with_plot_and_warnings(tmp_path: Path) -> None:
    comparison = compare.compare_files(FIXTURES / "base.json", FIXTURES / "head.json",
                                       base_label="baseline", head_label="patched")
    result = bench.BenchResult(tmp_path, "quick", "wall", comparison, warnings=["x: unstable"])
    base, head = sides(tmp_path)
    bench.write_report(result, base, head)
    report = (tmp_path / "report.md").read_text()
    assert "loop_sum" in report and "![ratios](ratios.png)" in report
    assert "## Warnings" in report and "- x: unstable" in report
    assert (tmp_path / "ratios.png").stat().st_size > 1000


def test_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(QuickenError, match="--mode fast: choose one of"):
        bench.run(None, mode="fast")  # type: ignore[arg-type]


def test_wall_processes_alternate_in_abba_order(tmp_path: Path) -> None:
    base, head = sides(tmp_path)
    order = [name for proc in range(4) for name, _ in bench.alternation(proc, base, head)]
    assert order == ["base", "head", "head", "base", "base", "head", "head", "base"]
