"""quicken.cli: expected failures leave as one 'quicken: error:' line (+ hint), never a traceback."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import pytest
import synthetic as S
from quicken import build, cli

PROGRESS = re.compile(r"^\[\s*\d+\.\d+s\] ")


def run(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    return code, out, err


def error_lines(err: str) -> list[str]:
    """stderr without progress lines (which only a terminal or CI log sees)."""
    return [ln for ln in err.splitlines() if not PROGRESS.match(ln)]


def test_no_project(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code, out, err = run(capsys, "-C", str(tmp_path), "status")
    assert code == 1 and out == ""
    assert err == (
        f"quicken: error: no quicken.toml in {tmp_path} or any parent directory\n"
        "quicken: hint: run quicken inside a Quicken project, or pass -C PROJECT_DIR\n"
    )


def test_config_error_without_hint(capsys: pytest.CaptureFixture[str], project: S.Project) -> None:
    project.config_file.write_text('[pin]\nversion = "3.99"\nsha256 = "' + "0" * 64 + '"\n')
    code, out, err = run(capsys, "-C", str(project.root), "apply")
    assert code == 1 and out == ""
    assert err == (
        f"quicken: error: {project.config_file}: pin.version '3.99' is not a CPython release version\n"
    )


def test_series_error(capsys: pytest.CaptureFixture[str], applied: S.Project) -> None:
    (applied.overlay / "stray.h").write_text("x\n")
    before = S.snapshot(applied)
    code, out, err = run(capsys, "-C", str(applied.root), "apply")
    assert code == 1 and out == ""
    assert err == (
        f"quicken: error: {applied.overlay / 'stray.h'}: owned by no patch\n"
        "quicken: hint: add 'Quicken-Overlay: stray.h' to the trailers of the patch that adds it\n"
    )
    assert S.snapshot(applied) == before


def test_apply_and_reapply(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    make_project: Callable[..., S.Project],
    two_patches: list[S.Mail],
) -> None:
    proj = make_project(two_patches)
    monkeypatch.chdir(proj.root / "patches")  # found by searching upwards
    code, out, err = run(capsys, "apply")
    assert code == 0
    lines = out.splitlines()
    assert re.fullmatch(rf"{re.escape(str(proj.worktree))}: CPython 3\.99\.0 \+ 2 patch\(es\), applied in "
                        r"\d+\.\ds", lines[0])
    pin = proj.git("rev-parse", "pin-3.99.0")
    assert lines[1] == f"  pin-3.99.0  {pin[:12]}"
    assert [ln.split()[1] for ln in lines[2:]] == [m.name for m in two_patches]
    assert "Traceback" not in err
    code, out, _ = run(capsys, "apply")
    assert code == 0 and out.splitlines()[0].endswith("2 patch(es), up to date")


def test_hunk_failure(capsys: pytest.CaptureFixture[str], applied: S.Project) -> None:
    name = "0002-add-the-load-const-instruction.patch"
    path = applied.patches / name
    path.write_text(path.read_text().replace(" inst(STORE_FAST) {\n", " inst(STORE_SLOW) {\n"))
    code, out, err = run(capsys, "-C", str(applied.root), "apply")
    assert code == 1 and out == ""
    lines = error_lines(err)
    assert len(lines) == 2 and "Traceback" not in err
    assert lines[0].startswith(f"quicken: error: {name} does not apply: Python/bytecodes.c hunk @@ ")
    assert lines[1].startswith(f"quicken: hint: the work tree is unchanged; fix the hunk in {path}")


def test_dirty_tree(capsys: pytest.CaptureFixture[str], applied: S.Project) -> None:
    (applied.worktree / "README").write_text("mine\n")
    code, _, err = run(capsys, "-C", str(applied.root), "apply")
    assert code == 1
    assert error_lines(err) == [
        f"quicken: error: {applied.worktree}: 1 uncommitted change(s) (first: README)",
        "quicken: hint: write them back with 'quicken refresh', or keep them on a branch with "
        "'quicken apply --save-to BRANCH'",
    ]
    code, out, err = run(capsys, "-C", str(applied.root), "apply", "--save-to", "mine")
    assert code == 0, err
    assert out.splitlines()[0] == (
        f"saved your uncommitted work and commits on branch mine in {applied.worktree}"
    )
    assert applied.git("show", "mine:README") == "mine"


def test_wrong_source_checksum(capsys: pytest.CaptureFixture[str], project: S.Project, tmp_path: Path,
                               cache_dir: Path) -> None:
    wrong = tmp_path / "wrong.tar.xz"
    S.write_tarball(wrong, {"README": "other\n"})
    code, out, err = run(capsys, "-C", str(project.root), "fetch", "--source", str(wrong))
    assert code == 1 and out == ""
    lines = error_lines(err)
    assert lines[0].startswith("quicken: error: no provider could supply CPython 3.99.0 (")
    assert f"{wrong}: sha256 " in lines[0]
    assert lines[1:] == ["quicken: hint: pass --source PATH to a release tarball or CPython checkout"]
    assert not cache_dir.exists() or not [p for p in cache_dir.rglob("*") if p.is_file()]
    code, out, _ = run(capsys, "-C", str(project.root), "fetch")
    assert code == 0 and out.startswith("CPython 3.99.0: ") and out.rstrip().endswith("via path)")


def test_refresh(capsys: pytest.CaptureFixture[str], applied: S.Project) -> None:
    code, out, _ = run(capsys, "-C", str(applied.root), "refresh")
    assert code == 0
    assert out == "nothing to write back: patches/ and cpython_overlay/ already match the work tree\n"
    (applied.worktree / "README").write_text("refreshed\n")
    code, out, _ = run(capsys, "-C", str(applied.root), "refresh", "--patch", "0001-count-calls-in-ceval")
    assert code == 0
    lines = out.splitlines()
    assert lines[0] == "updated patches/0001-count-calls-in-ceval.patch"
    assert lines[1].startswith("previous work-tree state kept as refs/quicken/backup/refresh-")


def test_build_failure_shows_details(capsys: pytest.CaptureFixture[str], applied: S.Project) -> None:
    path = applied.worktree / "Programs/python.c"
    path.write_text(f"/* {S.BREAK_MARKER} */\n" + path.read_text())
    applied.git("commit", "-q", "-am", "break")
    code, out, err = run(capsys, "-C", str(applied.root), "build", "patched")
    assert code == 1 and out == "" and "Traceback" not in err
    lines = error_lines(err)
    assert lines[0] == ("quicken: error: build patched (release): make failed: "
                        "Programs/python.c: error: build marker QUICKEN_BREAK_BUILD found")
    assert lines[-1] == f"quicken: hint: full log: {applied.builds / 'release/patched/build.log'}"
    assert all(ln.startswith("    ") for ln in lines[1:-1]) and len(lines) > 2


def test_missing_tool_exit_code(
    capsys: pytest.CaptureFixture[str], applied: S.Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(build.shutil, "which", lambda tool: None)
    code, out, err = run(capsys, "-C", str(applied.root), "build", "baseline")
    assert code == 3 and out == ""
    assert error_lines(err) == [
        "quicken: error: make not found on PATH",
        "quicken: hint: install it: apt-get install build-essential",
    ]


def test_build_and_python(
    capsys: pytest.CaptureFixture[str], applied: S.Project, monkeypatch: pytest.MonkeyPatch
) -> None:
    code, out, err = run(capsys, "-C", str(applied.root), "python", "baseline", "--", "-c", "print(1)")
    assert code == 1 and error_lines(err) == [
        "quicken: error: baseline (release) is not built for its current tree",
        "quicken: hint: run: quicken build baseline",
    ]
    code, out, _ = run(capsys, "-C", str(applied.root), "build")
    assert code == 0
    lines = out.splitlines()
    assert [ln.split()[0] for ln in lines] == ["baseline", "patched"]
    assert all("(release, tree " in ln and ln.endswith("s)") for ln in lines)
    code, out, _ = run(capsys, "-C", str(applied.root), "build", "baseline")
    assert code == 0 and out.rstrip().endswith(", cached)")

    calls: list[tuple[str, list[str]]] = []

    class Exec(Exception):
        pass

    def fake_execv(path: str, argv: list[str]) -> None:
        calls.append((path, argv))
        raise Exec

    monkeypatch.setattr(cli.os, "execv", fake_execv)
    with pytest.raises(Exec):
        cli.main(["-C", str(applied.root), "python", "baseline", "--", "-c", "print(1)"])
    python = str(applied.builds / "release/baseline/obj/python")
    assert calls == [(python, [python, "-c", "print(1)"])]
    with pytest.raises(Exec):
        cli.main(["-C", str(applied.root), "python"])  # default side: patched
    patched = str(applied.builds / "release/patched/obj/python")
    assert calls[-1] == (patched, [patched])
    with pytest.raises(Exec):
        cli.main(["-C", str(applied.root), "python", "--config", "release", "patched", "script.py", "--x"])
    assert calls[-1] == (patched, [patched, "script.py", "--x"])


def test_status(capsys: pytest.CaptureFixture[str], applied: S.Project) -> None:
    code, out, _ = run(capsys, "-C", str(applied.root), "status")
    assert code == 0
    assert out.startswith(f"pin:       CPython 3.99.0 (sha256 {applied.sha256[:16]}…)\n")
    assert f"work tree: {applied.worktree} — at " in out and ", clean" in out
    assert "series:    2 patch(es)" in out
    assert re.search(r"applied\s.*0001-count-calls-in-ceval\.patch", out)
    assert out.count("validate: never validated") == 2 and out.count("verify:   never verified") == 2
    (applied.worktree / "README").write_text("x\n")
    code, out, _ = run(capsys, "-C", str(applied.root), "status")
    assert code == 0 and "1 uncommitted change(s)" in out


def test_status_lists_build_slots_not_the_files_beside_them(capsys: pytest.CaptureFixture[str],
                                                            applied: S.Project) -> None:
    (applied.builds / "release" / "failed-slot").mkdir(parents=True)
    (applied.builds / "release" / "instruction-counts.json").write_text("{}\n")
    (applied.builds / "release" / "regrtest").mkdir()  # verify's cache, not a slot
    code, out, _ = run(capsys, "-C", str(applied.root), "status")
    assert code == 0
    assert re.search(r"release\s+failed-slot\s+-\s+failed or incomplete", out)
    assert "instruction-counts.json" not in out and "regrtest" not in out


def test_layouts_pools_bench_layouts_directories(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    import json

    for name, ratio in (("one", 0.95), ("two", 0.93)):
        d = tmp_path / name
        d.mkdir()
        (d / "summary.json").write_text(json.dumps({"base": {"tree": "a" * 40}, "head": {"tree": "b" * 40}}))
        (d / "layouts.json").write_text(json.dumps({"benchmarks": [
            {"name": "go", "shifts": [0, 16, 32], "ratios": [ratio, ratio - 0.01, ratio + 0.01]}]}))
    assert cli.main(["layouts", str(tmp_path / "one"), str(tmp_path / "two")]) == 0
    out = capsys.readouterr().out
    assert out.startswith("2 'bench --layouts' runs pooled")
    assert "| go | 0.940 | 0.930 | 0.950 | 1.06x faster | yes |" in out
    assert cli.main(["layouts", str(tmp_path / "missing")]) == 1
    assert "missing/summary.json: not found" in capsys.readouterr().err
