"""quicken.rebase: replaying the series onto another (fake) CPython release."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Callable, Mapping
from pathlib import Path

import pytest
import synthetic as S
from quicken import apply, config, rebase, refresh, status
from quicken.errors import ApplyError, DirtyTreeError, QuickenError
from quicken.series import load as load_series

FIRST = "0001-count-calls-in-ceval.patch"
SECOND = "0002-add-the-load-const-instruction.patch"
NEW = "3.99.1"


def release(tmp: Path, edits: Mapping[str, str], version: str = NEW) -> tuple[Path, str]:
    """A fake release ``version``: the 3.99.0 files with ``edits`` (path -> new text)."""
    files = {**S.pristine_files(), **edits}
    files["Python/generated.h"] = S.generated_for(files["Python/bytecodes.c"])
    path = tmp / f"Python-{version}.tar.xz"
    return path, S.write_tarball(path, files, top=f"Python-{version}")


def ceval(old: str, new: str) -> dict[str, str]:
    return {"Python/ceval.c": S.replace(S.CEVAL_C, old, new)}


def start(p: S.Project, tarball: Path, sha: str | None, **kw: object) -> rebase.RebaseResult:
    return rebase.start(p.cfg(), NEW, sha, tarball, **kw)  # type: ignore[arg-type]


def patch_bytes(p: S.Project) -> dict[str, bytes]:
    return {f.name: f.read_bytes() for f in sorted(p.patches.iterdir())}


def outcomes(result: rebase.RebaseResult) -> dict[str, str]:
    return {s.name: s.outcome for s in result.steps}


def check_applies_as_is(p: S.Project) -> None:
    """The rewritten series is what the work tree holds: apply is a no-op, a fresh apply agrees."""
    head = p.git("rev-parse", "HEAD")
    assert p.git("status", "--porcelain", "--untracked-files=all") == ""
    assert p.apply().noop
    assert not (p.worktree / ".git" / "quicken" / "rebase").exists()
    assert p.git("symbolic-ref", "HEAD") == "refs/heads/quicken"
    subprocess.run(["rm", "-rf", str(p.worktree)], check=True)
    assert p.apply().state.tip == head


@pytest.fixture
def tmp_release(tmp_path: Path) -> Callable[..., tuple[Path, str]]:
    counter = iter(range(100))

    def make(edits: Mapping[str, str], version: str = NEW) -> tuple[Path, str]:
        d = tmp_path / f"release{next(counter)}"
        d.mkdir()
        return release(d, edits, version)

    return make


def test_clean_rebase_and_back_is_byte_identical(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]
) -> None:
    before = patch_bytes(applied)
    toml = applied.config_file.read_bytes()
    tarball, sha = tmp_release({"README": "A newer fake release.\n"})
    result = start(applied, tarball, sha)
    assert result.done and outcomes(result) == {FIRST: rebase.CLEAN, SECOND: rebase.CLEAN}
    cfg = applied.cfg()
    assert (cfg.pin.version, cfg.pin.sha256, cfg.pin.git_tag) == (NEW, sha, f"v{NEW}")
    assert applied.git("show", "HEAD~2:README") == "A newer fake release."
    assert applied.git("log", "-1", "--format=%s", "HEAD~2") == f"CPython {NEW} (pristine)"
    assert patch_bytes(applied) == before  # the diffs did not change: the mails keep their bytes
    assert all(i.kind == "unchanged" for i in result.interdiffs)
    assert result.results is not None and (result.results / "report.md").is_file()
    assert applied.git("rev-parse", "refs/quicken/backup/rebase-" + result.results.name[len("rebase-"):])
    check_applies_as_is(applied)
    back = rebase.start(applied.cfg(), S.VERSION, applied.sha256)  # from the cache
    assert back.done
    assert applied.config_file.read_bytes() == toml
    assert patch_bytes(applied) == before
    check_applies_as_is(applied)


def test_offsets_are_reported_and_the_mail_regenerated(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]
) -> None:
    old_header = next(ln for ln in (applied.patches / FIRST).read_text().splitlines() if ln.startswith("@@"))
    start_line = int(old_header.split()[1].split(",")[0][1:])
    tarball, sha = tmp_release(ceval("/* Fake ceval.c */\n", "/* Fake ceval.c */\n/* two */\n/* lines */\n"))
    result = start(applied, tarball, sha)
    assert outcomes(result) == {FIRST: rebase.OFFSETS, SECOND: rebase.CLEAN}
    assert "Python/ceval.c hunk #1" in result.steps[0].detail and "(+2)" in result.steps[0].detail
    first = next(i for i in result.interdiffs if i.name == FIRST)
    assert first.kind == "line numbers and blob ids only" and first.path is not None
    text = (applied.patches / FIRST).read_text()
    assert f"@@ -{start_line + 2},6 +{start_line + 2},7 @@" in text and "index " in text
    assert load_series(applied.cfg()).patch(FIRST).overlay == ("Include/quicken_counter.h",)
    check_applies_as_is(applied)


def test_three_way_merge(applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]) -> None:
    tarball, sha = tmp_release(ceval("int ceval_line_03 = 3;\n", "int ceval_line_03 = 33;\n"))
    result = start(applied, tarball, sha)
    assert outcomes(result)[FIRST] == rebase.MERGED
    assert "Python/ceval.c" in result.steps[0].detail
    ceval_c = applied.git("show", "HEAD~1:Python/ceval.c")
    assert "int ceval_line_03 = 33;" in ceval_c and '#include "quicken_counter.h"' in ceval_c
    inter = next(i for i in result.interdiffs if i.name == FIRST)
    assert inter.kind == "content changed"  # the context line changed
    assert inter.path is not None and "+ int ceval_line_03 = 33;" in inter.path.read_text()
    check_applies_as_is(applied)


CONFLICT = ceval("int ceval_line_05 = 5;\n", "int ceval_line_05 = 55;\n")


def test_conflict_stops_with_git_conflicts_then_continue(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]
) -> None:
    tarball, sha = tmp_release(CONFLICT)
    result = start(applied, tarball, sha)
    assert not result.done and result.stop is not None
    assert result.stop.outcome == rebase.CONFLICTED and result.stop.patch == FIRST
    assert result.stop.files and result.stop.files[0].startswith("Python/ceval.c (conflict markers at line ")
    assert len(result.stop.hunks) == 1 and result.stop.hunks[0].startswith("Python/ceval.c @@ -")
    assert "stopped at 0001-count-calls-in-ceval.patch: conflicts in Python/ceval.c" in result.message
    assert "--continue" in result.hint and "--skip" in result.hint and "--abort" in result.hint
    # the usual git form: unmerged entries, markers, HEAD detached at the new pristine
    assert "UU Python/ceval.c" in applied.git("status", "--porcelain")
    assert "<<<<<<<" in (applied.worktree / "Python/ceval.c").read_text()
    assert applied.git("rev-parse", "HEAD") == applied.git("rev-parse", f"pin-{NEW}")
    assert (applied.worktree / "Include/quicken_counter.h").is_file()
    # every other command sees the unfinished rebase
    for call in (lambda: applied.apply(), lambda: refresh.run(applied.cfg()),
                 lambda: rebase.start(applied.cfg(), NEW, sha, tarball)):
        with pytest.raises(ApplyError, match=r"stopped at 0001-count-calls-in-ceval\.patch") as err:
            call()
        assert "quicken rebase --continue" in (err.value.hint or "")
    shown = status.collect(applied.cfg()).worktree_state  # status says so, and how to go on
    assert "REBASE IN PROGRESS: " in shown and "stopped at 0001-count-calls-in-ceval.patch" in shown
    assert "--continue" in shown and "--abort" in shown and "to refresh" not in shown
    with pytest.raises(QuickenError, match="still unmerged"):
        rebase.cont(applied.cfg())
    # resolve: keep upstream's 55 and the patch's include
    resolved = S.replace(CONFLICT["Python/ceval.c"], "int ceval_line_05 = 55;\n",
                         'int ceval_line_05 = 55;\n#include "quicken_counter.h"\n')
    (applied.worktree / "Python/ceval.c").write_text(resolved)
    applied.git("add", "Python/ceval.c")
    (applied.worktree / "README").write_text("stray edit\n")
    with pytest.raises(QuickenError, match=r"README: changes not staged \(1 file\(s\)\)"):
        rebase.cont(applied.cfg())
    applied.git("checkout", "README")
    done = rebase.cont(applied.cfg())
    assert done.done
    assert outcomes(done) == {FIRST: rebase.RESOLVED, SECOND: rebase.CLEAN}
    mail = load_series(applied.cfg()).patch(FIRST)
    assert ' int ceval_line_05 = 55;\n+#include "quicken_counter.h"\n' in mail.diff
    assert applied.git("show", "HEAD~1:Python/ceval.c") + "\n" == resolved
    check_applies_as_is(applied)


def test_continue_refuses_leftover_markers(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]
) -> None:
    tarball, sha = tmp_release(CONFLICT)
    start(applied, tarball, sha)
    applied.git("add", "Python/ceval.c")
    with pytest.raises(QuickenError, match=r"Python/ceval.c:\d+: conflict marker left in 0001"):
        rebase.cont(applied.cfg())


def test_skip_drops_the_patch_and_its_overlay(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]
) -> None:
    tarball, sha = tmp_release(CONFLICT)
    start(applied, tarball, sha)
    result = rebase.skip(applied.cfg())
    assert result.done and outcomes(result) == {FIRST: rebase.SKIPPED, SECOND: rebase.CLEAN}
    assert not (applied.patches / FIRST).exists()
    assert FIRST not in (applied.patches / "series").read_text()
    assert "# test series" in (applied.patches / "series").read_text()
    assert not (applied.overlay / "Include/quicken_counter.h").exists()
    assert [p.name for p in load_series(applied.cfg()).patches] == [SECOND]
    assert "dropped from the series: 0001-count-calls-in-ceval.patch" in rebase.render(result)
    check_applies_as_is(applied)


def test_abort_restores_everything_byte_for_byte(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]
) -> None:
    (applied.patches / "0001-count-calls-in-ceval.validation.json").write_text("{}\n")
    before = S.snapshot(applied)
    tarball, sha = tmp_release(CONFLICT)
    start(applied, tarball, sha)
    assert S.snapshot(applied) != before
    result = rebase.abort(applied.cfg())
    assert result.aborted and "aborted" in rebase.render(result)
    assert S.snapshot(applied) == before
    assert applied.apply().noop


def test_abort_after_the_files_were_written(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Killed after patches/ and quicken.toml were rewritten: --abort still restores them."""
    before = S.snapshot(applied)
    tarball, sha = tmp_release(ceval("/* Fake ceval.c */\n", "/* Fake ceval.c */\n/* moved */\n"))
    real = apply.finish

    def killed(*args: object, **kw: object) -> object:
        raise KeyboardInterrupt

    monkeypatch.setattr(apply, "finish", killed)
    with pytest.raises(KeyboardInterrupt):
        start(applied, tarball, sha)
    assert applied.cfg().pin.version == NEW  # the pin was written
    with pytest.raises(ApplyError, match="interrupted while writing"):
        applied.apply()
    monkeypatch.setattr(apply, "finish", real)
    rebase.abort(applied.cfg())
    assert S.snapshot(applied) == before


