"""Tests for quicken.compare on recorded and hand-shaped pyperf results."""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import pyperf
import pytest
from quicken import compare as C

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pyperf"
BASE = FIXTURES / "base.json"
HEAD = FIXTURES / "head.json"
SHAPED_BASE = FIXTURES / "shaped_base.json"
SHAPED_HEAD = FIXTURES / "shaped_head.json"


def pyperf_hidden(base: Path, head: Path) -> set[str]:
    """Benchmarks `pyperf compare_to` itself calls not significant."""
    proc = subprocess.run(
        [sys.executable, "-m", "pyperf", "compare_to", str(base), str(head)],
        capture_output=True,
        text=True,
        check=True,
    )
    match = re.search(r"not significant \(\d+\): (.*)", proc.stdout)
    return set(match.group(1).split(", ")) if match else set()


def bench(name: str, runs: list[list[float]], loops: int = 10000) -> pyperf.Benchmark:
    metadata = {"name": name, "loops": loops, "unit": "second"}
    return pyperf.Benchmark([pyperf.Run(v, metadata=metadata, collect_metadata=False) for v in runs])


def test_recorded_comparison_matches_pyperf() -> None:
    comparison = C.compare_files(BASE, HEAD)
    assert [row.name for row in comparison.rows] == ["loop_sum", "str_join"]
    base = pyperf.BenchmarkSuite.load(str(BASE))
    head = pyperf.BenchmarkSuite.load(str(HEAD))
    hidden = pyperf_hidden(BASE, HEAD)
    for row in comparison.rows:
        b, h = base.get_benchmark(row.name), head.get_benchmark(row.name)
        assert row.base_mean == pytest.approx(b.mean())
        assert row.head_mean == pytest.approx(h.mean())
        assert row.base_stdev == pytest.approx(b.stdev())
        assert row.ratio == pytest.approx(h.mean() / b.mean())
        assert row.base_values == b.get_nvalue() == 20
        assert row.significant == (row.name not in hidden)
    # The recorded head halves loop_sum's work: a real, significant speed-up.
    loop_sum = comparison.row("loop_sum")
    assert loop_sum is not None
    assert loop_sum.significant and loop_sum.speedup > 1.5
    assert loop_sum.describe_time() == f"{loop_sum.speedup:.2f}x faster"
    assert not loop_sum.unstable
    assert comparison.only_base == () and comparison.only_head == ()


def test_shaped_comparison() -> None:
    comparison = C.compare_files(SHAPED_BASE, SHAPED_HEAD, base_label="main", head_label="patch")
    target, other, noisy = (comparison.row(n) for n in ("target_op", "other_op", "noisy_op"))
    assert target is not None and other is not None and noisy is not None
    assert target.ratio == pytest.approx(0.70)
    assert target.significant and not target.unstable
    assert other.ratio == pytest.approx(1.20)
    assert other.significant and other.describe_time() == "1.20x slower"
    assert not noisy.significant
    assert noisy.unstable
    assert any("std dev is 40% of the mean" in r for r in noisy.unstable_reasons)
    assert all(r.startswith("head: ") for r in noisy.unstable_reasons)
    assert pyperf_hidden(SHAPED_BASE, SHAPED_HEAD) == {"noisy_op"}
    expected = math.exp((math.log(0.7) + math.log(1.2) + math.log(noisy.ratio)) / 3)
    assert comparison.geometric_mean == pytest.approx(expected)


def test_instruction_counts_attach_to_rows() -> None:
    comparison = C.compare_files(
        SHAPED_BASE,
        SHAPED_HEAD,
        base_instructions={"target_op": 1000, "other_op": 500},
        head_instructions={"target_op": 759, "other_op": 500, "noisy_op": 10},
    )
    target = comparison.row("target_op")
    assert target is not None
    assert target.instructions_ratio == pytest.approx(0.759)
    assert target.describe_instructions() == "-24.1%"
    noisy = comparison.row("noisy_op")
    assert noisy is not None and noisy.instructions_ratio is None
    assert comparison.instructions_geometric_mean == pytest.approx(math.sqrt(0.759 * 1.0))


def test_stability_issues() -> None:
    single = bench("one", [[1e-6]])
    assert C.stability_issues(single) == ["only 1 value(s)"]
    short_raw = bench("short", [[1e-6, 1e-6, 1e-6]], loops=10)
    assert any("shortest raw value" in r for r in C.stability_issues(short_raw))
    outlier = bench("outlier", [[1e-6] * 9 + [3e-6]])
    issues = C.stability_issues(outlier)
    assert any("maximum is" in r and "above the mean" in r for r in issues)
    steady = bench("steady", [[1e-6, 1.01e-6, 0.99e-6]])
    assert C.stability_issues(steady) == []


def test_single_values_are_flagged_even_if_pyperf_calls_them_significant() -> None:
    row = C.compare_benchmarks(bench("x", [[1e-6]]), bench("x", [[2e-6]]))
    assert row.significant  # pyperf's rule for one value each
    assert row.unstable
    assert row.base_stdev == 0.0


