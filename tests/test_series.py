"""quicken.series: parsing mails, and every refusal of a bad series (via apply, which must change nothing)."""

from __future__ import annotations

import email.utils
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest
import synthetic as S
from quicken import series
from quicken.errors import QuickenError, SeriesError


def refuse(project: S.Project, kind: type[QuickenError] = SeriesError) -> QuickenError:
    """Run apply, expect ``kind``, and check that nothing changed."""
    before = S.snapshot(project)
    with pytest.raises(kind) as info:
        project.apply()
    assert "\n" not in info.value.message
    assert S.snapshot(project) == before
    return info.value


# -- parsing ----------------------------------------------------------------


def test_parse_format_patch_mail(two_patches: list[S.Mail], tmp_path: Path) -> None:
    path = tmp_path / two_patches[0].name
    path.write_bytes(two_patches[0].data)
    patch = series.parse_patch(path)
    assert patch.name == "0001-count-calls-in-ceval.patch" and patch.path == path
    assert patch.subject == "Count calls in ceval"
    assert (patch.author.name, patch.author.email) == ("Ada Patcher", "ada@example.invalid")
    assert email.utils.parsedate_to_datetime(patch.author.date) == datetime(2027, 1, 2, 10, tzinfo=UTC)
    assert patch.message == (
        "Count calls in ceval\n\nAdds a call counter to the fake ceval loop.\n\n"
        "Quicken-Tests: test_ceval\nQuicken-Upstream: gh-1\nQuicken-Overlay: Include/quicken_counter.h\n"
    )
    assert patch.overlay == ("Include/quicken_counter.h",)
    assert patch.tests == ["test_ceval"] and patch.upstream == "gh-1" and patch.targets == []
    assert [t.line for t in patch.trailers] == [
        two_patches[0].line_of(f"{t.key}:") for t in patch.trailers
    ]
    assert [(f.path, f.added, f.removed) for f in patch.files] == [("Python/ceval.c", False, False)]
    assert patch.files[0].line == two_patches[0].line_of("diff --git")
    assert patch.diff.startswith("diff --git a/Python/ceval.c b/Python/ceval.c\n")
    assert "2.39" not in patch.diff.splitlines()[-1] and "-- " not in patch.diff.splitlines()


def test_parse_numbered_subject_and_folded_trailers(tmp_path: Path, mails: S.MailMaker) -> None:
    mail = mails.patch("Tweak", {"README": "new\n"}, trailers=("Quicken-Targets: a, b",))
    text = mail.text.replace("[PATCH] Tweak", "[PATCH 2/7] Tweak").replace(
        "Quicken-Targets: a, b", "Quicken-Targets: a, b,\n  c d\nQuicken-Magic: unchanged")
    path = tmp_path / "x.patch"
    path.write_text(text)
    patch = series.parse_patch(path, "renamed.patch")
    assert patch.name == "renamed.patch" and patch.subject == "Tweak"
    assert patch.targets == ["a", "b", "c", "d"] and patch.value("quicken-magic") == "unchanged"


def test_a_whole_loop_patch_and_its_binding(tmp_path: Path, mails: S.MailMaker) -> None:
    plain = mails.patch("Hint", {"README": "new\n"}, trailers=("Quicken-Threshold: 2%",))
    path = tmp_path / "x.patch"
    path.write_text(plain.text)
    targeted = series.parse_patch(path)
    path.write_text(plain.text.replace("Quicken-Threshold: 2%", "Quicken-Threshold: 2%\nQuicken-Scope: loop"))
    loop = series.parse_patch(path)
    assert loop.whole_loop and not targeted.whole_loop and loop.targets == []
    assert loop.code_digest != targeted.code_digest  # the scope changes how the gate judges: records bind it


def test_series_file_format(project: S.Project, mails: S.MailMaker) -> None:
    one = mails.patch("One", {"README": "1\n"})
    two = mails.patch("Two", {"README": "2\n"})
    project.set_series([one, two], [f"{one.name} -p1  # first", "", "# comment", two.name])
    loaded = series.load(project.cfg())
    assert [p.name for p in loaded.patches] == [one.name, two.name]
    assert loaded.patch("0002-two").name == two.name and loaded.patch(two.name).name == two.name
    assert loaded.patch("0002").name == two.name  # the number alone
    with pytest.raises(SeriesError, match="no patch '2' in the series"):
        loaded.patch("2")
    with pytest.raises(SeriesError) as info:
        loaded.patch("three")
    assert info.value.message == "no patch 'three' in the series"
    assert info.value.hint == f"known: {one.name}, {two.name}"


