"""quicken bench: the pieces that need no built interpreter."""

from __future__ import annotations

import json
import shutil
import sys
from collections.abc import Callable
from pathlib import Path

import pyperf
import pytest
from quicken import bench, compare, measure, suite
from quicken import pyperformance_suite as runner
from quicken.errors import QuickenError

FIXTURES = Path(__file__).parent / "fixtures" / "pyperf"


def sides(tmp_path: Path) -> tuple[bench.Side, bench.Side]:
    return (bench.Side("baseline", tmp_path / "b/python", "a" * 40, tmp_path / "b/src"),
            bench.Side("patched", tmp_path / "h/python", "b" * 40, tmp_path / "h/src"))


def test_calibrated_loops_come_from_pyperf_metadata() -> None:
    found = bench.calibration(FIXTURES / "base.json")
    assert [(c.name, c.loops) for c in found] == [("loop_sum", 32768), ("str_join", 262144)]
    assert found[0].mean == pytest.approx(2.96e-6, rel=1e-3)


def test_each_benchmark_of_a_script_gets_its_own_calibrated_loops(tmp_path: Path) -> None:
    script = tmp_path / "run_benchmark.py"
    shutil.copy(FIXTURES / "two_benchmarks.py", script)
    pyperf_dir = suite.prepare_pyperf_path(tmp_path / "cache")
    base, head = (bench.Side(label, Path(sys.executable), label * 40, tmp_path) for label in ("a", "b"))
    options = suite.PyperfOptions(processes=2, values=2, warmups=1, min_time=0.1)
    out = tmp_path / "out"
    paths = bench.wall((suite.Benchmark("two", "pyperformance", script),), base, head, pyperf_dir, options,
                       out, lambda _: None)
    # pyperf's calibration doubles the loops until a value takes min_time: 128 x 1 ms, 2**17 x 1 us
    for path in paths:
        loaded = pyperf.BenchmarkSuite.load(str(path))
        assert {b.get_name(): {r.get_loops() for r in b.get_runs()} for b in loaded.get_benchmarks()} == \
            {"slow": {128}, "fast": {131072}}
        assert all(len(b.get_runs()) == 2 for b in loaded.get_benchmarks())  # a run per process
    measured = (script.parent / (script.name + ".calls")).read_text().splitlines()
    assert "slow 131072" not in measured  # the fast benchmark's count is never given to the slow one
    assert measured.count("slow 128") >= 2 * 2 * (1 + 2)  # two sides x two processes x (warmup + values)


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
        bench.calibration(path)


def test_instruction_only_report(tmp_path: Path) -> None:
    result = bench.BenchResult(tmp_path, "quick", "instructions", None,
                               instructions={"int_bitwise": (2000, 1500), "richards": (1000, 1000)})
    base, head = sides(tmp_path)
    result.layouts = bench.read_layouts(base, head)  # as bench.run does
    bench.write_report(result, base, head)
    report = (tmp_path / "report.md").read_text()
    assert "| int_bitwise | 2,000 | 1,500 | -25.0% |" in report
    assert "| richards | 1,000 | 1,000 | +0.0% |" in report
    assert "geometric mean" in report and "-13.4%" in report
    assert "## Interpreter loop layout\n\nnot available: cannot run " in report  # no interpreter here
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


def test_memory_report_gives_medians_every_run_and_what_repeats(tmp_path: Path) -> None:
    mib = 2**20
    memory = {"generators": runner.Memory((32 * mib, 33 * mib, 32 * mib), (32 * mib, 31 * mib, 33 * mib)),
              "django_template": runner.Memory((40 * mib,) * 3, (44 * mib, 45 * mib, 44 * mib))}
    result = bench.BenchResult(tmp_path, "pyperformance", "instructions", None,
                               instructions={"generators": (10, 9)}, memory=memory)
    base, head = sides(tmp_path)
    bench.write_report(result, base, head)
    report = (tmp_path / "report.md").read_text()
    assert "| generators | 32.0 MiB | 32.0 MiB | +0.0% | 32.0 33.0 32.0 / 32.0 31.0 33.0 | no |" in report
    assert ("| django_template | 40.0 MiB | 44.0 MiB | +10.0% | 40.0 40.0 40.0 / 44.0 45.0 44.0 | yes |"
            in report)
    assert "every run apart: django_template +10.0%" in report
    assert "| **geometric mean** | | | +4.88% | | |" in report
    summary = json.loads((tmp_path / "summary.json").read_text())
    assert summary["memory"]["django_template"]["apart"] is True
    result.instructions = {}  # a pystats-only run: no empty instruction table on the terminal
    assert "instructions/loop" not in bench.render_text(result)
    assert summary["memory_geometric_mean"] == pytest.approx(1.1 ** 0.5)


