"""Instruction counting with callgrind.

Wall-clock timings on a shared 2-core machine are noisy; instruction counts
are nearly deterministic.  For one benchmark we run its body in-process
(pyperf worker mode, see :func:`quicken.suite.single_run_command`) under
``valgrind --tool=callgrind`` twice: with ``loops`` and with ``2 * loops``
iterations.  Start-up, imports, pyperf's bookkeeping and the first
(un-specialized, warming-up) iterations are identical in both runs, so

    per_loop = (Ir(2N) - Ir(N)) / N

is the steady-state cost of one loop iteration.  Both runs use a fixed
``PYTHONHASHSEED`` and, where ``setarch -R`` works, no address-space
randomization, so repeated measurements agree to a few instructions.  They
load their bytecode from a ``PYTHONPYCACHEPREFIX`` of their own, which one
uncounted run fills just before them, and write none: what a run imports is
the same in both, on both builds of a comparison, whatever else runs the build.

Counts are per *outer* pyperf loop (one call of the timed body per loop),
which is what matters for a base/head ratio.

A count is deterministic, but it is one sample of the allocator's state: where
a loop's blocks fall in pymalloc's pools depends on every string allocated
before it (the executable's path, the environment), and a loop that fills and
empties one pool pays for it on every iteration.  So the counted runs get only
the environment the command sets itself (:func:`counted_environment`), and a
small benchmark is counted at several heap states and its count is their
median (:data:`HEAP_PADS`).

Counts are deterministic, so :class:`CountCache` keeps them: keyed by the
tree and configuration of the build, the benchmark (name, arguments, script
digest), the loop count, and the pyperf and valgrind versions and CPU that
produced them.  ``quicken validate`` of patch *k* then reuses the counts of
patch *k-1*'s build, and a series run reuses the baseline's.
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import json
import os
import platform
import re
import shutil
import subprocess
import tempfile
import threading
from collections import Counter
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, cast

import pyperf

from quicken.errors import QuickenError, ToolMissingError
from quicken.suite import Benchmark, Command, single_run_command

#: Default loop counts N (the second run uses 2N).  A micro-benchmark loop is
#: a few microseconds; a pyperformance loop is milliseconds to a second.
DEFAULT_LOOPS = {"micro": 500, "pyperformance": 1}

HASH_SEED = "0"
#: The environment of every counted run.  The two runs (N and 2N loops) must do the same work
#: apart from the loops: a fixed hash seed, and no bytecode written, or the first run of a fresh
#: build compiles and caches the modules it imports and the second one does not (richards lost
#: two thirds of its count that way: 166M instead of 500M per loop).
COUNT_ENV = {"PYTHONHASHSEED": HASH_SEED, "PYTHONDONTWRITEBYTECODE": "1"}
#: Where the counted runs find their bytecode: a ``PYTHONPYCACHEPREFIX`` of their own, filled by
#: one uncounted run just before them (see :func:`count_instructions`).  A build's ``__pycache__``
#: directories are shared: any other run of the build (``quicken codegen``, ``quicken python``, a
#: user's script) writes bytecode into them, also between the N- and the 2N-loop run, and a module
#: compiled in one run and loaded in the other moved coroutines' count by -15 %; the two sides of a
#: comparison also differ in what their ``__pycache__`` holds, which shows in the allocator's work
#: of the loops themselves (json_dumps of the same two builds: +3.3 %, -1.3 % with private
#: prefixes).  Part of the cache key.
PYC_PREFIX_KEY = "PYTHONPYCACHEPREFIX=private, filled by one uncounted run"

#: The heap states a benchmark of fewer than :data:`HEAP_STATES_BELOW` instructions per loop is
#: counted at: the lengths of :data:`HEAP_PAD_VARIABLE` in its environment, 16 bytes apart (one
#: pymalloc size class; 8 bytes apart, every other state is the same).  Its count is the median
#: state's.  Why: a loop that allocates and frees a block pays pymalloc's pool bookkeeping on
#: every iteration when that block fills its pool, and which pool it falls in is decided by what
#: was allocated before the loop, down to the length of the executable's path.  Measured on
#: init_defaults, 0014 -> 0015 of the series, release, at pads 0, 8, ... 56: 0014 142,538 to
#: 143,115 instructions per loop, 0015 143,145 to 143,995.  The one state each side was counted
#: at by ``quicken validate`` (base ``rev-<tree>/obj/python``, head ``patched/obj/python``: paths
#: of different lengths) paired 0014's lowest with 0015's highest, +1.03 %, over the gate's 1 %.
#: With the caller's environment left out and the median of these five states: +0.38 % (142,605 ->
#: 143,145), which is the work of the functions the patch changes (tupledealloc +540 a loop).
HEAP_PADS = (0, 16, 32, 48, 64)
HEAP_PAD_VARIABLE = "QUICKEN_HEAP_PAD"
#: From this many instructions per loop (at the first heap state) up, a benchmark is counted at the
#: first state only: the states moved init_defaults by up to 850 instructions a loop, under 0.01 %
#: of a loop this size, whose own allocations also move its blocks between pools as it runs; and
#: its runs are the ones that take minutes.
HEAP_STATES_BELOW = 10_000_000
#: The caller's variables a counted run keeps (:func:`counted_environment`).
CALLER_VARIABLES = ("PATH", "HOME", "TMPDIR")


def heap_states_key(heap_pads: Sequence[int] = HEAP_PADS) -> str:
    """How counts at ``heap_pads`` sample the heap (part of the cache key): a count made otherwise
    is another measurement."""
    return (f"heap states {HEAP_PAD_VARIABLE}={','.join(map(str, heap_pads))} "
            f"below {HEAP_STATES_BELOW}, caller environment {','.join(CALLER_VARIABLES)},PYTHON*")


_TOTAL_RE = re.compile(r"^(?:summary|totals):\s*(\d+)", re.MULTILINE)


class MeasureError(QuickenError):
    """An instruction-count run failed."""


@dataclass(frozen=True)
class InstructionCount:
    """Result of :func:`count_instructions` for one benchmark on one build."""

    benchmark: str
    loops: int
    total_low: int  # Ir of the run with `loops` iterations
    total_high: int  # Ir of the run with 2 * `loops` iterations
    aslr_disabled: bool
    # Self instructions of one steady-state loop, per function (non-zero only)
    functions: dict[str, int] = field(default_factory=dict)
    # Per-loop counts at each heap state counted (HEAP_PADS order); the totals and functions
    # above are the median state's.  One state: () or a single value.
    heap_states: tuple[int, ...] = ()

    @property
    def per_loop(self) -> int:
        """Instructions of one steady-state loop iteration (rounded)."""
        return round((self.total_high - self.total_low) / self.loops)


def find_valgrind(valgrind: str = "valgrind") -> str:
    """Path of the valgrind executable, or ToolMissingError."""
    path = shutil.which(valgrind)
    if path is None:
        raise ToolMissingError(
            f"{valgrind}: not found; instruction counting needs callgrind",
            "sudo apt-get install valgrind  (Debian package `valgrind`)",
        )
    return path


def _setarch_prefix() -> list[str]:
    """``setarch <arch> -R`` if it exists and is permitted here, else []."""
    setarch = shutil.which("setarch")
    if setarch is None:
        return []
    prefix = [setarch, platform.machine(), "-R"]
    try:
        proc = subprocess.run([*prefix, "true"], capture_output=True, check=False, timeout=30)
    except (OSError, subprocess.SubprocessError):
        return []
    return prefix if proc.returncode == 0 else []


def callgrind_argv(
    argv: list[str] | tuple[str, ...],
    out_file: Path,
    *,
    valgrind: str = "valgrind",
    no_aslr_prefix: list[str] | None = None,
    trace_children: bool = False,
) -> list[str]:
    """Wrap ``argv`` so it runs under callgrind writing to ``out_file``.

    With ``trace_children`` the processes it starts run under callgrind too, each
    writing ``<out_file>.<pid>`` (see :func:`callgrind_files`)."""
    return [
        *(no_aslr_prefix or []),
        valgrind,
        "--tool=callgrind",
        "--quiet",
        f"--callgrind-out-file={out_file}.%p" if trace_children else f"--callgrind-out-file={out_file}",
        "--dump-instr=no",
        "--collect-jumps=no",
        f"--trace-children={'yes' if trace_children else 'no'}",
        *argv,
    ]


def times_a_command(script: Path) -> bool:
    """Does the benchmark time child processes (pyperf's ``Runner.bench_command``: 2to3,
    python_startup, ...)?  Then its instructions are the children's, and callgrind follows them."""
    try:
        return "bench_command(" in script.read_text(encoding="utf-8", errors="replace")
    except OSError:
        return False