def test_killed_rebase_continues(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]], monkeypatch: pytest.MonkeyPatch,
    make_project: Callable[..., S.Project], two_patches: list[S.Mail],
) -> None:
    tarball, sha = tmp_release(ceval("/* Fake ceval.c */\n", "/* Fake ceval.c */\n/* moved */\n"))
    reference = make_project(two_patches, name="reference")
    reference.apply()
    assert start(reference, tarball, sha).done
    real = rebase._replay_one
    calls = []

    def dies_on_second(ctx: rebase.Ctx, patch: object, report: object) -> object:
        calls.append(patch)
        if len(calls) == 2:
            raise KeyboardInterrupt  # as if killed
        return real(ctx, patch, report)  # type: ignore[arg-type]

    monkeypatch.setattr(rebase, "_replay_one", dies_on_second)
    with pytest.raises(KeyboardInterrupt):
        start(applied, tarball, sha)
    state = json.loads((applied.worktree / ".git/quicken/rebase/state.json").read_text())
    assert state["next"] == 1 and state["phase"] == "replay"
    with pytest.raises(ApplyError, match=r"interrupted at 0002-add-the-load-const-instruction\.patch"):
        applied.apply()
    monkeypatch.setattr(rebase, "_replay_one", real)
    result = rebase.cont(applied.cfg())
    assert result.done and outcomes(result) == {FIRST: rebase.OFFSETS, SECOND: rebase.CLEAN}
    assert patch_bytes(applied) == patch_bytes(reference)
    assert applied.git("rev-parse", "HEAD") == reference.git("rev-parse", "HEAD")


