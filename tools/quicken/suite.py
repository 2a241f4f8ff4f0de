"""Benchmark suites: what to run, and the command lines to run it.

``benchmarks/suites.toml`` names groups of benchmarks.  A benchmark is either
one of our micro-benchmark scripts (``benchmarks/micro/bm_<name>.py``) or a
pyperformance benchmark script taken from the *host's* installed pyperformance
package (``data-files/benchmarks/bm_<name>/run_benchmark.py``).  Both are
plain pyperf scripts, so every benchmark runs the same way::

    <target python> -u <script> [extra args] [pyperf options]

with only ``pyperf`` importable (from a directory prepared by
:func:`prepare_pyperf_path`).  We deliberately do not go through
``pyperformance run``: it creates a virtual environment per interpreter and
installs pyperf and requirements from the network.  See benchmarks/README.md.

This module builds commands; it never runs a benchmark itself (except for the
quick import check in :func:`check_target_python`).
"""

from __future__ import annotations

import dataclasses
import importlib.util
import os
import shutil
import subprocess
import sys
import tempfile
import tomllib
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from quicken.errors import QuickenError

BenchKind = Literal["micro", "pyperformance"]
MICRO: BenchKind = "micro"
PYPERFORMANCE: BenchKind = "pyperformance"

#: Environment variables of the caller that must not leak into a benchmarked
#: interpreter (they change what it imports or how it starts).
_SCRUBBED_ENV = (
    "PYTHONHOME",
    "PYTHONSTARTUP",
    "PYTHONUSERBASE",
    "PYTHONSAFEPATH",
    "PYTHONINSPECT",
    "PYTHONDEVMODE",
    "PYTHONWARNINGS",
    "PYTHONMALLOC",
    "PYTHONPROFILEIMPORTTIME",
    "PYTHONEXECUTABLE",
    "PYTHONBREAKPOINT",
    "VIRTUAL_ENV",
)

_PYPERFORMANCE_HINT = (
    f"install it for the host interpreter: {sys.executable} -m pip install pyperformance==1.14.0"
    " (bash .ci/setup installs it into .venv)"
)


class SuiteError(QuickenError):
    """suites.toml, a suite name or a benchmark name is wrong."""


@dataclass(frozen=True)
class Benchmark:
    """One runnable benchmark script.

    ``name`` is the name used on the command line and in suites.toml (no
    ``bm_`` prefix).  A pyperformance script may record several pyperf
    benchmarks in its results (``scimark`` -> ``scimark_sor``, ...); a
    micro-benchmark records exactly one, named ``name``.
    """

    name: str
    kind: BenchKind
    script: Path
    args: tuple[str, ...] = ()


@dataclass(frozen=True)
class PyperfOptions:
    """pyperf command-line options for one benchmark run.

    ``None`` / empty means "leave pyperf's default".  ``inherit_environ``
    names extra environment variables pyperf should pass to its worker
    processes (PATH, HOME and PYTHONPATH always are).
    """

    output: Path | None = None
    append: Path | None = None
    processes: int | None = None
    values: int | None = None
    warmups: int | None = None
    loops: int | None = None
    min_time: float | None = None
    fast: bool = False
    rigorous: bool = False
    inherit_environ: tuple[str, ...] = ()
    affinity: str | None = None
    timeout: float | None = None
    quiet: bool = True
    extra: tuple[str, ...] = ()

    def argv(self) -> list[str]:
        """The options as pyperf command-line arguments."""
        if self.output is not None and self.append is not None:
            raise ValueError("PyperfOptions: output and append are exclusive")
        if self.fast and self.rigorous:
            raise ValueError("PyperfOptions: fast and rigorous are exclusive")
        args: list[str] = []
        if self.fast:
            args.append("--fast")
        if self.rigorous:
            args.append("--rigorous")
        for flag, value in (
            ("--processes", self.processes),
            ("--values", self.values),
            ("--warmups", self.warmups),
            ("--loops", self.loops),
            ("--min-time", self.min_time),
            ("--timeout", self.timeout),
        ):
            if value is not None:
                args.append(f"{flag}={value}")
        if self.affinity is not None:
            args.append(f"--affinity={self.affinity}")
        if self.inherit_environ:
            args.append("--inherit-environ=" + ",".join(self.inherit_environ))
        if self.quiet:
            args.append("--quiet")
        if self.output is not None:
            args.append(f"--output={self.output}")
        if self.append is not None:
            args.append(f"--append={self.append}")
        args.extend(self.extra)
        return args

    def updated(self, **changes: object) -> PyperfOptions:
        """A copy with the given fields replaced; ``None`` values are ignored."""
        return dataclasses.replace(self, **{k: v for k, v in changes.items() if v is not None})  # type: ignore[arg-type]


