"""quicken.replay: the one engine that makes a patch's commit (apply, refresh, rebase, export)."""

from __future__ import annotations

from pathlib import Path

import pytest
import synthetic as S
from quicken import replay
from quicken.errors import ApplyError
from quicken.replay import Diff, Engine, Outcome, Policy
from quicken.series import Patch, Series
from quicken.series import load as load_series
from quicken.worktree import WorkTree

FIRST = "0001-count-calls-in-ceval.patch"
SECOND = "0002-add-the-load-const-instruction.patch"
REBASE = Policy(upstream=True, three_way=True, drop_empty=True)


class Bench:
    """The applied project's repository, a scratch tree in it, and its series."""

    def __init__(self, project: S.Project, tmp: Path) -> None:
        self.project = project
        self.cfg = project.cfg()
        wt = WorkTree(self.cfg)
        self.g = wt.repo()
        self.state = wt.state()
        self.series: Series = load_series(self.cfg)
        self.scratch = self.g.with_tree(tmp / "scratch", tmp / "scratch.index")
        (tmp / "scratch").mkdir(parents=True)
        self.tmp = tmp

    def patch(self, name: str) -> Patch:
        return self.series.patch(name)

    def commit(self, name: str) -> str:
        found = self.state.commit_of(name)
        assert found is not None
        return found

    def parent_with(self, base: str, path: str, text: str) -> str:
        """A commit on ``base`` whose ``path`` holds ``text``."""
        tree = self.g.tree_with(base, {path: text.encode()}, self.tmp / "tree-with")
        return self.g.commit_tree(tree, base, f"change {path}\n", self.patch(FIRST).author)

    def engine(self, policy: Policy = replay.STRICT) -> Engine:
        return Engine(self.cfg, self.scratch, self.tmp / "work", self.cfg.overlay, policy)

    def replay(self, parent: str, name: str, policy: Policy = replay.STRICT) -> replay.Replayed:
        self.scratch("read-tree", "--reset", "-u", parent)
        patch = self.patch(name)
        owned = self.series.overlay_of(patch)
        return self.engine(policy).replay(parent, patch, owned, [Diff.of_patch(patch)])

    def unmerged(self) -> list[str]:
        return replay.unmerged_paths(self.scratch)


@pytest.fixture
def bench(applied: S.Project, tmp_path: Path) -> Bench:
    return Bench(applied, tmp_path / "bench")


def ceval_with(old: str, new: str) -> str:
    return S.replace(S.CEVAL_C, old, new)


def test_clean_replay_makes_the_commit_apply_made(bench: Bench) -> None:
    done = bench.replay(bench.state.pristine, FIRST)
    assert done.outcome is Outcome.CLEAN and done.outcome.committed
    assert done.commit == bench.commit(FIRST)
    assert done.tree == bench.g.tree_of(bench.commit(FIRST))
    second = bench.replay(bench.commit(FIRST), SECOND)  # regenerates Python/generated.h
    assert second.commit == bench.commit(SECOND)


def test_offsets_are_reported_per_hunk(bench: Bench) -> None:
    parent = bench.parent_with(bench.state.pristine, "Python/ceval.c", "/* moved */\n" + S.CEVAL_C)
    done = bench.replay(parent, FIRST)
    assert done.outcome is Outcome.OFFSETS
    assert done.detail == "Python/ceval.c hunk #1 at line 5 (+1)"
    assert done.commit is not None and bench.g("rev-parse", f"{done.commit}^") == parent


def test_three_way_merge_when_only_the_context_moved(bench: Bench) -> None:
    text = ceval_with("int ceval_line_03 = 3;\n", "int ceval_line_03 = 33;\n")
    parent = bench.parent_with(bench.state.pristine, "Python/ceval.c", text)
    strict = bench.replay(parent, FIRST)
    assert strict.outcome is Outcome.CONFLICTED and strict.commit is None
    assert strict.failed is not None and strict.failed.what == ""
    assert [str(m) for m in strict.mismatches] == [
        "Python/ceval.c hunk @@ -4,6 +4,7 @@ int ceval_line_02 = 2;: "
        "line 4 expected 'int ceval_line_03 = 3;', "
        "found 'int ceval_line_03 = 33;'"]
    merged = bench.replay(parent, FIRST, REBASE)
    assert merged.outcome is Outcome.MERGED and merged.detail == "Python/ceval.c"
    assert merged.commit is not None
    blob = bench.g.blob(f"{merged.commit}:Python/ceval.c").decode()
    assert "ceval_line_03 = 33" in blob and '#include "quicken_counter.h"' in blob


def test_conflicts_leave_the_scratch_tree_at_the_parent(bench: Bench) -> None:
    text = ceval_with("int ceval_line_05 = 5;\n", "int ceval_line_05 = 55;\n")
    parent = bench.parent_with(bench.state.pristine, "Python/ceval.c", text)
    done = bench.replay(parent, FIRST, REBASE)
    assert done.outcome is Outcome.CONFLICTED and not done.outcome.committed
    assert done.files == ("Python/ceval.c",) and done.commit is None and done.tree is None
    assert done.mismatches and done.mismatches[0].path == "Python/ceval.c"
    assert bench.unmerged() == []
    assert bench.scratch("write-tree") == bench.g.tree_of(parent)
    assert not (bench.tmp / "scratch" / "Include" / "quicken_counter.h").exists()


