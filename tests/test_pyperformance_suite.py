"""pyperformance's own runner: parsing its output, resume, memory, and the report."""

from __future__ import annotations

import json
import resource
import subprocess
import sys
from pathlib import Path

import pyperf
import pytest
from quicken import pyperformance_suite as P

LIST_OUTPUT = """\
'<default>' benchmarks:
- 2to3
- django_template
- json_dumps

Total: 3 benchmarks
"""

RUN_OUTPUT = """\
Python benchmark suite 1.14.0

Creating the virtual environment /c/venv/cpython3.13-aaaa-compat-bbbb
# /b/python -m venv --without-pip /c/venv/cpython3.13-aaaa-compat-bbbb

==================================================
( 1/3) creating venv for benchmark (django_template)

(trying common venv first)
# /c/venv/cpython3.13-aaaa-compat-bbbb/bin/python -m pip install django==3.2.4 pyperf==2.10.0
Successfully installed django-3.2.4

==================================================
( 2/3) creating venv for benchmark (greenlet_thing)

(trying common venv first)
# /c/venv/cpython3.13-aaaa-compat-bbbb/bin/python -m pip install greenlet==1.0
  error: subprocess-exited-with-error
ERROR: Failed building wheel for greenlet
ERROR: Could not build wheels for greenlet, which is required to install pyproject.toml-based projects
(falling back to unique venv)
ERROR: Could not build wheels for greenlet (unique venv)
(benchmark will be skipped)

==================================================
( 3/3) creating venv for benchmark (crashy)

(trying common venv first)

[1/3] crashy...
# /c/venv/cpython3.13-aaaa-compat-bbbb/bin/python -u /d/bm_crashy/run_benchmark.py --fast --output /tmp/x
Traceback (most recent call last):
  File "/d/bm_crashy/run_benchmark.py", line 3, in <module>
AttributeError: module 'ast' has no attribute 'Str'
ERROR: Benchmark crashy failed: Benchmark died
[2/3] django_template...
# /c/venv/cpython3.13-aaaa-compat-bbbb/bin/python -u /d/bm_django_template/run_benchmark.py \
--debug-single-value --track-memory --inherit-environ PIP_CERT,PYPERFORMANCE_RUNID --output /tmp/y
.
django_template: Mean +- std dev: 126 ms +- 31 ms
[3/3] greenlet_thing...
ERROR: Benchmark greenlet_thing failed: could not install requirements

2 benchmarks failed:
- crashy (Benchmark died)
- greenlet_thing (Install requirements error)

"""


def test_parse_list_output() -> None:
    assert P.parse_list_output(LIST_OUTPUT) == ["2to3", "django_template", "json_dumps"]


def test_parse_run_output() -> None:
    out = P.parse_run_output(RUN_OUTPUT.replace("\\\n", ""))
    assert out.ran == ["django_template"]
    assert out.failures == {
        "crashy": "Benchmark died: AttributeError: module 'ast' has no attribute 'Str'",
        "greenlet_thing": "could not install requirements: Could not build wheels for greenlet (unique venv)",
    }
    command = out.commands["django_template"]
    assert command[:3] == ["/c/venv/cpython3.13-aaaa-compat-bbbb/bin/python", "-u",
                           "/d/bm_django_template/run_benchmark.py"]
    assert P.worker_prefix(command) == command[:3]
    assert P.venv_name(command) == "cpython3.13-aaaa-compat-bbbb"


def test_parse_run_output_timeout_and_summary_only() -> None:
    text = "[1/2] a...\nERROR: Benchmark a timed out\n[2/2] b...\n\n1 benchmark failed:\n- b (weird)\n"
    assert P.parse_run_output(text).failures == {"a": "timed out", "b": "weird"}


def test_worker_command_keeps_extra_options(tmp_path: Path) -> None:
    command = ["/v/bin/python", "-u", "/d/bm_pickle/run_benchmark.py", "--pure-python", "pickle",
               "--debug-single-value", "--track-memory", "--output", "/tmp/z"]
    made = P.worker_command(command, 3)
    assert made.argv == ("/v/bin/python", "-u", "/d/bm_pickle/run_benchmark.py", "--pure-python", "pickle",
                         "--worker", "--loops=3", "--warmups=0", "--values=1", "--min-time=0", "--quiet")
    assert "PYTHONPATH" not in made.env and made.cwd == Path("/d/bm_pickle")
    assert P.as_benchmark("pickle_pure_python", command).args == ("--pure-python", "pickle")