@dataclass(frozen=True)
class Suite:
    """A resolved group of benchmarks with its default pyperf options."""

    name: str
    description: str
    benchmarks: tuple[Benchmark, ...]
    pyperf: PyperfOptions = field(default_factory=PyperfOptions)
    #: Run by pyperformance's own runner (its venvs and pinned dependencies):
    #: benchmark or group names for ``pyperformance run -b`` (see pyperformance_suite).
    selection: tuple[str, ...] = ()
    #: pyperf options for the selection (fast, rigorous), apart from ``pyperf``'s.
    runner_pyperf: PyperfOptions = field(default_factory=PyperfOptions)

    @property
    def names(self) -> list[str]:
        return [bench.name for bench in self.benchmarks] + list(self.selection)


@dataclass(frozen=True)
class _SuiteSpec:
    name: str
    description: str
    micro: tuple[str, ...] | None  # None = every micro-benchmark
    pyperformance: tuple[str, ...]
    pyperf: PyperfOptions
    include: tuple[str, ...] = ()
    runner: str = "pyperf"  # or "pyperformance": its names go to pyperformance's own runner


@dataclass(frozen=True)
class SuiteConfig:
    """The parsed contents of suites.toml."""

    path: Path
    micro_dir: Path
    suites: Mapping[str, _SuiteSpec]
    pyperformance_overrides: Mapping[str, tuple[str, tuple[str, ...]]]

    @property
    def suite_names(self) -> list[str]:
        return sorted(self.suites)


@dataclass(frozen=True)
class Command:
    """A program to run: argv, complete environment and working directory."""

    argv: tuple[str, ...]
    env: Mapping[str, str]
    cwd: Path | None = None


def canonical_name(name: str) -> str:
    """Benchmark name without the optional ``bm_`` prefix or ``.py`` suffix."""
    name = name.strip()
    name = name.removesuffix(".py")
    return name.removeprefix("bm_")


# --------------------------------------------------------------------------
# suites.toml


def _str_list(value: object, where: str, path: Path) -> tuple[str, ...]:
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise SuiteError(
            f"{path}: {where} must be a list of strings", 'e.g. pyperformance = ["nbody", "float"]'
        )
    return tuple(canonical_name(item) for item in value)


_PYPERF_KEYS: dict[str, type] = {
    "processes": int,
    "values": int,
    "warmups": int,
    "loops": int,
    "min_time": float,
    "fast": bool,
    "rigorous": bool,
}


def _pyperf_options(table: object, where: str, path: Path) -> PyperfOptions:
    if table is None:
        return PyperfOptions()
    if not isinstance(table, dict):
        raise SuiteError(f"{path}: {where} must be a table", "e.g. [suites.quick.pyperf] processes = 4")
    values: dict[str, object] = {}
    for key, value in table.items():
        expected = _PYPERF_KEYS.get(key)
        if expected is None:
            raise SuiteError(
                f"{path}: unknown key {where}.{key}",
                "allowed: " + ", ".join(sorted(_PYPERF_KEYS)),
            )
        ok = isinstance(value, expected) and not (expected is int and isinstance(value, bool))
        if expected is float and isinstance(value, int) and not isinstance(value, bool):
            value, ok = float(value), True
        if not ok:
            raise SuiteError(f"{path}: {where}.{key} must be of type {expected.__name__}", None)
        values[key] = value
    return PyperfOptions(**values)  # type: ignore[arg-type]


