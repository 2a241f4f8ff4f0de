"""Tests for quicken.suite: suites.toml, name resolution, pyperf commands."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pyperf
import pytest
from quicken import suite as S
from quicken.errors import QuickenError

ROOT = Path(__file__).resolve().parents[1]
SUITES = ROOT / "benchmarks" / "suites.toml"
FIXTURES = Path(__file__).resolve().parent / "fixtures" / "pyperf"
HAVE_PYPERFORMANCE = importlib.util.find_spec("pyperformance") is not None

REQUIRED_MICRO = {
    "dict_items",
    "dict_values",
    "dict_keys",
    "enumerate",
    "mixed_arith",
    "int_bitwise",
    "int_float_compare",
    "container_truth",
    "metaclass_attr",
    "enum_member",
    "init_defaults",
    "init_general",
    "neg_index",
    "bytearray_item",
    "tuple_contains",
    "tuple_hash",
    "array_item",
    "slice",
    "cond_jump",
    "call_return",
    "defaultdict",
}


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


@pytest.fixture
def project(tmp_path: Path) -> tuple[Path, Path]:
    """A tmp suites.toml, two micro scripts and a fake pyperformance tree."""
    bench_dir = tmp_path / "benchmarks"
    for name in ("alpha", "beta"):
        write(bench_dir / "micro" / f"bm_{name}.py", "print('hi')\n")
    fake = tmp_path / "pyperformance-benchmarks"
    write(fake / "bm_pure" / "run_benchmark.py", "")
    write(fake / "bm_pure" / "pyproject.toml", '[project]\nname = "x"\ndependencies = ["pyperf"]\n')
    write(fake / "bm_multi" / "run_benchmark.py", "")
    write(fake / "bm_needy" / "run_benchmark.py", "")
    write(fake / "bm_needy" / "pyproject.toml", '[project]\nname = "y"\ndependencies = ["pyperf"]\n')
    write(fake / "bm_needy" / "requirements.txt", "# pinned\nsomepkg==1.0\n")
    write(
        bench_dir / "suites.toml",
        """
        [pyperformance.multi_fast]
        dir = "bm_multi"
        args = ["--fast-mode", "x"]

        [suites.quick]
        description = "q"
        micro = "*"
        pyperformance = ["pure"]

        [suites.quick.pyperf]
        processes = 2
        values = 3
        min_time = 1

        [suites.some]
        micro = ["bm_beta"]
        pyperformance = ["multi_fast"]
        """,
    )
    return bench_dir / "suites.toml", fake


def test_resolve_named_suite(project: tuple[Path, Path]) -> None:
    path, fake = project
    config = S.load_suites(path)
    assert config.suite_names == ["quick", "some"]
    quick = S.resolve("quick", config, pyperformance_dir=fake)
    assert quick.names == ["alpha", "beta", "pure"]
    assert [b.kind for b in quick.benchmarks] == ["micro", "micro", "pyperformance"]
    assert quick.benchmarks[0].script == (path.parent / "micro" / "bm_alpha.py").resolve()
    assert quick.pyperf.processes == 2 and quick.pyperf.values == 3
    assert quick.pyperf.min_time == 1.0 and isinstance(quick.pyperf.min_time, float)
    some = S.resolve("some", config, pyperformance_dir=fake)
    assert some.names == ["beta", "multi_fast"]
    assert some.benchmarks[1].script == (fake / "bm_multi" / "run_benchmark.py").resolve()
    assert some.benchmarks[1].args == ("--fast-mode", "x")


def test_resolve_comma_list_accepts_bm_prefix(project: tuple[Path, Path]) -> None:
    path, fake = project
    config = S.load_suites(path)
    chosen = S.resolve(" bm_beta, pure ,alpha.py", config, pyperformance_dir=fake)
    assert chosen.names == ["beta", "pure", "alpha"]
    assert chosen.description == "ad-hoc selection"


@pytest.mark.parametrize(
    ("spec", "fragment"),
    [
        ("nosuch", "unknown suite or benchmark 'nosuch'"),
        ("alpha,nosuch", "unknown suite or benchmark 'nosuch'"),
        ("alpha,alpha", "listed twice"),
        ("", "empty benchmark selection"),
    ],
)
def test_resolve_errors(project: tuple[Path, Path], spec: str, fragment: str) -> None:
    path, fake = project
    with pytest.raises(S.SuiteError) as info:
        S.resolve(spec, S.load_suites(path), pyperformance_dir=fake)
    assert fragment in info.value.message
    assert isinstance(info.value, QuickenError)


def test_third_party_benchmarks_go_to_pyperformances_runner(project: tuple[Path, Path]) -> None:
    path, fake = project
    with path.open("a") as fp:
        fp.write('[suites.web]\nrunner = "pyperformance"\npyperformance = ["needy", "default"]\n'
                 '[suites.curated]\nmicro = []\npyperformance = ["needy"]\n')
    config = S.load_suites(path)
    chosen = S.resolve("alpha,needy", config, pyperformance_dir=fake)
    assert [b.name for b in chosen.benchmarks] == ["alpha"] and chosen.selection == ("needy",)
    web = S.resolve("web", config, pyperformance_dir=fake)
    assert web.benchmarks == () and web.selection == ("needy", "default")
    mixed = S.resolve("beta,web,needy", config, pyperformance_dir=fake)
    assert [b.name for b in mixed.benchmarks] == ["beta"] and mixed.selection == ("needy", "default")
    with pytest.raises(S.SuiteError, match="third-party"):
        S.resolve("curated", config, pyperformance_dir=fake)


def test_manifest_variants_go_to_pyperformances_runner(project: tuple[Path, Path]) -> None:
    """argparse_subparsers is bm_argparse run with options only pyperformance's MANIFEST knows."""
    path, fake = project
    (fake / "MANIFEST").write_text("[benchmarks]\n\nname\tmetafile\npure\t<local>\n"
                                   "pure_variant\t<local:pure>\n")
    assert S.manifest_variants(fake) == {"pure_variant": "pure"}
    chosen = S.resolve("alpha,pure_variant,pure", S.load_suites(path), pyperformance_dir=fake)
    assert [b.name for b in chosen.benchmarks] == ["alpha", "pure"] and chosen.selection == ("pure_variant",)
    with pytest.raises(S.SuiteError, match="unknown suite or benchmark 'pure_other'"):
        S.resolve("pure_other", S.load_suites(path), pyperformance_dir=fake)


