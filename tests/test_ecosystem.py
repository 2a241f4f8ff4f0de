"""The ecosystem stage: pytest XML parsing, pins, comparison, pip failures (fake interpreter),
and once for real on the baseline build (integration)."""

from __future__ import annotations

import json
import os
import sys
from pathlib import Path

import pytest
from quicken import ecosystem
from quicken.errors import QuickenError

ROOT = Path(__file__).resolve().parents[1]
BASELINE = ROOT / "work" / "builds" / "release" / "baseline" / "obj" / "python"

# What pytest 8 writes (-o junit_family=xunit2) for a pass, a failure, an error in setup,
# a skip, an xfail and a test that failed and then errored in teardown.
PYTEST_XML = """\
<?xml version="1.0" encoding="utf-8"?><testsuites name="pytest tests"><testsuite name="pytest" errors="2" \
failures="2" skipped="2" tests="7" time="0.5" timestamp="2026-12-03T12:00:00" hostname="h">\
<testcase classname="networkx.algorithms.tests.test_cycles.TestCycles" name="test_cycle_basis" \
time="0.001" /><testcase classname="networkx.algorithms.tests.test_cycles.TestCycles" \
name="test_simple_cycles[3]" time="0.001">\
<failure message="assert 2 == 3">def test(): assert 2 == 3</failure></testcase>\
<testcase classname="networkx.classes.tests.test_graph" name="test_setup_breaks" time="0.001">\
<error message="failed on setup with &quot;RuntimeError&quot;">RuntimeError</error></testcase>\
<testcase classname="networkx.drawing.tests.test_pylab" name="test_draw" time="0.000">\
<skipped type="pytest.skip" message="could not import 'matplotlib'">skip</skipped></testcase>\
<testcase classname="networkx.utils.tests.test_misc" name="test_known_bug" time="0.001">\
<skipped type="pytest.xfail" message="gh-123" /></testcase>\
<testcase classname="networkx.utils.tests.test_misc" name="test_teardown" time="0.001">\
<failure message="assert False">x</failure></testcase>\
<testcase classname="networkx.utils.tests.test_misc" name="test_teardown" time="0.001">\
<error message="failed on teardown">y</error></testcase>\
</testsuite></testsuites>"""


def result(label: str, suite: dict[str, str] | None = None, smoke: str = "== numpy\nsum 276\n",
           installed: dict[str, str] | None = None) -> ecosystem.Result:
    return ecosystem.Result(label, installed or {"numpy": "2.1.3", "networkx": "3.4.2"}, smoke,
                            suite if suite is not None else {"nx.t::a": "passed", "nx.t::b": "skipped"}, 10.0)


def test_parse_pytest_junit() -> None:
    assert ecosystem.parse_pytest_junit(PYTEST_XML) == {
        "networkx.algorithms.tests.test_cycles.TestCycles::test_cycle_basis": "passed",
        "networkx.algorithms.tests.test_cycles.TestCycles::test_simple_cycles[3]": "failed",
        "networkx.classes.tests.test_graph::test_setup_breaks": "error",
        "networkx.drawing.tests.test_pylab::test_draw": "skipped",
        "networkx.utils.tests.test_misc::test_known_bug": "xfailed",
        "networkx.utils.tests.test_misc::test_teardown": "error",
    }
    with pytest.raises(QuickenError, match="malformed"):
        ecosystem.parse_pytest_junit("<testsuites>")


def test_pins_and_names() -> None:
    base = result("baseline", installed={"numpy": "2.1.3", "pydantic-core": "2.27.1"})
    assert ecosystem.pins(base) == ("numpy==2.1.3", "pydantic-core==2.27.1")
    assert ecosystem.canonical("Pydantic_Core") == "pydantic-core"
    assert ecosystem._requested_name("numpy==2.1.3") == "numpy"
    assert ecosystem._requested_name("regex>=2024") == "regex"


def test_compare_same() -> None:
    assert ecosystem.compare(result("baseline"), result("patched")) == []


def test_compare_lists_every_kind_of_difference() -> None:
    base = result("baseline")
    head = result("patched", suite={"nx.t::a": "failed", "nx.t::c": "passed"},
                  smoke="== numpy\nsum 277\n", installed={"numpy": "2.1.2", "networkx": "3.4.2"})
    lines = ecosystem.compare(base, head)
    assert lines[0] == "installed numpy: 2.1.3 on baseline, 2.1.2 on patched"
    assert lines[1].startswith("smoke script output differs")
    assert "  -sum 276" in lines and "  +sum 277" in lines
    assert "networkx: 3 tests differ (baseline: 1 passed, 1 skipped; patched: 1 failed, 1 passed):" in lines
    assert "  nx.t::a: passed on baseline, failed on patched" in lines
    assert "  nx.t::b: skipped on baseline, absent on patched" in lines
    assert "  nx.t::c: absent on baseline, passed on patched" in lines


