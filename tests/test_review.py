"""quicken review on synthetic patches: every check failing and passing, the report, HTML, interdiff."""

from __future__ import annotations

import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
import synthetic as S
from quicken import cli, export, review, validate, verify
from quicken.series import load as load_series
from quicken.series import parse_patch

ISSUE = 123456


def main(argv: list[str]) -> int:
    return cli.main(argv)


def write_record(project: S.Project, name: str, passed: bool = True) -> Path:
    cfg = project.cfg()
    series = load_series(cfg)
    patch = series.patch(name)
    path = validate.record_path(cfg, patch)
    path.write_text(json.dumps({
        "binding": validate.binding(cfg, series, patch, "release"),
        "verdict": {"passed": passed, "rules": [], "failures": []}, "date": "2026-11-24T00:00:00Z",
        "suite": "quick", "pystats": {"LOAD_CONST specialized share": 0.25},
        "benchmarks": [{"name": "bm_x", "base_mean": 0.002, "head_mean": 0.001, "ratio": 0.5,
                        "significant": True, "unstable": [], "instructions_ratio": 0.6}],
        "results": str(project.root / "results" / "gone"),
    }))
    verify.write_record(cfg, series, patch, verify.Outcome(name, "full", "0" * 40), cfg.root / "results")
    return path


def mail_file(tmp_path: Path, mail: S.Mail) -> Path:
    path = tmp_path / mail.name
    path.write_bytes(mail.data)
    return path


@pytest.fixture
def good(mails: S.MailMaker) -> list[S.Mail]:
    files = mails.files
    first = mails.patch(
        "Count calls in ceval",
        {"Python/ceval.c": S.replace(files["Python/ceval.c"], "int ceval_line_05 = 5;\n",
                                     "int ceval_line_05 = 5;\n#include \"quicken_counter.h\"\n")},
        body="Adds a call counter.",
        trailers=(f"Quicken-Upstream: gh-{ISSUE}", "Quicken-Tests: test_counter"),
        overlay={"Include/quicken_counter.h": "#define QUICKEN_COUNTER 1\n",
                 "Lib/test/test_counter.py": "def test():\n    pass\n"},
    )
    second = mails.patch(
        "Add the LOAD_CONST instruction",
        {"Python/bytecodes.c": S.replace(
            files["Python/bytecodes.c"], "inst(STORE_FAST) {",
            "inst(LOAD_CONST) {\n    if (oparg) {\n        value = consts[oparg];\n    }\n}\n\n"
            "inst(STORE_FAST) {")},
        body="A new instruction.",
        trailers=("Quicken-Family: LOAD_CONST",),
    )
    return [first, second]


@pytest.fixture
def reviewed(make_project: Callable[..., S.Project], good: list[S.Mail]) -> S.Project:
    proj = make_project(good, name="reviewed")
    proj.apply()
    for mail in good:
        write_record(proj, mail.name)
    return proj


def by_name(result: review.ReviewResult) -> dict[str, review.Check]:
    return {c.name: c for c in result.checks}


# -- the whole report -------------------------------------------------------------------------------


def test_report_of_a_good_patch(reviewed: S.Project, good: list[S.Mail]) -> None:
    result = review.review(reviewed.cfg(), good[0].name)
    checks = by_name(result)
    assert {n: c.status for n, c in checks.items()} == {
        "applies": "pass", "no generated files": "pass", "overlay ownership": "pass", "tests": "pass",
        "C style": "pass", "footprint": "pass", "magic number": "pass", "validation": "pass",
            "verification": "pass"}
    md = result.markdown
    assert md.startswith(f"# Review: gh-{ISSUE}: Count calls in ceval\n")
    assert "**PASS**: 9 of 9 checks pass" in md
    assert f"| Quicken-Upstream | gh-{ISSUE} |" in md
    assert "| `Include/quicken_counter.h` | overlay | added | 1 | 0 |" in md
    assert "| `Python/ceval.c` | upstream | modified | 1 | 0 |" in md
    assert "## C functions touched\n\n- (no hunk section headers)\n" in md  # no function in fake ceval.c
    assert "| bm_x | 2.00 ms | 1.00 ms | 0.500 (2.00x faster) | yes | 0.600 (-40.0%) |" in md
    assert "No previously exported version" in md
    assert "No opcode metadata in the tree" in md