def test_pystats_command_borrows_the_release_venv(tmp_path: Path) -> None:
    venv = tmp_path / "venv" / "cpython3.13-x"
    site = venv / "lib" / "python3.13" / "site-packages"
    site.mkdir(parents=True)
    command = [str(venv / "bin" / "python"), "-u", "/d/bm_django_template/run_benchmark.py",
               "--debug-single-value", "--output", "/tmp/z"]
    made = P.pystats_command(command, Path("/builds/pystats/patched/obj/python"))
    assert made.argv[:4] == ("/builds/pystats/patched/obj/python", "-X", "pystats", "-u")
    assert made.argv[7:] == ("/d/bm_django_template/run_benchmark.py", "--worker", "--loops=1",
                             "--warmups=0", "--values=1", "--min-time=0", "--quiet")
    assert made.argv[4] == "-c" and made.argv[6] == str(site) and "PYTHONPATH" not in made.env
    site.rmdir()
    with pytest.raises(P.QuickenError, match="no site-packages under"):
        P.pystats_command(command, Path("/p"))


def test_pystats_command_runs_the_script_with_the_venvs_pth_files(tmp_path: Path) -> None:
    """The venv's .pth files are processed (setuptools' distutils shim, which Django needs on 3.12+),
    and the script's own directory is on the path, as ``python SCRIPT`` has it."""
    venv = tmp_path / "venv" / "cpython3.13-x"
    site = venv / "lib" / "python3.13" / "site-packages"
    (site / "shim").mkdir(parents=True)
    (site / "shim" / "distutils_like.py").write_text("SHIM = 'from a .pth file'\n")
    (site / "distutils-precedence.pth").write_text(f"{site / 'shim'}\n")
    bench_dir = tmp_path / "bm_x"
    bench_dir.mkdir()
    (bench_dir / "helper.py").write_text("HELP = 'sibling'\n")
    (bench_dir / "run_benchmark.py").write_text(
        "import sys, distutils_like, helper\n"
        "print(distutils_like.SHIM, helper.HELP, __name__, sys.argv[1:])\n")
    command = [str(venv / "bin" / "python"), "-u", str(bench_dir / "run_benchmark.py"), "--output", "/t"]
    made = P.pystats_command(command, Path(sys.executable))
    out = subprocess.run(made.argv, env={**made.env, "PATH": "/usr/bin:/bin"}, cwd=made.cwd,
                         capture_output=True, text=True, check=True).stdout
    assert out.strip() == ("from a .pth file sibling __main__ ['--worker', '--loops=1', '--warmups=0', "
                           "'--values=1', '--min-time=0', '--quiet']")


def test_run_argv_and_environment() -> None:
    argv = P.run_argv(Path("/b/python"), Path("/o.json"), ["a"], fast=True, same_loops=Path("/l.json"),
                      inherit=["PIP_CERT"], host_python="host")
    assert argv == ["host", "-m", "pyperformance", "run", "--python", "/b/python", "-b", "a", "-o", "/o.json",
                    "--fast", "--same-loops", "/l.json", "--inherit-environ", "PIP_CERT"]
    probe = P.run_argv(Path("/b/python"), Path("/o.json"), ["a"], probe=True, same_loops=Path("/l.json"))
    assert "--debug-single-value" in probe and "--track-memory" not in probe and "--same-loops" not in probe
    environ = {"PIP_CERT": "x", "HOME": "/r", "https_proxy": "y"}
    assert P.inherited_environ(environ) == ["PIP_CERT", "https_proxy"]
    assert P.venv_home(Path("/c"), "0123456789abcdef") == Path("/c/pyperformance/0123456789ab")


def _dump(path: Path, name: str, values: list[float], unit: str = "second", loops: int = 4) -> None:
    runs = [pyperf.Run([v], metadata={"name": name, "unit": unit, "loops": loops}, collect_metadata=False)
            for v in values]
    pyperf.Benchmark(runs).dump(str(path))