def callgrind_files(out_file: Path, trace_children: bool) -> list[Path]:
    """The output files of one run: ``out_file``, or one ``out_file.<pid>`` per process."""
    if not trace_children:
        return [out_file]
    return sorted(p for p in out_file.parent.glob(f"{out_file.name}.*") if p.suffix[1:].isdigit())


def parse_callgrind_total(path: Path) -> int:
    """Total ``Ir`` from a callgrind output file (``summary:``/``totals:`` line)."""
    try:
        text = path.read_text(encoding="utf-8", errors="replace")
    except OSError as exc:
        raise MeasureError(f"{path}: cannot read callgrind output: {exc.strerror}", None) from None
    events = re.search(r"^events:\s*(.+)$", text, re.MULTILINE)
    if events is not None and events.group(1).split()[0] != "Ir":
        raise MeasureError(f"{path}: first callgrind event is {events.group(1).split()[0]!r}, not Ir", None)
    totals = [int(match) for match in _TOTAL_RE.findall(text)]
    if not totals:
        raise MeasureError(f"{path}: no summary/totals line in callgrind output", "was the run killed?")
    return max(totals)


@dataclass(frozen=True)
class _Runs:
    """How one benchmark's runs are made and run (the uncounted one and the two counted ones)."""

    bench: Benchmark
    python: str | Path
    pyperf_dir: Path
    worker_task: int | None
    timeout: float | None
    command_for: Callable[[int], Command] | None
    pycache: Path

    def command(self, loops: int, *, counted: bool, pad: int = 0) -> Command:
        """The benchmark's command for ``loops`` at heap state ``pad``: a counted run reads its
        bytecode prefix, the uncounted one fills it."""
        env = {**COUNT_ENV, "PYTHONPYCACHEPREFIX": str(self.pycache), HEAP_PAD_VARIABLE: "." * pad}
        if self.command_for is not None:
            made = self.command_for(loops)
            command = Command(made.argv, {**made.env, **env}, made.cwd)
        else:
            command = single_run_command(self.bench, self.python, self.pyperf_dir, loops,
                                         worker_task=self.worker_task, extra_env=env)
        command = Command(command.argv, counted_environment(command.env), command.cwd)
        if counted:
            return command
        return Command(command.argv, {name: value for name, value in command.env.items()
                                      if name != "PYTHONDONTWRITEBYTECODE"}, command.cwd)

    def run(self, argv: list[str], command: Command, what: str) -> None:
        """Run ``argv`` (``command``, possibly under callgrind); MeasureError if it fails."""
        try:
            proc = subprocess.run(argv, env=dict(command.env), cwd=command.cwd, capture_output=True,
                                  text=True, check=False, timeout=self.timeout)
        except subprocess.TimeoutExpired:
            raise MeasureError(f"{self.bench.name}: {what} exceeded {self.timeout} s",
                               "use fewer loops for this benchmark") from None
        if proc.returncode != 0:
            tail = " | ".join(proc.stderr.strip().splitlines()[-3:]) or "no output"
            raise MeasureError(f"{self.bench.name}: {what} failed (exit {proc.returncode}): {tail}",
                               f"run it directly: {' '.join(command.argv)}")


