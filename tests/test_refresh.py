"""quicken.refresh: writing work-tree edits back into patches/ and cpython_overlay/."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from collections.abc import Callable

import pytest
import synthetic as S
from quicken import refresh, series
from quicken.errors import ApplyError, QuickenError
from quicken.worktree import WorkTree

FIRST = "0001-count-calls-in-ceval.patch"
SECOND = "0002-add-the-load-const-instruction.patch"
TAIL_OLD = "int ceval_line_30 = 30;\n"
TAIL_NEW = "int ceval_line_30 = 3000;\n"


def run_refresh(p: S.Project, **kwargs: object) -> refresh.RefreshResult:
    return refresh.run(p.cfg(), **kwargs)  # type: ignore[arg-type]


def edit(p: S.Project, rel: str, old: str, new: str) -> None:
    path = p.worktree / rel
    path.write_text(S.replace(path.read_text(), old, new))


def patch_bytes(p: S.Project) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(p.patches.iterdir())}


def check_round_trip(p: S.Project) -> None:
    """The refreshed series reproduces the work tree: same trees and commit ids from scratch."""
    tree = p.git("rev-parse", "HEAD^{tree}")
    head = p.git("rev-parse", "HEAD")
    refs = p.git("for-each-ref", "refs/quicken/patches/", "refs/heads/quicken", "refs/tags/")
    assert p.git("status", "--porcelain", "--untracked-files=all") == ""
    assert p.apply().noop  # the recorded digest is the new series'
    shutil.rmtree(p.worktree)
    result = p.apply()
    assert not result.noop
    assert p.git("rev-parse", "HEAD^{tree}") == tree
    assert p.git("rev-parse", "HEAD") == head == result.state.tip
    assert p.git("for-each-ref", "refs/quicken/patches/", "refs/heads/quicken", "refs/tags/") == refs


def test_commit_on_top_goes_into_the_top_patch(applied: S.Project) -> None:
    before = patch_bytes(applied)
    old_head = applied.git("rev-parse", "HEAD")
    edit(applied, "Python/ceval.c", TAIL_OLD, TAIL_NEW)
    applied.git("commit", "-q", "-am", "tweak the tail")
    user_tree = applied.git("rev-parse", "HEAD^{tree}")
    user_head = applied.git("rev-parse", "HEAD")
    result = run_refresh(applied)
    assert result.changed == [f"patches/{SECOND}"]
    assert result.backup is not None and result.backup.startswith("refs/quicken/backup/refresh-")
    assert applied.git("rev-parse", result.backup) == user_head
    after = patch_bytes(applied)
    assert after[FIRST] == before[FIRST] and after["series"] == before["series"]
    mail = series.parse_patch(applied.patches / SECOND)
    assert [f.path for f in mail.files] == ["Python/bytecodes.c", "Python/ceval.c"]
    assert "+int ceval_line_30 = 3000;" in mail.diff
    assert mail.subject == "Add the LOAD_CONST instruction"
    assert mail.author.name == "Ada Patcher"  # authorship stays with the patch
    # the commit is folded: the history is pristine + one commit per patch again
    assert applied.git("rev-list", "--count", "HEAD") == "3"
    assert applied.git("rev-parse", "HEAD^{tree}") == user_tree
    assert applied.git("rev-parse", "HEAD^") == applied.git("rev-parse", f"{old_head}^")
    check_round_trip(applied)


def test_amended_top_commit_goes_into_the_top_patch(applied: S.Project) -> None:
    edit(applied, "Python/ceval.c", TAIL_OLD, TAIL_NEW)
    applied.git("commit", "-q", "-a", "--amend", "--no-edit")
    user_tree = applied.git("rev-parse", "HEAD^{tree}")
    result = run_refresh(applied)
    assert result.changed == [f"patches/{SECOND}"]
    assert "+int ceval_line_30 = 3000;" in series.parse_patch(applied.patches / SECOND).diff
    assert applied.git("rev-parse", "HEAD^{tree}") == user_tree
    check_round_trip(applied)


def test_reworded_message_goes_into_its_patch(applied: S.Project) -> None:
    """``git commit --amend`` that only rewords the body and a trailer."""
    old = applied.git("log", "-1", "--format=%B")
    subject = old.splitlines()[0]
    applied.git("commit", "-q", "--amend", "-m",
                f"{subject}\n\nA better explanation.\n\nQuicken-Expected: int_bitwise: -20% instructions")
    tree = applied.git("rev-parse", "HEAD^{tree}")
    result = run_refresh(applied)
    assert result.changed == [f"patches/{SECOND}"]
    mail = series.parse_patch(applied.patches / SECOND)
    assert mail.subject == subject
    assert "A better explanation." in mail.message
    assert mail.values("Quicken-Expected") == ["int_bitwise: -20% instructions"]
    assert applied.git("rev-parse", "HEAD^{tree}") == tree
    check_round_trip(applied)


def test_reworded_subject_of_the_top_patch(applied: S.Project) -> None:
    """``git commit --amend`` with a new subject: the commit keeps the patch's author and date, so
    it is still the patch's commit; the patch file keeps its name and takes the new subject."""
    old = applied.git("log", "-1", "--format=%B")
    edit(applied, "Python/ceval.c", TAIL_OLD, TAIL_NEW)
    applied.git("commit", "-q", "-a", "--amend", "-m", S.replace(old, "Add the LOAD_CONST instruction",
                                                                  "Add LOAD_CONST, reworded"))
    tree = applied.git("rev-parse", "HEAD^{tree}")
    result = run_refresh(applied)
    assert result.changed == [f"patches/{SECOND}"]
    mail = series.parse_patch(applied.patches / SECOND)
    assert mail.subject == "Add LOAD_CONST, reworded"
    assert mail.author.name == "Ada Patcher"
    assert "+int ceval_line_30 = 3000;" in mail.diff
    assert (applied.patches / "series").read_text().count(SECOND) == 1
    assert applied.git("rev-parse", "HEAD^{tree}") == tree
    check_round_trip(applied)


