"""Stage 6: the per-patch validation gate and its records.

For each patch, the build of the series up to the previous patch (base) is
compared with the build including the patch (head) on the patch's target
benchmarks plus a suite (default ``quick``), in wall and instructions mode;
the patch's declared CPython tests run on the head build.  Only a patch with a fresh,
passing ``quicken verify`` record is measured (the record's digest goes into the
verdict): speed counts only for a patch that behaves like stock CPython.  :mod:`quicken.gate`
judges the numbers, after every wall result that disagrees with the instruction
counts (a non-target's slowdown, a target's missing gain) has been measured again
at other code layouts (:class:`calibrate.LayoutRecheck`); a non-target slowdown that
holds across them while its instructions stay flat fails only if a second session of the
same layouts reproduces it (:class:`calibrate.Reproduced`).  A whole-loop patch
(``Quicken-Scope: loop``) has no targets: every benchmark of the suite is
measured at those layouts, and the gate's suite rules judge it.  The verdict
is added to ``patches/<patch>.validation.json`` (:mod:`quicken.records`), bound to
what it judged: the patch file's sha256, the overlay files it owns, the code
below it, the pin, the build configuration and the gate's settings.  Any change
to those makes the record stale; the machine is provenance only, and results
from several machines accumulate in the record (``--instructions-only``
re-checks the deterministic half, the instruction counts, on this machine).

Thresholds: ``[validate]`` in quicken.toml (``threshold``, ``max-wall-slowdown``,
``max-instruction-slowdown``, ``suite``), overridden per patch by the
``Quicken-Threshold: 15%`` trailer.  With ``--pystats``, the specialized share of
each family named by ``Quicken-Family:`` must rise.

Next to the verdict, validate names the whole-function decisions GCC made
differently for the two interpreter loops (:func:`codegen.decisions`): a
non-target that slows down, or a gain on every benchmark, may be the
compiler's register allocation flipping rather than the patch.  The gate
does not excuse them (a user's build pays them); the note says where to look.
"""

from __future__ import annotations

import hashlib
import subprocess
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import __version__, bench, calibrate, codegen, compare, gate, pystats, records, suite, verify
from .config import Config
from .errors import QuickenError
from .series import Patch, Series
from .series import load as load_series
from .worktree import WorkTree

Report = Callable[[str], None]


@dataclass(frozen=True)
class Outcome:
    patch: str
    verdict: gate.Verdict
    record: Path
    results: Path
    where: tuple[str, ...] = ()  # for each instruction-count failure, the functions that moved
    layouts: tuple[str, ...] = ()  # for each re-measured benchmark, its ratio at every layout
    codegen: tuple[str, ...] = ()  # GCC's whole-function decisions that differ from base to head


def codegen_notes(result: bench.BenchResult) -> tuple[str, ...]:
    """:func:`codegen.decisions` of the two interpreter loops the bench run read."""
    if result.layouts is None:
        return ()
    if isinstance(result.layouts, str):
        return (f"interpreter loops not read: {result.layouts}",)
    return tuple(codegen.decisions(*result.layouts))


def verdict_text(verdict: gate.Verdict, **notes: tuple[str, ...]) -> str:
    """``verdict.txt``: the verdict, then each kind of note (``where``, ``layouts``, ``codegen``)."""
    return verdict.render() + "".join(
        f"  {kind}: {line}\n" for kind, lines in notes.items() for line in lines)


def explain_instruction_failures(verdict: gate.Verdict, shifts: dict[str, list[tuple[str, int]]]
                                 ) -> tuple[str, ...]:
    """``bench: fn +N, fn -M`` for each benchmark whose instruction count failed a rule."""
    failed = dict.fromkeys(r.benchmark for r in verdict.failures
                           if r.benchmark is not None and r.instructions_ratio is not None
                           and "instructions" in r.rule)
    return tuple(f"{name}: {bench.describe_shifts(shifts.get(name, []))}" for name in failed)


