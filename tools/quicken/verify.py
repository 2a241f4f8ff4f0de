"""Stage 7: the differential correctness gate (``quicken verify``).

A patch is fast when ``validate`` says so; it is *correct* only when the
patched interpreter behaves exactly like stock CPython.  ``verify`` runs the
same code on both builds and compares what it observes:

* the **differential programs** (``tests/differential/*.py``): each prints
  semantic results only, is run by the baseline build and by the build of the
  series up to the patch, and must print the same (stdout, stderr, exit
  status; memory addresses and build paths masked).  The patched run also
  reports which specialized instructions were live (a side channel, see
  ``tests/differential/_harness.py``): a program that never reaches what it
  expects, or a new instruction that no program reaches, fails the gate;
* the patch's own tests (its overlay ``Lib/test/test_*.py``) on the head build;
* with the full run: **generated programs** (:mod:`quicken.fuzz`), CPython's
  **regrtest** on both builds compared test by test (:mod:`quicken.regrtest`),
  the programs and the patches' CPython tests on the ``stress`` builds (every
  instruction specializes at once), the programs and the patches' own tests on
  the **shipped** configurations' builds (``[verify] configs``: pgo-lto), and
  an **ecosystem** smoke of real packages on both builds
  (:mod:`quicken.ecosystem`).

The outcome is written to ``patches/<patch>.verification.json``, bound to the
content it judged (the patch, its overlay files, the code below it, the pin,
the programs); the machine is recorded as provenance only: behaviour does not
depend on the CPU model.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import subprocess
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import __version__, build, fuzz, records
from .config import Config
from .errors import QuickenError
from .series import Patch, Series
from .series import load as load_series
from .worktree import WorkTree

Report = Callable[[str], None]
STRESS_CONFIG = "stress"
PROGRAM_TIMEOUT = 300
_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")


# -- the differential programs ----------------------------------------------------


@dataclass(frozen=True)
class Observation:
    """What one build printed for one program."""

    stdout: str
    stderr: str
    status: int
    live: tuple[str, ...] = ()
    expected: tuple[str, ...] = ()
    known: tuple[str, ...] = ()
    seconds: float = 0.0


@dataclass(frozen=True)
class ProgramResult:
    program: str
    config: str
    difference: str | None  # the first differing line, or None when both builds agree
    live: tuple[str, ...]  # specialized instructions live on the head build
    missing: tuple[str, ...]  # expected on the head build but never live there
    seconds: float

    @property
    def passed(self) -> bool:
        return self.difference is None and not self.missing

    def describe(self) -> str:
        if self.difference is not None:
            return f"{self.program} ({self.config}): output differs: {self.difference}"
        if self.missing:
            return (f"{self.program} ({self.config}): never reached {', '.join(self.missing)} "
                    "on the patched build")
        return f"{self.program} ({self.config}): same output; live: {', '.join(self.live) or '-'}"


def programs(cfg: Config) -> list[Path]:
    directory = cfg.differential
    found = sorted(p for p in directory.glob("*.py") if not p.name.startswith("_"))
    if not found:
        raise QuickenError(f"no differential programs in {directory}",
                           "add tests/differential/<family>.py (see _harness.py)")
    return found


def programs_digest(cfg: Config) -> str:
    """Digest of every file of the differential programs (the harness included)."""
    h = hashlib.sha256()
    for path in sorted(cfg.differential.glob("*.py")):
        h.update(path.name.encode() + b"\0" + path.read_bytes())
    return h.hexdigest()


def mask(text: str, python: Path) -> str:
    """Addresses and the build's own directory masked, so both builds can be compared."""
    slot = str(python.resolve().parent.parent)
    return _ADDRESS.sub("0x?", text.replace(slot, "<build>"))


def program_env(live: Path | None = None) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "HOME": os.environ.get("HOME", "/tmp"),
        "LC_ALL": "C.UTF-8",
        "PYTHONHASHSEED": "0",
        "PYTHONIOENCODING": "utf-8",
        "PYTHONDONTWRITEBYTECODE": "1",
    }
    if live is not None:
        env["QUICKEN_VERIFY_LIVE"] = str(live)
    return env


