"""``quicken bisect``: find the first commit that made a benchmark slower.

Over the series (default: good = the pin's pristine commit, bad = the tip of
the work tree: which patch regressed it) or over a commit range of a real
CPython git checkout (``--repo PATH``; builds come straight from that
repository's objects, in the usual build slots).

The search is a binary search on the first-parent chain good..bad:

* the good end is measured first (the reference), then the bad end (to make
  sure there is a regression at all), then midpoints: about
  ceil(log2 n) + 2 judgements for n commits after good (both ends
  included; ends are usually cached builds);
* builds are cached by tree (:func:`quicken.build.find_built`: any slot of
  the configuration whose last build is that tree); a commit that fails to
  build is skipped, not judged (like ``git bisect skip``), and the next
  commit nearest the middle is tried instead.  If skipped commits hide the
  answer the result names every candidate.

Judges:

* ``instructions`` (default): :func:`quicken.measure.count_instructions`
  (callgrind, fixed hash seed, start-up cancelled) per loop; bad when the
  count exceeds the good count by more than ``--threshold`` (default 1 %).
  Deterministic, so one measurement per commit; counts are cached by tree.
* ``wall``: pyperf values of the commit and of the good build, measured in
  alternating worker processes (drift hits both).  In the spirit of
  Chromium's Pinpoint each comparison has three outcomes: *different*
  (pyperf's t-test says significant and the slowdown is at least the
  threshold, default 5 %), *same* (the upper end of the 95 % confidence
  interval of the ratio is under the threshold) or *not sure*, which adds a
  round of samples for both sides, up to ``--max-rounds``; still unsure at
  the bound means the commit is skipped, and the report says so.  A script
  that runs several benchmarks (deepcopy) is sampled whole: each benchmark
  with its own calibrated loop count, its values scaled so that all weigh
  alike.

``--script`` judges one commit, the HEAD of a checkout (``--repo PATH``, else
the work tree), against ``--good`` and exits like a ``git bisect run`` script:
0 good, 1 bad, 125 cannot judge (build failed, or wall mode unsure), 128 on an
error that should stop ``git bisect run``::

    cd ../cpython && git bisect start v3.13.15 v3.13.5
    git bisect run quicken -C /path/to/project bisect --script --repo . \\
        --good v3.13.5 --benchmark int_bitwise
"""

from __future__ import annotations

import dataclasses
import json
import math
import statistics
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import build, measure, pyperf_api, suite
from .config import Config
from .errors import BuildError, QuickenError
from .gitutil import Git
from .worktree import PATCH_REFS, WorkTree

if TYPE_CHECKING:
    from .bench import Calibrated

Report = Callable[[str], None]
GOOD, BAD, SKIP = "good", "bad", "skip"
MODES = ("instructions", "wall")
DEFAULT_THRESHOLD = {"instructions": 1.0, "wall": 5.0}  # percent
EXIT = {GOOD: 0, BAD: 1, SKIP: 125}
EXIT_ERROR = 128


def _quiet(_: str) -> None:
    pass


@dataclass
class Judgement:
    verdict: str  # good / bad / skip
    value: float | None = None  # instructions per loop, or mean seconds
    ratio: float | None = None  # value / good value
    detail: str = ""
    built: bool = False  # a build was needed (not found cached)


@dataclass
class SearchResult:
    n: int
    first_bad: int | None  # index in 1..n, None: the bad end is not bad
    candidates: list[int]  # where the first bad commit can be (several when skips hide it)
    judged: dict[int, Judgement] = field(default_factory=dict)
    order: list[int] = field(default_factory=list)

    @property
    def exact(self) -> bool:
        return self.first_bad is not None and len(self.candidates) == 1


def expected_judgements(n: int) -> int:
    """Judgements a search over n commits after good needs without skips: both ends + ceil(log2 n)."""
    return 2 + (math.ceil(math.log2(n)) if n > 1 else 0)


