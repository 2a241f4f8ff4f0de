"""quicken.build: out-of-tree builds with the synthetic configure/Makefile (real make and gcc)."""

from __future__ import annotations

import difflib
import json
import re
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import synthetic as S
from binaries import loop_growth, loop_instructions
from quicken import build, status
from quicken.errors import BuildError, ConfigError, QuickenError

BASE_OPS = "NOP,LOAD_FAST,STORE_FAST,RETURN_VALUE"
PATCHED_OPS = "NOP,LOAD_FAST,LOAD_CONST,STORE_FAST,RETURN_VALUE"


def run_python(python: Path, *args: str) -> str:
    return subprocess.run([str(python), *args], capture_output=True, text=True, check=True).stdout


def do_build(p: S.Project, target: str, messages: list[str] | None = None, **kw: object) -> build.BuildResult:
    report = messages.append if messages is not None else (lambda _: None)
    return build.build_one(p.cfg(), target, None, report, **kw)  # type: ignore[arg-type]


def test_baseline_and_patched(applied: S.Project) -> None:
    messages: list[str] = []
    base = do_build(applied, "baseline", messages)
    slot = applied.builds / "release" / "baseline"
    assert not base.cached and base.python == slot / "obj" / "python" and base.log == slot / "build.log"
    assert base.tree == applied.git("rev-parse", "pin-3.99.0^{tree}")
    assert run_python(base.python) == f"fake python 3.99.0 ops={BASE_OPS}\n"
    log = base.log.read_text()
    assert f"$ {slot / 'src' / 'configure'} -C\n" in log and "$ make -j2\n" in log
    assert f"configure: srcdir={slot / 'src'} args=-C" in log  # out of tree: run from obj/
    assert not (slot / "src" / "Makefile").exists() and (slot / "obj" / "Makefile").is_file()
    stamp = json.loads((slot / "stamp.json").read_text())
    assert stamp["tree"] == base.tree and stamp["configure"] == [] and stamp["config"] == "release"
    assert any(m.startswith("build baseline (release): make") for m in messages)

    patched = do_build(applied, "patched")
    assert not patched.cached and patched.python == applied.builds / "release/patched/obj/python"
    assert patched.commit == applied.git("rev-parse", "HEAD")
    assert run_python(patched.python, "-c", "pass") == f"fake python 3.99.0 ops={PATCHED_OPS} -c pass\n"
    # the checkout holds exactly the tree, generated file included
    src = applied.builds / "release/patched/src"
    assert (src / "Python/generated.h").read_bytes() == (applied.worktree / "Python/generated.h").read_bytes()
    assert (src / "Include/quicken_counter.h").is_file()


def test_unchanged_tree_is_cached(applied: S.Project) -> None:
    first = do_build(applied, "patched")
    assert first.log is not None
    log_stat = first.log.stat()
    log_text = first.log.read_text()
    binary = first.python.stat().st_mtime_ns
    again = do_build(applied, "patched")
    assert again.cached and again.log is None and again.seconds == 0.0
    assert again.python == first.python and again.tree == first.tree
    assert first.log.read_text() == log_text and first.log.stat().st_mtime_ns == log_stat.st_mtime_ns
    assert first.python.stat().st_mtime_ns == binary


def test_a_cached_slot_whose_interpreter_does_not_start_is_linked_again(applied: S.Project) -> None:
    first = do_build(applied, "patched")
    # As when a file the binary needs at start-up (pybuilddir.txt) is deleted by hand.
    first.python.unlink()
    first.python.write_text(
        "#!/bin/sh\necho 'Fatal Python error: failed to get the Python codec' >&2\nexit 1\n")
    first.python.chmod(0o755)
    messages: list[str] = []
    again = do_build(applied, "patched", messages)
    assert not again.cached and again.python == first.python
    assert b"fake python" in subprocess.run([str(again.python)], capture_output=True, check=True).stdout
    assert any("does not start (Fatal Python error: failed to get the Python codec): linking it again" in m
               for m in messages)
    assert do_build(applied, "patched").cached


def test_a_built_interpreter_that_does_not_start_fails_the_build(applied: S.Project) -> None:
    python_c = applied.worktree / "Programs/python.c"
    python_c.write_text(S.replace(python_c.read_text(), "    return 0;\n}", "    return 3;\n}"))
    applied.git("commit", "-q", "-am", "python exits with status 3")
    with pytest.raises(BuildError, match=r"make succeeded but .*python does not start \(exit status 3\)"):
        do_build(applied, "patched")


def test_same_tree_in_another_slot_is_reused(project: S.Project) -> None:
    project.apply()  # empty series: patched == baseline
    base = do_build(project, "baseline")
    patched = do_build(project, "patched")
    assert patched.cached and patched.python == base.python
    assert not (project.builds / "release" / "patched").exists()


