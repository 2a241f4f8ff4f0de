"""rebase and bisect on the real CPython: 3.13.15 -> 3.13.5 -> 3.13.15, and a regression hunt.

* rebase: the fixture series (tests/fixtures/cpython-series) is rebased onto
  3.13.5 (Debian's source package) and back; the patches and quicken.toml must
  come back byte for byte.
* bisect: the fixture series plus tests/fixtures/bisect-series (8 commits after
  the pin; 0005 makes ``int &`` spin in Objects/longobject.c, the others are
  harmless) on 3.13.15, instructions mode on the int_bitwise micro-benchmark;
  bisect must name 0005 with about ceil(log2 8) + 2 = 5 judgements.  Each new
  tree is a fresh build slot, mostly ccache hits (a few minutes in all).

Set QUICKEN_SKIP_INTEGRATION=1 to skip.
"""

from __future__ import annotations

import shutil
import subprocess
import time
from pathlib import Path

import pytest
from quicken import apply, bisect, config, rebase, source
from quicken.series import load as load_series
from realproject import MARKS, ROOT, write_config

FIXTURE = ROOT / "tests" / "fixtures" / "cpython-series"
BISECT = ROOT / "tests" / "fixtures" / "bisect-series"
OLD, OLD_SHA = "3.13.15", "1e66a7945a48390ee4c2a4268a0e4185884059a13c4aab6d148aa208deea4a76"
NEW, NEW_SHA = "3.13.5", "93e583f243454e6e9e4588ca2c2662206ad961659863277afcdb96801647d640"
SLOW = "0005-spin-in-int-and-deliberate-slowdown.patch"

pytestmark = MARKS


def make_project(root: Path, with_bisect: bool = False) -> config.Config:
    root.mkdir(parents=True, exist_ok=True)
    write_config(root, root / "patches", root / "cpython_overlay")
    shutil.copytree(FIXTURE / "patches", root / "patches")
    shutil.copytree(FIXTURE / "cpython_overlay", root / "cpython_overlay")
    if with_bisect:
        for patch in sorted((BISECT / "patches").glob("*.patch")):
            shutil.copyfile(patch, root / "patches" / patch.name)
        extra = (BISECT / "patches" / "series").read_text()
        with open(root / "patches" / "series", "a") as f:
            f.write(extra)
    return config.load(root)


def files(directory: Path) -> dict[str, bytes]:
    return {p.relative_to(directory).as_posix(): p.read_bytes() for p in sorted(directory.rglob("*"))
            if p.is_file()}


def git(cfg: config.Config, *args: str) -> str:
    return subprocess.run(["git", "-C", str(cfg.worktree), *args], check=True, capture_output=True,
                          text=True).stdout.strip()


def test_rebase_to_3_13_5_and_back_is_byte_identical(tmp_path: Path) -> None:
    cfg = make_project(tmp_path)
    assert apply.run(cfg).state.version == OLD
    before = {"patches": files(cfg.patches), "overlay": files(cfg.overlay),
              "toml": (cfg.root / "quicken.toml").read_bytes()}
    old_tip_tree = git(cfg, "rev-parse", "HEAD^{tree}")

    t0 = time.monotonic()
    down = rebase.start(cfg, NEW, NEW_SHA)
    down_s = time.monotonic() - t0
    assert down.done, rebase.render(down)
    assert {s.outcome for s in down.steps} == {rebase.CLEAN}
    moved = config.load(cfg.root)
    assert (moved.pin.version, moved.pin.sha256) == (NEW, NEW_SHA)
    assert git(cfg, "log", "-1", "--format=%s", "HEAD~2") == f"CPython {NEW} (pristine)"
    assert "3.13.5" in git(cfg, "show", "HEAD:Include/patchlevel.h")
    assert "Quicken fixture: this comment reaches the generated cases." in git(
        cfg, "show", "HEAD:Python/generated_cases.c.h")
    # 0002's mail now records 3.13.5's blob of bytecodes.c; its hunk did not move
    kinds = {i.name: i.kind for i in down.interdiffs}
    assert kinds == {"0001-tag-fixture-builds.patch": "unchanged",
                     "0002-mark-nop-in-the-generated-cases.patch": "line numbers and blob ids only"}
    assert apply.run(moved).noop
    series = load_series(moved)
    from quicken import validate
    assert all(validate.standing(moved, series, p).word() == "never" for p in series.patches)

    t0 = time.monotonic()
    up = rebase.start(moved, OLD, None)  # sha256 looked up: the cached, once verified tarball
    up_s = time.monotonic() - t0
    assert up.done and any("verified when it was first fetched" in n for n in up.notes)
    back = config.load(cfg.root)
    assert {"patches": files(back.patches), "overlay": files(back.overlay),
            "toml": (back.root / "quicken.toml").read_bytes()} == before
    assert git(cfg, "rev-parse", "HEAD^{tree}") == old_tip_tree
    assert apply.run(back).noop
    print(f"rebase {OLD} -> {NEW}: {down_s:.1f}s, back: {up_s:.1f}s")


def test_the_debian_sha256_lookup_matches_the_known_one(tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch) -> None:
    """Trust on first use from an empty cache: Debian's .orig tarball of 3.13.5."""
    monkeypatch.setenv("QUICKEN_CACHE_DIR", str(tmp_path / "cache"))
    cfg = make_project(tmp_path / "project")
    digest, note = source.lookup_sha256(cfg, NEW, None, lambda _: None)
    assert digest == NEW_SHA and "trust on first use" in note
    assert source.sha256_file(next((tmp_path / "cache" / "sources").glob("Python-3.13.5-*"))) == NEW_SHA


def test_bisect_names_the_slow_patch(tmp_path: Path) -> None:
    cfg = make_project(tmp_path, with_bisect=True)
    state = apply.run(cfg).state
    assert len(state.patches) == 8
    t0 = time.monotonic()
    result = bisect.run(cfg, "int_bitwise")
    seconds = time.monotonic() - t0
    s = result.search
    print(bisect.render(result))
    assert s.n == 8 and s.exact
    assert result.names[result.commits[s.first_bad]] == SLOW
    assert len(s.judged) <= bisect.expected_judgements(8) == 5
    bad, parent = s.judged[s.first_bad], s.judged[s.first_bad - 1]
    assert bad.ratio is not None and bad.ratio > 1.05
    assert parent.ratio is not None and abs(parent.ratio - 1) < 0.002  # the harmless patches change nothing
    again = bisect.run(cfg, "int_bitwise")  # builds and counts cached
    assert again.search.first_bad == s.first_bad and again.builds == 0
    print(f"bisect: {seconds:.0f}s ({result.builds} builds), again {again.seconds:.1f}s")