def default_suites_path(root: Path) -> Path:
    """``benchmarks/suites.toml`` under the project root."""
    return root / "benchmarks" / "suites.toml"


def load_suites(path: Path, *, micro_dir: Path | None = None) -> SuiteConfig:
    """Parse suites.toml; micro-benchmarks default to ``micro/`` next to it."""
    try:
        with path.open("rb") as fp:
            data = tomllib.load(fp)
    except FileNotFoundError:
        raise SuiteError(
            f"{path}: suites file not found", "run from the project root or pass the suites file"
        ) from None
    except tomllib.TOMLDecodeError as exc:
        raise SuiteError(f"{path}: invalid TOML: {exc}", None) from None

    unknown = set(data) - {"suites", "pyperformance"}
    if unknown:
        raise SuiteError(
            f"{path}: unknown top-level key(s) {', '.join(sorted(unknown))}", "allowed: suites, pyperformance"
        )

    overrides: dict[str, tuple[str, tuple[str, ...]]] = {}
    pyperf_tables = data.get("pyperformance", {})
    if not isinstance(pyperf_tables, dict):
        raise SuiteError(f"{path}: [pyperformance] must be a table", None)
    for name, entry in pyperf_tables.items():
        if not isinstance(entry, dict):
            raise SuiteError(f"{path}: [pyperformance.{name}] must be a table", "keys: dir, args")
        bad = set(entry) - {"dir", "args"}
        if bad:
            raise SuiteError(
                f"{path}: unknown key(s) in [pyperformance.{name}]: {', '.join(sorted(bad))}",
                "keys: dir, args",
            )
        directory = entry.get("dir", f"bm_{name}")
        if not isinstance(directory, str):
            raise SuiteError(f"{path}: pyperformance.{name}.dir must be a string", None)
        args = entry.get("args", [])
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise SuiteError(f"{path}: pyperformance.{name}.args must be a list of strings", None)
        overrides[canonical_name(name)] = (directory, tuple(args))

    suites: dict[str, _SuiteSpec] = {}
    tables = data.get("suites", {})
    if not isinstance(tables, dict) or not tables:
        raise SuiteError(f"{path}: no [suites.<name>] tables", "define at least [suites.quick]")
    for name, table in tables.items():
        if not isinstance(table, dict):
            raise SuiteError(f"{path}: [suites.{name}] must be a table", None)
        bad = set(table) - {"description", "micro", "pyperformance", "include", "pyperf", "runner"}
        if bad:
            raise SuiteError(
                f"{path}: unknown key(s) in [suites.{name}]: {', '.join(sorted(bad))}",
                "allowed: description, micro, pyperformance, include, pyperf, runner",
            )
        runner = table.get("runner", "pyperf")
        if runner not in ("pyperf", "pyperformance"):
            raise SuiteError(f"{path}: suites.{name}.runner must be \"pyperf\" or \"pyperformance\"", None)
        micro_value = table.get("micro", "*" if runner == "pyperf" else [])
        micro = None if micro_value == "*" else _str_list(micro_value, f"suites.{name}.micro", path)
        description = table.get("description", "")
        if not isinstance(description, str):
            raise SuiteError(f"{path}: suites.{name}.description must be a string", None)
        suites[name] = _SuiteSpec(
            name=name,
            description=description,
            micro=micro,
            pyperformance=_str_list(table.get("pyperformance", []), f"suites.{name}.pyperformance", path),
            pyperf=_pyperf_options(table.get("pyperf"), f"suites.{name}.pyperf", path),
            include=_str_list(table.get("include", []), f"suites.{name}.include", path),
            runner=runner,
        )
    for spec in suites.values():
        _check_includes(spec.name, suites, path, ())

    return SuiteConfig(
        path=path,
        micro_dir=micro_dir if micro_dir is not None else path.parent / "micro",
        suites=suites,
        pyperformance_overrides=overrides,
    )