def test_digest_covers_patches_and_overlay(applied: S.Project) -> None:
    cfg = applied.cfg()
    first = series.load(cfg).digest
    assert series.load(cfg).digest == first
    (applied.overlay / "Include/quicken_counter.h").write_text("#define QUICKEN_COUNTER 2\n")
    second = series.load(cfg).digest
    assert second != first
    path = applied.patches / "0002-add-the-load-const-instruction.patch"
    path.write_bytes(path.read_bytes().replace(b"A new instruction", b"A newer instruction"))
    assert series.load(cfg).digest not in (first, second)


# -- refusals ---------------------------------------------------------------------

FIRST = "0001-count-calls-in-ceval.patch"
SECOND = "0002-add-the-load-const-instruction.patch"


def _edit(project: S.Project, name: str, old: str, new: str) -> Path:
    path = project.patches / name
    text = path.read_text()
    assert old in text
    path.write_text(text.replace(old, new))
    return path


def _line(path: Path, prefix: str) -> int:
    return next(no for no, ln in enumerate(path.read_text().splitlines(), 1) if ln.startswith(prefix))


@pytest.mark.parametrize("header", ["From", "Subject", "Date"])
def test_patch_without_mail_header(applied: S.Project, header: str) -> None:
    path = applied.patches / SECOND
    lines = path.read_text().splitlines(keepends=True)
    path.write_text("".join(ln for ln in lines if not ln.startswith(f"{header}: ")))
    err = refuse(applied)
    assert err.message == f"{path}:2: not a git format-patch mail (no {header}: header)"
    assert err.hint == "create it with git format-patch, or quicken refresh"


def test_plain_diff_is_not_a_mail(applied: S.Project) -> None:
    path = applied.patches / SECOND
    text = path.read_text()
    path.write_text(text[text.index("diff --git"):])
    assert refuse(applied).message == f"{path}:1: not a git format-patch mail (no From: header)"


def test_broken_hunk_line(applied: S.Project) -> None:
    path = _edit(applied, SECOND, "\n inst(STORE_FAST) {\n", "\nXinst(STORE_FAST) {\n")
    line = _line(path, "Xinst(STORE_FAST)")
    assert refuse(applied).message == (
        f"{path}:{line}: malformed diff: Hunk diff line expected: Xinst(STORE_FAST) {{"
    )


def test_truncated_hunk(applied: S.Project) -> None:
    path = applied.patches / SECOND
    text = path.read_text()
    cut = text.index(" inst(STORE_FAST) {")
    path.write_text(text[:cut])
    line = _line(path, "@@ ")
    end = path.read_text().count("\n") + 1
    assert refuse(applied).message == (
        f"{path}:{line}: malformed diff: hunk @@ -8,6 +8,10 @@ is shorter than its header says "
        f"(ends at line {end})"
    )


def test_not_utf8(applied: S.Project) -> None:
    path = applied.patches / SECOND
    path.write_bytes(path.read_bytes().replace(b"A new instruction", b"A n\xffw instruction"))
    expected_line = path.read_bytes().split(b"\xff")[0].count(b"\n") + 1
    assert refuse(applied).message == f"{path}:{expected_line}: not UTF-8 text"


@pytest.mark.parametrize(
    ("bad", "reason"),
    [
        ("/abs/ceval.c", "absolute path '/abs/ceval.c' not allowed"),
        ("../outside/ceval.c", "path '../outside/ceval.c' escapes the source tree"),
        ("Python/../../ceval.c", "path 'Python/../../ceval.c' escapes the source tree"),
        (".git/config", "path '.git/config' touches .git"),
        ("Lib/.git/hooks/post-checkout", "path 'Lib/.git/hooks/post-checkout' touches .git"),
    ],
)
def test_unsafe_paths_in_diff(applied: S.Project, bad: str, reason: str) -> None:
    path = applied.patches / FIRST
    text = path.read_text().replace("a/Python/ceval.c", f"a/{bad}")
    path.write_text(text.replace("b/Python/ceval.c", f"b/{bad}"))
    line = _line(path, "diff --git")
    assert refuse(applied).message == f"{path}:{line}: {reason}"


