"""quicken.apply: materializing pin + overlay + series, transactionally."""

from __future__ import annotations

import json
import os
import shutil
from collections.abc import Callable
from email.utils import parsedate_to_datetime
from pathlib import Path

import pytest
import synthetic as S
from quicken import apply, series
from quicken.errors import ApplyError, DirtyTreeError, QuickenError, RegenError
from quicken.worktree import WorkTree

FIRST = "0001-count-calls-in-ceval.patch"
SECOND = "0002-add-the-load-const-instruction.patch"


def mtimes(root: Path) -> dict[str, int]:
    return {
        p.relative_to(root).as_posix(): p.stat().st_mtime_ns
        for p in root.rglob("*")
        if ".git" not in p.relative_to(root).parts and p.is_file()
    }


def refuse(project: S.Project, kind: type[QuickenError], **kwargs: object) -> QuickenError:
    before = S.snapshot(project)
    with pytest.raises(kind) as info:
        project.apply(**kwargs)
    assert "\n" not in info.value.message
    assert S.snapshot(project) == before
    return info.value


def test_first_apply(applied: S.Project, two_patches: list[S.Mail]) -> None:
    p = applied
    state = WorkTree(p.cfg()).state()
    # commit 0: the pristine release, tagged, with the pin's identity
    pristine = p.git("rev-parse", "pin-3.99.0^{commit}")
    assert state.pristine == pristine
    assert p.git("rev-list", "--count", "HEAD") == "3"
    assert p.git("log", "-1", "--format=%an <%ae> %aI|%cn %cI|%B", pristine) == (
        "Quicken <quicken@localhost> 2001-01-01T00:00:00+00:00|Quicken 2001-01-01T00:00:00+00:00|"
        f"CPython 3.99.0 (pristine)\n\nQuicken-Pin: 3.99.0\nQuicken-Source: sha256:{p.sha256}"
    )
    pristine_files = {
        path: p.git("show", f"{pristine}:{path}") + "\n" for path in p.git("ls-tree", "-r", "--name-only",
                                                                            pristine).splitlines()
    }
    assert pristine_files == S.pristine_files()
    assert p.git("ls-tree", pristine, "configure").startswith("100755 ")
    # one commit per patch, message/author/date from the mail
    c1, c2 = p.git("rev-list", "--reverse", f"{pristine}..HEAD").split()
    assert p.git("rev-parse", f"refs/quicken/patches/{FIRST}") == c1
    assert p.git("rev-parse", f"refs/quicken/patches/{SECOND}") == c2
    assert p.git("for-each-ref", "--format=%(refname)", "refs/quicken/").splitlines() == [
        f"refs/quicken/patches/{FIRST}", f"refs/quicken/patches/{SECOND}"]
    for commit, mail in ((c1, two_patches[0]), (c2, two_patches[1])):
        parsed = series.parse_patch(p.patches / mail.name)
        assert p.git("log", "-1", "--format=%B", commit) + "\n" == parsed.message
        assert p.git("log", "-1", "--format=%an <%ae>|%cn <%ce>", commit) == (
            "Ada Patcher <ada@example.invalid>|Ada Patcher <ada@example.invalid>")
        date = parsedate_to_datetime(parsed.author.date)
        assert p.git("log", "-1", "--format=%aI %cI", commit) == f"{date.isoformat()} {date.isoformat()}"
    # the overlay file arrives with its patch
    assert p.git("diff", "--name-only", pristine, c1).splitlines() == ["Include/quicken_counter.h",
                                                                      "Python/ceval.c"]
    assert p.git("show", f"{c1}:Include/quicken_counter.h") == "#define QUICKEN_COUNTER 1"
    # the generated file is regenerated inside the patch's commit
    assert p.git("diff", "--name-only", c1, c2).splitlines() == ["Python/bytecodes.c", "Python/generated.h"]
    bytecodes = (p.worktree / "Python/bytecodes.c").read_text()
    assert "inst(LOAD_CONST)" in bytecodes
    assert (p.worktree / "Python/generated.h").read_text() == S.generated_for(bytecodes)
    assert 'GENERATED_OPS "NOP,LOAD_FAST,LOAD_CONST,STORE_FAST,RETURN_VALUE"' in S.generated_for(bytecodes)
    # the work tree: on branch quicken, clean, state recorded
    assert p.git("symbolic-ref", "HEAD") == "refs/heads/quicken"
    assert p.git("status", "--porcelain", "--untracked-files=all") == ""
    assert state.tip == c2 and [x.commit for x in state.patches] == [c1, c2]
    assert state.digest == series.load(p.cfg()).digest
    assert [x.name for x in state.patches] == [FIRST, SECOND]
    assert not list(p.worktree.parent.glob(".cpython.new-*"))


