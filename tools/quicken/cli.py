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
from typing import TextIO

from . import config
from .errors import QuickenError


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
                 "warmups": args.warmups}
    result = bench.run(
        cfg, base_target=args.base, head_target=args.head, suite_spec=args.suite, mode=args.mode,
        config_name=args.config, with_pystats=args.pystats,
        output=Path(args.output) if args.output else None,
        overrides={k: v for k, v in overrides.items() if v is not None},
        instruction_loops=args.instruction_loops, report=progress,
    )
    progress.done()
    print(bench.render_text(result))
    return 0


def cmd_validate(args: argparse.Namespace, progress: Progress) -> int:
    from . import validate

    cfg = _load(args)
    overrides = {"processes": args.processes, "values": args.values, "warmups": args.warmups}
    outcomes = validate.run(
        cfg, names=args.patches or None, suite_spec=args.suite, config_name=args.config,
        overrides={k: v for k, v in overrides.items() if v is not None}, skip_tests=args.skip_tests,
        with_pystats=args.pystats, report=progress,
    )
    progress.done()
    failed = 0
    for outcome in outcomes:
        print(f"{outcome.patch}: {'PASS' if outcome.verdict.passed else 'FAIL'}")
        print(outcome.verdict.render().rstrip("\n"))
        print(f"  record: {outcome.record}\n  results: {outcome.results}")
        failed += not outcome.verdict.passed
    return 1 if failed else 0


def cmd_status(args: argparse.Namespace, progress: Progress) -> int:
    from . import status

    cfg = _load(args)
    print(status.render(status.collect(cfg)))
    return 0


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
    s.add_argument("--suite", default="quick", help="quick, full, or a comma list of benchmark names")
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
    s.set_defaults(func=cmd_bench)

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
    s.set_defaults(func=cmd_validate)

    from . import bisect, export, rebase, review

    export.add_parser(sub)
    review.add_parser(sub)
    rebase.add_parser(sub)
    bisect.add_parser(sub)

    s = sub.add_parser("status", help="pin, work tree, series and builds")
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
