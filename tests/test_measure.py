"""Tests for quicken.measure (callgrind instruction counting)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import textwrap
from collections.abc import Mapping
from pathlib import Path

import pytest
from quicken import measure as M
from quicken.errors import ToolMissingError
from quicken.suite import Benchmark, Command, check_target_python, prepare_pyperf_path

HAVE_VALGRIND = shutil.which("valgrind") is not None

TINY = """
import pyperf

def body(loops, n):
    t0 = pyperf.perf_counter()
    for _ in range(loops):
        total = 0
        for i in range(n):
            total += i * 3
    return pyperf.perf_counter() - t0

if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.bench_time_func("tiny", body, {n})
"""


def callgrind_file(
    path: Path, events: str = "Ir", summary: str = "summary: 1234", totals: str = "totals: 1234"
) -> Path:
    path.write_text(
        textwrap.dedent(
            f"""\
            # callgrind format
            version: 1
            creator: callgrind-3.19.0
            cmd: python x.py
            events: {events}
            fn=(1) main
            3 1000
            {summary}
            {totals}
            """
        ),
        encoding="utf-8",
    )
    return path


def test_parse_callgrind_total(tmp_path: Path) -> None:
    assert M.parse_callgrind_total(callgrind_file(tmp_path / "a")) == 1234
    assert M.parse_callgrind_total(callgrind_file(tmp_path / "b", summary="", totals="totals: 99 5")) == 99
    assert M.parse_callgrind_total(callgrind_file(tmp_path / "c", summary="summary: 42", totals="")) == 42


def test_parse_callgrind_errors(tmp_path: Path) -> None:
    with pytest.raises(M.MeasureError, match="no summary/totals line"):
        M.parse_callgrind_total(callgrind_file(tmp_path / "a", summary="", totals=""))
    with pytest.raises(M.MeasureError, match="not Ir"):
        M.parse_callgrind_total(callgrind_file(tmp_path / "b", events="Dr Ir"))
    with pytest.raises(M.MeasureError, match="cannot read callgrind output"):
        M.parse_callgrind_total(tmp_path / "missing")


def test_missing_valgrind_names_debian_package() -> None:
    with pytest.raises(ToolMissingError) as info:
        M.find_valgrind("valgrind-not-installed-anywhere")
    assert info.value.hint is not None and "valgrind" in info.value.hint
    assert "apt-get install valgrind" in info.value.hint
    assert info.value.exit_code == 3


def test_count_instructions_without_valgrind(tmp_path: Path) -> None:
    bench = Benchmark("tiny", "micro", tmp_path / "bm_tiny.py")
    with pytest.raises(ToolMissingError):
        M.count_instructions(
            bench, sys.executable, tmp_path, tmp_path / "cg", valgrind="no-such-valgrind-xyz"
        )


def test_callgrind_argv(tmp_path: Path) -> None:
    argv = M.callgrind_argv(
        ["py", "-u", "s.py"], tmp_path / "out", valgrind="vg", no_aslr_prefix=["setarch", "x", "-R"]
    )
    assert argv[:4] == ["setarch", "x", "-R", "vg"]
    assert "--tool=callgrind" in argv
    assert f"--callgrind-out-file={tmp_path / 'out'}" in argv
    assert argv[-3:] == ["py", "-u", "s.py"]
    assert "--trace-children=no" in argv
    children = M.callgrind_argv(["py"], tmp_path / "out", trace_children=True)
    assert f"--callgrind-out-file={tmp_path / 'out'}.%p" in children and "--trace-children=yes" in children


def test_a_command_benchmark_is_counted_with_its_child_processes(tmp_path: Path) -> None:
    command = tmp_path / "bm_startup.py"
    command.write_text("import pyperf, sys\npyperf.Runner().bench_command('startup', [sys.executable])\n")
    timed = tmp_path / "bm_loop.py"
    timed.write_text(TINY.format(n=10))
    assert M.times_a_command(command) and not M.times_a_command(timed)
    assert not M.times_a_command(tmp_path / "missing.py")
    # one file per process; other files beside them are not the run's
    for name in ("run.2.callgrind.101", "run.2.callgrind.102", "run.2.callgrind", "run.2.callgrind.101.tmp"):
        callgrind_file(tmp_path / name)
    files = M.callgrind_files(tmp_path / "run.2.callgrind", True)
    assert [p.name for p in files] == ["run.2.callgrind.101", "run.2.callgrind.102"]
    assert M.callgrind_files(tmp_path / "run.2.callgrind", False) == [tmp_path / "run.2.callgrind"]
    # the cache keeps such counts apart from counts made without the child processes
    key = M.CountCache.key("tree", (), Benchmark("startup", "pyperformance", command), 1)
    assert "child processes" in key
    assert "child processes" not in M.CountCache.key("tree", (), Benchmark("loop", "micro", timed), 1)


@pytest.mark.skipif(not HAVE_VALGRIND, reason="valgrind not installed")
def test_a_command_benchmark_counts_the_command(tmp_path: Path) -> None:
    pyperf_dir = prepare_pyperf_path(tmp_path / "cache")
    check_target_python(sys.executable, pyperf_dir)
    script = tmp_path / "bm_child.py"
    script.write_text(
        "import sys, pyperf\n"
        "if __name__ == '__main__':\n"
        "    pyperf.Runner().bench_command('child', [sys.executable, '-S', '-c', "
        "'for i in range(200_000): pass'])\n"
    )
    count = M.count_instructions(Benchmark("child", "micro", script), sys.executable, pyperf_dir,
                                 tmp_path / "cg", loops=1)
    # one loop is one child interpreter running 200,000 iterations: millions of instructions,
    # not the few hundred the parent spends between its clock reads
    assert count.per_loop > 2_000_000
    assert len(list((tmp_path / "cg").glob("child.1.callgrind.*"))) >= 2


def test_counts_round_trip(tmp_path: Path) -> None:
    counts = {
        "a": M.InstructionCount("a", loops=10, total_low=1_000, total_high=1_505, aslr_disabled=True),
        "b": M.InstructionCount("b", loops=1, total_low=50, total_high=80, aslr_disabled=False),
    }
    assert counts["a"].per_loop == 50  # 50.5 rounds to even
    path = tmp_path / "sub" / "instr.json"
    M.save_counts(path, counts)
    assert M.load_counts(path) == {"a": 50, "b": 30}
    path.write_text('{"a": {"per_loop": "x"}}', encoding="utf-8")
    with pytest.raises(M.MeasureError, match="no integer per_loop"):
        M.load_counts(path)
    with pytest.raises(M.MeasureError, match="instruction counts not found"):
        M.load_counts(tmp_path / "none.json")


@pytest.mark.skipif(not HAVE_VALGRIND, reason="valgrind not installed")
def test_callgrind_per_loop_difference_is_positive_repeatable_and_scales(tmp_path: Path) -> None:
    pyperf_dir = prepare_pyperf_path(tmp_path / "cache")
    check_target_python(sys.executable, pyperf_dir)  # byte-compiles pyperf
    small = tmp_path / "bm_small.py"
    small.write_text(TINY.format(n=50), encoding="utf-8")
    large = tmp_path / "bm_large.py"
    large.write_text(TINY.format(n=100), encoding="utf-8")
    bench_small = Benchmark("small", "micro", small)
    bench_large = Benchmark("large", "micro", large)

    def count(bench: Benchmark) -> M.InstructionCount:
        # one heap state: the states are test_a_small_loop_is_the_median_of_its_heap_states'
        return M.count_instructions(bench, sys.executable, pyperf_dir, tmp_path / "cg", loops=400,
                                    heap_pads=(0,))

    first, second, doubled = count(bench_small), count(bench_small), count(bench_large)

    assert first.per_loop > 0
    assert first.total_high > first.total_low > 1_000_000  # includes interpreter start-up
    # Start-up (~10^8 instructions, varying by a few thousand between runs
    # because pyperf records times and load in its metadata) cancels: the
    # per-loop figure is repeatable to a fraction of a percent ...
    assert abs(first.per_loop - second.per_loop) <= first.per_loop // 200
    # ... and tracks the body: twice the inner iterations, about twice the instructions.
    assert 1.8 < doubled.per_loop / first.per_loop < 2.2
    assert (tmp_path / "cg" / "small.400.callgrind").is_file()
    assert (tmp_path / "cg" / "small.800.callgrind").is_file()
    # The per-function counts add up to the per-loop count, and the body runs in the interpreter loop.
    assert abs(sum(first.functions.values()) - first.per_loop) <= first.per_loop // 100
    assert max(first.functions, key=first.functions.__getitem__).startswith("_PyEval_EvalFrameDefault")


CALLGRIND_WITH_CALLS = """\
# callgrind format
version: 1
events: Ir
fl=(1) a.c
fn=(1) main
1 10
cfn=(2) helper
calls=3 5
2 300
3 5
fn=(2)
5 100
+1 200
fn=(3) rec'2
7 40
fn=(4) rec
8 2
fn=(5) loop.cold'2
9 6
fn=(6) loop
10 4
fn=(7) other.cold.1
11 1
totals: 368
"""


def test_function_costs_count_self_instructions_only(tmp_path: Path) -> None:
    path = tmp_path / "x.callgrind"
    path.write_text(CALLGRIND_WITH_CALLS)
    # main's own 10 + 5; the 300 after calls= is helper's inclusive cost, not main's.
    # Recursion levels and GCC's cold parts count as the function itself.
    assert M.function_costs(path) == {"main": 15, "helper": 300, "rec": 42, "loop": 10, "other": 1}
    assert sum(M.function_costs(path).values()) == 368


def test_per_loop_functions_and_shifts(tmp_path: Path) -> None:
    low, high = tmp_path / "low", tmp_path / "high"
    low.write_text("events: Ir\nfn=(1) f\n1 1000\nfn=(2) g\n1 500\n")
    high.write_text("events: Ir\nfn=(1) f\n1 3000\nfn=(2) g\n1 500\nfn=(3) h\n1 40\n")
    functions = M.per_loop_functions([low], [high], 10)
    assert functions == {"f": 200, "h": 4}  # g did not grow with the loop count
    base = M.InstructionCount("b", 10, 0, 0, True, {"f": 200, "h": 4})
    head = M.InstructionCount("b", 10, 0, 0, True, {"f": 190, "h": 30, "k": 1})
    assert M.function_shifts(base, head) == [("h", 26), ("f", -10), ("k", 1)]
    assert M.function_shifts(base, head, top=1) == [("h", 26)]


def test_cpu_signature_tells_apart_cpus_a_hypervisor_names_alike(tmp_path: Path) -> None:
    cpuinfo = tmp_path / "cpuinfo"
    processor = ("processor\t: {n}\nvendor_id\t: AuthenticAMD\ncpu family\t: 25\nmodel\t\t: 17\n"
                 "model name\t: AMD EPYC\nstepping\t: 1\n")
    cpuinfo.write_text(processor.format(n=0) + "\n" + processor.format(n=1).replace("17", "99"))
    assert M.cpu_signature(cpuinfo) == "family 25 model 17 stepping 1"  # the first processor
    cpuinfo.write_text("processor\t: 0\nmodel name\t: ARMv8 Processor\n")
    assert M.cpu_signature(cpuinfo) == ""  # no family/model lines (not x86)
    assert M.cpu_signature(tmp_path / "missing") == ""


def _importing_benchmark(tmp_path: Path, n: int) -> tuple[Path, Benchmark]:
    """(pyperf path, a benchmark of ``n`` iterations a loop whose script imports a large module
    of its own, ``helper``, beside it)."""
    pyperf_dir = prepare_pyperf_path(tmp_path / "cache")
    check_target_python(sys.executable, pyperf_dir)
    bench_dir = tmp_path / "bench"
    bench_dir.mkdir()
    function = "def f{i}(x):\n    y = [x + j for j in range({i} % 7)]\n    return sum(y) * {i}\n\n"
    (bench_dir / "helper.py").write_text("".join(function.format(i=i) for i in range(600)))
    script = bench_dir / "bm_import.py"
    script.write_text(TINY.format(n=n).replace("import pyperf\n", "import pyperf\nimport helper\n"))
    return pyperf_dir, Benchmark("import", "pyperformance", script)


def _worker_command(bench: Benchmark, loops: int, env: Mapping[str, str], pyperf_dir: Path) -> Command:
    """The command a runner of its own (like pyperformance's) would make for ``bench``."""
    argv = (sys.executable, "-S", str(bench.script), "--worker", f"--loops={loops}", "--warmups=0",
            "--values=1", "--min-time=0", "--quiet")
    return Command(argv, {**env, "PYTHONPATH": str(pyperf_dir)}, bench.script.parent)


@pytest.mark.skipif(not HAVE_VALGRIND, reason="valgrind not installed")
def test_the_two_counted_runs_import_alike_on_a_fresh_build(tmp_path: Path) -> None:
    """A module imported for the first time is compiled and its bytecode cached: if the N-loop run
    cached it, the 2N-loop run would skip the compile, and the difference of the two runs would be
    the loops minus a compile.  A command made elsewhere (pyperformance's runner, in its venv) does
    not forbid writing bytecode: the counted runs do."""
    pyperf_dir, bench = _importing_benchmark(tmp_path, 200)
    bench_dir = bench.script.parent
    env = {name: value for name, value in os.environ.items() if name != "PYTHONDONTWRITEBYTECODE"}

    def command_for(loops: int) -> Command:
        return _worker_command(bench, loops, env, pyperf_dir)

    first = M.count_instructions(bench, sys.executable, pyperf_dir, tmp_path / "cg1", loops=20,
                                 command_for=command_for)
    assert not (bench_dir / "__pycache__").exists()  # no counted run changes what the next one imports
    second = M.count_instructions(bench, sys.executable, pyperf_dir, tmp_path / "cg2", loops=20,
                                  command_for=command_for)
    assert abs(first.per_loop - second.per_loop) <= first.per_loop * 0.01
    assert "PYTHONDONTWRITEBYTECODE=1" in M.CountCache.key("tree", (), bench, 20)


@pytest.mark.skipif(not HAVE_VALGRIND, reason="valgrind not installed")
def test_bytecode_written_by_another_run_between_the_counted_runs_changes_nothing(tmp_path: Path) -> None:
    """A build's __pycache__ is shared: ``quicken codegen`` or a user's script running the build
    writes bytecode into it, also between the N- and the 2N-loop run.  The counted runs read their
    bytecode from a prefix of their own (filled by one uncounted run), so a module compiled by one
    of them and loaded from __pycache__ by the other cannot happen (coroutines lost 15 % that way)."""
    pyperf_dir, bench = _importing_benchmark(tmp_path, 5000)
    bench_dir = bench.script.parent
    made: list[int] = []

    def command_for(loops: int) -> Command:
        made.append(loops)
        if loops == 40 and not (bench_dir / "__pycache__").exists():  # someone else runs the build
            writes = {name: value for name, value in os.environ.items()
                      if name not in ("PYTHONPYCACHEPREFIX", "PYTHONDONTWRITEBYTECODE")}
            subprocess.run([sys.executable, "-c", "import helper"], cwd=bench_dir, check=True, env=writes)
            assert (bench_dir / "__pycache__").is_dir()
        return _worker_command(bench, loops, os.environ, pyperf_dir)

    disturbed = M.count_instructions(bench, sys.executable, pyperf_dir, tmp_path / "cg1", loops=20,
                                     command_for=command_for, heap_pads=(0,))
    assert made == [20, 20, 40]  # the uncounted run, then the two counted ones
    made.clear()
    calm = M.count_instructions(bench, sys.executable, pyperf_dir, tmp_path / "cg2", loops=20,
                                command_for=command_for, heap_pads=(0,))
    # the new __pycache__ beside the script still changes the directory the 2N-loop run lists at
    # start-up: about 30,000 instructions once, under 0.1 % of a loop here (without the private
    # prefix that run loads helper instead of compiling it, and the count fails outright)
    assert abs(disturbed.per_loop - calm.per_loop) <= calm.per_loop * 0.01
    assert M.PYC_PREFIX_KEY in M.CountCache.key("tree", (), bench, 20)


def test_a_counted_run_gets_only_the_environment_its_command_set() -> None:
    caller = {"PATH": "/usr/bin", "HOME": "/root", "SSH_CLIENT": "10.0.0.1 5 22", "OLDPWD": "/tmp",
              "PYTHONPATH": "/site", "LANG": "C.UTF-8", "TMPDIR": "/var/tmp"}
    command = {**caller, "PYTHONPATH": "/pyperf", "PYTHONHASHSEED": "0", "VIRTUAL_ENV": "/venv",
               "LANG": "C.UTF-8"}
    counted = M.counted_environment(command, caller)
    # the caller's session variables are gone; what the command set or changed, PYTHON* and the
    # few a benchmark may need stay
    assert counted == {"PATH": "/usr/bin", "HOME": "/root", "TMPDIR": "/var/tmp", "PYTHONPATH": "/pyperf",
                       "PYTHONHASHSEED": "0", "VIRTUAL_ENV": "/venv"}
    # a PYTHON* variable the command inherited unchanged is still the command's
    assert M.counted_environment({"PYTHONPATH": "/site"}, caller) == {"PYTHONPATH": "/site"}
    # the cache keeps counts made this way apart from counts made any other way
    bench = Benchmark("tiny", "micro", Path(__file__))
    assert M.heap_states_key() in M.CountCache.key("tree", (), bench, 1)
    # and counts made at other heap states apart from these
    assert M.CountCache.key("tree", (), bench, 1, heap_pads=(0,)) != M.CountCache.key("tree", (), bench, 1)


#: TINY with a body whose work grows with the heap pad, so each state's count can be told apart, and
#: a check that the caller's session is not passed on.
PADDED = TINY.format(n=f'50 + 10 * len(os.environ["{M.HEAP_PAD_VARIABLE}"]) // 16').replace(
    "import pyperf\n", 'import os, pyperf\nassert "QUICKEN_TEST_SESSION_VARIABLE" not in os.environ\n')


@pytest.mark.skipif(not HAVE_VALGRIND, reason="valgrind not installed")
def test_a_small_loop_is_the_median_of_its_heap_states(tmp_path: Path,
                                                       monkeypatch: pytest.MonkeyPatch) -> None:
    pyperf_dir = prepare_pyperf_path(tmp_path / "cache")
    check_target_python(sys.executable, pyperf_dir)
    script = tmp_path / "bm_padded.py"
    script.write_text(PADDED, encoding="utf-8")
    bench = Benchmark("padded", "micro", script)
    # the counted runs do not see this process's session variables (the script checks)
    monkeypatch.setenv("QUICKEN_TEST_SESSION_VARIABLE", "x" * 4000)
    pads = (32, 0, 16)  # out of order: the median is the middle count, not the middle of the list
    count = M.count_instructions(bench, sys.executable, pyperf_dir, tmp_path / "cg", loops=20, heap_pads=pads)
    at32, at0, at16 = count.heap_states
    # pad 0 runs 50 iterations a loop, pad 16 60, pad 32 70: the counts grow with the body
    assert 1.1 < at16 / at0 < 1.3 and 1.1 < at32 / at16 < 1.3
    assert count.per_loop == at16
    assert (tmp_path / "cg" / "padded.20.callgrind").is_file()  # the first pad's files keep the plain name
    assert (tmp_path / "cg" / "padded.pad0.40.callgrind").is_file()
    assert (tmp_path / "cg" / "padded.pad16.40.callgrind").is_file()
    # a loop of HEAP_STATES_BELOW instructions or more is counted at the first state only
    monkeypatch.setattr(M, "HEAP_STATES_BELOW", 1)
    once = M.count_instructions(bench, sys.executable, pyperf_dir, tmp_path / "cg1", loops=20, heap_pads=pads)
    assert once.heap_states == (once.per_loop,) and abs(once.per_loop - at32) <= at32 // 100
    assert not list((tmp_path / "cg1").glob("*.pad*"))
