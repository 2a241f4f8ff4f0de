"""Real packages on the stock and the patched interpreter.

The C extensions most Python programs lean on (numpy, pandas, pydantic-core,
orjson, msgpack, regex) are installed as cp313 binary wheels -- built against
stock CPython, so they exercise the patched interpreter's ABI and its
specializations on foreign types -- plus networkx, pure Python and shipping its
own test suite, with pytest to run it.  On each build :func:`run`

1. makes (or reuses) a venv with the build's ``python -m venv``;
2. installs the packages with the venv's pip, binary wheels only (nothing is
   compiled); the base side resolves versions, the head side installs exactly
   those (:func:`pins`);
3. runs ``ecosystem_smoke.py`` (beside this module), which prints only semantic results;
4. runs networkx's test suite (``pytest --pyargs networkx``) and records each test's outcome.

:func:`compare` lists every difference: installed versions, the smoke output,
and each networkx test whose outcome differs.  The two builds must agree exactly.
"""

from __future__ import annotations

import contextlib
import difflib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import regrtest
from .errors import QuickenError

Report = Callable[[str], None]

#: cp313 binary wheels with C extensions, then networkx (pure Python, ships its tests) and pytest.
DEFAULT_PACKAGES: tuple[str, ...] = (
    "numpy", "pandas", "pydantic-core", "orjson", "msgpack", "regex", "networkx", "pytest",
)
#: networkx's whole test suite (about 9,500 tests) takes about 4 CPU-minutes per build
#: here, 7 minutes of wall clock on a busy machine: these test packages (about 5,000
#: tests, a third of the time) run instead.  They cover the graph classes and views,
#: traversal, shortest paths, components, centrality, isomorphism (VF2, VF2++, ISMAGS),
#: the generators, the readers/writers and the utilities; left out are the slowest
#: packages (flow, tree, the long tail of algorithms/tests).  ``suite_tests=("networkx",)``
#: runs everything.
NETWORKX_TESTS: tuple[str, ...] = (
    "networkx.classes", "networkx.algorithms.traversal", "networkx.algorithms.shortest_paths",
    "networkx.algorithms.components", "networkx.algorithms.centrality", "networkx.algorithms.isomorphism",
    "networkx.generators", "networkx.readwrite", "networkx.utils",
)
SMOKE = Path(__file__).with_name("ecosystem_smoke.py")  # run by the venv, never imported
STAMP = "quicken-ecosystem.json"
HINT = "check network access to the package index, or pass --no-ecosystem"
#: The pseudo test id under which a pytest run that did not finish normally is recorded.
SUITE_RUN = "<pytest run>"
SMOKE_TIMEOUT = 600
SUITE_TIMEOUT = 1800


@dataclass(frozen=True)
class Result:
    label: str
    installed: dict[str, str]  # distribution -> version
    smoke: str  # smoke script stdout (semantic results only), plus its exit status if not 0
    suite: dict[str, str]  # networkx test id -> passed | failed | error | skipped | xfailed | xpassed
    seconds: float
    timings: dict[str, float] = field(default_factory=dict)  # venv, install, smoke, suite -> seconds

    def counts(self) -> dict[str, int]:
        totals: dict[str, int] = {}
        for outcome in self.suite.values():
            totals[outcome] = totals.get(outcome, 0) + 1
        return dict(sorted(totals.items()))


def canonical(name: str) -> str:
    """A distribution's normalized name (PEP 503): ``Pydantic_Core`` -> ``pydantic-core``."""
    return re.sub(r"[-_.]+", "-", name).lower()


def pins(result: Result) -> tuple[str, ...]:
    """``name==version`` for every distribution ``result`` had installed: install these on the other side."""
    return tuple(f"{name}=={version}" for name, version in sorted(result.installed.items()))


def _requested_name(spec: str) -> str:
    return canonical(re.split(r"[<>=!~;\[\s]", spec, maxsplit=1)[0])


# --- venv and pip ------------------------------------------------------------------------------


def venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTHON") and k != "VIRTUAL_ENV"}
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["PIP_NO_INPUT"] = "1"
    return env


