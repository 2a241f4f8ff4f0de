"""pyperformance's own runner on both builds: its venvs, its manifest, its dependency pins.

A suite with ``runner = "pyperformance"`` in suites.toml (or a benchmark that
needs third-party packages, named in a ``--suite`` list) is run with
``python -m pyperformance run --python <build> -b <name>``, one benchmark per
invocation so that

* the two sides alternate (base first for one benchmark, head first for the
  next), and the second side reuses the first one's loop counts
  (``--same-loops``): both sides run the same loops;
* each finished benchmark is recorded in ``pyperformance/state.json`` of the
  results directory, and a rerun with the same directory skips it (resume);
* progress and an ETA can be reported between benchmarks;
* a benchmark that cannot install or run is listed with a one-line reason.

pyperformance creates its virtual environments under ``venv/`` of its working
directory; Quicken runs it in one directory per build tree (``<cache>/
pyperformance/<tree>``), so a second run, or the other suite, does not install
again, and a rebuilt slot of another tree gets its own.

Before the timed run each benchmark runs once per side with
``--debug-single-value``: it installs the venv and records the exact command
pyperformance uses (for callgrind and for memory). Memory is the kernel's peak
RSS of that command's worker (one loop), from ``wait4``, ``MEMORY_RUNS`` times
per side, sides alternating: pyperf's ``--track-memory`` samples the RSS from
a thread and missed or caught short peaks from one run to the next (a
benchmark's figure moved by a third between two runs of the same build).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from . import suite
from .errors import QuickenError

Report = Callable[[str], None]

#: The web-shaped workloads (templates, ORMs, parsers, serializers) named in the
#: report's headline: pyperf result names starting with one of these.
HEADLINE_PREFIXES = (
    "django_template", "genshi", "mako", "chameleon", "sqlalchemy", "sqlglot", "json_", "pickle",
    "unpickle", "docutils", "html5lib", "tornado_http", "asyncio_websockets", "dulwich_log", "xml_etree",
    "tomli_loads", "deepcopy", "logging", "pprint",
)

STATE_VERSION = 1
#: peak-RSS runs of each benchmark's worker per side
MEMORY_RUNS = 3
_BENCH_LINE = re.compile(r"^\[\s*(\d+)/(\d+)\]\s+(\S+)\.\.\.$")
_INSTALL_LINE = re.compile(r"^\(\s*\d+/\d+\) creating venv for benchmark \((\S+)\)$")
_FAILED_LINE = re.compile(r"^ERROR: Benchmark (\S+) failed: (.*)$")
_TIMEOUT_LINE = re.compile(r"^ERROR: Benchmark (\S+) timed out")
_SUMMARY_LINE = re.compile(r"^- (\S+) \((.*)\)$")
_EXCEPTION_LINE = re.compile(r"^[A-Za-z_][\w.]*(Error|Exception|Exit|Interrupt)\b.*")


class PyperformanceError(QuickenError):
    """pyperformance could not be run at all."""


# --------------------------------------------------------------------------
# parsing pyperformance's output


def parse_list_output(text: str) -> list[str]:
    """Benchmark names from ``pyperformance list`` (``- name`` lines)."""
    names = [line[2:].strip() for line in text.splitlines() if line.startswith("- ")]
    return [n for n in names if n]


@dataclass
class RunOutput:
    """What one ``pyperformance run`` printed."""

    ran: list[str] = field(default_factory=list)
    commands: dict[str, list[str]] = field(default_factory=dict)  # benchmark -> the command it ran
    failures: dict[str, str] = field(default_factory=dict)  # benchmark -> one-line reason


def parse_run_output(text: str) -> RunOutput:
    """The benchmarks ``pyperformance run`` ran, their commands, and why the others failed.

    Install failures get pip's last ``ERROR:`` line of that benchmark's install
    section; a benchmark that died gets the exception line of its traceback.
    """
    out = RunOutput()
    installing: str | None = None
    install_errors: dict[str, str] = {}
    current: str | None = None
    last_exception: str | None = None
    summary = False
    for raw in text.splitlines():
        line = raw.rstrip()
        m = _INSTALL_LINE.match(line)
        if m:
            installing, current = m.group(1), None
            continue
        m = _BENCH_LINE.match(line)
        if m:
            current, installing, last_exception = m.group(3), None, None
            out.ran.append(current)
            continue
        if line.startswith("ERROR: Benchmark "):
            m = _TIMEOUT_LINE.match(line)
            if m:
                out.failures[m.group(1)] = "timed out"
                continue
            m = _FAILED_LINE.match(line)
            if m:
                name, why = m.group(1), m.group(2).strip()
                if "could not install requirements" in why:
                    detail = install_errors.get(name)
                    why = f"could not install requirements: {detail}" if detail else why
                elif last_exception:
                    why = f"{why}: {last_exception}"
                out.failures[name] = why
            continue
        if installing is not None and line.startswith("ERROR:"):
            install_errors[installing] = line.removeprefix("ERROR:").strip()
            continue
        if current is not None and line.startswith("# ") and current not in out.commands:
            out.commands[current] = line[2:].split()
            continue
        if current is not None and _EXCEPTION_LINE.match(line):
            last_exception = line.strip()
            continue
        if re.match(r"^\d+ benchmarks? failed:$", line):
            summary = True
            continue
        if summary:
            m = _SUMMARY_LINE.match(line)
            if m and m.group(1) not in out.failures:
                out.failures[m.group(1)] = m.group(2)
    out.ran = [n for n in out.ran if n not in out.failures]
    if "ERROR: No benchmark was run" in text and not out.failures and not out.ran:
        out.failures["*"] = "no benchmark was run"
    return out


def worker_prefix(command: Sequence[str]) -> list[str]:
    """``python -u run_benchmark.py [extra options]`` of a command pyperformance ran (pyperf options cut)."""
    argv = list(command)
    for i, arg in enumerate(argv):
        if i >= 3 and arg.startswith("--") and arg.split("=")[0] in _PYPERF_FLAGS:
            return argv[:i]
    return argv


_PYPERF_FLAGS = {"--debug-single-value", "--rigorous", "--fast", "--verbose", "--affinity", "--track-memory",
                 "--inherit-environ", "--min-time", "--timeout", "--hook", "--warmups", "--output", "--loops"}


# --------------------------------------------------------------------------
# running it


def inherited_environ(environ: Mapping[str, str] | None = None) -> list[str]:
    """Variables pip needs inside pyperformance's venvs (its settings, proxies, certificates)."""
    env = os.environ if environ is None else environ
    keep = ("PIP_", "HTTP_PROXY", "HTTPS_PROXY", "NO_PROXY", "http_proxy", "https_proxy", "no_proxy",
            "SSL_CERT_FILE", "SSL_CERT_DIR", "REQUESTS_CA_BUNDLE")
    return sorted(name for name in env if name.startswith(keep))


