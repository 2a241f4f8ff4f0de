"""quicken verify: comparing two builds' runs of the differential programs, liveness, records, fuzz."""

from __future__ import annotations

import dataclasses
import json
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
from quicken import fuzz, records, verify
from quicken.config import Config
from quicken.errors import QuickenError
from quicken.series import Patch, Series
from quicken.series import load as load_series

# A fake interpreter: runs the program with this Python, and (as the "head" build) can
# misbehave on purpose: print a different line for one program, or report liveness.
FAKE = """#!{python}
import json, os, runpy, sys
HEAD = {head!r}
args = [a for a in sys.argv[1:] if a not in ("-X", "faulthandler")]
if args[:1] == ["-c"]:
    names = ["BINARY_OP_ADD_INT"] + (["NEW_INSTRUCTION"] if HEAD else [])
    print("\\n".join(names))
    sys.exit(0)
program = args[0]
live = os.environ.get("QUICKEN_VERIFY_LIVE")
text = open(program).read()
expected = [ln.split(":", 1)[1].strip() for ln in text.splitlines() if ln.startswith("# expects:")]
if live:
    reached = expected if HEAD and "# unreached" not in text else []
    json.dump({{"live": reached, "expected": expected,
               "known": ["NEW_INSTRUCTION"] if HEAD else []}}, open(live, "w"))
sys.argv = [program]
runpy.run_path(program, run_name="__main__")
if HEAD and "# differs on head" in text:
    print("value: 0x7f00dead", "head only")
"""


def fake_python(root: Path, head: bool) -> Path:
    slot = root / ("head" if head else "base")
    (slot / "obj").mkdir(parents=True)
    path = slot / "obj" / "python"
    path.write_text(FAKE.format(python=sys.executable, head=head))
    path.chmod(0o755)
    return path


@pytest.fixture
def pythons(tmp_path: Path) -> tuple[Path, Path]:
    return fake_python(tmp_path, False), fake_python(tmp_path, True)


