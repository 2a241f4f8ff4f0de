"""Compare two pyperf result files (base build vs head build).

Pure logic plus rendering: no benchmark is run here.  Significance is pyperf's
own two-sample t-test (the test ``pyperf compare_to`` uses, through
:mod:`quicken.pyperf_api`); the "unstable" flag mirrors the warnings of
``pyperf check`` (``pyperf._cli.format_checks``), minus the "not enough
samples for 1% precision" one, which fires on every quick run.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import pyperf

from quicken import pyperf_api
from quicken.errors import QuickenError

#: pyperf check: standard deviation of at least 10% of the mean.
MAX_STDEV_FRACTION = 0.10
#: pyperf check: minimum or maximum 50% away from the mean.
MAX_OUTLIER_FRACTION = 0.50
#: pyperf check: a raw value (all loops of one value) shorter than 1 ms.
MIN_RAW_SECONDS = 1e-3
#: Fewer values than this per side cannot support a t-test.
MIN_VALUES = 3


class CompareError(QuickenError):
    """A result file cannot be read or compared."""


@dataclass(frozen=True)
class ComparisonRow:
    """One benchmark present in both result files.

    ``ratio`` is head time / base time: below 1 means head is faster.
    Instruction counts are per loop iteration, when measured.
    """

    name: str
    unit: str
    base_mean: float
    base_stdev: float
    base_values: int
    head_mean: float
    head_stdev: float
    head_values: int
    ratio: float
    significant: bool
    t_score: float | None
    unstable_reasons: tuple[str, ...] = ()
    base_instructions: int | None = None
    head_instructions: int | None = None
    #: worker processes that gave values (0: not known); values from one process are not
    #: independent, so these, not ``*_values``, say how much a wall ratio rests on
    base_processes: int = 0
    head_processes: int = 0

    @property
    def unstable(self) -> bool:
        return bool(self.unstable_reasons)

    @property
    def speedup(self) -> float:
        """base time / head time: above 1 means head is faster."""
        return 1.0 / self.ratio

    @property
    def instructions_ratio(self) -> float | None:
        """head / base instruction count, if both are known."""
        if self.base_instructions is None or self.head_instructions is None or self.base_instructions <= 0:
            return None
        return self.head_instructions / self.base_instructions

    def describe_time(self) -> str:
        """``1.32x faster`` / ``1.05x slower`` / ``no change``."""
        return format_ratio(self.ratio)

    def describe_instructions(self) -> str | None:
        """``-24.1%`` style change of the instruction count, if known."""
        ratio = self.instructions_ratio
        if ratio is None:
            return None
        return f"{(ratio - 1.0) * 100:+.1f}%"


@dataclass(frozen=True)
class Comparison:
    """All rows plus the benchmarks present on one side only."""

    base_label: str
    head_label: str
    rows: tuple[ComparisonRow, ...]
    only_base: tuple[str, ...] = ()
    only_head: tuple[str, ...] = ()

    @property
    def geometric_mean(self) -> float | None:
        """Geometric mean of the time ratios (head/base)."""
        return geometric_mean(row.ratio for row in self.rows)

    @property
    def instructions_geometric_mean(self) -> float | None:
        """Geometric mean of the instruction ratios of rows that have them."""
        return geometric_mean(r for r in (row.instructions_ratio for row in self.rows) if r is not None)

    def row(self, name: str) -> ComparisonRow | None:
        for row in self.rows:
            if row.name == name:
                return row
        return None


def geometric_mean(values: Iterable[float]) -> float | None:
    """Geometric mean of positive numbers; None for an empty input."""
    items = list(values)
    if not items:
        return None
    if any(value <= 0 for value in items):
        raise ValueError("geometric mean needs positive values")
    return math.exp(math.fsum(math.log(value) for value in items) / len(items))


def format_ratio(ratio: float) -> str:
    """Like ``pyperf compare_to``: ``1.32x faster`` for a time ratio of 0.76."""
    if ratio == 1.0:
        return "no change"
    if ratio < 1.0:
        return f"{1.0 / ratio:.2f}x faster"
    return f"{ratio:.2f}x slower"


def load_results(path: Path) -> pyperf.BenchmarkSuite:
    """Load a pyperf JSON file (plain or gzipped) with a one-line error."""
    try:
        return pyperf.BenchmarkSuite.load(str(path))
    except FileNotFoundError:
        raise CompareError(
            f"{path}: result file not found", "run the benchmarks for this build first"
        ) from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise CompareError(f"{path}: not a pyperf result file ({exc})", "rerun the benchmarks") from None


def stability_issues(bench: pyperf.Benchmark) -> list[str]:
    """Reasons (pyperf check style) why one side's result is untrustworthy."""
    issues: list[str] = []
    values = bench.get_values()
    if len(values) < MIN_VALUES:
        issues.append(f"only {len(values)} value(s)")
    if not values:
        return issues
    mean = bench.mean()
    if len(values) >= 2 and mean > 0:
        fraction = bench.stdev() / mean
        if fraction >= MAX_STDEV_FRACTION:
            issues.append(f"std dev is {fraction * 100:.0f}% of the mean")
    if mean > 0:
        for label, value in (("minimum", min(values)), ("maximum", max(values))):
            off = (value - mean) / mean
            if abs(off) >= MAX_OUTLIER_FRACTION:
                issues.append(f"{label} is {abs(off) * 100:.0f}% {'above' if off > 0 else 'below'} the mean")
    if bench.get_unit() == "second":
        raw = pyperf_api.raw_values(bench)
        if raw and min(raw) < MIN_RAW_SECONDS:
            issues.append(f"shortest raw value is {min(raw) * 1e6:.0f} us (< 1 ms)")
    return issues