def counted_environment(env: Mapping[str, str], caller: Mapping[str, str] | None = None) -> dict[str, str]:
    """``env`` without what it only inherited from ``caller`` (default: this process's environment).

    A command made for a benchmark starts from the caller's environment, which differs between
    shells, sessions and users (``SSH_CLIENT``, ``OLDPWD``, a terminal's variables), and its size
    is part of the heap state a count samples: the two sides of a comparison, or a count cached in
    one session and compared with one made in the next, would then differ by that.  Kept: what the
    command set or changed, the ``PYTHON*`` variables, and :data:`CALLER_VARIABLES`.
    """
    inherited = os.environ if caller is None else caller
    return {name: value for name, value in env.items()
            if inherited.get(name) != value or name in CALLER_VARIABLES or name.startswith("PYTHON")}


def _run_once(runs: _Runs, loops: int, out_file: Path, *, valgrind: str, prefix: list[str],
              trace_children: bool = False, pad: int = 0) -> list[Path]:
    """Run the benchmark once under callgrind; its output files (see :func:`callgrind_files`)."""
    command = runs.command(loops, counted=True, pad=pad)
    argv = callgrind_argv(command.argv, out_file, valgrind=valgrind, no_aslr_prefix=prefix,
                          trace_children=trace_children)
    for stale in [out_file, *callgrind_files(out_file, True)]:
        stale.unlink(missing_ok=True)
    runs.run(argv, command, f"callgrind run with {loops} loops")
    return callgrind_files(out_file, trace_children)