def test_compare_limits_long_lists() -> None:
    base = result("b", suite={f"t::{i}": "passed" for i in range(100)})
    head = result("h", suite={f"t::{i}": "failed" for i in range(100)})
    lines = ecosystem.compare(base, head, limit=5)
    assert lines[-1] == "  ... and 95 more"


# --- a fake interpreter: venv, pip, smoke and pytest without a network --------------------------

FAKE = """\
#!{python}
# Stands for a build's python, and (as <venv>/bin/python) for the venv's.
import json, os, sys
from pathlib import Path
me = Path(sys.argv[0])
state = Path(os.environ["FAKE_STATE"])
args = sys.argv[1:]
with open(state / "calls.log", "a") as f:
    f.write(json.dumps(args) + "\\n")
if args[:2] == ["-m", "venv"]:
    venv = Path(args[2])
    (venv / "bin").mkdir(parents=True)
    (venv / "pyvenv.cfg").write_text(f"home = {{me.parent}}\\n")
    (venv / "bin" / "python").write_text(me.read_text())
    (venv / "bin" / "python").chmod(0o755)
elif args[:3] == ["-m", "pip", "install"]:
    if (state / "pip-fails").exists():
        sys.stderr.write((state / "pip-fails").read_text())
        sys.exit(1)
    specs = [a for a in args[3:] if not a.startswith("-")]
    have = json.loads((state / "installed.json").read_text()) if (state / "installed.json").exists() else {{}}
    for s in specs:
        name, _, version = s.partition("==")
        have[name] = version or "1.0"
    (state / "installed.json").write_text(json.dumps(have))
elif args[:3] == ["-m", "pip", "list"]:
    have = json.loads((state / "installed.json").read_text()) if (state / "installed.json").exists() else {{}}
    rows = [{{"name": "pip", "version": "24.0"}}] + [{{"name": n, "version": v}} for n, v in have.items()]
    print(json.dumps(rows))
elif args[:1] == ["-c"]:  # where the packages are installed
    print(state)
elif args[:2] == ["-m", "pytest"]:
    xml = next(a.split("=", 1)[1] for a in args if a.startswith("--junit-xml="))
    Path(xml).write_text((state / "junit.xml").read_text())
    print("1 failed, 5 passed")
    sys.exit(1)
else:  # the smoke script
    print("== numpy\\nsum 276")
    print("hash seed", os.environ.get("PYTHONHASHSEED"))
"""