def test_unknown_mode_is_refused(tmp_path: Path) -> None:
    with pytest.raises(QuickenError, match="--mode fast: choose one of"):
        bench.run(None, mode="fast")  # type: ignore[arg-type]


def test_wall_processes_alternate_in_abba_order(tmp_path: Path) -> None:
    base, head = sides(tmp_path)
    order = [name for proc in range(4) for name, _ in bench.alternation(proc, base, head)]
    assert order == ["base", "head", "head", "base", "base", "head", "head", "base"]


def fake_counter(calls: list[tuple[str, str]]) -> Callable[..., measure.InstructionCount]:
    """A count_instructions stand-in: 1000 instructions a loop on the base, 900 on the head."""
    def count(bench_: suite.Benchmark, python: Path, pyperf_dir: Path, workdir: Path, *,
              loops: int) -> measure.InstructionCount:
        calls.append((bench_.name, python.parent.name))
        per_loop = 1000 if python.parent.name == "b" else 900
        return measure.InstructionCount(bench_.name, loops, 10 * loops, 10 * loops + per_loop * loops, True,
                                        {"_PyEval_EvalFrameDefault": per_loop})
    return count


def test_instruction_counts_are_cached_by_tree_and_benchmark(tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measure, "valgrind_version", lambda _path: "valgrind-3.19.0")
    monkeypatch.setattr(measure, "find_valgrind", lambda name="valgrind": "/usr/bin/valgrind")
    calls: list[tuple[str, str]] = []
    monkeypatch.setattr(measure, "count_instructions", fake_counter(calls))
    scripts = []
    for name in ("one", "two"):
        script = tmp_path / f"bm_{name}.py"
        script.write_text(f"# {name}\n")
        scripts.append(suite.Benchmark(name, "micro", script))
    base, head = sides(tmp_path)
    cache = measure.count_cache(tmp_path / "builds", "release")

    first = bench.instructions(tuple(scripts), base, head, tmp_path, tmp_path / "r1", 10, lambda _: None,
                               cache=cache, jobs=2)
    per_loop = {name: (b.per_loop, h.per_loop) for name, (b, h) in first.items()}
    assert per_loop == {"one": (1000, 900), "two": (1000, 900)}
    assert measure.function_shifts(*first["one"]) == [("_PyEval_EvalFrameDefault", -100)]
    assert sorted(calls) == [("one", "b"), ("one", "h"), ("two", "b"), ("two", "h")]
    assert json.loads((tmp_path / "r1" / "instructions-head.json").read_text())["two"]["per_loop"] == 900

    calls.clear()
    lines: list[str] = []
    again = bench.instructions(tuple(scripts), base, head, tmp_path, tmp_path / "r2", 10, lines.append,
                               cache=measure.count_cache(tmp_path / "builds", "release"), jobs=2)
    assert again == first and calls == []
    assert all("(cached)" in line for line in lines) and len(lines) == 4

    # A new head tree, another loop count, an edited script: measured again.
    head.tree = "c" * 40
    bench.instructions(tuple(scripts[:1]), base, head, tmp_path, tmp_path / "r3", 10, lambda _: None,
                       cache=cache)
    assert calls == [("one", "h")]
    calls.clear()
    bench.instructions(tuple(scripts[:1]), base, head, tmp_path, tmp_path / "r4", 20, lambda _: None,
                       cache=cache)
    assert sorted(calls) == [("one", "b"), ("one", "h")]
    calls.clear()
    scripts[0].script.write_text("# one, edited\n")
    bench.instructions(tuple(scripts[:1]), base, head, tmp_path, tmp_path / "r5", 10, lambda _: None,
                       cache=cache)
    assert sorted(calls) == [("one", "b"), ("one", "h")]