def compare_benchmarks(
    base: pyperf.Benchmark,
    head: pyperf.Benchmark,
    *,
    base_instructions: int | None = None,
    head_instructions: int | None = None,
) -> ComparisonRow:
    """Compare one benchmark's base and head results."""
    name = head.get_name()
    if base.get_unit() != head.get_unit():
        raise CompareError(f"benchmark {name!r}: units differ ({base.get_unit()} vs {head.get_unit()})", None)
    significant, t_score = pyperf_api.is_significant_benchs(base, head)
    reasons = [f"base: {issue}" for issue in stability_issues(base)]
    reasons += [f"head: {issue}" for issue in stability_issues(head)]
    base_mean = base.mean()
    head_mean = head.mean()
    return ComparisonRow(
        name=name,
        unit=head.get_unit(),
        base_mean=base_mean,
        base_stdev=base.stdev() if base.get_nvalue() >= 2 else 0.0,
        base_values=base.get_nvalue(),
        head_mean=head_mean,
        head_stdev=head.stdev() if head.get_nvalue() >= 2 else 0.0,
        head_values=head.get_nvalue(),
        ratio=head_mean / base_mean,
        significant=bool(significant),
        t_score=None if t_score is None else float(t_score),
        unstable_reasons=tuple(reasons),
        base_instructions=base_instructions,
        head_instructions=head_instructions,
        base_processes=processes(base),
        head_processes=processes(head),
    )


def measured_runs(bench: pyperf.Benchmark) -> list[pyperf.Run]:
    """A benchmark's runs (pyperf's worker processes) that gave values: not calibration runs."""
    return [run for run in bench.get_runs() if run.values]


def processes(bench: pyperf.Benchmark) -> int:
    """How many worker processes a benchmark's values come from."""
    return len(measured_runs(bench))


def compare_suites(
    base: pyperf.BenchmarkSuite,
    head: pyperf.BenchmarkSuite,
    *,
    base_label: str = "base",
    head_label: str = "head",
    base_instructions: Mapping[str, int] | None = None,
    head_instructions: Mapping[str, int] | None = None,
) -> Comparison:
    """Rows for every benchmark in both suites, in base order."""
    head_names = set(head.get_benchmark_names())
    base_names = base.get_benchmark_names()
    rows = []
    for name in base_names:
        if name not in head_names:
            continue
        rows.append(
            compare_benchmarks(
                base.get_benchmark(name),
                head.get_benchmark(name),
                base_instructions=(base_instructions or {}).get(name),
                head_instructions=(head_instructions or {}).get(name),
            )
        )
    return Comparison(
        base_label=base_label,
        head_label=head_label,
        rows=tuple(rows),
        only_base=tuple(n for n in base_names if n not in head_names),
        only_head=tuple(n for n in head.get_benchmark_names() if n not in set(base_names)),
    )