@pytest.fixture
def fake(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    state = tmp_path / "state"
    state.mkdir()
    (state / "junit.xml").write_text(PYTEST_XML)
    monkeypatch.setenv("FAKE_STATE", str(state))
    build = tmp_path / "build"
    build.mkdir()
    python = build / "python"
    python.write_text(FAKE.format(python=sys.executable))
    python.chmod(0o755)
    return python


def calls(python: Path) -> list[list[str]]:
    log = Path(os.environ["FAKE_STATE"]) / "calls.log"
    return [json.loads(ln) for ln in log.read_text().splitlines()] if log.is_file() else []


def test_run_end_to_end_with_a_fake_interpreter_then_reuse(fake: Path, tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    lines: list[str] = []
    first = ecosystem.run(fake, venv=venv, label="baseline", packages=("numpy", "networkx"),
                          report=lines.append)
    assert first.installed == {"numpy": "1.0", "networkx": "1.0"}  # pip itself is left out
    assert first.smoke == "== numpy\nsum 276\nhash seed 0\n"
    assert first.suite == ecosystem.parse_pytest_junit(PYTEST_XML)
    assert set(first.timings) == {"venv", "install", "smoke", "suite"}
    install = next(c for c in calls(fake) if c[:3] == ["-m", "pip", "install"])
    assert "--only-binary=:all:" in install and install[-2:] == ["numpy", "networkx"]
    pytest_call = next(c for c in calls(fake) if c[:2] == ["-m", "pytest"])
    assert pytest_call[2:4] == ["--pyargs", "networkx.classes"] and "no:cacheprovider" in pytest_call
    assert pytest_call[pytest_call.index("--rootdir") + 1] == os.environ["FAKE_STATE"]
    assert "-x" not in pytest_call

    # Same packages: the venv is reused, nothing is installed again.
    before = len(calls(fake))
    again = ecosystem.run(fake, venv=venv, label="baseline", packages=("networkx", "numpy"),
                          report=lines.append)
    assert again.installed == first.installed
    new_calls = calls(fake)[before:]
    assert not any(c[:2] == ["-m", "venv"] or c[:3] == ["-m", "pip", "install"] for c in new_calls)
    assert any("reusing" in line for line in lines)

    # Pinned versions (the head side): installed exactly.
    head = ecosystem.run(fake, venv=venv, label="patched", packages=("numpy==2.1.3", "networkx==3.4.2"))
    assert head.installed == {"numpy": "2.1.3", "networkx": "3.4.2"}
    assert ecosystem.compare(first, head) == [
        "installed networkx: 1.0 on baseline, 3.4.2 on patched",
        "installed numpy: 1.0 on baseline, 2.1.3 on patched",
    ]


def test_pip_failure_is_one_line(fake: Path, tmp_path: Path) -> None:
    (Path(os.environ["FAKE_STATE"]) / "pip-fails").write_text(
        "Looking in links: /somewhere\n"
        "ERROR: Could not find a version that satisfies the requirement orjson (from versions: none)\n"
        "ERROR: No matching distribution found for orjson\n")
    with pytest.raises(QuickenError) as info:
        ecosystem.run(fake, venv=tmp_path / "venv", label="baseline", packages=("numpy", "orjson"))
    err = info.value
    assert err.message == ("ecosystem: pip could not install orjson: "
                           "ERROR: No matching distribution found for orjson")
    assert "\n" not in err.message
    assert err.hint == ecosystem.HINT


def test_pip_unreachable_index_names_all_packages(fake: Path, tmp_path: Path) -> None:
    (Path(os.environ["FAKE_STATE"]) / "pip-fails").write_text(
        "WARNING: Retrying ... NewConnectionError\nERROR: network is unreachable\n")
    with pytest.raises(QuickenError, match=r"^ecosystem: pip could not install numpy, regex: ERROR: network"):
        ecosystem.run(fake, venv=tmp_path / "venv", label="baseline", packages=("numpy", "regex"))


def test_missing_interpreter_or_smoke_script(fake: Path, tmp_path: Path) -> None:
    with pytest.raises(QuickenError, match="does not exist"):
        ecosystem.run(tmp_path / "python", venv=tmp_path / "venv", label="baseline")
    with pytest.raises(QuickenError, match=r"smoke script .* does not exist"):
        ecosystem.run(fake, venv=tmp_path / "venv", label="baseline", smoke_script=tmp_path / "nope.py")
    assert ecosystem.SMOKE.is_file()


def test_a_crashed_pytest_run_is_recorded(fake: Path, tmp_path: Path) -> None:
    (Path(os.environ["FAKE_STATE"]) / "junit.xml").write_text("")
    fake.write_text(fake.read_text().replace("sys.exit(1)\nelse:", "os.abort()\nelse:"))
    venv = tmp_path / "venv"
    res = ecosystem.run(fake, venv=venv, label="patched", packages=("numpy",))
    assert res.suite[ecosystem.SUITE_RUN].startswith("exit status -6")


# --- for real ------------------------------------------------------------------------------------


@pytest.mark.integration
@pytest.mark.skipif(not BASELINE.exists(), reason="the baseline build does not exist")
@pytest.mark.skipif(bool(os.environ.get("QUICKEN_SKIP_INTEGRATION")), reason="QUICKEN_SKIP_INTEGRATION")
def test_real_venv_install_and_smoke_on_the_baseline_build(tmp_path: Path) -> None:
    venv = tmp_path / "venv"
    ecosystem.ensure_venv(BASELINE, venv, "baseline", print)
    have = ecosystem.install(venv, ecosystem.DEFAULT_PACKAGES, "baseline", print)
    assert {ecosystem.canonical(p) for p in ecosystem.DEFAULT_PACKAGES} <= set(have)
    out = ecosystem.smoke(venv, ecosystem.SMOKE, tmp_path)
    assert "[exit status" not in out and "!!" not in out
    assert out.rstrip().endswith("== done: 6/6 sections ran")
    assert out == ecosystem.smoke(venv, ecosystem.SMOKE, tmp_path)  # deterministic