class FakePyperformance:
    """Stands in for `pyperformance run`: writes results, remembers what it was asked."""

    def __init__(self, fail: dict[str, str] | None = None, interrupt_at: str | None = None) -> None:
        self.calls: list[tuple[str, str, bool, bool]] = []  # (bench, python, probe, same_loops)
        self.fail = fail or {}
        self.interrupt_at = interrupt_at

    def __call__(self, argv: list[str], cwd: Path, log: Path) -> P.RunOutput:
        name = argv[argv.index("-b") + 1]
        python = argv[argv.index("--python") + 1]
        output = Path(argv[argv.index("-o") + 1])
        probe = "--debug-single-value" in argv
        if self.interrupt_at == name and not probe:
            raise KeyboardInterrupt
        self.calls.append((name, python, probe, "--same-loops" in argv))
        assert cwd.name in ("base-tree-0", "head-tree-0")  # one pyperformance home per build tree
        if name in self.fail:
            return P.RunOutput(failures={name: self.fail[name]})
        scale = 1.0 if "base" in python else 0.9
        _dump(output, name, [scale * (0.01 + 0.0001 * i) for i in range(1 if probe else 6)])
        command = [f"{cwd}/venv/cpython3.13-x-compat-y/bin/python", "-u", f"/d/bm_{name}/run_benchmark.py",
                   "--debug-single-value", "--output", "/t"]
        return P.RunOutput(ran=[name], commands={name: command})


class FakePeakRss:
    """Stands in for the memory runs: head's worker peaks 2 % above base's."""

    def __init__(self) -> None:
        self.runs: list[str] = []  # the venv python of each run

    def __call__(self, command: P.suite.Command, timeout: float | None = None) -> int:
        assert "--loops=1" in command.argv and "--worker" in command.argv
        self.runs.append(command.argv[0])
        size = 50_000_000 if "base-tree-0" in command.argv[0] else 51_000_000
        return size


def _sides(tmp_path: Path) -> tuple[P.SideSpec, P.SideSpec]:
    return (P.SideSpec("baseline", Path("/base/python"), tmp_path / "base-tree-0", "b" * 40),
            P.SideSpec("patched", Path("/head/python"), tmp_path / "head-tree-0", "h" * 40))