def test_unknown_suite_hint_lists_choices(project: tuple[Path, Path]) -> None:
    path, fake = project
    with pytest.raises(S.SuiteError) as info:
        S.resolve("nosuch", S.load_suites(path), pyperformance_dir=fake)
    assert info.value.hint is not None
    assert "quick" in info.value.hint and "alpha" in info.value.hint


@pytest.mark.parametrize(
    ("text", "fragment"),
    [
        ("[suites.a]\nmicro = 3\n", "suites.a.micro must be a list of strings"),
        ("[suites.a]\nbogus = 1\n", "unknown key(s) in [suites.a]: bogus"),
        ("[suites.a.pyperf]\nprocesses = true\n", "suites.a.pyperf.processes must be of type int"),
        ("[suites.a.pyperf]\nturbo = 1\n", "unknown key suites.a.pyperf.turbo"),
        ("[other]\n", "unknown top-level key(s) other"),
        ("[pyperformance.x]\nfoo = 1\n[suites.a]\n", "unknown key(s) in [pyperformance.x]: foo"),
        ("[suites\n", "invalid TOML"),
        ('[suites.a]\ninclude = ["b"]\n', "suite 'a' includes unknown suite 'b'"),
        ('[suites.a]\ninclude = ["b"]\n[suites.b]\ninclude = ["a"]\n',
         "suites include each other: a -> b -> a"),
        ("", "no [suites.<name>] tables"),
    ],
)
def test_load_suites_rejects_bad_files(tmp_path: Path, text: str, fragment: str) -> None:
    path = write(tmp_path / "suites.toml", text)
    with pytest.raises(S.SuiteError) as info:
        S.load_suites(path)
    assert fragment in info.value.message
    assert str(path) in info.value.message


def test_missing_suites_file(tmp_path: Path) -> None:
    with pytest.raises(S.SuiteError, match="suites file not found"):
        S.load_suites(tmp_path / "nope.toml")


def test_suite_lists_unknown_micro(tmp_path: Path) -> None:
    write(tmp_path / "micro" / "bm_a.py", "")
    path = write(tmp_path / "suites.toml", '[suites.s]\nmicro = ["zzz"]\n')
    with pytest.raises(S.SuiteError, match="unknown micro-benchmark 'zzz'"):
        S.resolve("s", S.load_suites(path))


def test_suite_include_adds_other_suites_once(tmp_path: Path) -> None:
    for name in ("a", "b", "c"):
        write(tmp_path / "micro" / f"bm_{name}.py", "")
    path = write(
        tmp_path / "suites.toml",
        """
        [suites.inner]
        micro = ["b", "c"]
        [suites.outer]
        micro = ["a", "b"]
        include = ["inner"]
        """,
    )
    assert S.resolve("outer", S.load_suites(path)).names == ["a", "b", "c"]