def count_instructions(
    bench: Benchmark,
    python: str | Path,
    pyperf_dir: Path,
    workdir: Path,
    *,
    loops: int | None = None,
    worker_task: int | None = None,
    valgrind: str = "valgrind",
    disable_aslr: bool = True,
    timeout: float | None = 1800.0,
    command_for: Callable[[int], Command] | None = None,
    heap_pads: Sequence[int] = HEAP_PADS,
) -> InstructionCount:
    """Steady-state instructions per loop of ``bench`` run by ``python``.

    ``workdir`` receives the callgrind output files (kept for inspection:
    ``<name>.<N>.callgrind``, ``<name>.pad<P>.<N>.callgrind`` at the other heap states).
    ``loops`` defaults to :data:`DEFAULT_LOOPS` for the benchmark's kind.  ``command_for(loops)``,
    when given, makes the command instead (a benchmark in pyperformance's own venv).
    A benchmark that times a command (:func:`times_a_command`) is counted with
    its child processes, one output file per process (``<name>.<N>.callgrind.<pid>``).
    The counted runs read their bytecode from a private prefix (:data:`PYC_PREFIX_KEY`),
    filled by one run with ``loops`` loops outside callgrind.  A benchmark of fewer than
    :data:`HEAP_STATES_BELOW` instructions per loop at the first of ``heap_pads`` is counted at
    the others too, and the median state is its count.
    """
    valgrind_path = find_valgrind(valgrind)
    n = loops if loops is not None else DEFAULT_LOOPS[bench.kind]
    if n < 1:
        raise ValueError("loops must be >= 1")
    if not heap_pads:
        raise ValueError("heap_pads must name at least one heap state")
    prefix = _setarch_prefix() if disable_aslr else []
    workdir.mkdir(parents=True, exist_ok=True)
    children = times_a_command(bench.script)
    states: list[InstructionCount] = []
    with tempfile.TemporaryDirectory(prefix="quicken-pycache-") as pycache:
        how = _Runs(bench, python, pyperf_dir, worker_task, timeout, command_for, Path(pycache))
        warm = how.command(n, counted=False)
        how.run(list(warm.argv), warm, f"uncounted run with {n} loops (it caches the bytecode)")
        for pad in heap_pads:
            if states and states[0].per_loop >= HEAP_STATES_BELOW:
                break
            runs: list[list[Path]] = []
            stem = bench.name if pad == heap_pads[0] else f"{bench.name}.pad{pad}"
            for count in (n, 2 * n):
                out_file = workdir / f"{stem}.{count}.callgrind"
                runs.append(_run_once(how, count, out_file, valgrind=valgrind_path, prefix=prefix,
                                      trace_children=children, pad=pad))
            states.append(_state_count(bench.name, n, runs, bool(prefix)))
    median = sorted(states, key=lambda state: state.per_loop)[(len(states) - 1) // 2]
    return dataclasses.replace(median, heap_states=tuple(state.per_loop for state in states))


def _state_count(name: str, n: int, runs: list[list[Path]], aslr_disabled: bool) -> InstructionCount:
    """The count of one heap state from its N- and 2N-loop runs' output files."""
    low, high = (sum(parse_callgrind_total(f) for f in files) for files in runs)
    if high <= low:
        raise MeasureError(
            f"{name}: {2 * n} loops took no more instructions than {n} ({high} <= {low})",
            "the benchmark body does not depend on the loop count; increase loops",
        )
    return InstructionCount(benchmark=name, loops=n, total_low=low, total_high=high,
                            aslr_disabled=aslr_disabled, functions=per_loop_functions(runs[0], runs[1], n))


_COMPRESSED_NAME = re.compile(r"\((\d+)\)(?:\s+(.*))?$")
_RECURSION_SUFFIX = re.compile(r"'\d+$")
#: GCC's name for the part of a function it moved out of line (``f.cold``, ``f.cold.1`` after LTO).
_COLD_SUFFIX = re.compile(r"\.cold(?:\.\d+)?$")


def function_costs(path: Path) -> dict[str, int]:
    """Self ``Ir`` of each function in a callgrind output file.

    Reads callgrind's format directly: ``fn=`` starts a function's cost
    lines (names may be compressed to ``(id)``, shared with ``cfn=``), and
    the cost line after ``calls=`` is the call's inclusive cost, which is
    not the caller's own.  Recursion levels (``name'2``) are merged, and so
    are inlined copies listed under other files.

    A function's cold part (GCC's ``f.cold``) is merged into ``f``: the
    interpreter loop jumps to its first instruction, which callgrind counts
    as a call, and the blocks of ``f`` that run after the cold part jumps
    back are then counted under the cold part (seen on a BINARY_SUBSCR miss
    path: 548,346 instructions at ``f``'s addresses under ``f.cold``, 270 at
    its own), so the split between the two names means nothing.
    """
    names: dict[str, str] = {}
    costs: dict[str, int] = {}
    current: str | None = None
    skip_next = False
    try:
        lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError as exc:
        raise MeasureError(f"{path}: cannot read callgrind output: {exc.strerror}", None) from None
    for line in lines:
        if skip_next:
            skip_next = False
            continue
        first = line[:1]
        if first.isdigit() or first in "+-*":
            parts = line.split()
            if current is not None and len(parts) > 1:
                costs[current] = costs.get(current, 0) + int(parts[1])
        elif line.startswith(("fn=", "cfn=")):
            key, _, spec = line.partition("=")
            m = _COMPRESSED_NAME.match(spec.strip())
            if m is None:
                name = spec.strip()
            else:
                if m.group(2) is not None:
                    names[m.group(1)] = m.group(2)
                name = names.get(m.group(1), f"({m.group(1)})")
            if key == "fn":
                current = _COLD_SUFFIX.sub("", _RECURSION_SUFFIX.sub("", name))
        elif line.startswith("calls="):
            skip_next = True
    return costs


def per_loop_functions(low: Sequence[Path], high: Sequence[Path], loops: int) -> dict[str, int]:
    """Per-loop self instructions by function, from the N- and 2N-loop runs' output files
    (summed over a run's processes; non-zero only)."""
    a, b = (_summed_costs(files) for files in (low, high))
    out = {name: round((b.get(name, 0) - a.get(name, 0)) / loops) for name in a.keys() | b.keys()}
    return {name: value for name, value in sorted(out.items()) if value}


def _summed_costs(files: Sequence[Path]) -> Counter[str]:
    total: Counter[str] = Counter()
    for path in files:
        total.update(function_costs(path))
    return total


def function_shifts(base: InstructionCount, head: InstructionCount, top: int = 5) -> list[tuple[str, int]]:
    """The functions whose per-loop instructions changed most from base to head, largest first."""
    names = base.functions.keys() | head.functions.keys()
    deltas = [(name, head.functions.get(name, 0) - base.functions.get(name, 0)) for name in names]
    return sorted((d for d in deltas if d[1]), key=lambda d: (-abs(d[1]), d[0]))[:top]


def save_counts(path: Path, counts: Mapping[str, InstructionCount]) -> None:
    """Write counts as JSON: ``{name: {per_loop, loops, total_low, ...}}``."""
    data = {name: {**asdict(count), "per_loop": count.per_loop} for name, count in counts.items()}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    tmp.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    os.replace(tmp, path)


def load_counts(path: Path) -> dict[str, int]:
    """Per-loop counts from a file written by :func:`save_counts`."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise MeasureError(
            f"{path}: instruction counts not found", "run the instructions measurement first"
        ) from None
    except json.JSONDecodeError as exc:
        raise MeasureError(f"{path}: invalid JSON: {exc}", None) from None
    if not isinstance(data, dict):
        raise MeasureError(f"{path}: expected a JSON object", None)
    counts: dict[str, int] = {}
    for name, entry in data.items():
        value = entry.get("per_loop") if isinstance(entry, dict) else entry
        if not isinstance(value, int) or isinstance(value, bool):
            raise MeasureError(f"{path}: benchmark {name!r} has no integer per_loop count", None)
        counts[name] = value
    return counts


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or ``unknown``."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return "unknown"


def cpu_signature(cpuinfo: Path = Path("/proc/cpuinfo")) -> str:
    """Which implementation of the architecture the CPU is (``family 25 model 17 stepping 1``, from
    ``/proc/cpuinfo``), or ``""``: a hypervisor may name two CPU generations the same ("AMD EPYC")."""
    fields: dict[str, str] = {}
    try:
        for line in cpuinfo.read_text().splitlines():
            key, _, value = line.partition(":")
            key = key.strip()
            if not key and fields:
                break  # the first processor is enough
            if key in ("cpu family", "model", "stepping"):
                fields[key] = value.strip()
    except OSError:
        return ""
    if "cpu family" not in fields or "model" not in fields:
        return ""
    names = (("family", "cpu family"), ("model", "model"), ("stepping", "stepping"))
    return " ".join(f"{name} {fields[key]}" for name, key in names if key in fields)


@functools.cache
def valgrind_version(valgrind: str) -> str:
    proc = subprocess.run([valgrind, "--version"], capture_output=True, text=True, check=False)
    return proc.stdout.strip() or f"unknown (exit {proc.returncode})"


class CountCache:
    """Instruction counts already measured, in one JSON file.

    A count is reused only when everything that determines it is the same
    (see :meth:`key`).  Threads of one process may share an instance; writes
    replace the file atomically, re-reading it first so that two processes
    only lose each other's entries, never corrupt the file.
    """

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()

    @staticmethod
    def key(tree: str, configure: tuple[str, ...] | list[str], bench: Benchmark, loops: int,
            valgrind: str = "valgrind", heap_pads: Sequence[int] = HEAP_PADS) -> str:
        script = hashlib.sha256(bench.script.read_bytes()).hexdigest()[:16]
        parts = [tree, " ".join(configure), bench.name, " ".join(bench.args), str(loops), script,
                 *(["child processes"] if times_a_command(bench.script) else []),
                 f"pyperf {pyperf.__version__}", valgrind_version(find_valgrind(valgrind)), cpu_model(),
                 *(f"{name}={value}" for name, value in COUNT_ENV.items()), PYC_PREFIX_KEY,
                 heap_states_key(heap_pads)]
        return "|".join(parts)

    def _read(self) -> dict[str, dict[str, object]]:
        try:
            data = json.loads(self.path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return {}
        return data if isinstance(data, dict) else {}

    def get(self, key: str) -> InstructionCount | None:
        return self.get_many([key])[key]

    def get_many(self, keys: Iterable[str]) -> dict[str, InstructionCount | None]:
        """Each key's count (None when missing), from one read of the file."""
        with self._lock:
            data = self._read()
        return {key: self._count(data.get(key)) for key in keys}

    @staticmethod
    def _count(entry: object) -> InstructionCount | None:
        if not isinstance(entry, dict) or not entry.get("functions"):
            return None  # none, or written before per-function counts were kept
        try:
            fields = cast(dict[str, Any], entry)
            return InstructionCount(**{**fields, "heap_states": tuple(fields.get("heap_states", ()))})
        except TypeError:
            return None  # written by another version of this class

    def put(self, key: str, count: InstructionCount) -> None:
        with self._lock:
            data = self._read()
            data[key] = asdict(count)
            self.path.parent.mkdir(parents=True, exist_ok=True)
            tmp = self.path.with_name(f"{self.path.name}.{os.getpid()}.{threading.get_ident()}.tmp")
            tmp.write_text(json.dumps(data, indent=1, sort_keys=True) + "\n", encoding="utf-8")
            os.replace(tmp, self.path)


def count_cache(builds: Path, config_name: str) -> CountCache:
    """The count cache of one build configuration (bench, validate and bisect share it)."""
    return CountCache(builds / config_name / "instruction-counts.json")


def cached_count(cache: CountCache | None, key: str, count_now: Callable[[], InstructionCount]
                 ) -> tuple[InstructionCount, bool]:
    """(count, taken from the cache?): ``count_now()`` only when ``cache`` lacks ``key``."""
    found = cache.get(key) if cache is not None else None
    if found is not None:
        return found, True
    count = count_now()
    if cache is not None:
        cache.put(key, count)
    return count, False
