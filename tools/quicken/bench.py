"""Stage 5: run a benchmark suite on two builds and compare them.

Wall mode runs pyperf with identical settings on both sides: each benchmark's
loop count is calibrated once (on the base) and then fixed for both (a script
that runs several benchmarks runs each in a pyperf worker of its own, with its
own count), and the two sides'
worker processes alternate in ABBA order (base, head, head, base, …) so that
drift on a shared machine, and any advantage of running first, hit both
equally.  Each side's results are one pyperf JSON
file that ``python -m pyperf compare_to base.json head.json`` reads as it is.

Instructions mode counts instructions of each benchmark body with callgrind
(:mod:`quicken.measure`): deterministic, start-up cancelled.

``--pystats`` builds both sides with the ``pystats`` configuration, runs each
benchmark once with ``-X pystats`` and summarizes with CPython's own
``Tools/scripts/summarize_stats.py`` (run by the built interpreter).
"""

from __future__ import annotations

import dataclasses
import fcntl
import json
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyperf

from . import build, codegen, compare, hpt, measure, suite
from . import pyperformance_suite as runner
from . import pystats as pystats_mod
from .config import Config
from .errors import QuickenError
from .hpt import HptResult

Report = Callable[[str], None]
MODES = ("wall", "instructions", "both", "pystats")  # pystats: only the pystats figures
PYSTATS_DIR = Path("/tmp/py_stats")  # where a 3.13 pystats build writes (fixed in specialize.c)


@dataclass
class Side:
    label: str  # what the user asked for: baseline, patched, a commit
    python: Path
    tree: str
    src: Path
    configure: tuple[str, ...] = ()  # the build configuration's identity: configure arguments, fixups
    binary: tuple[int, int, int] = (0, 0, 0)  # (inode, size, mtime_ns) of python when the run began

    def check_unchanged(self, out: Path) -> None:
        """Refuse results that mix two binaries: the slot was rebuilt while it was measured."""
        if _identity(self.python) != self.binary:
            raise QuickenError(f"{self.python} ({self.label}) was rebuilt while it was being measured; "
                               f"the results in {out} mix two builds",
                               "measure again, and do not build that slot while a bench uses it")


def _identity(python: Path) -> tuple[int, int, int]:
    try:
        st = python.stat()
    except OSError:
        return (0, 0, 0)
    return (st.st_ino, st.st_size, st.st_mtime_ns)


@dataclass
class BenchResult:
    directory: Path
    suite: str
    mode: str
    comparison: compare.Comparison | None
    instructions: dict[str, tuple[int, int]] = field(default_factory=dict)  # name -> (base, head)
    # name -> the functions whose per-loop instructions moved most, (function, head - base)
    function_shifts: dict[str, list[tuple[str, int]]] = field(default_factory=dict)
    pystats: Path | None = None
    warnings: list[str] = field(default_factory=list)
    seconds: float = 0.0
    memory: dict[str, runner.Memory] = field(default_factory=dict)  # name -> peak RSS runs of both sides
    hpt: HptResult | None = None
    hpt_headline: HptResult | None = None  # over the web-shaped benchmarks only
    failures: dict[str, str] = field(default_factory=dict)  # benchmark -> why it has no result
    intervals: dict[str, tuple[float, float]] = field(default_factory=dict)  # name -> 95 % CI of the ratio
    # Both interpreter loops (quicken.codegen), or why they could not be read; None: not read.
    layouts: tuple[codegen.Layout, codegen.Layout] | str | None = None


def _side(
    cfg: Config, target: str, config_name: str | None, report: Report, label: str | None = None,
    relink: int = 0,
) -> Side:
    """``target``'s build; with ``relink``, its interpreter relinked at that layout (a probe of
    that many bytes, pads between the loop's blocks, the hot functions in that layout's order:
    :func:`build.relink`), a build of its own identity."""
    res = build.build_one(cfg, target, config_name, report)
    src = res.python.parent.parent / "src"
    identity = tuple(cfg.build_config(res.config).identity)
    python = res.python
    if relink:
        python = build.relink(cfg, res, relink, report)
        inside = ":interior-pads" if build.interior_padded(res, relink) else ""
        identity += (f"relinked:+{relink}B:hot-order{inside}",)
    return Side(label or target, python, res.tree, src, identity, _identity(python))