def _run(argv: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None,
         timeout: float | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(argv, cwd=cwd, env=env or _env(), capture_output=True, text=True, errors="replace",
                          check=False, timeout=timeout, stdin=subprocess.DEVNULL)


def _last_line(text: str) -> str:
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    errors = [ln for ln in lines if ln.startswith("ERROR:")]
    return (errors or lines or ["no output"])[-1][:300]


def _stamp(venv: Path) -> dict[str, object] | None:
    try:
        data = json.loads((venv / STAMP).read_text())
    except (OSError, ValueError):
        return None
    return data if isinstance(data, dict) else None


def ensure_venv(python: Path, venv: Path, label: str, report: Report) -> bool:
    """Create the venv unless it exists for this interpreter; True when it was (re)created."""
    vpy = venv_python(venv)
    cfg = venv / "pyvenv.cfg"
    if vpy.exists() and cfg.is_file():
        home = next((ln.split("=", 1)[1].strip() for ln in cfg.read_text().splitlines()
                     if ln.split("=", 1)[0].strip() == "home"), None)
        if home is not None and Path(home).resolve() == python.parent.resolve():
            return False
        report(f"ecosystem {label}: {venv} belongs to another interpreter ({home}): making it again")
    shutil.rmtree(venv, ignore_errors=True)
    report(f"ecosystem {label}: python -m venv {venv}")
    proc = _run([str(python), "-m", "venv", str(venv)], timeout=600)
    if proc.returncode != 0:
        shutil.rmtree(venv, ignore_errors=True)
        why = _last_line(proc.stderr + proc.stdout)
        raise QuickenError(f"ecosystem {label}: python -m venv failed: {why}",
                           f"run by hand: {python} -m venv {venv}")
    return True


def installed(venv: Path) -> dict[str, str]:
    """Every distribution in the venv (but pip) -> its version."""
    proc = _run([str(venv_python(venv)), "-m", "pip", "list", "--format=json"], timeout=300)
    if proc.returncode != 0:
        raise QuickenError(f"ecosystem: pip list failed in {venv}: {_last_line(proc.stderr)}")
    try:
        rows = json.loads(proc.stdout)
    except ValueError:
        raise QuickenError(f"ecosystem: pip list printed no JSON in {venv}") from None
    return {canonical(r["name"]): r["version"] for r in sorted(rows, key=lambda r: canonical(r["name"]))
            if canonical(r["name"]) != "pip"}


def _failing_package(stderr: str, packages: Sequence[str]) -> str:
    """Which requested package pip's error names (all of them when it names none)."""
    for pattern in (r"No matching distribution found for ([^\s;]+)",
                    r"Could not find a version that satisfies the requirement ([^\s;]+)",
                    r"requirement ([^\s;]+)"):
        m = re.search(pattern, stderr)
        if m:
            return _requested_name(m.group(1))
    return ", ".join(_requested_name(p) for p in packages)


def install(venv: Path, packages: Sequence[str], label: str, report: Report) -> dict[str, str]:
    """pip install ``packages`` (binary wheels only) into the venv; the installed distributions."""
    wanted = sorted(packages)
    stamp = _stamp(venv)
    if stamp is not None and stamp.get("packages") == wanted:
        have = installed(venv)
        recorded = stamp.get("installed")
        if have == recorded and all(_requested_name(p) in have for p in packages):
            report(f"ecosystem {label}: reusing {venv} ({len(have)} distributions installed)")
            return have
    (venv / STAMP).unlink(missing_ok=True)
    report(f"ecosystem {label}: pip install {' '.join(packages)}")
    argv = [str(venv_python(venv)), "-m", "pip", "install", "--only-binary=:all:", "--no-input",
            "--progress-bar=off", *packages]
    proc = _run(argv, timeout=3600)
    if proc.returncode != 0:
        name = _failing_package(proc.stderr, packages)
        why = _last_line(proc.stderr + proc.stdout)
        raise QuickenError(f"ecosystem: pip could not install {name}: {why}", HINT)
    have = installed(venv)
    missing = [p for p in packages if _requested_name(p) not in have]
    if missing:
        raise QuickenError(f"ecosystem: pip could not install {', '.join(missing)}: not installed after pip",
                           HINT)
    tmp = venv / f"{STAMP}.tmp"
    tmp.write_text(json.dumps({"packages": wanted, "installed": have}, indent=1) + "\n")
    os.replace(tmp, venv / STAMP)
    return have


# --- smoke and suite -----------------------------------------------------------------------------


def smoke(venv: Path, script: Path, workdir: Path) -> str:
    """The smoke script's stdout; a non-zero exit adds a line with the status and stderr's last line."""
    env = {**_env(), "PYTHONHASHSEED": "0"}
    try:
        # -P: the script's directory (tools/quicken, whose bisect.py would shadow the stdlib's) is
        # not put on sys.path
        proc = _run([str(venv_python(venv)), "-P", str(script)], cwd=workdir, env=env, timeout=SMOKE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return f"[smoke script timed out after {SMOKE_TIMEOUT}s]\n"
    text = proc.stdout
    if proc.returncode != 0:
        text += f"[exit status {proc.returncode}] {_last_line(proc.stderr)}\n"
    return text


def _pytest_outcome(case: ET.Element) -> str:
    outcome = "passed"
    for child in case:
        if child.tag == "error":
            return "error"
        if child.tag == "failure":
            outcome = "xpassed" if (child.get("message") or "").startswith("[XPASS(strict)]") else "failed"
        elif child.tag == "skipped" and outcome == "passed":
            outcome = "xfailed" if child.get("type") == "pytest.xfail" else "skipped"
    return outcome


_RANK = {"passed": 0, "skipped": 0, "xfailed": 0, "xpassed": 1, "failed": 2, "error": 3}


def parse_pytest_junit(text: str | bytes) -> dict[str, str]:
    """Test id (``module.Class::name``) -> outcome from pytest's ``--junit-xml`` file."""
    # a test that failed and then errored in teardown has two entries: the worse counts
    def key(case: ET.Element) -> str:
        classname, name = case.get("classname", ""), case.get("name", "")
        return f"{classname}::{name}" if classname else name

    return regrtest.read_junit(text, "pytest", key, _pytest_outcome, _RANK)


def suite(venv: Path, workdir: Path, tests: Sequence[str] = NETWORKX_TESTS) -> dict[str, str]:
    """networkx's own tests, run by pytest from an empty directory; test id -> outcome."""
    xml = workdir / "networkx-junit.xml"
    xml.unlink(missing_ok=True)
    env = {**_env(), "PYTHONHASHSEED": "0", "MPLBACKEND": "Agg"}
    # The directory the packages are installed in is pytest's rootdir, so test ids are the tests'
    # full dotted names (networkx.algorithms.tests.test_x.Class::test_m); an empty ini file keeps
    # any configuration of the current directory's parents out.
    top = tests[0].split(".")[0]
    where = _run([str(venv_python(venv)), "-c", "import importlib.util, os, sys; "
                  f"print(os.path.dirname(os.path.dirname(importlib.util.find_spec({top!r}).origin)))"],
                 cwd=workdir, env=env, timeout=300)
    if where.returncode != 0:
        return {SUITE_RUN: f"cannot import {top}: {_last_line(where.stderr)}"}
    ini = workdir / "pytest.ini"
    ini.write_text("[pytest]\n")
    argv = [str(venv_python(venv)), "-m", "pytest", "--pyargs", *tests, "-q", "-p", "no:cacheprovider",
            f"--junit-xml={xml}", "-o", "junit_family=xunit2", "-c", str(ini),
            "--rootdir", where.stdout.strip()]
    try:
        proc = _run(argv, cwd=workdir, env=env, timeout=SUITE_TIMEOUT)
    except subprocess.TimeoutExpired:
        return {SUITE_RUN: f"timed out after {SUITE_TIMEOUT}s"}
    (workdir / "networkx-pytest.log").write_text(f"$ {' '.join(argv)}\n{proc.stdout}\n{proc.stderr}")
    results: dict[str, str] = {}
    if xml.is_file():
        with contextlib.suppress(QuickenError):  # cut short: recorded as not finished below
            results = parse_pytest_junit(xml.read_bytes())
    if proc.returncode not in (0, 1) or not results:
        # interrupted, internal error, usage error, no tests, or the interpreter died
        results[SUITE_RUN] = f"exit status {proc.returncode}: {_last_line(proc.stdout + proc.stderr)[:200]}"
    return results


def run(
    python: Path,
    *,
    venv: Path,
    label: str,
    packages: Sequence[str] = DEFAULT_PACKAGES,
    smoke_script: Path = SMOKE,
    suite_tests: Sequence[str] = NETWORKX_TESTS,
    report: Report = lambda _: None,
) -> Result:
    """Install ``packages`` into ``venv`` (made with ``python``), run the smoke script and networkx's tests.

    Pass the base side's :func:`pins` as ``packages`` on the head side so both run the same versions.
    """
    python = python.absolute()
    if not python.exists():
        raise QuickenError(f"ecosystem {label}: {python} does not exist", "build it first: quicken build")
    if not smoke_script.is_file():
        raise QuickenError(f"ecosystem: smoke script {smoke_script} does not exist",
                           "reinstall quicken: the script ships with it (quicken/ecosystem_smoke.py)")
    start = time.monotonic()
    timings: dict[str, float] = {}

    def phase(name: str, since: float) -> float:
        now = time.monotonic()
        timings[name] = round(now - since, 1)
        return now

    t = start
    ensure_venv(python, venv, label, report)
    t = phase("venv", t)
    have = install(venv, packages, label, report)
    t = phase("install", t)
    with tempfile.TemporaryDirectory(prefix="quicken-ecosystem-") as tmp:
        workdir = Path(tmp)
        report(f"ecosystem {label}: smoke script")
        smoke_out = smoke(venv, smoke_script, workdir)
        t = phase("smoke", t)
        report(f"ecosystem {label}: pytest --pyargs {' '.join(suite_tests)}")
        results = suite(venv, workdir, suite_tests)
        keep = re.sub(r"[^A-Za-z0-9_.-]", "_", label)
        for name, suffix in (("networkx-pytest.log", "log"), ("networkx-junit.xml", "xml")):
            if (workdir / name).is_file():  # kept beside the venv for a look after the run
                shutil.copyfile(workdir / name, venv / f"networkx-{keep}.{suffix}")
        phase("suite", t)
    seconds = round(time.monotonic() - start, 1)
    result = Result(label, have, smoke_out, results, seconds, timings)
    report(f"ecosystem {label}: {len(have)} distributions, networkx "
           f"{', '.join(f'{n} {o}' for o, n in result.counts().items())} in {seconds:.0f}s "
           f"({', '.join(f'{k} {v:.0f}s' for k, v in timings.items())})")
    return result


# --- comparing ---------------------------------------------------------------------------------


def compare(base: Result, head: Result, limit: int = 40) -> list[str]:
    """Human-readable differences between the two sides; [] when they agree exactly."""
    b, h = base.label, head.label
    lines: list[str] = []
    for name in sorted(set(base.installed) | set(head.installed)):
        bv, hv = base.installed.get(name), head.installed.get(name)
        if bv != hv:
            lines.append(f"installed {name}: {bv or 'absent'} on {b}, {hv or 'absent'} on {h}")
    if base.smoke != head.smoke:
        diff = list(difflib.unified_diff(base.smoke.splitlines(), head.smoke.splitlines(),
                                         f"smoke ({b})", f"smoke ({h})", lineterm="", n=1))
        lines.append(f"smoke script output differs ({len(diff)} diff lines):")
        lines.extend(f"  {ln}" for ln in diff[:limit])
        if len(diff) > limit:
            lines.append(f"  ... and {len(diff) - limit} more diff lines")
    differing = [(t, base.suite.get(t), head.suite.get(t))
                 for t in sorted(set(base.suite) | set(head.suite)) if base.suite.get(t) != head.suite.get(t)]
    if differing:
        lines.append(f"networkx: {len(differing)} tests differ ({b}: {_counts(base)}; {h}: {_counts(head)}):")
        lines.extend(f"  {t}: {bo or 'absent'} on {b}, {ho or 'absent'} on {h}"
                     for t, bo, ho in differing[:limit])
        if len(differing) > limit:
            lines.append(f"  ... and {len(differing) - limit} more")
    return lines


def _counts(result: Result) -> str:
    return ", ".join(f"{n} {o}" for o, n in result.counts().items()) or "no tests"
