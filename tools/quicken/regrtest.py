"""CPython's regression tests on two builds, compared test by test.

:func:`run` runs ``python -m test`` (regrtest) on one build with a fixed random
seed and ``--junit-xml``, and reads two things from it: the outcome of every
test method from the JUnit XML, and regrtest's own verdict on each test *file*
from the summary it prints at the end ("2 tests failed:", "1 test altered the
execution environment (env changed):", ...).  A test file whose worker crashed
or timed out leaves no per-test entries at all; it shows up in the summary.

:func:`compare` lines the two runs up: a test that failed (or errored) only on
head, a test that ran on base but is absent on head (its file crashed, or one
of its subtests failed: regrtest's XML writer drops such a test's name), and a
test file that regrtest failed only on head all fail the comparison.  Failures
shared by both builds -- on this machine test_cmd_line, test_compileall and
test_socket fail on stock CPython too, for reasons of environment -- are not
differences.

Runs are cached per build tree and selection in ``cache_dir`` (the JSON is
written atomically once regrtest finished, so an interrupted run leaves
nothing behind); the full output and the XML stay beside it.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import re
import shutil
import subprocess
import tempfile
import time
import xml.etree.ElementTree as ET
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from .errors import QuickenError

Report = Callable[[str], None]

#: Bump when what a cached run means changes (options, parsing).
SCHEME = 1
#: The random seed both sides run with: same order, same "random" data.
RANDSEED = 20260101
PASSED, FAILED, ERROR, SKIPPED = "passed", "failed", "error", "skipped"
OUTCOMES = (PASSED, FAILED, ERROR, SKIPPED)
#: Which outcome wins when one test has several entries (its subtests).
_SEVERITY = {SKIPPED: 0, PASSED: 1, FAILED: 2, ERROR: 3}
#: Per-file states regrtest's summary reports, keyed by the title of its list.
_FILE_STATES = {
    "failed": "failed",
    "altered the execution environment (env changed)": "env changed",
    "skipped": "skipped",
    "skipped (resource denied)": "resource denied",
    "run no tests": "run no tests",
    "omitted": "omitted",
}
_SECTION = re.compile(r"^(?:All )?(\d+) (?:re-run )?tests? (.+):$")
_PROGRESS = re.compile(r"\[\s*(\d+)/(\d+)(?:/(\d+))?\] (\S+)")
_SUBTEST = re.compile(r"^(\S+) \(.*\)$")


class RegrtestError(QuickenError):
    """regrtest did not finish (interpreter unusable, interrupted, no result)."""


@dataclass(frozen=True)
class Run:
    label: str  # e.g. "baseline", "patched", "stress/patched"
    tree: str  # git tree id of the build (cache key)
    selection: tuple[str, ...]  # test modules given to regrtest; () = the whole suite
    results: dict[str, str]  # "test.test_x.Class.test_method" -> passed | failed | error | skipped
    failed_files: tuple[str, ...]  # test files regrtest reports as failed / crashed / env changed
    seconds: float
    log: str  # path of the full output
    file_states: dict[str, str] = field(default_factory=dict)  # test file -> its state in the summary
    result: str = ""  # regrtest's "Result: ..." line, without the prefix
    cached: bool = False

    def counts(self) -> dict[str, int]:
        return count(self.results)

    def to_json(self) -> dict[str, object]:
        data = asdict(self)
        data.pop("cached")
        data["selection"] = list(self.selection)
        data["failed_files"] = list(self.failed_files)
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Run:
        return cls(
            label=str(data["label"]), tree=str(data["tree"]),
            selection=tuple(str(t) for t in data["selection"]),
            results={str(k): str(v) for k, v in data["results"].items()},
            failed_files=tuple(str(f) for f in data["failed_files"]),
            seconds=float(data["seconds"]),
            log=str(data["log"]),
            file_states={str(k): str(v) for k, v in (data.get("file_states") or {}).items()},
            result=str(data.get("result", "")),
        )


def count(results: dict[str, str]) -> dict[str, int]:
    totals = dict.fromkeys(OUTCOMES, 0)
    for outcome in results.values():
        totals[outcome] = totals.get(outcome, 0) + 1
    return totals


# --- parsing -----------------------------------------------------------------------------------


def _outcome(case: ET.Element) -> str:
    """One <testcase>'s outcome, as regrtest's RegressionTestResult writes it."""
    tags = {child.tag for child in case}
    if "error" in tags:
        return ERROR
    if "failure" in tags:
        return FAILED
    if "skipped" in tags:
        return SKIPPED
    if any(child.tag == "outcome" and (child.text or "").strip() == "UNEXPECTED_SUCCESS" for child in case):
        return FAILED  # unittest counts an unexpected success as a failure of the run
    return PASSED  # completed, or an expected failure (<output>)


def test_id(name: str) -> str:
    """A test's id without a subtest's parameters: ``t.C.test_m (i=1)`` -> ``t.C.test_m``."""
    m = _SUBTEST.match(name)
    return m.group(1) if m else name


def parse_junit(text: str | bytes) -> dict[str, str]:
    """Test id -> outcome from regrtest's ``--junit-xml`` file.

    Entries of one test (a failing and a skipped subtest of it) merge into the
    worst of them.  Entries without a name -- a test whose subtest failed:
    unittest reports those without the hooks regrtest's XML writer uses -- are
    left out; on the side where they happen the test is missing.
    """
    return read_junit(text, "regrtest", lambda case: test_id(case.get("name") or "") or None, _outcome,
                      _SEVERITY)


def read_junit(text: str | bytes, producer: str, key: Callable[[ET.Element], str | None],
               outcome: Callable[[ET.Element], str], severity: Mapping[str, int]) -> dict[str, str]:
    """Test id -> the worst outcome of its ``<testcase>`` entries in a JUnit XML file.

    ``key`` names an entry's test (None: leave the entry out), ``outcome`` says how it ended and
    ``severity`` orders the outcomes.
    """
    try:
        root = ET.fromstring(text)
    except ET.ParseError as exc:
        raise QuickenError(f"{producer}'s JUnit XML is malformed: {exc}") from None
    results: dict[str, str] = {}
    for case in root.iter("testcase"):
        test = key(case)
        if test is None:
            continue
        ended = outcome(case)
        previous = results.get(test)
        if previous is None or severity[ended] > severity[previous]:
            results[test] = ended
    return results


@dataclass(frozen=True)
class Summary:
    file_states: dict[str, str]  # test file -> failed | env changed | skipped | resource denied | ...
    result: str  # "SUCCESS", "FAILURE", "FAILURE, INTERRUPTED", ... ("" when there is none)
    files_run: int | None = None
    files_total: int | None = None

    @property
    def failed_files(self) -> tuple[str, ...]:
        return tuple(sorted(name for name, state in self.file_states.items()
                            if state in ("failed", "env changed")))


def parse_summary(output: str) -> Summary:
    """regrtest's closing summary: the per-file lists after the last "== Tests result: ==" line."""
    lines = output.splitlines()
    start = max((i for i, ln in enumerate(lines) if ln.startswith("== Tests result:")), default=-1)
    states: dict[str, str] = {}
    state: str | None = None
    result = ""
    files_run = files_total = None
    for line in lines[start + 1:]:
        m = _SECTION.match(line)
        if m:
            state = _FILE_STATES.get(m.group(2))
            continue
        if line.startswith("    ") and state is not None:
            for name in line.split():
                states.setdefault(name, state)
            continue
        state = None
        if line.startswith("Result: "):
            result = line[len("Result: "):].strip()
        t = re.match(r"Total test files: run=(\d+)/(\d+)", line)
        if t:
            files_run, files_total = int(t.group(1)), int(t.group(2))
    # "failed" wins over the less important lists a file may also be in
    return Summary(states, result, files_run, files_total)