@pytest.mark.parametrize(
    ("entry", "reason"),
    [
        ("/etc/passwd", "absolute path '/etc/passwd' not allowed"),
        ("../elsewhere.patch", "path '../elsewhere.patch' escapes the source tree"),
        (".git/x.patch", "path '.git/x.patch' touches .git"),
        ("sub/x.patch", "sub/x.patch: patches must sit directly in {patches}"),
        ("missing.patch", "missing.patch: no such file in {patches}"),
        (f"{FIRST} -p0", "unsupported options -p0 (only -p1)"),
        (FIRST, f"{FIRST} already listed at line 2"),
    ],
)
def test_bad_series_entries(applied: S.Project, entry: str, reason: str) -> None:
    series_file = applied.patches / "series"
    lines = series_file.read_text().splitlines()  # "# test series", FIRST, SECOND
    series_file.write_text("\n".join([*lines, entry]) + "\n")
    err = refuse(applied)
    assert err.message == f"{series_file}:4: {reason.format(patches=applied.patches)}"


def test_series_file_missing(applied: S.Project) -> None:
    (applied.patches / "series").unlink()
    err = refuse(applied)
    assert err.message == f"{applied.patches / 'series'}: not found"


def test_patch_file_not_in_series(applied: S.Project) -> None:
    stray = applied.patches / "0003-stray.patch"
    stray.write_bytes((applied.patches / SECOND).read_bytes())
    err = refuse(applied)
    assert err.message == f"{stray}: not listed in {applied.patches / 'series'}"
    assert err.hint == "add it to the series or delete the file"


def test_overlay_file_owned_by_no_patch(applied: S.Project) -> None:
    orphan = applied.overlay / "Lib" / "orphan.py"
    orphan.parent.mkdir()
    orphan.write_text("x = 1\n")
    err = refuse(applied)
    assert err.message == f"{orphan}: owned by no patch"
    assert err.hint == "add 'Quicken-Overlay: Lib/orphan.py' to the trailers of the patch that adds it"


def test_overlay_file_owned_by_two_patches(applied: S.Project) -> None:
    path = _edit(applied, SECOND, "regenerated on apply.\n", "regenerated on apply.\n\n"
                 "Quicken-Overlay: Include/quicken_counter.h\n")
    first_line = _line(applied.patches / FIRST, "Quicken-Overlay:")
    second_line = _line(path, "Quicken-Overlay:")
    err = refuse(applied)
    assert err.message == (
        f"{applied.overlay / 'Include/quicken_counter.h'}: owned by two patches "
        f"({applied.patches / FIRST}:{first_line} and {path}:{second_line})"
    )


def test_overlay_trailer_listed_twice_in_one_patch(applied: S.Project) -> None:
    trailer = "Quicken-Overlay: Include/quicken_counter.h\n"
    path = _edit(applied, FIRST, trailer, trailer + trailer)
    first_line = _line(path, "Quicken-Overlay:")
    err = refuse(applied)
    assert err.message == (f"{path}:{first_line + 1}: Quicken-Overlay: Include/quicken_counter.h "
                           f"is listed twice (also at line {first_line})")
    assert err.hint == "remove one of the two trailers"


def test_trailer_names_missing_overlay_file(applied: S.Project) -> None:
    (applied.overlay / "Include/quicken_counter.h").unlink()
    path = applied.patches / FIRST
    err = refuse(applied)
    assert err.message == (
        f"{path}:{_line(path, 'Quicken-Overlay:')}: Quicken-Overlay: Include/quicken_counter.h: "
        f"no such file in {applied.overlay}"
    )


def test_overlay_trailer_with_unsafe_path(applied: S.Project) -> None:
    path = _edit(applied, FIRST, "Quicken-Overlay: Include/quicken_counter.h",
                 "Quicken-Overlay: ../quicken_counter.h")
    err = refuse(applied)
    assert err.message == (
        f"{path}:{_line(path, 'Quicken-Overlay:')}: path '../quicken_counter.h' escapes the source tree"
    )


def test_generated_file_in_patch(applied: S.Project, mails: S.MailMaker) -> None:
    gen = mails.patch("Edit the generated header by hand",
                      {"Python/generated.h": mails.files["Python/generated.h"] + "/* hand edit */\n",
                       "README": "changed\n"})
    (applied.patches / gen.name).write_bytes(gen.data)
    with open(applied.patches / "series", "a") as f:
        f.write(gen.name + "\n")
    path = applied.patches / gen.name
    err = refuse(applied)
    assert err.message == (
        f"{path}:{_line(path, 'diff --git a/Python/generated.h')}: Python/generated.h is generated: "
        "regenerated on apply — remove it from the patch"
    )


def test_overlay_file_that_is_generated(applied: S.Project) -> None:
    (applied.overlay / "Python").mkdir()
    (applied.overlay / "Python/generated.h").write_text("x\n")
    path = _edit(applied, SECOND, "regenerated on apply.\n",
                 "regenerated on apply.\n\nQuicken-Overlay: Python/generated.h\n")
    err = refuse(applied)
    assert err.message == (
        f"{path}:{_line(path, 'Quicken-Overlay:')}: overlay file Python/generated.h is a generated file"
    )


