"""``quicken calibrate``: what a change that does nothing does to the numbers.

Every patch changes the machine code of the interpreter loop, and with it the
address at which every other instruction's code lands: branch targets move to
other cache lines, other alignments, other predictor slots.  On some machines
that alone moves micro-benchmarks by several percent on the wall clock, and it
can change gcc's block layout (an extra ``jmp`` here or there) by a few tenths
of a percent of instructions.  The gate cannot tell such effects from the
patch's own.

The calibration measures them: it benchmarks the target against itself linked
again from its own objects at another code layout (:func:`build.relink`), nothing
else differing.  A shift of ``N`` bytes moves the code in three ways:

- ``N mod 64`` bytes of a never-executed object ahead of all hot and ordinary
  code move the interpreter loop (and all the code after it) within its
  64-byte cache line;
- the rest, a multiple of 64 bytes, in a never-executed object between the hot
  and the ordinary code, moves every ordinary function (``Objects/``,
  ``Python/``) *relative to the loop*.  That is what a patch that adds code to
  the loop does too, and what moves which cache sets and predictor slots the
  loop shares with ``PyObject_GenericSetAttr`` or ``PyLong_FromSsize_t``:
  shifting the whole text alike keeps those relations;
- a few never-executed pads between the loop's own blocks
  (:func:`build.interior_pads`, placed in the compiler's assembly after
  unconditional jumps) move its blocks relative to each other.  A patch that
  adds bodies to the loop makes GCC place most of the others elsewhere, by
  kilobytes (0009 moved BEFORE_ASYNC_WITH's entry by 30 KiB and
  CALL_PY_EXACT_ARGS's by 6 KiB): moving the loop only as a whole keeps
  every relation inside it, the ones a patch changes most.  A
  link-time-optimised build's loop is compiled when it is linked, so its
  layouts move the loop only as a whole.

With a profile, every function the training run found hot sits in one block
(the loop's body, its cold part, sits ahead of the block, behind the probe's
first part), so the relink also lays that block out in an order of the shift's
own (:func:`build.hot_order`, the same for both sides' shared functions): which
hot functions share cache sets and predictor slots with the loop and each other
is the layout effect a probe alone would not move there.

Every significant difference it reports is this machine's layout noise, the
floor below which a gate verdict on that benchmark says nothing about a patch.

The same probes also take the layout out of a comparison: ``quicken bench
--layouts`` (and the gate, for the results it disputes) measures base and head
again with both interpreter loops moved alike, and judges each benchmark across
all the layouts (:class:`LayoutRecheck`).
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from . import bench, build, compare, pyperf_api
from .config import Config
from .errors import QuickenError

Report = Callable[[str], None]


@dataclass(frozen=True)
class Calibration:
    target: str
    shift: int
    result: bench.BenchResult
    tolerance: float  # the gate's wall tolerance for non-targets ([validate] max-wall-slowdown)

    def noisy(self) -> list[tuple[str, float]]:
        """Benchmarks whose wall time moved significantly by more than the tolerance, (name, ratio)."""
        assert self.result.comparison is not None
        return [(row.name, row.ratio) for row in self.result.comparison.rows
                if row.significant and not row.unstable and abs(row.ratio - 1.0) > self.tolerance]

    def max_instruction_change(self) -> tuple[str, float] | None:
        changes = [(name, h / b - 1.0) for name, (b, h) in self.result.instructions.items() if b]
        return max(changes, key=lambda c: abs(c[1])) if changes else None


def run(cfg: Config, target: str = "baseline", shift: int = 48, suite_spec: str = "quick",
        config_name: str | None = None, overrides: dict[str, object] | None = None,
        report: Report = lambda _: None) -> Calibration:
    _, commit, _ = build.resolve(cfg, target)
    report(f"calibrate: {target} ({commit[:12]}) vs itself relinked at layout +{shift}")
    result = bench.run(cfg, commit, commit, suite_spec, "both", config_name, overrides=overrides,
                       report=report, labels=(target, f"{target}+{shift}B"), relink=(0, shift))
    return Calibration(target, shift, result, cfg.validate.max_wall_slowdown)


#: The layouts a comparison is measured at again, besides the builds as they are, on both
#: sides alike (see :func:`split_shift`).  With the unmoved build they put the interpreter
#: loop at each 16-byte offset within its cache line, and the ordinary functions 1, 2 and
#: 3 KiB further from it: every quarter of a 4 KiB page, the period at which code addresses
#: share L1 instruction-cache sets.
LAYOUT_SHIFTS = (1040, 2080, 3120)
#: The layouts a recheck adds once when four did not decide a rule (the other eighth of
#: every quarter page, at the same offsets in the cache line).
MORE_LAYOUT_SHIFTS = (528, 1568, 2608)


@dataclass(frozen=True)
class LayoutRecheck:
    """One benchmark's head/base time ratio at several code layouts, judged across them.

    A patch moves the machine code of everything after it; at one layout a
    benchmark it does not touch can be several percent slower or faster for
    that reason alone (``quicken calibrate`` measures how much).  The layout is
    a random effect: the patch's own effect is the geometric mean of the ratios
    over the layouts, and it is significant only if that mean stands out from
    their spread (a one-sample t-test on the log ratios, 95 %).
    """

    name: str
    shifts: tuple[int, ...]
    ratios: tuple[float, ...]

    @property
    def ratio(self) -> float:
        value = compare.geometric_mean(self.ratios)
        assert value is not None
        return value

    @property
    def t_score(self) -> float:
        logs = [math.log(r) for r in self.ratios]
        mean = math.fsum(logs) / len(logs)
        spread = statistics.stdev(logs) if len(logs) > 1 else 0.0
        if spread == 0.0:
            return 0.0 if mean == 0.0 else math.copysign(math.inf, mean)
        return mean / (spread / math.sqrt(len(logs)))

    @property
    def significant(self) -> bool:
        return len(self.ratios) > 1 and abs(self.t_score) >= pyperf_api.t95(len(self.ratios) - 1)

    def interval(self) -> tuple[float, float]:
        """The 95 % confidence interval of :attr:`ratio` (the t-test's, back from the logs)."""
        logs = [math.log(r) for r in self.ratios]
        mean = math.fsum(logs) / len(logs)
        if len(logs) < 2:
            return math.exp(mean), math.exp(mean)
        half = pyperf_api.t95(len(logs) - 1) * statistics.stdev(logs) / math.sqrt(len(logs))
        return math.exp(mean - half), math.exp(mean + half)

    def straddles(self, boundary: float) -> bool:
        """Whether ``boundary`` (a ratio a rule compares with) lies inside :meth:`interval`."""
        low, high = self.interval()
        return low < boundary < high

    def extended(self, more: LayoutRecheck) -> LayoutRecheck:
        """This check with the layouts of ``more`` (measured again, its unmoved layout left out) added."""
        return LayoutRecheck(self.name, self.shifts + more.shifts[1:], self.ratios + more.ratios[1:])

    def row(self, measured: compare.ComparisonRow) -> compare.ComparisonRow:
        """``measured`` (the row at the unmoved layout) judged across the layouts instead."""
        return dataclasses.replace(measured, ratio=self.ratio, head_mean=measured.base_mean * self.ratio,
                                   significant=self.significant, t_score=self.t_score,
                                   unstable_reasons=())

    def describe(self) -> str:
        each = ", ".join(f"+{s}B {r:.3f}" for s, r in zip(self.shifts, self.ratios, strict=True))
        verdict = "significant" if self.significant else "not significant"
        return f"{self.name}: {compare.format_ratio(self.ratio)} across layouts ({each}; {verdict})"

    def as_record(self) -> dict[str, object]:
        return {"name": self.name, "shifts": list(self.shifts), "ratios": list(self.ratios),
                "ratio": self.ratio, "t_score": self.t_score, "significant": self.significant}


@dataclass(frozen=True)
class Sides:
    """What a wall-clock re-measurement of two builds needs: their targets (commits or work-tree
    targets such as ``patched``), the labels the results carry, the build configuration, the
    pyperf overrides and where progress goes."""

    cfg: Config
    targets: tuple[str, str]
    labels: tuple[str, str]
    config_name: str | None
    overrides: dict[str, object] | None
    report: Report


def recheck(sides: Sides, first: bench.BenchResult, out: Path, shifts: tuple[int, ...],
            names: list[str] | None = None) -> list[LayoutRecheck]:
    """Measure ``names`` (default: every benchmark of ``first``) again on the wall clock with
    both sides' code moved by each of ``shifts`` (:func:`split_shift`); ``first`` is the unmoved layout."""
    assert first.comparison is not None
    wanted = [row for row in first.comparison.rows if names is None or row.name in names]
    spec = ",".join(names) if names is not None else first.suite
    ratios = _ratios_at(sides, out, shifts, spec, [row.name for row in wanted])
    return [LayoutRecheck(row.name, (0, *shifts), (row.ratio, *ratios[row.name])) for row in wanted]


def remeasure(sides: Sides, out: Path, shifts: tuple[int, ...], names: list[str]) -> list[LayoutRecheck]:
    """A session of its own: ``names`` measured on the wall clock at each of ``shifts`` (0: the
    builds as they are, measured afresh), nothing reused from an earlier measurement."""
    ratios = _ratios_at(sides, out, shifts, ",".join(names), names)
    return [LayoutRecheck(name, shifts, tuple(ratios[name])) for name in names]


def _ratios_at(sides: Sides, out: Path, shifts: tuple[int, ...], spec: str,
               names: list[str]) -> dict[str, list[float]]:
    """Each of ``names``' time ratios (head/base) measured by running ``spec``, one per shift,
    in the order of ``shifts``."""
    ratios: dict[str, list[float]] = {}
    for shift in shifts:
        (base, head), relink, suffix = sides.targets, (shift, shift), f"+{shift}B" if shift else ""
        again = bench.run(sides.cfg, base, head, spec, "wall", sides.config_name, overrides=sides.overrides,
                          output=out / f"shift-{shift}", report=sides.report,
                          labels=(f"{sides.labels[0]}{suffix}", f"{sides.labels[1]}{suffix}"), relink=relink)
        assert again.comparison is not None
        for row in again.comparison.rows:
            ratios.setdefault(row.name, []).append(row.ratio)
    for name in names:
        if len(ratios.get(name, ())) != len(shifts):
            raise QuickenError(f"the re-measurement at other code layouts has no result for {name}",
                               f"see {out}")
    return ratios


@dataclass(frozen=True)
class Reproduced:
    """A slowdown across layouts (``first``) and a second session of the same layouts measured
    after it (``again``): it counts as significant only if each session on its own finds it.

    The layouts of one session are measured within minutes of each other, so whatever the
    machine does for those minutes is common to all of them, and the t-test across them
    cannot see it: on 0010, dict_keys and nbody were 1.03x and 1.04x slower at seven
    layouts (t 4.1 and 4.4), and 1.01x (not significant) with the same builds twenty
    minutes later.  The ratio is the geometric mean over both sessions.
    """

    first: LayoutRecheck
    again: LayoutRecheck

    @property
    def name(self) -> str:
        return self.first.name

    @property
    def ratio(self) -> float:
        value = compare.geometric_mean((*self.first.ratios, *self.again.ratios))
        assert value is not None
        return value

    @property
    def reproduced(self) -> bool:
        return (self.first.significant and self.again.significant
                and (self.first.ratio > 1.0) == (self.again.ratio > 1.0))

    @property
    def significant(self) -> bool:
        return self.reproduced

    @property
    def t_score(self) -> float:
        """The weaker session's t score (both must clear the bar)."""
        return min(self.first.t_score, self.again.t_score, key=abs)

    def row(self, measured: compare.ComparisonRow) -> compare.ComparisonRow:
        return dataclasses.replace(measured, ratio=self.ratio, head_mean=measured.base_mean * self.ratio,
                                   significant=self.significant, t_score=self.t_score,
                                   unstable_reasons=())

    def describe(self) -> str:
        again = self.again.describe().split(": ", 1)[1]
        verdict = "reproduced" if self.reproduced else "not reproduced"
        return f"{self.first.describe()}; measured again: {again}; {verdict}"

    def as_record(self) -> dict[str, object]:
        return {**self.first.as_record(), "again": self.again.as_record(), "reproduced": self.reproduced}


#: A benchmark judged across layouts: by one session, or by two (a slowdown that had to reproduce).
Judged = LayoutRecheck | Reproduced


def judged_from_record(entry: dict[str, Any]) -> Judged:
    """What :meth:`LayoutRecheck.as_record` or :meth:`Reproduced.as_record` wrote, read back."""
    def one(e: dict[str, Any]) -> LayoutRecheck:
        return LayoutRecheck(str(e.get("name", "?")), tuple(e.get("shifts") or ()),
                             tuple(e.get("ratios") or ()))
    again = entry.get("again")
    return Reproduced(one(entry), one(again)) if isinstance(again, dict) else one(entry)


@dataclass(frozen=True)
class LayoutBench:
    """A comparison measured at several code layouts (``quicken bench --layouts``)."""

    first: bench.BenchResult           # the builds as they are
    checks: tuple[LayoutRecheck, ...]  # every benchmark, judged across the layouts

    @property
    def geometric_mean(self) -> float | None:
        return compare.geometric_mean(check.ratio for check in self.checks)

    def slower(self) -> list[LayoutRecheck]:
        return _significant(self.checks, slower=True)

    def faster(self) -> list[LayoutRecheck]:
        return _significant(self.checks, slower=False)


def _significant(checks: Sequence[LayoutRecheck], *, slower: bool) -> list[LayoutRecheck]:
    return [c for c in checks if c.significant and (c.ratio > 1.0 if slower else c.ratio < 1.0)]


def across_layouts(
    cfg: Config,
    base_target: str,
    head_target: str,
    suite_spec: str,
    shifts: tuple[int, ...] = LAYOUT_SHIFTS,
    mode: str = "wall",
    config_name: str | None = None,
    overrides: dict[str, object] | None = None,
    output: Path | None = None,
    report: Report = lambda _: None,
) -> LayoutBench:
    """``bench.run`` at the builds' own layout, then the wall clock at ``shifts`` more layouts."""
    if mode not in ("wall", "both"):
        raise QuickenError(f"--layouts measures the wall clock: it needs --mode wall or both, not {mode}")
    if not shifts or any(s <= 0 for s in shifts) or len(set(shifts)) != len(shifts):
        raise QuickenError(f"--layouts {','.join(map(str, shifts))}: give distinct positive byte counts",
                           "for example --layouts 1040,2080,3120")
    first = bench.run(cfg, base_target, head_target, suite_spec, mode, config_name, overrides=overrides,
                      output=output, report=report)
    labels = (base_target, head_target)
    checks = recheck(Sides(cfg, labels, labels, config_name, overrides, report), first,
                     first.directory / "layouts", shifts)
    result = LayoutBench(first, tuple(checks))
    (first.directory / "layouts.md").write_text(render_layouts(result.checks) + "\n")
    (first.directory / "layouts.json").write_text(json.dumps({
        "shifts": [0, *shifts], "geometric_mean": result.geometric_mean,
        "benchmarks": [check.as_record() for check in checks],
    }, indent=1) + "\n")
    return result


def render_layouts(checks: Sequence[LayoutRecheck]) -> str:
    """The table of ``layouts.md``: every benchmark's ratio at each layout and across them."""
    shifts = checks[0].shifts if checks else ()
    lines = ["| benchmark | " + " | ".join(f"+{s}B" for s in shifts) + " | across layouts | significant |",
             "| --- |" + " ---: |" * len(shifts) + " ---: | ---: |"]
    for c in checks:
        lines.append(f"| {c.name} | " + " | ".join(f"{r:.3f}" for r in c.ratios)
                     + f" | {compare.format_ratio(c.ratio)} | {'yes' if c.significant else 'no'} |")
    gm = compare.geometric_mean(c.ratio for c in checks)
    lines += ["", "- Geometric mean across layouts (time): "
              + (f"{compare.format_ratio(gm)} ({gm:.4f})" if gm is not None else "n/a")]
    for word, found in (("slower", _significant(checks, slower=True)),
                        ("faster", _significant(checks, slower=False))):
        names = ", ".join(f"{c.name} {compare.format_ratio(c.ratio)}" for c in found) or "none"
        lines.append(f"- Significantly {word} across layouts: {names}")
    return "\n".join(lines)


@dataclass(frozen=True)
class LayoutRun:
    """What one ``quicken bench --layouts`` run left in its results directory."""

    directory: Path
    trees: tuple[str, str]  # the base and head source trees it compared
    checks: tuple[LayoutRecheck, ...]


def load_run(directory: Path) -> LayoutRun:
    """The ``summary.json`` and ``layouts.json`` of a ``bench --layouts`` results directory."""
    hint = "give results directories written by 'quicken bench --layouts'"
    data: list[dict[str, Any]] = []
    for name in ("summary.json", "layouts.json"):
        path = directory / name
        try:
            loaded = json.loads(path.read_text())
        except FileNotFoundError:
            raise QuickenError(f"{path}: not found", hint) from None
        except (OSError, ValueError) as err:
            raise QuickenError(f"{path}: unreadable ({err})", hint) from None
        if not isinstance(loaded, dict):
            raise QuickenError(f"{path}: not a JSON object", hint)
        data.append(loaded)
    summary, layouts = data
    try:
        trees = (str(summary["base"]["tree"]), str(summary["head"]["tree"]))
        checks = tuple(LayoutRecheck(str(b["name"]), tuple(int(s) for s in b["shifts"]),
                                     tuple(float(r) for r in b["ratios"]))
                       for b in layouts["benchmarks"])
    except KeyError as err:
        raise QuickenError(f"{directory}: summary.json or layouts.json lacks {err}", hint) from None
    except (TypeError, ValueError) as err:
        raise QuickenError(f"{directory}: summary.json or layouts.json has a malformed entry ({err})",
                           hint) from None
    for c in checks:
        if len(c.shifts) != len(c.ratios) or not c.ratios or min(c.ratios) <= 0:
            where = directory / "layouts.json"
            raise QuickenError(f"{where}: {c.name} lacks a positive ratio at some layout", hint)
    return LayoutRun(directory, trees, checks)


def pool(directories: Sequence[Path]) -> tuple[LayoutRecheck, ...]:
    """Every benchmark judged across the layouts of several ``bench --layouts`` runs of the same two trees.

    The layout is the random effect, so measurements at the same layout are not
    independent samples of it: a layout measured by several runs counts once,
    with the geometric mean of their ratios, and the t-test is over the
    distinct layouts.  More runs narrow each layout's ratio; more layouts give
    the test more degrees of freedom.
    """
    if not directories:
        raise QuickenError("no results directories to pool", "give one or more 'bench --layouts' directories")
    runs = [load_run(d) for d in directories]
    first = runs[0]
    names = [c.name for c in first.checks]
    at: dict[str, dict[int, list[float]]] = {name: {} for name in names}
    for run in runs:
        if run.trees != first.trees:
            raise QuickenError(
                f"{run.directory}: compares trees {run.trees[0][:12]} and {run.trees[1][:12]}, "
                f"but {first.directory} compares {first.trees[0][:12]} and {first.trees[1][:12]}",
                "pool only runs of the same base and head")
        if sorted(c.name for c in run.checks) != sorted(names):
            odd = sorted(set(names).symmetric_difference(c.name for c in run.checks))
            raise QuickenError(f"{run.directory}: its benchmarks differ from {first.directory}'s "
                               f"({', '.join(odd)})", "pool only runs of the same suite")
        for c in run.checks:
            for shift, ratio in zip(c.shifts, c.ratios, strict=True):
                at[c.name].setdefault(shift, []).append(ratio)
    pooled = []
    for name in names:
        shifts = tuple(sorted(at[name]))
        ratios = []
        for shift in shifts:
            mean = compare.geometric_mean(at[name][shift])
            assert mean is not None  # a listed layout has at least one ratio
            ratios.append(mean)
        pooled.append(LayoutRecheck(name, shifts, tuple(ratios)))
    return tuple(pooled)


def render(cal: Calibration) -> str:
    rows = cal.result.comparison.rows if cal.result.comparison else ()
    noisy = sorted(cal.noisy(), key=lambda item: -abs(item[1] - 1.0))
    moved = ": " + ", ".join(f"{name} {ratio:.3f}x" for name, ratio in noisy) if noisy else ""
    lines = [bench.render_text(cal.result), "",
             f"layout noise of {cal.target} (+{cal.shift} bytes before the interpreter loop, nothing else):",
             f"  wall: {len(noisy)} of {len(rows)} benchmarks moved significantly by more than "
             f"{cal.tolerance * 100:g}%{moved}"]
    worst = cal.max_instruction_change()
    if worst is not None:
        lines.append(f"  instructions: largest change {worst[1] * 100:+.2f}% ({worst[0]})")
    lines.append("  a gate verdict on a benchmark listed here cannot tell a patch's effect "
                 "from where its code landed")
    return "\n".join(lines)
