"""Time a cold and a no-op ``quicken apply`` of a series (issue 16, part 3).

    python benchmarks/apply_time.py [--series DIR] [--work DIR] [--repeat N] [--json FILE]

A temporary project (or ``--work DIR``, which must not hold a work tree yet)
uses this checkout's quicken.toml and code (``tools/``) with the series in
``--series`` (default: this checkout's patches/ and cpython_overlay/), and a
work tree of its own.  The source tarball comes from the cache
(``$QUICKEN_CACHE_DIR`` or ``~/.cache/quicken``); fetch it once first with
``quicken fetch``.  Each cold run starts from an empty project directory.

Figures are wall-clock seconds; the progress lines of the cold run (their
``[  12.3s]`` stamps) show where the time went.  The load average is printed
beside them: the figures mean little on a busy machine.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
TARGETS = {"cold_apply": 25.0, "noop_apply": 2.0}


def make_project(project: Path, series: Path) -> None:
    project.mkdir(parents=True, exist_ok=True)
    text = (ROOT / "quicken.toml").read_text()
    text = text.replace(
        "[paths]\n",
        f'[paths]\npatches = "{series / "patches"}"\noverlay = "{series / "cpython_overlay"}"\n',
        1,
    )
    (project / "quicken.toml").write_text(text)


def cpu_seconds() -> float:
    """CPU time (user + system) used so far by finished child processes: less sensitive to load."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def quicken(project: Path, *args: str) -> tuple[float, str, str]:
    env = {**os.environ, "PYTHONPATH": str(ROOT / "tools")}
    start = time.monotonic()
    proc = subprocess.run(
        [sys.executable, "-m", "quicken", "-C", str(project), *args],
        env=env, capture_output=True, text=True, check=False,
    )
    elapsed = time.monotonic() - start
    if proc.returncode != 0:
        sys.stderr.write(proc.stdout + proc.stderr)
        raise SystemExit(f"quicken {' '.join(args)} failed (exit {proc.returncode})")
    return elapsed, proc.stdout, proc.stderr


def load() -> str:
    try:
        return " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        return "?"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=Path, default=ROOT,
                    help="a directory holding patches/ and cpython_overlay/")
    ap.add_argument("--work", type=Path, help="project directory to use (kept afterwards)")
    ap.add_argument("--repeat", type=int, default=1, help="cold applies to run (the best one is reported)")
    ap.add_argument("--progress", action="store_true", help="print the cold run's progress lines")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    series = args.series.resolve()
    colds: list[float] = []
    cold_cpu: list[float] = []
    noops: list[float] = []
    loads: list[str] = [load()]
    progress = summary = ""
    with tempfile.TemporaryDirectory(prefix="quicken-apply-time-") as tmp_s:
        base = args.work.resolve() if args.work else Path(tmp_s)
        for run in range(args.repeat):
            project = base / f"project-{run}" if args.work is None else base
            if args.work is not None and (project / "work").exists():
                if run == 0 and any((project / "work").iterdir()):
                    raise SystemExit(f"{project / 'work'}: exists; the cold run needs an empty project")
                shutil.rmtree(project / "work")
            make_project(project, series)
            cpu = cpu_seconds()
            seconds, out, progress_text = quicken(project, "apply")
            cold_cpu.append(cpu_seconds() - cpu)
            colds.append(seconds)
            progress, summary = progress or progress_text, summary or out
            noops.append(quicken(project, "apply")[0])
            loads.append(load())
            if args.work is None:
                shutil.rmtree(project)
    results = {"cold_apply": min(colds), "noop_apply": min(noops)}
    cpu_text = ", ".join(f"{c:.1f}" for c in cold_cpu)
    if args.progress:
        sys.stdout.write(progress)
    # the commit ids are deterministic: equal ids, equal trees (whatever code regenerated them)
    sys.stdout.write(summary)
    print(f"{'step':12} {'seconds':>9} {'target':>8}   (all runs: cold {colds}, no-op {noops})")
    for key, value in results.items():
        verdict = "ok" if value <= TARGETS[key] else "MISSED"
        print(f"{key:12} {value:9.1f} {TARGETS[key]:8.1f}   {verdict}")
    print(f"cold apply CPU time (user + system, all processes): {cpu_text} s")
    print(f"load average (1, 5, 15 min) before and after each run: {' | '.join(loads)}; "
          f"cores: {os.cpu_count()}")
    if args.json:
        figures = {**results, "cold_runs": colds, "cold_cpu": cold_cpu, "noop_runs": noops, "load": loads}
        args.json.write_text(json.dumps(figures, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