def test_rows_count_the_worker_processes_that_gave_values() -> None:
    """Values from one process are not independent: a row says how many processes it rests on.
    A calibration run (warmups only, no values) is not one of them."""
    metadata = {"name": "x", "loops": 10000, "unit": "second"}
    calibration = pyperf.Run([], warmups=[(10000, 1e-6)], metadata=metadata, collect_metadata=False)
    base = pyperf.Benchmark([calibration, *bench("x", [[1e-6, 1.1e-6], [1.2e-6, 1.0e-6]]).get_runs()])
    row = C.compare_benchmarks(base, bench("x", [[2e-6]] * 3))
    assert (row.base_processes, row.base_values) == (2, 4)
    assert (row.head_processes, row.head_values) == (3, 3)


def test_only_one_side(tmp_path: Path) -> None:
    base = pyperf.BenchmarkSuite([bench("a", [[1e-6] * 3]), bench("b", [[1e-6] * 3])])
    head = pyperf.BenchmarkSuite([bench("b", [[1e-6] * 3]), bench("c", [[1e-6] * 3])])
    comparison = C.compare_suites(base, head)
    assert [row.name for row in comparison.rows] == ["b"]
    assert comparison.only_base == ("a",) and comparison.only_head == ("c",)
    pyperf.BenchmarkSuite([bench("a", [[1e-6] * 3])]).dump(str(tmp_path / "a.json"))
    pyperf.BenchmarkSuite([bench("c", [[1e-6] * 3])]).dump(str(tmp_path / "c.json"))
    with pytest.raises(C.CompareError, match="no benchmark in common"):
        C.compare_files(tmp_path / "a.json", tmp_path / "c.json")


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(C.CompareError, match="result file not found"):
        C.load_results(tmp_path / "missing.json")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json", encoding="utf-8")
    with pytest.raises(C.CompareError) as info:
        C.load_results(bad)
    assert str(bad) in info.value.message and info.value.hint


def test_geometric_mean() -> None:
    assert C.geometric_mean([2.0, 8.0]) == pytest.approx(4.0)
    assert C.geometric_mean([]) is None
    with pytest.raises(ValueError):
        C.geometric_mean([1.0, 0.0])


@pytest.mark.parametrize(
    ("ratio", "text"), [(1.0, "no change"), (0.5, "2.00x faster"), (1.25, "1.25x slower")]
)
def test_format_ratio(ratio: float, text: str) -> None:
    assert C.format_ratio(ratio) == text


def test_format_time() -> None:
    assert C.format_time(15.8e-9) == "15.8 ns"
    assert C.format_time(2.5e-6) == "2.50 us"
    assert C.format_time(0.045) == "45.0 ms"
    assert C.format_time(700e-9) == "700 ns"
    assert C.format_time(1.93) == "1.93 s"


def test_render_markdown() -> None:
    comparison = C.compare_files(
        SHAPED_BASE,
        SHAPED_HEAD,
        base_instructions={"target_op": 1000},
        head_instructions={"target_op": 759},
    )
    text = C.render_markdown(comparison)
    lines = text.splitlines()
    assert lines[0].startswith("| Benchmark | base | head | Change | Significant | Instr base")
    assert set(lines[1]) <= set("|-:")
    table = [line for line in lines if line.startswith("| ")]
    assert len(table) == 1 + 3
    target_line = next(line for line in table if line.startswith("| target_op "))
    assert "1.43x faster" in target_line and "-24.1%" in target_line and "| yes |" in target_line
    noisy_line = next(line for line in table if line.startswith("| noisy_op "))
    assert "unstable: head: std dev" in noisy_line and "| no |" in noisy_line
    assert "- Geometric mean (time):" in text
    assert "- Geometric mean (instructions): -24.1%" in text
    assert all(line.count("|") == lines[0].count("|") for line in table)


def test_render_text_is_aligned() -> None:
    text = C.render_text(C.compare_files(BASE, HEAD))
    lines = text.splitlines()
    assert lines[0].split()[:2] == ["Benchmark", "base"]
    assert "Instr" not in lines[0]
    assert lines[2].startswith("loop_sum ")
    assert "x faster" in lines[2]
    assert "Geometric mean (time):" in text
    # Right-aligned columns: the "Change" cells end in the same column.
    change_end = lines[0].index("Change") + len("Change")
    for line in lines[2:4]:
        assert re.search(r"x (faster|slower)|no change", line[:change_end])


def test_plot_ratios(tmp_path: Path) -> None:
    out = C.plot_ratios(C.compare_files(SHAPED_BASE, SHAPED_HEAD), tmp_path / "plots" / "ratios.png")
    data = out.read_bytes()
    assert data.startswith(b"\x89PNG\r\n\x1a\n")
    assert len(data) > 5000