def record_path(cfg: Config, patch: Patch) -> Path:
    return records.path_for(cfg.patches, patch.name, "validation")


def machine() -> dict[str, object]:
    return records.Machine.here().to_json()


def below(cfg: Config, series: Series, patch: Patch) -> str:
    """Digest of the code a patch is applied on: the diffs and overlay files of the patches before it.

    Their messages and trailers are left out, so editing an earlier patch's
    description does not make later verdicts stale; any change to its code does.
    """
    h = hashlib.sha256()
    for earlier in series.patches[: [p.name for p in series.patches].index(patch.name)]:
        h.update(earlier.diff.encode("utf-8", "surrogateescape"))
        for rel in series.overlay_of(earlier):
            h.update(rel.encode() + b"\0" + (cfg.overlay / rel).read_bytes())
    return h.hexdigest()


def content(cfg: Config, series: Series, patch: Patch) -> dict[str, object]:
    """What every record of ``patch`` is bound to: the patch, its overlay files, the code below, the pin."""
    overlay = {
        rel: hashlib.sha256((cfg.overlay / rel).read_bytes()).hexdigest() for rel in series.overlay_of(patch)
    }
    return {
        "patch": patch.name,
        "code_sha256": patch.code_digest,
        "overlay": overlay,
        "below": below(cfg, series, patch),
        "pin": {"version": cfg.pin.version, "sha256": cfg.pin.sha256},
    }


def binding(cfg: Config, series: Series, patch: Patch, config_name: str) -> dict[str, object]:
    """What a verdict is bound to (never the machine): any change here makes the record stale."""
    bc = cfg.build_config(config_name)
    th = thresholds(cfg, patch)
    return content(cfg, series, patch) | {
        "config": {"name": bc.name, "configure": list(bc.configure)}
        | ({"fixups": bc.fixup_idents} if bc.fixups else {}),
        "settings": {"suite": cfg.validate.suite, "threshold": th.min_target_speedup,
                     "max_wall_slowdown": th.max_wall_slowdown,
                     "max_instruction_slowdown": th.max_instruction_slowdown},
    }


#: Binding keys in the order a stale record names them.
STALE_LABELS = (("code_sha256", "patch changed (diff or gate trailers)"),
                ("overlay", "overlay files changed"),
                ("below", "the patches below it changed"), ("pin", "pin changed"),
                ("config", "build configuration changed"), ("settings", "the gate's settings changed"))
#: Binding keys that schema-1 records lack.
OPTIONAL = ("settings",)


def standing(cfg: Config, series: Series, patch: Patch) -> records.Standing:
    """The patch's validation record judged against its content (valid on any machine)."""
    path = record_path(cfg, patch)
    try:
        recorded = records.load(path, "validation")
    except (ValueError, TypeError, KeyError):
        recorded = None  # records.standing says it is unreadable
    config_name = str(((recorded.binding.get("config") if recorded else None) or {}).get("name", ""))
    if recorded is not None and config_name not in cfg.build_configs:
        return records.Standing(records.State.STALE, f"configuration {config_name!r} no longer exists",
                                recorded)
    current = binding(cfg, series, patch, config_name or cfg.build_config(None).name)
    return records.standing(path, "validation", current, STALE_LABELS, OPTIONAL, patch.digest)


def thresholds(cfg: Config, patch: Patch) -> gate.Thresholds:
    settings = cfg.validate
    threshold = settings.threshold
    if patch.threshold is not None:
        threshold = patch.threshold
    return gate.Thresholds(
        min_target_speedup=threshold,
        min_target_instruction_reduction=threshold,
        max_wall_slowdown=settings.max_wall_slowdown,
        max_instruction_slowdown=settings.max_instruction_slowdown,
    )