def search(n: int, judge: Callable[[int], Judgement]) -> SearchResult:
    """Binary search for the first bad index in 1..n; 0 is the good end, n the bad end.

    ``judge(i)`` is called at most once per index.  Index 0 is the reference
    and must not be skipped; a skipped index is never judged again, and the
    next candidate nearest the middle of the remaining range is tried.
    """
    if n < 1:
        raise QuickenError("nothing to bisect: the bad revision is the good one",
                           "give --good an ancestor of --bad")
    result = SearchResult(n, None, [])

    def ask(i: int) -> Judgement:
        j = judge(i)
        result.judged[i] = j
        result.order.append(i)
        return j

    if ask(0).verdict != GOOD:
        raise QuickenError("the good revision cannot be measured (build or benchmark failed)",
                           "choose another --good")
    end = ask(n)
    if end.verdict == GOOD:
        return result
    if end.verdict == SKIP:
        raise QuickenError("the bad revision cannot be measured (build or benchmark failed)",
                           "choose another --bad")
    lo, hi = 0, n
    skipped: set[int] = set()
    while True:
        candidates = [i for i in range(lo + 1, hi) if i not in skipped]
        if not candidates:
            break
        middle = (lo + hi) / 2
        pick = min(candidates, key=lambda i: (abs(i - middle), i))
        verdict = ask(pick).verdict
        if verdict == GOOD:
            lo = pick
        elif verdict == BAD:
            hi = pick
        else:
            skipped.add(pick)
    result.first_bad = hi
    result.candidates = list(range(lo + 1, hi + 1))
    return result


# -- judging in wall mode -------------------------------------------------------------


def classify(good: list[float], head: list[float], threshold: float) -> tuple[str, float, str]:
    """Three-way comparison of timing samples: (good | bad | unsure, ratio, explanation).

    bad ("different"): pyperf's two-sample t-test is significant and the mean
    slowdown is at least ``threshold`` (a fraction); good ("same"): the 95 %
    confidence interval of the ratio ends below 1 + threshold; else unsure.
    """
    mean_good, mean_head = statistics.fmean(good), statistics.fmean(head)
    ratio = mean_head / mean_good
    if len(good) < 2 or len(head) < 2:
        return "unsure", ratio, f"{ratio:.3f}x from too few values"
    significant, t_score = pyperf_api.is_significant(good, head)
    spread = math.sqrt(statistics.variance(good) / len(good) + statistics.variance(head) / len(head))
    half = pyperf_api.t95(len(good) + len(head) - 2) * spread / mean_good
    low, high = ratio - half, ratio + half
    detail = (f"{ratio:.3f}x (95% CI {low:.3f}-{high:.3f}, t={t_score:.2f}, "
              f"{len(good)}+{len(head)} values)")
    if significant and ratio >= 1 + threshold:
        return BAD, ratio, detail
    if high < 1 + threshold:
        return GOOD, ratio, detail
    return "unsure", ratio, detail


Sampler = Callable[[Path, int], list[float]]  # (python, round) -> values of one worker process


def judge_wall(
    good_python: Path, python: Path, sampler: Sampler, threshold: float, min_rounds: int = 2,
    max_rounds: int = 8, report: Report = _quiet,
) -> Judgement:
    """Sample both builds in alternating processes until the comparison is sure (or the bound)."""
    good: list[float] = []
    head: list[float] = []
    detail = ""
    ratio = None
    for rnd in range(max_rounds):
        good += sampler(good_python, rnd)
        head += sampler(python, rnd)
        if rnd + 1 < min_rounds:
            continue
        verdict, ratio, detail = classify(good, head, threshold)
        report(f"  round {rnd + 1}: {verdict} {detail}")
        if verdict in (GOOD, BAD):
            return Judgement(verdict, statistics.fmean(head), ratio, detail)
    return Judgement(SKIP, statistics.fmean(head) if head else None, ratio,
                     f"not sure after {max_rounds} rounds: {detail}")


def pyperf_sampler(bench: suite.Benchmark, pyperf_dir: Path, calibrated: Sequence[Calibrated], out: Path,
                   values: int = 3) -> Sampler:
    """One worker process's values of every benchmark ``bench``'s script runs, each with its
    calibrated loop count.  A script that runs several (deepcopy: 320 us, 2.9 us and 30 us a
    loop) has each benchmark's values scaled to the geometric mean of their calibrated means,
    so that all weigh alike in one sample and its values stay seconds (one benchmark: unscaled).
    """
    import pyperf

    from .bench import _run, process_commands

    centre = math.prod(c.mean for c in calibrated) ** (1 / len(calibrated))
    scale = {c.name: centre / c.mean if len(calibrated) > 1 else 1.0 for c in calibrated}
    counter = iter(range(1_000_000))

    def sample(python: Path, rnd: int) -> list[float]:
        path = out / f"{bench.name}.{next(counter)}.json"
        path.unlink(missing_ok=True)
        opts = suite.PyperfOptions(processes=1, values=values, warmups=1, append=path)
        for command in process_commands(bench, python, pyperf_dir, opts, calibrated):
            _run(command, f"{bench.name} on {python}", out / "wall.log")
        loaded = pyperf.BenchmarkSuite.load(str(path))
        return [v * scale[b.get_name()] for b in loaded.get_benchmarks() for v in b.get_values()]

    return sample


