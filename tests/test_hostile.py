"""Bad input a careless or hostile user gives the real CLI (issue 19): refused in one line, or read
the way git reads it; never followed outside the project, never a traceback."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import synthetic as S
from quicken import build, cli, config, export, refresh, series, status
from quicken.errors import ApplyError, BuildError, ConfigError, QuickenError, SeriesError
from quicken.worktree import WorkTree

ODD_NAMES = ("Lib/d ir/with space.c", "Lib/é.py", 'Lib/q"u\\o\tt', "Lib/tr ail ")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def refused(project: S.Project, kind: type[QuickenError] = QuickenError) -> QuickenError:
    before = S.snapshot(project)
    with pytest.raises(kind) as info:
        project.apply()
    assert "\n" not in info.value.message and info.value.hint
    assert S.snapshot(project) == before
    return info.value


# -- 1. the overlay holds regular files only ----------------------------------------


def test_overlay_symlink_to_a_file_outside_is_refused(make_project: Callable[..., S.Project],
                                                      two_patches: list[S.Mail]) -> None:
    p = make_project(two_patches)
    link = p.overlay / "Include/quicken_counter.h"
    link.unlink()
    link.symlink_to("/etc/passwd")
    err = refused(p, SeriesError)
    assert err.message.startswith(f"{link}: a symlink (to /etc/passwd)")
    assert not p.worktree.exists()


def test_overlay_symlink_to_a_directory_is_refused(make_project: Callable[..., S.Project],
                                                   mails: S.MailMaker) -> None:
    mail = mails.patch("Own a directory", {"README": "x\n"}, overlay={"Lib/owned/a.py": "a = 1\n"})
    p = make_project([mail])
    trailer = "Quicken-Overlay: Lib/owned/a.py"
    text = (p.patches / mail.name).read_text().replace(trailer, f"{trailer}\nQuicken-Overlay: Lib/dir")
    (p.patches / mail.name).write_text(text)
    (p.overlay / "Lib/dir").symlink_to("/etc", target_is_directory=True)
    err = refused(p, SeriesError)
    assert err.message.startswith(f"{p.overlay / 'Lib/dir'}: a symlink (to /etc)")


def test_overlay_fifo_is_refused(applied: S.Project) -> None:
    os.mkfifo(applied.overlay / "Include/fifo.h")
    with pytest.raises(SeriesError) as info:  # (a snapshot would block reading the fifo)
        applied.apply()
    err = info.value
    fifo = applied.overlay / "Include/fifo.h"
    assert err.message == f"{fifo}: not a regular file; overlay files must be regular files"


# -- 2. every value is checked when it is read -----------------------------------


def test_non_utf8_config_is_one_line(capsys: pytest.CaptureFixture[str], project: S.Project) -> None:
    project.config_file.write_bytes(project.config_file.read_bytes() + b"# caf\xe9\n")
    line = project.config_file.read_bytes().count(b"\n")
    for command in ("status", "apply", "build", "validate", "export"):
        code, out, err = run(capsys, "-C", str(project.root), command)
        assert (code, out) == (1, "")
        assert err == (f"quicken: error: {project.config_file}:{line}: not UTF-8 text\n"
                       "quicken: hint: TOML files are UTF-8; re-encode it\n")


@pytest.mark.parametrize(("value", "why"), [
    ("150%", "must be below 100%"), ("abc", "is not a percentage like 15%"), ("15", "is not a percentage"),
])
def test_bad_threshold_trailer_is_refused_on_read(make_project: Callable[..., S.Project], mails: S.MailMaker,
                                                  capsys: pytest.CaptureFixture[str], value: str,
                                                  why: str) -> None:
    mail = mails.patch("Faster", {"README": "x\n"}, trailers=(f"Quicken-Threshold: {value}",))
    p = make_project([mail])
    line = mail.line_of("Quicken-Threshold:")
    err = refused(p, SeriesError)
    assert err.message.startswith(f"{p.patches / mail.name}:{line}: Quicken-Threshold: {value!r} {why}")
    for command in ("status", "validate", "review"):
        extra = ["0001"] if command == "review" else []
        code, out, errors = run(capsys, "-C", str(p.root), command, *extra)
        assert code == (0 if command == "status" else 1)  # status shows the series' error and goes on
        assert f"Quicken-Threshold: {value!r} {why}" in (out + errors)


def test_bad_magic_and_upstream_trailers(make_project: Callable[..., S.Project], mails: S.MailMaker) -> None:
    magic = mails.patch("Magic", {"README": "x\n"}, trailers=("Quicken-Magic: maybe",))
    assert "neither bumped nor unchanged" in refused(make_project([magic]), SeriesError).message
    upstream = mails.patch("Up", {"README": "y\n"}, trailers=("Quicken-Upstream: soon",))
    assert "is not an issue (gh-N)" in refused(make_project([upstream]), SeriesError).message


def test_bad_scope_trailer_and_a_whole_loop_patch_with_targets(make_project: Callable[..., S.Project],
                                                                mails: S.MailMaker) -> None:
    scope = mails.patch("Scope", {"README": "x\n"}, trailers=("Quicken-Scope: everything",))
    p = make_project([scope])
    line = scope.line_of("Quicken-Scope:")
    assert refused(p, SeriesError).message == (
        f"{p.patches / scope.name}:{line}: Quicken-Scope: 'everything' is not loop or layout")
    both = mails.patch("Both", {"README": "y\n"},
                       trailers=("Quicken-Scope: loop", "Quicken-Targets: nbody"))
    p = make_project([both])
    err = refused(p, SeriesError)
    targets, scope_line = both.line_of("Quicken-Targets:"), both.line_of("Quicken-Scope:")
    assert err.message == (f"{p.patches / both.name}:{targets}: Quicken-Targets on a Quicken-Scope patch "
                           f"(line {scope_line}): a whole-loop change is judged on the whole suite")


# -- 3. unknown config keys and wrong types ----------------------------------------


@pytest.mark.parametrize(("edit", "message", "hint"), [
    (("[build]\n", "[build]\njbos = 2\n"), "unknown key build.jbos", "did you mean build.jobs?"),
    (("[build]\n", "[bulid]\n"), "unknown table [bulid]", "did you mean build?"),
    (("jobs = 2\n", "jobs = true\n"), "build.jobs must be a whole number, not bool True", None),
    (("[pin]\n", "[pin]\ngit_tag = 'v1'\n"), "unknown key pin.git_tag", "did you mean pin.git-tag?"),
    (("[pin]\n", "xyzzy = 1\n[pin]\n"), "unknown key xyzzy", "known here: pin, paths"),
])
def test_unknown_keys_and_wrong_types_are_refused(project: S.Project, edit: tuple[str, str], message: str,
                                                  hint: str | None) -> None:
    text = project.config_file.read_text()
    if edit[0] not in text:
        text += edit[0]
    project.config_file.write_text(text.replace(edit[0], edit[1], 1))
    with pytest.raises(ConfigError) as info:
        project.cfg()
    assert info.value.message == f"{project.config_file}: {message}"
    if hint:
        assert hint in (info.value.hint or "")


def test_build_configuration_names_are_the_users(project: S.Project) -> None:
    text = project.config_file.read_text()
    if "[build.configs]" not in text:
        text += "\n[build.configs]\nrelease = []\n"
    text = text.replace("[build.configs]\n", "[build.configs]\nstress = ['--with-assertions']\n")
    project.config_file.write_text(text + "\n[build.fixups]\nstress = []\n")
    assert project.cfg().build_config("stress").configure == ("--with-assertions",)
    assert "stress" in config.SCHEMA["build"]["configs"] or config.NAMES in config.SCHEMA["build"]["configs"]  # type: ignore[index,operator]


# -- 4. round trips: CRLF, quoted paths, charsets ------------------------------------


def git_am(mail: bytes, tmp: Path) -> Path:
    """Apply ``mail`` with git am onto the pristine fake release; returns the repository."""
    repo = tmp / "am"
    repo.mkdir()
    for path, text in S.pristine_files().items():
        dest = repo / path
        dest.parent.mkdir(parents=True, exist_ok=True)
        dest.write_text(text)
    S.git(repo, "init", "-q", "-b", "main")
    S.git(repo, "add", "-A")
    S.git(repo, "commit", "-q", "-m", "pristine")
    (tmp / "mail").write_bytes(mail)
    S.git(repo, "am", "-q", str(tmp / "mail"))
    return repo


def test_crlf_mail_is_read_as_git_am_reads_it(make_project: Callable[..., S.Project], mails: S.MailMaker,
                                              tmp_path: Path) -> None:
    mail = mails.patch("Add notes", {"Lib/notes.txt": "one\ntwo\n"})
    crlf = S.Mail(mail.name, mail.data.replace(b"\n", b"\r\n"))
    lf_project, crlf_project = make_project([mail]), make_project([crlf])
    lf_project.apply()
    crlf_project.apply()
    assert (crlf_project.worktree / "Lib/notes.txt").read_bytes() == b"one\ntwo\n"
    assert (git_am(crlf.data, tmp_path) / "Lib/notes.txt").read_bytes() == b"one\ntwo\n"
    assert crlf_project.git("rev-parse", "HEAD^{tree}") == lf_project.git("rev-parse", "HEAD^{tree}")


def test_existing_patch_converted_to_crlf_still_applies(applied: S.Project) -> None:
    tree = applied.git("rev-parse", "HEAD^{tree}")
    for mail in sorted(applied.patches.glob("*.patch")):
        mail.write_bytes(mail.read_bytes().replace(b"\n", b"\r\n"))
    applied.apply()
    assert applied.git("rev-parse", "HEAD^{tree}") == tree


def test_quoted_paths_are_read_as_git_writes_them(make_project: Callable[..., S.Project], mails: S.MailMaker,
                                                  tmp_path: Path) -> None:
    add = mails.patch("Odd names", {name: f"{i}\n" for i, name in enumerate(ODD_NAMES)})
    change = mails.patch("Odd edits", {name: f"{i}\nmore\n" for i, name in enumerate(ODD_NAMES)})
    assert b'diff --git "a/Lib/q\\"u\\\\o\\tt" "b/Lib/q\\"u\\\\o\\tt"' in add.data
    assert b"diff --git a/Lib/d ir/with space.c b/Lib/d ir/with space.c" in add.data
    path = tmp_path / add.name
    path.write_bytes(add.data)
    assert sorted(f.path for f in series.parse_patch(path).files) == sorted(ODD_NAMES)
    p = make_project([add, change])
    p.apply()
    for i, name in enumerate(ODD_NAMES):
        assert (p.worktree / name).read_text() == f"{i}\nmore\n"


@pytest.mark.parametrize(("quoted", "plain"), [
    ('"a/\\303\\251 x"', "a/é x"), ('"a/q\\"u\\\\o\\tt"', 'a/q"u\\o\tt'), ("a/b c", "a/b c"),
    ('"a/bad', None), ('"a/\\9"', None), ('"a/\\377"', None),
])
def test_unquote_path(quoted: str, plain: str | None) -> None:
    assert series.unquote_path(quoted) == plain


def test_latin1_mail_is_decoded_from_its_charset(make_project: Callable[..., S.Project], mails: S.MailMaker,
                                                 tmp_path: Path) -> None:
    mail = mails.patch("Accents", {"README": "x\n"}, body="Café crème.",
                       author="José Pérez <jose@example.invalid>")
    assert b"charset=UTF-8" in mail.data
    latin1 = mail.data.decode().replace("charset=UTF-8", "charset=ISO-8859-1").encode("latin-1")
    am = git_am(latin1, tmp_path)
    assert S.git(am, "log", "-1", "--format=%an|%B") == "José Pérez|Accents\n\nCafé crème."
    p = make_project([S.Mail(mail.name, latin1)])
    patch = series.load(p.cfg()).patches[0]
    assert patch.author.name == "José Pérez" and patch.message == "Accents\n\nCafé crème.\n"
    p.apply()
    assert p.git("log", "-1", "--format=%an|%B") == "José Pérez|Accents\n\nCafé crème."


def test_undeclared_non_utf8_mail_is_refused(make_project: Callable[..., S.Project],
                                             mails: S.MailMaker) -> None:
    mail = mails.patch("Plain", {"README": "x\n"}, body="Cafe.")
    data = mail.data.replace(b"Cafe.", b"Caf\xe9.")
    err = refused(make_project([S.Mail(mail.name, data)]), SeriesError)
    assert err.message.endswith(f":{mail.line_of('Cafe.')}: not UTF-8 text")


# -- 5. leftovers and blind spots ------------------------------------------------


def test_stale_temporary_trees_are_removed(applied: S.Project, make_project: Callable[..., S.Project],
                                           two_patches: list[S.Mail]) -> None:
    stale = applied.worktree.parent / ".cpython.new-killed"
    (stale / "Python").mkdir(parents=True)
    (stale / "Python/ceval.c").write_text("half\n")
    messages: list[str] = []
    applied.apply(report=messages.append)
    assert not stale.exists() and "removed .cpython.new-killed, left by an interrupted apply" in messages
    fresh = make_project(two_patches)
    (fresh.worktree.parent / ".cpython.new-x").mkdir(parents=True)
    fresh.apply()
    assert [p.name for p in fresh.worktree.parent.iterdir() if p.name.startswith(".cpython.new")] == []


def test_stale_temporaries_of_a_running_first_apply_are_kept(make_project: Callable[..., S.Project],
                                                             two_patches: list[S.Mail]) -> None:
    p = make_project(two_patches)
    p.apply()
    running = p.worktree.parent / ".cpython.new-running"
    running.mkdir()
    import fcntl

    with open(p.worktree.parent / ".cpython.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        assert WorkTree(p.cfg()).clean_temporaries() == []
    assert running.is_dir()


def test_status_says_a_rebase_is_in_progress(applied: S.Project, capsys: pytest.CaptureFixture[str]) -> None:
    state = applied.worktree / ".git/quicken/rebase/state.json"
    state.parent.mkdir(parents=True)
    state.write_text(json.dumps({"message": "rebase onto 3.99.1 stopped at 0002 (conflict)",
                                 "hint": "resolve, then quicken rebase --continue, or --abort"}))
    code, out, _ = run(capsys, "-C", str(applied.root), "status")
    assert code == 0
    assert "REBASE IN PROGRESS: rebase onto 3.99.1 stopped at 0002 (conflict)" in out and "--abort" in out
    assert "clean" not in out.splitlines()[2]
    state.write_text("{")  # killed while writing: still in progress
    code, out, _ = run(capsys, "-C", str(applied.root), "status")
    assert ("REBASE IN PROGRESS: an unfinished quicken rebase "
            "(quicken rebase --continue, --skip or --abort)") in out


def test_copied_project_does_not_reuse_builds_of_the_original(applied: S.Project, tmp_path: Path) -> None:
    build.build_one(applied.cfg(), "baseline", None, lambda _: None)
    copy = S.Project(tmp_path / "copy", applied.tarball, applied.sha256)
    shutil.copytree(applied.root, copy.root, symlinks=True)
    cfg = copy.cfg()
    original_src = applied.builds / "release/baseline/src"
    states = {b.slot: b.state for b in status.collect(cfg).builds}
    assert states["baseline"] == f"out of date (configured for {original_src})"
    again = build.build_one(cfg, "baseline", None, lambda _: None)
    assert not again.cached and build.configured_source(copy.builds / "release/baseline/obj") == \
        copy.builds / "release/baseline/src"
    assert {b.slot: b.state for b in status.collect(cfg).builds}["baseline"] == "up to date"


# -- 6. messages -------------------------------------------------------------------


def test_plain_diff_to_an_absolute_path(make_project: Callable[..., S.Project], mails: S.MailMaker) -> None:
    mail = mails.patch("Plain", {"README": "x\n"})
    text = mail.text
    text = text[: text.index("diff --git")] + "--- /etc/passwd\n+++ /etc/passwd\n@@ -1 +1 @@\n-a\n+b\n"
    p = make_project([S.Mail(mail.name, text.encode())])
    err = refused(p, SeriesError)
    line = text.splitlines().index("--- /etc/passwd") + 1
    assert err.message == f"{p.patches / mail.name}:{line}: absolute path '/etc/passwd' not allowed"
    text = text.replace("/etc/passwd", "a/README", 1).replace("+++ /etc/passwd", "+++ b/README")
    (p.patches / mail.name).write_text(text)
    assert refused(p, SeriesError).message.endswith("a plain diff, not a git diff (no 'diff --git' header)")


def test_truncated_last_hunk_is_reported_at_the_hunk(make_project: Callable[..., S.Project],
                                                     mails: S.MailMaker) -> None:
    files = mails.files
    mail = mails.patch("Two files", {
        "Python/ceval.c": S.replace(files["Python/ceval.c"], "int ceval_line_05 = 5;\n", "int five;\n"),
        "README": files["README"] + "more\nlines\n",
    })
    lines = mail.text.split("\n")
    last_hunk = max(i for i, ln in enumerate(lines) if ln.startswith("@@ "))
    cut = "\n".join(lines[: last_hunk + 2]) + "\n"  # the header and one of its lines
    p = make_project([S.Mail(mail.name, cut.encode())])
    err = refused(p, SeriesError)
    assert err.message.startswith(f"{p.patches / mail.name}:{last_hunk + 1}: malformed diff: hunk @@")
    assert "shorter than its header says" in err.message


def test_path_refusals_and_lock_have_hints(make_project: Callable[..., S.Project], mails: S.MailMaker,
                                           applied: S.Project) -> None:
    mail = mails.patch("Escape", {"README": "x\n"})
    p = make_project([S.Mail(mail.name, mail.data.replace(b"a/README", b"a/../README"))])
    err = refused(p, SeriesError)
    assert "escapes the source tree" in err.message and err.hint
    with WorkTree(applied.cfg()).lock(), pytest.raises(ApplyError) as info:
        applied.apply()
    assert info.value.hint and "wait for it to finish" in info.value.hint


def test_missing_ccache_is_named(tmp_path: Path) -> None:
    obj = tmp_path / "obj"
    obj.mkdir()
    (obj / "Makefile").write_text("srcdir = /src\nCC=\t\tquicken-no-such-ccache gcc\n")
    log = tmp_path / "build.log"
    log.write_text("configure: error: C compiler cannot create executables\n")
    err = build.failure("build baseline (release): configure", log, obj, {"PATH": os.environ["PATH"]})
    assert isinstance(err, BuildError)
    assert err.message == ("build baseline (release): configure failed: the compiler CC="
                           "'quicken-no-such-ccache gcc' needs quicken-no-such-ccache, which is not on PATH")
    assert err.hint and err.hint.startswith(f"install quicken-no-such-ccache, or remove {obj}")
    assert build.missing_compiler(obj, {"PATH": "/nonexistent", "CC": "gcc"}) == "gcc"


def test_real_git_format_patch_quotes_what_we_unquote(tmp_path: Path) -> None:
    """git's own quoting of every odd name round-trips through diff_header_paths."""
    repo = tmp_path / "r"
    repo.mkdir()
    S.git(repo, "init", "-q")
    for name in ODD_NAMES:
        (repo / name).parent.mkdir(parents=True, exist_ok=True)
        (repo / name).write_text("x\n")
    S.git(repo, "add", "-A")
    out = subprocess.run(["git", "diff", "--cached", "--no-prefix", "--src-prefix=a/", "--dst-prefix=b/"],
                         cwd=repo, capture_output=True, text=True, check=True).stdout
    headers = [ln for ln in out.split("\n") if ln.startswith("diff --git ")]
    assert sorted(series.diff_header_paths(h)[1] for h in headers) == sorted(ODD_NAMES)  # type: ignore[index]