def run_tests(python: Path, tests: list[str], log: Path, jobs: int) -> gate.TestResults:
    if not tests:
        return gate.TestResults(False, "the patch declares no Quicken-Tests")
    argv = [str(python), "-m", "test", f"-j{jobs}", "--timeout=900", *tests]
    proc = subprocess.run(argv, capture_output=True, text=True, check=False, cwd=python.parent)
    log.write_text(f"$ {' '.join(argv)}\n{proc.stdout}\n{proc.stderr}")
    result = next((ln.strip() for ln in reversed(proc.stdout.splitlines()) if ln.startswith("Result:")),
                  f"exit status {proc.returncode}")
    return gate.TestResults(proc.returncode == 0, f"{' '.join(tests)}: {result}")


def _base_and_head(cfg: Config, series: Series, patch: Patch) -> tuple[str, str, str]:
    wt = WorkTree(cfg)
    state = wt.state()
    wt.require_applied(state, series.digest, "run: quicken apply")
    commits = {p.name: p.commit for p in state.patches}
    names = [p.name for p in series.patches]
    index = names.index(patch.name)
    if index == 0:
        return state.pristine, commits[patch.name], f"pin-{cfg.pin.version}"
    return commits[names[index - 1]], commits[patch.name], Path(names[index - 1]).stem


def run(
    cfg: Config,
    names: list[str] | None = None,
    suite_spec: str | None = None,
    config_name: str | None = None,
    overrides: dict[str, object] | None = None,
    skip_tests: bool = False,
    with_pystats: bool = False,
    report: Report = lambda _: None,
    instructions_only: bool = False,
) -> list[Outcome]:
    """Validate ``names`` (default: every patch); each verdict is added to the patch's record.

    ``instructions_only``: re-check a record's instruction evidence on this
    machine (callgrind counts of the same benchmarks, judged by the gate's
    instruction rules), in minutes; the wall evidence is kept as it is.
    """
    series = load_series(cfg)
    chosen = [series.patch(n) for n in names] if names else list(series.patches)
    if not chosen:
        raise QuickenError("the series is empty: nothing to validate")
    bc = cfg.build_config(config_name)
    outcomes: list[Outcome] = []
    for patch in chosen:
        # the slots of one patch's builds (their relinked layouts inside) are free for the next patch's bound
        with bench.build.holding():
            outcomes.append(_instructions_only(cfg, series, patch, bc.name, report) if instructions_only
                            else _validate_one(cfg, series, patch, bc.name, suite_spec, overrides, skip_tests,
                                               with_pystats, report))
    return outcomes