# --- running -----------------------------------------------------------------------------------


def options(*, selection: Sequence[str], timeout: int, resources: Sequence[str]) -> list[str]:
    """regrtest's options other than -j and the output file: these make a run what it is."""
    opts = [f"--timeout={timeout}", f"--randseed={RANDSEED}"]
    if resources:
        opts.append(f"-u{','.join(resources)}")
    return [*opts, *selection]


def cache_key(tree: str, selection: Sequence[str], timeout: int, resources: Sequence[str]) -> str:
    described = json.dumps({"scheme": SCHEME, "options": options(selection=selection, timeout=timeout,
                                                                 resources=resources)})
    return f"{tree}-{hashlib.sha256(described.encode()).hexdigest()[:16]}"


def load_cached(path: Path, label: str) -> Run | None:
    try:
        run_ = Run.from_json(json.loads(path.read_text()))
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return Run(label, run_.tree, run_.selection, run_.results, run_.failed_files, run_.seconds, run_.log,
               run_.file_states, run_.result, cached=True)


def environment(tmpdir: Path) -> dict[str, str]:
    """The caller's environment less what would change the tests' behaviour, with a private TMPDIR."""
    env = dict(os.environ)
    for key in list(env):
        if key.startswith("PYTHON") or key in ("http_proxy", "https_proxy", "HTTP_PROXY", "HTTPS_PROXY",
                                               "all_proxy", "ALL_PROXY"):
            del env[key]  # PYTHONHASHSEED, PYTHONPATH, PYTHONDONTWRITEBYTECODE, ... regrtest sets its own
    env.update(TMPDIR=str(tmpdir), TEMP=str(tmpdir), TMP=str(tmpdir), LC_ALL="C.UTF-8")
    return env


