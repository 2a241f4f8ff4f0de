"""The fast regeneration path on the real pinned CPython and the real series.

``quicken apply`` regenerates with the case generators in one process (one parse of
Python/bytecodes.c), independent rules in parallel, global-objects skipped while the lines
it scans are unchanged and clinic given only the files with clinic input.  Here every rule
then runs again the old way, one process per generator command, global-objects
unconditionally and clinic on every changed file, on the applied commits: the tree must not
change (byte-identical outputs).  Slow; skipped with QUICKEN_SKIP_INTEGRATION=1.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from quicken import apply, config, regen
from quicken.series import load as load_series
from quicken.worktree import PATCH_REFS, WorkTree
from realproject import MARKS, ROOT, write_config

pytestmark = MARKS


@pytest.fixture(scope="module")
def applied(tmp_path_factory: pytest.TempPathFactory) -> config.Config:
    root = tmp_path_factory.mktemp("regen-project")
    write_config(root, ROOT / "patches", ROOT / "cpython_overlay")
    cfg = config.load(root)
    assert any(rule.in_process and rule.memoize for rule in cfg.regen)  # the fast path is configured
    assert any(rule.scan for rule in cfg.regen)
    apply.run(cfg)
    return cfg


@pytest.mark.parametrize("which", [0, -1], ids=["first-patch", "tip"])
def test_fast_regen_equals_one_process_per_generator(
    applied: config.Config, which: int, tmp_path: Path
) -> None:
    series = load_series(applied)
    g = WorkTree(applied).repo()
    commit = g("rev-parse", f"{PATCH_REFS}{series.patches[which].name}")
    tree = g.tree_of(commit)
    check = g.with_tree(tmp_path / "tree", tmp_path / "index")
    (tmp_path / "tree").mkdir()
    check("read-tree", "--reset", "-u", tree)
    changed = sorted({f.path for p in series.patches for f in p.files})
    for rule in applied.regen:
        slow = dataclasses.replace(rule, in_process=False, memoize=(), scan=(), markers=(), needs=())
        regen.run_rule(applied, slow, changed, tmp_path / "tree")
    check.run("update-index", "-q", "--refresh")
    assert check.unstaged_paths() == []
    assert check("write-tree") == tree