def test_a_change_already_in_the_parent_is_upstream(bench: Bench) -> None:
    done = bench.replay(bench.commit(SECOND), SECOND, REBASE)
    assert done.outcome is Outcome.UPSTREAM and done.commit is None
    assert done.mismatches  # why it did not apply forwards
    assert bench.scratch("write-tree") == bench.g.tree_of(bench.commit(SECOND))
    strict = bench.replay(bench.commit(SECOND), SECOND)
    assert strict.outcome is Outcome.CONFLICTED  # apply does not look for it upstream


def test_nothing_left_to_change_is_emptied(bench: Bench) -> None:
    parent = bench.commit(FIRST)
    bench.scratch("read-tree", "--reset", "-u", parent)
    patch = bench.patch(SECOND)
    done = bench.engine(REBASE).replay(parent, patch)
    assert done.outcome is Outcome.EMPTIED and done.commit is None
    assert done.detail == "nothing left to change on the new base: dropped"
    kept = bench.engine().replay(parent, patch)  # without drop_empty: an empty commit
    assert kept.outcome is Outcome.CLEAN and bench.g.tree_of(kept.commit or "") == bench.g.tree_of(parent)


def test_folded_diffs_and_their_failures_are_named(bench: Bench) -> None:
    patch = bench.patch(FIRST)
    extra = ("diff --git a/README b/README\n--- a/README\n+++ b/README\n@@ -1 +1 @@\n"
             "-This is a fake CPython release for Quicken's tests.\n+Hi\n")
    bench.scratch("read-tree", "--reset", "-u", bench.state.pristine)
    done = bench.engine().replay(bench.state.pristine, patch, bench.series.overlay_of(patch),
                                 [Diff.of_patch(patch), Diff.of_text(extra, "commit 0123456789ab")])
    assert done.outcome is Outcome.CLEAN and done.commit is not None
    assert bench.g.blob(f"{done.commit}:README") == b"Hi\n"
    bench.scratch("read-tree", "--reset", "-u", bench.state.pristine)
    twice = bench.engine().replay(bench.state.pristine, patch, bench.series.overlay_of(patch),
                                  [Diff.of_patch(patch), Diff.of_text(extra, "x"), Diff.of_text(extra, "y")])
    assert twice.outcome is Outcome.CONFLICTED and twice.failed is not None and twice.failed.what == "y"
    assert [m.problem for m in twice.mismatches] == ["line 1 expected \"This is a fake CPython release for "
                                                     "Quicken's tests.\", found 'Hi'"]


def test_an_overlay_file_the_parent_has_is_refused(bench: Bench) -> None:
    with pytest.raises(ApplyError, match=r"quicken_counter\.h: already exists in the tree before 0001"):
        bench.replay(bench.commit(FIRST), FIRST, REBASE)


def test_mismatches_name_missing_and_existing_files(tmp_path: Path) -> None:
    (tmp_path / "new.c").write_text("x\n")
    diff = ("diff --git a/gone.c b/gone.c\n--- a/gone.c\n+++ b/gone.c\n@@ -1 +1 @@\n-a\n+b\n"
            "diff --git a/new.c b/new.c\nnew file mode 100644\n--- /dev/null\n+++ b/new.c\n"
            "@@ -0,0 +1 @@\n+y\n")
    found = list(replay.mismatches_in(tmp_path, diff))
    assert [(m.path, m.header, m.problem) for m in found] == [
        ("gone.c", "@@ -1,1 +1,1 @@", "no such file"), ("new.c", "", "already exists")]
    assert str(found[1]) == "new.c: already exists"


def test_mismatches_in_a_crlf_file_name_the_hunk_that_does_not_fit(tmp_path: Path) -> None:
    """A CRLF file's hunks that fit are not reported (its lines keep their CRs, as the hunk's do)."""
    (tmp_path / "p.vcxproj").write_bytes(b"<a>\r\n  <b/>\r\n</a>\r\n")
    (tmp_path / "t.c").write_bytes(b"int x;\nint y;\n")
    diff = ("diff --git a/p.vcxproj b/p.vcxproj\n--- a/p.vcxproj\n+++ b/p.vcxproj\n"
            "@@ -1,3 +1,4 @@\n <a>\r\n   <b/>\r\n+  <c/>\r\n </a>\r\n"
            "diff --git a/t.c b/t.c\n--- a/t.c\n+++ b/t.c\n@@ -1,2 +1,2 @@\n int x;\n-int z;\n+int w;\n")
    found = list(replay.mismatches_in(tmp_path, diff))
    assert [(m.path, m.problem) for m in found] == [("t.c", "line 2 expected 'int z;', found 'int y;'")]
    # A hunk that differs from the file only in its line endings says so.
    lf = diff.replace("\r\n", "\n").split("diff --git a/t.c")[0]
    (only,) = replay.mismatches_in(tmp_path, lf)
    assert only.problem == "line 1 expected '<a>', found '<a>\\r'"


def test_the_callers_share_the_engine() -> None:
    """apply, rebase and export replay through replay.Engine, none with a git apply of its own."""
    import inspect

    from quicken import apply, export, rebase, refresh

    for module in (apply, rebase, export, refresh):
        source = inspect.getsource(module)
        assert '"apply", "--' not in source and "'apply', '--" not in source, module.__name__
    assert "Engine(" in inspect.getsource(apply) and "Engine(" in inspect.getsource(rebase)
    assert "Engine(" in inspect.getsource(export)
    assert not hasattr(apply, "_write_overlay_file") and not hasattr(rebase, "_overlay_into")
