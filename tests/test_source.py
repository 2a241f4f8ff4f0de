"""quicken.source: providers, verification, the cache and safe extraction."""

from __future__ import annotations

import dataclasses
import os
import re
import tarfile
from pathlib import Path

import pytest
import synthetic as S
from quicken import source
from quicken.errors import QuickenError, SourceError


def cache_files(cache: Path) -> list[str]:
    if not cache.exists():
        return []
    return sorted(p.relative_to(cache).as_posix() for p in cache.rglob("*") if not p.is_dir())


def test_path_then_cache(project: S.Project, cache_dir: Path) -> None:
    cfg = project.cfg()
    messages: list[str] = []
    src = source.fetch(cfg, report=messages.append)
    assert src.provider == "path"
    assert src.path == source.cached_tarball(cfg)
    assert src.path.read_bytes() == project.tarball.read_bytes()
    assert src.digest == f"sha256:{project.sha256}"
    assert cache_files(cache_dir) == [f"sources/{src.path.name}"]  # no partial files
    assert messages[-1] == f"source: CPython 3.99.0 from path, verified, cached at {src.path}"
    again = source.fetch(cfg)
    assert again.provider == "cache" and again.path == src.path


def test_wrong_checksum_from_source_leaves_cache_empty(
    project: S.Project, cache_dir: Path, tmp_path: Path
) -> None:
    wrong = tmp_path / "wrong" / "Python-3.99.0.tar.xz"
    files = S.pristine_files()
    files["README"] = "tampered\n"
    wrong_sha = S.write_tarball(wrong, files)
    with pytest.raises(SourceError) as info:
        source.fetch(project.cfg(), wrong)
    msg = info.value.message
    assert "\n" not in msg
    assert msg.startswith("no provider could supply CPython 3.99.0 (")
    assert f"{wrong}: sha256 {wrong_sha} does not match the pin's {project.sha256}" in msg
    assert info.value.hint == "pass --source PATH to a release tarball or CPython checkout"
    assert cache_files(cache_dir) == []


def test_apply_with_wrong_source_changes_nothing(project: S.Project, cache_dir: Path, tmp_path: Path) -> None:
    wrong = tmp_path / "wrong.tar.xz"
    S.write_tarball(wrong, {"README": "other\n"})
    before = S.snapshot(project)
    with pytest.raises(SourceError) as info:
        project.apply(source_path=wrong)
    assert f"{wrong}: sha256 " in info.value.message and "\n" not in info.value.message
    assert S.snapshot(project) == before
    assert not project.worktree.exists()
    assert cache_files(cache_dir) == []


def test_explicit_source_is_tried_before_configured_providers(project: S.Project, tmp_path: Path) -> None:
    # --source wins over sources.path: a wrong --source fails even though sources.path is right.
    wrong = tmp_path / "other.tar.xz"
    S.write_tarball(wrong, {"README": "x\n"})
    with pytest.raises(SourceError):
        source.fetch(project.cfg(), wrong)
    assert source.fetch(project.cfg(), project.tarball).provider == "path"


def test_corrupted_cache_entry_is_removed(project: S.Project) -> None:
    cfg = project.cfg()
    cached = source.fetch(cfg).path
    cached.write_bytes(b"garbage")
    with pytest.raises(SourceError) as info:
        source.from_cache(cfg, None)
    assert info.value.message == f"cache: {cached} failed verification and was removed"
    assert not cached.exists()
    assert source.fetch(cfg).provider == "path"  # the next fetch repairs it


def test_url_provider_with_file_url(project: S.Project, cache_dir: Path, tmp_path: Path) -> None:
    mirror = tmp_path / "mirror"
    mirror.mkdir()
    (mirror / "Python-3.99.0.tar.xz").write_bytes(project.tarball.read_bytes())
    project.write_config(providers='["cache", "url"]')
    text = project.config_file.read_text().replace(
        "[build]", f'url = "file://{mirror}/Python-{{version}}.tar.xz"\n\n[build]', 1)
    project.config_file.write_text(text)
    src = source.fetch(project.cfg())
    assert src.provider == "url" and src.path.read_bytes() == project.tarball.read_bytes()
    # A wrong download is refused and leaves no partial file behind.
    source.cached_tarball(project.cfg()).unlink()
    (mirror / "Python-3.99.0.tar.xz").write_bytes(b"not the release")
    with pytest.raises(SourceError) as info:
        source.fetch(project.cfg())
    assert "does not match the pin's" in info.value.message
    assert cache_files(cache_dir) == []


