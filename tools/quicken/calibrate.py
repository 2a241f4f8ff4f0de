"""``quicken calibrate``: what a change that does nothing does to the numbers.

Every patch changes the machine code of the interpreter loop, and with it the
address at which every other instruction's code lands: branch targets move to
other cache lines, other alignments, other predictor slots.  On some machines
that alone moves micro-benchmarks by several percent on the wall clock, and it
can change gcc's block layout (an extra ``jmp`` here or there) by a few tenths
of a percent of instructions.  The gate cannot tell such effects from the
patch's own.

The calibration measures them: it builds the target with a *layout-only*
change -- an unused hot function of ``shift`` bytes placed just before
``_PyEval_EvalFrameDefault``, so the loop starts at another address and
nothing else differs -- and benchmarks the two like any base and head.  Every
significant difference it reports is this machine's layout noise, the floor
below which a gate verdict on that benchmark says nothing about a patch.

The probe commit is made aside (its own index, author and date fixed, so the
same target and shift give the same commit and the build is cached) and kept
under ``refs/quicken/calibrate/``; the work tree and branch are not touched.
"""

from __future__ import annotations

import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import bench, build
from .config import Config
from .errors import QuickenError
from .gitutil import PIN_IDENTITY
from .worktree import WorkTree

Report = Callable[[str], None]
CEVAL = "Python/ceval.c"
PROBE_REF = "refs/quicken/calibrate/"
_ANCHOR = re.compile(r"^PyObject\* _Py_HOT_FUNCTION\n_PyEval_EvalFrameDefault\(", re.MULTILINE)


def insert_probe(source: str, shift: int) -> str:
    """``Python/ceval.c`` with the layout probe of ``shift`` bytes before the interpreter loop."""
    if not 1 <= shift <= 4096:
        raise QuickenError(f"--shift {shift}: choose a number of bytes from 1 to 4096")
    found = list(_ANCHOR.finditer(source))
    if len(found) != 1:
        raise QuickenError(
            f"{CEVAL}: the definition 'PyObject* _Py_HOT_FUNCTION\\n_PyEval_EvalFrameDefault(' "
            f"was found {len(found)} times, not once",
            "calibrate knows CPython 3.13's ceval.c; place the probe by hand and bench that commit",
        )
    probe = (
        "/* quicken calibrate: a layout probe, never for upstream.  An unused hot\n"
        f"   function of {shift} bytes that moves the interpreter loop; no behaviour\n"
        "   changes. */\n"
        "_Py_HOT_FUNCTION __attribute__((used, noinline)) void\n"
        "_PyQuicken_LayoutProbe(void)\n"
        "{\n"
        f'    __asm__ volatile (".skip {shift}, 0x90");\n'
        "}\n\n"
    )
    at = found[0].start()
    return source[:at] + probe + source[at:]


def probe_commit(cfg: Config, target: str, shift: int) -> tuple[str, str]:
    """(the target's commit, the probe commit on top of it)."""
    _, commit, _ = build.resolve(cfg, target)
    g = WorkTree(cfg).repo()
    if g.rev(f"{commit}:{CEVAL}") is None:
        raise QuickenError(f"{target}: {CEVAL} not found in commit {commit[:12]}")
    shifted = insert_probe(g.blob(f"{commit}:{CEVAL}").decode("utf-8"), shift)
    with tempfile.TemporaryDirectory(prefix="quicken-calibrate-") as scratch:
        tree = g.tree_with(commit, CEVAL, shifted.encode("utf-8"), Path(scratch))
    message = f"quicken calibrate: layout probe of {shift} bytes before the interpreter loop\n"
    probe = g.commit_tree(tree, commit, message, PIN_IDENTITY)
    g.update_ref(f"{PROBE_REF}{commit[:12]}-{shift}", probe)
    return commit, probe


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
    commit, probe = probe_commit(cfg, target, shift)
    report(f"calibrate: {target} ({commit[:12]}) vs its layout probe {probe[:12]} (+{shift} bytes)")
    result = bench.run(cfg, commit, probe, suite_spec, "both", config_name, overrides=overrides,
                       report=report, labels=(target, f"{target}+{shift}B"))
    return Calibration(target, shift, result, cfg.validate.max_wall_slowdown)


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