UPSTREAM_BYTECODES = S.replace(S.BYTECODES_C, "inst(STORE_FAST) {",
                               "inst(LOAD_CONST) {\n    value = consts[oparg];\n}\n\ninst(STORE_FAST) {")


def test_already_upstream_stops_and_offers_to_drop(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]
) -> None:
    tarball, sha = tmp_release({"Python/bytecodes.c": UPSTREAM_BYTECODES})
    result = start(applied, tarball, sha)
    assert result.stop is not None and result.stop.outcome == rebase.UPSTREAM
    assert "already upstream" in result.message and "--skip" in result.hint
    assert outcomes(result) == {FIRST: rebase.CLEAN}
    done = rebase.skip(applied.cfg())
    assert done.done and [p.name for p in load_series(applied.cfg()).patches] == [FIRST]
    check_applies_as_is(applied)


def test_drop_upstream_does_not_stop(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]
) -> None:
    tarball, sha = tmp_release({"Python/bytecodes.c": UPSTREAM_BYTECODES})
    result = start(applied, tarball, sha, drop_upstream=True)
    assert result.done and outcomes(result) == {FIRST: rebase.CLEAN, SECOND: rebase.UPSTREAM}
    assert not (applied.patches / SECOND).exists()
    check_applies_as_is(applied)


