"""Measure the pipeline's own speed targets (issue: core pipeline).

    python benchmarks/pipeline_speed.py [--series DIR] [--touch PATH] [--clean-build]

Runs, in a temporary project that uses this repository's quicken.toml and the
given series (default: the integration fixture series):

* apply from the cached tarball into a fresh work tree   (target <= 20 s)
* a second, no-op apply                                    (target <= 2 s)
* build of an unchanged tree (baseline + patched)          (target <= 5 s)
* rebuild of 'patched' after touching one overlay file     (target <= 30 s)
* with --clean-build: a clean 'quicken build baseline' with ccache disabled
  against a bare 'configure && make -jN' of the same tarball (target: within 5 %)

Each step runs the real ``quicken`` command line as a user would; figures are
wall-clock seconds and print as a table plus JSON (``--json FILE``).
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
TARGETS = {"apply": 20.0, "noop_apply": 2.0, "build_unchanged": 5.0, "rebuild_one_file": 30.0}


def cpu_seconds() -> float:
    """CPU time (user + system) used so far by finished child processes."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


def quicken(project: Path, *args: str, env: dict[str, str] | None = None) -> float:
    start = time.monotonic()
    subprocess.run([sys.executable, "-m", "quicken", "-C", str(project), *args], check=True,
                   stdout=subprocess.DEVNULL, env=env)
    return time.monotonic() - start


def make_project(tmp: Path, series: Path, builds: Path) -> Path:
    project = tmp / "project"
    project.mkdir()
    text = (ROOT / "quicken.toml").read_text()
    text = text.replace(
        "[paths]\n",
        f'[paths]\npatches = "{project}/patches"\noverlay = "{project}/cpython_overlay"\n', 1,
    ).replace('builds = "work/builds"', f'builds = "{builds}"')
    (project / "quicken.toml").write_text(text)
    shutil.copytree(series / "patches", project / "patches")
    shutil.copytree(series / "cpython_overlay", project / "cpython_overlay")
    return project


def bare_build(tarball: Path, tmp: Path, jobs: int) -> float:
    src = tmp / "bare-src"
    obj = tmp / "bare-obj"
    src.mkdir()
    obj.mkdir()
    subprocess.run(["tar", "xf", str(tarball), "-C", str(src), "--strip-components=1"], check=True)
    env = {**os.environ, "CCACHE_DISABLE": "1"}
    start = time.monotonic()
    subprocess.run([str(src / "configure")], cwd=obj, check=True, stdout=subprocess.DEVNULL, env=env)
    subprocess.run(["make", f"-j{jobs}"], cwd=obj, check=True, stdout=subprocess.DEVNULL,
                   stderr=subprocess.DEVNULL, env=env)
    return time.monotonic() - start


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--series", type=Path, default=ROOT / "tests" / "fixtures" / "cpython-series",
                    help="a directory holding patches/ and cpython_overlay/")
    ap.add_argument("--touch", default=None, help="overlay file to touch (default: the first one)")
    ap.add_argument("--builds", type=Path, default=ROOT / "work" / "builds",
                    help="builds directory to reuse (so 'unchanged' builds are really cached)")
    ap.add_argument("--clean-build", action="store_true", help="also compare a clean build with a bare one")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    results: dict[str, float] = {}
    with tempfile.TemporaryDirectory(prefix="quicken-speed-") as tmp_s:
        tmp = Path(tmp_s)
        project = make_project(tmp, args.series, args.builds)
        quicken(project, "fetch")  # make sure the tarball is cached: apply is measured from the cache
        results["apply"] = quicken(project, "apply")
        results["noop_apply"] = quicken(project, "apply")
        quicken(project, "build")  # make sure both sides are built once
        results["build_unchanged"] = quicken(project, "build")
        overlay = sorted(p for p in (project / "cpython_overlay").rglob("*") if p.is_file())
        touched = project / "cpython_overlay" / args.touch if args.touch else overlay[0]
        with open(touched, "a") as f:
            f.write("\n/* touched by pipeline_speed.py */\n")
        rel = touched.relative_to(project / "cpython_overlay").as_posix()
        start = time.monotonic()
        quicken(project, "apply")
        quicken(project, "build", "patched")
        results["rebuild_one_file"] = time.monotonic() - start
        if args.clean_build:
            jobs = os.cpu_count() or 1
            sys.path.insert(0, str(ROOT / "tools"))
            from quicken import config, source

            cfg = config.load(project)
            tarball = source.fetch(cfg).path
            env = {**os.environ, "CCACHE_DISABLE": "1"}
            cpu = cpu_seconds()
            results["clean_build"] = quicken(project, "build", "baseline", "--force", env=env)
            results["clean_build_cpu"] = cpu_seconds() - cpu
            cpu = cpu_seconds()
            results["bare_configure_make"] = bare_build(tarball, tmp, jobs)
            results["bare_configure_make_cpu"] = cpu_seconds() - cpu
    print(f"{'step':24} {'seconds':>9} {'target':>8}")
    for key, value in results.items():
        target = TARGETS.get(key)
        verdict = "" if target is None else ("ok" if value <= target else "MISSED")
        print(f"{key:24} {value:9.1f} {target if target else '':>8} {verdict}")
    if "clean_build" in results:
        ratio = results["clean_build"] / results["bare_configure_make"]
        print(f"clean build / bare build: {ratio:.3f} wall (target <= 1.05)")
        cpu_ratio = results["clean_build_cpu"] / results["bare_configure_make_cpu"]
        print(f"clean build / bare build: {cpu_ratio:.3f} CPU time (robust to other load on the machine)")
    print(f"touched overlay file: {rel}")
    if args.json:
        args.json.write_text(json.dumps(results, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