def test_changed_file_rebuilds_incrementally(applied: S.Project) -> None:
    first = do_build(applied, "patched")
    src = applied.builds / "release/patched/src"
    before = {p: p.stat().st_mtime_ns for p in src.rglob("*") if p.is_file()}
    path = applied.worktree / "Programs/python.c"
    path.write_text(S.replace(path.read_text(), "fake python 3.99.0", "fake python 3.99.0+"))
    applied.git("commit", "-q", "-am", "touch python.c")
    second = do_build(applied, "patched")
    assert not second.cached and second.tree != first.tree
    assert run_python(second.python) == f"fake python 3.99.0+ ops={PATCHED_OPS}\n"
    after = {p: p.stat().st_mtime_ns for p in src.rglob("*") if p.is_file()}
    assert {p.relative_to(src).as_posix() for p in after if after[p] != before[p]} == {"Programs/python.c"}
    assert second.log is not None
    log = second.log.read_text()
    assert "configure" not in log.split("$ make")[0]  # configured once, make is incremental
    assert "-o python" in log


def test_a_build_system_change_builds_afresh(applied: S.Project) -> None:
    """CPython's objects do not depend on its Makefile: a changed rule must reach them anyway."""
    do_build(applied, "patched")
    path = applied.worktree / "configure"
    path.write_text(path.read_text() + "printf '\\t@echo rules v2 > rules.txt\\n' >> Makefile\n")
    applied.git("commit", "-q", "-am", "a new build rule")
    messages: list[str] = []
    second = do_build(applied, "patched", messages)
    assert (second.python.parent / "rules.txt").read_text() == "rules v2\n"
    assert "build patched (release): building afresh: the build system changed (configure)" in [
        m.rsplit(" [", 1)[0] for m in messages]
    # a change outside the build system stays incremental
    path = applied.worktree / "Programs/python.c"
    path.write_text(S.replace(path.read_text(), "fake python 3.99.0", "fake python 3.99.0+"))
    applied.git("commit", "-q", "-am", "touch python.c")
    third = do_build(applied, "patched")
    assert third.log is not None and "configure: srcdir=" not in third.log.read_text()


def test_a_profile_guided_build_of_a_new_tree_profiles_it_afresh(applied: S.Project) -> None:
    pgo = 'release = []\npgo = ["--enable-optimizations"]'
    applied.config_file.write_text(applied.config_file.read_text().replace("release = []", pgo))
    build.build_one(applied.cfg(), "patched", "pgo", lambda _: None)
    obj = applied.builds / "pgo" / "patched" / "obj"
    (obj / "profile-run-stamp").touch()  # the training run's mark: its profile is kept beside it
    again = build.build_one(applied.cfg(), "patched", "pgo", lambda _: None)
    assert again.cached and (obj / "profile-run-stamp").exists()
    path = applied.worktree / "Programs/python.c"
    path.write_text(S.replace(path.read_text(), "fake python 3.99.0", "fake python 3.99.0+"))
    applied.git("commit", "-q", "-am", "touch python.c")
    messages: list[str] = []
    changed = build.build_one(applied.cfg(), "patched", "pgo", messages.append)
    assert not (obj / "profile-run-stamp").exists()
    assert changed.log is not None and "configure: srcdir=" in changed.log.read_text()
    assert any("building afresh: the tree changed and a profile-guided build must profile" in m
               for m in messages)


def test_force_rebuilds(applied: S.Project) -> None:
    do_build(applied, "baseline")
    again = do_build(applied, "baseline", force=True)
    assert not again.cached and again.log is not None and "configure: srcdir=" in again.log.read_text()


def test_build_failure(applied: S.Project) -> None:
    path = applied.worktree / "Programs/python.c"
    path.write_text(f"/* {S.BREAK_MARKER} */\n" + path.read_text())
    applied.git("commit", "-q", "-am", "break the build")
    slot = applied.builds / "release/patched"
    with pytest.raises(BuildError) as info:
        do_build(applied, "patched")
    err = info.value
    log = slot / "build.log"
    assert err.message == (
        "build patched (release): make failed: "
        "Programs/python.c: error: build marker QUICKEN_BREAK_BUILD found"
    )
    assert err.hint == f"full log: {log}"
    assert err.details[0] == "Programs/python.c: error: build marker QUICKEN_BREAK_BUILD found"
    assert any("Error 1" in line for line in err.details) and len(err.details) <= 12
    assert not (slot / "stamp.json").exists()
    with pytest.raises(QuickenError) as info2:
        build.interpreter(applied.cfg(), "patched")
    assert info2.value.message == "patched (release) is not built for its current tree"
    assert info2.value.hint == "run: quicken build patched"
    # fixing the source makes the next build succeed
    path.write_text(path.read_text().replace(f"/* {S.BREAK_MARKER} */\n", ""))
    applied.git("commit", "-q", "-am", "fix the build")
    assert not do_build(applied, "patched").cached


def test_configure_failure(applied: S.Project) -> None:
    text = applied.config_file.read_text()
    applied.config_file.write_text(text.replace("release = []", 'release = ["--fail-configure"]'))
    with pytest.raises(BuildError) as info:
        do_build(applied, "baseline")
    log = applied.builds / "release/baseline/build.log"
    assert info.value.message == "build baseline (release): configure failed: configure: error: asked to fail"
    assert info.value.hint == f"full log: {log}"


def test_missing_header_hint(tmp_path: Path) -> None:
    log = tmp_path / "build.log"
    log.write_text("gcc -c x.c\n./Modules/zlibmodule.c:8:10: fatal error: zlib.h: No such file or directory\n"
                   "make: *** [Makefile:3: x.o] Error 1\n")
    err = build.failure("build baseline (release): make", log)
    assert err.message == (
        "build baseline (release): make failed: ./Modules/zlibmodule.c:8:10: fatal error: zlib.h: "
        "No such file or directory"
    )
    assert err.hint == f"install the build dependency: apt-get install zlib1g-dev; full log: {log}"


