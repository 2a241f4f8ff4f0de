"""quicken.bisect: the search, the three-way wall comparison, and bisecting a synthetic series."""

from __future__ import annotations

import math
import random
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest
import synthetic as S
from quicken import bisect, cli, suite
from quicken.bisect import BAD, GOOD, SKIP, Judgement
from quicken.errors import QuickenError


def fake_judge(first_bad: int, skip: set[int] | None = None) -> tuple[Callable[[int], Judgement], list[int]]:
    calls: list[int] = []

    def judge(i: int) -> Judgement:
        assert i not in calls, f"index {i} judged twice"
        calls.append(i)
        if i in (skip or set()):
            return Judgement(SKIP)
        return Judgement(BAD if i >= first_bad else GOOD)

    return judge, calls


@pytest.mark.parametrize("n", [1, 2, 3, 5, 8, 9, 16, 100])
def test_search_finds_every_position_within_the_budget(n: int) -> None:
    for first_bad in range(1, n + 1):
        judge, calls = fake_judge(first_bad)
        result = bisect.search(n, judge)
        assert result.first_bad == first_bad and result.exact
        assert calls[:2] == [0, n]  # the reference, then the bad end
        assert len(calls) <= bisect.expected_judgements(n) == 2 + (math.ceil(math.log2(n)) if n > 1 else 0)
        assert first_bad - 1 in result.judged  # the parent was measured


def test_eight_commits_take_five_judgements() -> None:
    judge, calls = fake_judge(5)
    bisect.search(8, judge)
    assert calls == [0, 8, 4, 6, 5]


def test_skipped_commit_is_replaced_by_its_neighbour() -> None:
    judge, calls = fake_judge(5, skip={6})
    result = bisect.search(8, judge)
    assert result.first_bad == 5 and result.exact
    assert calls == [0, 8, 4, 6, 5]
    assert result.judged[6].verdict == SKIP
    judge, calls = fake_judge(5, skip={4})
    hidden = bisect.search(8, judge)  # 4 could be the first bad one: both are candidates
    assert not hidden.exact and hidden.candidates == [4, 5] and calls == [0, 8, 4, 3, 5]


def test_skips_that_hide_the_answer_give_candidates() -> None:
    judge, _ = fake_judge(5, skip={4, 5, 6})
    result = bisect.search(8, judge)
    assert not result.exact and result.first_bad == 7 and result.candidates == [4, 5, 6, 7]


def test_no_regression_and_unmeasurable_ends() -> None:
    judge, calls = fake_judge(99)
    result = bisect.search(6, judge)
    assert result.first_bad is None and calls == [0, 6]
    with pytest.raises(QuickenError, match="the good revision cannot be measured"):
        bisect.search(6, fake_judge(3, skip={0})[0])
    with pytest.raises(QuickenError, match="the bad revision cannot be measured"):
        bisect.search(6, fake_judge(3, skip={6})[0])
    with pytest.raises(QuickenError, match="nothing to bisect"):
        bisect.search(0, fake_judge(1)[0])


def noisy(mean: float, sd: float, n: int, seed: int) -> list[float]:
    rng = random.Random(seed)
    return [rng.gauss(mean, sd) for _ in range(n)]


def test_classify_three_ways() -> None:
    base = noisy(1.0, 0.01, 12, 1)
    assert bisect.classify(base, noisy(1.20, 0.01, 12, 2), 0.05)[0] == BAD
    assert bisect.classify(base, noisy(1.00, 0.01, 12, 3), 0.05)[0] == GOOD
    # a real but small slowdown under the threshold is "same"
    assert bisect.classify(base, noisy(1.02, 0.005, 12, 4), 0.05)[0] == GOOD
    # three noisy values: cannot tell
    verdict, ratio, detail = bisect.classify(noisy(1.0, 0.1, 3, 5), noisy(1.06, 0.1, 3, 6), 0.05)
    assert verdict == "unsure" and "95% CI" in detail and ratio > 1