def _check_includes(name: str, suites: Mapping[str, _SuiteSpec], path: Path, trail: tuple[str, ...]) -> None:
    """Every included suite exists and no suite includes itself, however indirectly."""
    if name in trail:
        raise SuiteError(f"{path}: suites include each other: {' -> '.join((*trail, name))}", None)
    for included in suites[name].include:
        if included not in suites:
            raise SuiteError(
                f"{path}: suite {name!r} includes unknown suite {included!r}",
                "defined suites: " + ", ".join(sorted(suites)),
            )
        _check_includes(included, suites, path, (*trail, name))


def micro_benchmarks(micro_dir: Path) -> dict[str, Benchmark]:
    """Every ``bm_*.py`` script in ``micro_dir``, keyed by name."""
    if not micro_dir.is_dir():
        raise SuiteError(f"{micro_dir}: micro-benchmark directory not found", None)
    found: dict[str, Benchmark] = {}
    for script in sorted(micro_dir.glob("bm_*.py")):
        name = canonical_name(script.name)
        found[name] = Benchmark(name=name, kind=MICRO, script=script.resolve())
    return found


# --------------------------------------------------------------------------
# pyperformance


def pyperformance_benchmarks_dir() -> Path:
    """``data-files/benchmarks`` of the host's installed pyperformance."""
    spec = importlib.util.find_spec("pyperformance")
    if spec is None or spec.origin is None:
        raise QuickenError(
            f"pyperformance is not installed for the host Python ({sys.executable})", _PYPERFORMANCE_HINT
        )
    directory = Path(spec.origin).parent / "data-files" / "benchmarks"
    if not directory.is_dir():
        raise QuickenError(f"{directory}: pyperformance has no benchmark data files", _PYPERFORMANCE_HINT)
    return directory


def manifest_variants(bench_root: Path) -> dict[str, str]:
    """Benchmarks pyperformance's MANIFEST runs from another one's directory (``name <local:other>``):
    name -> other.  Only pyperformance's runner knows their options, so they always go through it."""
    try:
        text = (bench_root / "MANIFEST").read_text(encoding="utf-8")
    except OSError:
        return {}
    variants = {}
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 2 and parts[1].startswith("<local:") and parts[1].endswith(">"):
            variants[parts[0]] = parts[1][len("<local:"):-1]
    return variants


def pyperformance_dependencies(bench_dir: Path) -> list[str]:
    """Third-party requirements of a pyperformance benchmark (pyperf excluded)."""
    deps: list[str] = []
    pyproject = bench_dir / "pyproject.toml"
    if pyproject.is_file():
        with pyproject.open("rb") as fp:
            project = tomllib.load(fp).get("project", {})
        deps.extend(str(dep) for dep in project.get("dependencies", []))
    requirements = bench_dir / "requirements.txt"
    if requirements.is_file():
        for line in requirements.read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip()
            if line:
                deps.append(line)
    third_party = []
    for dep in deps:
        base = dep.replace(" ", "").split("[")[0]
        for sep in ("==", ">=", "<=", "~=", "!=", ">", "<", ";"):
            base = base.split(sep)[0]
        if base.lower() != "pyperf" and dep not in third_party:
            third_party.append(dep)
    return third_party


def pyperformance_benchmark(
    name: str,
    bench_root: Path,
    overrides: Mapping[str, tuple[str, tuple[str, ...]]] | None = None,
) -> Benchmark:
    """The pyperformance benchmark ``name``; refuses ones needing third-party packages."""
    name = canonical_name(name)
    directory, args = (overrides or {}).get(name, (f"bm_{name}", ()))
    bench_dir = bench_root / directory
    script = bench_dir / "run_benchmark.py"
    if not script.is_file():
        raise SuiteError(
            f"unknown benchmark {name!r}: neither a micro-benchmark nor {script}",
            "see `benchmarks/suites.toml` and benchmarks/micro/ for the available names",
        )
    deps = pyperformance_dependencies(bench_dir)
    if deps:
        raise SuiteError(
            f"pyperformance benchmark {name!r} needs third-party packages: {', '.join(deps)}",
            "only benchmarks depending on pyperf alone can run on a bare build",
        )
    return Benchmark(name=name, kind=PYPERFORMANCE, script=script.resolve(), args=args)