def test_interpreter_resolution(applied: S.Project) -> None:
    cfg = applied.cfg()
    with pytest.raises(QuickenError) as info:
        build.interpreter(cfg, "baseline")
    assert info.value.message == "baseline (release) is not built for its current tree"
    base = do_build(applied, "baseline")
    assert build.interpreter(cfg, "baseline") == base.python
    output = run_python(build.interpreter(cfg, "baseline"), "-c", "1")
    assert output == f"fake python 3.99.0 ops={BASE_OPS} -c 1\n"
    # any commit of the work tree: a patch ref builds in a rev-<tree> slot
    ref = "refs/quicken/patches/0001-count-calls-in-ceval.patch"
    slot, commit, tree = build.resolve(cfg, ref)
    assert commit == applied.git("rev-parse", ref) and slot == f"rev-{tree[:12]}"
    res = do_build(applied, ref)
    assert res.python == applied.builds / "release" / slot / "obj/python"
    assert run_python(build.interpreter(cfg, commit[:10])) == f"fake python 3.99.0 ops={BASE_OPS}\n"
    assert build.resolve(cfg, "0001")[1] == commit  # a patch by number, stem or file name
    assert build.resolve(cfg, "0001-count-calls-in-ceval")[1] == commit
    with pytest.raises(QuickenError) as info:
        build.resolve(cfg, "no-such-rev")
    assert info.value.message == f"no-such-rev: not a commit of the work tree {applied.worktree}"
    with pytest.raises(ConfigError):
        build.interpreter(cfg, "baseline", "pgo")


def commits_with_new_trees(p: S.Project, count: int) -> list[str]:
    path = p.worktree / "Programs/python.c"
    commits = []
    for i in range(count):
        path.write_text(path.read_text() + f"/* change {i} */\n")
        p.git("commit", "-q", "-am", f"change {i}")
        commits.append(p.git("rev-parse", "HEAD"))
    return commits


def keep_slots(p: S.Project, keep: int) -> None:
    p.config_file.write_text(S.replace(p.config_file.read_text(), "jobs = 2\n", f"jobs = 2\nkeep = {keep}\n"))


def slot_of(res: build.BuildResult) -> Path:
    return res.python.parent.parent


def test_rev_slots_beyond_keep_are_removed_least_recently_used_first(applied: S.Project) -> None:
    keep_slots(applied, 2)
    base = slot_of(do_build(applied, "baseline"))
    a, b, c = commits_with_new_trees(applied, 3)
    with build.holding():
        slot_a = slot_of(do_build(applied, a))
    with build.holding():
        slot_b = slot_of(do_build(applied, b))
    with build.holding():
        assert do_build(applied, a).cached  # a is now used more recently than b
    messages: list[str] = []
    with build.holding():
        slot_c = slot_of(do_build(applied, c, messages))
    assert [slot_a.exists(), slot_b.exists(), slot_c.exists(), base.exists()] == [True, False, True, True]
    assert f"build: removed release/{slot_b.name} (least recently used; [build] keep = 2)" in messages
    with build.holding():  # gone from the cache: built again
        assert not do_build(applied, b).cached
    assert not slot_a.exists() and build.held() == {base}  # baseline was built outside any scope


def test_slots_in_use_are_never_removed(applied: S.Project) -> None:
    keep_slots(applied, 1)
    a, b, c = commits_with_new_trees(applied, 3)
    with build.holding():
        slot_a = slot_of(do_build(applied, a))
    lock = ("import fcntl, sys; f = open(sys.argv[1]); fcntl.flock(f, fcntl.LOCK_SH); "
            "print('held', flush=True); sys.stdin.read()")
    other = subprocess.Popen([sys.executable, "-c", lock, str(slot_a / build.LOCK)], stdin=subprocess.PIPE,
                             stdout=subprocess.PIPE, text=True)
    assert other.stdout is not None and other.stdout.readline() == "held\n"  # another process uses a
    slot_b = slot_of(do_build(applied, b))  # this process holds b until it releases it
    assert slot_a.exists() and slot_b.exists()  # over the bound, but both in use
    assert other.communicate("") == ("", None) and other.returncode == 0
    with build.holding():
        slot_c = slot_of(do_build(applied, c))
        assert build.held() == {slot_b, slot_c}
    assert [slot_a.exists(), slot_b.exists(), slot_c.exists()] == [False, True, True]
    assert build.held() == {slot_b}
    build.release(slot_b)
    assert not build.hold(slot_a)  # a removed slot cannot be held


def test_build_without_work_tree(project: S.Project) -> None:
    with pytest.raises(QuickenError) as info:
        do_build(project, "baseline")
    assert info.value.message == f"{project.worktree}: no Quicken work tree yet"
    assert info.value.hint == "run: quicken apply"


def test_build_many_notes_uncommitted_changes(applied: S.Project) -> None:
    do_build(applied, "baseline")
    do_build(applied, "patched")
    (applied.worktree / "README").write_text("dirty\n")
    messages: list[str] = []
    results = build.build_many(applied.cfg(), ["baseline", "patched"], None, messages.append)
    assert [r.cached for r in results] == [True, True]
    assert messages == ["note: the work tree has uncommitted changes; 'patched' builds its last commit"]