def test_odd_names_round_trip(applied: S.Project, tmp_path: Path,
                              make_project: Callable[..., S.Project]) -> None:
    """Whatever Quicken writes, Quicken reads: refresh --new, export, then apply of the exported mail."""
    for i, name in enumerate(ODD_NAMES):
        (applied.worktree / name).parent.mkdir(parents=True, exist_ok=True)
        (applied.worktree / name).write_text(f"odd {i}\n")
    applied.git("add", "-A")
    applied.git("commit", "-q", "-m", "Add odd names")
    refresh.run(applied.cfg(), new=True)
    new = "0003-add-odd-names.patch"
    assert sorted(series.parse_patch(applied.patches / new).overlay) == sorted(ODD_NAMES)
    assert all((applied.overlay / name).read_text() == f"odd {i}\n" for i, name in enumerate(ODD_NAMES))
    assert applied.apply().noop
    ((_, mail),) = export.run(applied.cfg(), names=[new], force=True, output=tmp_path / "out")
    assert sorted(f.path for f in series.parse_patch(mail).files) == sorted(ODD_NAMES)
    am = git_am(mail.read_bytes(), tmp_path)
    assert all((am / name).read_text() == f"odd {i}\n" for i, name in enumerate(ODD_NAMES))
    fresh = make_project([S.Mail(new, mail.read_bytes())])
    fresh.apply()
    assert all((fresh.worktree / name).read_text() == f"odd {i}\n" for i, name in enumerate(ODD_NAMES))


@pytest.mark.parametrize("name", [*ODD_NAMES, " lead", "new\nline", "plain/path.c"])
def test_overlay_trailer_quoting_round_trips(name: str) -> None:
    quoted = series.quote_path(name)
    assert series.overlay_path(quoted) == name and "\n" not in quoted and quoted == quoted.strip()
