"""quicken.transaction: patches/ and the overlay hold the old series or the new one, never a mix."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import synthetic as S
from quicken import refresh, transaction
from quicken.errors import ApplyError
from quicken.series import Inputs
from quicken.transaction import Transaction, Written
from quicken.worktree import WorkTree

FIRST = "0001-count-calls-in-ceval.patch"
SECOND = "0002-add-the-load-const-instruction.patch"
HEADER = "Include/quicken_counter.h"


def inputs(p: S.Project) -> dict[str, object]:
    return {"patches": S.tree_files(p.patches), "overlay": S.tree_files(p.overlay)}


def leftovers(p: S.Project) -> list[Path]:
    return [f for root in (p.patches, p.overlay) for f in root.rglob("*") if f.name.endswith(".quicken-new")]


class FailingReplace:
    """os.replace that fails on its ``n``-th call (after the earlier ones went through)."""

    def __init__(self, n: int) -> None:
        self.n = n
        self.calls = 0
        self.real = os.replace

    def __call__(self, src: object, dst: object) -> None:
        self.calls += 1
        if self.calls == self.n:
            raise OSError(28, "No space left on device")
        self.real(src, dst)  # type: ignore[arg-type]


def test_staging_touches_nothing_until_commit(applied: S.Project, tmp_path: Path) -> None:
    before = inputs(applied)
    tx = Transaction(tmp_path / "tx", Inputs.of(applied.cfg()))
    tx.write_patch(FIRST, b"new mail\n")
    tx.write_overlay("Lib/new_helper.py", b"x = 1\n")
    tx.remove_overlay(HEADER)
    tx.write_patch(SECOND, (applied.patches / SECOND).read_bytes())  # unchanged: not a change
    assert inputs(applied) == before
    assert [(w.path.relative_to(applied.root).as_posix(), w.removed) for w in tx.commit()] == [
        (f"patches/{FIRST}", False), ("cpython_overlay/Lib/new_helper.py", False),
        (f"cpython_overlay/{HEADER}", True)]
    assert (applied.patches / FIRST).read_bytes() == b"new mail\n"
    assert (applied.overlay / "Lib/new_helper.py").read_bytes() == b"x = 1\n"
    assert not (applied.overlay / "Include").exists()  # emptied directories go too
    assert leftovers(applied) == []


def test_removing_a_patch_drops_its_file_record_and_series_line(applied: S.Project, tmp_path: Path) -> None:
    (applied.patches / "0002-add-the-load-const-instruction.validation.json").write_text("{}\n")
    tx = Transaction(tmp_path / "tx", Inputs.of(applied.cfg()))
    tx.remove_patch(SECOND)
    written = tx.commit()
    assert Written(applied.patches / SECOND, removed=True) in written
    assert sorted(p.name for p in applied.patches.iterdir()) == [FIRST, "series"]
    assert (applied.patches / "series").read_text() == f"# test series\n{FIRST}\n"


@pytest.mark.parametrize("fail_at", [1, 2, 3])
def test_a_failure_midway_leaves_the_series_as_it_was(
    applied: S.Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, fail_at: int
) -> None:
    before = inputs(applied)
    tx = Transaction(tmp_path / "tx", Inputs.of(applied.cfg()))
    tx.append_patch("0003-more.patch")
    tx.write_patch("0003-more.patch", b"a third mail\n")
    tx.write_patch(FIRST, b"rewritten\n")
    tx.write_overlay("Lib/deep/new_helper.py", b"x = 1\n")
    tx.remove_overlay(HEADER)
    failing = FailingReplace(fail_at)
    monkeypatch.setattr(transaction.os, "replace", failing)
    with pytest.raises(OSError, match="No space left"):
        tx.commit()
    monkeypatch.undo()
    assert failing.calls >= fail_at
    assert inputs(applied) == before
    assert leftovers(applied) == []
    assert not (applied.overlay / "Lib").exists()


def test_an_interrupt_before_the_renames_changes_nothing(
    applied: S.Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    before = inputs(applied)
    tx = Transaction(tmp_path / "tx", Inputs.of(applied.cfg()))
    tx.write_patch(FIRST, b"rewritten\n")
    tx.write_patch(SECOND, b"rewritten too\n")

    def interrupted(fd: int) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(transaction.os, "fsync", interrupted)
    with pytest.raises(KeyboardInterrupt):
        tx.commit()
    monkeypatch.undo()
    assert inputs(applied) == before and leftovers(applied) == []


def test_verify_refuses_a_series_that_does_not_reproduce_the_tree(applied: S.Project, tmp_path: Path) -> None:
    cfg = applied.cfg()
    wt = WorkTree(cfg)
    state = wt.state()
    tx = Transaction(tmp_path / "tx", Inputs.of(cfg))
    tx.remove_patch(SECOND)
    with pytest.raises(ApplyError, match="not reproduced"):
        tx.verify(cfg, wt, state.pristine, wt.repo().tree_of(state.tip), lambda _: None,
                  ApplyError("not reproduced"))
    commits = tx.verify(cfg, wt, state.pristine, wt.repo().tree_of(state.patches[0].commit), lambda _: None,
                        ApplyError("not reproduced"))
    assert [c for _, c in commits] == [state.patches[0].commit]


def test_refresh_failing_while_writing_keeps_patches_and_overlay(
    applied: S.Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The refresh writes two files (a patch and an overlay file); the second rename fails."""
    before = inputs(applied)
    header = applied.worktree / HEADER
    header.write_text("#define QUICKEN_COUNTER 2\n")
    path = applied.worktree / "Python/ceval.c"
    path.write_text(S.replace(path.read_text(), "int ceval_line_30 = 30;\n", "int ceval_line_30 = 3000;\n"))
    applied.git("commit", "-q", "-am", "fixup! Count calls in ceval")
    monkeypatch.setattr(transaction.os, "replace", FailingReplace(2))
    with pytest.raises(OSError, match="No space left"):
        refresh.run(applied.cfg())
    monkeypatch.undo()
    assert inputs(applied) == before and leftovers(applied) == []
    result = refresh.run(applied.cfg())
    assert sorted(result.changed) == [f"cpython_overlay/{HEADER}", f"patches/{FIRST}"]