def test_wall_judge_adds_samples_until_sure_and_is_bounded() -> None:
    rounds: list[int] = []

    def sampler(python: Path, rnd: int) -> list[float]:
        rounds.append(rnd)
        head = python.name == "head"
        return noisy(1.10 if head else 1.0, 0.15, 3, 2 * rnd + head)

    j = bisect.judge_wall(Path("good"), Path("head"), sampler, 0.05, max_rounds=20)
    assert j.verdict == BAD and max(rounds) >= 2  # needed more than the minimum
    rounds.clear()
    unsure = bisect.judge_wall(Path("good"), Path("head"), lambda p, r: noisy(1.0, 0.5, 3, r), 0.05,
                               max_rounds=3)
    assert unsure.verdict == SKIP and "not sure after 3 rounds" in unsure.detail


def test_wall_samples_of_a_script_with_several_benchmarks_weigh_alike(tmp_path: Path) -> None:
    script = tmp_path / "run_benchmark.py"
    shutil.copy(Path(__file__).parent / "fixtures" / "pyperf" / "two_benchmarks.py", script)
    two = suite.Benchmark("two", "pyperformance", script)
    pyperf_dir = suite.prepare_pyperf_path(tmp_path / "cache")
    python = Path(sys.executable)
    calibrated = bisect.calibrate(two, python, pyperf_dir, tmp_path)
    assert [(c.name, c.loops) for c in calibrated] == [("slow", 128), ("fast", 131072)]
    values = bisect.pyperf_sampler(two, pyperf_dir, calibrated, tmp_path, values=2)(python, 0)
    # 1 ms and 1 us a loop, each scaled to their geometric mean: 2 values each, all alike
    assert values == pytest.approx([math.sqrt(1e-3 * 1e-6)] * 4)
    assert "slow 131072" not in (tmp_path / "run_benchmark.py.calls").read_text().splitlines()


# -- a synthetic series ----------------------------------------------------------------------

BENCH = '''import pyperf\nrunner = pyperf.Runner()\n'''


def slow_series(mails: S.MailMaker) -> list[S.Mail]:
    files = mails.files
    out = []
    for i, (old, new) in enumerate([("11 = 11", "11 = 1100"), ("12 = 12", "12 = 1200")], 1):
        out.append(mails.patch(f"Harmless {i}", {"Python/ceval.c": S.replace(
            files["Python/ceval.c"], f"int ceval_line_{old};", f"int ceval_line_{new};")}))
    broken = S.replace(files["Programs/python.c"], "#include <stdio.h>\n",
                       f"#include <stdio.h>\n/* {S.BREAK_MARKER} */\n")
    out.append(mails.patch("Break the build", {"Programs/python.c": broken}))
    out.append(mails.patch("Repair the build", {"Programs/python.c": S.PYTHON_C}))
    out.append(mails.patch("Add the LOAD_CONST instruction", {"Python/bytecodes.c": S.replace(
        files["Python/bytecodes.c"], "inst(STORE_FAST) {",
        "inst(LOAD_CONST) {\n    value = consts[oparg];\n}\n\ninst(STORE_FAST) {")}))
    for i, (old, new) in enumerate([("13 = 13", "13 = 1300"), ("14 = 14", "14 = 1400")], 3):
        out.append(mails.patch(f"Harmless {i}", {"Python/ceval.c": S.replace(
            files["Python/ceval.c"], f"int ceval_line_{old};", f"int ceval_line_{new};")}))
    return out


@pytest.fixture
def series_project(make_project: Callable[..., S.Project], mails: S.MailMaker,
                   monkeypatch: pytest.MonkeyPatch) -> S.Project:
    proj = make_project(slow_series(mails), name="slow")
    (proj.root / "benchmarks" / "micro").mkdir(parents=True)
    (proj.root / "benchmarks" / "suites.toml").write_text('[suites.quick]\nmicro = "*"\n')
    (proj.root / "benchmarks" / "micro" / "bm_fake.py").write_text(BENCH)
    proj.apply()

    def instructions(self: bisect.Measurer, commit: str, python: Path) -> int:
        out = subprocess.run([str(python)], capture_output=True, text=True, check=True).stdout
        return 10_000 + 1_000 * len(out.split("ops=")[1].split(","))  # each instruction costs

    monkeypatch.setattr(bisect.Measurer, "instructions", instructions)
    return proj


