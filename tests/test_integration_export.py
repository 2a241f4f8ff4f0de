"""quicken export on the real pinned CPython: git am of the mails onto a pristine pin checkout.

The fixture series of tests/fixtures/cpython-series (with an upstream issue
added to each patch's trailers, and validation and verification records written by hand) is
exported; the mails must ``git am`` onto a checkout of the pin with no fuzz,
reproduce the work tree (plus the NEWS files, which blurb must accept), build,
and pass the patches' declared tests.  ``--onto pin-3.13.15`` must give the
same mails (it regenerates the generated files with CPython's generators).

Slow (one CPython build; ccache makes it cheap when warm).  Set
QUICKEN_SKIP_INTEGRATION=1 to skip it.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from quicken import apply, build, config, export, validate, verify
from quicken.series import load as load_series
from realproject import MARKS, ROOT, write_config

FIXTURE = ROOT / "tests" / "fixtures" / "cpython-series"
TAG = "quicken-fixture"
ISSUES = {"0001-tag-fixture-builds.patch": 140001, "0002-mark-nop-in-the-generated-cases.patch": 140002}

pytestmark = MARKS


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", "-C", str(cwd), *args], capture_output=True, text=True, check=False)
    assert proc.returncode == 0, f"git {' '.join(args)}: {proc.stderr}"
    return proc.stdout.strip()


@pytest.fixture(scope="module")
def project(tmp_path_factory: pytest.TempPathFactory) -> config.Config:
    root = tmp_path_factory.mktemp("export-project")
    write_config(root, root / "patches", root / "cpython_overlay")
    shutil.copytree(FIXTURE / "patches", root / "patches")
    shutil.copytree(FIXTURE / "cpython_overlay", root / "cpython_overlay")
    for name, issue in ISSUES.items():
        path = root / "patches" / name
        body = path.read_text()
        at = body.index("Quicken-Tests:")
        path.write_text(body[:at] + f"Quicken-Upstream: gh-{issue}\n" + body[at:])
    cfg = config.load(root)
    apply.run(cfg)
    series = load_series(cfg)
    for patch in series.patches:
        record = {"binding": validate.binding(cfg, series, patch, "release"),
                  "verdict": {"passed": True, "rules": [], "failures": []}, "date": "2026-11-24T00:00:00Z",
                  "suite": "int_bitwise", "tests": {"passed": True, "summary": " ".join(patch.tests)},
                  "benchmarks": [{"name": "int_bitwise", "base_mean": 1e-3, "head_mean": 1e-3, "ratio": 1.0,
                                  "significant": False, "unstable": [], "instructions_ratio": None}]}
        validate.record_path(cfg, patch).write_text(json.dumps(record))
        passed = verify.Outcome(patch.name, "quick", "0" * 40)
        verify.write_record(cfg, series, patch, passed, root / "results")
    return cfg


def test_git_am_onto_the_pin_builds_and_passes_the_declared_tests(
    project: config.Config, tmp_path: Path
) -> None:
    blurb = pytest.importorskip("blurb._blurb_file")
    results = export.run(project, output=tmp_path / "exported")
    mails = [path for _, path in results]
    assert [p.name for p in mails] == list(ISSUES)
    text = [p.read_text() for p in mails]
    assert "Subject: [PATCH 1/2] gh-140001: Tag fixture builds in sys.version" in text[0]
    # Overlay file as a new file; regenerated files included in the second mail.
    assert "+++ b/Include/internal/pycore_quicken_fixture.h" in text[0]
    assert "+++ b/Python/generated_cases.c.h" in text[1]

    checkout = tmp_path / "pin"
    git(tmp_path, "clone", "-q", "--no-checkout", str(project.worktree), str(checkout))
    git(checkout, "checkout", "-q", "--detach", f"pin-{project.pin.version}")
    for mail in mails:
        git(checkout, "am", "-q", str(mail))  # git am never fuzzes: it applies exactly or fails
    wt_tip = git(project.worktree, "rev-parse", "HEAD^{tree}")
    news = git(checkout, "ls-tree", "-r", "--name-only", "HEAD", "Misc/NEWS.d/next").splitlines()
    news = [n for n in news if ".gh-issue-14000" in n]
    assert len(news) == 2
    for path in news:
        entries = blurb.Blurbs()
        entries.load_next(str(checkout / path))
        assert entries[0][0]["section"] == "Core and Builtins"
        git(checkout, "rm", "-q", "--cached", path)
    assert git(checkout, "write-tree") == wt_tip
    git(checkout, "reset", "-q")

    # Build the result of git am (its commit, fetched into the work tree's repository) and test it.
    head = git(checkout, "rev-parse", "HEAD")
    git(project.worktree, "fetch", "-q", str(checkout), f"{head}:refs/quicken/export-test")
    result = build.build_one(project, head, None, lambda _: None)
    out = subprocess.run([str(result.python), "-c", "import sys; print(sys.version)"], check=True,
                         capture_output=True, text=True).stdout.strip()
    assert out.endswith(TAG)
    tests = sorted({t for patch in load_series(project).patches for t in patch.tests})
    proc = subprocess.run([str(result.python), "-m", "test", "-j2", *tests], capture_output=True, text=True,
                          cwd=result.python.parent, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:]
    assert "Result: SUCCESS" in proc.stdout
    print(f"build: {result.seconds:.0f}s cached={result.cached} log={result.log}")


def test_onto_the_pin_tag_gives_the_same_mails(project: config.Config) -> None:
    plain = export.prepare(project)
    onto = export.prepare(project, onto=f"pin-{project.pin.version}")
    assert [ex.mail for ex in onto] == [ex.mail for ex in plain]
