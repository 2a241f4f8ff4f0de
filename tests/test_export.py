"""quicken export on synthetic projects: stacked mails, NEWS entries, refusals, --force, --onto."""

from __future__ import annotations

import json
import re
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
import synthetic as S
from quicken import cli, export, records, validate, verify
from quicken.errors import ApplyError, QuickenError
from quicken.series import load as load_series

ISSUE = 123456


def main(argv: list[str]) -> int:
    return cli.main(argv)


def write_record(project: S.Project, name: str, passed: bool = True, pystats: bool = True) -> Path:
    """A validation record bound to the patch as it is now (what quicken validate writes)."""
    cfg = project.cfg()
    series = load_series(cfg)
    patch = series.patch(name)
    path = validate.record_path(cfg, patch)
    record = {
        "binding": validate.binding(cfg, series, patch, "release"),
        "verdict": {"passed": passed, "rules": [], "failures": [] if passed else ["bm_x: too slow — target"]},
        "suite": "bm_x,quick", "date": "2026-11-24T00:00:00Z",
        "tests": {"passed": True, "summary": "test_ceval: Result: SUCCESS"},
        "pystats": {"LOAD_CONST specialized share": 0.125, "unspecialized share (lower is better)": -0.01}
        if pystats else None,
        "benchmarks": [
            {"name": "bm_x", "base_mean": 0.002, "head_mean": 0.0015, "ratio": 0.75, "significant": True,
             "unstable": [], "base_instructions": 1000, "head_instructions": 800, "instructions_ratio": 0.8},
            {"name": "bm_y", "base_mean": 0.001, "head_mean": 0.001, "ratio": 1.0, "significant": False,
             "unstable": [], "base_instructions": None, "head_instructions": None,
             "instructions_ratio": None},
        ],
        "rechecked": [{"name": "bm_y", "shifts": [0, 16, 32, 48], "ratios": [1.04, 0.98, 1.0, 0.99]}],
        "geometric_mean": 0.866, "instructions_geometric_mean": 0.8,
        "codegen": ["1 entry now jumps to a body placed elsewhere (a taken jump per execution): LOAD_CONST"],
    }
    path.write_text(json.dumps(record))
    verify.write_record(cfg, series, patch, verify.Outcome(name, "full", "0" * 40), cfg.root / "results")
    return path


@pytest.fixture
def issue_patches(mails: S.MailMaker) -> list[S.Mail]:
    """Like conftest's two_patches, both declaring an upstream issue blurb accepts."""
    files = mails.files
    first = mails.patch(
        "Count calls in ceval",
        {"Python/ceval.c": S.replace(files["Python/ceval.c"], "int ceval_line_05 = 5;\n",
                                     "int ceval_line_05 = 5;\n#include \"quicken_counter.h\"\n")},
        body="Adds a call counter to the fake ceval loop, so that the specializer\n"
             "can see how hot a code object is.\n\nA second paragraph with details.",
        trailers=("Quicken-Tests: test_ceval", f"Quicken-Upstream: gh-{ISSUE}",
                  "Reviewed-by: R <r@x.invalid>"),
        overlay={"Include/quicken_counter.h": "#define QUICKEN_COUNTER 1\n"},
    )
    second = mails.patch(
        "Add the LOAD_CONST instruction",
        {"Python/bytecodes.c": S.replace(
            files["Python/bytecodes.c"], "inst(STORE_FAST) {",
            "inst(LOAD_CONST) {\n    value = consts[oparg];\n}\n\ninst(STORE_FAST) {")},
        body="A new instruction: the generated header must be regenerated on apply.",
        trailers=(f"Quicken-Upstream: gh-{ISSUE + 1}", "Quicken-Family: LOAD_CONST"),
    )
    return [first, second]


@pytest.fixture
def exportable(make_project: Callable[..., S.Project], issue_patches: list[S.Mail]) -> S.Project:
    proj = make_project(issue_patches, name="exportable")
    proj.apply()
    for mail in issue_patches:
        write_record(proj, mail.name)
    return proj