def venv_home(cache: Path, tree: str, configure: Sequence[str] = ()) -> Path:
    """Where pyperformance runs for one build tree (it creates ``venv/`` there)."""
    key = tree[:12]
    if configure:
        key += "-" + hashlib.sha256(" ".join(configure).encode()).hexdigest()[:8]
    return cache / "pyperformance" / key


def run_argv(python: Path, output: Path, names: Sequence[str], *, fast: bool = False, rigorous: bool = False,
             same_loops: Path | None = None, probe: bool = False, timeout: float | None = None,
             inherit: Sequence[str] = (), host_python: str = sys.executable) -> list[str]:
    """``python -m pyperformance run`` for ``names`` on ``python``, writing ``output``.

    ``probe``: one value (installs the venv, tells the command).
    """
    argv = [host_python, "-m", "pyperformance", "run", "--python", str(python), "-b", ",".join(names),
            "-o", str(output)]
    if probe:
        argv.append("--debug-single-value")
    elif rigorous:
        argv.append("--rigorous")
    elif fast:
        argv.append("--fast")
    if same_loops is not None and not probe:
        argv += ["--same-loops", str(same_loops)]
    if timeout is not None:
        argv += ["--timeout", str(int(timeout))]
    if inherit:
        argv += ["--inherit-environ", ",".join(inherit)]
    return argv