def test_sibling_configure_cache_reused_only_after_the_last_package_change(
    applied: S.Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import os
    import time

    do_build(applied, "baseline")
    sibling = applied.builds / "release" / "baseline" / "obj" / "config.cache"
    sibling.write_text("ac_cv_lib_gdbm=no\n")
    database = tmp_path / "dpkg-status"
    database.write_text("")
    old = time.time() - 3600
    os.utime(database, (old, old))
    monkeypatch.setattr(build, "PACKAGE_DATABASE", database)
    do_build(applied, "patched")
    copied = applied.builds / "release" / "patched" / "obj" / "config.cache"
    assert copied.read_text() == "ac_cv_lib_gdbm=no\n"  # reused: nothing installed since

    database.touch()  # a package was installed after the sibling configured
    os.utime(sibling, (old, old))
    do_build(applied, "patched", force=True)
    assert copied.read_text() == ""  # configured afresh (the fake configure -C creates it empty)


def fixup_text(old: str, new: str) -> str:
    """A unified diff of Programs/python.c replacing ``old`` with ``new`` on the printf line."""
    before = S.PYTHON_C.splitlines(keepends=True)
    after = [line.replace(old, new) for line in before]
    return "".join(difflib.unified_diff(before, after, "a/Programs/python.c", "b/Programs/python.c"))


def with_stats_config(p: S.Project, fixup: str) -> Path:
    """Add a ``stats`` configuration whose fixup is ``fixup`` (patch text); returns its file."""
    path = p.root / "fixups" / "stats.patch"
    path.parent.mkdir(exist_ok=True)
    path.write_text(fixup)
    text = p.config_file.read_text()
    stats = 'stats = ["--stats"]\n\n[build.fixups]\nstats = ["fixups/stats.patch"]\n'
    p.config_file.write_text(text.replace("release = []\n", "release = []\n" + stats))
    return path


def test_fixups_apply_to_both_sides_of_their_configuration_only(applied: S.Project) -> None:
    fixup = with_stats_config(applied, fixup_text("3.99.0 ops", "3.99.0 (fixed) ops"))
    cfg = applied.cfg()
    ident = cfg.build_config("stats").fixups[0].ident
    base = build.build_one(cfg, "baseline", "stats", lambda _: None)
    patched = build.build_one(cfg, "patched", "stats", lambda _: None)
    assert run_python(base.python) == f"fake python 3.99.0 (fixed) ops={BASE_OPS}\n"
    assert run_python(patched.python) == f"fake python 3.99.0 (fixed) ops={PATCHED_OPS}\n"
    stamp = json.loads((applied.builds / "stats/patched/stamp.json").read_text())
    assert stamp["fixups"] == [ident] and ident.startswith("stats.patch@")
    assert (applied.builds / "stats/patched/src.tree").read_text().split() == [patched.tree, ident]
    assert run_python(do_build(applied, "baseline").python) == f"fake python 3.99.0 ops={BASE_OPS}\n"
    assert build.build_one(cfg, "patched", "stats", lambda _: None).cached

    # Another tree in the same slot: the fixup is reversed, the checkout moves, it is re-applied.
    src = applied.builds / "stats/patched/src"
    before = {p: p.stat().st_mtime_ns for p in src.rglob("*") if p.is_file()}
    path = applied.worktree / "Python/ceval.c"
    path.write_text(path.read_text() + "int ceval_line_41 = 41;\n")
    applied.git("commit", "-q", "-am", "touch ceval.c")
    moved = build.build_one(cfg, "patched", "stats", lambda _: None)
    assert not moved.cached and run_python(moved.python) == f"fake python 3.99.0 (fixed) ops={PATCHED_OPS}\n"
    after = {p: p.stat().st_mtime_ns for p in src.rglob("*") if p.is_file()}
    changed = {p.relative_to(src).as_posix() for p in after if after[p] != before.get(p)}
    assert changed == {"Python/ceval.c", "Programs/python.c"}

    # A changed fixup is a different build of the same tree.
    fixup.write_text(fixup_text("3.99.0 ops", "3.99.0 (fixed twice) ops"))
    cfg = applied.cfg()
    states = {(b.config, b.slot): b.state for b in status.collect(cfg).builds}
    assert states[("stats", "patched")] == "out of date (fixups changed)"
    assert states[("release", "baseline")] == "up to date"
    fixup.rename(fixup.with_suffix(".moved"))
    states = {(b.config, b.slot): b.state for b in status.collect(cfg).builds}
    assert states[("stats", "patched")] == "out of date (a fixup file is missing)"
    fixup.with_suffix(".moved").rename(fixup)
    again = build.build_one(cfg, "patched", "stats", lambda _: None)
    assert not again.cached
    assert run_python(again.python) == f"fake python 3.99.0 (fixed twice) ops={PATCHED_OPS}\n"

    # Dropping the fixup restores the tree's own file.
    text = applied.config_file.read_text()
    applied.config_file.write_text(text.replace('stats = ["fixups/stats.patch"]\n', ""))
    plain = build.build_one(applied.cfg(), "patched", "stats", lambda _: None)
    assert not plain.cached and run_python(plain.python) == f"fake python 3.99.0 ops={PATCHED_OPS}\n"
    assert not (applied.builds / "stats/patched/src.fixups").exists()


def test_fixup_that_does_not_apply(applied: S.Project) -> None:
    stale = fixup_text("3.99.0 ops", "3.99.0 (fixed) ops").replace("fake python", "fake snake")
    with_stats_config(applied, stale)
    cfg = applied.cfg()
    tree = applied.git("rev-parse", "HEAD^{tree}")
    with pytest.raises(BuildError) as info:
        build.build_one(cfg, "patched", "stats", lambda _: None)
    assert info.value.message == (
        f"build fixup {applied.root / 'fixups/stats.patch'} does not apply to tree {tree[:12]}: "
        "error: patch failed: Programs/python.c:4"
    )
    slot = applied.builds / "stats/patched"
    assert (slot / "src/Programs/python.c").read_text() == S.PYTHON_C  # left as the tree has it
    assert not (slot / "src.fixups").exists() and not (slot / "src.tree").exists()
    assert not (slot / "stamp.json").exists()


def test_profile_guided_builds_bypass_ccache(project: S.Project, monkeypatch: pytest.MonkeyPatch) -> None:
    # ccache's CCACHE_BASEDIR rewrite makes gcc's profile-use compile see another source
    # path than the profile was made from (-Werror=coverage-mismatch on 3.13.15)
    monkeypatch.setattr(build.shutil, "which", lambda name: f"/usr/bin/{name}")
    monkeypatch.delenv("CC", raising=False)
    cfg = project.cfg()
    release = build.build_env(cfg, build.BuildConfig("release", ()))
    assert release["CC"] == "ccache gcc" and "CCACHE_DISABLE" not in release
    pgo = build.build_env(cfg, build.BuildConfig("pgo-lto", ("--enable-optimizations", "--with-lto")))
    assert pgo["CCACHE_DISABLE"] == "1" and "CC" not in pgo


# A build directory linked as CPython's Makefile links python: the rule's target is
# $(BUILDPYTHON), LDFLAGS_NODIST comes first on the link line and the objects are
# $(LINK_PYTHON_OBJS), the loop's among them (Python/ceval.o, compiled from $(srcdir)).  The
# loop is a hot function (.text.hot, as _Py_HOT_FUNCTION makes it) whose blocks end in jumps,
# the other an ordinary one (.text).
LOOP_C = """\
__attribute__((hot, noinline)) int _PyEval_EvalFrameDefault(const unsigned char *code, int x)
{
    for (;;) {
        switch (*code++) {
        case 0: return x;
        case 1: x += 3; break;
        case 2: x *= 5; break;
        case 3: x -= 7; break;
        case 4: x ^= 11; break;
        case 5: x = x / 2 + 1; break;
        default: x = -x; break;
        }
    }
}
"""
LINKED_C = """\
int _PyEval_EvalFrameDefault(const unsigned char *code, int x);
static const unsigned char program[] = {1, 2, 3, 4, 5, 6, 0};
__attribute__((noinline)) int ordinary_function(int x) { return x - 1; }
int main(int argc, char **argv)
{ (void)argv; return ordinary_function(_PyEval_EvalFrameDefault(program, argc)) == -5 ? 0 : 1; }
"""
LINKED_MAKEFILE = """\
BUILDPYTHON=python
LDFLAGS_NODIST=
LIBRARY_OBJS=Python/ceval.o
LINK_PYTHON_OBJS=$(LIBRARY_OBJS)
$(BUILDPYTHON): Programs/python.o $(LIBRARY_OBJS)
\t$(CC) $(LDFLAGS_NODIST) -o $@ Programs/python.o $(LINK_PYTHON_OBJS)
Programs/python.o: $(srcdir)/python.c
\tmkdir -p Programs
\t$(CC) -O2 -c -o $@ $(srcdir)/python.c
Python/ceval.o: $(srcdir)/Python/ceval.c
\tmkdir -p Python
\t$(CC) -O2 -MMD -c -o Python/ceval.o $(srcdir)/Python/ceval.c
"""


def linked_build(p: S.Project, source: str = LINKED_C, makefile: str = LINKED_MAKEFILE,
                 loop: str = LOOP_C) -> build.BuildResult:
    slot = p.builds / "release" / "baseline"
    obj, src = slot / "obj", slot / "src"
    (src / "Python").mkdir(parents=True)
    obj.mkdir(parents=True)
    (src / "python.c").write_text(source)
    (src / "Python" / "ceval.c").write_text(loop)
    (obj / "Makefile").write_text(f"srcdir = {src}\n" + makefile)
    env = build.build_env(p.cfg(), build.BuildConfig("release", ()))
    subprocess.run(["make", "-s"], cwd=obj, check=True, env=env)
    return build.BuildResult("baseline", "release", "c" * 40, "t" * 40, obj / "python", False, 0.0, None)


def distance(binary: Path, relinked: Path, symbol: str) -> int:
    was, now = build.symbol_address(binary, symbol), build.symbol_address(relinked, symbol)
    assert was is not None and now is not None
    return now - was


def test_relinking_moves_the_code_and_changes_nothing_else(project: S.Project) -> None:
    res = linked_build(project)
    before = res.python.read_bytes()
    messages: list[str] = []
    relinked = build.relink(project.cfg(), res, 1040, messages.append)
    assert relinked == res.python.parent / "python-layout-1040"
    assert res.python.read_bytes() == before  # the build's own interpreter is untouched
    assert subprocess.run([str(relinked)], check=False).returncode == 0  # and the relinked one runs
    # 16 bytes ahead of all code, 1024 between the hot code and the ordinary code, which the
    # pads inside the loop move too
    assert distance(res.python, relinked, "_PyEval_EvalFrameDefault") == 16
    moved = distance(res.python, relinked, "ordinary_function")
    assert moved - 1040 - loop_growth(res.python, relinked) in range(64)
    assert "relink baseline (release): moved _PyEval_EvalFrameDefault by 16 bytes" in messages
    # the code itself is the same: only the probe's and the pads' bytes are new
    assert loop_instructions(relinked) == loop_instructions(res.python)
    sizes = [subprocess.run(["size", "-A", str(b)], capture_output=True, text=True, check=True).stdout
             for b in (res.python, relinked)]
    text = [int(next(ln.split()[1] for ln in s.splitlines() if ln.startswith(".text "))) for s in sizes]
    assert text[1] - text[0] >= 1040
    stamp = relinked.stat().st_mtime_ns
    assert build.relink(project.cfg(), res, 1040, messages.append) == relinked  # reused, not linked again
    assert relinked.stat().st_mtime_ns == stamp
    within_the_line = build.relink(project.cfg(), res, 48, messages.append)
    assert distance(res.python, within_the_line, "ordinary_function") - 48 \
        - loop_growth(res.python, within_the_line) in range(64)


def test_a_relinked_layout_pads_the_loop_inside(project: S.Project) -> None:
    """Between the loop's blocks, after unconditional jumps: each layout its own pads, the same
    instructions, blocks after a pad moved relative to blocks before it."""
    res = linked_build(project)
    messages: list[str] = []
    layouts = {shift: build.relink(project.cfg(), res, shift, messages.append) for shift in (1040, 2080)}
    pads = {shift: build.interior_pads(shift) for shift in layouts}
    assert pads[1040] != pads[2080]
    for shift, relinked in layouts.items():
        assert subprocess.run([str(relinked)], check=False).returncode == 0
        assert loop_instructions(relinked) == loop_instructions(res.python)
        added = sum(size for _, size in pads[shift])
        # the pads, less the alignment after one that it absorbs, more for short jumps made long
        assert abs(loop_growth(res.python, relinked) - added) < 64
        assert build.interior_padded(res, shift)
    assert sum(line.startswith("jmp ") for line in loop_instructions(res.python)) >= 2  # blocks to move
    assert sum("pads inside the interpreter loop of " in m for m in messages) == 2
    assert not build.interior_padded(res, 3120)  # not linked at that layout
    # the compiler's own assembly, made once and kept beside the build
    assert (res.python.parent / "quicken-loop.s").is_file()
    assert not (res.python.parent / "Python" / "quicken-loop.d").exists()  # no dependency file


ASSEMBLY = """\
\t.text
helper:
\tjmp\t.L0
\t.section\t.text.hot,"ax",@progbits
\t.globl\tloop
loop:
\tmovl\t$1, %eax
\tjmp\t*%rdx
\t.section\t.rodata
\t.long\t.L1-.L2
\tjmp\t.Lnot_code
\t.section\t.text.hot
.L1:
#APP
\tjmp 1f
#NO_APP
\tjne\t.L1
\tjmp\t.L1
\taddl\t$2, %eax
\tjmp\t.L1
\tret
\t.size\tloop, .-loop
\tjmp\t.Lafter
"""


def test_pads_go_after_the_loops_own_unconditional_jumps() -> None:
    lines = ASSEMBLY.splitlines()
    # candidates: "jmp *%rdx" and the two "jmp .L1"; not the jump in the .rodata part, the
    # source's own asm (#APP), the conditional jump, or those outside the function
    text, placed = build.pad_loop(ASSEMBLY, "loop", [(0.0, 5), (0.5, 7), (0.99, 9), (0.95, 2)])
    out = text.splitlines()
    skips = [i for i, line in enumerate(out) if ".skip" in line]
    assert [out[i - 1] for i in skips] == ["\tjmp\t*%rdx", "\tjmp\t.L1", "\tjmp\t.L1"]
    assert [out[i].split()[1] for i in skips] == ["5,", "7,", "11,"]  # past the last jump: at the last
    assert [line for line in out if ".skip" not in line] == lines  # nothing else changes
    start, end = lines.index("loop:"), lines.index("\t.size\tloop, .-loop")
    jumps = [lines.index("\tjmp\t*%rdx")] + [i for i, line in enumerate(lines) if line == "\tjmp\t.L1"]
    assert placed == [((at - start) / (end - start), size)
                      for at, size in zip(jumps, (5, 7, 11), strict=True)]
    assert build.pad_loop(ASSEMBLY, "loop", [(0.5, 7)]) == build.pad_loop(ASSEMBLY, "loop", [(0.5, 7)])


@pytest.mark.parametrize(("assembly", "message"), [
    (ASSEMBLY.replace("loop:\n", ""), "has 0 labels 'loop:' and 1 '.size loop' lines"),
    (ASSEMBLY + "loop:\n", "has 2 labels"),
    (ASSEMBLY.replace("\tjmp\t*%rdx", "").replace("\tjmp\t.L1", "\tjne\t.L1"),
     "no unconditional jump in loop's code"),
], ids=["no-label", "two-labels", "no-jump"])
def test_an_assembly_it_cannot_read_is_refused(assembly: str, message: str) -> None:
    with pytest.raises(BuildError, match=re.escape(message)):
        build.pad_loop(assembly, "loop", [(0.5, 8)])


def test_each_layout_pads_one_point_in_each_part_of_the_loop() -> None:
    for shift in (48, 528, 1040, 2080, 3120):
        pads = build.interior_pads(shift)
        assert build.interior_pads(shift) == pads  # the same for every build
        assert len(pads) == build.INTERIOR_POINTS
        for part, (fraction, size) in enumerate(pads):
            assert part / build.INTERIOR_POINTS <= fraction < (part + 1) / build.INTERIOR_POINTS
            assert 1 <= size <= build.INTERIOR_MAX
    assert len({tuple(build.interior_pads(s)) for s in (528, 1040, 1568, 2080, 2608, 3120)}) == 6


def test_a_link_time_optimised_loop_moves_only_whole(project: S.Project) -> None:
    res = linked_build(project, LTO_C, LTO_MAKEFILE, LTO_LOOP)
    messages: list[str] = []
    relinked = build.relink(project.cfg(), res, 1040, messages.append)
    assert subprocess.run([str(relinked)], check=False).returncode == 0
    assert not build.interior_padded(res, 1040)
    assert any("link-time optimisation compiles the loop when it is linked" in m for m in messages)


def test_relinking_refuses_to_compile_anything_again(project: S.Project) -> None:
    # A profile-guided build's objects were compiled with its profile; make would compile a
    # stale one again without it, and the relinked interpreter would not hold the build's code.
    res = linked_build(project)
    source = res.python.parent.parent / "src" / "python.c"
    source.write_text(LINKED_C + "int touched;\n")
    with pytest.raises(BuildError, match=r"relink baseline \(release\): make compiled 1 units again"):
        build.relink(project.cfg(), res, 1040, lambda _: None)
    assert not (res.python.parent / "python-layout-1040").exists()


def test_an_interrupted_relink_leaves_nothing_to_reuse(
        project: S.Project, monkeypatch: pytest.MonkeyPatch) -> None:
    res = linked_build(project)
    real = build._run_logged

    def interrupted(argv: list[str], *args: object) -> int:
        real(argv, *args)  # type: ignore[arg-type]
        if argv[0] == "make":  # the link wrote its output, then the user pressed ^C
            raise KeyboardInterrupt
        return 0

    monkeypatch.setattr(build, "_run_logged", interrupted)
    with pytest.raises(KeyboardInterrupt):
        build.relink(project.cfg(), res, 1040, lambda _: None)
    assert not (res.python.parent / "python-layout-1040").exists()
    monkeypatch.undo()
    relinked = build.relink(project.cfg(), res, 1040, lambda _: None)
    assert subprocess.run([str(relinked)], check=False).returncode == 0


# As a profile-guided build: link-time optimisation of the whole program (CPython's
# -flto-partition=none), several hot functions -- what a training profile makes hot.
HOT_NAMES = ("_PyEval_EvalFrameDefault", "hot_a", "hot_b", "hot_c", "hot_d")
LTO_LOOP = "__attribute__((hot, noinline)) int _PyEval_EvalFrameDefault(int x) { return x * 3 + 1; }\n"
LTO_C = "int _PyEval_EvalFrameDefault(int x);\n" + "".join(
    f"__attribute__((hot, noinline)) int {n}(int x) {{ return x * {i + 3} + 1; }}\n"
    for i, n in enumerate(HOT_NAMES) if i) + """\
__attribute__((noinline)) int ordinary_function(int x) { return x - 1; }
int main(int argc, char **argv)
{ (void)argv; return ordinary_function(_PyEval_EvalFrameDefault(argc) + hot_a(argc) + hot_b(argc)
  + hot_c(argc) + hot_d(argc)) == 29 ? 0 : 1; }
"""
LTO_MAKEFILE = (LINKED_MAKEFILE
                .replace("$(CC) $(LDFLAGS_NODIST)", "$(CC) -flto -flto-partition=none $(LDFLAGS_NODIST)")
                .replace("-O2 ", "-O2 -flto -ffat-lto-objects "))


def placed(binary: Path, names: tuple[str, ...]) -> list[str]:
    """``names`` in the order of their addresses in ``binary``."""
    return sorted(names, key=lambda n: build.symbol_address(binary, n) or -1)


def test_relinking_orders_the_hot_functions_by_layout(project: S.Project) -> None:
    res = linked_build(project, LTO_C, LTO_MAKEFILE, LTO_LOOP)
    messages: list[str] = []
    sections = [f".text.hot.{n}" for n in HOT_NAMES]
    orders = {}
    for shift in (1040, 2080):
        relinked = build.relink(project.cfg(), res, shift, messages.append)
        assert subprocess.run([str(relinked)], check=False).returncode == 0
        expected = [s.removeprefix(".text.hot.") for s in build.hot_order(sections, shift)]
        orders[shift] = placed(relinked, HOT_NAMES)
        assert orders[shift] == expected
        before, after = build.split_shift(shift)
        assert (f"relink baseline (release) with a layout probe of {before}+{after} bytes and "
                f"5 hot functions in the order of layout {shift}") in messages
    assert orders[1040] != orders[2080]  # each layout its own order
    # the sections were learnt by one link, kept beside the build; its map and binary are not
    assert sum("linking once with a section per function" in m for m in messages) == 1
    obj = res.python.parent
    assert sorted((obj / "quicken-hot-sections.txt").read_text().split()) == sorted(sections)
    assert not (obj / "quicken-sections.map").exists() and not (obj / "python-sections").exists()
    # the ordinary code still moves by the probe (each hot function here takes 16 bytes in any order)
    ordinary = [distance(res.python, build.relink(project.cfg(), res, shift, messages.append),
                         "ordinary_function") for shift in (1040, 2080)]
    assert ordinary[1] - ordinary[0] == 1024 + 16


def test_a_layout_orders_shared_hot_functions_alike_in_every_build() -> None:
    # base and head have different hot functions; those both have come in the same order
    base = [f".text.hot.f{i}" for i in range(40)]
    head = [*base[5:], ".text.hot.added", ".text.hot.f7.part.0"]
    in_both = set(base) & set(head)
    assert [n for n in build.hot_order(base, 1040) if n in in_both] \
        == [n for n in build.hot_order(head, 1040) if n in in_both]
    assert build.hot_order(base, 1040) != build.hot_order(base, 2080) != sorted(base)


def test_an_ordering_needs_the_linkers_hot_text_line() -> None:
    script = "SECTIONS\n{\n  .text :\n  {\n    *(.text.hot .text.hot.*)\n    *(.text)\n  }\n}\n"
    assert build.ordering_script(script, [".text.hot.b", ".text.hot.a"]).splitlines()[4:7] == [
        "    *(.text.hot.b)", "    *(.text.hot.a)", "    *(.text.hot .text.hot.*)"]
    with pytest.raises(BuildError, match=r"has 0 lines '\*\(\.text\.hot \.text\.hot\.\*\)', not one"):
        build.ordering_script(script.replace(".text.hot .text.hot.*", ".text.hot"), [])


@pytest.mark.parametrize("printed, message", [
    ([], r"the linker printed no linker script with --verbose"),
    (["=" * 50 + "\n", "SECTIONS {\n", "  *(.text.hot .text.hot.*)\n", "}\n", "=" * 50 + "\n"],
     r"the linker wrote no link map"),
], ids=["no-script", "no-map"])
def test_a_linker_that_does_not_say_what_it_did_is_refused(
        project: S.Project, monkeypatch: pytest.MonkeyPatch, printed: list[str], message: str) -> None:
    res = linked_build(project)

    def link(cfg: object, res: build.BuildResult, name: str, ldflags: object, env: object, log: object,
             on_line: Callable[[str], None] = lambda _: None) -> Path:
        for line in printed:
            on_line(line)
        (res.python.parent / name).write_bytes(b"")
        return res.python.parent / name

    monkeypatch.setattr(build, "_link", link)
    with pytest.raises(BuildError, match=message):
        build.relink(project.cfg(), res, 1040, lambda _: None)
    assert not (res.python.parent / "python-layout-1040").exists()


def test_new_compiler_warnings_are_the_head_builds_own(tmp_path: Path) -> None:
    def slot(name: str, log: str) -> Path:
        path = tmp_path / "builds" / "release" / name
        (path / "obj").mkdir(parents=True)
        (path / "build.log").write_text(log)
        return path

    stock = ("../src/Objects/obmalloc.c:1200:5: warning: writing 1 byte into a region of size 0 "
             "[-Wstringop-overflow=]\n")

    def no_profile(name: str) -> str:  # PGO names each slot's own file: the same warning
        return (f"{tmp_path}/builds/release/{name}/src/Programs/_testembed.c:2591:1: warning: "
                f"'{tmp_path}/builds/release/{name}/obj/Programs/_testembed.gcda' profile count data file "
                "not found [-Wmissing-profile]\n")

    base = slot("baseline", "gcc -c ../src/Python/ceval.c\n" + stock + no_profile("baseline"))
    head = slot("patched", (
        "gcc -c ../src/Python/ceval.c\n"
        + stock.replace(":1200:", ":1212:")  # the same warning, moved by the patch: not new
        + f"{tmp_path}/builds/release/patched/src/Include/internal/pycore_quicken_init.h:129:1: warning: "
          "inline function 'f' given attribute 'noinline' [-Wattributes]\n"
        + no_profile("patched")
        + "In file included from ../src/Python/ceval.c:20:\n"
        + "lto-wrapper: warning: using serial compilation of 2 LTRANS jobs\n"))
    overflow = "writing 1 byte into a region of size 0 [-Wstringop-overflow=]"
    assert build.compiler_warnings(head)[("Objects/obmalloc.c", overflow)] == 1
    assert build.new_warnings(base, head) == [
        "Include/internal/pycore_quicken_init.h: inline function 'f' given attribute 'noinline' "
        "[-Wattributes]"]
    assert build.new_warnings(head, base) == []
    assert build.new_warnings(base, tmp_path / "never-built") == []