def compare_files(
    base_path: Path,
    head_path: Path,
    *,
    base_label: str = "base",
    head_label: str = "head",
    base_instructions: Mapping[str, int] | None = None,
    head_instructions: Mapping[str, int] | None = None,
) -> Comparison:
    """:func:`compare_suites` on two pyperf JSON files."""
    comparison = compare_suites(
        load_results(base_path),
        load_results(head_path),
        base_label=base_label,
        head_label=head_label,
        base_instructions=base_instructions,
        head_instructions=head_instructions,
    )
    if not comparison.rows:
        raise CompareError(
            f"{base_path} and {head_path} have no benchmark in common", "run the same suite on both builds"
        )
    return comparison


def ratio_interval(base: pyperf.Benchmark, head: pyperf.Benchmark, z: float = 1.96
                   ) -> tuple[float, float] | None:
    """95 % confidence interval of head mean / base mean, over per-process means.

    Values of one worker process are not independent of each other, so each
    process counts once; log-normal (delta method) interval of the ratio.
    """
    sides = []
    for bench in (base, head):
        means = [math.fsum(run.values) / len(run.values) for run in measured_runs(bench)]
        if len(means) < 2:
            return None
        mean = math.fsum(means) / len(means)
        var = math.fsum((m - mean) ** 2 for m in means) / (len(means) - 1)
        sides.append((mean, var, len(means)))
    (mb, vb, nb), (mh, vh, nh) = sides
    if mb <= 0 or mh <= 0:
        return None
    se = math.sqrt(vb / (nb * mb * mb) + vh / (nh * mh * mh))
    ratio = mh / mb
    return ratio * math.exp(-z * se), ratio * math.exp(z * se)


# --------------------------------------------------------------------------
# rendering


def format_time(seconds: float) -> str:
    """Seconds with a readable unit (ns/us/ms/s)."""
    for scale, unit in ((1e-9, "ns"), (1e-6, "us"), (1e-3, "ms")):
        if abs(seconds) < scale * 999.5:
            return f"{_three_digits(seconds / scale)} {unit}"
    return f"{_three_digits(seconds)} s"


def _three_digits(value: float) -> str:
    """Three significant digits, keeping trailing zeros: 1.00, 15.8, 700."""
    magnitude = abs(value)
    if magnitude >= 100:
        return f"{value:.0f}"
    if magnitude >= 10:
        return f"{value:.1f}"
    return f"{value:.2f}"


def _format_value(value: float, unit: str) -> str:
    return format_time(value) if unit == "second" else f"{value:.4g}"


def _table(comparison: Comparison) -> tuple[list[str], list[list[str]], list[str]]:
    with_instr = any(row.instructions_ratio is not None for row in comparison.rows)
    headers = [
        "Benchmark",
        comparison.base_label,
        comparison.head_label,
        "Change",
        "Significant",
    ]
    if with_instr:
        headers += [f"Instr {comparison.base_label}", f"Instr {comparison.head_label}", "Instr change"]
    headers.append("Notes")
    rows: list[list[str]] = []
    for row in comparison.rows:
        cells = [
            row.name,
            f"{_format_value(row.base_mean, row.unit)} ± {_format_value(row.base_stdev, row.unit)}",
            f"{_format_value(row.head_mean, row.unit)} ± {_format_value(row.head_stdev, row.unit)}",
            row.describe_time(),
            "yes" if row.significant else "no",
        ]
        if with_instr:
            cells += [
                "" if row.base_instructions is None else f"{row.base_instructions:,}",
                "" if row.head_instructions is None else f"{row.head_instructions:,}",
                row.describe_instructions() or "",
            ]
        cells.append("unstable: " + "; ".join(row.unstable_reasons) if row.unstable else "")
        rows.append(cells)
    footer: list[str] = []
    geo = comparison.geometric_mean
    if geo is not None:
        footer.append(f"Geometric mean (time): {format_ratio(geo)} ({geo:.4f})")
    igeo = comparison.instructions_geometric_mean
    if igeo is not None:
        footer.append(f"Geometric mean (instructions): {(igeo - 1.0) * 100:+.1f}% ({igeo:.4f})")
    if comparison.only_base:
        footer.append(f"Only in {comparison.base_label}: {', '.join(comparison.only_base)}")
    if comparison.only_head:
        footer.append(f"Only in {comparison.head_label}: {', '.join(comparison.only_head)}")
    return headers, rows, footer