def test_report_of_the_instruction_patch(reviewed: S.Project, good: list[S.Mail]) -> None:
    result = review.review(reviewed.cfg(), good[1].name)
    checks = by_name(result)
    assert checks["tests"].status == "fail"
    assert checks["tests"].where == [f"{reviewed.patches / good[1].name}:1: add a test under Lib/test/ "
                                     "(overlay file, or a diff of an existing test)"]
    md = result.markdown
    assert "### `Python/generated.h` (generated: 1 hunk(s), +1 -1, not shown)" in md
    assert "- pystats, LOAD_CONST specialized share: +25.00 percentage points" in md
    assert "**FAIL**: 8 of 9 checks pass (failing: tests)" in md


def test_cli_review_markdown_html_and_exit_status(reviewed: S.Project, good: list[S.Mail], tmp_path: Path,
                                                  capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["-C", str(reviewed.root), "review", good[0].name])
    out, _ = capsys.readouterr()
    assert code == 0 and out.startswith("# Review: ")
    target = tmp_path / "r" / "review.md"
    code = main(["-C", str(reviewed.root), "review", good[1].name, "--html", "-o", str(target)])
    out, _ = capsys.readouterr()
    assert code == 1  # the tests check fails
    assert target.read_text().startswith("# Review: Add the LOAD_CONST instruction")
    page = target.with_suffix(".html").read_text()
    assert page.startswith("<!DOCTYPE html>")
    assert '<img alt="speedups of the validation run" src="data:image/png;base64,iVBORw0KGgo' in page
    assert not re.search(r"(?:src|href)=\"(?!data:)", page)  # self-contained
    assert '<tr class="fail"><td>tests</td>' in page


def test_interdiff_against_the_previous_export(reviewed: S.Project, good: list[S.Mail]) -> None:
    export.run(reviewed.cfg(), [good[0].name], force=True)
    result = review.review(reviewed.cfg(), good[0].name)
    assert "No change since the export in" in result.markdown
    previous = reviewed.root / "exported" / good[0].name
    old = previous.read_text().replace('+#include "quicken_counter.h"', '+#include "old.h"')
    previous.write_text(old)
    md = review.review(reviewed.cfg(), good[0].name).markdown
    section = md.split("## Interdiff", 1)[1]
    assert "--- " + str(previous) in section and "+++ as exported now" in section
    assert '-+#include "old.h"' in section and '++#include "quicken_counter.h"' in section
    assert "\nindex " not in section and "\n index " not in section


# -- one check at a time, failing and passing -------------------------------------------------------


def test_applies_fails_with_file_and_line(reviewed: S.Project, good: list[S.Mail]) -> None:
    path = reviewed.patches / good[0].name
    path.write_text(path.read_text().replace(" int ceval_line_04 = 4;\n", " int ceval_line_04 = 44;\n"))
    result = review.review(reviewed.cfg(), good[0].name)
    check = by_name(result)["applies"]
    assert check.status == "fail"
    assert check.where == ["Python/ceval.c:4: hunk does not apply"]
    assert "the work tree holds an older version of this patch" in result.markdown
    assert check.where[0] in result.markdown


def test_generated_file_in_the_patch(project: S.Project, mails: S.MailMaker, tmp_path: Path) -> None:
    cfg = project.cfg()
    bad = mails.patch("Edit the generated header",
                      {"Python/generated.h": mails.files["Python/generated.h"] + "/* hand edit */\n"})
    patch = parse_patch(mail_file(tmp_path, bad))
    check = review.check_generated(cfg, patch)
    assert check.status == "fail"
    line = bad.line_of("diff --git a/Python/generated.h")
    assert check.where == [f"{patch.path}:{line}: Python/generated.h "
                           "is generated (regenerated on apply): remove it from the patch"]
    ok = mails.patch("Edit ceval", {"Python/ceval.c": mails.files["Python/ceval.c"] + "int x;\n"})
    assert review.check_generated(cfg, parse_patch(mail_file(tmp_path, ok))).status == "pass"