def _env() -> dict[str, str]:
    env = dict(os.environ)
    for name in (*suite._SCRUBBED_ENV, "PYTHONPATH"):
        env.pop(name, None)
    return env


def run_pyperformance(argv: Sequence[str], cwd: Path, log: Path) -> RunOutput:
    """Run pyperformance, append its output to ``log``, return what it said."""
    cwd.mkdir(parents=True, exist_ok=True)
    proc = subprocess.run(list(argv), cwd=cwd, env=_env(), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                          text=True, check=False)
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ (cd {cwd} && {' '.join(argv)})\n{proc.stdout}\n[exit {proc.returncode}]\n")
    parsed = parse_run_output(proc.stdout)
    if proc.returncode != 0 and not parsed.failures:
        last = (proc.stdout.strip().splitlines() or ["no output"])[-1]
        parsed.failures["*"] = f"pyperformance exited {proc.returncode}: {last}"
    return parsed


def list_benchmarks(python: Path, selection: Sequence[str], host_python: str = sys.executable) -> list[str]:
    """The benchmarks pyperformance selects for ``python`` (groups such as ``default`` expanded)."""
    argv = [host_python, "-m", "pyperformance", "list", "--python", str(python), "-b", ",".join(selection)]
    proc = subprocess.run(argv, env=_env(), capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
        raise PyperformanceError(f"pyperformance list failed for {python}: {last}",
                                 f"{host_python} -m pip install pyperformance  (host interpreter)")
    names = parse_list_output(proc.stdout)
    if not names:
        raise PyperformanceError(f"pyperformance selects no benchmark for {','.join(selection)}",
                                 "see: python -m pyperformance list_groups")
    return names


# --------------------------------------------------------------------------
# resume state


@dataclass
class State:
    """``pyperformance/state.json``: what is finished, so that a rerun skips it."""

    path: Path
    identity: dict[str, object]
    benchmarks: dict[str, dict[str, object]] = field(default_factory=dict)

    @classmethod
    def open(cls, path: Path, identity: dict[str, object]) -> State:
        if path.is_file():
            data = json.loads(path.read_text())
            if data.get("identity") != identity:
                raise QuickenError(f"{path}: made for other builds or settings ({data.get('identity')})",
                                   "use a new results directory, or the same --base/--head and options")
            return cls(path, identity, data.get("benchmarks", {}))
        return cls(path, identity)

    def entry(self, name: str) -> dict[str, object]:
        return self.benchmarks.setdefault(name, {})

    def save(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({"version": STATE_VERSION, "identity": self.identity,
                                   "benchmarks": self.benchmarks}, indent=1, sort_keys=True) + "\n")
        os.replace(tmp, self.path)

    def failed(self) -> dict[str, str]:
        return {n: str(e["failed"]) for n, e in self.benchmarks.items() if e.get("failed")}


@dataclass(frozen=True)
class SideSpec:
    """One build as the pyperformance runner needs it."""

    label: str
    python: Path
    home: Path  # pyperformance's working directory (its venvs) for this build tree
    tree: str = ""
    configure: tuple[str, ...] = ()


@dataclass
class SuiteRun:
    directory: Path
    names: list[str]
    done: list[str]
    failures: dict[str, str]
    base_json: Path | None = None
    head_json: Path | None = None
    memory: dict[str, Memory] = field(default_factory=dict)
    commands: dict[str, dict[str, list[str]]] = field(default_factory=dict)  # name -> side -> argv


class Eta:
    """Seconds per finished benchmark so far -> the time the rest will take."""

    def __init__(self, total: int) -> None:
        self.total, self.finished, self.spent = total, 0, 0.0

    def add(self, seconds: float) -> None:
        self.finished += 1
        self.spent += seconds

    def describe(self, remaining: int, parallel: int = 1) -> str:
        if not self.finished:
            return "ETA: after the first benchmark"
        left = self.spent / self.finished * remaining / max(1, parallel)
        return f"ETA {int(left // 60)} min {int(left % 60):02d} s"


def run(selection: Sequence[str], base: SideSpec, head: SideSpec, out: Path, *, wall: bool = True,
        fast: bool = False, rigorous: bool = False, timeout: float | None = 1800.0,
        report: Report = lambda _: None, names: Sequence[str] | None = None,
        finished_only: bool = False) -> SuiteRun:
    """Probe (install, command), measure the peak memory and, with ``wall``, time every selected
    benchmark on both sides.

    Finished benchmarks found in ``out/pyperformance/state.json`` are skipped (a benchmark
    timed by an older state without memory runs gets just those); ``finished_only`` runs
    nothing and collects the timed ones (the report of an interrupted run).
    """
    root = out / "pyperformance"
    raw = root / "raw"
    raw.mkdir(parents=True, exist_ok=True)
    identity: dict[str, object] = {"base": [str(base.python), base.tree],
                                   "head": [str(head.python), head.tree],
                                   "fast": fast, "rigorous": rigorous}
    state = State.open(root / "state.json", identity)
    if names is None:
        report(f"pyperformance: list {','.join(selection)}")
        names = list_benchmarks(base.python, selection)
    names = list(names)
    if finished_only:
        names = [n for n in names if _finished(state.entry(n), wall, memory=False)]
        report(f"pyperformance: {len(names)} finished benchmarks in {root}, the others left out")
    inherit = inherited_environ()
    log = root / "pyperformance.log"
    sides = {"base": base, "head": head}
    todo = [] if finished_only else [n for n in names if not _finished(state.entry(n), wall)]
    skipped = len(names) - len(todo)
    if skipped:
        report(f"pyperformance: resuming, {skipped} of {len(names)} benchmarks already finished")
    # the ETA is over the benchmarks still to time; the others only get their memory runs
    untimed = {n for n in todo if not _finished(state.entry(n), wall, memory=False)}
    eta = Eta(len(untimed))
    for k, name in enumerate(todo):
        started = time.monotonic()
        entry = state.entry(name)
        left = eta.describe(len(untimed) - eta.finished)
        entry.pop("failed", None)
        index = names.index(name)
        order = ("base", "head") if index % 2 == 0 else ("head", "base")
        where = f"[{skipped + k + 1}/{len(names)}] {name}"
        commands: dict[str, list[str]] = dict(entry.get("commands", {}))  # type: ignore[call-overload]
        for side_name in order:
            if side_name in commands:
                continue
            side = sides[side_name]
            report(f"pyperformance {where}: install and probe on {side.label} ({left})")
            target = raw / f"{name}.{side_name}.probe.json"
            target.unlink(missing_ok=True)
            result = run_pyperformance(run_argv(side.python, target, [name], probe=True, timeout=timeout,
                                                inherit=inherit), side.home, log)
            reason = _reason(result, name, target)
            if reason:
                entry["failed"] = f"{side.label}: {reason}"
                break
            commands[side_name] = result.commands.get(name, [])
        entry["commands"] = commands
        if not entry.get("failed") and not _measured(entry):
            report(f"pyperformance {where}: peak memory, {MEMORY_RUNS} runs per side")
            try:
                entry["memory"] = measure_memory(commands, order, timeout=timeout)
            except QuickenError as exc:
                entry["failed"] = f"memory: {exc.message}"
        if not entry.get("failed") and wall and not entry.get("wall"):
            first: Path | None = None
            for side_name in order:
                side = sides[side_name]
                report(f"pyperformance {where}: wall on {side.label} ({left})")
                target = raw / f"{name}.{side_name}.json"
                target.unlink(missing_ok=True)
                result = run_pyperformance(run_argv(side.python, target, [name], fast=fast, rigorous=rigorous,
                                                    same_loops=first, timeout=timeout, inherit=inherit),
                                           side.home, log)
                reason = _reason(result, name, target)
                if reason:
                    entry["failed"] = f"{side.label}: {reason}"
                    break
                first = first or target
            else:
                entry["wall"] = True
        entry["seconds"] = round(float(entry.get("seconds", 0.0)) + time.monotonic() - started, 1)  # type: ignore[arg-type]
        state.save()
        if name in untimed:
            eta.add(time.monotonic() - started)
        if entry.get("failed"):
            report(f"pyperformance {where}: FAILED {entry['failed']}")
    return _collect(root, names, state, wall)


def _finished(entry: Mapping[str, object], wall: bool, memory: bool = True) -> bool:
    if entry.get("failed"):
        return True
    commands = entry.get("commands")
    probed = isinstance(commands, dict) and {"base", "head"} <= commands.keys()
    return probed and (bool(entry.get("wall")) or not wall) and (_measured(entry) or not memory)


def _measured(entry: Mapping[str, object]) -> bool:
    samples = entry.get("memory")
    return isinstance(samples, dict) and all(len(samples.get(side, ())) >= MEMORY_RUNS
                                             for side in ("base", "head"))


def _reason(result: RunOutput, name: str, target: Path) -> str | None:
    if name in result.failures:
        return result.failures[name]
    if "*" in result.failures:
        return result.failures["*"]
    if not target.is_file():
        return "pyperformance wrote no result"
    return None


def _collect(root: Path, names: list[str], state: State, wall: bool) -> SuiteRun:
    entries = {n: state.benchmarks.get(n, {}) for n in names}
    failures = {n: str(e["failed"]) for n, e in entries.items() if e.get("failed")}
    done = [n for n in names if n not in failures and _finished(entries[n], wall, memory=False)]
    run_ = SuiteRun(root, names, done, failures,
                    commands={n: dict(state.benchmarks[n]["commands"]) for n in done},  # type: ignore[call-overload]
                    memory={n: Memory.from_state(entries[n]["memory"]) for n in done  # type: ignore[arg-type]
                            if _measured(entries[n])})
    raw = root / "raw"
    for side in ("base", "head"):
        if wall:
            parts = [raw / f"{n}.{side}.json" for n in done]
            if parts:
                setattr(run_, f"{side}_json", suite.merge_results(parts, root / f"{side}.json"))
    return run_


# --------------------------------------------------------------------------
# instruction mode: the command pyperformance runs, under callgrind


def worker_command(command: Sequence[str], loops: int) -> suite.Command:
    """The benchmark body once, in-process, ``loops`` times, in the venv pyperformance made."""
    prefix = worker_prefix(command)
    if len(prefix) < 3:
        raise QuickenError(f"cannot tell the benchmark script from {' '.join(command)!r}")
    argv = (*prefix, "--worker", f"--loops={loops}", "--warmups=0", "--values=1", "--min-time=0", "--quiet")
    env = _env()
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    return suite.Command(argv, env, Path(prefix[2]).parent)


def site_packages(command: Sequence[str]) -> Path:
    """The site-packages of the venv a probed command ran in."""
    venv = Path(command[0]).parent.parent
    found = sorted(venv.glob("lib/python*/site-packages"))
    if not found:
        raise QuickenError(f"no site-packages under {venv}: was the venv removed?",
                           "run the benchmark again (quicken bench --suite ...) to reinstall it")
    return found[0]


#: Adds a site directory (its .pth files too: setuptools' ``distutils`` shim, which Django 3.2
#: imports on 3.12+, is one), then runs the script as ``python SCRIPT ARGS`` would.
_WITH_SITE = ("import os, runpy, site, sys; site.addsitedir(sys.argv.pop(1)); del sys.argv[0]; "
              "sys.path.insert(0, os.path.dirname(os.path.abspath(sys.argv[0]))); "
              "runpy.run_path(sys.argv[0], run_name='__main__')")


def pystats_command(command: Sequence[str], python: Path, loops: int = 1) -> suite.Command:
    """The benchmark body under ``python -X pystats`` (a pystats build of the same tree), with the
    packages of the venv pyperformance made for the release build as a site directory (same version
    and ABI)."""
    worker = worker_command(command, loops)
    option, script_and_args = worker.argv[1], worker.argv[2:]  # worker_prefix: python -u SCRIPT ...
    return suite.Command((str(python), "-X", "pystats", option, "-c", _WITH_SITE,
                          str(site_packages(command)), *script_and_args), worker.env, worker.cwd)


def loop_seconds(root: Path, name: str) -> float | None:
    """Seconds one loop of ``name``'s worker took on the base side (its timed or probe run), or None."""
    import pyperf

    for path in (root / "raw" / f"{name}.base.json", root / "raw" / f"{name}.base.probe.json"):
        if path.is_file():
            results = pyperf.BenchmarkSuite.load(str(path))
            return sum(b.mean() * int(b.get_metadata().get("inner_loops", 1))
                       for b in results.get_benchmarks())
    return None


def as_benchmark(name: str, command: Sequence[str]) -> suite.Benchmark:
    """A :class:`suite.Benchmark` for the count cache's key (script digest, extra options)."""
    prefix = worker_prefix(command)
    return suite.Benchmark(name=name, kind=suite.PYPERFORMANCE, script=Path(prefix[2]),
                           args=tuple(prefix[3:]))


def venv_name(command: Sequence[str]) -> str:
    """The venv directory's name (pyperformance's python id and requirements' compat id)."""
    return Path(command[0]).parent.parent.name


# --------------------------------------------------------------------------
# memory


@dataclass(frozen=True)
class Memory:
    """Peak RSS in bytes of one benchmark's worker, one value per run, on each side."""

    base: tuple[int, ...]
    head: tuple[int, ...]

    @classmethod
    def from_state(cls, samples: Mapping[str, Sequence[int]]) -> Memory:
        return cls(tuple(samples["base"]), tuple(samples["head"]))

    @property
    def medians(self) -> tuple[float, float]:
        return statistics.median(self.base), statistics.median(self.head)

    @property
    def apart(self) -> bool:
        """Every run of one side above every run of the other: a change that repeats."""
        return max(self.head) < min(self.base) or min(self.head) > max(self.base)


#: Runs argv[1:] and prints "exit-code peak-RSS-KiB". A process's peak RSS starts at the peak of
#: the one that forked it and survives exec, so the worker is started by this small interpreter
#: rather than by Quicken (whose own peak would hide every worker smaller than it).
_SPAWN = """\
import os, sys
pid = os.posix_spawnp(sys.argv[1], sys.argv[1:], os.environ,
                      file_actions=[(os.POSIX_SPAWN_OPEN, 1, os.devnull, os.O_WRONLY, 0)])
_, status, usage = os.wait4(pid, 0)
print(os.waitstatus_to_exitcode(status), usage.ru_maxrss)
"""


def peak_rss(command: suite.Command, timeout: float | None = None) -> int:
    """The kernel's peak RSS in bytes of ``command``'s process (and of the children it waited for)."""
    what = " ".join(command.argv[:3])
    proc = subprocess.Popen([sys.executable, "-I", "-S", "-c", _SPAWN, *command.argv], env=dict(command.env),
                            cwd=command.cwd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.PIPE, text=True, start_new_session=True)
    try:
        out, err = proc.communicate(timeout=timeout)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise QuickenError(f"{what} timed out after {timeout:.0f} s",
                           "run the command by hand in its venv to see why") from None
    fields = out.split()
    if proc.returncode != 0 or len(fields) != 2 or fields[0] != "0":
        last = (err.strip().splitlines() or ["no output"])[-1]
        code = fields[0] if len(fields) == 2 else proc.returncode
        raise QuickenError(f"{what} exited {code}: {last}", "run the command by hand in its venv to see why")
    return int(fields[1]) * 1024  # Linux reports KiB


def measure_memory(commands: Mapping[str, Sequence[str]], order: Sequence[str], runs: int = MEMORY_RUNS,
                   timeout: float | None = None) -> dict[str, list[int]]:
    """Peak RSS of each side's worker (one loop), ``runs`` times per side, sides alternating."""
    samples: dict[str, list[int]] = {side: [] for side in order}
    for i in range(runs):
        for side in order if i % 2 == 0 else reversed(order):
            samples[side].append(peak_rss(worker_command(commands[side], 1), timeout))
    return samples


def headline(names: Sequence[str]) -> list[str]:
    """The web-shaped benchmarks among ``names``, in their order."""
    return [n for n in names if n.startswith(HEADLINE_PREFIXES)]