def test_diff_touching_an_overlay_file(applied: S.Project, mails: S.MailMaker) -> None:
    touch = mails.patch("Bump the counter",
                        {"Include/quicken_counter.h": "#define QUICKEN_COUNTER 2\n"})
    (applied.patches / touch.name).write_bytes(touch.data)
    with open(applied.patches / "series", "a") as f:
        f.write(touch.name + "\n")
    path = applied.patches / touch.name
    err = refuse(applied)
    assert err.message == (
        f"{path}:{_line(path, 'diff --git')}: Include/quicken_counter.h is an overlay file (owned by {FIRST})"
    )
    assert err.hint == f"edit {applied.overlay / 'Include/quicken_counter.h'} instead of diffing it"


def test_rename_refused(applied: S.Project) -> None:
    path = _edit(applied, SECOND, "diff --git a/Python/bytecodes.c b/Python/bytecodes.c",
                 "diff --git a/Python/bytecodes.c b/Python/bytecodes2.c")
    _edit(applied, SECOND, "+++ b/Python/bytecodes.c", "+++ b/Python/bytecodes2.c")
    err = refuse(applied)
    assert err.message == (
        f"{path}:{_line(path, 'diff --git')}: renames are not supported "
        "(Python/bytecodes.c -> Python/bytecodes2.c)"
    )


def test_diff_header_mismatch(applied: S.Project) -> None:
    path = _edit(applied, SECOND, "+++ b/Python/bytecodes.c", "+++ b/Python/other.c")
    err = refuse(applied)
    assert err.message == (
        f"{path}:{_line(path, '+++ b/Python/other.c')}: malformed diff: "
        "Target without source: +++ b/Python/other.c"
    )


MAIL_EDITS: list[tuple[str, str, str]] = [
    ("From: Ada Patcher <ada@example.invalid>", "From: Ada Patcher <>", "From: header has no e-mail address"),
    ("Date: Sun, 3 Jan 2027 10:00:00 +0000", "Date: someday", "unreadable Date: 'someday'"),
    ("Subject: [PATCH] Add the LOAD_CONST instruction", "Subject: [PATCH] ", "empty Subject:"),
]


@pytest.mark.parametrize(("old", "new", "reason"), MAIL_EDITS)
def test_bad_mail_headers(applied: S.Project, old: str, new: str, reason: str) -> None:
    path = _edit(applied, SECOND, old, new)
    assert refuse(applied).message == f"{path}:2: {reason}"


def test_empty_patch(applied: S.Project) -> None:
    path = applied.patches / SECOND
    text = path.read_text()
    path.write_text(text[: text.index("diff --git")])
    assert refuse(applied).message == f"{path}: empty patch (no diff and no overlay files)"


def test_check_path_accepts_ordinary_paths() -> None:
    for ok in ("Python/ceval.c", "Lib/test/.gitignore", "a..b/c", "x/.github/y"):
        series.check_path(ok, "here")
    with pytest.raises(SeriesError) as info:
        series.check_path("", "here")
    assert info.value.message == "here: empty path"
    with pytest.raises(SeriesError):
        series.check_path("C:\\x", "here")


def test_refusal_before_first_apply_creates_nothing(
    make_project: Callable[..., S.Project], two_patches: list[S.Mail]
) -> None:
    proj = make_project(two_patches)
    (proj.overlay / "orphan.h").write_text("x\n")
    err = refuse(proj)
    assert err.message == f"{proj.overlay / 'orphan.h'}: owned by no patch"
    assert not proj.worktree.parent.exists()


def test_one_patch_name_resolution() -> None:
    """Series.patch, State.commit_of (build, bisect) resolve a patch name the same way."""
    from quicken.series import match_patch
    from quicken.worktree import PatchState, State

    names = ["0001-first.patch", "0002-second.patch", "0010-tenth.patch"]
    for given, want in [("0001-first.patch", names[0]), ("0002-second", names[1]), ("0010", names[2]),
                        ("10", None), ("0003", None), ("third", None)]:
        assert match_patch(names, given) == want, given
    state = State("d", "3.99.0", "0" * 64, "p" * 40, "t" * 40,
                  [PatchState(n, str(i) * 40, "", "") for i, n in enumerate(names)])
    assert state.commit_of("0002") == "1" * 40 and state.commit_of("0002-second") == "1" * 40
    assert state.commit_of("nothing") is None