def test_overlay_ownership(project: S.Project, mails: S.MailMaker, tmp_path: Path) -> None:
    cfg = project.cfg()
    (cfg.overlay / "Include").mkdir(parents=True)
    (cfg.overlay / "Include/a.h").write_text("a\n")
    owner = mails.patch("Own a.h", {"Python/ceval.c": mails.files["Python/ceval.c"] + "int a;\n"},
                        trailers=("Quicken-Overlay: Include/a.h", "Quicken-Overlay: Include/missing.h"))
    patch = parse_patch(mail_file(tmp_path, owner))
    owners = {"Include/a.h": [patch.name, "0009-other.patch"], "Include/missing.h": [patch.name]}
    check = review.check_overlay(cfg, patch, owners)
    assert check.status == "fail"
    assert check.where == [
        f"{patch.path}:{owner.line_of('Quicken-Overlay: Include/a.h')}: Include/a.h is also owned by "
        "0009-other.patch",
        f"{patch.path}:{owner.line_of('Quicken-Overlay: Include/missing.h')}: Include/missing.h: "
        f"no such file in {cfg.overlay}",
    ]
    diffs_overlay = mails.patch("Diff a.h", {"Include/a.h": "b\n"})
    p2 = parse_patch(mail_file(tmp_path, diffs_overlay))
    check = review.check_overlay(cfg, p2, {"Include/a.h": ["0001-own-a-h.patch"]})
    assert check.status == "fail"
    assert check.where[0].startswith(f"{p2.path}:{diffs_overlay.line_of('diff --git')}: Include/a.h is an "
                                     "overlay file (owned by 0001-own-a-h.patch)")
    adds = mails.patch("Add b.h", {"Include/b.h": "b\n"})
    p3 = parse_patch(mail_file(tmp_path, adds))
    check = review.check_overlay(cfg, p3, {})
    assert check.status == "warn" and "Include/b.h is added by the diff" in check.where[0]
    assert review.check_overlay(cfg, patch, {"Include/a.h": [patch.name]}).status == "fail"  # missing.h
    (cfg.overlay / "Include/missing.h").write_text("m\n")
    assert review.check_overlay(cfg, patch, {"Include/a.h": [patch.name],
                                             "Include/missing.h": [patch.name]}).status == "pass"


def test_tests_check(project: S.Project, mails: S.MailMaker, tmp_path: Path) -> None:
    edit = mails.patch("Touch a test", {"Lib/test/test_x.py": "x = 1\n"})
    patch = parse_patch(mail_file(tmp_path, edit))
    assert review.check_tests(patch, []).status == "pass"
    assert "Lib/test/test_x.py (added by the diff)" in review.check_tests(patch, []).summary
    plain = mails.patch("No test", {"Python/ceval.c": mails.files["Python/ceval.c"] + "int y;\n"})
    p2 = parse_patch(mail_file(tmp_path, plain))
    assert review.check_tests(p2, []).status == "fail"
    assert review.check_tests(p2, ["Lib/test/test_y.py"]).status == "pass"


@pytest.mark.parametrize(("line", "problems"), [
    ("    int x = 1;", []),
    ("\tint x = 1;", ["tab character"]),
    ("    int x = 1; ", ["trailing whitespace"]),
    ("    x = " + "a" * 80 + ";", ["89 columns (> 79)"]),
    ("    if (x) {", []),
    ("    if (x)", ["'if' without a brace on its line"]),
    ("    if (x) return 1;", ["one-line 'if' body: use braces"]),
    ("    for (i = 0; i < n; i++)", ["'for' without a brace on its line"]),
    ("    while (f(x)) {", []),
    ("    } while (0);", []),
    ("    } else if (y) {", []),
    ("    else", ["'else' without a brace on its line"]),
    ("    } else {", []),
    ("    if (a &&", []),  # a condition continued on the next line: not judged
    ("#define X(a) if (a) { f(); }", []),
])
def test_style_rules(line: str, problems: list[str]) -> None:
    assert review.style_problems(line) == problems