def _validate_one(cfg: Config, series: Series, patch: Patch, config_name: str, suite_spec: str | None,
                  overrides: dict[str, object] | None, skip_tests: bool, with_pystats: bool,
                  report: Report) -> Outcome:
    verification = verify.require(cfg, series, patch)
    base, head, base_label = _base_and_head(cfg, series, patch)
    spec = ",".join(dict.fromkeys([*patch.targets, suite_spec or cfg.validate.suite]))
    report(f"validate {patch.name}: {spec}")
    results = cfg.root / "results" / f"validate-{Path(patch.name).stem}-{time.strftime('%Y%m%d-%H%M%S')}"
    result = bench.run(cfg, base, head, spec, "both", config_name, overrides=overrides, report=report,
                       output=results, labels=(base_label, Path(patch.name).stem),
                       with_pystats=with_pystats)
    tests = None
    if not skip_tests:
        python = bench.build.build_one(cfg, head, config_name, report).python
        report(f"validate {patch.name}: python -m test {' '.join(patch.tests)}")
        jobs = cfg.job_count
        tests = run_tests(python, patch.tests, result.directory / "tests.log", jobs)
    assert result.comparison is not None
    families = patch.listed("Quicken-Family")
    deltas = None
    if with_pystats:
        deltas = pystats.deltas(pystats.load(result.directory / "pystats" / "base.json"),
                                pystats.load(result.directory / "pystats" / "head.json"), families)
    rows, rechecked = recheck_across_layouts(
        cfg, result, (base, head), (base_label, Path(patch.name).stem), config_name, patch, overrides, report
    )
    verdict = gate.evaluate(rows, patch.targets, thresholds(cfg, patch),
                            tests=tests, pystats_deltas=deltas,
                            required_pystats=[f"{f} specialized share" for f in families]
                            if with_pystats else (), whole_loop=patch.whole_loop,
                            placement=patch.placement)
    notes = codegen_notes(result)
    details = {
        "verification": verification,
        "verdict": {"passed": verdict.passed, "rules": [str(r) for r in verdict.rules],
                    "failures": [str(r) for r in verdict.failures]},
        "base": {"commit": base}, "head": {"commit": head},
        "suite": spec,
        # the pyperf options given on the command line (empty: each suite's own), so that a
        # reader can tell how many worker processes a wall verdict rests on
        "sampling": dict(overrides or {}),
        "tests": None if tests is None else {"passed": tests.passed, "summary": tests.summary},
        "skipped_tests": skip_tests,
        "pystats": deltas,
        "benchmarks": [_row(r) for r in rows],
        "rechecked": [check.as_record() for check in rechecked],
        "function_shifts": result.function_shifts,
        "codegen": list(notes),
        "geometric_mean": result.comparison.geometric_mean,
        "instructions_geometric_mean": result.comparison.instructions_geometric_mean,
        "results": str(result.directory),
        "date": _now(),
        "quicken": __version__,
    }
    path = _write(cfg, series, patch, config_name, "full", verdict, result.directory, details)
    where = explain_instruction_failures(verdict, result.function_shifts)
    layouts = tuple(check.describe() for check in rechecked)
    (result.directory / "verdict.txt").write_text(
        verdict_text(verdict, where=where, layouts=layouts, codegen=notes))
    return Outcome(patch.name, verdict, path, result.directory, where, layouts, notes)


def _now() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())


def _write(cfg: Config, series: Series, patch: Patch, config_name: str, mode: str, verdict: gate.Verdict,
           results: Path, details: dict[str, object] | None) -> Path:
    """Add this run's verdict to the patch's record (a new record if the content changed)."""
    path = record_path(cfg, patch)
    run_ = records.Run(records.Machine.here(), _now(), mode, verdict.passed,
                       tuple(str(r) for r in verdict.failures), __version__, str(results))
    records.append_run(path, "validation", binding(cfg, series, patch, config_name), run_, details, OPTIONAL,
                       patch.digest)
    return path


def _instructions_only(cfg: Config, series: Series, patch: Patch, config_name: str,
                       report: Report) -> Outcome:
    st = standing(cfg, series, patch)
    if st.record is None or st.state in (records.State.NEVER, records.State.STALE):
        raise QuickenError(f"{patch.name}: no current validation record to re-check ({st.describe()})",
                           f"run a full validation first: quicken validate {Path(patch.name).stem}")
    base, head, base_label = _base_and_head(cfg, series, patch)
    spec = str(st.record.details.get("suite") or ",".join([*patch.targets, cfg.validate.suite]))
    report(f"validate {patch.name}: instructions only, {spec}")
    stamp = time.strftime("%Y%m%d-%H%M%S")
    results = cfg.root / "results" / f"validate-instructions-{Path(patch.name).stem}-{stamp}"
    result = bench.run(cfg, base, head, spec, "instructions", config_name, report=report, output=results,
                       labels=(base_label, Path(patch.name).stem))
    verdict = gate.evaluate_instructions(result.instructions, patch.targets, thresholds(cfg, patch),
                                         whole_loop=patch.whole_loop, placement=patch.placement)
    where = explain_instruction_failures(verdict, result.function_shifts)
    notes = codegen_notes(result)
    (result.directory / "verdict.txt").write_text(verdict_text(verdict, where=where, codegen=notes))
    path = _write(cfg, series, patch, config_name, "instructions", verdict, result.directory, None)
    return Outcome(patch.name, verdict, path, result.directory, where, codegen=notes)