def test_reworded_subject_of_a_middle_patch(applied: S.Project) -> None:
    """``reword`` in ``rebase -i``: the first patch's subject changes, the second is re-made on top."""
    before = patch_bytes(applied)
    first = WorkTree(applied.cfg()).state().patches[0].commit
    top = applied.git("rev-parse", "HEAD")
    applied.git("checkout", "-q", first)
    message = applied.git("log", "-1", "--format=%B")
    subject = message.splitlines()[0]
    applied.git("commit", "-q", "--amend", "-m", S.replace(message, subject, "Count calls, reworded"))
    applied.git("cherry-pick", top)
    applied.git("checkout", "-q", "-B", "quicken", applied.git("rev-parse", "HEAD"))
    result = run_refresh(applied)
    assert result.changed == [f"patches/{FIRST}"]
    assert series.parse_patch(applied.patches / FIRST).subject == "Count calls, reworded"
    assert patch_bytes(applied)[SECOND] == before[SECOND]
    check_round_trip(applied)


def test_new_commit_before_a_patch_is_not_taken_for_a_reword(applied: S.Project) -> None:
    """A commit inserted before the top patch's commit is the previous patch's, even when git gave
    it the same author date: the top patch's subject still comes later."""
    top = applied.git("rev-parse", "HEAD")
    applied.git("reset", "-q", "--hard", "HEAD~1")
    edit(applied, "Python/ceval.c", TAIL_OLD, TAIL_NEW)
    author = applied.git("log", "-1", "--format=%an <%ae>%x00%ad", top).split("\0")
    applied.git("commit", "-q", "-am", "inserted", f"--author={author[0]}", f"--date={author[1]}")
    applied.git("cherry-pick", top)
    result = run_refresh(applied)
    # the second patch's mail is written again: its diff now applies on the new first patch
    assert result.changed == [f"patches/{FIRST}", f"patches/{SECOND}"]
    assert "+int ceval_line_30 = 3000;" in series.parse_patch(applied.patches / FIRST).diff
    assert series.parse_patch(applied.patches / SECOND).subject == "Add the LOAD_CONST instruction"
    check_round_trip(applied)


