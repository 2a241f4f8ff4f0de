"""Stage 5: run a benchmark suite on two builds and compare them.

Wall mode runs pyperf with identical settings on both sides: the loop count
is calibrated once (on the base) and then fixed for both, and the two sides'
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
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

import pyperf

from . import build, compare, measure, suite
from . import pystats as pystats_mod
from .config import Config
from .errors import QuickenError

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


def _side(
    cfg: Config, target: str, config_name: str | None, report: Report, label: str | None = None
) -> Side:
    res = build.build_one(cfg, target, config_name, report)
    src = res.python.parent.parent / "src"
    return Side(label or target, res.python, res.tree, src, tuple(cfg.build_config(res.config).identity),
                _identity(res.python))


def _run(command: suite.Command, what: str, log: Path) -> None:
    proc = subprocess.run(list(command.argv), env=dict(command.env), cwd=command.cwd, capture_output=True,
                          text=True, check=False)
    with open(log, "a", encoding="utf-8") as out:
        out.write(f"$ {' '.join(command.argv)}\n{proc.stdout}{proc.stderr}\n")
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or proc.stdout.strip().splitlines() or ["no output"])[-1]
        raise QuickenError(f"{what} failed: {last}", f"full output: {log}")


def _calibrated_loops(path: Path) -> int:
    loaded = pyperf.BenchmarkSuite.load(str(path))
    loops = [b.get_metadata().get("loops") for b in loaded.get_benchmarks()]
    known = [int(n) for n in loops if n]
    if not known:
        raise QuickenError(f"{path}: pyperf recorded no loop count", "rerun with --loops N")
    return max(known)


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
        loops = options.loops
        if loops is None:
            report(f"wall [{i}/{len(benches)}] {bench.name}: calibrate")
            calib = out / "raw" / f"{bench.name}.calibrate.json"
            calib.parent.mkdir(parents=True, exist_ok=True)
            calib.unlink(missing_ok=True)
            cmd = suite.bench_command(bench, base.python, pyperf_dir,
                                      dataclasses.replace(per_process, values=1, warmups=1, output=calib))
            _run(cmd, f"{bench.name} on {base.label} (calibration)", log)
            loops = _calibrated_loops(calib)
        for side_name in ("base", "head"):
            path = out / "raw" / f"{bench.name}.{side_name}.json"
            path.unlink(missing_ok=True)
            parts[side_name].append(path)
        for proc in range(processes):
            for side_name, side in alternation(proc, base, head):
                report(f"wall [{i}/{len(benches)}] {bench.name}: process {proc + 1}/{processes} {side.label}")
                path = out / "raw" / f"{bench.name}.{side_name}.json"
                opts = dataclasses.replace(per_process, loops=loops, append=path)
                _run(suite.bench_command(bench, side.python, pyperf_dir, opts),
                     f"{bench.name} on {side.label}", log)
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
) -> Path:
    stats = out / "pystats"
    stats.mkdir(parents=True, exist_ok=True)
    jsons: list[Path] = []
    sides = [_side(cfg, t, "pystats", report) for t in (base_target, head_target)]
    for side_name, side in zip(("base", "head"), sides, strict=True):
        with _pystats_dir() as raw:
            for old in raw.glob("*.txt"):
                old.unlink()
            for i, bench in enumerate(benches, 1):
                report(f"pystats [{i}/{len(benches)}] {bench.name} on {side.label}")
                loops = measure.DEFAULT_LOOPS[bench.kind]
                cmd = suite.single_run_command(bench, side.python, pyperf_dir, loops)
                argv = (cmd.argv[0], "-X", "pystats", *cmd.argv[1:])
                _run(suite.Command(argv, cmd.env, cmd.cwd), f"pystats {bench.name} on {side.label}",
                     stats / "pystats.log")
            if not any(raw.glob("*.txt")):
                raise QuickenError(f"pystats: {side.label} ({side.python}) left no statistics in {raw}",
                                   "is it a --enable-pystats build, and did something else empty that "
                                   "directory meanwhile?")
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
    summary = stats / "families.md"
    summary.write_text(pystats_mod.render(pystats_mod.load(jsons[0]), pystats_mod.load(jsons[1])) + "\n")
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
) -> BenchResult:
    if mode not in MODES:
        raise QuickenError(f"--mode {mode}: choose one of {', '.join(MODES)}")
    start = time.monotonic()
    with_pystats = with_pystats or mode == "pystats"
    suites = suite.load_suites(cfg.benchmarks / "suites.toml", micro_dir=cfg.benchmarks / "micro")
    chosen = suite.resolve(suite_spec, suites)
    options = suite.pyperf_options_for(chosen, overrides)
    base_label, head_label = labels or (base_target, head_target)
    side_config = "pystats" if mode == "pystats" else config_name
    base = _side(cfg, base_target, side_config, report, base_label)
    head = _side(cfg, head_target, side_config, report, head_label)
    pyperf_dir = suite.prepare_pyperf_path(cfg.cache / "bench")
    for side in (base, head):
        suite.check_target_python(side.python, pyperf_dir)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    name = f"{stamp}-{_slug(chosen.name)}-{_slug(base.label)}-vs-{_slug(head.label)}"
    out = (output or cfg.root / "results" / name).resolve()
    out.mkdir(parents=True, exist_ok=True)
    result = BenchResult(out, chosen.name, mode, None)
    if mode in ("instructions", "both"):
        bc = cfg.build_config(side_config)
        counted = instructions(chosen.benchmarks, base, head, pyperf_dir, out, instruction_loops, report,
                               cache=measure.count_cache(cfg.builds, bc.name), jobs=cfg.job_count)
        result.instructions = {name: (b.per_loop, h.per_loop) for name, (b, h) in counted.items()}
        result.function_shifts = {name: measure.function_shifts(b, h) for name, (b, h) in counted.items()}
    if mode in ("wall", "both"):
        base_json, head_json = wall(chosen.benchmarks, base, head, pyperf_dir, options, out, report)
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
        result.pystats = pystats(cfg, chosen.benchmarks, base_target, head_target, pyperf_dir, out, report)
    result.seconds = time.monotonic() - start
    write_report(result, base, head)
    return result


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


def write_report(result: BenchResult, base: Side, head: Side) -> None:
    md = [f"# quicken bench: {result.suite}", "",
          f"- base: `{base.label}` (tree {base.tree[:12]}) `{base.python}`",
          f"- head: `{head.label}` (tree {head.tree[:12]}) `{head.python}`",
          f"- mode: {result.mode}; took {result.seconds:.0f} s", ""]
    if result.comparison is not None:
        md += [compare.render_markdown(result.comparison), ""]
        try:
            plot = compare.plot_ratios(result.comparison, result.directory / "ratios.png",
                                       title=f"{head.label} vs {base.label} ({result.suite})")
            md += [f"![ratios]({plot.name})", ""]
        except QuickenError as exc:
            result.warnings.append(f"plot: {exc.message}")
    elif result.instructions:
        md += [*instruction_table(result), ""]
    md += function_shift_section(result)
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
        "warnings": result.warnings,
    }, indent=1) + "\n")


def render_text(result: BenchResult) -> str:
    if result.comparison is not None:
        text = compare.render_text(result.comparison)
    else:
        text = "\n".join(instruction_table(result))
    lines = [text]
    lines += [f"warning: {w}" for w in result.warnings]
    lines.append(f"results: {result.directory} (report.md, base.json/head.json for pyperf compare_to)")
    return "\n".join(lines)