def _run(command: suite.Command, what: str, log: Path) -> None:
    proc = subprocess.run(list(command.argv), env=dict(command.env), cwd=command.cwd, capture_output=True,
                          text=True, check=False)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command.argv)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
        raise QuickenError(f"{what} failed: {last}", f"full output: {log}")


@dataclass(frozen=True)
class Calibrated:
    """What the calibration run found for one benchmark of a script."""

    name: str
    loops: int  # loops per value, as pyperf calibrated them
    mean: float  # seconds per loop on the calibrated build


def calibrate(bench: suite.Benchmark, python: Path, pyperf_dir: Path, options: suite.PyperfOptions,
              path: Path, log: Path) -> tuple[Calibrated, ...]:
    """Let pyperf calibrate the loop count of every benchmark ``bench``'s script runs, with
    ``options`` (min_time, affinity, …) but one process, one warmup and one value.

    In the order the script runs them: pyperf's worker tasks (a script may run several,
    e.g. deepcopy, deepcopy_reduce and deepcopy_memo, whose loop counts differ 128-fold).
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    path.unlink(missing_ok=True)
    opts = dataclasses.replace(options, processes=1, values=1, warmups=1, loops=None, output=path,
                               append=None)
    _run(suite.bench_command(bench, python, pyperf_dir, opts), f"{bench.name} on {python} (calibration)", log)
    return calibration(path)


def calibration(path: Path) -> tuple[Calibrated, ...]:
    """The loop counts (and means) a calibration run wrote to ``path``, in task order."""
    found = []
    for b in pyperf.BenchmarkSuite.load(str(path)).get_benchmarks():
        loops = b.get_metadata().get("loops")
        if not loops:
            raise QuickenError(f"{path}: pyperf recorded no loop count for {b.get_name()}",
                               "rerun with --loops N")
        found.append(Calibrated(b.get_name(), int(loops), b.mean()))
    if not found:
        raise QuickenError(f"{path}: the calibration run recorded no benchmark", "rerun with --loops N")
    return tuple(found)


def process_commands(
    bench: suite.Benchmark,
    python: Path,
    pyperf_dir: Path,
    options: suite.PyperfOptions,
    calibrated: Sequence[Calibrated] | int,
) -> list[suite.Command]:
    """The pyperf runs that give one worker process's values of every benchmark of ``bench``.

    ``calibrated``: the calibration's loop counts, or one count the user fixed for all.  A
    script that runs one benchmark, or a fixed count: one pyperf run with ``--loops``.  A
    script that runs several: each benchmark in a worker of its own with its own loop count,
    since ``--loops`` applies to all of a script's benchmarks and the fastest one's count
    would make the slowest run for minutes a value.
    """
    if isinstance(calibrated, int) or len(calibrated) == 1:
        loops = calibrated if isinstance(calibrated, int) else calibrated[0].loops
        return [suite.bench_command(bench, python, pyperf_dir, dataclasses.replace(options, loops=loops))]
    return [suite.bench_command(bench, python, pyperf_dir, dataclasses.replace(options, loops=c.loops),
                                worker_task=task)
            for task, c in enumerate(calibrated)]


def alternation(proc: int, base: Side, head: Side) -> tuple[tuple[str, Side], tuple[str, Side]]:
    """Process pair ``proc``: A B, then B A, then A B … (ABBA), so neither side always runs first."""
    pair = (("base", base), ("head", head))
    return pair if proc % 2 == 0 else (pair[1], pair[0])


def wall(
    benches: tuple[suite.Benchmark, ...],
    base: Side,
    head: Side,
    pyperf_dir: Path,
    options: suite.PyperfOptions,
    out: Path,
    report: Report,
) -> tuple[Path, Path]:
    processes = options.processes or 4
    per_process = dataclasses.replace(options, processes=1, output=None, append=None)
    parts: dict[str, list[Path]] = {"base": [], "head": []}
    log = out / "wall.log"
    for i, bench in enumerate(benches, 1):
        loops: Sequence[Calibrated] | int
        if options.loops is None:
            report(f"wall [{i}/{len(benches)}] {bench.name}: calibrate")
            loops = calibrate(bench, base.python, pyperf_dir, per_process,
                              out / "raw" / f"{bench.name}.calibrate.json", log)
        else:
            loops = options.loops
        for side_name in ("base", "head"):
            path = out / "raw" / f"{bench.name}.{side_name}.json"
            path.unlink(missing_ok=True)
            parts[side_name].append(path)
        for proc in range(processes):
            for side_name, side in alternation(proc, base, head):
                report(f"wall [{i}/{len(benches)}] {bench.name}: process {proc + 1}/{processes} {side.label}")
                path = out / "raw" / f"{bench.name}.{side_name}.json"
                opts = dataclasses.replace(per_process, append=path)
                for cmd in process_commands(bench, side.python, pyperf_dir, opts, loops):
                    _run(cmd, f"{bench.name} on {side.label}", log)
    return (suite.merge_results(parts["base"], out / "base.json"),
            suite.merge_results(parts["head"], out / "head.json"))


def instructions(
    benches: tuple[suite.Benchmark, ...],
    base: Side,
    head: Side,
    pyperf_dir: Path,
    out: Path,
    loops: int | None,
    report: Report,
    cache: measure.CountCache | None = None,
    jobs: int = 1,
) -> dict[str, tuple[measure.InstructionCount, measure.InstructionCount]]:
    """Callgrind counts of every benchmark on both sides (name -> (base, head)), ``jobs`` runs at a time.

    Instruction counts do not depend on the machine's load, so unlike wall
    mode they may run in parallel.  Counts found in ``cache`` are not
    measured again (the report says so).
    """
    tasks = [(i, bench, side_name, side) for i, bench in enumerate(benches, 1)
             for side_name, side in (("base", base), ("head", head))]

    def one(task: tuple[int, suite.Benchmark, str, Side]) -> measure.InstructionCount:
        i, bench, side_name, side = task
        n = loops if loops is not None else measure.DEFAULT_LOOPS[bench.kind]
        key = measure.CountCache.key(side.tree, side.configure, bench, n)
        count, cached = measure.cached_count(cache, key, lambda: measure.count_instructions(
            bench, side.python, pyperf_dir, out / "callgrind" / side_name, loops=n))
        report(f"instructions [{i}/{len(benches)}] {bench.name} on {side.label}"
               f"{' (cached)' if cached else ''}: {count.per_loop:,}/loop")
        return count

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, tasks))  # re-raises the first failure
    counts: dict[str, dict[str, measure.InstructionCount]] = {"base": {}, "head": {}}
    for (_, bench, side_name, _), count in zip(tasks, results, strict=True):
        counts[side_name][bench.name] = count
    for side_name in ("base", "head"):
        measure.save_counts(out / f"instructions-{side_name}.json", counts[side_name])
    return {name: (counts["base"][name], counts["head"][name]) for name in counts["base"]}


@contextmanager
def _pystats_dir() -> Iterator[Path]:
    PYSTATS_DIR.mkdir(parents=True, exist_ok=True)
    with open(PYSTATS_DIR.parent / ".quicken-py_stats.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        yield PYSTATS_DIR


def pystats(
    cfg: Config,
    benches: tuple[suite.Benchmark, ...],
    base_target: str,
    head_target: str,
    pyperf_dir: Path,
    out: Path,
    report: Report,
    runner_commands: Mapping[str, Mapping[str, Sequence[str]]] | None = None,
) -> Path:
    """Both pystats builds' statistics over ``benches`` and the benchmarks pyperformance's runner
    installed (``runner_commands``: name -> side -> the command it ran in its venv), compared."""
    stats = out / "pystats"
    stats.mkdir(parents=True, exist_ok=True)
    jsons: list[Path] = []
    per_benchmark: list[dict[str, dict[str, int]]] = []
    sides = [_side(cfg, t, "pystats", report) for t in (base_target, head_target)]
    for side_name, side in zip(("base", "head"), sides, strict=True):
        with _pystats_dir() as raw:
            for old in raw.glob("*.txt"):
                old.unlink()
            runs: list[tuple[str, suite.Command]] = []
            for bench in benches:
                loops = measure.DEFAULT_LOOPS[bench.kind]
                cmd = suite.single_run_command(bench, side.python, pyperf_dir, loops)
                runs.append((bench.name, suite.Command((cmd.argv[0], "-X", "pystats", *cmd.argv[1:]),
                                                       cmd.env, cmd.cwd)))
            for name, commands in sorted((runner_commands or {}).items()):
                runs.append((name, runner.pystats_command(commands[side_name], side.python)))
            own: dict[str, dict[str, int]] = {}
            seen: set[Path] = set()
            for i, (name, cmd) in enumerate(runs, 1):
                report(f"pystats [{i}/{len(runs)}] {name} on {side.label}")
                _run(cmd, f"pystats {name} on {side.label}", stats / "pystats.log")
                written = set(raw.glob("*.txt")) - seen
                seen |= written
                own[name] = pystats_mod.read_raw(sorted(written))
            per_benchmark.append(own)
            if not seen:
                raise QuickenError(f"pystats: {side.label} ({side.python}) left no statistics in {raw}",
                                   "is it a --enable-pystats build, and did something else empty that "
                                   "directory meanwhile?")
            # each benchmark's own counters (failure kinds included), for questions the tables
            # below do not answer
            (stats / f"{side_name}-by-benchmark.json").write_text(
                json.dumps(own, indent=1, sort_keys=True) + "\n")
            summarize = side.src / "Tools" / "scripts" / "summarize_stats.py"
            target = stats / f"{side_name}.json"
            md = subprocess.run([str(side.python), str(summarize), str(raw), "--json-output", str(target)],
                                capture_output=True, text=True, check=False)
            if md.returncode != 0:
                raise QuickenError(f"summarize_stats.py failed for {side.label}: "
                                   f"{(md.stderr.strip().splitlines() or ['?'])[-1]}")
            (stats / f"{side_name}.md").write_text(md.stdout)
            jsons.append(target)
    diff = subprocess.run([str(sides[1].python), str(sides[1].src / "Tools/scripts/summarize_stats.py"),
                           *map(str, jsons)], capture_output=True, text=True, check=False)
    (stats / "compare.md").write_text(diff.stdout)
    whole = [pystats_mod.load(j) for j in jsons]
    base_own, head_own = (pystats_mod.by_benchmark(own, side)
                          for own, side in zip(per_benchmark, whole, strict=True))
    summary = stats / "families.md"
    summary.write_text(pystats_mod.render(*whole) + "\n\n"
                       + "Where the head's unspecialized executions are (each benchmark run once, start-up "
                       "included):\n\n" + pystats_mod.render_by_benchmark(base_own, head_own) + "\n")
    return summary


def run(
    cfg: Config,
    base_target: str = "baseline",
    head_target: str = "patched",
    suite_spec: str = "quick",
    mode: str = "both",
    config_name: str | None = None,
    with_pystats: bool = False,
    output: Path | None = None,
    overrides: dict[str, object] | None = None,
    instruction_loops: int | None = None,
    report: Report = lambda _: None,
    labels: tuple[str, str] | None = None,
    finished_only: bool = False,
    relink: tuple[int, int] = (0, 0),
) -> BenchResult:
    """Compare two builds; ``relink``: bytes of a relinked layout probe on each side (0: none)."""
    if mode not in MODES:
        raise QuickenError(f"--mode {mode}: choose one of {', '.join(MODES)}")
    start = time.monotonic()
    with_pystats = with_pystats or mode == "pystats"
    suites = suite.load_suites(cfg.benchmarks / "suites.toml", micro_dir=cfg.benchmarks / "micro")
    chosen = suite.resolve(suite_spec, suites)
    options = suite.pyperf_options_for(chosen, overrides)
    base_label, head_label = labels or (base_target, head_target)
    side_config = "pystats" if mode == "pystats" else config_name
    base = _side(cfg, base_target, side_config, report, base_label, relink[0])
    head = _side(cfg, head_target, side_config, report, head_label, relink[1])
    pyperf_dir = suite.prepare_pyperf_path(cfg.cache / "bench")
    for side in (base, head):
        suite.check_target_python(side.python, pyperf_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{_slug(chosen.name)}-{_slug(base.label)}-vs-{_slug(head.label)}"
    out = (output or cfg.root / "results" / name).resolve()
    out.mkdir(parents=True, exist_ok=True)
    result = BenchResult(out, chosen.name, mode, None)
    suite_run: runner.SuiteRun | None = None
    if chosen.selection:
        # pystats mode: the runner only installs and probes, on the measured configuration's builds,
        # whose venvs the pystats builds then borrow (runner.pystats_command).
        runner_sides = (base, head) if mode != "pystats" else (
            _side(cfg, base_target, config_name, report, base_label),
            _side(cfg, head_target, config_name, report, head_label))
        sides = [runner.SideSpec(s.label, s.python, runner.venv_home(cfg.cache, s.tree, s.configure), s.tree,
                                 s.configure) for s in runner_sides]
        runner_options = chosen.runner_pyperf.updated(**dict(overrides or {}))
        suite_run = runner.run(chosen.selection, sides[0], sides[1], out, wall=mode in ("wall", "both"),
                               fast=runner_options.fast, rigorous=runner_options.rigorous, report=report,
                               finished_only=finished_only)
        result.failures.update(suite_run.failures)
        result.memory = suite_run.memory
    if mode in ("instructions", "both"):
        bc = cfg.build_config(side_config)
        cache = measure.count_cache(cfg.builds, bc.name)
        counted = instructions(chosen.benchmarks, base, head, pyperf_dir, out, instruction_loops, report,
                               cache=cache, jobs=cfg.job_count) if chosen.benchmarks else {}
        if suite_run is not None:
            counted.update(runner_instructions(suite_run, base, head, out, instruction_loops, report, cache,
                                               cfg.job_count, result.failures, cached_only=finished_only))
        result.instructions = {name: (b.per_loop, h.per_loop) for name, (b, h) in counted.items()}
        result.function_shifts = {name: measure.function_shifts(b, h) for name, (b, h) in counted.items()}
    if mode in ("wall", "both"):
        parts: list[tuple[Path, Path]] = []
        if chosen.benchmarks:
            parts.append(wall(chosen.benchmarks, base, head, pyperf_dir, options, out, report))
        if suite_run is not None and suite_run.base_json and suite_run.head_json:
            parts.append((suite_run.base_json, suite_run.head_json))
        if not parts:
            raise QuickenError(f"no benchmark ran on both sides: {', '.join(sorted(result.failures))}",
                               f"reasons in {out / 'report.md'}")
        base_json = suite.merge_results([p[0] for p in parts], out / "base.json")
        head_json = suite.merge_results([p[1] for p in parts], out / "head.json")
        _add_hpt(result, base_json, head_json)
        result.comparison = compare.compare_files(
            base_json, head_json, base_label=base.label, head_label=head.label,
            base_instructions={k: v[0] for k, v in result.instructions.items()} or None,
            head_instructions={k: v[1] for k, v in result.instructions.items()} or None,
        )
        for row in result.comparison.rows:
            if row.unstable:
                result.warnings.append(f"{row.name}: unstable ({'; '.join(row.unstable_reasons)}), "
                                       "not a finding")
    for side in (base, head):
        side.check_unchanged(out)
    if with_pystats:
        result.pystats = pystats(cfg, chosen.benchmarks, base_target, head_target, pyperf_dir, out, report,
                                 runner_commands=suite_run.commands if suite_run is not None else None)
    result.seconds = time.monotonic() - start
    result.layouts = read_layouts(base, head)
    write_report(result, base, head)
    return result


def runner_instructions(
    suite_run: runner.SuiteRun,
    base: Side,
    head: Side,
    out: Path,
    loops: int | None,
    report: Report,
    cache: measure.CountCache | None,
    jobs: int,
    failures: dict[str, str],
    cached_only: bool = False,
) -> dict[str, tuple[measure.InstructionCount, measure.InstructionCount]]:
    """Callgrind counts of the benchmarks pyperformance's runner installed: its command, in its venv.

    Progress lines count the benchmarks not in the count cache and give an ETA; the shortest
    loops (as pyperformance timed them) are counted first, so that an interrupted run has
    counted the most benchmarks; ``cached_only`` (``--finished-only``) counts nothing and lists
    the uncounted ones with the reason.
    """
    n = loops if loops is not None else measure.DEFAULT_LOOPS["pyperformance"]
    cost = {name: runner.loop_seconds(suite_run.directory, name) for name in suite_run.done}
    order = sorted(suite_run.done, key=lambda name: (cost[name] is None, cost[name] or 0.0))
    tasks = [(name, side_name, side) for name in order
             for side_name, side in (("base", base), ("head", head))]

    def key(name: str, side_name: str, side: Side) -> str:
        command = suite_run.commands[name][side_name]
        return (measure.CountCache.key(side.tree, side.configure, runner.as_benchmark(name, command), n)
                + f"|venv {runner.venv_name(command)}")

    keys = {(name, side_name): key(name, side_name, side) for name, side_name, side in tasks}
    cached = cache.get_many(keys.values()) if cache is not None else {}
    to_count = sum(1 for k in keys.values() if cached.get(k) is None)
    eta, lock = runner.Eta(to_count), threading.Lock()

    def one(task: tuple[str, str, Side]) -> measure.InstructionCount | str:
        name, side_name, side = task
        found = cached.get(keys[name, side_name])
        if found is not None:
            report(f"instructions {name} on {side.label} (cached): {found.per_loop:,}/loop")
            return found
        if cached_only:
            return f"instructions on {side.label}: not counted yet (run without --finished-only to count it)"
        command = suite_run.commands[name][side_name]
        started = time.monotonic()
        try:
            count, _ = measure.cached_count(cache, keys[name, side_name], lambda: measure.count_instructions(
                runner.as_benchmark(name, command), side.python, Path(), out / "callgrind" / side_name,
                loops=n, command_for=lambda k: runner.worker_command(command, k)))
        except QuickenError as exc:
            return f"instructions on {side.label}: {exc.message}"
        with lock:
            eta.add(time.monotonic() - started)
            progress = f"[{eta.finished}/{to_count}] {eta.describe(to_count - eta.finished, jobs)}"
        report(f"instructions {name} on {side.label}: {count.per_loop:,}/loop ({progress})")
        return count

    with ThreadPoolExecutor(max_workers=max(1, jobs)) as pool:
        results = list(pool.map(one, tasks))
    counts: dict[str, dict[str, measure.InstructionCount]] = {"base": {}, "head": {}}
    for (name, side_name, _), got in zip(tasks, results, strict=True):
        if isinstance(got, str):
            failures.setdefault(name, got)
        else:
            counts[side_name][name] = got
    for side_name in ("base", "head"):
        measure.save_counts(out / f"instructions-pyperformance-{side_name}.json", counts[side_name])
    return {name: (counts["base"][name], counts["head"][name]) for name in suite_run.done
            if name in counts["base"] and name in counts["head"]}


def _add_hpt(result: BenchResult, base_json: Path, head_json: Path) -> None:
    """HPT reliability over every benchmark and over the web-shaped ones; 95 % intervals of the ratios."""
    b, h = compare.load_results(base_json), compare.load_results(head_json)
    pairs = hpt.pairs_from_suites(b, h)
    pairs = {k: v for k, v in pairs.items() if b.get_benchmark(k).get_unit() == "second"}
    result.hpt = hpt.hpt(pairs)
    web = {k: v for k, v in pairs.items() if k in runner.headline(list(pairs))}
    result.hpt_headline = hpt.hpt(web) if len(web) >= 2 else None
    for name in pairs:
        interval = compare.ratio_interval(b.get_benchmark(name), h.get_benchmark(name))
        if interval is not None:
            result.intervals[name] = interval


def _slug(target: str) -> str:
    return "".join(c if c.isalnum() or c in "-_." else "-" for c in target)[:40]


def instruction_table(result: BenchResult) -> list[str]:
    lines = ["| benchmark | base instructions/loop | head instructions/loop | change |",
             "| --- | ---: | ---: | ---: |"]
    ratios = []
    for name, (b, h) in result.instructions.items():
        ratios.append(h / b)
        lines.append(f"| {name} | {b:,} | {h:,} | {(h / b - 1) * 100:+.1f}% |")
    gm = compare.geometric_mean(ratios)
    if gm is not None:
        lines.append(f"| **geometric mean** | | | {(gm - 1) * 100:+.1f}% |")
    return lines


#: Benchmarks whose instruction count moved by at least this fraction get a
#: "where" line in the report.
SHIFT_REPORT_THRESHOLD = 0.002


def describe_shifts(shifts: list[tuple[str, int]]) -> str:
    """``_PyEval_EvalFrameDefault +180, _PyType_Lookup -12`` (per loop)."""
    return ", ".join(f"{name} {delta:+,}" for name, delta in shifts) or "no function moved"


def function_shift_section(result: BenchResult) -> list[str]:
    shifts = result.function_shifts
    rows = [f"| {name} | {(h / b - 1) * 100:+.2f}% | {describe_shifts(shifts.get(name, []))} |"
            for name, (b, h) in result.instructions.items()
            if b and abs(h / b - 1) >= SHIFT_REPORT_THRESHOLD]
    if not rows:
        return []
    return ["## Where the instructions changed", "",
            "Self instructions per loop of the functions that moved most (head - base).", "",
            "| benchmark | change | functions |", "| --- | ---: | --- |", *rows, ""]


def summary_section(result: BenchResult) -> list[str]:
    """The headline: geometric means, HPT, and the web-shaped benchmarks by name."""
    lines: list[str] = []
    comparison = result.comparison
    if comparison is not None and comparison.geometric_mean is not None:
        gm = comparison.geometric_mean
        lines.append(f"- geometric mean (time, {len(comparison.rows)} benchmarks): {1 / gm:.3f}x "
                     f"({compare.format_ratio(gm)})")
    if result.instructions:
        igm = compare.geometric_mean(h / b for b, h in result.instructions.values() if b > 0)
        if igm is not None:
            lines.append(f"- geometric mean (instructions, {len(result.instructions)} benchmarks): "
                         f"{(igm - 1) * 100:+.2f}%")
    mem = memory_geometric_mean(result)
    if mem is not None:
        apart = [n for n, m in result.memory.items() if m.apart]
        lines.append(f"- geometric mean (peak RSS, median of {runner.MEMORY_RUNS} runs per side, "
                     f"{len(result.memory)} benchmarks): {(mem - 1) * 100:+.2f}%; every run apart: "
                     f"{', '.join(f'{n} {memory_change(result.memory[n])}' for n in apart) or 'none'}")
    if result.hpt is not None:
        lines.append(f"- HPT: {result.hpt.describe()}")
    if result.hpt_headline is not None:
        lines.append(f"- HPT, web-shaped benchmarks only: {result.hpt_headline.describe()}")
    if result.failures:
        lines.append(f"- {len(result.failures)} benchmark(s) without a result (listed below with the reason)")
    if comparison is not None:
        named = set(runner.headline([r.name for r in comparison.rows]))
        web = [row for row in comparison.rows if row.name in named]
        if web:
            lines += ["", "Web-shaped workloads (templates, ORMs, parsers, serializers):", "",
                      "| benchmark | change | significant | 95 % interval of the time ratio | peak RSS |",
                      "| --- | ---: | --- | --- | ---: |"]
            for row in web:
                iv = result.intervals.get(row.name)
                peak = result.memory.get(row.name)
                lines.append(f"| {row.name} | {row.describe_time()} | {'yes' if row.significant else 'no'} | "
                             f"{'' if iv is None else f'{iv[0]:.3f} - {iv[1]:.3f}'} | "
                             f"{'' if peak is None else memory_change(peak)} |")
    return ["## Summary", "", *lines, ""] if lines else []


def memory_change(memory: runner.Memory) -> str:
    base, head = memory.medians
    return f"{(head / base - 1) * 100:+.1f}%"


def memory_geometric_mean(result: BenchResult) -> float | None:
    return compare.geometric_mean(h / b for b, h in (m.medians for m in result.memory.values()) if b > 0)


def memory_section(result: BenchResult) -> list[str]:
    if not result.memory:
        return []
    lines = [f"## Memory (peak RSS of the worker, one loop, {runner.MEMORY_RUNS} runs per side)", "",
             "Medians; *apart*: every run of one side above every run of the other. The runs are back",
             "to back: the machine's state can move all of them by megabytes (one benchmark measured",
             "+18 % and later 0 %), so re-measure an apart benchmark before calling it a change.", "",
             "| benchmark | base | head | change | runs (MiB) base / head | apart |",
             "| --- | ---: | ---: | ---: | --- | --- |"]

    def mib(values: Sequence[float]) -> str:
        return " ".join(f"{v / 2**20:.1f}" for v in values)

    for name, m in result.memory.items():
        b, h = m.medians
        lines.append(f"| {name} | {b / 2**20:.1f} MiB | {h / 2**20:.1f} MiB | {memory_change(m)} | "
                     f"{mib(m.base)} / {mib(m.head)} | {'yes' if m.apart else 'no'} |")
    gm = memory_geometric_mean(result)
    if gm is not None:
        lines.append(f"| **geometric mean** | | | {(gm - 1) * 100:+.2f}% | | |")
    return [*lines, ""]


def read_layouts(base: Side, head: Side) -> tuple[codegen.Layout, codegen.Layout] | str:
    """Both interpreter loops (:mod:`quicken.codegen`), or why they could not be read: a
    report, never a crash."""
    try:
        return codegen.read_interpreter(base.python), codegen.read_interpreter(head.python)
    except (QuickenError, ValueError) as exc:
        return str(exc)


def codegen_section(result: BenchResult, base: Side, head: Side) -> list[str]:
    """How GCC laid out both interpreter loops: a wall-clock result that disagrees with the
    instruction counts is often one of its whole-function decisions."""
    title = ["## Interpreter loop layout", ""]
    if not isinstance(result.layouts, tuple):
        return [*title, f"not available: {result.layouts or 'not read'}", ""]
    return [*title, "```", codegen.render(*result.layouts, (base.label, head.label)), "```", ""]


def write_report(result: BenchResult, base: Side, head: Side) -> None:
    md = [f"# quicken bench: {result.suite}", "",
          f"- base: `{base.label}` (tree {base.tree[:12]}) `{base.python}`",
          f"- head: `{head.label}` (tree {head.tree[:12]}) `{head.python}`",
          f"- mode: {result.mode}; took {result.seconds:.0f} s", ""]
    md += summary_section(result)
    if result.comparison is not None:
        md += [compare.render_markdown(result.comparison), ""]
        try:
            plot = compare.plot_ratios(result.comparison, result.directory / "ratios.png",
                                       title=f"{head.label} vs {base.label} ({result.suite})",
                                       intervals=result.intervals)
            md += [f"![ratios]({plot.name})", ""]
        except QuickenError as exc:
            result.warnings.append(f"plot: {exc.message}")
    if result.instructions and (result.comparison is None or any(
            result.comparison.row(n) is None for n in result.instructions)):
        md += ["## Instructions per loop", "", *instruction_table(result), ""]
    md += memory_section(result)
    md += function_shift_section(result)
    md += codegen_section(result, base, head)
    if result.failures:
        md += ["## Benchmarks without a result", "",
               *(f"- `{name}`: {why}" for name, why in sorted(result.failures.items())), ""]
    if result.warnings:
        md += ["## Warnings", ""] + [f"- {w}" for w in result.warnings] + [""]
    if result.pystats is not None:
        md += ["## pystats (specialized share of each family's executions)", "",
               result.pystats.read_text(), "",
               "CPython's own comparison: [pystats/compare.md](pystats/compare.md)", ""]
    (result.directory / "report.md").write_text("\n".join(md))
    (result.directory / "summary.json").write_text(json.dumps({
        "suite": result.suite, "mode": result.mode, "seconds": round(result.seconds, 1),
        "base": {"label": base.label, "tree": base.tree}, "head": {"label": head.label, "tree": head.tree},
        "instructions": result.instructions,
        "function_shifts": result.function_shifts,
        "geometric_mean": result.comparison.geometric_mean if result.comparison else None,
        "hpt": None if result.hpt is None else {"reliability": result.hpt.reliability,
                                                "bounds": {str(k): v for k, v in result.hpt.bounds.items()}},
        "memory": {n: {"base": m.base, "head": m.head, "apart": m.apart} for n, m in result.memory.items()},
        "memory_geometric_mean": memory_geometric_mean(result),
        "failures": result.failures,
        "warnings": result.warnings,
    }, indent=1) + "\n")


def render_text(result: BenchResult) -> str:
    lines = []
    if result.comparison is not None:
        lines.append(compare.render_text(result.comparison))
    elif result.instructions:
        lines.append("\n".join(instruction_table(result)))
    lines += [line.removeprefix("- ") for line in summary_section(result)[2:] if line.startswith("- ")]
    lines += [f"no result: {name}: {why}" for name, why in sorted(result.failures.items())]
    lines += [f"warning: {w}" for w in result.warnings]
    lines.append(f"results: {result.directory} (report.md, base.json/head.json for pyperf compare_to)")
    return "\n".join(lines)