def test_rewording_a_patch_leaves_the_later_ones_as_written(applied: S.Project) -> None:
    """A message-only reword in rebase -i re-makes every later commit with the same content: their
    patch files are not rewritten (here the second one's index line names a blob nobody has,
    which a rewrite would replace)."""
    path = applied.patches / SECOND
    text = path.read_text()
    index = re.search(r"^index ([0-9a-f]+)\.\.", text, re.M)
    assert index is not None
    path.write_text(text.replace(index.group(0), f"index {'1' * len(index.group(1))}..", 1))
    applied.apply()
    before = patch_bytes(applied)
    first = WorkTree(applied.cfg()).state().patches[0].commit
    top = applied.git("rev-parse", "HEAD")
    applied.git("checkout", "-q", first)
    message = applied.git("log", "-1", "--format=%B")
    applied.git("commit", "-q", "--amend", "-m", S.replace(message, "Adds a call", "Reworded. Adds a call"))
    applied.git("cherry-pick", top)
    applied.git("checkout", "-q", "-B", "quicken", applied.git("rev-parse", "HEAD"))
    result = run_refresh(applied)
    assert result.changed == [f"patches/{FIRST}"]
    after = patch_bytes(applied)
    assert after[SECOND] == before[SECOND]
    assert "Reworded." in series.parse_patch(applied.patches / FIRST).message
    check_round_trip(applied)


def test_amended_middle_commit_goes_into_its_patch(applied: S.Project) -> None:
    """rebase -i "edit" of the first patch's commit; the later commit replays unchanged."""
    first = WorkTree(applied.cfg()).state().patches[0].commit
    top = applied.git("rev-parse", "HEAD")
    applied.git("checkout", "-q", first)
    edit(applied, "README", "\n", "\nrewritten in place\n")
    applied.git("commit", "-q", "-a", "--amend", "--no-edit")
    applied.git("cherry-pick", top)
    amended = applied.git("rev-parse", "HEAD")
    applied.git("checkout", "-q", "-B", "quicken", amended)
    run_refresh(applied)
    first = WorkTree(applied.cfg()).state().patches[0].commit
    assert "rewritten in place" in applied.git("show", f"{first}:README")
    check_round_trip(applied)


def test_fixup_commit_goes_into_the_named_patch(applied: S.Project) -> None:
    before = patch_bytes(applied)
    edit(applied, "Python/ceval.c", TAIL_OLD, TAIL_NEW)
    applied.git("commit", "-q", "-am", "fixup! Count calls in ceval")
    result = run_refresh(applied)
    assert result.changed == [f"patches/{FIRST}"]
    after = patch_bytes(applied)
    assert after[SECOND] == before[SECOND]
    mail = series.parse_patch(applied.patches / FIRST)
    assert "+int ceval_line_30 = 3000;" in mail.diff
    assert mail.overlay == ("Include/quicken_counter.h",) and mail.tests == ["test_ceval"]
    state = WorkTree(applied.cfg()).state()
    assert applied.git("show", f"{state.patches[0].commit}:Python/ceval.c").count("3000") == 1
    check_round_trip(applied)


def test_uncommitted_change_with_patch_option(applied: S.Project) -> None:
    edit(applied, "README", "fake CPython", "fake (refreshed) CPython")
    result = run_refresh(applied, target="0001-count-calls-in-ceval")
    assert result.changed == [f"patches/{FIRST}"]
    assert result.backup is not None
    backup = applied.git("rev-parse", result.backup)
    assert applied.git("show", f"{backup}:README") == (
        "This is a fake (refreshed) CPython release for Quicken's tests."
    )
    mail = series.parse_patch(applied.patches / FIRST)
    assert [f.path for f in mail.files] == ["Python/ceval.c", "README"]
    first_commit = WorkTree(applied.cfg()).state().patches[0].commit
    assert "refreshed" in applied.git("show", f"{first_commit}:README")
    check_round_trip(applied)