def observe(python: Path, program: Path, timeout: int = PROGRAM_TIMEOUT) -> Observation:
    """Run one program with one build."""
    with tempfile.TemporaryDirectory(prefix="quicken-verify-") as tmp:
        live = Path(tmp) / "live.json"
        start = time.monotonic()
        try:
            proc = subprocess.run([str(python), "-X", "faulthandler", program.name], cwd=program.parent,
                                  env=program_env(live), capture_output=True, timeout=timeout, check=False)
        except subprocess.TimeoutExpired:
            return Observation("", f"timed out after {timeout} s", -1, seconds=float(timeout))
        except OSError as exc:
            raise QuickenError(f"{python}: cannot run: {exc.strerror}", "run: quicken build") from None
        seconds = time.monotonic() - start
        data: dict[str, list[str]] = {}
        if live.is_file():
            try:
                data = json.loads(live.read_text())
            except ValueError:
                data = {}
    return Observation(
        mask(proc.stdout.decode("utf-8", "replace"), python),
        mask(proc.stderr.decode("utf-8", "replace"), python),
        proc.returncode,
        tuple(data.get("live", ())), tuple(data.get("expected", ())), tuple(data.get("known", ())),
        seconds,
    )


def first_difference(base: Observation, head: Observation) -> str | None:
    """``stdout line N: base 'x' | head 'y'`` for the first line that differs, else None."""
    for stream in ("stdout", "stderr"):
        a, b = getattr(base, stream).splitlines(), getattr(head, stream).splitlines()
        for n in range(max(len(a), len(b))):
            left = a[n] if n < len(a) else "<end of output>"
            right = b[n] if n < len(b) else "<end of output>"
            if left != right:
                return f"{stream} line {n + 1}: base {left[:200]!r} | head {right[:200]!r}"
    if base.status != head.status:
        return f"exit status: base {base.status} | head {head.status}"
    return None


def compare_program(program: Path, config: str, base: Observation, head: Observation) -> ProgramResult:
    known = set(head.known)
    missing = tuple(sorted(name for name in head.expected if name in known and name not in head.live))
    return ProgramResult(program.name, config, first_difference(base, head), head.live, missing,
                         round(base.seconds + head.seconds, 2))


def run_programs(paths: Sequence[Path], base: Path, head: Path, config: str, jobs: int,
                 report: Report) -> list[ProgramResult]:
    """Run every program on both builds (``jobs`` at a time) and compare."""
    def one(path: Path) -> ProgramResult:
        return compare_program(path, config, observe(base, path), observe(head, path))

    results: list[ProgramResult] = []
    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        for result in pool.map(one, paths):
            results.append(result)
            report(f"verify ({config}): {len(results)}/{len(paths)} programs")
    return results


def new_instructions(base: Path, head: Path) -> tuple[str, ...]:
    """Specialized instructions the head build has and the base build has not."""
    code = "import dis; print('\\n'.join(sorted(dis._specialized_opmap)))"

    def names(python: Path) -> set[str]:
        proc = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=False,
                              env=program_env())
        if proc.returncode != 0:
            raise QuickenError(f"{python}: cannot list its instructions: {proc.stderr.strip()[-200:]}")
        return set(proc.stdout.split())

    return tuple(sorted(names(head) - names(base)))


def unreached(new: Sequence[str], results: Sequence[ProgramResult]) -> tuple[str, ...]:
    live = {name for r in results for name in r.live}
    return tuple(name for name in new if name not in live)


# -- the patch's own tests ----------------------------------------------------------


def own_tests(series: Series, patch: Patch) -> list[str]:
    """The test modules a patch adds to CPython (its overlay ``Lib/test/test_*.py``)."""
    return [Path(rel).stem for rel in series.overlay_of(patch)
            if rel.startswith("Lib/test/test_") and rel.endswith(".py")]


def _own_tests_of(series: Series, chosen: Sequence[Patch]) -> list[str]:
    return sorted({t for p in chosen for t in own_tests(series, p)})


def run_own_tests(python: Path, tests: Sequence[str], jobs: int, log: Path) -> tuple[bool, str]:
    if not tests:
        return True, "no tests of its own"
    argv = [str(python), "-m", "test", f"-j{jobs}", "--timeout=600", *tests]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=python.parent)
    log.write_text(f"$ {' '.join(argv)}\n{proc.stdout}\n{proc.stderr}")
    result = next((ln.strip() for ln in reversed(proc.stdout.splitlines()) if ln.startswith("Result:")),
                  f"exit status {proc.returncode}")
    return proc.returncode == 0, f"{' '.join(tests)}: {result}"


# -- records ------------------------------------------------------------------------


def record_path(cfg: Config, patch: Patch) -> Path:
    return records.path_for(cfg.patches, patch.name, "verification")