def calibrate(bench: suite.Benchmark, python: Path, pyperf_dir: Path, out: Path) -> tuple[Calibrated, ...]:
    from .bench import calibrate as calibrate_on

    return calibrate_on(bench, python, pyperf_dir, suite.PyperfOptions(),
                        out / f"{bench.name}.calibrate.json", out / "wall.log")


# -- builds and measurements -----------------------------------------------------------


@dataclass
class Target:
    """Where the commits come from."""

    repo: Git
    external: bool  # a CPython checkout given with --repo, not the work tree
    label: str
    worktree: WorkTree | None = None  # the work tree (not external)

    def names(self) -> dict[str, str]:
        """commit -> patch name (work tree only)."""
        if self.external:
            return {}
        return {sha: ref[len(PATCH_REFS):] for ref, sha in self.repo.refs(PATCH_REFS).items()}


class Measurer:
    """Builds a commit (cached by tree) and measures the benchmark on it."""

    def __init__(self, cfg: Config, target: Target, bench: suite.Benchmark, mode: str,
                 config_name: str | None, out: Path, loops: int | None, report: Report) -> None:
        self.cfg, self.target, self.bench, self.mode = cfg, target, bench, mode
        self.config = cfg.build_config(config_name)
        self.out = out
        self.loops = loops if loops is not None else measure.DEFAULT_LOOPS[bench.kind]
        self.report = report
        self.pyperf_dir = suite.prepare_pyperf_path(cfg.cache / "bench")
        self.builds = 0
        self.cached = 0
        self.counts = measure.count_cache(cfg.builds, self.config.name)

    def python(self, commit: str) -> tuple[Path | None, bool, str]:
        """(interpreter or None when the build failed, built now?, failure)."""
        try:
            res = build.build_one(self.cfg, commit, self.config.name, self.report,
                                  repo=self.target.repo if self.target.external else None)
        except BuildError as exc:
            self.builds += 1
            return None, True, exc.message
        if res.cached:
            self.cached += 1
        else:
            self.builds += 1
        return res.python, not res.cached, ""

    def instructions(self, commit: str, python: Path) -> int:
        key = measure.CountCache.key(self.target.repo.tree_of(commit), self.config.identity, self.bench,
                                     self.loops)

        def run() -> measure.InstructionCount:
            self.report(f"bisect: count instructions of {self.bench.name} on {commit[:12]}")
            return measure.count_instructions(self.bench, python, self.pyperf_dir,
                                              self.out / "callgrind" / commit[:12], loops=self.loops)

        return measure.cached_count(self.counts, key, run)[0].per_loop


def make_judge(
    m: Measurer, commits: list[str], threshold: float, max_rounds: int, sampler: Sampler | None = None,
) -> Callable[[int], Judgement]:
    """judge(i) for commits[i]; commits[0] is the good reference."""
    reference: dict[str, Any] = {}

    def judge(i: int) -> Judgement:
        if i == 0:  # the reference's build stays in use for the whole search
            return judge_one(i)
        with build.holding():  # a judged commit's build is free for the bound on build slots
            return judge_one(i)

    def judge_one(i: int) -> Judgement:
        commit = commits[i]
        m.report(f"bisect: judge {commit[:12]} ({i}/{len(commits) - 1})")
        python, built, failure = m.python(commit)
        if python is None:
            return Judgement(SKIP, detail=f"build failed: {failure}", built=built)
        if m.mode == "instructions":
            try:
                count = m.instructions(commit, python)
            except measure.MeasureError as exc:
                return Judgement(SKIP, detail=f"benchmark failed: {exc.message}", built=built)
            if i == 0:
                reference["count"] = count
                return Judgement(GOOD, count, 1.0, "reference", built)
            ratio = count / reference["count"]
            verdict = BAD if ratio > 1 + threshold else GOOD
            return Judgement(verdict, count, ratio, f"{(ratio - 1) * 100:+.2f}% instructions", built)
        if i == 0:
            reference["python"] = python
            if sampler is not None:
                reference["sampler"] = sampler
                return Judgement(GOOD, None, 1.0, "reference", built)
            suite.check_target_python(python, m.pyperf_dir)
            calibrated = calibrate(m.bench, python, m.pyperf_dir, m.out)
            reference["sampler"] = pyperf_sampler(m.bench, m.pyperf_dir, calibrated, m.out)
            loops = ", ".join(f"{c.name} {c.loops}" for c in calibrated) if len(calibrated) > 1 \
                else str(calibrated[0].loops)
            return Judgement(GOOD, None, 1.0, f"reference ({loops} loops per value)", built)
        j = judge_wall(reference["python"], python, reference["sampler"], threshold,
                       max_rounds=max_rounds, report=m.report)
        j.built = built
        return j

    return judge