# --------------------------------------------------------------------------
# resolution


def resolve(spec: str, config: SuiteConfig, *, pyperformance_dir: Path | None = None) -> Suite:
    """A suite name, or a comma-separated list of benchmark names, to a Suite.

    Names may carry a ``bm_`` prefix.  Micro-benchmarks win over
    pyperformance ones of the same name (suites.toml should avoid that).
    pyperformance's location is only looked up when a name needs it.
    """
    spec = spec.strip()
    if not spec:
        raise SuiteError(
            "empty benchmark selection",
            "give a suite name (" + ", ".join(config.suite_names) + ") or benchmark names",
        )
    micros = micro_benchmarks(config.micro_dir)
    bench_root = pyperformance_dir

    def pyperf_bench(name: str) -> Benchmark:
        nonlocal bench_root
        if bench_root is None:
            bench_root = pyperformance_benchmarks_dir()
        return pyperformance_benchmark(name, bench_root, config.pyperformance_overrides)

    suite_spec = config.suites.get(spec)
    if suite_spec is not None:
        chosen: list[Benchmark] = []
        if suite_spec.micro is None:
            chosen.extend(micros.values())
        else:
            for name in suite_spec.micro:
                if name not in micros:
                    raise SuiteError(
                        f"{config.path}: suite {spec!r} lists unknown micro-benchmark {name!r}",
                        f"no {config.micro_dir}/bm_{name}.py",
                    )
                chosen.append(micros[name])
        selection: list[str] = []
        runner_pyperf = PyperfOptions()
        if suite_spec.runner == "pyperformance":
            selection.extend(suite_spec.pyperformance)
            runner_pyperf = suite_spec.pyperf
        else:
            chosen.extend(pyperf_bench(name) for name in suite_spec.pyperformance)
        for included in suite_spec.include:
            names_so_far = {b.name for b in chosen}
            expanded = resolve(included, config, pyperformance_dir=bench_root)
            chosen.extend(b for b in expanded.benchmarks if b.name not in names_so_far)
            if expanded.selection and not selection:
                runner_pyperf = expanded.runner_pyperf
            selection.extend(n for n in expanded.selection if n not in selection)
        _check_unique(chosen, f"{config.path}: suite {spec!r}")
        return Suite(
            name=spec, description=suite_spec.description, benchmarks=tuple(chosen),
            pyperf=suite_spec.pyperf if chosen or not selection else PyperfOptions(),
            selection=tuple(selection), runner_pyperf=runner_pyperf,
        )

    names = [canonical_name(part) for part in spec.split(",") if part.strip()]
    hint = "suites: " + ", ".join(config.suite_names) + "; micro-benchmarks: " + ", ".join(sorted(micros))
    chosen = []
    runner_names: list[str] = []
    options: PyperfOptions | None = None
    runner_options: PyperfOptions | None = None
    has_suite = any(n in config.suites for n in names)
    for name in names:
        if name in config.suites:  # a suite inside a list: its benchmarks, and its pyperf options
            expanded = resolve(name, config, pyperformance_dir=pyperformance_dir)
            if expanded.benchmarks:
                options = options or expanded.pyperf
            if expanded.selection:
                runner_options = runner_options or expanded.runner_pyperf
            chosen.extend(b for b in expanded.benchmarks if b.name not in {c.name for c in chosen})
            runner_names.extend(n for n in expanded.selection if n not in runner_names)
            continue
        if has_suite and (any(b.name == name for b in chosen) or name in runner_names):
            continue  # also named by a suite in the list
        if name in micros:
            chosen.append(micros[name])
            continue
        if name not in config.pyperformance_overrides:
            try:
                root = bench_root if bench_root is not None else pyperformance_benchmarks_dir()
            except QuickenError as exc:
                raise SuiteError(f"unknown suite or benchmark {name!r} ({exc.message})", hint) from None
            if name in manifest_variants(root):  # e.g. argparse_subparsers: bm_argparse with options
                if name not in runner_names:
                    runner_names.append(name)
                continue
            if not (root / f"bm_{name}" / "run_benchmark.py").is_file():
                raise SuiteError(
                    f"unknown suite or benchmark {name!r}", hint + "; or a pyperformance benchmark name"
                )
        root = bench_root if bench_root is not None else pyperformance_benchmarks_dir()
        directory = config.pyperformance_overrides.get(name, (f"bm_{name}", ()))[0]
        if pyperformance_dependencies(root / directory):
            if name not in runner_names:  # third-party packages: pyperformance's runner installs them
                runner_names.append(name)
            continue
        chosen.append(pyperf_bench(name))
    _check_unique(chosen, "benchmark list")
    return Suite(name=",".join(names), description="ad-hoc selection", benchmarks=tuple(chosen),
                 pyperf=options or PyperfOptions(), selection=tuple(runner_names),
                 runner_pyperf=runner_options or PyperfOptions())