def test_c_style_check_names_file_and_line(reviewed: S.Project, mails: S.MailMaker) -> None:
    second = review.review(reviewed.cfg(), "0002-add-the-load-const-instruction")
    assert by_name(second)["C style"].status == "pass"
    check = review.check_c_style([("Python/ceval.c", 12, "    if (x) return 1; "), ("Include/a.h", 3, "ok;")])
    assert check.status == "fail"
    assert check.where == ["Python/ceval.c:12: trailing whitespace",
                           "Python/ceval.c:12: one-line 'if' body: use braces"]


def test_c_style_on_a_real_diff(project: S.Project, mails: S.MailMaker, tmp_path: Path) -> None:
    cfg = project.cfg()
    text = mails.files["Python/ceval.c"].replace("int ceval_line_10 = 10;\n",
                                                  "int ceval_line_10 = 10;\n\tint tabbed;\n")
    bad = mails.patch("Tabs", {"Python/ceval.c": text})
    import unidiff
    lines = review.added_c_lines(cfg, unidiff.PatchSet(parse_patch(mail_file(tmp_path, bad)).diff))
    assert lines == [("Python/ceval.c", 12, "\tint tabbed;")]
    assert review.check_c_style(lines).where == ["Python/ceval.c:12: tab character"]


def test_footprint() -> None:
    small = review.FileDiff("Python/ceval.c", "upstream", 3, 1, "modified", ["@@ -1,2 +1,4 @@\n"], [])
    assert review.check_footprint([small]).status == "pass"
    big = review.FileDiff("Python/ceval.c", "upstream", 90, 20, "modified", ["@@ -40,2 +42,92 @@ f\n"], [])
    overlay = review.FileDiff("Python/quicken.c", "overlay", 500, 0, "added", ["@@ -0,0 +1,500 @@\n"], [])
    check = review.check_footprint([big, overlay])
    assert check.status == "warn"
    assert check.where == ["Python/ceval.c:42: +90 -20"]
    assert check.summary.startswith("110 line(s) changed in 1 upstream file(s)")


def test_validation_check(reviewed: S.Project, good: list[S.Mail]) -> None:
    cfg = reviewed.cfg()
    series = load_series(cfg)
    patch = series.patch(good[0].name)
    assert review.check_validation(cfg, series, patch).status == "pass"
    write_record(reviewed, good[0].name, passed=False)
    check = review.check_validation(cfg, series, patch)
    assert check.status == "fail" and check.summary.startswith("validation FAILED on ? (full, ")
    validate.record_path(cfg, patch).unlink()
    check = review.check_validation(cfg, series, patch)
    assert check.where == [f"{patch.path}:1: never validated"]


# -- the interpreter-level change ---------------------------------------------------------------------

METADATA = '''\
_specializations = {
    "LOAD_ATTR": [
        "LOAD_ATTR_SLOT",
    ],
}

_specialized_opmap = {
    'LOAD_ATTR_SLOT': 100,
}

opmap = {
    'CACHE': 0,
    'NOP': 9,
    'LOAD_ATTR': 10,
}
'''
CACHES = "const uint8_t _PyOpcode_Caches[256] = {\n    [LOAD_ATTR] = 9,\n};\n"
BOOTSTRAP = "# magic\n\nMAGIC_NUMBER = (3571).to_bytes(2, 'little') + b'\\r\\n'\n"
OPCODE_PY = '_cache_format = {\n    "LOAD_ATTR": {\n        "counter": 1,\n        "rest": 8,\n    },\n}\n'


def meta_files(metadata: str = METADATA, caches: str = CACHES, bootstrap: str = BOOTSTRAP,
               opcode_py: str = OPCODE_PY) -> dict[str, str | None]:
    return {review.OPCODE_METADATA_PY: metadata, review.OPCODE_METADATA_H: caches,
            review.BOOTSTRAP: bootstrap, review.OPCODE_PY: opcode_py}