def test_new_file_becomes_an_overlay_file(applied: S.Project) -> None:
    (applied.worktree / "Lib").mkdir()
    (applied.worktree / "Lib" / "helper.py").write_text("HELPER = 1\n")
    result = run_refresh(applied)
    assert sorted(result.changed) == sorted([f"patches/{SECOND}", "cpython_overlay/Lib/helper.py"])
    assert (applied.overlay / "Lib/helper.py").read_text() == "HELPER = 1\n"
    text = (applied.patches / SECOND).read_text()
    assert "diff --git a/Lib/helper.py" not in text
    mail = series.parse_patch(applied.patches / SECOND)
    assert mail.overlay == ("Lib/helper.py",)
    assert mail.message.endswith("regenerated on apply.\n\nQuicken-Overlay: Lib/helper.py\n")
    assert series.load(applied.cfg()).owner["Lib/helper.py"] == SECOND
    check_round_trip(applied)


def test_new_file_added_to_a_patch_with_trailers(applied: S.Project) -> None:
    (applied.worktree / "Include" / "quicken_more.h").write_text("#define MORE 1\n")
    run_refresh(applied, target=FIRST)
    mail = series.parse_patch(applied.patches / FIRST)
    assert mail.overlay == ("Include/quicken_counter.h", "Include/quicken_more.h")
    assert mail.message.endswith(
        "loop.\n\nQuicken-Tests: test_ceval\nQuicken-Upstream: gh-1\n"
        "Quicken-Overlay: Include/quicken_counter.h\nQuicken-Overlay: Include/quicken_more.h\n"
    )
    check_round_trip(applied)


def test_overlay_edits_and_removals(applied: S.Project) -> None:
    (applied.worktree / "Include/quicken_counter.h").write_text("#define QUICKEN_COUNTER 42\n")
    run_refresh(applied, target=FIRST)
    assert (applied.overlay / "Include/quicken_counter.h").read_text() == "#define QUICKEN_COUNTER 42\n"
    assert "QUICKEN_COUNTER 42" not in (applied.patches / FIRST).read_text()  # never as a diff
    check_round_trip(applied)

    (applied.worktree / "Include/quicken_counter.h").unlink()
    result = run_refresh(applied, target=FIRST)
    assert "cpython_overlay/Include/quicken_counter.h (removed)" in result.changed
    assert not (applied.overlay / "Include/quicken_counter.h").exists()
    assert series.parse_patch(applied.patches / FIRST).overlay == ()
    check_round_trip(applied)


def test_new_turns_a_commit_into_a_new_patch(applied: S.Project) -> None:
    before = patch_bytes(applied)
    edit(applied, "Python/ceval.c", TAIL_OLD, TAIL_NEW)
    applied.git("commit", "-q", "-am", "Widen the tail\n\nSome explanation.\n\nQuicken-Targets: nbody")
    result = run_refresh(applied, new=True)
    name = "0003-widen-the-tail.patch"
    assert result.changed == ["patches/series", f"patches/{name}"]
    assert (applied.patches / "series").read_text() == before["series"].decode() + name + "\n"
    assert patch_bytes(applied)[SECOND] == before[SECOND]
    mail = series.parse_patch(applied.patches / name)
    assert mail.subject == "Widen the tail" and mail.targets == ["nbody"]
    assert (mail.author.name, mail.author.email) == ("Test User", "test@example.invalid")
    assert [f.path for f in mail.files] == ["Python/ceval.c"]
    state = WorkTree(applied.cfg()).state()
    assert [x.name for x in state.patches] == [FIRST, SECOND, name]
    assert applied.git("log", "-1", "--format=%s") == "Widen the tail"
    check_round_trip(applied)