@pytest.fixture(params=["data_filter", "compat"])
def tar_filter(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Extraction with tarfile's own data filter (PEP 706, Python 3.11.4+) and with the
    fallback that Pythons without it use (Debian 12's system Python is 3.11.2)."""
    if request.param == "compat":
        monkeypatch.delattr(tarfile, "data_filter", raising=False)
    elif not hasattr(tarfile, "data_filter"):
        pytest.skip("this Python's tarfile has no data filter (PEP 706)")
    return request.param


def test_extract_strips_top_directory(project: S.Project, tmp_path: Path, tar_filter: str) -> None:
    dest = tmp_path / "out"
    source.extract(project.tarball, dest)
    assert {k: v[1].decode() for k, v in S.tree_files(dest).items()} == S.pristine_files()
    assert os.access(dest / "configure", os.X_OK)
    assert not os.access(dest / "README", os.X_OK)


def _member(name: str, kind: bytes = tarfile.REGTYPE, linkname: str = "") -> tarfile.TarInfo:
    info = tarfile.TarInfo(name)
    info.type = kind
    info.linkname = linkname
    info.size = 1 if kind == tarfile.REGTYPE else 0
    info.mode = 0o644
    return info


@pytest.mark.parametrize(
    ("member", "reason"),
    [
        (_member("../escaped"), "expected one top-level directory, found 2"),
        (_member(f"{S.TOP}/../../escaped"), "refused unsafe member"),
        (_member("/tmp/quicken-absolute-escaped"), "expected one top-level directory, found 2"),
        (_member(f"{S.TOP}/Lib/escape", tarfile.SYMTYPE, "../../../escaped"), "refused unsafe member"),
        (_member(f"{S.TOP}/abs-link", tarfile.SYMTYPE, "/etc/passwd"), "refused unsafe member"),
        (_member(f"{S.TOP}/hard", tarfile.LNKTYPE, "../../escaped"), "refused unsafe member"),
        (_member(f"{S.TOP}/dev", tarfile.CHRTYPE), "refused unsafe member"),
    ],
    ids=["dotdot-top", "dotdot-inside", "absolute", "symlink-escape", "symlink-absolute", "hardlink-escape",
         "device"],
)
def test_extract_refuses_unsafe_members(
    tmp_path: Path, member: tarfile.TarInfo, reason: str, tar_filter: str
) -> None:
    archive = tmp_path / "arch" / "evil.tar.xz"
    S.write_tarball(archive, {"Lib/a.py": "a = 1\n"}, extra=[member])
    box = tmp_path / "box"
    dest = box / "dest"
    with pytest.raises(SourceError) as info:
        source.extract(archive, dest)
    assert info.value.message.startswith(f"{archive}: {reason}")
    assert "\n" not in info.value.message
    assert sorted(p.name for p in box.iterdir()) == ["dest"]  # nothing written beside dest
    assert not (tmp_path / "escaped").exists() and not Path("/tmp/quicken-absolute-escaped").exists()
    assert not any(p.is_symlink() for p in dest.rglob("*"))


def test_apply_of_unsafe_release_leaves_nothing(project: S.Project, tmp_path: Path) -> None:
    evil = tmp_path / "evil" / "Python-3.99.0.tar.xz"
    sha = S.write_tarball(evil, extra=[_member(f"{S.TOP}/Lib/escape", tarfile.SYMTYPE, "../../../x")])
    project.tarball = evil
    project.write_config(sha256=sha)
    with pytest.raises(SourceError) as info:
        project.apply()
    assert info.value.message.startswith(f"{source.cached_tarball(project.cfg())}: refused unsafe member")
    work = project.worktree.parent
    assert not project.worktree.exists()
    assert [p.name for p in work.iterdir()] == [".cpython.lock"]  # the new tree was removed


def test_archive_without_single_top(tmp_path: Path) -> None:
    archive = tmp_path / "flat.tar"
    with tarfile.open(archive, "w") as tar:
        for name in ("a", "b"):
            tar.addfile(_member(name), __import__("io").BytesIO(b"x"))
    with pytest.raises(SourceError) as info:
        source.extract(archive, tmp_path / "d")
    assert info.value.message == f"{archive}: expected one top-level directory, found 2"
    (tmp_path / "notatar").write_bytes(b"nope")
    with pytest.raises(SourceError) as info:
        source.extract(tmp_path / "notatar", tmp_path / "d2")
    assert info.value.message.startswith(f"{tmp_path / 'notatar'}: cannot extract: ")


# -- git sources --------------------------------------------------------------


def make_checkout(path: Path) -> str:
    path.mkdir(parents=True)
    S.git(path, "init", "-q", "-b", "main")
    for rel, text in S.pristine_files().items():
        (path / rel).parent.mkdir(parents=True, exist_ok=True)
        (path / rel).write_text(text)
    (path / "configure").chmod(0o755)
    S.git(path, "add", "-A")
    S.git(path, "commit", "-q", "-m", "release")
    S.git(path, "tag", "v3.99.0")
    return S.git(path, "rev-parse", "HEAD")


def test_git_provider_refused_without_git_commit(project: S.Project, tmp_path: Path, cache_dir: Path) -> None:
    cfg = project.cfg()
    checkout = tmp_path / "checkout"
    make_checkout(checkout)
    reason = ("a git source cannot be checked against the tarball sha256; "
              "record pin.git-commit in quicken.toml to allow it")
    with pytest.raises(SourceError) as info:
        source.from_git(cfg, None)
    assert info.value.message == f"git: {reason}"
    with pytest.raises(SourceError) as info:
        source.from_path(cfg, checkout)
    assert info.value.message == f"path: {reason}"
    assert cache_files(cache_dir) == []


def test_git_checkout_with_recorded_commit(project: S.Project, tmp_path: Path) -> None:
    checkout = tmp_path / "checkout"
    commit = make_checkout(checkout)
    project.write_config(pin_extra=f'git-commit = "{commit}"\n')
    cfg = project.cfg()
    src = source.from_path(cfg, checkout)
    assert src.provider == "path" and src.digest == f"git:{commit}"
    assert src.path == source.cached_git_tarball(cfg)
    dest = tmp_path / "x"
    source.extract(src.path, dest)
    assert {k: v[1].decode() for k, v in S.tree_files(dest).items()} == S.pristine_files()
    assert source.from_cache(cfg, None).digest == f"git:{commit}"

    other = "0" * 40
    project.write_config(pin_extra=f'git-commit = "{other}"\n')
    with pytest.raises(SourceError) as info:
        source.from_path(project.cfg(), checkout)
    assert info.value.message == f"path: {checkout} tag v3.99.0 is {commit}, the pin records {other}"


def test_path_that_is_neither(project: S.Project, tmp_path: Path) -> None:
    with pytest.raises(SourceError) as info:
        source.from_path(project.cfg(), tmp_path)
    assert info.value.message == f"path: {tmp_path} is neither a release tarball nor a git checkout"


# -- debian ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("version", "upstream"),
    [
        ("3.13.15-1", "3.13.15"),
        ("1:3.13.15-1", "3.13.15"),
        ("3.13.5-2+deb13u5", "3.13.5"),
        ("3.12.0~rc1-1", "3.12.0~rc1"),
        ("3.11.2", "3.11.2"),
        ("2:3.11.2-6+deb12u1", "3.11.2"),
        ("3.13.15-1-2", "3.13.15-1"),
    ],
)
def test_debian_upstream_version(version: str, upstream: str) -> None:
    assert source.debian_upstream_version(version) == upstream


def fake_apt(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, showsrc: str, source_script: str = "exit 1"
) -> None:
    bindir = tmp_path / "fakebin"
    bindir.mkdir()
    (bindir / "apt-cache").write_text(f"#!/bin/sh\ncat <<'EOF'\n{showsrc}EOF\n")
    (bindir / "apt-get").write_text(f"#!/bin/sh\n{source_script}\n")
    for tool in ("apt-cache", "apt-get"):
        (bindir / tool).chmod(0o755)
    monkeypatch.setenv("PATH", f"{bindir}{os.pathsep}{os.environ['PATH']}")


def test_debian_without_deb_src_gives_hint(
    project: S.Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake_apt(tmp_path, monkeypatch, "")
    with pytest.raises(SourceError) as info:
        source.from_debian(project.cfg(), None)
    assert info.value.message == "debian: apt knows no source package python3.99: deb-src entries are missing"
    assert info.value.hint == source.deb_src_hint()
    assert source.DEB_SRC_FILE in info.value.hint and "apt-get update" in info.value.hint
    # fetch passes the hint on.
    project.write_config(providers='["debian"]')
    with pytest.raises(SourceError) as info:
        source.fetch(project.cfg())
    assert info.value.hint == source.deb_src_hint()


def _redirect_apt_sources(monkeypatch: pytest.MonkeyPatch, where: Path) -> None:
    real = source.Path

    def fake(*parts: object) -> Path:
        p = real(*parts)  # type: ignore[arg-type]
        return where if str(p) == "/etc/apt/sources.list.d" else p

    monkeypatch.setattr(source, "Path", fake)


def test_deb_src_hint_from_machine_sources(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    lists = tmp_path / "sources.list.d"
    lists.mkdir()
    _redirect_apt_sources(monkeypatch, lists)
    assert source.deb_src_hint() == (
        f"add a deb-src entry for suites '{source.DEB_SRC_SUITES}' of your Debian mirror to "
        f"{source.DEB_SRC_FILE}, then run apt-get update"
    )
    (lists / "debian.sources").write_text(
        "Types: deb\nURIs: http://deb.example/debian-security\nSuites: trixie-security\n"
        "Components: main\n\n"
        "# the main archive\nTypes: deb\nURIs: http://deb.example/debian\nSuites: trixie trixie-updates\n"
        "Components: main contrib\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
    )
    assert source.deb_src_hint() == (
        f"write to {source.DEB_SRC_FILE} the stanza [Types: deb-src / URIs: http://deb.example/debian / "
        f"Suites: {source.DEB_SRC_SUITES} / Components: main contrib / "
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg] (one field per line), "
        "then run apt-get update"
    )


def test_debian_version_mismatch(project: S.Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    fake_apt(tmp_path, monkeypatch, "Package: python3.99\nVersion: 3.99.1-1\n\nVersion: 3.98.0-2\n")
    with pytest.raises(SourceError) as info:
        source.from_debian(project.cfg(), None)
    assert info.value.message == (
        "debian: no python3.99 source for upstream 3.99.0 (apt offers 3.98.0-2, 3.99.1-1)"
    )


def test_debian_download_is_verified_and_cached(
    project: S.Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, cache_dir: Path
) -> None:
    fake_apt(tmp_path, monkeypatch, "Package: python3.99\nVersion: 3.99.0-1\nVersion: 3.98.0-1\n",
             f'cp "{project.tarball}" ./python3.99_3.99.0.orig.tar.xz')
    src = source.from_debian(project.cfg(), None)
    assert src.provider == "debian" and src.path.read_bytes() == project.tarball.read_bytes()
    assert cache_files(cache_dir) == [f"sources/{src.path.name}"]  # the apt temp dir is gone


def test_sources_report_every_failure(project: S.Project) -> None:
    project.write_config(providers='["cache", "git"]')
    with pytest.raises(QuickenError) as info:
        source.fetch(project.cfg())
    assert info.value.message == (
        f"no provider could supply CPython 3.99.0 (cache: nothing cached for CPython 3.99.0 in "
        f"{project.cfg().cache}; git: a git source cannot be checked against the tarball sha256; "
        "record pin.git-commit in quicken.toml to allow it)"
    )


def test_git_provider_clones_through_gitutil(project: S.Project, tmp_path: Path) -> None:
    """The git provider's shallow clone (a file:// URL here) goes through gitutil, as every git call."""
    checkout = tmp_path / "upstream"
    commit = make_checkout(checkout)
    project.write_config(pin_extra=f'git-commit = "{commit}"\n')
    cfg = dataclasses.replace(project.cfg(), sources=dataclasses.replace(
        project.cfg().sources, git_url=checkout.as_uri()))
    src = source.from_git(cfg, None)
    assert src.provider == "git" and src.digest == f"git:{commit}"
    dest = tmp_path / "x"
    source.extract(src.path, dest)
    assert {k: v[1].decode() for k, v in S.tree_files(dest).items()} == S.pristine_files()
    missing = dataclasses.replace(cfg, pin=dataclasses.replace(cfg.pin, git_tag="v0.0.0"))
    with pytest.raises(SourceError, match=rf"^git: {re.escape(checkout.as_uri())} v0\.0\.0: .*v0\.0\.0"):
        source.from_git(missing, None)