NEW_SPECIALIZATION = (
    METADATA.replace('        "LOAD_ATTR_SLOT",\n', '        "LOAD_ATTR_SLOT",\n        "LOAD_ATTR_NEW",\n')
    .replace("    'LOAD_ATTR_SLOT': 100,\n}", "    'LOAD_ATTR_SLOT': 100,\n    'LOAD_ATTR_NEW': 101,\n}")
)


def test_interpreter_change_new_specialization_without_cache_change() -> None:
    info = review.interpreter_change(meta_files(), meta_files(NEW_SPECIALIZATION))
    assert info.available and info.added == ["LOAD_ATTR_NEW"] and info.removed == []
    assert info.families == ["LOAD_ATTR"] and info.family_caches == {"LOAD_ATTR": 9}
    assert info.caches == {} and info.must_bump == [] and not info.bumped
    assert info.cache_format_mismatch == []


def test_interpreter_change_cache_growth_requires_a_magic_bump(mails: S.MailMaker, tmp_path: Path) -> None:
    grown = CACHES.replace("= 9", "= 10")
    info = review.interpreter_change(meta_files(), meta_files(caches=grown))
    assert info.caches == {"LOAD_ATTR": (9, 10)}
    assert info.must_bump == ["inline-cache size of LOAD_ATTR 9 -> 10"]
    assert info.cache_format_mismatch == ["LOAD_ATTR: Lib/opcode.py _cache_format 9, generated 10"]
    patch = parse_patch(mail_file(tmp_path, mails.patch("Grow", {"README": "x\n"},
                                                        trailers=("Quicken-Magic: unchanged",))))
    check = review.check_magic(patch, info)
    assert check.status == "fail"
    assert check.where == [f"{review.BOOTSTRAP}:3: MAGIC_NUMBER unchanged but it must change: "
                           "inline-cache size of LOAD_ATTR 9 -> 10"]
    bumped = review.interpreter_change(meta_files(), meta_files(
        caches=grown, bootstrap=BOOTSTRAP.replace("3571", "3572")))
    assert bumped.bumped and bumped.magic_before == (3571, 3) and bumped.magic_after == (3572, 3)
    check = review.check_magic(patch, bumped)  # bumped, but the trailer says unchanged
    assert check.status == "fail" and check.where == [
        f"{patch.path}:{patch.trailers[0].line}: Quicken-Magic: unchanged but the patch left it bumped"]
    declared = parse_patch(mail_file(tmp_path, mails.patch("Grow2", {"README": "y\n"},
                                                           trailers=("Quicken-Magic: bumped",))))
    assert review.check_magic(declared, bumped).status == "pass"
    assert review.check_magic(declared, info).status == "fail"


def test_interpreter_change_new_base_opcode_and_needless_bump(mails: S.MailMaker, tmp_path: Path) -> None:
    renumbered = METADATA.replace("    'NOP': 9,\n", "    'NOP': 9,\n    'LOAD_FAST_NEW': 11,\n")
    info = review.interpreter_change(meta_files(), meta_files(renumbered))
    assert info.added == ["LOAD_FAST_NEW"] and info.must_bump == ["opcode number LOAD_FAST_NEW absent -> 11"]
    needless = review.interpreter_change(meta_files(),
                                         meta_files(bootstrap=BOOTSTRAP.replace("3571", "3580")))
    patch = parse_patch(mail_file(tmp_path, mails.patch("Needless", {"README": "z\n"})))
    assert review.check_magic(patch, needless).status == "warn"
    unchanged = review.interpreter_change(meta_files(), meta_files())
    assert review.check_magic(patch, unchanged).status == "pass"


def test_named_instructions_map_to_families() -> None:
    info = review.interpreter_change(meta_files(), meta_files(), named=["LOAD_ATTR_SLOT", "_GUARD"])
    assert info.families == ["LOAD_ATTR"]