# -- the command -------------------------------------------------------------------------


@dataclass
class BisectResult:
    search: SearchResult
    commits: list[str]
    names: dict[str, str]
    subjects: dict[str, str]
    bench: str
    mode: str
    threshold: float
    builds: int
    cached: int
    seconds: float
    directory: Path

    def label(self, i: int) -> str:
        commit = self.commits[i]
        name = self.names.get(commit)
        return f"{commit[:12]} {name or self.subjects.get(commit, '')}".rstrip()


def _target(cfg: Config, repo_path: Path | None) -> Target:
    if repo_path is None:
        wt = WorkTree(cfg)
        wt.check_no_rebase()
        return Target(wt.repo(), False, str(cfg.worktree), wt)
    git_dir = repo_path / ".git" if (repo_path / ".git").exists() else repo_path
    if not (git_dir / "HEAD").exists():
        raise QuickenError(f"--repo {repo_path}: not a git checkout")
    return Target(Git(git_dir, repo_path if git_dir != repo_path else None), True, str(repo_path))


def _commit(target: Target, rev: str, what: str) -> str:
    commit = target.repo.rev(f"{rev}^{{commit}}")
    if commit is None and target.worktree is not None and target.worktree.exists:
        commit = target.worktree.state().commit_of(rev)
    if commit is None:
        raise QuickenError(f"{what} {rev}: not a commit of {target.label}",
                           "use a commit id, tag, branch or (for the series) a patch name")
    return commit


def _resolve_benchmark(cfg: Config, name: str) -> suite.Benchmark:
    suites = suite.load_suites(cfg.benchmarks / "suites.toml", micro_dir=cfg.benchmarks / "micro")
    chosen = suite.resolve(name, suites)
    if len(chosen.benchmarks) != 1:
        raise QuickenError(f"--benchmark {name}: names {len(chosen.benchmarks)} benchmarks",
                           "bisect one benchmark at a time")
    return chosen.benchmarks[0]


def run(
    cfg: Config,
    benchmark: str,
    good: str | None = None,
    bad: str | None = None,
    threshold: float | None = None,
    mode: str = "instructions",
    config_name: str | None = None,
    repo_path: Path | None = None,
    loops: int | None = None,
    max_rounds: int = 8,
    report: Report = _quiet,
    sampler: Sampler | None = None,
) -> BisectResult:
    if mode not in MODES:
        raise QuickenError(f"--mode {mode}: choose one of {', '.join(MODES)}")
    t0 = time.monotonic()
    pct = DEFAULT_THRESHOLD[mode] if threshold is None else threshold
    target = _target(cfg, repo_path)
    if target.external and (good is None or bad is None):
        raise QuickenError("--repo needs --good and --bad", "e.g. --good v3.13.5 --bad v3.13.15")
    if not target.external:
        state = WorkTree(cfg).state()
        good = good or state.pristine
        bad = bad or state.tip
    assert good is not None and bad is not None
    good_c, bad_c = _commit(target, good, "--good"), _commit(target, bad, "--bad")
    status, _, _ = target.repo.run("merge-base", "--is-ancestor", good_c, bad_c)
    if status != 0:
        raise QuickenError(f"--good {good} is not an ancestor of --bad {bad}", "swap them?")
    chain = target.repo("rev-list", "--first-parent", "--reverse", f"{good_c}..{bad_c}").split()
    commits = [good_c, *chain]
    bench = _resolve_benchmark(cfg, benchmark)
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = cfg.root / "results" / f"bisect-{stamp}-{bench.name}"
    out.mkdir(parents=True, exist_ok=True)
    m = Measurer(cfg, target, bench, mode, config_name, out, loops, report)
    report(f"bisect {bench.name} ({mode}) over {len(chain)} commits: about "
           f"{expected_judgements(len(chain))} judgements")
    found = search(len(chain), make_judge(m, commits, pct / 100, max_rounds, sampler))
    subjects = {c: target.repo("log", "-1", "--format=%s", c) for c in
                {commits[i] for i in found.judged} | {commits[i] for i in found.candidates}}
    result = BisectResult(found, commits, target.names(), subjects, bench.name, mode, pct, m.builds,
                          m.cached, round(time.monotonic() - t0, 1), out)
    (out / "report.md").write_text(render(result) + "\n")
    (out / "summary.json").write_text(json.dumps({
        "benchmark": bench.name, "mode": mode, "threshold_percent": pct, "commits": commits,
        "first_bad": commits[found.first_bad] if found.first_bad is not None else None,
        "candidates": [commits[i] for i in found.candidates],
        "judged": {commits[i]: dataclasses.asdict(j) for i, j in found.judged.items()},
        "order": [commits[i] for i in found.order], "builds": m.builds, "cached_builds": m.cached,
        "seconds": result.seconds,
    }, indent=1) + "\n")
    return result


