"""Measure the speed of ``quicken rebase`` and ``quicken bisect`` on the real CPython.

    python benchmarks/series_speed.py [--builds DIR] [--json FILE] [--skip-bisect]

In a temporary project using this repository's quicken.toml:

* rebase of the fixture series (tests/fixtures/cpython-series) from 3.13.15
  onto 3.13.5 (the first time: extract + commit the new pristine tree, replay,
  regenerate, re-apply check), then back onto 3.13.15 (the pristine commit and
  the regeneration results are reused).  No build is involved.
* bisect of the 8-patch bisect series (cpython-series + bisect-series, 0005
  slows down ``int &``) on int_bitwise in instructions mode: a first run (builds
  whatever --builds does not hold yet), a run with every build cached but the
  instruction counts measured again, and a run with everything cached.

Both sources come from the cache or Debian (3.13.5's sha256 is given, as the
pin would record it).  Figures are wall-clock seconds, printed as a table and
optionally written as JSON.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))

from quicken import apply, bisect, config, rebase  # noqa: E402

FIXTURE = ROOT / "tests" / "fixtures" / "cpython-series"
BISECT = ROOT / "tests" / "fixtures" / "bisect-series"
NEW, NEW_SHA = "3.13.5", "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"
OLD, OLD_SHA = "3.13.15", "1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76"


def make_project(root: Path, builds: Path, with_bisect: bool) -> config.Config:
    root.mkdir(parents=True)
    text = (ROOT / "quicken.toml").read_text()
    paths = (f'[paths]\npatches = "{root}/patches"\noverlay = "{root}/cpython_overlay"\n'
             f'benchmarks = "{ROOT}/benchmarks"\n')
    text = text.replace("[paths]\n", paths, 1).replace('builds = "work/builds"', f'builds = "{builds}"')
    (root / "quicken.toml").write_text(text)
    shutil.copytree(FIXTURE / "patches", root / "patches")
    shutil.copytree(FIXTURE / "cpython_overlay", root / "cpython_overlay")
    if with_bisect:
        for patch in sorted((BISECT / "patches").glob("*.patch")):
            shutil.copyfile(patch, root / "patches" / patch.name)
        with open(root / "patches" / "series", "a") as f:
            f.write((BISECT / "patches" / "series").read_text())
    return config.load(root)


def timed(results: dict[str, float], key: str, fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.monotonic()
    value = fn(*args, **kwargs)
    results[key] = round(time.monotonic() - start, 2)
    print(f"{key:40} {results[key]:8.1f} s", flush=True)
    return value


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--builds", type=Path, default=ROOT / "work" / "builds",
                    help="builds directory (reused, so builds of earlier runs count as cached)")
    ap.add_argument("--skip-bisect", action="store_true", help="only measure the rebase")
    ap.add_argument("--json", type=Path, help="write the figures here")
    args = ap.parse_args()
    results: dict[str, float] = {}
    extra: dict[str, object] = {}
    with tempfile.TemporaryDirectory(prefix="quicken-series-speed-") as tmp:
        cfg = make_project(Path(tmp) / "rebase", args.builds, with_bisect=False)
        timed(results, "apply fixture series (3.13.15)", apply.run, cfg)
        down = timed(results, f"rebase {OLD} -> {NEW} (first time)", rebase.start, cfg, NEW, NEW_SHA)
        assert down.done, rebase.render(down)
        up = timed(results, f"rebase {NEW} -> {OLD} (pristine known)", rebase.start,
                   config.load(cfg.root), OLD, OLD_SHA)
        assert up.done, rebase.render(up)
        again = timed(results, f"rebase {OLD} -> {NEW} (pristine known)", rebase.start,
                      config.load(cfg.root), NEW, NEW_SHA)
        assert again.done
        if not args.skip_bisect:
            bcfg = make_project(Path(tmp) / "bisect", args.builds, with_bisect=True)
            timed(results, "apply bisect series (8 patches)", apply.run, bcfg)
            first = timed(results, "bisect, first run", bisect.run, bcfg, "int_bitwise")
            extra["first_run_builds"] = first.builds
            extra["judgements"] = len(first.search.judged)
            extra["first_bad"] = first.names.get(first.commits[first.search.first_bad or 0])
            counts = bcfg.builds / "release" / "bisect-counts.json"
            counts.unlink(missing_ok=True)
            second = timed(results, "bisect, cached builds (counts measured)", bisect.run, bcfg,
                           "int_bitwise")
            extra["second_run_builds"] = second.builds
            timed(results, "bisect, builds and counts cached", bisect.run, bcfg, "int_bitwise")
            print(bisect.render(second))
    print(json.dumps({"seconds": results, **extra}, indent=1))
    if args.json:
        args.json.write_text(json.dumps({"seconds": results, **extra}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