def test_empty_series_gives_the_pristine_tree(project: S.Project) -> None:
    result = project.apply()
    assert not result.noop and result.state.patches == []
    assert result.state.tip == result.state.pristine == project.git("rev-parse", "HEAD")
    assert {k: v[1].decode() for k, v in S.tree_files(project.worktree).items()} == S.pristine_files()


def test_commit_ids_are_deterministic(
    make_project: Callable[..., S.Project], two_patches: list[S.Mail], hermetic_env: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    one = make_project(two_patches)
    first = one.apply().state
    monkeypatch.setenv("QUICKEN_CACHE_DIR", str(hermetic_env / "other-cache"))
    monkeypatch.setenv("GIT_COMMITTER_DATE", "Mon, 1 Jan 2035 00:00:00 +0000")  # must not matter
    two = make_project(two_patches)
    second = two.apply().state
    assert second.pristine == first.pristine and second.tip == first.tip
    assert [x.commit for x in second.patches] == [x.commit for x in first.patches]
    assert one.git("for-each-ref") == two.git("for-each-ref")


def test_reapply_unchanged_is_a_noop(applied: S.Project) -> None:
    before_mtimes = mtimes(applied.worktree)
    before = S.snapshot(applied)
    result = applied.apply()
    assert result.noop and result.saved_branch is None
    assert S.snapshot(applied) == before
    assert mtimes(applied.worktree) == before_mtimes


def test_edited_patch_updates_the_tree(applied: S.Project) -> None:
    path = applied.patches / SECOND
    path.write_text(path.read_text().replace("LOAD_CONST", "LOAD_SMALL_INT"))
    before = mtimes(applied.worktree)
    old_tip = applied.git("rev-parse", "HEAD")
    result = applied.apply()
    assert not result.noop
    bytecodes = (applied.worktree / "Python/bytecodes.c").read_text()
    assert "inst(LOAD_SMALL_INT)" in bytecodes and "LOAD_CONST" not in bytecodes
    assert (applied.worktree / "Python/generated.h").read_text() == S.generated_for(bytecodes)
    head = applied.git("rev-parse", "HEAD")
    assert head != old_tip and head == result.state.tip
    assert applied.git("log", "-1", "--format=%s") == "Add the LOAD_SMALL_INT instruction"
    assert applied.git("rev-parse", f"refs/quicken/patches/{SECOND}") == head
    assert applied.git("status", "--porcelain", "--untracked-files=all") == ""
    # only the changed files were rewritten (builds stay incremental)
    after = mtimes(applied.worktree)
    assert {f for f in after if after[f] != before[f]} == {"Python/bytecodes.c", "Python/generated.h"}
    assert applied.apply().noop


def test_dropping_a_patch_removes_its_ref(applied: S.Project) -> None:
    (applied.patches / SECOND).unlink()
    (applied.patches / "series").write_text(f"{FIRST}\n")
    state = applied.apply().state
    assert applied.git("for-each-ref", "--format=%(refname)", "refs/quicken/").splitlines() == [
        f"refs/quicken/patches/{FIRST}"]
    assert state.tip == applied.git("rev-parse", "HEAD")
    assert (applied.worktree / "Python/bytecodes.c").read_text() == S.BYTECODES_C
    assert (applied.worktree / "Python/generated.h").read_text() == S.generated_for(S.BYTECODES_C)


def test_apply_after_removing_the_work_tree_reproduces_it(applied: S.Project) -> None:
    state = WorkTree(applied.cfg()).state()
    tree = applied.git("rev-parse", "HEAD^{tree}")
    refs = applied.git("for-each-ref")
    shutil.rmtree(applied.worktree)
    again = applied.apply()
    assert not again.noop
    assert applied.git("rev-parse", "HEAD^{tree}") == tree
    assert again.state.tip == state.tip and again.state.pristine == state.pristine
    assert applied.git("for-each-ref") == refs


# -- a hunk that does not apply ----------------------------------------------------


def _break_second(project: S.Project) -> tuple[Path, str]:
    path = project.patches / SECOND
    text = path.read_text()
    assert " inst(STORE_FAST) {\n" in text
    path.write_text(text.replace(" inst(STORE_FAST) {\n", " inst(STORE_SLOW) {\n"))
    header = next(ln for ln in path.read_text().splitlines() if ln.startswith("@@ "))
    lineno = S.BYTECODES_C.splitlines().index("inst(STORE_FAST) {") + 1
    message = (
        f"{SECOND} does not apply: Python/bytecodes.c hunk {header}: line {lineno} "
        "expected 'inst(STORE_SLOW) {', found 'inst(STORE_FAST) {'"
    )
    return path, message


def test_hunk_that_does_not_apply_on_reapply(applied: S.Project) -> None:
    path, message = _break_second(applied)
    err = refuse(applied, ApplyError)
    assert err.message == message
    assert err.hint is not None
    assert err.hint.startswith(f"the work tree is unchanged; fix the hunk in {path} ")
    # and once fixed, apply works again from the untouched tree
    path.write_text(path.read_text().replace(" inst(STORE_SLOW) {\n", " inst(STORE_FAST) {\n"))
    assert applied.apply().noop


def test_hunk_that_does_not_apply_on_first_apply(
    make_project: Callable[..., S.Project], two_patches: list[S.Mail]
) -> None:
    proj = make_project(two_patches)
    _, message = _break_second(proj)
    err = refuse(proj, ApplyError)
    assert err.message == message
    assert not proj.worktree.exists()
    assert [p.name for p in proj.worktree.parent.iterdir()] == [".cpython.lock"]


def test_patch_for_a_missing_file(applied: S.Project) -> None:
    path = applied.patches / SECOND
    path.write_text(path.read_text().replace("Python/bytecodes.c", "Python/nothere.c"))
    err = refuse(applied, ApplyError)
    assert err.message == f"{SECOND} does not apply: Python/nothere.c: no such file"


def test_overlay_file_that_already_exists(applied: S.Project) -> None:
    path = applied.patches / FIRST
    path.write_text(path.read_text().replace("Quicken-Overlay: Include/quicken_counter.h",
                                             "Quicken-Overlay: Include/quicken_counter.h\n"
                                             "Quicken-Overlay: README"))
    (applied.overlay / "README").write_text("mine\n")
    err = refuse(applied, ApplyError)
    assert err.message == f"{applied.overlay / 'README'}: already exists in the tree before {FIRST}"


# -- the user's work is never lost ------------------------------------------------------


def _uncommitted(p: S.Project) -> str:
    (p.worktree / "README").write_text("my edit\n")
    return "1 uncommitted change(s) (first: README)"


def _untracked(p: S.Project) -> str:
    (p.worktree / "Lib").mkdir()
    (p.worktree / "Lib" / "new.py").write_text("new = 1\n")
    return "1 uncommitted change(s) (first: Lib/new.py)"


def _commit(p: S.Project) -> str:
    (p.worktree / "Python/ceval.c").write_text("/* rewritten */\n")
    p.git("commit", "-q", "-am", "my commit")
    return "1 commit(s) not written back to patches/"


def _both(p: S.Project) -> str:
    _commit(p)
    _uncommitted(p)
    return "1 uncommitted change(s) (first: README) and 1 commit(s) not written back to patches/"


def _detached(p: S.Project) -> str:
    p.git("checkout", "-q", "pin-3.99.0")
    return "HEAD moved off the series"


@pytest.mark.parametrize("make_dirty", [_uncommitted, _untracked, _commit, _both, _detached])
@pytest.mark.parametrize("series_changed", [True, False], ids=["series-changed", "series-same"])
def test_dirty_work_tree_refused(
    applied: S.Project, make_dirty: Callable[[S.Project], str], series_changed: bool
) -> None:
    what = make_dirty(applied)
    if series_changed:
        path = applied.patches / SECOND
        path.write_text(path.read_text().replace("LOAD_CONST", "LOAD_SMALL_INT"))
    err = refuse(applied, DirtyTreeError)
    assert err.message == f"{applied.worktree}: {what}"
    assert err.hint == (
        "write them back with 'quicken refresh', or keep them on a branch with "
        "'quicken apply --save-to BRANCH'"
    )


def test_save_to_keeps_the_work_and_applies(applied: S.Project) -> None:
    _commit(applied)
    user_commit = applied.git("rev-parse", "HEAD")
    _uncommitted(applied)
    _untracked(applied)
    path = applied.patches / SECOND
    path.write_text(path.read_text().replace("LOAD_CONST", "LOAD_SMALL_INT"))
    result = applied.apply(save_to="my-work")
    assert result.saved_branch == "my-work" and not result.noop
    saved = applied.git("rev-parse", "refs/heads/my-work")
    assert applied.git("rev-parse", f"{saved}^") == user_commit
    assert applied.git("show", f"{saved}:README") == "my edit"
    assert applied.git("show", f"{saved}:Lib/new.py") == "new = 1"
    assert applied.git("show", f"{saved}:Python/ceval.c") == "/* rewritten */"
    # ... and the work tree now holds the applied series, clean
    assert applied.git("rev-parse", "HEAD") == result.state.tip
    assert applied.git("symbolic-ref", "HEAD") == "refs/heads/quicken"
    assert applied.git("status", "--porcelain", "--untracked-files=all") == ""
    assert not (applied.worktree / "Lib").exists()
    assert (applied.worktree / "README").read_text() == S.README
    assert "inst(LOAD_SMALL_INT)" in (applied.worktree / "Python/bytecodes.c").read_text()
    assert applied.apply().noop


def test_save_to_with_only_commits_points_at_them(applied: S.Project) -> None:
    _commit(applied)
    user_commit = applied.git("rev-parse", "HEAD")
    applied.apply(save_to="kept")
    assert applied.git("rev-parse", "refs/heads/kept") == user_commit
    assert applied.git("rev-parse", "HEAD") == WorkTree(applied.cfg()).state().tip


@pytest.mark.parametrize(
    ("branch", "message"),
    [
        ("quicken", "--save-to 'quicken': not a usable branch name"),
        ("bad..name", "--save-to 'bad..name': not a usable branch name"),
        ("existing", "--save-to existing: branch already exists"),
    ],
)
def test_save_to_refusals(applied: S.Project, branch: str, message: str) -> None:
    applied.git("branch", "existing")
    _uncommitted(applied)
    assert refuse(applied, QuickenError, save_to=branch).message == message


# -- other refusals ---------------------------------------------------------------------


def test_foreign_directories_refused(project: S.Project) -> None:
    project.worktree.mkdir(parents=True)
    (project.worktree / "file").write_text("x")
    err = refuse(project, ApplyError)
    assert err.message == f"{project.worktree}: exists and is not a Quicken work tree"
    S.git(project.worktree, "init", "-q")
    err = refuse(project, ApplyError)
    assert err.message == f"{project.worktree}: a git repository that Quicken did not create"


def test_locked_work_tree(applied: S.Project) -> None:
    path = applied.patches / SECOND
    path.write_text(path.read_text().replace("LOAD_CONST", "LOAD_SMALL_INT"))
    with WorkTree(applied.cfg()).lock():
        err = refuse(applied, ApplyError)
    assert err.message == f"{applied.worktree}: another quicken command is using this work tree"


def _set_regen_command(project: S.Project, command: str) -> None:
    text = project.config_file.read_text()
    old = 'commands = [["{python}", "Tools/gen.py"]]'
    assert old in text
    project.config_file.write_text(text.replace(old, f"commands = [{command}]"))


def test_failing_generator(applied: S.Project) -> None:
    _set_regen_command(applied, '["{python}", "-c", "import sys; sys.exit(\'boom: no input\')"]')
    err = refuse(applied, RegenError)
    assert err.message == "regen gen: -c import sys; sys.exit('boom: no input') failed: boom: no input"


def test_generator_writing_undeclared_file(applied: S.Project) -> None:
    _set_regen_command(applied, '["{python}", "-c", "open(\'README\', \'w\').write(\'oops\')"]')
    err = refuse(applied, RegenError)
    assert err.message == "regen gen: changed README, which no rule declares as an output"


def test_regen_results_are_cached(applied: S.Project, monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-applying after rm -rf of only the scratch tree reuses the regen cache (no generator runs)."""
    cache = json.loads((applied.worktree / ".git/quicken/regen-cache.json").read_text())
    assert len(next(iter(cache.values()))) == 1
    path = applied.patches / FIRST
    path.write_text(path.read_text().replace("call counter", "counter of calls"))  # message only
    runs: list[object] = []
    real = apply.regen.subprocess.run

    def spy(*args: object, **kwargs: object) -> object:
        runs.append(args)
        return real(*args, **kwargs)  # type: ignore[call-overload]

    monkeypatch.setattr(apply.regen.subprocess, "run", spy)
    result = applied.apply()
    assert not result.noop and runs == []
    assert (applied.worktree / "Python/generated.h").read_text() == S.generated_for(
        (applied.worktree / "Python/bytecodes.c").read_text())
    assert os.environ.get("GIT_DIR") is None