def test_bisect_the_series_finds_the_patch(series_project: S.Project) -> None:
    cfg = series_project.cfg()
    result = bisect.run(cfg, "fake")
    s = result.search
    assert s.n == 7 and s.exact
    assert result.names[result.commits[s.first_bad]] == "0005-add-the-load-const-instruction.patch"
    assert [s.judged[i].verdict for i in s.order] == [GOOD, BAD, SKIP, GOOD, BAD]
    assert "build failed" in s.judged[3].detail
    assert (result.builds, result.cached) == (5, 0)
    text = bisect.render(result)
    assert "first bad commit: " in text and "0005-add-the-load-const-instruction.patch" in text
    assert "15,000 instructions/loop (+7.14% instructions)" in text
    assert "parent: " in text and "0004-repair-the-build.patch: 14,000 instructions/loop" in text
    assert (result.directory / "summary.json").is_file()
    again = bisect.run(cfg, "fake")
    assert again.search.first_bad == s.first_bad
    assert (again.builds, again.cached) == (1, 4)  # only the failing build is retried


def test_bisect_range_and_threshold(series_project: S.Project) -> None:
    cfg = series_project.cfg()
    result = bisect.run(cfg, "fake", good="0005-add-the-load-const-instruction.patch")
    assert result.search.first_bad is None
    assert "no regression" in bisect.render(result)
    high = bisect.run(cfg, "fake", threshold=10)
    assert high.search.first_bad is None
    with pytest.raises(QuickenError, match="not an ancestor"):
        bisect.run(cfg, "fake", good="HEAD", bad="pin-3.99.0")


def test_bisect_wall_mode_with_a_fake_sampler(series_project: S.Project) -> None:
    def sampler(python: Path, rnd: int) -> list[float]:
        out = subprocess.run([str(python)], capture_output=True, text=True, check=True).stdout
        slow = "LOAD_CONST" in out
        return noisy(1.2 if slow else 1.0, 0.02, 3, rnd)

    result = bisect.run(series_project.cfg(), "fake", mode="wall", sampler=sampler)
    first = result.commits[result.search.first_bad]
    assert result.names[first] == "0005-add-the-load-const-instruction.patch"
    assert "95% CI" in bisect.render(result)


def script(p: S.Project, *extra: str) -> int:
    args = cli.parser().parse_args(["-C", str(p.root), "bisect", "--script", "--benchmark", "fake", *extra])
    return int(args.func(args, cli.Progress()))


def test_script_mode_exit_codes(series_project: S.Project) -> None:
    assert script(series_project) == 1  # HEAD is the tip: bad
    series_project.git("checkout", "-q", "refs/quicken/patches/0004-repair-the-build.patch")
    assert script(series_project) == 0
    series_project.git("checkout", "-q", "refs/quicken/patches/0003-break-the-build.patch")
    assert script(series_project) == 125
    assert script(series_project, "--benchmark", "nope") == 128  # an error stops git bisect run


def test_bisect_an_external_checkout(series_project: S.Project, tmp_path: Path) -> None:
    """--repo: commits of another git repository are built from its own objects."""
    repo = tmp_path / "cpython"
    repo.mkdir()
    S.git(repo, "init", "-q", "-b", "main")
    files = S.pristine_files()

    def commit(message: str) -> None:
        for rel, text in files.items():
            (repo / rel).parent.mkdir(parents=True, exist_ok=True)
            (repo / rel).write_text(text)
        (repo / "configure").chmod(0o755)
        S.git(repo, "add", "-A")
        S.git(repo, "commit", "-q", "-m", message)

    commit("release")
    S.git(repo, "tag", "v3.99.0")
    for i in range(1, 7):
        files["Python/ceval.c"] = files["Python/ceval.c"].replace(f"= {i};", f"= {i}{i};", 1)
        if i == 3:
            files["Python/bytecodes.c"] = UPSTREAM_SLOW
            files["Python/generated.h"] = S.generated_for(UPSTREAM_SLOW)
        commit(f"change {i}")
    cfg = series_project.cfg()
    result = bisect.run(cfg, "fake", good="v3.99.0", bad="main", repo_path=repo)
    assert result.search.exact and result.subjects[result.commits[result.search.first_bad]] == "change 3"
    assert result.names == {} and "change 3" in bisect.render(result)
    with pytest.raises(QuickenError, match="--repo needs --good and --bad"):
        bisect.run(cfg, "fake", repo_path=repo)


UPSTREAM_SLOW = S.replace(S.BYTECODES_C, "inst(STORE_FAST) {",
                          "inst(LOAD_CONST) {\n    value = consts[oparg];\n}\n\ninst(STORE_FAST) {")