def _check_unique(benchmarks: Iterable[Benchmark], where: str) -> None:
    seen: set[str] = set()
    for bench in benchmarks:
        if bench.name in seen:
            raise SuiteError(f"{where}: benchmark {bench.name!r} listed twice", None)
        seen.add(bench.name)


# --------------------------------------------------------------------------
# pyperf for the target interpreter


def prepare_pyperf_path(cache_dir: Path, *, python: str | None = None) -> Path:
    """A directory that makes ``pyperf`` importable by any CPython 3.

    pyperf is pure Python; psutil is optional for it and not provided.  The
    host's installed pyperf package is copied (same version as the one used
    to read the results, and it works offline); if the host has none, it is
    installed with ``pip install --target --no-deps pyperf``.  The directory
    is created once and reused: ``cache_dir/pyperf-<version>``.
    """
    spec = importlib.util.find_spec("pyperf")
    python = python or sys.executable
    if spec is not None and spec.origin is not None:
        import pyperf

        version = pyperf.__version__
        target = cache_dir / f"pyperf-{version}"
        if (target / "pyperf" / "__init__.py").is_file():
            return target
        cache_dir.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=".pyperf-", dir=cache_dir))
        try:
            shutil.copytree(
                Path(spec.origin).parent,
                staging / "pyperf",
                ignore=shutil.ignore_patterns("__pycache__", "tests", "*.pyc"),
            )
            _publish(staging, target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    target = cache_dir / "pyperf-pip"
    if (target / "pyperf" / "__init__.py").is_file():
        return target
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".pyperf-", dir=cache_dir))
    try:
        proc = subprocess.run(
            [python, "-m", "pip", "install", "--quiet", "--no-deps", "--target", str(staging), "pyperf"],
            capture_output=True,
            text=True,
            check=False,
        )
        if proc.returncode != 0 or not (staging / "pyperf" / "__init__.py").is_file():
            last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
            raise QuickenError(
                f"cannot install pyperf into {target}: {last}",
                f"{sys.executable} -m pip install pyperf  (for the host interpreter)",
            )
        _publish(staging, target)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target


def _publish(staging: Path, target: Path) -> None:
    try:
        staging.rename(target)
    except OSError:
        if not (target / "pyperf" / "__init__.py").is_file():
            raise


def benchmark_env(
    pyperf_dir: Path,
    *,
    base_env: Mapping[str, str] | None = None,
    extra: Mapping[str, str] | None = None,
) -> dict[str, str]:
    """Environment for a benchmarked interpreter: only pyperf on PYTHONPATH."""
    env = dict(os.environ if base_env is None else base_env)
    for name in _SCRUBBED_ENV:
        env.pop(name, None)
    env["PYTHONPATH"] = str(pyperf_dir)
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    if extra:
        env.update(extra)
    return env