def test_emptied_patch_is_dropped(applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]) -> None:
    """Upstream made the same change and touched its context: the 3-way merge leaves nothing."""
    absorbed = S.replace(UPSTREAM_BYTECODES, "frame[oparg] = value;", "frame[oparg] = value; /* upstream */")
    tarball, sha = tmp_release({"Python/bytecodes.c": absorbed})
    result = start(applied, tarball, sha)
    assert result.done and outcomes(result) == {FIRST: rebase.CLEAN, SECOND: rebase.EMPTIED}
    assert [p.name for p in load_series(applied.cfg()).patches] == [FIRST]
    check_applies_as_is(applied)


def test_regenerated_files_follow_the_new_base(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]
) -> None:
    """The new release adds an instruction: the patched generated.h has both, from the generator."""
    more = S.replace(S.BYTECODES_C, "inst(RETURN_VALUE) {",
                     "inst(POP_TOP) {\n    pop();\n}\n\ninst(RETURN_VALUE) {")
    tarball, sha = tmp_release({"Python/bytecodes.c": more})
    result = start(applied, tarball, sha)
    assert result.done
    assert applied.git("show", "HEAD:Python/generated.h").endswith(
        '"NOP,LOAD_FAST,LOAD_CONST,STORE_FAST,POP_TOP,RETURN_VALUE"')
    assert "generated.h" not in (applied.patches / SECOND).read_text()


def test_sha256_looked_up_from_the_given_tarball(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]
) -> None:
    tarball, sha = tmp_release({"README": "newer\n"})
    result = start(applied, tarball, None)
    assert result.done and applied.cfg().pin.sha256 == sha
    assert any("trust on first use" in note for note in result.notes)
    assert "trust on first use" in rebase.render(result)


def test_wrong_sha256_is_refused_and_nothing_changes(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]
) -> None:
    before = S.snapshot(applied)
    tarball, _ = tmp_release({"README": "newer\n"})
    with pytest.raises(QuickenError, match="does not match the pin"):
        start(applied, tarball, "0" * 64)
    assert rebase.in_progress(applied.cfg())  # stopped while preparing: abort restores
    rebase.abort(applied.cfg())
    assert S.snapshot(applied) == before


