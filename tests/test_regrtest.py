"""regrtest runs: JUnit XML and summary parsing, the comparison, caching (with a fake python)."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest
from quicken import regrtest
from quicken.errors import QuickenError

# Trimmed from what CPython 3.13's regrtest wrote for (with --testdir) a file with a passing,
# failing, erroring, skipped, expectedFailure, unexpected-success and subtest-failing test, a
# file whose worker aborted, a file skipped at import and one that changed os.environ:
#   python -m test -j2 --randseed=12345 --junit-xml x.xml test_qfail test_qcrash test_qskipmod test_qenv
JUNIT = """\
<testsuites tests="8" errors="1" failures="3"><testsuite start="2026-12-03 12:34:17.857943" tests="7" \
errors="1" failures="3"><testcase name="test_qfail.T.test_error" status="run" result="completed" \
time="0.001686"><system-out /><system-err /><error type="RuntimeError" message="RuntimeError: boom&#10;">\
Traceback (most recent call last):
  File "/tmp/rt/fake/test_qfail.py", line 5, in test_error
RuntimeError: boom
</error></testcase><testcase name="test_qfail.T.test_fail" status="run" result="completed" time="0.000775">\
<system-out /><system-err /><failure type="AssertionError" message="AssertionError: 1 != 2&#10;">\
Traceback (most recent call last):
AssertionError: 1 != 2
</failure></testcase><testcase name="test_qfail.T.test_ok" status="run" result="completed" time="0.000046" />\
<testcase name="test_qfail.T.test_skip" status="run" result="completed" time="0.000009">\
<skipped>not here</skipped></testcase><testcase /><testcase name="test_qfail.T.test_xfail" status="run" \
result="completed" time="0.000772"><system-out /><system-err /><output type="AssertionError" \
message="AssertionError: x&#10;">Traceback (most recent call last):
AssertionError: x
</output></testcase><testcase name="test_qfail.T.test_xpass" status="run" result="completed" \
time="0.000027"><outcome>UNEXPECTED_SUCCESS</outcome></testcase></testsuite>\
<testsuite start="2026-12-03 12:34:18.808988" tests="1" errors="0" failures="0">\
<testcase name="test_qenv.T.test_a" status="run" result="completed" time="0.000086" />\
</testsuite></testsuites>"""

OUTPUT = """\
Using random seed: 12345
0:00:00 load avg: 3.41 Run 4 tests in parallel using 2 worker processes (timeout: 15 min, worker ...)
0:00:00 load avg: 3.53 [1/4/1] test_qcrash worker non-zero exit code (Exit code -6 (SIGABRT))
Fatal Python error: Aborted
0:00:01 load avg: 3.53 [2/4/2] test_qfail failed (1 error, 3 failures)
test test_qfail failed -- multiple errors occurred; run in verbose mode for details
0:00:01 load avg: 3.53 [3/4/2] test_qskipmod skipped
test_qskipmod skipped -- module skipped
0:00:01 load avg: 3.53 [4/4/3] test_qenv failed (env changed)
Warning -- os.environ was modified by test_qenv

== Tests result: FAILURE ==

1 test skipped:
    test_qskipmod

1 test altered the execution environment (env changed):
    test_qenv

2 tests failed:
    test_qcrash test_qfail