def binding(cfg: Config, series: Series, patch: Patch) -> dict[str, object]:
    """What a verification is bound to: the content it judged and the programs (never the machine)."""
    from . import validate

    return validate.content(cfg, series, patch) | {"programs": programs_digest(cfg)}


STALE_LABELS = (("code_sha256", "patch changed (diff or gate trailers)"),
                ("overlay", "overlay files changed"),
                ("below", "the patches below it changed"), ("pin", "pin changed"),
                ("programs", "the differential programs changed"))


def standing(cfg: Config, series: Series, patch: Patch) -> records.Standing:
    """The patch's verification record judged against its content (valid on any machine)."""
    current = binding(cfg, series, patch)
    return records.standing(record_path(cfg, patch), "verification", current, STALE_LABELS,
                            mail_digest=patch.digest)


def require(cfg: Config, series: Series, patch: Patch) -> dict[str, object]:
    """The passing verification a validation builds on; refuse without one."""
    st = standing(cfg, series, patch)
    records.require_passed(st, patch.name, f"quicken verify {Path(patch.name).stem}",
                           "validate measures only patches that behave like stock CPython")
    path = record_path(cfg, patch)
    return {"record": path.name, "sha256": hashlib.sha256(path.read_bytes()).hexdigest(), "summary": st.why}


# -- the run ------------------------------------------------------------------------


@dataclass
class Outcome:
    patch: str
    mode: str
    head_tree: str
    programs: list[ProgramResult] = field(default_factory=list)
    new: tuple[str, ...] = ()
    unreached: tuple[str, ...] = ()
    own_tests: tuple[bool, str] | None = None
    warnings: tuple[str, ...] = ()  # compiler warnings its build has and the baseline's has not
    extra: dict[str, dict[str, object]] = field(default_factory=dict)  # fuzz, regrtest, stress, ecosystem
    record: Path | None = None

    @property
    def failures(self) -> list[str]:
        lines = [r.describe() for r in self.programs if not r.passed]
        lines += [f"new instruction {name} is reached by no differential program" for name in self.unreached]
        if self.own_tests is not None and not self.own_tests[0]:
            lines.append(f"the patch's own tests failed: {self.own_tests[1]}")
        lines += [f"new compiler warning: {w}" for w in self.warnings]
        for what, data in self.extra.items():
            failures = data.get("failures")
            lines += [f"{what}: {line}" for line in failures] if isinstance(failures, list) else []
        return lines

    @property
    def passed(self) -> bool:
        return not self.failures


@dataclass(frozen=True)
class Options:
    quick: bool = False  # programs and own tests; with ``fuzz``, generated programs too
    fuzz: bool = True
    fuzz_seconds: int = 120
    fuzz_seed: int = 0
    fuzz_examples: int | None = None
    regrtest: bool = True
    stress: bool = True
    shipped: bool = True  # the programs on the ``[verify] configs`` builds (pgo-lto)
    ecosystem: bool = True