def test_refusals(applied: S.Project, tmp_release: Callable[..., tuple[Path, str]]) -> None:
    tarball, sha = tmp_release({"README": "newer\n"})
    with pytest.raises(QuickenError, match="neither a CPython release version"):
        start_onto(applied, "banana")
    with pytest.raises(QuickenError, match="already pinned"):
        rebase.start(applied.cfg(), S.VERSION, applied.sha256)
    with pytest.raises(QuickenError, match="no rebase in progress"):
        rebase.cont(applied.cfg())
    (applied.worktree / "Python/ceval.c").write_text("changed\n")
    with pytest.raises(DirtyTreeError, match="uncommitted change"):
        start(applied, tarball, sha)
    applied.git("checkout", "Python/ceval.c")
    with open(applied.patches / FIRST, "a") as f:
        f.write("\n")
    with pytest.raises(ApplyError, match="changed since the work tree was applied"):
        start(applied, tarball, sha)


def start_onto(p: S.Project, onto: str) -> rebase.RebaseResult:
    return rebase.start(p.cfg(), onto)


def test_onto_a_git_checkout_records_the_commit(
    applied: S.Project, tmp_path: Path
) -> None:
    repo = tmp_path / "cpython-git"
    files = {**S.pristine_files(), "README": "from git\n",
             "Include/patchlevel.h": '#define PY_VERSION "3.99.1+"\n'}
    for rel, text in files.items():
        (repo / rel).parent.mkdir(parents=True, exist_ok=True)
        (repo / rel).write_text(text)
    (repo / "configure").chmod(0o755)
    S.git(repo, "init", "-q", "-b", "main")
    S.git(repo, "add", "-A")
    S.git(repo, "commit", "-q", "-m", "3.99.1+")
    commit = S.git(repo, "rev-parse", "HEAD")
    result = rebase.start(applied.cfg(), f"{repo}@main")
    assert result.done
    pin = applied.cfg().pin
    assert (pin.version, pin.git_commit, pin.git_tag) == (NEW, commit, commit)
    assert any("git archive" in note for note in result.notes)
    text = applied.config_file.read_text()
    assert f'git-commit = "{commit}"' in text and f'git-tag = "{commit}"' in text
    assert applied.git("show", "HEAD~2:README") == "from git"
    check_applies_as_is(applied)  # the fresh apply takes the archived commit from the cache


def test_rewrite_pin_keeps_comments() -> None:
    text = ('# top\n[pin]\nversion = "3.99.0"  # the release\n# sha comment\nsha256 = "' + "a" * 64
            + '"\n\n[paths]\nworktree = "w"\n')
    new = config.rewrite_pin(text, "3.99.1", "b" * 64, None, None)
    assert new == text.replace("3.99.0", "3.99.1").replace("a" * 64, "b" * 64)
    with_commit = config.rewrite_pin(text, "3.99.1", "b" * 64, "abc", "c" * 40)
    assert 'git-tag = "abc"\ngit-commit = "' + "c" * 40 + '"\n\n[paths]' in with_commit
    back = config.rewrite_pin(with_commit, "3.99.0", "a" * 64, None, None)
    assert back == text.replace("\n\n[paths]", '\ngit-tag = "v3.99.0"\n\n[paths]')  # a tag line stays


def test_cli_stop_is_one_error_line_and_a_hint(
    applied: S.Project, tmp_release: Callable[..., tuple[Path, str]], capsys: pytest.CaptureFixture[str]
) -> None:
    from quicken import cli

    parser = cli.parser()
    tarball, sha = tmp_release(CONFLICT)
    args = parser.parse_args(["-C", str(applied.root), "rebase", "--onto", NEW, "--sha256", sha,
                              "--source", str(tarball)])
    with pytest.raises(QuickenError) as err:
        args.func(args, cli.Progress())
    out = capsys.readouterr().out
    assert "0001-count-calls-in-ceval.patch  CONFLICTED" in out and "hunk: Python/ceval.c @@" in out
    assert "\n" not in err.value.message and err.value.hint
    args = parser.parse_args(["-C", str(applied.root), "rebase"])
    with pytest.raises(ApplyError, match="stopped at"):
        args.func(args, cli.Progress())
    args = parser.parse_args(["-C", str(applied.root), "rebase", "--abort"])
    assert args.func(args, cli.Progress()) == 0
    assert "aborted" in capsys.readouterr().out