def check_target_python(python: str | Path, pyperf_dir: Path, *, compile_pyperf: bool = True) -> str:
    """Check ``python`` runs and imports pyperf; return its version (``3.13.15``).

    With ``compile_pyperf``, also byte-compiles the pyperf directory for this
    interpreter, so that benchmark runs (which never write bytecode) do not
    recompile pyperf at every start.
    """
    code = "import sys, pyperf; print(sys.version.split()[0])"
    if compile_pyperf:
        code = f"import compileall; compileall.compile_dir({str(pyperf_dir)!r}, quiet=1); " + code
    try:
        proc = subprocess.run(
            [str(python), "-c", code],
            env=benchmark_env(pyperf_dir),
            capture_output=True,
            text=True,
            check=False,
            timeout=120,
        )
    except OSError as exc:
        raise QuickenError(
            f"{python}: cannot run interpreter: {exc.strerror}", "build it first (quicken build)"
        ) from None
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["no output"])[-1]
        raise QuickenError(
            f"{python}: cannot import pyperf from {pyperf_dir}: {last}",
            "delete the pyperf cache directory and retry",
        )
    return proc.stdout.strip()


def bench_command(
    bench: Benchmark,
    python: str | Path,
    pyperf_dir: Path,
    options: PyperfOptions,
    *,
    worker_task: int | None = None,
    base_env: Mapping[str, str] | None = None,
) -> Command:
    """Command running one benchmark script with pyperf (spawns its workers).

    With ``worker_task`` the command is itself the worker for that task (0-based) of a
    script that runs several benchmarks: pyperf's worker mode, which, unlike a manager,
    runs one benchmark of the script, so that each can be given its own ``--loops``.
    """
    worker = () if worker_task is None else ("--worker", f"--worker-task={worker_task}")
    argv = (str(python), "-u", str(bench.script), *bench.args, *worker, *options.argv())
    return Command(argv=argv, env=benchmark_env(pyperf_dir, base_env=base_env), cwd=bench.script.parent)


def single_run_command(
    bench: Benchmark,
    python: str | Path,
    pyperf_dir: Path,
    loops: int,
    *,
    worker_task: int | None = None,
    base_env: Mapping[str, str] | None = None,
    extra_env: Mapping[str, str] | None = None,
) -> Command:
    """Command running the benchmark body once, in-process, ``loops`` times.

    Uses pyperf's worker mode (no child processes, no calibration): one
    value, no warmup, a fixed loop count.  With ``worker_task`` only that
    task (0-based) of a multi-benchmark script runs; otherwise all of them.
    ``-S`` skips ``site``: benchmarks need only the stdlib and pyperf (from
    PYTHONPATH), and ``.pth`` processing is a source of start-up noise.
    """
    if loops < 1:
        raise ValueError("loops must be >= 1")
    argv: list[str] = [
        str(python),
        "-S",
        "-u",
        str(bench.script),
        *bench.args,
        "--worker",
        f"--loops={loops}",
        "--warmups=0",
        "--values=1",
        "--min-time=0",
        "--quiet",
    ]
    if worker_task is not None:
        argv.append(f"--worker-task={worker_task}")
    return Command(
        argv=tuple(argv),
        env=benchmark_env(pyperf_dir, base_env=base_env, extra=extra_env),
        cwd=bench.script.parent,
    )


def pyperf_options_for(suite: Suite, overrides: Mapping[str, object] | None = None) -> PyperfOptions:
    """The suite's default pyperf options with caller overrides applied."""
    return suite.pyperf.updated(**dict(overrides or {}))


def merge_results(parts: Sequence[Path], output: Path) -> Path:
    """Merge several pyperf JSON files into one suite file (names must be unique)."""
    import pyperf

    if not parts:
        raise QuickenError(f"{output}: no benchmark results to merge", None)
    suite: pyperf.BenchmarkSuite | None = None
    for part in parts:
        try:
            loaded = pyperf.BenchmarkSuite.load(str(part))
        except (OSError, ValueError) as exc:
            raise QuickenError(f"{part}: not a pyperf result file: {exc}", "rerun the benchmark") from None
        if suite is None:
            suite = loaded
            continue
        for bench in loaded.get_benchmarks():
            if bench.get_name() in suite.get_benchmark_names():
                raise QuickenError(f"{part}: benchmark {bench.get_name()!r} already in {parts[0]}", None)
            suite.add_benchmark(bench)
    assert suite is not None
    output.parent.mkdir(parents=True, exist_ok=True)
    suite.dump(str(output), replace=True)
    return output