def am(project: S.Project, mails: list[Path], dest: Path) -> str:
    """git am the mails onto a fresh checkout of the pin; returns the resulting HEAD's tree."""
    S.git(dest.parent, "clone", "-q", "--no-checkout", str(project.worktree), dest.name)
    S.git(dest, "checkout", "-q", "--detach", "pin-3.99.0")
    for mail in mails:
        S.git(dest, "am", "-q", "--whitespace=nowarn", str(mail))
    return S.git(dest, "rev-parse", "HEAD^{tree}")


def test_stacked_mails_git_am_onto_the_pin(exportable: S.Project, issue_patches: list[S.Mail],
                                           tmp_path: Path) -> None:
    results = export.run(exportable.cfg())
    out = exportable.root / "exported"
    assert [p for _, p in results] == [out / m.name for m in issue_patches]
    assert (out / "series").read_text().split() == [m.name for m in issue_patches]
    first, second = (p.read_text() for _, p in results)
    assert f"Subject: [PATCH 1/2] gh-{ISSUE}: Count calls in ceval\n" in first
    assert f"Subject: [PATCH 2/2] gh-{ISSUE + 1}: Add the LOAD_CONST instruction\n" in second
    # The overlay file is an ordinary new file; the generated header is included.
    assert "diff --git a/Include/quicken_counter.h b/Include/quicken_counter.h\nnew file mode" in first
    assert "diff --git a/Python/generated.h b/Python/generated.h" in second
    # Quicken trailers are dropped, others kept; the validation table is in the message.
    assert "Quicken-" not in first.split("\n---\n")[0]
    assert "Reviewed-by: R <r@x.invalid>" in first
    assert "| bm_x | 2.00 ms | 1.50 ms | 0.750 (1.33x faster) | yes | 0.800 (-20.0%) |" in first
    assert "- pystats delta: LOAD_CONST specialized share +12.50 percentage points" in second
    assert ("- Re-measured at other code layouts: bm_y: 1.00x slower across layouts "
            "(+0B 1.040, +16B 0.980, +32B 1.000, +48B 0.990; not significant)") in second
    assert ("- GCC's interpreter loop: 1 entry now jumps to a body placed elsewhere (a taken jump per "
            "execution): LOAD_CONST") in second
    pr = (out / "0001-count-calls-in-ceval.md").read_text()
    assert pr.startswith(f"# gh-{ISSUE}: Count calls in ceval\n")

    tree = am(exportable, [p for _, p in results], tmp_path / "am")
    clone = tmp_path / "am"
    assert S.git(clone, "log", "--format=%s", "-2").splitlines() == [
        f"gh-{ISSUE + 1}: Add the LOAD_CONST instruction", f"gh-{ISSUE}: Count calls in ceval"]
    # Same files as the work tree's tip, plus the two NEWS entries.
    news = S.git(clone, "ls-tree", "-r", "--name-only", "HEAD", "Misc/NEWS.d/next").splitlines()
    assert len(news) == 2
    for path in news:
        S.git(clone, "rm", "-q", "--cached", path)
    assert S.git(clone, "write-tree") == exportable.git("rev-parse", "HEAD^{tree}")
    assert tree != exportable.git("rev-parse", "HEAD^{tree}")


def test_news_entry_is_valid_blurb(exportable: S.Project, issue_patches: list[S.Mail],
                                   tmp_path: Path) -> None:
    blurb = pytest.importorskip("blurb._blurb_file")  # the test extra installs it
    (ex,) = export.prepare(exportable.cfg(), [issue_patches[0].name])
    assert ex.news is not None
    assert re.fullmatch(
        rf"Misc/NEWS\.d/next/Core_and_Builtins/2027-01-02-10-00-00\.gh-issue-{ISSUE}\.[A-Za-z0-9_-]{{6}}\.rst",
        ex.news.path)
    assert f"+++ b/{ex.news.path}" in ex.mail.decode()
    dest = tmp_path / ex.news.path
    dest.parent.mkdir(parents=True)
    dest.write_text(ex.news.text)
    entries = blurb.Blurbs()
    entries.load_next(str(dest))  # blurb's own parser and checks (section, gh-issue, body)
    (metadata, body), = entries
    assert metadata["gh-issue"] == str(ISSUE) and metadata["section"] == "Core and Builtins"
    assert metadata["date"] == "2027-01-02-10-00-00"
    assert body == ex.news.text  # already wrapped the way blurb wraps
    assert body.startswith("Adds a call counter to the fake ceval loop, so that the specializer can")
    assert "second paragraph" not in body
    from blurb._utils.text import generate_nonce
    assert metadata["nonce"] == generate_nonce(body)