#: The code layouts a disputed wall result is measured at again (see calibrate.LAYOUT_SHIFTS).
RECHECK_SHIFTS = calibrate.LAYOUT_SHIFTS
#: The layouts added once for a benchmark the first ones left undecided.
MORE_RECHECK_SHIFTS = calibrate.MORE_LAYOUT_SHIFTS


def unconfirmed_slowdowns(
    rows: tuple[compare.ComparisonRow, ...], targets: list[str], th: gate.Thresholds
) -> list[str]:
    """Non-targets significantly slower on the wall clock whose instruction counts did not move.

    Such a row is as likely to come from where the patch made the code land as
    from the patch: it is measured again at other code layouts before the gate
    judges it.  Unstable rows too: at one layout the gate could only warn about them.
    """
    wanted = {suite.canonical_name(t) for t in targets}
    return [
        row.name
        for row in rows
        if row.name not in wanted
        and row.significant
        and row.ratio > 1.0 + th.max_wall_slowdown
        and instructions_flat(row, th)
    ]


def instructions_flat(row: compare.ComparisonRow, th: gate.Thresholds) -> bool:
    """Whether ``row``'s instruction count was measured and did not rise past the gate's tolerance."""
    return row.instructions_ratio is not None and row.instructions_ratio <= 1.0 + th.max_instruction_slowdown


def unconfirmed_targets(
    rows: tuple[compare.ComparisonRow, ...], targets: list[str], th: gate.Thresholds
) -> list[str]:
    """Targets whose instruction counts confirm the gain while the wall clock, at one layout,
    did not (unstable, not significant, or short of the threshold).

    On a machine whose timings scatter by 10-20 % between processes, one
    layout's few processes cannot decide them: they are measured again at
    other code layouts, and judged across all of them.
    """
    wanted = {suite.canonical_name(t) for t in targets}
    return [
        row.name
        for row in rows
        if row.name in wanted
        and row.instructions_ratio is not None
        and row.instructions_ratio <= 1.0 - th.min_target_instruction_reduction
        and (row.unstable or not row.significant or row.speedup < 1.0 + th.min_target_speedup)
    ]


def recheck_across_layouts(
    cfg: Config,
    result: bench.BenchResult,
    commits: tuple[str, str],
    labels: tuple[str, str],
    config_name: str,
    patch: Patch,
    overrides: dict[str, object] | None,
    report: Report,
    shifts: tuple[int, ...] = RECHECK_SHIFTS,
    more_shifts: tuple[int, ...] = MORE_RECHECK_SHIFTS,
) -> tuple[tuple[compare.ComparisonRow, ...], list[calibrate.Judged]]:
    """Measure each unconfirmed target and slowdown again with both sides' code moved by each of
    ``shifts`` bytes, and replace its row by the verdict across all the layouts.

    A benchmark whose confidence interval across the layouts still holds its rule's boundary
    (the target's speedup, or the tolerated slowdown) is measured once more at ``more_shifts``,
    and judged across all of them: on a machine whose processes scatter by 10-20 %, four
    layouts can land a 1.2x target on either side of 1.15x from one run to the next.  The
    extension is made once, for a fixed number of layouts, whichever way the first four lean."""
    assert result.comparison is not None
    rows = result.comparison.rows
    th = thresholds(cfg, patch)
    if patch.whole_loop:
        suspects = [row.name for row in rows]
        why = "a whole-loop patch is judged on the suite across layouts"
    else:
        suspects = (unconfirmed_targets(rows, patch.targets, th)
                    + unconfirmed_slowdowns(rows, patch.targets, th))
        why = "the wall clock at one layout disagrees with the instruction counts"
    names = _runnable(cfg, suspects)
    if not names:
        return rows, []
    report(f"validate {patch.name}: re-measure {', '.join(names)} at {len(shifts)} more code layouts ({why})")
    sides = calibrate.Sides(cfg, commits, labels, config_name, overrides, report)
    rechecks = calibrate.recheck(sides, result, result.directory / "recheck", shifts, names)
    undecided = [c.name for c in rechecks if c.straddles(boundary(c.name, patch.targets, th))]
    if undecided and more_shifts:
        report(f"validate {patch.name}: {', '.join(undecided)} undecided across {len(rechecks[0].shifts)} "
               f"layouts (the 95 % interval holds the rule's boundary): {len(more_shifts)} more layouts")
        more = {check.name: check for check in calibrate.recheck(
            sides, result, result.directory / "recheck-more", more_shifts, undecided)}
        rechecks = [c.extended(more[c.name]) if c.name in more else c for c in rechecks]
    by_name = {row.name: row for row in rows}
    judged = reproduce_slowdowns(sides, result.directory / "again", patch, rechecks, by_name)
    for check in judged:
        report(f"validate {patch.name}: {check.describe()}")
    fresh = {check.name: check.row(by_name[check.name]) for check in judged}
    return tuple(fresh.get(row.name, row) for row in rows), judged