def test_run_alternates_reuses_loops_and_lists_failures(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    fake = FakePyperformance(fail={"broken": "could not install requirements: no wheel"})
    monkeypatch.setattr(P, "run_pyperformance", fake)
    rss = FakePeakRss()
    monkeypatch.setattr(P, "peak_rss", rss)
    base, head = _sides(tmp_path)
    messages: list[str] = []
    result = P.run(["x"], base, head, tmp_path / "out", names=["a", "broken", "c"], report=messages.append)
    assert result.done == ["a", "c"]
    # "broken" is the second benchmark: head runs first there
    assert result.failures == {"broken": "patched: could not install requirements: no wheel"}
    walls = [(n, p) for n, p, probe, _ in fake.calls if not probe]
    assert walls == [("a", "/base/python"), ("a", "/head/python"),
                     ("c", "/base/python"), ("c", "/head/python")]
    assert [same for _, _, probe, same in fake.calls if not probe] == [False, True, False, True]
    assert any("ETA" in m for m in messages)
    assert result.base_json is not None and result.head_json is not None
    merged = pyperf.BenchmarkSuite.load(str(result.head_json))
    assert merged.get_benchmark_names() == ["a", "c"]
    # three runs per side for each finished benchmark, sides alternating (head first on the second run)
    assert len(rss.runs) == 2 * 3 * 2
    assert ["base" in r for r in rss.runs[:4]] == [True, False, False, True]
    memory = result.memory["a"]
    assert memory.base == (50_000_000,) * 3 and memory.medians[1] / memory.medians[0] == pytest.approx(1.02)
    assert memory.apart and set(result.memory) == {"a", "c"}


def test_memory_is_a_change_only_when_every_run_says_so() -> None:
    assert P.Memory((100, 102, 101), (110, 111, 109)).apart
    assert P.Memory((100, 102, 101), (90, 95, 99)).apart
    overlapping = P.Memory((100, 120, 101), (110, 111, 109))
    assert not overlapping.apart and overlapping.medians == (101, 110)


def test_peak_rss_of_a_real_process_and_its_failures(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin"}
    touch_64_mib = "b = bytearray(64 * 2**20); b[::4096] = b'x' * len(b[::4096])"
    big = P.suite.Command((sys.executable, "-c", touch_64_mib), env)
    small = P.suite.Command((sys.executable, "-c", "pass"), env)
    assert P.peak_rss(big) - P.peak_rss(small) > 60 * 2**20
    # not the peak of the process that started it (pytest's, well above an empty interpreter's)
    assert P.peak_rss(small) < min(25 * 2**20, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024)
    # a child the worker waits for counts too (command benchmarks such as python_startup)
    waits = f"import subprocess; subprocess.run({list(big.argv)!r})"
    child = P.suite.Command((sys.executable, "-c", waits), env)
    assert P.peak_rss(child) > 64 * 2**20
    failing = P.suite.Command((sys.executable, "-c", "raise SystemExit('no such benchmark data')"), env)
    with pytest.raises(P.QuickenError, match="exited 1: no such benchmark data"):
        P.peak_rss(failing)
    sleeping = P.suite.Command((sys.executable, "-c", "import time; time.sleep(30)"), env)
    with pytest.raises(P.QuickenError, match="timed out after 1 s"):
        P.peak_rss(sleeping, timeout=1)


def test_resume_skips_finished_benchmarks(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    base, head = _sides(tmp_path)
    out = tmp_path / "out"
    first = FakePyperformance(interrupt_at="c")
    monkeypatch.setattr(P, "run_pyperformance", first)
    monkeypatch.setattr(P, "peak_rss", FakePeakRss())
    with pytest.raises(KeyboardInterrupt):
        P.run(["x"], base, head, out, names=["a", "b", "c", "d"])
    state = json.loads((out / "pyperformance" / "state.json").read_text())
    assert sorted(n for n, e in state["benchmarks"].items() if e.get("wall")) == ["a", "b"]

    report_only = FakePyperformance()  # the report of the interrupted run: the finished ones, nothing run
    monkeypatch.setattr(P, "run_pyperformance", report_only)
    partial = P.run(["x"], base, head, out, names=["a", "b", "c", "d"], finished_only=True)
    assert report_only.calls == [] and partial.names == partial.done == ["a", "b"]
    assert pyperf.BenchmarkSuite.load(str(partial.base_json)).get_benchmark_names() == ["a", "b"]

    second = FakePyperformance()
    monkeypatch.setattr(P, "run_pyperformance", second)
    messages: list[str] = []
    result = P.run(["x"], base, head, out, names=["a", "b", "c", "d"], report=messages.append)
    assert {n for n, *_ in second.calls} == {"c", "d"}
    assert result.done == ["a", "b", "c", "d"]
    assert any("resuming, 2 of 4" in m for m in messages)
    assert pyperf.BenchmarkSuite.load(str(result.base_json)).get_benchmark_names() == ["a", "b", "c", "d"]

    third = FakePyperformance()
    monkeypatch.setattr(P, "run_pyperformance", third)
    P.run(["x"], base, head, out, names=["a", "b", "c", "d"])
    assert third.calls == []  # all finished: nothing runs again

    # a state timed before memory had its own runs: resuming measures memory, and times nothing again
    path = out / "pyperformance" / "state.json"
    older = json.loads(path.read_text())
    del older["benchmarks"]["b"]["memory"]
    path.write_text(json.dumps(older))
    monkeypatch.setattr(P, "run_pyperformance", fourth := FakePyperformance())
    monkeypatch.setattr(P, "peak_rss", rss := FakePeakRss())
    reported = P.run(["x"], base, head, out, names=["a", "b"], finished_only=True)
    assert reported.done == ["a", "b"] and set(reported.memory) == {"a"}
    assert rss.runs == []  # --finished-only measures nothing either
    assert set(P.run(["x"], base, head, out, names=["a", "b"]).memory) == {"a", "b"}
    assert fourth.calls == [] and len(rss.runs) == 6

    other = P.SideSpec("other", Path("/other/python"), head.home, "o" * 40)
    with pytest.raises(P.QuickenError, match="other builds"):
        P.run(["x"], base, other, out, names=["a"])


def test_headline_names_the_web_workloads() -> None:
    names = ["nbody", "django_template", "genshi_text", "sqlalchemy_declarative", "json_dumps", "docutils"]
    assert P.headline(names) == names[1:]