def test_real_cpython_metadata_parses() -> None:
    """The parsers read the pin's real files when a source tarball is in the cache."""
    import os
    import pwd
    import tarfile

    from quicken import config

    cfg = config.load(Path(__file__).resolve().parent.parent)
    home = Path(pwd.getpwuid(os.getuid()).pw_dir)  # the hermetic fixture moved $HOME
    candidates = sorted((home / ".cache" / "quicken" / "sources").glob(f"Python-{cfg.pin.version}-*.tar.xz"))
    if not candidates:
        pytest.skip("no cached CPython tarball")
    top = f"Python-{cfg.pin.version}"
    with tarfile.open(candidates[0]) as tar:
        def read(rel: str) -> str:
            handle = tar.extractfile(f"{top}/{rel}")
            assert handle is not None
            return handle.read().decode()

        files = {p: read(p) for p in (review.OPCODE_METADATA_PY, review.OPCODE_METADATA_H, review.BOOTSTRAP,
                                      review.OPCODE_PY)}
    assert review.parse_caches(files[review.OPCODE_METADATA_H])["LOAD_ATTR"] == 9
    assert review.magic_number(files[review.BOOTSTRAP])[0] == 3571  # type: ignore[index]
    info = review.interpreter_change(files, files, named=["BINARY_OP_ADD_INT"])
    assert info.families == ["BINARY_OP"] and info.cache_format_mismatch == []


def test_bytecodes_hunks_name_the_instructions(reviewed: S.Project, good: list[S.Mail]) -> None:
    import unidiff

    diff = parse_patch(reviewed.patches / good[1].name).diff
    assert review.named_instructions([], unidiff.PatchSet(diff)) == ["LOAD_CONST"]
    hunk = ("diff --git a/Python/bytecodes.c b/Python/bytecodes.c\n--- a/Python/bytecodes.c\n"
            "+++ b/Python/bytecodes.c\n@@ -7,6 +7,7 @@ inst(NOP) {\n inst(LOAD_FAST) {\n"
            "     value = frame[oparg];\n+    x;\n }\n \n inst(STORE_FAST) {\n     frame[oparg] = value;\n")
    assert review.named_instructions([], unidiff.PatchSet(hunk)) == ["LOAD_FAST"]


def test_cli_review_html_default_place_and_unapplied_patch(
    reviewed: S.Project, good: list[S.Mail], capsys: pytest.CaptureFixture[str], mails: S.MailMaker
) -> None:
    code = main(["-C", str(reviewed.root), "review", good[0].name, "--html"])
    out, err = capsys.readouterr()
    page = reviewed.root / "results" / "review-0001-count-calls-in-ceval.html"
    assert code == 0 and out.startswith("# Review: ")
    assert err.splitlines()[-1] == f"review (HTML): {page}" and page.is_file()
    extra = mails.patch("Third", {"README": "third\n"}, body="More.")
    (reviewed.patches / extra.name).write_bytes(extra.data)
    with open(reviewed.patches / "series", "a") as f:
        f.write(extra.name + "\n")
    code = main(["-C", str(reviewed.root), "review", extra.name])
    out, err = capsys.readouterr()
    assert code == 1 and out == ""
    assert err.splitlines() == [f"quicken: error: {extra.name} is not applied in {reviewed.worktree}",
                                "quicken: hint: run: quicken apply"]


def test_functions_from_hunk_headers_and_added_definitions(project: S.Project) -> None:
    import unidiff

    diff = ("diff --git a/Python/specialize.c b/Python/specialize.c\n--- a/Python/specialize.c\n"
            "+++ b/Python/specialize.c\n"
            "@@ -10,2 +10,3 @@ _Py_Specialize_ForIter(PyObject *iter, int oparg)\n a;\n+b;\n c;\n"
            "@@ -50,2 +51,7 @@ As a consequence of this, split keys are small.\n d;\n+static int\n"
            "+quicken_helper(int x)\n+{\n+    return x;\n+}\n e;\n")
    patchset = unidiff.PatchSet(diff)
    (f,) = review.file_diffs(project.cfg(), patchset, set())
    assert f.sections == ["_Py_Specialize_ForIter(PyObject *iter, int oparg)"]
    lines = review.added_c_lines(project.cfg(), patchset)
    assert review.defined_functions(lines) == ["quicken_helper (Python/specialize.c)"]