def test_generated_files_never_reach_the_patch(applied: S.Project) -> None:
    edit(applied, "Python/bytecodes.c", "inst(RETURN_VALUE) {",
         "inst(BINARY_OP) {\n}\n\ninst(RETURN_VALUE) {")
    subprocess.run([sys.executable, "Tools/gen.py"], cwd=applied.worktree, check=True)
    applied.git("commit", "-q", "-am", "fixup! Add the LOAD_CONST instruction")
    (applied.worktree / "Python/generated.h").write_text("/* stale, hand-edited */\n")  # uncommitted
    run_refresh(applied)
    text = (applied.patches / SECOND).read_text()
    assert "generated.h" not in text and "+inst(BINARY_OP) {" in text
    bytecodes = (applied.worktree / "Python/bytecodes.c").read_text()
    assert (applied.worktree / "Python/generated.h").read_text() == S.generated_for(bytecodes)
    assert "BINARY_OP" in S.generated_for(bytecodes)
    check_round_trip(applied)


def test_nothing_to_refresh(applied: S.Project) -> None:
    before = S.snapshot(applied)
    result = run_refresh(applied)
    assert result.changed == [] and result.backup is None
    assert S.snapshot(applied) == before


# -- refusals: nothing written, nothing moved --------------------------------------


def refuse(p: S.Project, **kwargs: object) -> QuickenError:
    before = S.snapshot(p)
    with pytest.raises(QuickenError) as info:
        run_refresh(p, **kwargs)
    assert "\n" not in info.value.message
    assert S.snapshot(p) == before
    return info.value


def test_later_patch_that_no_longer_applies(applied: S.Project) -> None:
    """A fixup for the first patch changes a line the second patch uses as context."""
    line = "    frame[oparg] = value;"
    edit(applied, "Python/bytecodes.c", line, line + " /* tweaked */")
    applied.git("commit", "-q", "-am", "fixup! Count calls in ceval")
    err = refuse(applied)
    assert err.message.startswith(f"{SECOND} does not apply: Python/bytecodes.c hunk @@ ")
    assert err.message.endswith(f"expected {line.strip()!r}, found {(line + ' /* tweaked */').strip()!r}")
    assert not list(applied.git("for-each-ref", "refs/quicken/backup/").splitlines())


def test_patch_rebased_by_hand_onto_a_rewritten_one(make_project: Callable[..., S.Project],
                                                    mails: S.MailMaker) -> None:
    """rebase -i edits the first patch so that the second one's diff no longer applies; the user
    resolves the second commit by hand: its own diff (overlay file included) becomes the patch."""
    first, second = S.two_patches(mails, {"Include/quicken_const.h": "#define QUICKEN_CONST 1\n"})
    p = make_project([first, second], name="rebased")
    p.apply()
    state = WorkTree(p.cfg()).state()
    old_second = state.patches[1].commit
    p.git("checkout", "-q", "-B", "quicken", state.patches[0].commit)
    edit(p, "Python/bytecodes.c", "inst(STORE_FAST) {", "inst(STORE_FAST) { /* tweaked */")
    p.git("commit", "-q", "-a", "--amend", "--no-edit")
    edit(p, "Python/bytecodes.c", "inst(STORE_FAST) { /* tweaked */",
         S.LOAD_CONST_C + "inst(STORE_FAST) { /* tweaked */")
    (p.worktree / "Include/quicken_const.h").write_text("#define QUICKEN_CONST 2\n")
    p.git("add", "-A")
    p.git("commit", "-q", "-C", old_second)
    before = patch_bytes(p)
    run_refresh(p)
    after = patch_bytes(p)
    assert after != before
    one = series.parse_patch(p.patches / first.name)
    two = series.parse_patch(p.patches / second.name)
    assert "+inst(STORE_FAST) { /* tweaked */" in one.diff
    assert " inst(STORE_FAST) { /* tweaked */" in two.diff and "+inst(LOAD_CONST) {" in two.diff
    assert two.overlay == ("Include/quicken_const.h",) and "quicken_const" not in two.diff
    assert (p.overlay / "Include/quicken_const.h").read_text() == "#define QUICKEN_CONST 2\n"
    check_round_trip(p)


def test_patches_changed_since_apply(applied: S.Project) -> None:
    (applied.worktree / "README").write_text("x\n")
    path = applied.patches / SECOND
    path.write_text(path.read_text().replace("A new instruction", "A newer instruction"))
    err = refuse(applied)
    assert err.message == "patches/ or cpython_overlay/ changed since the work tree was applied"