def run(cfg: Config, names: Sequence[str] | None = None, options: Options | None = None,
        report: Report = lambda _: None, head: str | None = None) -> list[Outcome]:
    """Verify each chosen patch (default: all): the series up to it against the pin.

    The differential programs and the patch's own tests run for every chosen
    patch's own build; the expensive parts of a full run (generated programs,
    regrtest, stress, ecosystem) run once, on the build of the last chosen
    patch, which contains all the others, and count for each of them.  With
    ``head`` (a commit of the work tree), that build alone is checked against
    the pin and no record is written.
    """
    opts = options or Options()
    series = load_series(cfg)
    chosen = [series.patch(n) for n in names] if names else list(series.patches)
    if not chosen:
        raise QuickenError("the series is empty: nothing to verify")
    order = [p.name for p in series.patches]
    chosen.sort(key=lambda p: order.index(p.name))
    wt = WorkTree(cfg)
    state = wt.state()
    wt.require_applied(state, series.digest, "run: quicken apply")
    bc = cfg.build_config(None)
    paths = programs(cfg)
    results_dir = cfg.root / "results" / f"verify-{time.strftime('%Y%m%d-%H%M%S')}"
    results_dir.mkdir(parents=True, exist_ok=True)
    base = build.build_one(cfg, "baseline", bc.name, report).python
    mode = "full" if not opts.quick else "quick+fuzz" if opts.fuzz else "quick"
    targets: list[tuple[str, list[str]]] = (
        [(head, [])] if head is not None else [(p.name, own_tests(series, p)) for p in chosen])
    outcomes: list[Outcome] = []
    last = base
    for target, tests in targets:
        built = build.build_one(cfg, target, bc.name, report)
        last = built.python
        outcome = Outcome(target, mode, built.tree, warnings=tuple(new_warnings(base, built.python, bc.name)))
        report(f"verify {target}: {len(paths)} differential programs")
        outcome.programs = run_programs(paths, base, built.python, bc.name, cfg.job_count, report)
        outcome.new = new_instructions(base, built.python)
        outcome.unreached = unreached(outcome.new, outcome.programs)
        if tests:
            report(f"verify {target}: python -m test {' '.join(tests)}")
            outcome.own_tests = run_own_tests(built.python, tests, cfg.job_count,
                                              results_dir / f"{Path(target).stem}-tests.log")
        outcomes.append(outcome)
    extra: dict[str, dict[str, object]] = {}
    if opts.fuzz:
        report("verify: generated programs")
        extra["fuzz"] = fuzz.run(base, last, seconds=opts.fuzz_seconds, seed=opts.fuzz_seed,
                                 examples=opts.fuzz_examples, out=results_dir, report=report).as_record()
    if not opts.quick:
        extra |= _full_checks(cfg, series, chosen, base, last, opts, results_dir, report, head)
    for outcome in outcomes:
        outcome.extra = extra
    if head is None:
        for patch, outcome in zip(chosen, outcomes, strict=True):
            outcome.record = write_record(cfg, series, patch, outcome, results_dir)
    (results_dir / "verify.txt").write_text("\n".join(render(o) for o in outcomes) + "\n")
    return outcomes


def _full_checks(cfg: Config, series: Series, chosen: Sequence[Patch], base: Path, head: Path,
                 opts: Options, results_dir: Path, report: Report, target: str | None
                 ) -> dict[str, dict[str, object]]:
    from . import ecosystem, regrtest

    extra: dict[str, dict[str, object]] = {}
    last = target or chosen[-1].name  # the build that contains every chosen patch
    if opts.stress:
        extra["stress"] = _stress(cfg, series, chosen, results_dir, report, last)
    if opts.shipped and cfg.verify_configs:
        extra["shipped"] = _shipped(cfg, series, chosen, results_dir, report, last)
    if opts.regrtest:
        cache = build.cache_dir(cfg, cfg.build_config(None).name, "regrtest")
        runs = [regrtest.run(python, tree=_tree_of(python), label=label, cache_dir=cache,
                             jobs=cfg.job_count, report=report)
                for label, python in (("baseline", base), ("patched", head))]
        diff = regrtest.compare(*runs)
        extra["regrtest"] = {"failures": list(diff.render()) if not diff.passed else [],
                             "summary": list(diff.render())[:12],
                             "seconds": [r.seconds for r in runs]}
    if opts.ecosystem:
        venvs = build.cache_dir(cfg, cfg.build_config(None).name, "venvs")
        first = ecosystem.run(base, venv=venvs / _tree_of(base)[:12], label="baseline", report=report)
        second = ecosystem.run(head, venv=venvs / _tree_of(head)[:12], label="patched",
                               packages=ecosystem.pins(first), report=report)  # the same versions
        extra["ecosystem"] = {"failures": ecosystem.compare(first, second), "installed": first.installed,
                              "tests": len(first.suite), "seconds": [first.seconds, second.seconds]}
    return extra


def new_warnings(base: Path, head: Path, config: str | None = None) -> list[str]:
    """The compiler warnings of the build of ``head`` (an interpreter) that stock's has not."""
    where = f" ({config} build)" if config else ""
    return [f"{w}{where}" for w in build.new_warnings(base.parent.parent, head.parent.parent)]


def _both_sides(cfg: Config, config: str, target: str, report: Report
                ) -> tuple[Path, Path, list[ProgramResult]]:
    """The baseline and ``target`` built in ``config``, and the programs run on both."""
    base = build.build_one(cfg, "baseline", config, report).python
    head = build.build_one(cfg, target, config, report).python
    return base, head, run_programs(programs(cfg), base, head, config, cfg.job_count, report)