def run(
    python: Path,
    *,
    tree: str,
    label: str,
    cache_dir: Path,
    selection: Sequence[str] = (),
    jobs: int = 2,
    timeout: int = 900,
    resources: Sequence[str] = (),
    report: Report = lambda _: None,
) -> Run:
    """Run regrtest on ``python`` (or return the cached run of this tree and selection).

    ``resources`` is regrtest's ``-u`` (none by default: no network, no cpu-heavy tests).
    Raises :class:`RegrtestError` when regrtest did not finish with a result.
    """
    selection = tuple(selection)
    python = python.absolute()  # it runs from its own directory
    cache_dir.mkdir(parents=True, exist_ok=True)
    key = cache_key(tree, selection, timeout, resources)
    cache_file = cache_dir / f"{key}.json"
    what = " ".join(selection) if selection else "the whole suite"
    cached = load_cached(cache_file, label)
    if cached is not None:
        report(f"regrtest {label}: cached result for tree {tree[:12]} ({what}): "
               f"{_describe_counts(cached.counts())}")
        return cached
    if not python.exists():
        raise QuickenError(f"regrtest {label}: {python} does not exist", "build it first: quicken build")
    log = cache_dir / f"{key}.log"
    xml_path = cache_dir / f"{key}.xml"
    xml_path.unlink(missing_ok=True)
    tmpdir = Path(tempfile.mkdtemp(prefix="quicken-regrtest-"))
    argv = [str(python), "-m", "test", f"-j{jobs}", f"--junit-xml={xml_path}", f"--tempdir={tmpdir / 'work'}",
            *options(selection=selection, timeout=timeout, resources=resources)]
    report(f"regrtest {label}: python -m test -j{jobs} {what}")
    start = time.monotonic()
    try:
        output = _run_logged(argv, python.parent, environment(tmpdir), log, label, start, report)
    finally:
        shutil.rmtree(tmpdir, ignore_errors=True)
    seconds = round(time.monotonic() - start, 1)
    summary = parse_summary(output.text)
    if not summary.result or "INTERRUPTED" in summary.result:
        last = next((ln.strip() for ln in reversed(output.text.splitlines()) if ln.strip()), "no output")
        raise RegrtestError(
            f"regrtest {label} did not finish (exit status {output.returncode}): {last[:200]}",
            f"full output: {log}",
        )
    results = parse_junit(xml_path.read_bytes()) if xml_path.is_file() else {}
    result = Run(label, tree, selection, results, summary.failed_files, seconds, str(log),
                 summary.file_states, summary.result)
    tmp = cache_file.with_suffix(".tmp")
    tmp.write_text(json.dumps(result.to_json(), indent=0, sort_keys=True) + "\n")
    os.replace(tmp, cache_file)
    report(f"regrtest {label}: {summary.result} in {_duration(seconds)}: {_describe_counts(result.counts())}"
           + (f"; test files failed: {' '.join(result.failed_files)}" if result.failed_files else ""))
    return result


@dataclass(frozen=True)
class _Output:
    text: str
    returncode: int


def _run_logged(argv: list[str], cwd: Path, env: dict[str, str], log: Path, label: str, start: float,
                report: Report) -> _Output:
    """Run regrtest, teeing its output to ``log`` and reporting progress every 20 files or 30 s."""
    chunks: list[str] = []
    last_report = start
    last_done = 0
    with open(log, "w", encoding="utf-8", errors="replace") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen(argv, cwd=cwd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                stdin=subprocess.DEVNULL, text=True, errors="replace")
        try:
            assert proc.stdout is not None
            for line in proc.stdout:
                out.write(line)
                chunks.append(line)
                m = _PROGRESS.search(line)
                if not m:
                    continue
                done, total, failures = int(m.group(1)), int(m.group(2)), m.group(3)
                now = time.monotonic()
                if done - last_done >= 20 or now - last_report >= 30 or done == total:
                    report(f"regrtest {label}: {done}/{total} test files [{_duration(now - start)}]"
                           + (f", {failures} failed" if failures else ""))
                    last_done, last_report = done, now
            returncode = proc.wait()
        except BaseException:
            with contextlib.suppress(OSError):
                proc.terminate()
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
            raise
    return _Output("".join(chunks), returncode)