Total duration: 1.9 sec
Total tests: run=8 failures=3 skipped=1
Total test files: run=4/4 failed=2 env_changed=1 skipped=1
Result: FAILURE
"""


def make_run(label: str, results: dict[str, str], file_states: dict[str, str] | None = None,
             selection: tuple[str, ...] = ()) -> regrtest.Run:
    states = file_states or {}
    failed = tuple(sorted(f for f, s in states.items() if s in ("failed", "env changed")))
    return regrtest.Run(label, "t" * 40, selection, results, failed, 1.0, "/dev/null", states, "SUCCESS")


# --- parsing -----------------------------------------------------------------------------------


def test_parse_junit_outcomes() -> None:
    results = regrtest.parse_junit(JUNIT)
    assert results == {
        "test_qfail.T.test_error": "error",
        "test_qfail.T.test_fail": "failed",
        "test_qfail.T.test_ok": "passed",
        "test_qfail.T.test_skip": "skipped",
        "test_qfail.T.test_xfail": "passed",  # an expected failure ran as expected
        "test_qfail.T.test_xpass": "failed",  # an unexpected success fails the run
        "test_qenv.T.test_a": "passed",
    }  # the nameless entry (test_sub, whose subtest failed) is left out


def test_parse_junit_merges_subtests_into_the_worst_outcome() -> None:
    xml = ('<testsuites><testsuite>'
           '<testcase name="t.C.test_m (i=1)"><skipped>no</skipped></testcase>'
           '<testcase name="t.C.test_m (i=2)"><failure message="x">tb</failure></testcase>'
           '<testcase name="t.C.test_n" />'
           '</testsuite></testsuites>')
    assert regrtest.parse_junit(xml) == {"t.C.test_m": "failed", "t.C.test_n": "passed"}


def test_parse_junit_rejects_garbage() -> None:
    with pytest.raises(QuickenError, match="malformed"):
        regrtest.parse_junit("<testsuites><testcase")


def test_parse_summary() -> None:
    summary = regrtest.parse_summary(OUTPUT)
    assert summary.file_states == {"test_qskipmod": "skipped", "test_qenv": "env changed",
                                   "test_qcrash": "failed", "test_qfail": "failed"}
    assert summary.failed_files == ("test_qcrash", "test_qenv", "test_qfail")
    assert summary.result == "FAILURE"
    assert (summary.files_run, summary.files_total) == (4, 4)


def test_parse_summary_of_a_clean_run_and_of_no_run() -> None:
    clean = regrtest.parse_summary("[1/2] test_bool passed\n[2/2] test_int passed\n\n"
                                   "== Tests result: SUCCESS ==\n\nAll 2 tests OK.\n\nResult: SUCCESS\n")
    assert clean.file_states == {} and clean.result == "SUCCESS" and clean.failed_files == ()
    assert regrtest.parse_summary("Traceback (most recent call last):\nImportError: x\n").result == ""


def test_parse_summary_resource_denied_and_many_names() -> None:
    out = ("== Tests result: FAILURE ==\n\n3 tests skipped (resource denied):\n"
           "    test_network test_urllib2net\n    test_zipfile64\n\n1 test failed:\n    test_socket\n\n"
           "Result: FAILURE\n")
    summary = regrtest.parse_summary(out)
    assert summary.file_states == {"test_network": "resource denied", "test_urllib2net": "resource denied",
                                   "test_zipfile64": "resource denied", "test_socket": "failed"}
    assert summary.failed_files == ("test_socket",)


# --- comparing ---------------------------------------------------------------------------------


def test_compare_same_results_passes() -> None:
    res = {"t.A.test_1": "passed", "t.A.test_2": "skipped"}
    diff = regrtest.compare(make_run("baseline", res), make_run("patched", dict(res)))
    assert diff.passed
    assert diff.counts == ({"passed": 1, "failed": 0, "error": 0, "skipped": 1},) * 2
    assert diff.render()[-1] == "regrtest: no difference"


def test_compare_a_test_failing_only_on_head() -> None:
    base = make_run("baseline", {"t.A.test_1": "passed", "t.A.test_2": "passed"})
    head = make_run("patched", {"t.A.test_1": "passed", "t.A.test_2": "error"},
                    {"test_t": "failed"})
    diff = regrtest.compare(base, head)
    assert not diff.passed
    assert diff.only_head_failed == ("t.A.test_2",)
    assert diff.files_only_head_failed == ("test_t",)
    lines = diff.render()
    assert lines[0] == "baseline: 2 passed, 0 failed, 0 error, 0 skipped"
    assert lines[1] == "patched: 1 passed, 0 failed, 1 error, 0 skipped"
    assert "1 failed on patched only:" in lines and "  t.A.test_2" in lines
    assert lines[-1] == "regrtest: DIFFERENCES"


def test_compare_a_file_crashing_on_head() -> None:
    base = make_run("baseline", {"t.A.test_1": "passed", "t.A.test_2": "skipped", "u.B.test_3": "passed"})
    head = make_run("patched", {"u.B.test_3": "passed"}, {"test_t": "failed"})
    diff = regrtest.compare(base, head)
    assert not diff.passed
    assert diff.missing_on_head == ("t.A.test_1", "t.A.test_2")
    assert diff.only_head_failed == ()
    assert any("missing on patched" in line for line in diff.render())


def test_compare_environment_failures_on_both_are_no_difference() -> None:
    # test_cmd_line and test_socket fail on this machine whatever the build
    res = {"test.test_cmd_line.CmdLineTest.test_site_flag": "failed", "test.test_socket.T.test_x": "error",
           "test.test_int.IntTestCases.test_basic": "passed"}
    states = {"test_cmd_line": "failed", "test_socket": "failed", "test_compileall": "failed"}
    diff = regrtest.compare(make_run("baseline", res, states), make_run("patched", dict(res), dict(states)))
    assert diff.passed
    assert diff.only_head_failed == diff.only_base_failed == diff.missing_on_head == ()


def test_compare_reports_but_does_not_fail_on_env_changed_skips_and_fixes() -> None:
    base = make_run("baseline", {"t.A.test_1": "failed", "t.A.test_2": "passed", "t.A.test_3": "passed"})
    head = make_run("patched", {"t.A.test_1": "passed", "t.A.test_2": "skipped", "t.A.test_3": "passed",
                                "t.A.test_4": "passed"}, {"test_t": "env changed"})
    diff = regrtest.compare(base, head)
    assert diff.passed
    assert diff.only_base_failed == ("t.A.test_1",)
    assert diff.only_head_skipped == ("t.A.test_2",)
    assert diff.files_only_head_env_changed == ("test_t",)
    assert diff.missing_on_base == ("t.A.test_4",)


def test_compare_a_test_new_and_failing_on_head_fails() -> None:
    diff = regrtest.compare(make_run("b", {}), make_run("h", {"t.A.test_9": "failed"}))
    assert not diff.passed and diff.only_head_failed == ("t.A.test_9",)


def test_compare_refuses_different_selections() -> None:
    with pytest.raises(QuickenError, match="b ran test_int but h ran the whole suite") as info:
        regrtest.compare(make_run("b", {}, selection=("test_int",)), make_run("h", {}))
    assert info.value.hint == "compare runs of the same selection"


# --- running (fake python) -----------------------------------------------------------------------

FAKE_PYTHON = """\
#!{python}
import json, os, sys
from pathlib import Path
here = Path(__file__).parent
with open(here / "calls.log", "a") as f:
    f.write(json.dumps({{"argv": sys.argv[1:], "cwd": os.getcwd(), "tmpdir": os.environ.get("TMPDIR"),
                        "hashseed": os.environ.get("PYTHONHASHSEED")}}) + "\\n")