def _stress(cfg: Config, series: Series, chosen: Sequence[Patch], results_dir: Path,
            report: Report, target: str) -> dict[str, object]:
    """Programs and the patches' CPython tests on the ``stress`` builds of both sides."""
    from . import regrtest

    if STRESS_CONFIG not in cfg.build_configs:
        return {"failures": [f"no '{STRESS_CONFIG}' build configuration in quicken.toml"]}
    base, head, results = _both_sides(cfg, STRESS_CONFIG, target, report)
    failures = [r.describe() for r in results if r.difference is not None]
    failures += [f"new compiler warning: {w}" for w in new_warnings(base, head, STRESS_CONFIG)]
    own = _own_tests_of(series, chosen)
    selection = sorted({t for p in chosen for t in p.tests} - set(own))
    cache = build.cache_dir(cfg, STRESS_CONFIG, "regrtest")
    runs = [regrtest.run(python, tree=_tree_of(python), label=f"stress/{label}", cache_dir=cache,
                         selection=selection, jobs=cfg.job_count, report=report)
            for label, python in (("baseline", base), ("patched", head))]
    diff = regrtest.compare(*runs)
    if not diff.passed:
        failures += list(diff.render())
    ok, summary = run_own_tests(head, own, cfg.job_count, results_dir / "stress-own-tests.log")
    if not ok:
        failures.append(f"the patches' own tests failed on the stress build: {summary}")
    return {"failures": failures, "programs": len(results), "tests": selection,
            "regrtest": list(diff.render())[:3], "own_tests": summary}


def _shipped(cfg: Config, series: Series, chosen: Sequence[Patch], results_dir: Path,
             report: Report, target: str) -> dict[str, object]:
    """The programs and the patches' own tests on the builds users ship (``[verify] configs``).

    Compilers optimize a profile-guided build differently, so a difference
    the release builds do not show can appear there (and stock's own builds
    can differ from each other: see ``_harness.sign``).
    """
    own = _own_tests_of(series, chosen)
    failures: list[str] = []
    configs: dict[str, object] = {}
    for config in cfg.verify_configs:
        report(f"verify: the programs on {config} builds")
        base, head, results = _both_sides(cfg, config, target, report)
        failures += [r.describe() for r in results if not r.passed]
        failures += [f"new compiler warning: {w}" for w in new_warnings(base, head, config)]
        ok, summary = run_own_tests(head, own, cfg.job_count, results_dir / f"{config}-own-tests.log")
        if not ok:
            failures.append(f"the patches' own tests failed on the {config} build: {summary}")
        configs[config] = {"programs": len(results), "passed": sum(r.passed for r in results),
                           "own_tests": summary}
    return {"failures": failures, "configs": configs}


def _tree_of(python: Path) -> str:
    stamp = build.read_stamp(python.parent.parent)
    return stamp.tree if stamp else hashlib.sha256(str(python).encode()).hexdigest()


def write_record(cfg: Config, series: Series, patch: Patch, outcome: Outcome, results_dir: Path) -> Path:
    details = {
        "failures": outcome.failures,
        "head_tree": outcome.head_tree,
        "new_instructions": list(outcome.new),
        "unreached": list(outcome.unreached),
        "new_warnings": list(outcome.warnings),
        "programs": [asdict(r) for r in outcome.programs],
        "own_tests": None if outcome.own_tests is None else {"passed": outcome.own_tests[0],
                                                               "summary": outcome.own_tests[1]},
        "extra": outcome.extra,
        "results": str(results_dir),
        "date": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "quicken": __version__,
    }
    run = records.Run(records.Machine.here(), str(details["date"]), outcome.mode, outcome.passed,
                      tuple(outcome.failures), __version__, str(results_dir))
    path = record_path(cfg, patch)
    records.append_run(path, "verification", binding(cfg, series, patch), run, details,
                       mail_digest=patch.digest)
    return path


def render(outcome: Outcome) -> str:
    lines = [f"{outcome.patch}: {'PASS' if outcome.passed else 'FAIL'} ({outcome.mode}, head tree "
             f"{outcome.head_tree[:12]})"]
    same = sum(r.passed for r in outcome.programs)
    lines.append(f"  programs: {same}/{len(outcome.programs)} with the same output on both builds "
                 "and their instructions live")
    if outcome.new:
        lines.append(f"  new instructions: {', '.join(outcome.new)}")
    if outcome.own_tests is not None:
        lines.append(f"  own tests: {outcome.own_tests[1]}")
    for what, data in outcome.extra.items():
        summary = {k: v for k, v in data.items() if k != "failures"}
        lines.append(f"  {what}: {json.dumps(summary, default=list)[:300]}")
    lines += [f"  FAIL {line}" for line in outcome.failures]
    return "\n".join(lines)