def program(directory: Path, name: str, body: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / name
    path.write_text(body)
    return path


def test_same_output_with_the_expected_instruction_live(tmp_path: Path, pythons: tuple[Path, Path]) -> None:
    path = program(tmp_path / "p", "same.py", "# expects: NEW_INSTRUCTION\nprint('value', hex(id(1)))\n")
    (result,) = verify.run_programs([path], *pythons, "release", 2, lambda _: None)
    assert result.passed, result.describe()
    assert result.live == ("NEW_INSTRUCTION",)


def test_a_differing_line_is_named_with_both_sides(tmp_path: Path, pythons: tuple[Path, Path]) -> None:
    path = program(tmp_path / "p", "bad.py", "# differs on head\nprint('first')\n")
    (result,) = verify.run_programs([path], *pythons, "release", 1, lambda _: None)
    assert not result.passed
    assert result.difference == "stdout line 2: base '<end of output>' | head 'value: 0x? head only'"
    assert result.describe().startswith("bad.py (release): output differs: stdout line 2")


def test_an_expected_instruction_that_is_never_live_fails(tmp_path: Path, pythons: tuple[Path, Path]) -> None:
    path = program(tmp_path / "p", "lost.py", "# expects: NEW_INSTRUCTION\n# unreached\nprint(1)\n")
    (result,) = verify.run_programs([path], *pythons, "release", 1, lambda _: None)
    assert result.difference is None and result.missing == ("NEW_INSTRUCTION",)
    assert "never reached NEW_INSTRUCTION" in result.describe()
    assert verify.new_instructions(*pythons) == ("NEW_INSTRUCTION",)
    assert verify.unreached(("NEW_INSTRUCTION",), [result]) == ("NEW_INSTRUCTION",)


def test_exit_status_and_stderr_are_compared(tmp_path: Path) -> None:
    base = verify.Observation("same\n", "", 0)
    exited = verify.Observation("same\n", "", 1)
    assert verify.first_difference(base, exited) == "exit status: base 0 | head 1"
    assert verify.first_difference(base, verify.Observation("same\n", "Traceback\n", 0)) == (
        "stderr line 1: base '<end of output>' | head 'Traceback'")


def test_mask_hides_addresses_and_the_build_directory(tmp_path: Path) -> None:
    python = fake_python(tmp_path, False)
    text = f'File "{python.parent.parent}/src/Lib/enum.py", line 3, object at 0x7ffe12ab'
    assert verify.mask(text, python) == 'File "<build>/src/Lib/enum.py", line 3, object at 0x?'


def test_the_repository_programs_are_found_and_the_harness_is_not_one() -> None:
    root = Path(__file__).resolve().parent.parent
    names = [p.name for p in sorted((root / "tests" / "differential").glob("*.py"))]
    assert "_harness.py" in names
    cfg = type("Cfg", (), {"differential": root / "tests" / "differential"})()
    found = [p.name for p in verify.programs(cfg)]  # type: ignore[arg-type]
    assert found and not any(n.startswith("_") for n in found)
    assert "load_attr_class.py" in found


@pytest.fixture
def verifiable(make_project, two_patches) -> tuple[Config, Series, Patch]:  # type: ignore[no-untyped-def]
    """A synthetic project with one differential program; its first patch."""
    project = make_project(two_patches)
    cfg = project.cfg()
    cfg.differential.mkdir(parents=True)
    (cfg.differential / "p.py").write_text("print(1)\n")
    series = load_series(cfg)
    return cfg, series, series.patches[0]


def test_records_bind_content_and_validate_requires_one(verifiable: tuple[Config, Series, Patch]) -> None:
    cfg, series, patch = verifiable
    assert verify.standing(cfg, series, patch).state is records.State.NEVER
    with pytest.raises(QuickenError, match="has no verification record") as err:
        verify.require(cfg, series, patch)
    assert err.value.hint == f"run: quicken verify {Path(patch.name).stem}"
    outcome = verify.Outcome(patch.name, "quick", "0" * 40)
    verify.write_record(cfg, series, patch, outcome, cfg.root / "results")
    st = verify.standing(cfg, series, patch)
    assert st.word() == "verified" and st.why.startswith("quick, on ")
    assert verify.require(cfg, series, patch)["record"] == verify.record_path(cfg, patch).name
    record = json.loads(verify.record_path(cfg, patch).read_text())
    assert "machine" not in record["binding"] and record["runs"][0]["machine"]["cpu"]
    (cfg.differential / "p.py").write_text("print(2)\n")
    assert verify.standing(cfg, series, patch).describe() == "stale: the differential programs changed"
    with pytest.raises(QuickenError, match="has a stale verification record"):
        verify.require(cfg, series, patch)


def test_a_failed_verification_is_recorded_and_refused(verifiable: tuple[Config, Series, Patch]) -> None:
    cfg, series, patch = verifiable
    outcome = verify.Outcome(patch.name, "quick", "0" * 40, unreached=("NEW_INSTRUCTION",))
    verify.write_record(cfg, series, patch, outcome, cfg.root / "results")
    assert verify.standing(cfg, series, patch).state is records.State.FAILED
    with pytest.raises(QuickenError, match="verification FAILED on "):
        verify.require(cfg, series, patch)
    assert "reached by no differential program" in verify.render(outcome)
    warned = verify.Outcome(patch.name, "quick", "0" * 40, warnings=("Python/ceval.c: unused variable 'x'",))
    assert warned.failures == ["new compiler warning: Python/ceval.c: unused variable 'x'"]


def test_generated_programs_compile_and_are_deterministic() -> None:
    from hypothesis import given, settings

    @settings(database=None, max_examples=40, deadline=None)
    @given(fuzz.strategies())
    def check(cases: list[fuzz.Case]) -> None:
        source = fuzz.program(cases)
        compile(source, "case.py", "exec")
        assert fuzz.program(cases) == source
        assert source.count("\ndef f") == len(cases)

    check()


def test_generated_powers_have_small_exponents() -> None:
    """(2**53 + 1) ** (2**64 + 3) ran for minutes on both builds: no case raises to a big power."""
    from hypothesis import find, settings
    from hypothesis.errors import NoSuchExample

    def big_power(cases: list[fuzz.Case]) -> bool:
        return any("**" in case.template and "**" in args[1]
                   for case in cases for args in (case.warm, *case.checks))

    with pytest.raises(NoSuchExample):
        find(fuzz.strategies(), big_power, settings=settings(database=None, max_examples=3000))
    assert find(fuzz.strategies(), lambda cases: any("**" in c.template for c in cases),
                settings=settings(database=None, max_examples=3000))  # powers are still generated


def test_generated_programs_subscript_dict_subclasses() -> None:
    """Loads, bumps and stores warmed up on a defaultdict and checked with other containers."""
    from hypothesis import find, settings

    def on_defaultdict(template: str) -> Callable[[list[fuzz.Case]], bool]:
        return lambda cases: any(
            case.template.startswith(template) and case.warm[0].startswith("defaultdict")
            and any(not args[0].startswith("defaultdict") for args in case.checks)
            for case in cases)

    for template in ("return {0}[{1}]", "{0}[{1}] += 1", "{0}[{1}] = {2}"):
        assert find(fuzz.strategies(), on_defaultdict(template),
                    settings=settings(database=None, max_examples=3000))


FAKE_FUZZ = """#!{python}
import subprocess, sys
out = subprocess.run([{python!r}, *sys.argv[1:]], capture_output=True, text=True)
text = out.stdout
if {broken}:
    text = "".join(ln.replace("'ok'", "'OK'") if "nan" in ln or "inf" in ln else ln
                   for ln in text.splitlines(True))
sys.stdout.write(text)
sys.stderr.write(out.stderr)
sys.exit(out.returncode)
"""


def fake_fuzz_python(root: Path, broken: bool) -> Path:
    path = root / ("broken" if broken else "fine") / "obj" / "python"
    path.parent.mkdir(parents=True)
    path.write_text(FAKE_FUZZ.format(python=sys.executable, broken=broken))
    path.chmod(0o755)
    return path


def test_fuzz_passes_when_the_builds_agree(tmp_path: Path) -> None:
    base = fake_fuzz_python(tmp_path, False)
    result = fuzz.run(base, base, examples=5, seed=3, out=tmp_path / "out")
    assert result.difference is None and result.examples == result.ran == 5
    assert result.as_record()["failures"] == []


def test_fuzz_masks_the_script_path_before_addresses(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """A temporary directory named like quicken-fuzz-b0x1fz must not make two runs differ."""
    python = fake_fuzz_python(tmp_path, False)
    made = tmp_path / "quicken-fuzz-b0x1fz"
    made.mkdir()

    class Fixed:
        def __init__(self, prefix: str) -> None:
            pass

        def __enter__(self) -> str:
            return str(made)

        def __exit__(self, *exc: object) -> None:
            pass

    monkeypatch.setattr(fuzz.tempfile, "TemporaryDirectory", Fixed)
    out, err, code = fuzz._run(python, "import sys\nprint(__file__)\nraise SystemExit(__file__)\n")
    assert (out, err, code) == ("case.py\n", "case.py\n", 1)


def test_fuzz_finds_shrinks_and_writes_a_reproducer(tmp_path: Path) -> None:
    base, head = fake_fuzz_python(tmp_path, False), fake_fuzz_python(tmp_path, True)
    # The broken build misreports every result computed from a NaN or an infinite operand.
    result = fuzz.run(base, head, examples=60, seed=1, out=tmp_path / "out")
    assert result.difference is not None and result.reproducer is not None
    text = result.reproducer.read_text()
    assert "--seed 1 --examples 60" in text
    compile(text, "repro.py", "exec")
    assert text.count("\ndef f") == 1  # shrunk to one generated function
    assert "generated program differs (seed 1" in result.as_record()["failures"][0]


def test_a_full_verify_runs_the_programs_on_the_shipped_builds_too(
        verifiable: tuple[Config, Series, Patch], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg, series, patch = verifiable
    cfg = dataclasses.replace(cfg, verify_configs=("pgo-lto",))
    program(cfg.differential, "q.py", "# differs on head\nprint(2)\n")
    built: list[tuple[str, str | None]] = []
    fakes = {"baseline": fake_python(tmp_path / "pgo", False),
             patch.name: fake_python(tmp_path / "pgo", True)}

    def build_one(cfg: Config, target: str, config: str | None, report: object) -> object:
        built.append((target, config))
        return type("Built", (), {"python": fakes[target]})()

    monkeypatch.setattr(verify.build, "build_one", build_one)
    warning = "../src/Python/ceval.c:{}:9: warning: unused variable 'x' [-Wunused-variable]\n"
    (fakes["baseline"].parent.parent / "build.log").write_text(warning.format(100))
    (fakes[patch.name].parent.parent / "build.log").write_text(warning.format(110) + warning.format(900))
    options = verify.Options(quick=False, fuzz=False, regrtest=False, stress=False, ecosystem=False)
    extra = verify._full_checks(cfg, series, [patch], tmp_path, tmp_path, options, tmp_path, lambda _: None,
                                None)
    assert built == [("baseline", "pgo-lto"), (patch.name, "pgo-lto")]
    shipped = extra["shipped"]
    assert shipped["failures"] == ["q.py (pgo-lto): output differs: stdout line 2: base '<end of output>' | "
                                   "head 'value: 0x? head only'",
                                   "new compiler warning: Python/ceval.c: unused variable 'x' "
                                   "[-Wunused-variable] (pgo-lto build)"]
    assert shipped["configs"] == {"pgo-lto": {"programs": 2, "passed": 1, "own_tests": "no tests of its own"}}
    outcome = verify.Outcome(patch.name, "full", "0" * 40, extra=extra)
    assert not outcome.passed and outcome.failures[0].startswith("shipped: q.py (pgo-lto): output differs")
    without = dataclasses.replace(options, shipped=False)
    assert verify._full_checks(cfg, series, [patch], tmp_path, tmp_path, without, tmp_path, lambda _: None,
                               None) == {}


def test_a_nan_result_has_no_sign_but_zeros_and_infinities_do() -> None:
    sys.path.insert(0, str(Path(__file__).resolve().parent / "differential"))
    try:
        import _harness
    finally:
        sys.path.pop(0)
    nan = float("nan")
    assert _harness.sign(nan) == _harness.sign(-nan) == _harness.sign(nan * -1) == "nan"
    signs = [_harness.sign(v) for v in (0.0, -0.0, float("inf"), -float("inf"), -2.5)]
    assert signs == [1.0, -1.0, 1.0, -1.0, -1.0]