def _duration(seconds: float) -> str:
    minutes, secs = divmod(int(seconds), 60)
    return f"{minutes}m{secs:02d}s" if minutes else f"{seconds:.1f}s"


def _describe_counts(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts.get(o, 0)} {o}" for o in OUTCOMES)


# --- comparing ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class Difference:
    only_head_failed: tuple[str, ...]  # failed/error on head, not on base (even absent) -> fails
    only_base_failed: tuple[str, ...]
    missing_on_head: tuple[str, ...]  # ran on base, absent on head (its file crashed, ...) -> fails
    counts: tuple[dict[str, int], dict[str, int]]  # (base, head): passed/failed/error/skipped totals
    labels: tuple[str, str] = ("base", "head")
    files_only_head_failed: tuple[str, ...] = ()  # test files regrtest failed on head only -> fails
    files_only_head_env_changed: tuple[str, ...] = ()  # env changed on head only: reported, not failing
    only_head_skipped: tuple[str, ...] = ()  # passed on base, skipped on head: reported, not failing
    missing_on_base: tuple[str, ...] = ()  # new on head (passed or skipped): reported, not failing

    @property
    def passed(self) -> bool:
        return not (self.only_head_failed or self.missing_on_head or self.files_only_head_failed)

    def render(self, limit: int = 50) -> list[str]:
        base, head = self.labels
        lines = [f"{label}: {_describe_counts(c)}" for label, c in zip(self.labels, self.counts, strict=True)]
        sections: Iterable[tuple[tuple[str, ...], str]] = (
            (self.only_head_failed, f"failed on {head} only"),
            (self.missing_on_head, f"ran on {base}, missing on {head} (its test file crashed, timed out "
                                   "or failed in a subtest)"),
            (self.files_only_head_failed, f"test files regrtest failed on {head} only"),
            (self.files_only_head_env_changed, f"test files that altered the environment on {head} only "
                                               "(not counted)"),
            (self.only_head_skipped, f"skipped on {head} only (not counted)"),
            (self.only_base_failed, f"failed on {base} only (not counted)"),
        )
        for tests, title in sections:
            if not tests:
                continue
            lines.append(f"{len(tests)} {title}:")
            lines.extend(f"  {t}" for t in tests[:limit])
            if len(tests) > limit:
                lines.append(f"  ... and {len(tests) - limit} more")
        lines.append("regrtest: no difference" if self.passed else "regrtest: DIFFERENCES")
        return lines


def _bad(outcome: str | None) -> bool:
    return outcome in (FAILED, ERROR)


def compare(base: Run, head: Run) -> Difference:
    if base.selection != head.selection:
        raise QuickenError(
            f"regrtest: {base.label} ran {' '.join(base.selection) or 'the whole suite'} but "
            f"{head.label} ran {' '.join(head.selection) or 'the whole suite'}",
            "compare runs of the same selection",
        )
    b, h = base.results, head.results
    only_head_failed = sorted(t for t, o in h.items() if _bad(o) and not _bad(b.get(t)))
    only_base_failed = sorted(t for t, o in b.items() if _bad(o) and not _bad(h.get(t)))
    missing = sorted(t for t in b if t not in h)
    base_failed_files = set(base.failed_files)
    files_failed = sorted(f for f, s in head.file_states.items()
                          if s == "failed" and base.file_states.get(f) != "failed")
    env_changed = sorted(f for f, s in head.file_states.items()
                         if s == "env changed" and f not in base_failed_files)
    newly_skipped = sorted(t for t, o in h.items() if o == SKIPPED and b.get(t) == PASSED)
    new = sorted(t for t, o in h.items() if t not in b and not _bad(o))
    return Difference(
        only_head_failed=tuple(only_head_failed), only_base_failed=tuple(only_base_failed),
        missing_on_head=tuple(missing), counts=(base.counts(), head.counts()),
        labels=(base.label, head.label), files_only_head_failed=tuple(files_failed),
        files_only_head_env_changed=tuple(env_changed), only_head_skipped=tuple(newly_skipped),
        missing_on_base=tuple(new),
    )
