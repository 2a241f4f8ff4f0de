"""Command line: parse arguments, call one stage, print its result.

Expected failures arrive as QuickenError and leave as one line
(``quicken: error: ...``), an optional ``hint:`` line, and a non-zero exit.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, TextIO

from . import bisect, config, export, rebase, review
from .errors import QuickenError
from .worktree import WorkTree


class Progress:
    """One status line that rewrites itself on a terminal.

    Elsewhere (logs, CI) it prints a line when the phase changes (the message
    without its numbers) and at most every ``interval`` seconds otherwise.
    """

    def __init__(self, stream: TextIO | None = None, interval: float = 15.0) -> None:
        self.stream = stream or sys.stderr
        self.tty = self.stream.isatty()
        self.start = time.monotonic()
        self.open = False
        self.interval = interval
        self.last_phase = ""
        self.last_time = 0.0

    def __call__(self, message: str) -> None:
        now = time.monotonic()
        stamp = f"[{now - self.start:6.1f}s] {message}"
        if self.tty:
            self.stream.write("\r\033[K" + stamp)
            self.open = True
        else:
            phase = re.sub(r"[\d.~/]+", "", message)
            if phase == self.last_phase and now - self.last_time < self.interval:
                return
            self.last_phase, self.last_time = phase, now
            self.stream.write(stamp + "\n")
        self.stream.flush()

    def done(self) -> None:
        if self.open:
            self.stream.write("\n")
            self.stream.flush()
            self.open = False


def _load(args: argparse.Namespace) -> config.Config:
    root = config.find_root(Path(args.project) if args.project else None)
    return config.load(root)


def cmd_fetch(args: argparse.Namespace, progress: Progress) -> int:
    from . import source

    cfg = _load(args)
    src = source.fetch(cfg, Path(args.source) if args.source else None, progress)
    progress.done()
    print(f"CPython {cfg.pin.version}: {src.path} ({src.digest}, via {src.provider})")
    return 0


def cmd_apply(args: argparse.Namespace, progress: Progress) -> int:
    from . import apply

    cfg = _load(args)
    t0 = time.monotonic()
    result = apply.run(
        cfg, save_to=args.save_to, source_path=Path(args.source) if args.source else None, report=progress
    )
    progress.done()
    state = result.state
    if result.saved_branch:
        print(f"saved your uncommitted work and commits on branch {result.saved_branch} in {cfg.worktree}")
    verb = "up to date" if result.noop else f"applied in {time.monotonic() - t0:.1f}s"
    print(f"{cfg.worktree}: CPython {state.version} + {len(state.patches)} patch(es), {verb}")
    print(f"  pin-{state.version}  {state.pristine[:12]}")
    for p in state.patches:
        print(f"  {p.commit[:12]}  {p.name}")
    return 0


def cmd_refresh(args: argparse.Namespace, progress: Progress) -> int:
    from . import refresh

    cfg = _load(args)
    result = refresh.run(cfg, target=args.patch, new=args.new, report=progress)
    progress.done()
    if not result.changed:
        print("nothing to write back: patches/ and cpython_overlay/ already match the work tree")
        return 0
    for line in result.changed:
        print(f"updated {line}")
    if result.backup:
        print(f"previous work-tree state kept as {result.backup}")
    return 0


def cmd_build(args: argparse.Namespace, progress: Progress) -> int:
    from . import build

    cfg = _load(args)
    targets = args.targets or ["baseline", "patched"]
    results = build.build_many(cfg, targets, args.config, progress, force=args.force)
    progress.done()
    for res in results:
        how = "cached" if res.cached else f"built in {res.seconds:.0f}s"
        print(f"{res.target:10} {res.python}  ({res.config}, tree {res.tree[:12]}, {how})")
    return 0


def cmd_python(args: argparse.Namespace, progress: Progress) -> int:
    from . import build

    cfg = _load(args)
    python = build.interpreter(cfg, args.side, args.config)
    argv = [str(python), *args.args]
    sys.stdout.flush()
    os.execv(argv[0], argv)
    return 127  # not reached


def cmd_bench(args: argparse.Namespace, progress: Progress) -> int:
    from . import bench

    cfg = _load(args)
    overrides = {"processes": args.processes, "values": args.values, "loops": args.loops,
                 "warmups": args.warmups, "fast": True if args.fast else None,
                 "rigorous": True if args.rigorous else None}
    if args.fast:
        overrides["rigorous"] = False
    elif args.rigorous:
        overrides["fast"] = False
    chosen = {k: v for k, v in overrides.items() if v is not None}
    output = Path(args.output) if args.output else None
    if args.finished_only and not args.resume:
        raise QuickenError("--finished-only reports an interrupted run: give its directory with --resume DIR")
    if args.resume:
        if args.output:
            raise QuickenError("--resume DIR is the results directory already: drop -o/--output")
        output = Path(args.resume)
        if not (output / "pyperformance" / "state.json").is_file():
            raise QuickenError(f"{output}: nothing to resume (no pyperformance/state.json)",
                               "give the results directory of an interrupted 'quicken bench' run")
    if args.layouts:
        from . import calibrate

        if args.pystats or args.instruction_loops:
            raise QuickenError("--layouts measures the wall clock only",
                               "run --pystats or --instruction-loops in a separate 'quicken bench'")
        layouts = calibrate.across_layouts(
            cfg, args.base, args.head, args.suite, shifts=args.layouts, mode=args.mode,
            config_name=args.config, overrides=chosen, output=output, report=progress)
        progress.done()
        print(bench.render_text(layouts.first))
        print(f"\nacross {len(args.layouts) + 1} code layouts (code moved by "
              f"{', '.join(f'+{s}' for s in args.layouts)} bytes on both sides):")
        print(calibrate.render_layouts(layouts.checks))
        return 0
    result = bench.run(
        cfg, base_target=args.base, head_target=args.head, suite_spec=args.suite, mode=args.mode,
        config_name=args.config, with_pystats=args.pystats, output=output, overrides=chosen,
        instruction_loops=args.instruction_loops, report=progress, finished_only=args.finished_only,
    )
    progress.done()
    print(bench.render_text(result))
    return 0


def cmd_layouts(args: argparse.Namespace, progress: Progress) -> int:
    from . import calibrate

    directories = [Path(d) for d in args.directories]
    checks = calibrate.pool(directories)
    runs = len(directories)
    print(f"{runs} 'bench --layouts' run{'s' if runs != 1 else ''} pooled; at each layout the geometric "
          "mean of the runs' ratios, judged across the layouts:")
    print(calibrate.render_layouts(checks))
    return 0


def cmd_codegen(args: argparse.Namespace, progress: Progress) -> int:
    from . import build, codegen

    cfg = _load(args)
    layouts = [codegen.read_interpreter(build.interpreter(cfg, side, args.config))
               for side in (args.base, args.head)]
    show = [name for name in args.show.split(",") if name] if args.show else []
    print(codegen.render(layouts[0], layouts[1], (args.base, args.head), show))
    return 0


def cmd_validate(args: argparse.Namespace, progress: Progress) -> int:
    from . import validate

    cfg = _load(args)
    overrides = {"processes": args.processes, "values": args.values, "warmups": args.warmups}
    outcomes = validate.run(
        cfg, names=args.patches or None, suite_spec=args.suite, config_name=args.config,
        overrides={k: v for k, v in overrides.items() if v is not None}, skip_tests=args.skip_tests,
        with_pystats=args.pystats, report=progress, instructions_only=args.instructions_only,
    )
    progress.done()
    failed = 0
    for outcome in outcomes:
        print(f"{outcome.patch}: {'PASS' if outcome.verdict.passed else 'FAIL'}")
        print(outcome.verdict.render().rstrip("\n"))
        for line in outcome.where:
            print(f"  where: {line}")
        for line in outcome.layouts:
            print(f"  layouts: {line}")
        for line in outcome.codegen:
            print(f"  codegen: {line}")
        print(f"  record: {outcome.record}\n  results: {outcome.results}")
        failed += not outcome.verdict.passed
    return 1 if failed else 0


def cmd_verify(args: argparse.Namespace, progress: Progress) -> int:
    from . import verify

    cfg = _load(args)
    options = verify.Options(
        quick=args.quick or args.fuzz, fuzz=args.fuzz or not args.quick,
        fuzz_seconds=args.seconds, fuzz_seed=args.seed, fuzz_examples=args.examples,
        regrtest=not args.no_regrtest, stress=not args.no_stress, shipped=not args.no_shipped,
        ecosystem=not args.no_ecosystem,
    )
    outcomes = verify.run(cfg, names=args.patches or None, options=options, report=progress, head=args.head)
    progress.done()
    for outcome in outcomes:
        print(verify.render(outcome))
        print(f"  record: {outcome.record}")
    return 1 if any(not o.passed for o in outcomes) else 0


def cmd_calibrate(args: argparse.Namespace, progress: Progress) -> int:
    from . import calibrate

    cfg = _load(args)
    overrides = {"processes": args.processes, "values": args.values, "warmups": args.warmups}
    cal = calibrate.run(cfg, target=args.target, shift=args.shift, suite_spec=args.suite,
                        config_name=args.config,
                        overrides={k: v for k, v in overrides.items() if v is not None}, report=progress)
    progress.done()
    print(calibrate.render(cal))
    return 0


def cmd_status(args: argparse.Namespace, progress: Progress) -> int:
    from . import status

    cfg = _load(args)
    if args.migrate_records:
        for path in status.migrate_records(cfg):
            print(f"migrated {path.name}")
    print(status.render(status.collect(cfg)))
    return 0


def _shifts(value: str) -> tuple[int, ...]:
    """``16,32,48`` -> (16, 32, 48): byte counts for ``bench --layouts``."""
    try:
        return tuple(int(part) for part in value.split(","))
    except ValueError:
        msg = f"{value!r}: give byte counts separated by commas, e.g. 16,32,48"
        raise argparse.ArgumentTypeError(msg) from None


# -- export, review, rebase, bisect -------------------------------------------------

def add_export_parser(sub: Any) -> None:
    s = sub.add_parser("export", help="write upstream-ready mails (git am) and PR descriptions")
    s.add_argument("patches", nargs="*", metavar="PATCH", help="patches to export (default: all)")
    s.add_argument("--onto", metavar="REF|PATH",
                   help="export against a revision of the work tree, a CPython checkout's HEAD, or DIR:REV")
    s.add_argument("-o", "--output", metavar="DIR",
                   help=f"where to write (default: {export.DEFAULT_OUTPUT}/)")
    s.add_argument("--force", action="store_true",
                   help="export unvalidated patches and patches without an upstream issue, marked so")
    s.add_argument("--section", default=export.DEFAULT_SECTION, choices=export.SECTIONS, metavar="SECTION",
                   help=f"blurb section of the NEWS entries (default: {export.DEFAULT_SECTION})")
    s.set_defaults(func=cmd_export)


def cmd_export(args: argparse.Namespace, progress: Progress) -> int:
    cfg = _load(args)
    results = export.run(cfg, args.patches or None, args.onto, Path(args.output) if args.output else None,
                  args.force, args.section, progress)
    progress.done()
    for ex, path in results:
        notes = []
        if not ex.validated:
            notes.append(f"UNVALIDATED: {ex.validation.describe()}")
        if ex.news is None:
            notes.append("no NEWS entry")
        print(f"{path}  [{ex.index}/{ex.total}] {ex.title}" + (f"  ({'; '.join(notes)})" if notes else ""))
    if results:
        where = results[0][1].parent
        print(f"apply in order onto the base with: git am {where}/*.patch  (order: {where / 'series'})")
    return 0

def add_review_parser(sub: Any) -> None:
    s = sub.add_parser("review", help="a maintainer's report on one patch (checks, interpreter change)")
    s.add_argument("patch", metavar="PATCH")
    s.add_argument("-o", "--output", metavar="FILE", help="write the Markdown here (default: stdout)")
    s.add_argument("--html", action="store_true",
                   help="also write a self-contained HTML page with the plot (FILE.html, default "
                        "results/review-<patch>.html)")
    s.add_argument("--exported", metavar="DIR",
                   help=f"the previous export, for the interdiff (default: {export.DEFAULT_OUTPUT}/)")
    s.set_defaults(func=cmd_review)


def cmd_review(args: argparse.Namespace, progress: Progress) -> int:
    cfg = _load(args)
    exported = Path(args.exported) if args.exported else None
    result = review.review(cfg, args.patch, exported, args.html, progress)
    progress.done()
    if args.output:
        out = Path(args.output)
        out.parent.mkdir(parents=True, exist_ok=True)
        out.write_text(result.markdown, encoding="utf-8")
        print(f"review: {out}")
    else:
        print(result.markdown, end="")
    if result.html is not None:
        page = Path(args.output).with_suffix(".html") if args.output else \
            cfg.root / "results" / f"review-{Path(result.patch.name).stem}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(result.html, encoding="utf-8")
        print(f"review (HTML): {page}", file=sys.stdout if args.output else sys.stderr)
    return 1 if result.failed else 0

def add_rebase_parser(sub: Any) -> None:
    s = sub.add_parser(
        "rebase",
        help="replay the series onto another CPython release (3-way merge, regenerated files)",
        description="Replay the series onto another CPython release or git commit.  On a conflict the "
        "rebase stops with the conflicts in the work tree; resolve, git add, then --continue "
        "(or --skip the patch, or --abort everything).",
    )
    s.add_argument("--onto", metavar="VERSION|PATH@REF",
                   help="a CPython release (3.13.5) or a commit of a CPython git checkout "
                   "(../cpython@v3.13.5)")
    s.add_argument("--sha256", metavar="HEX",
                   help="the release tarball's sha256 (default: looked up: trust on first use)")
    s.add_argument("--source", metavar="PATH", help="the new release's tarball (instead of the providers)")
    s.add_argument("--drop-upstream", action="store_true",
                   help="drop patches already upstream instead of stopping at them")
    group = s.add_mutually_exclusive_group()
    group.add_argument("--continue", dest="cont", action="store_true",
                       help="go on after resolving (and git add-ing) the conflicts")
    group.add_argument("--skip", action="store_true", help="drop the patch the rebase stopped at")
    group.add_argument("--abort", action="store_true",
                       help="undo the rebase: work tree, patches/, overlay and quicken.toml as before")
    s.set_defaults(func=cmd_rebase)


def cmd_rebase(args: argparse.Namespace, progress: Progress) -> int:
    cfg = _load(args)
    if args.cont or args.skip or args.abort:
        if args.onto or args.sha256 or args.source:
            raise QuickenError("--continue/--skip/--abort take no --onto, --sha256 or --source")
        action = rebase.cont if args.cont else rebase.skip if args.skip else rebase.abort
        result = action(cfg, progress)
    elif args.onto:
        result = rebase.start(cfg, args.onto, args.sha256, Path(args.source) if args.source else None,
                       args.drop_upstream, progress)
    else:
        wt = WorkTree(cfg)
        if wt.exists:
            wt.check_no_rebase()
        raise QuickenError("quicken rebase: nothing to do", "give --onto VERSION (or PATH@REF)")
    progress.done()
    print(rebase.render(result))
    if result.stop is not None:
        raise QuickenError(result.message, result.hint)
    return 0

def add_bisect_parser(sub: Any) -> None:
    s = sub.add_parser(
        "bisect",
        help="find the first commit (patch) that made a benchmark slower",
        description=(bisect.__doc__ or "").split("\n\n")[0] or None,
    )
    s.add_argument("--benchmark", required=True, metavar="NAME", help="one benchmark (see benchmarks/)")
    s.add_argument("--good", metavar="REV", help="a commit without the slowdown (default: the pin)")
    s.add_argument("--bad", metavar="REV", help="a commit with it (default: the tip of the series)")
    s.add_argument("--threshold", type=float, metavar="PCT",
                   help="slowdown vs good that counts as bad (default: 1 instructions, 5 wall)")
    s.add_argument("--mode", default="instructions", choices=bisect.MODES)
    s.add_argument("--config", metavar="NAME", help="build configuration (default: release)")
    s.add_argument("--repo", metavar="PATH", help="bisect commits of this CPython git checkout instead")
    s.add_argument("--loops", type=int, help="instructions mode: loops N for callgrind (runs N and 2N)")
    s.add_argument("--max-rounds", type=int, default=8,
                   help="wall mode: rounds of samples before a comparison counts as not sure")
    s.add_argument("--script", action="store_true",
                   help="judge HEAD of the checkout only; exit 0 good, 1 bad, 125 skip (git bisect run)")
    s.set_defaults(func=cmd_bisect)


def cmd_bisect(args: argparse.Namespace, progress: Progress) -> int:
    repo = Path(args.repo) if args.repo else None
    if args.script:
        try:
            cfg = _load(args)
            verdict, line = bisect.judge_head(cfg, args.benchmark, args.good, args.threshold, args.mode,
                                              args.config, repo, args.loops, args.max_rounds, progress)
        except QuickenError as exc:
            progress.done()
            print(f"quicken: error: {exc.message}", file=sys.stderr)
            if exc.hint:
                print(f"quicken: hint: {exc.hint}", file=sys.stderr)
            return bisect.EXIT_ERROR
        progress.done()
        print(line)
        return bisect.EXIT[verdict]
    cfg = _load(args)
    result = bisect.run(cfg, args.benchmark, args.good, args.bad, args.threshold, args.mode, args.config,
                        repo, args.loops, args.max_rounds, progress)
    progress.done()
    print(bisect.render(result))
    return 0 if result.search.first_bad is not None else 1


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="quicken", description=__doc__)
    p.add_argument("-C", "--project", metavar="DIR", help="the project directory (default: search upwards)")
    sub = p.add_subparsers(dest="command", required=True)

    s = sub.add_parser("fetch", help="get and verify the pinned CPython source into the cache")
    s.add_argument("--source", metavar="PATH", help="a release tarball or a CPython git checkout")
    s.set_defaults(func=cmd_fetch)

    s = sub.add_parser("apply", help="materialize pin + overlay + series as a git work tree")
    s.add_argument("--source", metavar="PATH", help="a release tarball or a CPython git checkout")
    s.add_argument(
        "--save-to",
        metavar="BRANCH",
        help="keep uncommitted work and unrefreshed commits on this new branch, then apply",
    )
    s.set_defaults(func=cmd_apply)

    s = sub.add_parser("refresh", help="write work-tree changes back into patches/ and cpython_overlay/")
    s.add_argument(
        "--patch",
        metavar="NAME",
        help="patch that receives uncommitted changes and commits after the top patch "
        "(default: the top patch)",
    )
    s.add_argument(
        "--new",
        action="store_true",
        help="turn each commit after the top patch into a new patch appended to the series",
    )
    s.set_defaults(func=cmd_refresh)

    s = sub.add_parser("build", help="build interpreters out of tree (cached by source tree)")
    s.add_argument(
        "targets",
        nargs="*",
        metavar="TARGET",
        help="baseline, patched, or any commit of the work tree (default: baseline patched)",
    )
    s.add_argument("--config", metavar="NAME", help="build configuration from quicken.toml")
    s.add_argument("--force", action="store_true", help="rebuild even if the tree was built")
    s.set_defaults(func=cmd_build)

    s = sub.add_parser("python", help="run a built interpreter: quicken python patched -- ARGS")
    s.add_argument("side", nargs="?", default="patched", help="baseline, patched or a commit")
    s.add_argument("--config", metavar="NAME")
    s.set_defaults(args=[])
    s.set_defaults(func=cmd_python)

    s = sub.add_parser("bench", help="benchmark two builds (wall time with pyperf, instruction counts)")
    s.add_argument("--base", default="baseline", help="base side: baseline (default), patched or a commit")
    s.add_argument("--head", default="patched", help="head side: patched (default), baseline or a commit")
    s.add_argument("--suite", default="quick",
                   help="quick, full, pyperformance, web, or a comma list of benchmark names")
    s.add_argument("--mode", default="both", choices=("wall", "instructions", "both", "pystats"),
                   help="what to measure (pystats: only the pystats comparison)")
    s.add_argument("--pystats", action="store_true", help="also collect and compare pystats (pystats builds)")
    s.add_argument("--config", metavar="NAME", help="build configuration (default: release)")
    s.add_argument("-o", "--output", metavar="DIR", help="results directory (default: results/<stamp>-...)")
    s.add_argument("--processes", type=int, help="pyperf worker processes per side (alternated)")
    s.add_argument("--values", type=int, help="pyperf values per process")
    s.add_argument("--warmups", type=int, help="pyperf warmups per process")
    s.add_argument("--loops", type=int, help="fixed pyperf loop count (default: calibrated on the base)")
    s.add_argument("--instruction-loops", type=int, help="loops N for callgrind (runs N and 2N)")
    s.add_argument("--fast", action="store_true", help="pyperf/pyperformance --fast (rough answers quickly)")
    s.add_argument("--rigorous", action="store_true", help="pyperf/pyperformance --rigorous")
    s.add_argument("--resume", metavar="DIR",
                   help="finish an interrupted run in its results directory (benchmarks of pyperformance's "
                        "runner that finished are not run again)")
    s.add_argument("--finished-only", action="store_true",
                   help="with --resume: report the benchmarks of pyperformance's runner that finished, "
                        "without running the others")
    s.add_argument("--layouts", type=_shifts, metavar="BYTES",
                   help="also measure the wall clock with both sides' code moved by each of these byte "
                        "counts (N mod 64 before the interpreter loop, the rest after it; e.g. "
                        "1040,2080,3120; both builds linked again, the loop padded between its blocks "
                        "too, hot functions in an order of the layout's own) and judge every benchmark "
                        "across the layouts")
    s.set_defaults(func=cmd_bench)

    s = sub.add_parser("layouts", help="pool several 'bench --layouts' runs of the same two trees")
    s.add_argument("directories", nargs="+", metavar="DIR",
                   help="results directories of 'quicken bench --layouts' runs comparing the same trees")
    s.set_defaults(func=cmd_layouts)

    s = sub.add_parser("codegen", help="how the compiler laid out the interpreter loop of two builds")
    s.add_argument("--base", default="baseline", help="base side: baseline (default), patched or a commit")
    s.add_argument("--head", default="patched", help="head side: patched (default), baseline or a commit")
    s.add_argument("--config", metavar="NAME", help="build configuration from quicken.toml")
    s.add_argument("--show", metavar="OPCODES", help="comma list of opcodes to disassemble")
    s.set_defaults(func=cmd_codegen)

    s = sub.add_parser("validate", help="run the validation gate for patches and write their records")
    s.add_argument("patches", nargs="*", metavar="PATCH", help="patches to validate (default: all)")
    s.add_argument("--suite", help="suite run besides the targets (default: [validate] suite, quick)")
    s.add_argument("--config", metavar="NAME", help="build configuration (default: release)")
    s.add_argument("--processes", type=int, help="pyperf worker processes per side (alternated)")
    s.add_argument("--values", type=int, help="pyperf values per process")
    s.add_argument("--warmups", type=int, help="pyperf warmups per process")
    s.add_argument("--skip-tests", action="store_true", help="do not run the patch's CPython tests")
    s.add_argument("--pystats", action="store_true",
                   help="also require the Quicken-Family families' specialized share to rise")
    s.add_argument("--instructions-only", action="store_true",
                   help="re-check a current record's instruction counts on this machine (minutes; the wall "
                        "evidence is kept)")
    s.set_defaults(func=cmd_validate)

    s = sub.add_parser("verify", help="the differential correctness gate: patched must behave like stock")
    s.add_argument("patches", nargs="*", metavar="PATCH", help="patches to verify (default: all)")
    s.add_argument("--quick", action="store_true",
                   help="only the differential programs and the patches' own tests (about 2 minutes)")
    s.add_argument("--head", metavar="REV",
                   help="check this commit of the work tree against the pin instead (no record written)")
    s.add_argument("--fuzz", action="store_true",
                   help="the differential programs, the patches' own tests and generated programs only")
    s.add_argument("--seconds", type=int, default=120, help="time for generated programs (default 120)")
    s.add_argument("--seed", type=int, default=0, help="seed of the generated programs (default 0)")
    s.add_argument("--examples", type=int, help="exactly this many generated programs (repeat a run)")
    s.add_argument("--no-regrtest", action="store_true", help="skip CPython's test suite on both builds")
    s.add_argument("--no-stress", action="store_true", help="skip the stress builds")
    s.add_argument("--no-shipped", action="store_true",
                   help="skip the programs on the [verify] configs builds (pgo-lto: two profile-guided "
                        "builds of about 25 minutes each when not built yet)")
    s.add_argument("--no-ecosystem", action="store_true", help="skip the third-party packages")
    s.set_defaults(func=cmd_verify)

    s = sub.add_parser("calibrate", help="benchmark a build against itself with only its code layout moved")
    s.add_argument("target", nargs="?", default="baseline",
                   help="baseline (default), patched, a patch or a commit")
    s.add_argument("--shift", type=int, default=48,
                   help="bytes the code is moved by: N mod 64 before the interpreter loop, the rest "
                        "after it, and pads between the loop's blocks (default 48; the build is linked "
                        "again, not rebuilt)")
    s.add_argument("--suite", default="quick", help="quick, full, or a comma list of benchmark names")
    s.add_argument("--config", metavar="NAME", help="build configuration (default: release)")
    s.add_argument("--processes", type=int, help="pyperf worker processes per side (alternated)")
    s.add_argument("--values", type=int, help="pyperf values per process")
    s.add_argument("--warmups", type=int, help="pyperf warmups per process")
    s.set_defaults(func=cmd_calibrate)

    add_export_parser(sub)
    add_review_parser(sub)
    add_rebase_parser(sub)
    add_bisect_parser(sub)

    s = sub.add_parser("status", help="pin, work tree, series and builds")
    s.add_argument("--migrate-records", action="store_true",
                   help="first rewrite the patches' records of older schemas in place")
    s.set_defaults(func=cmd_status)
    return p


def main(argv: list[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    passthrough: list[str] = []
    if "--" in argv:  # everything after -- goes to the interpreter (quicken python SIDE -- ARGS)
        cut = argv.index("--")
        argv, passthrough = argv[:cut], argv[cut + 1:]
    args, extra = parser().parse_known_args(argv)
    if extra or passthrough:
        if args.command != "python":
            parser().error(f"unrecognized arguments: {' '.join(extra or passthrough)}")
        args.args = extra + passthrough
    progress = Progress()
    try:
        return int(args.func(args, progress))
    except QuickenError as exc:
        progress.done()
        print(f"quicken: error: {exc.message}", file=sys.stderr)
        for line in exc.details:
            print(f"    {line}", file=sys.stderr)
        if exc.hint:
            print(f"quicken: hint: {exc.hint}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        progress.done()
        print("quicken: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