def test_news_section_option_and_unknown_section(exportable: S.Project, issue_patches: list[S.Mail]) -> None:
    (ex,) = export.prepare(exportable.cfg(), [issue_patches[1].name], section="C API")
    assert ex.news is not None and ex.news.path.startswith("Misc/NEWS.d/next/C_API/")
    with pytest.raises(QuickenError, match="not one of blurb's sections"):
        export.prepare(exportable.cfg(), section="Interpreter")


def test_reexport_is_byte_identical(exportable: S.Project) -> None:
    first = [(ex.mail, ex.pr) for ex in export.prepare(exportable.cfg())]
    second = [(ex.mail, ex.pr) for ex in export.prepare(exportable.cfg())]
    assert first == second


@pytest.mark.parametrize("case", ["missing", "failed", "stale"])
def test_refuses_unvalidated_patch(exportable: S.Project, issue_patches: list[S.Mail], case: str,
                                   capsys: pytest.CaptureFixture[str]) -> None:
    name = issue_patches[1].name
    record = exportable.patches / f"{Path(name).stem}.validation.json"
    if case == "missing":
        record.unlink()
        expected = f"quicken: error: {name} has no validation record"
    elif case == "failed":
        write_record(exportable, name, passed=False)
        expected = f"quicken: error: {name} validation FAILED on ? (full, 2026-11-24)"
    else:
        (exportable.overlay / "Include/quicken_counter.h").write_text("#define QUICKEN_COUNTER 2\n")
        name = issue_patches[0].name
        expected = f"quicken: error: {name} has a stale validation record (overlay files changed)"
    code = main(["-C", str(exportable.root), "export"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.splitlines() == [
        expected,
        f"quicken: hint: run: quicken validate {name} (or export with --force: the mail is then marked "
        "unvalidated)",
    ]
    assert not (exportable.root / "exported").exists()


def test_force_marks_unvalidated(exportable: S.Project, issue_patches: list[S.Mail], tmp_path: Path) -> None:
    (exportable.patches / f"{Path(issue_patches[1].name).stem}.validation.json").unlink()
    write_record(exportable, issue_patches[0].name, passed=False)
    results = export.run(exportable.cfg(), force=True, output=tmp_path / "out")
    first, second = (ex for ex, _ in results)
    assert not first.validated and first.validation.state is records.State.FAILED
    assert f"Subject: [PATCH UNVALIDATED 1/2] gh-{ISSUE}: Count calls in ceval" in first.mail.decode()
    mail = " ".join(first.mail.decode().split())
    assert "UNVALIDATED: exported with --force; validation FAILED on ? (full, 2026-11-24)." in mail
    assert "Validation: FAIL" in first.mail.decode()
    assert "> **UNVALIDATED**: exported with --force; never validated." in second.pr
    assert "No validation record." in second.mail.decode()
    # Still a valid stack; git am drops the bracketed prefix.
    am(exportable, [p for _, p in results], tmp_path / "am")
    assert S.git(tmp_path / "am", "log", "-1", "--format=%s", "HEAD~1") == f"gh-{ISSUE}: Count calls in ceval"


def test_no_issue_refused_then_forced_without_news(
    make_project: Callable[..., S.Project], two_patches: list[S.Mail], tmp_path: Path
) -> None:
    # two_patches: the first declares gh-1 (blurb refuses < 32426), the second none.
    proj = make_project(two_patches)
    proj.apply()
    for mail in two_patches:
        write_record(proj, mail.name)
    with pytest.raises(QuickenError, match=r"^0001-count-calls-in-ceval\.patch: no upstream issue for its "
                                           r"NEWS entry \(Quicken-Upstream: gh-1; blurb needs gh-N, "
                                           r"N >= 32426\)$"):
        export.prepare(proj.cfg())
    with pytest.raises(QuickenError, match="no Quicken-Upstream: trailer"):
        export.prepare(proj.cfg(), [two_patches[1].name])
    first, second = export.prepare(proj.cfg(), force=True)
    assert first.news is None and second.news is None and first.validated
    assert "Subject: [PATCH 1/2] gh-1: Count calls in ceval" in first.mail.decode()
    assert "Subject: [PATCH 2/2] Add the LOAD_CONST instruction" in second.mail.decode()
    assert "NO NEWS ENTRY" in second.mail.decode() and "NO NEWS ENTRY" in second.pr
    assert "Misc/NEWS.d" not in second.mail.decode().split("NO NEWS ENTRY")[1]


def test_onto_a_checkout_gives_the_same_diffs(exportable: S.Project, mails: S.MailMaker) -> None:
    plain = export.prepare(exportable.cfg())
    pristine = S.git(mails.repo, "rev-list", "--max-parents=0", "HEAD")
    onto = export.prepare(exportable.cfg(), onto=f"{mails.repo}:{pristine}")
    for a, b in zip(plain, onto, strict=True):
        assert a.mail == b.mail
    assert f"Patch 1 of 2, against {pristine} of {mails.repo} ({pristine[:12]})." in onto[0].pr
    assert "Patch 1 of 2, against CPython 3.99.0 (the pin)." in plain[0].pr


def test_onto_refuses_when_a_patch_does_not_apply(exportable: S.Project, tmp_path: Path) -> None:
    other = tmp_path / "upstream"
    other.mkdir()
    S.git(other, "init", "-q", "-b", "main")
    files = S.pristine_files()
    files["Python/ceval.c"] = files["Python/ceval.c"].replace("int ceval_line_05 = 5;\n",
                                                              "int ceval_line_05 = 55;\n")
    for rel, text in files.items():
        (other / rel).parent.mkdir(parents=True, exist_ok=True)
        (other / rel).write_text(text)
    S.git(other, "add", "-A")
    S.git(other, "commit", "-q", "-m", "upstream moved on")
    before = S.snapshot(exportable)
    with pytest.raises(ApplyError) as info:
        export.prepare(exportable.cfg(), onto=str(other))
    assert str(info.value).startswith("0001-count-calls-in-ceval.patch does not apply onto HEAD of ")
    assert str(info.value).endswith(": Python/ceval.c")
    assert "\n" not in str(info.value)
    assert S.snapshot(exportable) == before
    assert S.git(other, "status", "--porcelain") == ""


def test_onto_a_revision_of_the_work_tree(exportable: S.Project) -> None:
    plain = export.prepare(exportable.cfg())
    onto = export.prepare(exportable.cfg(), onto="pin-3.99.0")
    assert [a.mail for a in plain] == [b.mail for b in onto]
    with pytest.raises(QuickenError, match="neither a directory nor a revision"):
        export.prepare(exportable.cfg(), onto="no-such-ref")


def test_cli_export(exportable: S.Project, capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    code = main(["-C", str(exportable.root), "export", "0002-add-the-load-const-instruction", "-o",
                 str(tmp_path / "o")])
    out, err = capsys.readouterr()
    assert code == 0, err
    lines = out.splitlines()
    assert lines[0] == (f"{tmp_path / 'o' / '0002-add-the-load-const-instruction.patch'}  [2/2] "
                        f"gh-{ISSUE + 1}: Add the LOAD_CONST instruction")
    assert lines[1].startswith("apply in order onto the base with: git am ")
    assert sorted(p.name for p in (tmp_path / "o").iterdir()) == [
        "0002-add-the-load-const-instruction.md", "0002-add-the-load-const-instruction.patch", "series"]


def test_body_helpers() -> None:
    assert export.wrap_like_blurb("a " * 50).count("\n") == 2
    assert export.blurb_nonce("x\n") == export.blurb_nonce("x\n")


def test_refuses_a_work_tree_out_of_date(exportable: S.Project, issue_patches: list[S.Mail]) -> None:
    path = exportable.patches / issue_patches[1].name
    path.write_text(path.read_text().replace("A new instruction", "A brand new instruction"))
    write_record(exportable, issue_patches[1].name)
    expected = r"^the work tree does not match patches/ and cpython_overlay/$"
    with pytest.raises(QuickenError, match=expected) as info:
        export.prepare(exportable.cfg())
    assert info.value.hint == "run: quicken apply"


def test_crlf_files_survive_a_plain_git_am(tmp_path: Path) -> None:
    files = {**S.pristine_files(), "PCbuild/project.vcxproj": "<a>\r\n  <b/>\r\n</a>\r\n"}
    tarball = tmp_path / "crlf" / f"{S.TOP}.tar.xz"
    sha = S.write_tarball(tarball, files)
    maker = S.MailMaker(tmp_path / "crlf-mails", files)
    mail = maker.patch("Add a file to the project", {
        "PCbuild/project.vcxproj": "<a>\r\n  <b/>\r\n  <c/>\r\n</a>\r\n",
        "Python/ceval.c": files["Python/ceval.c"] + "int extra;\n"},
        trailers=(f"Quicken-Upstream: gh-{ISSUE}",))
    # MailMaker reads git's output as text (CRs lost): take the mail's bytes from git directly.
    raw = subprocess.run(["git", "format-patch", "-1", "--stdout", "HEAD"], cwd=maker.repo, check=True,
                         capture_output=True).stdout
    assert b"\r\n" in raw
    mail = S.Mail(mail.name, raw)
    proj = S.new_project(tmp_path / "crlf-project", tarball, sha, [mail])
    proj.apply()
    write_record(proj, mail.name)
    ((ex, path),) = export.run(proj.cfg())
    text = ex.mail.decode()
    assert "GIT binary patch" in text and "+int extra;" in text
    am(proj, [path], tmp_path / "am")
    expected = b"<a>\r\n  <b/>\r\n  <c/>\r\n</a>\r\n"
    assert (tmp_path / "am" / "PCbuild/project.vcxproj").read_bytes() == expected


def test_refuses_an_unverified_patch_and_force_marks_it(
    exportable: S.Project, issue_patches: list[S.Mail], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = exportable.cfg()
    series = load_series(cfg)
    name = issue_patches[1].name
    verify.record_path(cfg, series.patch(name)).unlink()
    code = main(["-C", str(exportable.root), "export"])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.splitlines() == [
        f"quicken: error: {name} has no verification record: it is not shown to behave like stock CPython",
        f"quicken: hint: run: quicken verify {Path(name).stem} (or export with --force: the mail is then "
        "marked unverified)",
    ]
    results = export.run(cfg, force=True, output=tmp_path / "out")
    first, second = (ex for ex, _ in results)
    assert "UNVERIFIED" not in first.mail.decode()
    assert ("UNVERIFIED: not shown to behave like stock CPython (quicken verify: never verified)."
            in " ".join(second.mail.decode().split()))


def test_validation_lines_name_the_sampling_a_wall_verdict_rests_on() -> None:
    """The pyperf options a validation ran with are in the table's heading; a record made with
    each suite's own options (or before they were recorded) names none."""
    record: dict[str, object] = {"verdict": {"passed": True}, "date": "2026-12-07",
                                 "suite": "call_return,quick", "binding": {"config": {"name": "release"}}}
    plain = export.validation_lines(record)[0]
    assert plain.startswith("Validation: PASS (2026-12-07, suite call_return,quick, release build; ")
    record["sampling"] = {"processes": 24, "values": 1}
    heading = export.validation_lines(record)[0]
    assert heading.startswith("Validation: PASS (2026-12-07, suite call_return,quick, --processes 24, "
                              "--values 1, release build; ")


def test_validation_heading_says_how_many_processes_the_rows_rest_on() -> None:
    """Rows that keep their worker-process and value counts name them, whatever the command
    line said (a suite's own options included); rows of several shapes give the range."""
    def row(processes: int, values: int) -> dict[str, object]:
        return {"name": "x", "base_processes": processes, "head_processes": processes,
                "base_values": values, "head_values": values}

    record: dict[str, object] = {"verdict": {"passed": False}, "date": "2026-12-07", "suite": "quick",
                                 "binding": {"config": {"name": "release"}},
                                 "benchmarks": [row(12, 12), row(12, 12)]}
    assert export.validation_lines(record)[0].startswith(
        "Validation: FAIL (2026-12-07, suite quick, 12 processes of 1 value per side, release build; ")
    record["benchmarks"] = [row(4, 12), row(24, 24), {"name": "old row, no counts"}]
    assert ", 4 to 24 processes per side, release build; " in export.validation_lines(record)[0]
    record["benchmarks"] = [row(4, 12)]
    assert ", 4 processes of 3 values per side, " in export.validation_lines(record)[0]