def render_markdown(comparison: Comparison) -> str:
    """A GitHub-flavoured Markdown table plus summary lines."""
    headers, rows, footer = _table(comparison)

    def line(cells: Sequence[str]) -> str:
        return "| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |"

    out = [line(headers), "|" + "|".join(["---", *(["---:"] * (len(headers) - 2)), "---"]) + "|"]
    out += [line(cells) for cells in rows]
    if footer:
        out.append("")
        out += [f"- {text}" for text in footer]
    return "\n".join(out) + "\n"


def render_text(comparison: Comparison) -> str:
    """A fixed-width plain-text table plus summary lines."""
    headers, rows, footer = _table(comparison)
    widths = [max(len(cells[i]) for cells in [headers, *rows]) for i in range(len(headers))]

    def line(cells: Sequence[str]) -> str:
        parts = [cells[0].ljust(widths[0])]
        parts += [cell.rjust(width) for cell, width in zip(cells[1:-1], widths[1:-1], strict=True)]
        parts.append(cells[-1])
        return "  ".join(parts).rstrip()

    rule = ["-" * width for width in widths[:-1]] + ["-" * len(headers[-1])]
    out = [line(headers), "  ".join(rule)]
    out += [line(cells) for cells in rows]
    if footer:
        out.append("")
        out += footer
    return "\n".join(out) + "\n"


def plot_ratios(comparison: Comparison, path: Path, *, title: str | None = None,
                intervals: Mapping[str, tuple[float, float]] | None = None) -> Path:
    """Horizontal bar chart of speedups (base/head) with the geometric mean; PNG.

    ``intervals`` (name -> confidence interval of the time ratio head/base) are drawn as error bars.
    """
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    rows = sorted(comparison.rows, key=lambda row: row.speedup)
    if not rows:
        raise CompareError(f"{path}: nothing to plot (no common benchmarks)", None)
    names = [row.name + (" (?)" if row.unstable else "") for row in rows]
    speedups = [row.speedup for row in rows]
    colors = [
        ("tab:green" if s > 1 else "tab:red") if row.significant and not row.unstable else "tab:gray"
        for row, s in zip(rows, speedups, strict=True)
    ]
    fig, ax = plt.subplots(figsize=(8, max(2.5, 0.32 * len(rows) + 1.2)))
    try:
        ax.barh(names, [s - 1.0 for s in speedups], left=1.0, color=colors)
        if intervals:
            for i, row in enumerate(rows):
                if row.name in intervals:
                    lo, hi = intervals[row.name]  # of the time ratio: speedup is its inverse
                    ax.plot([1.0 / hi, 1.0 / lo], [i, i], color="black", linewidth=1.2)
            ax.plot([], [], color="black", linewidth=1.2, label="95 % confidence interval")
        ax.axvline(1.0, color="black", linewidth=0.8)
        geo = comparison.geometric_mean
        if geo is not None:
            ax.axvline(
                1.0 / geo, color="tab:blue", linestyle="--", label=f"geometric mean: {format_ratio(geo)}"
            )
            ax.legend(loc="lower right")
        ax.set_xlabel(
            f"speedup of {comparison.head_label} over {comparison.base_label} (base time / head time)"
        )
        ax.set_title(title or f"{comparison.head_label} vs {comparison.base_label}")
        ax.grid(axis="x", alpha=0.3)
        fig.tight_layout()
        path.parent.mkdir(parents=True, exist_ok=True)
        fig.savefig(path, format="png", dpi=100)
    finally:
        plt.close(fig)
    return path