def test_pyperformance_dependencies(tmp_path: Path) -> None:
    write(tmp_path / "pyproject.toml", '[project]\ndependencies = ["pyperf", "websockets>=11"]\n')
    write(tmp_path / "requirements.txt", "websockets==11.0.3\n\n# c\nextra[x]==2 ; python_version > '3'\n")
    deps = S.pyperformance_dependencies(tmp_path)
    assert deps == ["websockets>=11", "websockets==11.0.3", "extra[x]==2 ; python_version > '3'"]
    assert S.pyperformance_dependencies(tmp_path / "empty") == []


def test_missing_pyperformance_names_package(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(S.importlib.util, "find_spec", lambda name: None)
    with pytest.raises(QuickenError) as info:
        S.pyperformance_benchmarks_dir()
    assert "pyperformance is not installed" in info.value.message
    assert info.value.hint is not None and "pip install pyperformance" in info.value.hint


# --------------------------------------------------------------------------
# the real suites file and scripts


def test_real_micro_benchmarks_present() -> None:
    micros = S.micro_benchmarks(ROOT / "benchmarks" / "micro")
    assert set(micros) >= REQUIRED_MICRO


@pytest.mark.skipif(not HAVE_PYPERFORMANCE, reason="pyperformance not installed")
def test_real_suites_resolve() -> None:
    config = S.load_suites(SUITES)
    assert {"quick", "full"} <= set(config.suite_names)
    quick = S.resolve("quick", config)
    full = S.resolve("full", config)
    micros = set(S.micro_benchmarks(config.micro_dir))
    quick_pyperf = [b for b in quick.benchmarks if b.kind == "pyperformance"]
    assert micros <= set(quick.names) and micros <= set(full.names)
    assert 3 <= len(quick_pyperf) <= 5
    full_pyperf = [b for b in full.benchmarks if b.kind == "pyperformance"]
    assert len(full_pyperf) >= 20
    assert {b.name for b in quick_pyperf} <= {b.name for b in full_pyperf}
    subset = S.resolve("subset", config)
    assert [b.kind for b in subset.benchmarks] == ["pyperformance"] * len(full_pyperf)
    assert set(subset.names) == {b.name for b in full_pyperf}
    for bench in full_pyperf:
        assert bench.script.is_file()
        assert S.pyperformance_dependencies(bench.script.parent) == [], bench.name


def test_every_micro_benchmark_runs_on_host_python(tmp_path: Path) -> None:
    """Each script runs (worker mode, 2 loops) and reports its own name."""
    pyperf_dir = S.prepare_pyperf_path(tmp_path / "cache")
    micros = S.micro_benchmarks(ROOT / "benchmarks" / "micro")
    for name, bench in micros.items():
        command = S.single_run_command(bench, sys.executable, pyperf_dir, 2)
        proc = subprocess.run(
            command.argv, env=dict(command.env), cwd=command.cwd, capture_output=True, text=True
        )
        assert proc.returncode == 0, (name, proc.stderr)
        assert proc.stdout.strip().startswith(f"{name}:"), (name, proc.stdout)


def test_micro_benchmarks_have_descriptions() -> None:
    for bench in S.micro_benchmarks(ROOT / "benchmarks" / "micro").values():
        text = bench.script.read_text(encoding="utf-8")
        assert 'runner.metadata["description"]' in text, bench.name
        assert "bench_time_func(" in text, bench.name
        assert f'"{bench.name}"' in text, bench.name


# --------------------------------------------------------------------------
# commands


def test_pyperf_options_argv() -> None:
    options = S.PyperfOptions(
        output=Path("/tmp/o.json"),
        processes=4,
        values=3,
        warmups=1,
        min_time=0.05,
        fast=True,
        inherit_environ=("FOO", "BAR"),
        affinity="1",
        extra=("--no-locale",),
    )
    assert options.argv() == [
        "--fast",
        "--processes=4",
        "--values=3",
        "--warmups=1",
        "--min-time=0.05",
        "--affinity=1",
        "--inherit-environ=FOO,BAR",
        "--quiet",
        "--output=/tmp/o.json",
        "--no-locale",
    ]
    assert S.PyperfOptions(quiet=False).argv() == []
    with pytest.raises(ValueError):
        S.PyperfOptions(output=Path("a"), append=Path("b")).argv()
    with pytest.raises(ValueError):
        S.PyperfOptions(fast=True, rigorous=True).argv()


def test_options_updated_ignores_none() -> None:
    base = S.PyperfOptions(processes=4, values=3)
    new = base.updated(processes=None, values=5, append=Path("r.json"))
    assert (new.processes, new.values, new.append) == (4, 5, Path("r.json"))


def test_bench_command_env_and_argv(tmp_path: Path) -> None:
    bench = S.Benchmark("x", "pyperformance", tmp_path / "run_benchmark.py", ("--pure-python", "pickle"))
    base_env = {"PATH": "/bin", "PYTHONHOME": "/bad", "PYTHONPATH": "/host/tools", "HOME": "/root"}
    command = S.bench_command(
        bench, "/b/python", tmp_path / "pp", S.PyperfOptions(values=2), base_env=base_env
    )
    assert command.argv == (
        "/b/python",
        "-u",
        str(tmp_path / "run_benchmark.py"),
        "--pure-python",
        "pickle",
        "--values=2",
        "--quiet",
    )
    assert command.env["PYTHONPATH"] == str(tmp_path / "pp")
    assert "PYTHONHOME" not in command.env
    assert command.env["PATH"] == "/bin"
    assert command.cwd == tmp_path


def test_single_run_command(tmp_path: Path) -> None:
    bench = S.Benchmark("x", "micro", tmp_path / "bm_x.py")
    command = S.single_run_command(bench, "py", tmp_path, 7, worker_task=1, base_env={}, extra_env={"A": "1"})
    assert command.argv[:2] == ("py", "-S")
    assert command.argv[4:] == (
        "--worker",
        "--loops=7",
        "--warmups=0",
        "--values=1",
        "--min-time=0",
        "--quiet",
        "--worker-task=1",
    )
    assert command.env["A"] == "1"
    with pytest.raises(ValueError):
        S.single_run_command(bench, "py", tmp_path, 0)


def test_prepare_pyperf_path_is_importable_and_cached(tmp_path: Path) -> None:
    cache = tmp_path / "cache"
    first = S.prepare_pyperf_path(cache)
    assert (first / "pyperf" / "__init__.py").is_file()
    assert not (first / "pyperf" / "tests").exists()
    assert S.prepare_pyperf_path(cache) == first
    # -S: no site-packages, so pyperf can only come from the prepared dir.
    proc = subprocess.run(
        [sys.executable, "-S", "-c", "import pyperf; print(pyperf.__file__, pyperf.__version__)"],
        env=S.benchmark_env(first, base_env={"PATH": os.environ.get("PATH", "")}),
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stderr
    path, version = proc.stdout.split()
    assert Path(path).is_relative_to(first)
    assert version == pyperf.__version__
    assert S.check_target_python(sys.executable, first) == sys.version.split()[0]
    assert list((first / "pyperf" / "__pycache__").glob(f"*.{sys.implementation.cache_tag}.pyc"))


def test_check_target_python_errors(tmp_path: Path) -> None:
    with pytest.raises(QuickenError, match="cannot run interpreter"):
        S.check_target_python(tmp_path / "no-python", tmp_path)
    fake = write(tmp_path / "fakepy", "#!/bin/sh\necho 'No module named pyperf' >&2\nexit 1\n")
    fake.chmod(0o755)
    with pytest.raises(QuickenError, match="cannot import pyperf"):
        S.check_target_python(fake, tmp_path)


def test_merge_results(tmp_path: Path) -> None:
    suite = pyperf.BenchmarkSuite.load(str(FIXTURES / "base.json"))
    parts = []
    for bench in suite.get_benchmarks():
        part = tmp_path / f"{bench.get_name()}.json"
        pyperf.BenchmarkSuite([bench]).dump(str(part))
        parts.append(part)
    merged = S.merge_results(parts, tmp_path / "out" / "all.json")
    assert sorted(pyperf.BenchmarkSuite.load(str(merged)).get_benchmark_names()) == ["loop_sum", "str_join"]
    with pytest.raises(QuickenError, match="already in"):
        S.merge_results([parts[0], parts[0]], tmp_path / "dup.json")


def test_suite_names_inside_a_list_expand_with_their_options() -> None:
    from quicken import suite as suite_mod

    config = suite_mod.load_suites(Path(__file__).parent.parent / "benchmarks" / "suites.toml")
    quick = suite_mod.resolve("quick", config)
    for spec in ("int_bitwise,quick", "quick,int_bitwise"):
        mixed = suite_mod.resolve(spec, config)
        assert sorted(mixed.names) == sorted(quick.names)  # no duplicates
        assert mixed.pyperf == quick.pyperf
    assert suite_mod.resolve("int_bitwise,quick", config).names[0] == "int_bitwise"