def _value(mode: str, j: Judgement) -> str:
    if j.value is None:
        return "-"
    if mode == "instructions":
        return f"{int(j.value):,} instructions/loop"
    return f"{j.value * 1e6:.2f} us"


def render(result: BisectResult) -> str:
    s = result.search
    unit = "instructions" if result.mode == "instructions" else "wall time"
    lines = [
        f"bisect {result.bench} ({unit}, threshold {result.threshold:g}%) over {s.n} commit(s) after "
        f"{result.label(0)}",
        f"  judged {len(s.judged)} commits ({result.builds} built, {result.cached} cached builds); a "
        f"search without skips needs {expected_judgements(s.n)} (ceil(log2 {s.n}) + both ends); "
        f"{result.seconds:.0f}s",
    ]
    for i in sorted(s.judged):
        j = s.judged[i]
        lines.append(f"  {j.verdict:5} {result.label(i)}: {_value(result.mode, j)}"
                     + (f"  ({j.detail})" if j.detail else ""))
    if s.first_bad is None:
        lines.append(f"no regression: the bad end is within {result.threshold:g}% of the good one")
        return "\n".join(lines)
    bad = s.judged[s.first_bad]
    if s.exact:
        parent = s.first_bad - 1
        pj = s.judged[parent]
        lines.append(f"first bad commit: {result.label(s.first_bad)}")
        lines.append(f"  it:     {_value(result.mode, bad)} ({bad.detail})")
        lines.append(f"  parent: {result.label(parent)}: {_value(result.mode, pj)} ({pj.detail})")
        if result.mode == "instructions":
            lines.append("  sure: instruction counts are deterministic and the commit and its parent "
                         "were both measured")
        else:
            lines.append("  sure: both the commit and its parent were judged with 95% confidence (see the "
                         "intervals); other commits could be judged wrongly in 1 of 20 comparisons")
    else:
        lines.append(f"first bad commit is one of {len(s.candidates)} (skipped commits hide it):")
        for i in s.candidates:
            lines.append(f"  {result.label(i)}" + ("" if i in s.judged else " (skipped)"))
        lines.append(f"  the last of them, {result.label(s.first_bad)}, is bad: "
                     f"{_value(result.mode, bad)} ({bad.detail})")
    lines.append(f"  report: {result.directory / 'report.md'}")
    return "\n".join(lines)


def judge_head(
    cfg: Config, benchmark: str, good: str | None, threshold: float | None, mode: str,
    config_name: str | None, repo_path: Path | None, loops: int | None = None, max_rounds: int = 8,
    report: Report = _quiet,
) -> tuple[str, str]:
    """--script: judge HEAD of the checkout against --good: (verdict, one line)."""
    pct = DEFAULT_THRESHOLD[mode] if threshold is None else threshold
    target = _target(cfg, repo_path)
    if good is None:
        if target.external:
            raise QuickenError("--script --repo needs --good", "the reference commit, e.g. --good v3.13.5")
        good = WorkTree(cfg).state().pristine
    commits = [_commit(target, good, "--good"), _commit(target, "HEAD", "HEAD")]
    bench = _resolve_benchmark(cfg, benchmark)
    out = cfg.root / "results" / f"bisect-script-{time.strftime('%Y%m%d-%H%M%S')}-{bench.name}"
    out.mkdir(parents=True, exist_ok=True)
    m = Measurer(cfg, target, bench, mode, config_name, out, loops, report)
    judge = make_judge(m, commits, pct / 100, max_rounds)
    if judge(0).verdict != GOOD:
        raise QuickenError(f"--good {good}: cannot be built or measured")
    j = judge(1)
    return j.verdict, f"{commits[1][:12]}: {j.verdict} ({j.detail or _value(mode, j)})"