def test_runner_counts_show_progress_and_finished_only_counts_nothing(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(measure, "valgrind_version", lambda _path: "valgrind-3.19.0")
    calls: list[tuple[str, str]] = []
    counter = fake_counter(calls)
    monkeypatch.setattr(measure, "count_instructions",
                        lambda b, python, d, w, *, loops, command_for: counter(b, python, d, w, loops=loops))
    commands = {}
    for name in ("deltablue", "django_template"):
        script = tmp_path / f"bm_{name}" / "run_benchmark.py"
        script.parent.mkdir()
        script.write_text(f"# {name}\n")
        commands[name] = {side: [f"/venv/{side}/cpython3.13-x/bin/python", "-u", str(script),
                                 "--output", "/t"] for side in ("base", "head")}
    run = runner.SuiteRun(tmp_path / "pp", list(commands), list(commands), {}, commands=commands)
    (tmp_path / "pp" / "raw").mkdir(parents=True)
    for name, seconds in (("deltablue", 0.5), ("django_template", 0.05)):  # one loop, as timed
        runs = [pyperf.Run([seconds / 10] * 3, metadata={"name": name, "loops": 4, "inner_loops": 10},
                           collect_metadata=False)]
        pyperf.Benchmark(runs).dump(str(tmp_path / "pp" / "raw" / f"{name}.base.json"))
    base, head = sides(tmp_path)
    cache = measure.count_cache(tmp_path / "builds", "release")
    args = (run, base, head, tmp_path / "out", 1)

    def count(cached_only: bool) -> tuple[list[str], dict[str, str], list[str]]:
        lines: list[str] = []
        failures: dict[str, str] = {}
        got = bench.runner_instructions(*args, lines.append, cache, 1, failures, cached_only=cached_only)
        return lines, failures, list(got)

    lines, failures, got = count(cached_only=True)  # nothing counted yet: nothing runs, all listed
    assert calls == [] and got == [] and lines == []
    assert failures["deltablue"].endswith("not counted yet (run without --finished-only to count it)")
    lines, failures, got = count(cached_only=False)
    assert len(calls) == 4 and failures == {}
    assert runner.loop_seconds(tmp_path / "pp", "deltablue") == pytest.approx(0.5)
    assert calls[0][0] == "django_template"  # the shorter loop is counted first
    assert lines[0].startswith("instructions django_template on baseline: 1,000/loop ([1/4] ETA ")
    assert lines[-1].endswith("([4/4] ETA 0 min 00 s)")
    assert got == ["deltablue", "django_template"]  # reported in the suite's order
    lines, failures, got = count(cached_only=True)  # counted now: reported from the cache
    assert len(calls) == 4 and len(got) == 2 and all("(cached)" in line for line in lines)


def test_count_cache_survives_a_damaged_file(tmp_path: Path) -> None:
    cache = measure.CountCache(tmp_path / "counts.json")
    cache.path.write_text("{not json")
    assert cache.get("k") is None
    count = measure.InstructionCount("x", 5, 100, 600, True, {"f": 100})
    cache.put("k", count)
    assert measure.CountCache(cache.path).get("k") == count
    cache.path.write_text(json.dumps({"k": {"benchmark": "x", "unknown_field": 1, "functions": {"f": 1}}}))
    assert cache.get("k") is None
    # Entries from before per-function counts were kept are measured again.
    cache.path.write_text(json.dumps({"k": {"benchmark": "x", "loops": 5, "total_low": 100, "total_high": 600,
                                            "aslr_disabled": True}}))
    assert cache.get("k") is None


def test_report_says_where_the_instructions_went(tmp_path: Path) -> None:
    result = bench.BenchResult(tmp_path, "quick", "instructions", None,
                               instructions={"moved": (10_000, 10_070), "flat": (10_000, 10_001)},
                               function_shifts={"moved": [("_PyEval_EvalFrameDefault", 60),
                                                          ("_PyType_Lookup", 10)],
                                                "flat": [("x", 1)]})
    section = "\n".join(bench.function_shift_section(result))
    assert "| moved | +0.70% | _PyEval_EvalFrameDefault +60, _PyType_Lookup +10 |" in section
    assert "flat" not in section  # +0.01% is under the reporting threshold


def test_a_side_rebuilt_during_the_run_is_refused(tmp_path: Path) -> None:
    python = tmp_path / "obj" / "python"
    python.parent.mkdir()
    python.write_bytes(b"first build")
    side = bench.Side("patched", python, "t" * 40, tmp_path / "src", (), bench._identity(python))
    side.check_unchanged(tmp_path)  # untouched: fine
    replacement = tmp_path / "obj" / "python.new"
    replacement.write_bytes(b"second build, as make would link it")
    replacement.replace(python)
    with pytest.raises(QuickenError, match="was rebuilt while it was being measured"):
        side.check_unchanged(tmp_path)


def test_pystats_without_statistics_is_an_error(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    import sys
    script = tmp_path / "bm_quiet.py"
    script.write_text("pass\n")  # runs fine, writes no statistics (not a pystats build)
    monkeypatch.setattr(bench, "PYSTATS_DIR", tmp_path / "py_stats")
    monkeypatch.setattr(bench, "_side", lambda cfg, target, config_name, report, label=None: bench.Side(
        target, Path(sys.executable), "t" * 40, tmp_path / "src"))
    with pytest.raises(QuickenError, match="left no statistics"):
        bench.pystats(None, (suite.Benchmark("quiet", "micro", script),), "baseline", "patched",  # type: ignore[arg-type]
                      tmp_path, tmp_path / "out", lambda _: None)


def test_pystats_are_attributed_to_the_benchmark_that_ran(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Each benchmark's raw statistics files are its own: the per-benchmark table names the
    benchmark whose generic instructions ran, and the totals still come from all files."""
    import json
    import sys
    raw = tmp_path / "py_stats"
    monkeypatch.setattr(bench, "PYSTATS_DIR", raw)
    counts = {"hot": (900, 100), "cold": (10, 990)}  # generic BINARY_OP, BINARY_OP_ADD_INT
    benches = []
    for name, (generic, specialized) in counts.items():
        script = tmp_path / f"bm_{name}.py"
        script.write_text(
            f"import os\nwith open(os.path.join({str(raw)!r}, str(os.getpid()) + '.txt'), 'w') as f:\n"
            f"    f.write('opcode[BINARY_OP].specializable : 1\\n'\n"
            f"            '    opcode[BINARY_OP].execution_count : {generic}\\n'\n"
            f"            'opcode[BINARY_OP_ADD_INT].execution_count : {specialized}\\n')\n")
        benches.append(suite.Benchmark(name, "micro", script))
    summarize = tmp_path / "src" / "Tools" / "scripts" / "summarize_stats.py"
    summarize.parent.mkdir(parents=True)
    summarize.write_text(  # stands in for CPython's: sums the raw files, lists the specialized forms
        "import json, pathlib, sys\n"
        "if '--json-output' in sys.argv:\n"
        "    data = {'_specialized_instructions': ['BINARY_OP_ADD_INT']}\n"
        "    for p in pathlib.Path(sys.argv[1]).glob('*.txt'):\n"
        "        for line in p.read_text().splitlines():\n"
        "            k, v = line.strip().rsplit(' : ', 1)\n"
        "            data[k] = data.get(k, 0) + int(v)\n"
        "    pathlib.Path(sys.argv[3]).write_text(json.dumps(data))\n"
        "print('summary')\n")
    monkeypatch.setattr(bench, "_side", lambda cfg, target, config_name, report, label=None: bench.Side(
        target, Path(sys.executable), "t" * 40, tmp_path / "src"))
    out = tmp_path / "out"
    table = bench.pystats(None, tuple(benches), "baseline", "patched", tmp_path, out,  # type: ignore[arg-type]
                          lambda _: None).read_text()
    assert json.loads((out / "pystats" / "head.json").read_text())["opcode[BINARY_OP].execution_count"] == 910
    own = json.loads((out / "pystats" / "head-by-benchmark.json").read_text())
    assert own["cold"] == {"opcode[BINARY_OP].specializable": 1, "opcode[BINARY_OP].execution_count": 10,
                           "opcode[BINARY_OP_ADD_INT].execution_count": 990}
    by_bench = table.split("Where the head's unspecialized executions are")[1]
    rows = [line for line in by_bench.splitlines() if line.startswith("| hot") or line.startswith("| cold")]
    assert rows == [  # most unspecialized executions first; shares of each benchmark's own total
        "| hot | 1,000 | 90.00% | 90.00% | BINARY_OP 90.00% |",
        "| cold | 1,000 | 1.00% | 1.00% | BINARY_OP 1.00% |",
    ]
