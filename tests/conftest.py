"""Shared fixtures: a hermetic git/Quicken environment and synthetic projects."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
import synthetic as S

FIXED_DATE = "Thu, 1 Jan 2026 12:00:00 +0000"


@pytest.fixture(autouse=True)
def hermetic_env(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Path:
    """No user or system git config, fixed commit identity and dates, a private cache.

    Tests marked ``integration`` (the real CPython build) are left alone: they
    need the real source cache and a persistent ccache directory.
    """
    base = tmp_path_factory.mktemp("env")
    if request.node.get_closest_marker("integration") is not None:
        return base
    home = base / "home"
    home.mkdir()
    monkeypatch.setenv("HOME", str(home))
    monkeypatch.setenv("XDG_CONFIG_HOME", str(home / ".config"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(home / ".cache"))
    monkeypatch.setenv("GIT_CONFIG_NOSYSTEM", "1")
    monkeypatch.setenv("GIT_CONFIG_GLOBAL", "/dev/null")
    monkeypatch.setenv("GIT_AUTHOR_NAME", "Test User")
    monkeypatch.setenv("GIT_AUTHOR_EMAIL", "test@example.invalid")
    monkeypatch.setenv("GIT_COMMITTER_NAME", "Test User")
    monkeypatch.setenv("GIT_COMMITTER_EMAIL", "test@example.invalid")
    monkeypatch.setenv("GIT_AUTHOR_DATE", FIXED_DATE)
    monkeypatch.setenv("GIT_COMMITTER_DATE", FIXED_DATE)
    monkeypatch.setenv("QUICKEN_CACHE_DIR", str(base / "cache"))
    monkeypatch.setenv("CCACHE_DIR", str(base / "ccache"))
    monkeypatch.setenv("LC_ALL", "C")
    for key in (
        "QUICKEN_PROJECT", "GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "GIT_OBJECT_DIRECTORY",
        "GIT_ALTERNATE_OBJECT_DIRECTORIES", "GIT_CEILING_DIRECTORIES", "GIT_NAMESPACE",
        "GIT_CONFIG", "GIT_CONFIG_PARAMETERS", "GIT_CONFIG_COUNT", "GIT_EDITOR", "GIT_SEQUENCE_EDITOR",
        "MAKEFLAGS", "MFLAGS", "MAKELEVEL", "CC", "PYTHONPATH",
    ):
        monkeypatch.delenv(key, raising=False)
    return base


@pytest.fixture(autouse=True)
def release_build_slots() -> Iterator[None]:
    """Each test starts and ends without build slots held by this process (quicken.build.hold)."""
    from quicken import build

    yield
    for slot in build.held():
        build.release(slot)


@pytest.fixture(scope="session")
def release(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """The fake CPython 3.99.0 release tarball and its sha256 (made once)."""
    path = tmp_path_factory.mktemp("release") / f"{S.TOP}.tar.xz"
    sha = S.write_tarball(path)
    path.chmod(0o444)
    return path, sha


@pytest.fixture
def cache_dir(hermetic_env: Path) -> Path:
    return hermetic_env / "cache"


@pytest.fixture
def mails(tmp_path: Path) -> S.MailMaker:
    """Makes format-patch mails on top of the fake release (each on the previous one)."""
    return S.MailMaker(tmp_path / "mailmaker")


@pytest.fixture
def make_project(tmp_path: Path, release: tuple[Path, str]) -> Callable[..., S.Project]:
    counter = iter(range(1000))

    def make(mails: list[S.Mail] | None = None, name: str | None = None) -> S.Project:
        root = tmp_path / (name or f"project{next(counter)}")
        return S.new_project(root, release[0], release[1], mails)

    return make


@pytest.fixture
def project(make_project: Callable[..., S.Project]) -> S.Project:
    """A project with an empty series."""
    return make_project()


@pytest.fixture
def two_patches(mails: S.MailMaker) -> list[S.Mail]:
    """0001 changes ceval.c and adds an overlay header; 0002 adds an instruction (regen)."""
    return S.two_patches(mails)


@pytest.fixture
def applied(make_project: Callable[..., S.Project], two_patches: list[S.Mail]) -> S.Project:
    """A project with the two-patch series, applied."""
    proj = make_project(two_patches, name="applied")
    proj.apply()
    return proj