def reproduce_slowdowns(sides: calibrate.Sides, out: Path, patch: Patch,
                        rechecks: list[calibrate.LayoutRecheck],
                        rows: dict[str, compare.ComparisonRow]) -> list[calibrate.Judged]:
    """Measure every non-target that the layouts found significantly slower, while its instruction
    count did not rise, once more in a session of its own (the same layouts, the unmoved one
    included, measured afresh): the slowdown fails the patch only if that session finds it too
    (:class:`calibrate.Reproduced`).  A slowdown the instructions confirm is not measured again."""
    th = thresholds(sides.cfg, patch)
    wanted = {suite.canonical_name(t) for t in patch.targets}
    suspects = [
        c for c in rechecks
        if c.name not in wanted and c.significant and c.ratio > boundary(c.name, patch.targets, th)
        and instructions_flat(rows[c.name], th)
    ]
    if not suspects:
        return list(rechecks)
    again: dict[str, calibrate.LayoutRecheck] = {}
    for shifts in dict.fromkeys(c.shifts for c in suspects):
        names = [c.name for c in suspects if c.shifts == shifts]
        sides.report(f"validate {patch.name}: {', '.join(names)} slower across {len(shifts)} layouts with "
                     "the instruction counts flat: measured again at the same layouts before the gate judges")
        where = out / ("-".join(map(str, shifts[1:])) or "0")
        again.update((c.name, c) for c in calibrate.remeasure(sides, where, shifts, names))
    return [calibrate.Reproduced(c, again[c.name]) if c.name in again else c for c in rechecks]


def boundary(name: str, targets: list[str], th: gate.Thresholds) -> float:
    """The time ratio (head/base) at which ``name``'s wall rule turns: a target's least speedup,
    or a non-target's tolerated slowdown."""
    if name in {suite.canonical_name(t) for t in targets}:
        return 1.0 / (1.0 + th.min_target_speedup)
    return 1.0 + th.max_wall_slowdown


def _runnable(cfg: Config, names: list[str]) -> list[str]:
    """The names that can be run on their own (not one benchmark of a multi-benchmark
    pyperformance script, such as scimark_lu)."""
    suites = suite.load_suites(cfg.benchmarks / "suites.toml", micro_dir=cfg.benchmarks / "micro")
    runnable = []
    for name in names:
        try:
            resolved = suite.resolve(name, suites)
        except QuickenError:
            continue
        if resolved.benchmarks:  # not one of pyperformance's runner: layouts re-run only pyperf scripts
            runnable.append(name)
    return runnable


def _row(row: bench.compare.ComparisonRow) -> dict[str, object]:
    return {
        "name": row.name, "base_mean": row.base_mean, "head_mean": row.head_mean, "ratio": row.ratio,
        "significant": row.significant, "unstable": list(row.unstable_reasons),
        "base_instructions": row.base_instructions, "head_instructions": row.head_instructions,
        "instructions_ratio": row.instructions_ratio,
        "base_processes": row.base_processes, "head_processes": row.head_processes,
        "base_values": row.base_values, "head_values": row.head_values,
    }