def test_fixup_naming_no_patch(applied: S.Project) -> None:
    edit(applied, "Python/ceval.c", TAIL_OLD, TAIL_NEW)
    applied.git("commit", "-q", "-am", "fixup! No such patch")
    commit = applied.git("rev-parse", "HEAD")
    err = refuse(applied)
    assert err.message == f"commit {commit[:12]} ('fixup! No such patch') names no patch of the series"


def test_commit_before_the_first_patch(applied: S.Project) -> None:
    tip = applied.git("rev-parse", "HEAD")
    applied.git("reset", "-q", "--hard", "pin-3.99.0")
    edit(applied, "Python/ceval.c", TAIL_OLD, TAIL_NEW)
    applied.git("commit", "-q", "-am", "early")
    early = applied.git("rev-parse", "HEAD")
    applied.git("cherry-pick", "pin-3.99.0.." + tip)
    err = refuse(applied)
    assert err.message == f"commit {early[:12]} ('early') comes before the first patch's commit"


def test_history_without_a_patch_commit(applied: S.Project) -> None:
    """The top patch's commit dropped and a new commit in its place: not a reword (another author)."""
    applied.git("reset", "-q", "--hard", "HEAD~1")
    edit(applied, "Python/ceval.c", TAIL_OLD, TAIL_NEW)
    applied.git("commit", "-q", "-am", "renamed subject")
    err = refuse(applied)
    assert err.message == (
        f"the work tree's history has no commit for {SECOND} ('Add the LOAD_CONST instruction')"
    )


def test_unknown_patch_option(applied: S.Project) -> None:
    (applied.worktree / "README").write_text("x\n")
    err = refuse(applied, target="nope")
    assert err.message == "no patch 'nope' in the series"


def test_empty_series_needs_new(project: S.Project) -> None:
    project.apply()
    (project.worktree / "README").write_text("x\n")
    err = refuse(project)
    assert isinstance(err, ApplyError)
    assert err.message == "the series is empty: there is no patch to write changes into"
    # with --new, a commit on the pristine tree becomes the first patch
    project.git("commit", "-q", "-am", "First change")
    result = run_refresh(project, new=True)
    assert result.changed == ["patches/series", "patches/0001-first-change.patch"]
    check_round_trip(project)


def test_overlay_trailer_block_stays_tidy(make_project: Callable[..., S.Project], mails: S.MailMaker) -> None:
    """Changing the overlay of a patch whose only trailers are Quicken-Overlay adds no blank lines."""
    mail = mails.patch("Only overlay", {"README": "x\n"}, body="Body text.", overlay={"Include/a.h": "a\n"})
    p = make_project([mail])
    p.apply()
    (p.worktree / "Include/b.h").write_text("b\n")
    run_refresh(p)
    assert series.parse_patch(p.patches / mail.name).message == (
        "Only overlay\n\nBody text.\n\nQuicken-Overlay: Include/a.h\nQuicken-Overlay: Include/b.h\n")
    check_round_trip(p)
    (p.worktree / "Include/b.h").unlink()
    run_refresh(p)
    assert series.parse_patch(p.patches / mail.name).message == (
        "Only overlay\n\nBody text.\n\nQuicken-Overlay: Include/a.h\n")
    (p.worktree / "Include/a.h").unlink()
    run_refresh(p)
    assert series.parse_patch(p.patches / mail.name).message == "Only overlay\n\nBody text.\n"
    check_round_trip(p)


def test_new_patch_after_a_series_file_without_final_newline(applied: S.Project) -> None:
    listed = applied.patches / "series"
    listed.write_text(listed.read_text().rstrip("\n"))
    applied.apply()  # the series digest covers patches, not the series file's layout
    edit(applied, "README", "fake CPython", "fake CPython (new)")
    applied.git("commit", "-q", "-am", "New thing")
    run_refresh(applied, new=True)
    assert listed.read_text().splitlines()[-2:] == [SECOND, "0003-new-thing.patch"]
    check_round_trip(applied)