scenario = json.loads((here / "scenario.json").read_text())
xml = next(a.split("=", 1)[1] for a in sys.argv if a.startswith("--junit-xml="))
tests = [a for a in sys.argv[3:] if not a.startswith("-")]
for i, t in enumerate(tests, 1):
    print(f"0:00:0{{i}} load avg: 0.1 [{{i}}/{{len(tests)}}] {{t}} passed", flush=True)
if scenario.get("xml"):
    Path(xml).write_text(scenario["xml"])
print(scenario["summary"])
sys.exit(scenario.get("status", 0))
"""


@pytest.fixture
def fake_python(tmp_path: Path) -> Path:
    d = tmp_path / "build"
    d.mkdir()
    python = d / "python"
    python.write_text(FAKE_PYTHON.format(python=sys.executable))
    python.chmod(0o755)
    return python


def scenario(python: Path, xml: str | None, summary: str, status: int = 0) -> None:
    data = {"xml": xml, "summary": summary, "status": status}
    (python.parent / "scenario.json").write_text(json.dumps(data))


def calls(python: Path) -> list[dict[str, object]]:
    log = python.parent / "calls.log"
    return [json.loads(ln) for ln in log.read_text().splitlines()] if log.is_file() else []


def test_run_end_to_end_then_cached(fake_python: Path, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PYTHONHASHSEED", "0")
    scenario(fake_python, JUNIT, OUTPUT, status=2)
    cache = tmp_path / "cache"
    lines: list[str] = []
    first = regrtest.run(fake_python, tree="a" * 40, label="baseline", cache_dir=cache,
                         selection=("test_qfail", "test_qenv"), report=lines.append)
    assert first.results == regrtest.parse_junit(JUNIT)
    assert first.failed_files == ("test_qcrash", "test_qenv", "test_qfail")
    assert first.result == "FAILURE" and not first.cached
    assert Path(first.log).read_text().startswith("$ ")
    (call,) = calls(fake_python)
    argv = call["argv"]
    assert isinstance(argv, list)
    assert argv[:3] == ["-m", "test", "-j2"]
    assert "--timeout=900" in argv and f"--randseed={regrtest.RANDSEED}" in argv
    assert argv[-2:] == ["test_qfail", "test_qenv"]
    assert call["cwd"] == str(fake_python.parent)
    assert call["hashseed"] is None  # regrtest chooses its own
    assert str(call["tmpdir"]).startswith(str(Path(str(call["tmpdir"])).parent))
    assert not Path(str(call["tmpdir"])).exists()  # the private TMPDIR is removed afterwards
    assert any("2/2 test files" in line for line in lines)
    assert sorted(p.suffix for p in cache.iterdir()) == [".json", ".log", ".xml"]

    # Same tree and selection, another label and job count: cached, nothing runs.
    lines.clear()
    again = regrtest.run(fake_python, tree="a" * 40, label="patched", cache_dir=cache,
                         selection=("test_qfail", "test_qenv"), jobs=1, report=lines.append)
    assert again.cached and again.label == "patched"
    assert again.results == first.results and again.failed_files == first.failed_files
    assert len(calls(fake_python)) == 1
    assert "cached" in lines[0]

    # Another selection (or tree) runs again.
    regrtest.run(fake_python, tree="a" * 40, label="baseline", cache_dir=cache, selection=("test_qfail",))
    regrtest.run(fake_python, tree="b" * 40, label="baseline", cache_dir=cache,
                 selection=("test_qfail", "test_qenv"))
    assert len(calls(fake_python)) == 3


def test_run_that_did_not_finish_leaves_no_cache(fake_python: Path, tmp_path: Path) -> None:
    scenario(fake_python, None, "Fatal Python error: Segmentation fault", status=-11)
    cache = tmp_path / "cache"
    with pytest.raises(regrtest.RegrtestError, match=r"regrtest patched did not finish .*Segmentation"):
        regrtest.run(fake_python, tree="c" * 40, label="patched", cache_dir=cache, selection=("test_int",))
    assert not list(cache.glob("*.json")) and not list(cache.glob("*.tmp"))
    interrupted = OUTPUT.replace("Result: FAILURE", "Result: FAILURE, INTERRUPTED")
    scenario(fake_python, JUNIT, interrupted, status=130)
    with pytest.raises(regrtest.RegrtestError):
        regrtest.run(fake_python, tree="c" * 40, label="patched", cache_dir=cache, selection=("test_int",))
    assert not list(cache.glob("*.json"))


def test_run_no_tests_ran_gives_empty_results(fake_python: Path, tmp_path: Path) -> None:
    scenario(fake_python, None, "== Tests result: NO TESTS RAN ==\n\nResult: NO TESTS RAN", status=4)
    result = regrtest.run(fake_python, tree="d" * 40, label="b", cache_dir=tmp_path / "c",
                          selection=("test_nothing",))
    assert result.results == {} and result.result == "NO TESTS RAN"


def test_run_missing_interpreter(tmp_path: Path) -> None:
    with pytest.raises(QuickenError, match="does not exist"):
        regrtest.run(tmp_path / "nope" / "python", tree="e" * 40, label="b", cache_dir=tmp_path / "c")


def test_cache_key_ignores_jobs_but_not_selection_or_options() -> None:
    key = regrtest.cache_key("f" * 40, ("test_int",), 900, ())
    assert key.startswith("f" * 40 + "-")
    assert key == regrtest.cache_key("f" * 40, ("test_int",), 900, ())
    assert key != regrtest.cache_key("f" * 40, ("test_bool",), 900, ())
    assert key != regrtest.cache_key("f" * 40, ("test_int",), 60, ())
    assert key != regrtest.cache_key("f" * 40, ("test_int",), 900, ("cpu",))


def test_an_unreadable_cache_file_is_run_again(fake_python: Path, tmp_path: Path) -> None:
    scenario(fake_python, JUNIT, OUTPUT, status=2)
    cache = tmp_path / "cache"
    key = regrtest.cache_key("a" * 40, ("test_qfail",), 900, ())
    cache.mkdir()
    (cache / f"{key}.json").write_text('{"label": "baseline"')  # cut short by hand
    result = regrtest.run(fake_python, tree="a" * 40, label="baseline", cache_dir=cache,
                          selection=("test_qfail",))
    assert not result.cached and len(calls(fake_python)) == 1
    assert regrtest.load_cached(cache / f"{key}.json", "x") == regrtest.Run(
        "x", result.tree, result.selection, result.results, result.failed_files, result.seconds, result.log,
        result.file_states, result.result, cached=True)
