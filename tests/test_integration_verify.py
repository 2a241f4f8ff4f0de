"""quicken verify on the real series: the quick gate passes, and it catches four bugs.

The product series is applied to the pinned CPython and its tip is built (ccache
makes the second side cheap).  The quick differential programs must pass on
it.  Then ``tests/fixtures/unfixed/revert-the-sameness-fixes.diff`` -- the C
changes of the three fixes of issue 15, reversed -- and
``tests/fixtures/unfixed/forget-no-hash-of-a-reused-zip-or-enumerate-tuple.diff``
-- 0015 without its forget calls in zip and enumerate -- are committed aside
on top of the tip, regenerated, built, and checked with ``verify --head``: the
gate must fail, naming the program and the first differing line of each bug.

Slow; set QUICKEN_SKIP_INTEGRATION=1 to skip it locally.
"""

from __future__ import annotations

import shutil
import tempfile
from pathlib import Path

import pytest
from quicken import apply, build, config, regen, verify
from quicken.gitutil import PIN_IDENTITY
from quicken.series import load as load_series
from quicken.worktree import WorkTree
from realproject import MARKS, ROOT, write_config

UNFIXED = ROOT / "tests" / "fixtures" / "unfixed"
UNFIX = (UNFIXED / "revert-the-sameness-fixes.diff",
         UNFIXED / "forget-no-hash-of-a-reused-zip-or-enumerate-tuple.diff")

pytestmark = MARKS


@pytest.fixture(scope="module")
def series_project(tmp_path_factory: pytest.TempPathFactory) -> config.Config:
    """The product series (copies of this checkout's patches and overlay; its programs), applied aside."""
    root = tmp_path_factory.mktemp("series")
    # copies: verify writes its records beside the patches
    shutil.copytree(ROOT / "patches", root / "patches")
    shutil.copytree(ROOT / "cpython_overlay", root / "cpython_overlay")
    write_config(root, root / "patches", root / "cpython_overlay")
    cfg = config.load(root)
    apply.run(cfg)
    return cfg


def unfixed_commit(cfg: config.Config) -> str:
    """The series tip with the bugs put back, regenerated, committed aside."""
    wt = WorkTree(cfg)
    g = wt.repo()
    tip = wt.head()
    with tempfile.TemporaryDirectory(prefix="quicken-unfixed-") as tmp:
        scratch = g.with_tree(Path(tmp) / "tree", Path(tmp) / "index")
        scratch.work_tree.mkdir()  # type: ignore[union-attr]
        scratch("read-tree", tip)
        for diff in UNFIX:
            scratch("apply", "--cached", str(diff))
        scratch("checkout-index", "-a", "-u")
        changed = scratch("diff", "--cached", "--name-only", tip).splitlines()
        regen.regenerate(cfg, scratch, changed, None)
        tree = scratch("write-tree")
    commit = g.commit_tree(tree, tip, "test: put four fixed bugs back\n", PIN_IDENTITY)
    g.update_ref("refs/quicken/test/unfixed", commit)
    return commit


def test_quick_verify_passes_on_the_series_and_fails_without_the_fixes(series_project: config.Config) -> None:
    cfg = series_project
    series = load_series(cfg)
    tip = series.patches[-1]
    (outcome,) = verify.run(cfg, [tip.name], verify.Options(quick=True, fuzz=False))
    assert outcome.passed, verify.render(outcome)
    assert "CALL_ALLOC_AND_ENTER_INIT_GENERAL" in outcome.new and not outcome.unreached
    assert verify.standing(cfg, series, tip).word() == "verified"

    commit = unfixed_commit(cfg)
    build.build_one(cfg, commit, None, lambda _: None)
    (bad,) = verify.run(cfg, options=verify.Options(quick=True, fuzz=False), head=commit)
    assert not bad.passed
    failures = "\n".join(bad.failures)
    # 0008: the cached value's new __get__ is ignored
    assert "load_attr_class.py (release): output differs: stdout line" in failures
    assert "('ok', ('get', 'C'))" in failures
    # 0009: the PEP 523 hook misses __init__
    assert "pep523.py (release): output differs" in failures
    # 0003, 0006: the fused instructions are lost once UNPACK_SEQUENCE specialized first
    assert ("fused_after_unpack.py (release): never reached FOR_ITER_DICT_ITEMS, FOR_ITER_ENUMERATE"
            in failures)
    # 0015: a zip or enumerate tuple reused in place answers with its old hash
    assert "tuple_hash.py (release): output differs: stdout line" in failures
    assert "zip: [" in failures
    assert verify.standing(cfg, series, tip).word() == "verified"  # --head writes no record
