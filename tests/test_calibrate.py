"""quicken calibrate and bench --layouts: a build against itself moved, and layouts pooled."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from quicken import bench, build, calibrate, compare
from quicken.errors import QuickenError


@pytest.mark.parametrize("shift", [0, -8, 5000])
def test_shift_must_be_a_sensible_number_of_bytes(shift: int) -> None:
    with pytest.raises(QuickenError, match="from 1 to 4096"):
        build.split_shift(shift)


@pytest.mark.parametrize(("shift", "parts"), [(16, (16, 0)), (48, (48, 0)), (64, (0, 64)),
                                              (1040, (16, 1024)), (3120, (48, 3072)), (4096, (0, 4096))])
def test_a_shift_is_an_offset_in_the_cache_line_and_whole_lines_after_the_loop(
        shift: int, parts: tuple[int, int]) -> None:
    assert build.split_shift(shift) == parts


def _wall_row(name: str, ratio: float) -> compare.ComparisonRow:
    return compare.ComparisonRow(
        name=name, unit="second", base_mean=1.0, base_stdev=0.01, base_values=3, head_mean=ratio,
        head_stdev=0.01, head_values=3, ratio=ratio, significant=False, t_score=None,
        unstable_reasons=(), base_instructions=None, head_instructions=None,
    )


def test_bench_across_layouts_judges_every_benchmark_across_them(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # ratio of each benchmark at +0 (the builds as they are), +16, +32 and +48 bytes
    measured = {
        0: {"scimark_sparse_mat_mult": 1.22, "nbody": 0.90, "go": 0.95},
        16: {"scimark_sparse_mat_mult": 0.95, "nbody": 0.91, "go": 0.96},
        32: {"scimark_sparse_mat_mult": 0.92, "nbody": 0.89, "go": 0.94},
        48: {"scimark_sparse_mat_mult": 1.02, "nbody": 0.90, "go": 0.93},
    }
    runs: list[tuple[str, str, str, str, object]] = []

    def run(_cfg: object, base: str, head: str, spec: str, mode: str, *_args: object,
            **kwargs: object) -> bench.BenchResult:
        relink = kwargs.get("relink", (0, 0))
        runs.append((base, head, spec, mode, relink))
        assert isinstance(relink, tuple)
        out = kwargs.get("output") or tmp_path / "first"
        assert isinstance(out, Path)
        out.mkdir(parents=True, exist_ok=True)
        rows = tuple(_wall_row(n, r) for n, r in measured[relink[0]].items())
        return bench.BenchResult(out, spec, mode, compare.Comparison("b", "h", rows))

    monkeypatch.setattr(bench, "run", run)
    result = calibrate.across_layouts(object(), "baseline", "patched", "subset",  # type: ignore[arg-type]
                                      shifts=(16, 32, 48))
    # the same two builds each time, relinked at the layout on both sides
    assert runs == [("baseline", "patched", "subset", "wall", (0, 0))] + [
        ("baseline", "patched", "subset", "wall", (s, s)) for s in (16, 32, 48)]
    by_name = {c.name: c for c in result.checks}
    assert by_name["scimark_sparse_mat_mult"].ratios == (1.22, 0.95, 0.92, 1.02)
    assert not by_name["scimark_sparse_mat_mult"].significant  # slower at one layout only
    assert [c.name for c in result.faster()] == ["nbody", "go"]
    assert result.slower() == []
    assert result.geometric_mean == pytest.approx(
        compare.geometric_mean(c.ratio for c in result.checks))
    table = (tmp_path / "first" / "layouts.md").read_text()
    assert "| nbody | 0.900 | 0.910 | 0.890 | 0.900 | 1.11x faster | yes |" in table
    assert "- Significantly slower across layouts: none" in table
    assert json.loads((tmp_path / "first" / "layouts.json").read_text())["shifts"] == [0, 16, 32, 48]


def test_a_benchmark_missing_at_another_layout_is_an_error(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    def run(_cfg: object, base: str, head: str, spec: str, mode: str, *_args: object,
            **kwargs: object) -> bench.BenchResult:
        out = kwargs.get("output") or tmp_path
        assert isinstance(out, Path)
        names = ("nbody", "go") if kwargs.get("relink", (0, 0)) == (0, 0) else ("nbody",)
        rows = tuple(_wall_row(n, 1.0) for n in names)
        return bench.BenchResult(out, spec, mode, compare.Comparison("b", "h", rows))

    monkeypatch.setattr(bench, "run", run)
    with pytest.raises(QuickenError, match="no result for go"):
        calibrate.across_layouts(object(), "baseline", "patched", "quick", shifts=(16,))  # type: ignore[arg-type]
    with pytest.raises(QuickenError, match="needs --mode wall or both"):
        calibrate.across_layouts(object(), "baseline", "patched", "quick", mode="pystats")  # type: ignore[arg-type]


def _layouts_run(directory: Path, trees: tuple[str, str], ratios: dict[str, dict[int, float]]) -> Path:
    """A results directory as ``bench --layouts`` leaves it (only what pooling reads)."""
    directory.mkdir(parents=True)
    (directory / "summary.json").write_text(json.dumps(
        {"suite": "subset", "mode": "wall", "base": {"label": "baseline", "tree": trees[0]},
         "head": {"label": "patched", "tree": trees[1]}}))
    checks = [calibrate.LayoutRecheck(name, tuple(at), tuple(at.values())) for name, at in ratios.items()]
    (directory / "layouts.json").write_text(json.dumps(
        {"shifts": sorted({s for at in ratios.values() for s in at}),
         "benchmarks": [c.as_record() for c in checks]}))
    return directory


TREES = ("a" * 40, "b" * 40)


def test_pooled_runs_count_each_layout_once(tmp_path: Path) -> None:
    one = _layouts_run(tmp_path / "one", TREES, {
        "go": {0: 0.90, 16: 0.99, 32: 0.95, 48: 0.94},
        "chaos": {0: 1.20, 16: 0.86, 32: 0.88, 48: 0.93},
    })
    two = _layouts_run(tmp_path / "two", TREES, {
        "chaos": {0: 0.78, 16: 0.88, 32: 0.88, 48: 0.90},
        "go": {0: 0.92, 16: 0.93, 32: 0.95, 48: 0.90},
    })
    extra = _layouts_run(tmp_path / "extra", TREES, {
        "go": {64: 0.91, 80: 0.92}, "chaos": {64: 0.89, 80: 0.90},
    })
    pooled = {c.name: c for c in calibrate.pool([one, two])}
    assert list(pooled) == ["go", "chaos"]  # the first run's order
    chaos = pooled["chaos"]
    assert chaos.shifts == (0, 16, 32, 48)  # a layout measured twice is one sample of the layout
    assert chaos.ratios == pytest.approx(((1.20 * 0.78) ** 0.5, (0.86 * 0.88) ** 0.5,
                                          (0.88 * 0.88) ** 0.5, (0.93 * 0.90) ** 0.5))
    alone = {c.name: c for c in calibrate.pool([one])}
    assert not alone["chaos"].significant  # the 1.20 outlier hides the effect in one run
    assert chaos.significant and chaos.ratio < 1.0  # the second run's processes show it
    wider = {c.name: c for c in calibrate.pool([one, two, extra])}
    assert wider["go"].shifts == (0, 16, 32, 48, 64, 80)
    table = calibrate.render_layouts(tuple(wider.values()))
    assert "| benchmark | +0B | +16B | +32B | +48B | +64B | +80B | across layouts | significant |" in table
    assert "- Significantly slower across layouts: none" in table


def test_pooling_refuses_runs_of_other_trees_or_suites(tmp_path: Path) -> None:
    one = _layouts_run(tmp_path / "one", TREES, {"go": {0: 0.9, 16: 0.9}})
    other_head = _layouts_run(tmp_path / "head", (TREES[0], "c" * 40), {"go": {0: 0.9, 16: 0.9}})
    other_suite = _layouts_run(tmp_path / "suite", TREES, {"go": {0: 0.9, 16: 0.9}, "nbody": {0: 1, 16: 1}})
    with pytest.raises(QuickenError, match=r"head: compares trees aaaaaaaaaaaa and cccccccccccc"):
        calibrate.pool([one, other_head])
    with pytest.raises(QuickenError, match=r"suite: its benchmarks differ .*\(nbody\)"):
        calibrate.pool([one, other_suite])
    (tmp_path / "plain").mkdir()
    (tmp_path / "plain" / "summary.json").write_text((one / "summary.json").read_text())
    with pytest.raises(QuickenError, match=r"plain/layouts\.json: not found"):
        calibrate.pool([one, tmp_path / "plain"])
    (tmp_path / "plain" / "layouts.json").write_text('{"benchmarks": [{"name": "go"}]}')
    with pytest.raises(QuickenError, match=r"plain: summary.json or layouts.json lacks 'shifts'"):
        calibrate.pool([tmp_path / "plain"])
    (tmp_path / "plain" / "layouts.json").write_text(
        '{"benchmarks": [{"name": "go", "shifts": [0], "ratios": [null]}]}')
    with pytest.raises(QuickenError, match=r"plain: summary.json or layouts.json has a malformed entry"):
        calibrate.pool([tmp_path / "plain"])
    (tmp_path / "plain" / "layouts.json").write_text("{")
    with pytest.raises(QuickenError, match=r"plain/layouts\.json: unreadable"):
        calibrate.pool([tmp_path / "plain"])
