"""Stage 1: a verified CPython release source for the pin.

Providers are tried in the configured order; each result is checked against
the pin before use and every failure is reported as one line.  The cache only
ever holds verified files: downloads go to a temporary file in the cache
directory and are renamed into place after the checksum matched.

Release tarballs are verified by their sha256.  A git source (a local
checkout or a shallow clone) cannot match the tarball's checksum, so it is
accepted only when ``pin.git-commit`` is recorded and the tag resolves to it;
it is then archived as a tarball named after that commit.
"""

from __future__ import annotations

import copy
import dataclasses
import hashlib
import os
import shutil
import subprocess
import tarfile
import tempfile
import urllib.error
import urllib.request
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from . import gitutil
from .config import Config, Pin
from .errors import QuickenError, SourceError

DEB_SRC_FILE = "/etc/apt/sources.list.d/quicken-deb-src.sources"
DEB_SRC_SUITES = "trixie forky sid"


@dataclass(frozen=True)
class Source:
    """A verified release archive in the cache."""

    path: Path
    pin: Pin
    provider: str
    digest: str  # "sha256:<hex>" or "git:<commit>"


Report = Callable[[str], None]


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def cached_tarball(cfg: Config) -> Path:
    return cfg.cache / "sources" / f"Python-{cfg.pin.version}-{cfg.pin.sha256[:16]}.tar.xz"


def cached_git_tarball(cfg: Config) -> Path | None:
    if cfg.pin.git_commit is None:
        return None
    return cfg.cache / "sources" / f"Python-{cfg.pin.version}-git-{cfg.pin.git_commit[:16]}.tar"


@contextmanager
def _staging(dest: Path) -> Iterator[Path]:
    """A temporary file beside ``dest``; removed unless renamed into place."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=".partial-", dir=dest.parent)
    os.close(fd)
    tmp = Path(name)
    try:
        yield tmp
    finally:
        tmp.unlink(missing_ok=True)


def _install_verified(cfg: Config, candidate: Path, what: str) -> Path:
    """Copy ``candidate`` into the cache if its sha256 matches the pin."""
    dest = cached_tarball(cfg)
    digest = sha256_file(candidate)
    if digest != cfg.pin.sha256:
        raise SourceError(
            f"{what}: sha256 {digest} does not match the pin's {cfg.pin.sha256} for CPython {cfg.pin.version}"
        )
    with _staging(dest) as tmp:
        shutil.copyfile(candidate, tmp)
        os.replace(tmp, dest)
    return dest


# -- providers ------------------------------------------------------------


def from_cache(cfg: Config, user_path: Path | None) -> Source:
    for path, digest in (
        (cached_tarball(cfg), f"sha256:{cfg.pin.sha256}"),
        (cached_git_tarball(cfg), f"git:{cfg.pin.git_commit}"),
    ):
        if path is None or not path.is_file():
            continue
        if digest.startswith("sha256:") and sha256_file(path) != cfg.pin.sha256:
            path.unlink()  # a corrupted cache entry is worthless: drop it
            raise SourceError(f"cache: {path} failed verification and was removed")
        return Source(path, cfg.pin, "cache", digest)
    raise SourceError(f"cache: nothing cached for CPython {cfg.pin.version} in {cfg.cache}")


def from_path(cfg: Config, user_path: Path | None) -> Source:
    path = user_path or cfg.sources.path
    if path is None:
        raise SourceError("path: no --source given and no sources.path configured")
    if path.is_file():
        return Source(_install_verified(cfg, path, str(path)), cfg.pin, "path", f"sha256:{cfg.pin.sha256}")
    if (path / ".git").exists() or path.suffix == ".git":
        return _from_git_repo(cfg, path, "path")
    raise SourceError(f"path: {path} is neither a release tarball nor a git checkout")


def from_url(cfg: Config, user_path: Path | None) -> Source:
    url = cfg.sources.url.format(version=cfg.pin.version)
    dest = cached_tarball(cfg)
    with _staging(dest) as tmp:
        try:
            with urllib.request.urlopen(url, timeout=cfg.sources.timeout) as resp, open(tmp, "wb") as out:
                shutil.copyfileobj(resp, out)
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            raise SourceError(f"url: {url}: {reason}") from None
        return Source(_install_verified(cfg, tmp, url), cfg.pin, "url", f"sha256:{cfg.pin.sha256}")


def from_git(cfg: Config, user_path: Path | None) -> Source:
    _require_git_commit(cfg, "git")
    with tempfile.TemporaryDirectory(prefix="quicken-clone-", dir=_tmp_parent(cfg)) as tmp:
        env = {
            "GIT_TERMINAL_PROMPT": "0",
            "GIT_HTTP_LOW_SPEED_LIMIT": "1000",
            "GIT_HTTP_LOW_SPEED_TIME": str(int(cfg.sources.timeout)),
        }
        try:
            gitutil.clone(cfg.sources.git_url, Path(tmp) / "clone", cfg.pin.git_tag, env)
        except QuickenError as exc:
            raise SourceError(f"git: {cfg.sources.git_url} {cfg.pin.git_tag}: {exc.message}") from None
        return _from_git_repo(cfg, Path(tmp) / "clone", "git")


def _apt_env() -> dict[str, str]:
    return {**os.environ, "LC_ALL": "C"}


def _debian_versions(package: str) -> list[str]:
    """The versions of the Debian source package ``package`` apt knows (deb-src entries)."""
    proc = subprocess.run(["apt-cache", "showsrc", package], capture_output=True, text=True, check=False,
                          env=_apt_env())
    return [line.split(":", 1)[1].strip() for line in proc.stdout.splitlines() if line.startswith("Version:")]


def _matching(package: str, version: str, versions: list[str], hint: str) -> list[str]:
    """The Debian versions of ``package`` that package upstream ``version``, oldest first."""
    offered = sorted(set(versions))
    matching = [v for v in offered if debian_upstream_version(v) == version]
    if not matching:
        raise SourceError(
            f"debian: no {package} source for upstream {version} (apt offers {', '.join(offered) or 'none'})",
            hint,
        )
    return matching


def _apt_orig(package: str, debian_version: str, version: str, tmp: str) -> tuple[Path | None, str]:
    """Download ``package=debian_version``'s .orig tarball into ``tmp``: (its path, or None and why)."""
    proc = subprocess.run(["apt-get", "source", "--download-only", "-q", f"{package}={debian_version}"],
                          cwd=tmp, capture_output=True, text=True, check=False, env=_apt_env())
    origs = sorted(Path(tmp).glob(f"{package}_{version}.orig.tar.*"))
    if proc.returncode == 0 and origs:
        return origs[0], ""
    return None, (proc.stderr.strip().splitlines() or ["no .orig tarball downloaded"])[-1]


def _has_apt() -> bool:
    return shutil.which("apt-cache") is not None and shutil.which("apt-get") is not None


def from_debian(cfg: Config, user_path: Path | None) -> Source:
    if not _has_apt():
        raise SourceError("debian: apt-get/apt-cache not found (not a Debian-based machine)")
    major, minor = cfg.pin.major_minor
    package = cfg.sources.debian_package.format(major=major, minor=minor)
    versions = _debian_versions(package)
    if not versions:
        raise SourceError(
            f"debian: apt knows no source package {package}: deb-src entries are missing",
            deb_src_hint(),
        )
    matching = _matching(package, cfg.pin.version, versions,
                         "run apt-get update, or pin a version apt offers")
    with tempfile.TemporaryDirectory(prefix="quicken-apt-", dir=_tmp_parent(cfg)) as tmp:
        err = ""
        for version in reversed(matching):
            orig, err = _apt_orig(package, version, cfg.pin.version, tmp)
            if orig is not None:
                return Source(
                    _install_verified(cfg, orig, f"debian: {orig.name} ({package}={version})"),
                    cfg.pin,
                    "debian",
                    f"sha256:{cfg.pin.sha256}",
                )
        raise SourceError(f"debian: apt-get source {package}={matching[-1]}: {err}")


def lookup_sha256(cfg: Config, version: str, source_path: Path | None, report: Report) -> tuple[str, str]:
    """The sha256 of CPython ``version``'s release tarball, found without a recorded value.

    Trust on first use: from a tarball given with --source, from the cache
    (it was verified against a recorded pin when it was first fetched), or
    computed after downloading Debian's .orig tarball.  The caller records it.
    Returns (digest, a note saying where it came from).
    """
    if source_path is not None and source_path.is_file():
        digest = sha256_file(source_path)
        return digest, (f"sha256 {digest} computed from {source_path}: trust on first use, "
                        "check it against the release's published checksum")
    for path in sorted((cfg.cache / "sources").glob(f"Python-{version}-*.tar.xz")):
        digest = sha256_file(path)
        if path.name == f"Python-{version}-{digest[:16]}.tar.xz":
            return digest, f"sha256 {digest} of the cached {path.name} (verified when it was first fetched)"
    if "debian" in cfg.sources.providers:
        return _debian_sha256(cfg, version, report)
    raise SourceError(
        f"CPython {version}: no --sha256 given and no provider can look it up",
        "pass --sha256 HEX (from the python.org release page) or --source TARBALL",
    )


def _with_pin(cfg: Config, version: str, digest: str) -> Config:
    return dataclasses.replace(cfg, pin=Pin(version, digest, f"v{version}", None))


def _debian_sha256(cfg: Config, version: str, report: Report) -> tuple[str, str]:
    """Download Debian's .orig tarball of ``version``, hash it, and cache it (trust on first use)."""
    if not _has_apt():
        raise SourceError(f"CPython {version}: no --sha256 given and apt-get is not available",
                          "pass --sha256 HEX (from the python.org release page)")
    major, minor = _with_pin(cfg, version, "0" * 64).pin.major_minor
    package = cfg.sources.debian_package.format(major=major, minor=minor)
    matching = _matching(package, version, _debian_versions(package),
                         "pass --sha256 HEX and --source TARBALL, or run apt-get update")
    with tempfile.TemporaryDirectory(prefix="quicken-apt-", dir=_tmp_parent(cfg)) as tmp:
        report(f"source: apt-get source {package}={matching[-1]} (to compute the sha256)")
        orig, err = _apt_orig(package, matching[-1], version, tmp)
        if orig is None:
            raise SourceError(f"debian: apt-get source {package}={matching[-1]}: {err}")
        digest = sha256_file(orig)
        from_path(_with_pin(cfg, version, digest), orig)  # into the cache, verified against that digest
        return digest, (
            f"sha256 {digest} computed after downloading {orig.name} ({package}={matching[-1]}) "
            "from Debian: trust on first use (apt checked Debian's signatures, nothing checked it against "
            "python.org) — compare it with the release page's checksum"
        )


def debian_upstream_version(version: str) -> str:
    """'1:3.13.15-1' -> '3.13.15'; '3.13.5-2+deb13u5' -> '3.13.5'."""
    if ":" in version:
        version = version.split(":", 1)[1]
    return version.rsplit("-", 1)[0] if "-" in version else version


def deb_src_hint() -> str:
    """Exactly what to add, derived from the machine's own apt sources."""
    uri = components = signed = None
    for path in sorted(Path("/etc/apt/sources.list.d").glob("*.sources")):
        for block in path.read_text(errors="replace").split("\n\n"):
            fields = dict(
                (k.strip(), v.strip())
                for k, _, v in (
                    ln.partition(":") for ln in block.splitlines() if ":" in ln and not ln.startswith("#")
                )
            )
            suites = fields.get("Suites", "")
            if "deb" in fields.get("Types", "").split() and suites and "-security" not in suites:
                uri, components, signed = (
                    fields.get("URIs"),
                    fields.get("Components"),
                    fields.get("Signed-By"),
                )
                break
        if uri:
            break
    if not uri:
        return (
            f"add a deb-src entry for suites '{DEB_SRC_SUITES}' of your Debian mirror to "
            f"{DEB_SRC_FILE}, then run apt-get update"
        )
    stanza = f"Types: deb-src / URIs: {uri} / Suites: {DEB_SRC_SUITES} / Components: {components or 'main'}"
    if signed:
        stanza += f" / Signed-By: {signed}"
    return f"write to {DEB_SRC_FILE} the stanza [{stanza}] (one field per line), then run apt-get update"


PROVIDERS: dict[str, Callable[[Config, Path | None], Source]] = {
    "cache": from_cache,
    "path": from_path,
    "url": from_url,
    "git": from_git,
    "debian": from_debian,
}


def fetch(cfg: Config, user_path: Path | None = None, report: Report | None = None) -> Source:
    """Try each provider in order; the first verified result wins."""
    failures: list[str] = []
    order = list(cfg.sources.providers)
    if user_path is not None and "path" in order:
        # An explicit --source is the user's intent: try it right after the cache.
        order.remove("path")
        order.insert(1 if order and order[0] == "cache" else 0, "path")
    hint: str | None = None
    for name in order:
        if name == "path" and user_path is None and cfg.sources.path is None:
            continue
        try:
            src = PROVIDERS[name](cfg, user_path)
        except SourceError as exc:
            failures.append(exc.message)
            hint = exc.hint or hint
            if report:
                report(f"source: {exc.message}")
            continue
        if report and name != "cache":
            report(f"source: CPython {cfg.pin.version} from {name}, verified, cached at {src.path}")
        return src
    raise SourceError(
        f"no provider could supply CPython {cfg.pin.version} ({'; '.join(failures)})",
        hint or "pass --source PATH to a release tarball or CPython checkout",
    )


# -- git sources ------------------------------------------------------------


def _require_git_commit(cfg: Config, provider: str) -> str:
    if cfg.pin.git_commit is None:
        raise SourceError(
            f"{provider}: a git source cannot be checked against the tarball sha256; "
            "record pin.git-commit in quicken.toml to allow it"
        )
    return cfg.pin.git_commit


def _from_git_repo(cfg: Config, repo_path: Path, provider: str) -> Source:
    expected = _require_git_commit(cfg, provider)
    repo = gitutil.Git(repo_path / ".git" if (repo_path / ".git").exists() else repo_path)
    commit = repo.rev(f"{cfg.pin.git_tag}^{{commit}}") if repo_path.is_dir() else None
    if commit is None:
        raise SourceError(f"{provider}: {repo_path} has no tag {cfg.pin.git_tag}")
    if commit != expected:
        raise SourceError(
            f"{provider}: {repo_path} tag {cfg.pin.git_tag} is {commit}, the pin records {expected}"
        )
    dest = cached_git_tarball(cfg)
    assert dest is not None
    with _staging(dest) as tmp:
        repo("archive", "--format=tar", f"--prefix=Python-{cfg.pin.version}/", f"--output={tmp}", commit)
        os.replace(tmp, dest)
    return Source(dest, cfg.pin, provider, f"git:{commit}")


def _tmp_parent(cfg: Config) -> Path:
    parent = cfg.cache / "tmp"
    parent.mkdir(parents=True, exist_ok=True)
    return parent


# -- extraction -------------------------------------------------------------


class _UnsafeMember(Exception):
    """A member the ``data`` filter refuses (the fallback's FilterError)."""


def _data_filter_compat(member: tarfile.TarInfo, dest_path: str) -> tarfile.TarInfo:
    """``tarfile.data_filter`` for Pythons without PEP 706 (before 3.11.4; Debian 12 has 3.11.2).

    The same refusals: absolute names, names or link targets outside the
    destination, device files and FIFOs; the same modes (no high or
    group/other write bits, owner read/write on files); ownership is the
    extracting user's.  Called for each member just before it is extracted,
    so links made by earlier members count, as with the real filter.
    """
    new = copy.copy(member)
    dest = os.path.realpath(dest_path)
    name = new.name = member.name.lstrip("/" + os.sep)
    if os.path.isabs(name):
        raise _UnsafeMember(f"{member.name!r} is absolute")
    where = os.path.realpath(os.path.join(dest, name))
    if os.path.commonpath([where, dest]) != dest:
        raise _UnsafeMember(f"{member.name!r} would be extracted to {where!r}, outside the destination")
    mode = member.mode & 0o755
    if member.isreg() or member.islnk():
        if not mode & 0o100:
            mode &= ~0o111
        mode |= 0o600
    elif member.isdir():
        mode |= 0o700
    elif not member.issym():
        raise _UnsafeMember(f"{member.name!r} is a special file")
    new.mode = mode
    new.uid, new.gid, new.uname, new.gname = os.geteuid(), os.getegid(), "", ""
    if member.islnk() or member.issym():
        if os.path.isabs(member.linkname):
            raise _UnsafeMember(f"{member.name!r} is a link to an absolute path")
        base = os.path.dirname(name) if member.issym() else ""
        linked = os.path.realpath(os.path.join(dest, base, member.linkname))
        if os.path.commonpath([linked, dest]) != dest:
            raise _UnsafeMember(f"{member.name!r} would link to {linked!r}, outside the destination")
    return new


def _renamed(member: tarfile.TarInfo, **attrs: str) -> tarfile.TarInfo:
    new = copy.copy(member)  # TarInfo.replace() is 3.11.4+
    for key, value in attrs.items():
        setattr(new, key, value)
    return new


def extract(archive: Path, dest: Path) -> None:
    """Extract a release archive into ``dest``, dropping its top directory.

    Uses tarfile's ``data`` filter (or, on a Python without it, the same
    checks in ``_data_filter_compat``): absolute names, ``..``, links that
    escape and device files are refused.  Every member must sit under one
    top-level directory (as release tarballs do).
    """
    dest.mkdir(parents=True, exist_ok=True)
    target = dest.resolve()
    data_filter = getattr(tarfile, "data_filter", None)
    try:
        with tarfile.open(archive) as tar:
            members = tar.getmembers()
            tops = {m.name.split("/", 1)[0] for m in members if m.name not in ("", ".")}
            if len(tops) != 1:
                raise SourceError(f"{archive}: expected one top-level directory, found {len(tops)}")
            top = tops.pop()

            def strip(member: tarfile.TarInfo, path: str) -> tarfile.TarInfo | None:
                if member.name == top:
                    return None
                if not member.name.startswith(top + "/"):
                    raise SourceError(f"{archive}: member {member.name} outside {top}/")
                renamed = _renamed(member, name=member.name[len(top) + 1 :])
                if renamed.islnk() and renamed.linkname.startswith(top + "/"):
                    renamed = _renamed(renamed, linkname=renamed.linkname[len(top) + 1 :])
                if data_filter is None:
                    return _data_filter_compat(renamed, path)
                return data_filter(renamed, path)

            if data_filter is not None:
                tar.extractall(target, members=members, filter=strip)
            else:
                # A generator: each member is checked just before extractall() extracts it.
                checked = (m for m in (strip(m, str(target)) for m in members) if m is not None)
                tar.extractall(target, members=checked, numeric_owner=True)
    except _UnsafeMember as exc:
        raise SourceError(f"{archive}: refused unsafe member: {exc}") from None
    except tarfile.TarError as exc:
        if data_filter is not None and isinstance(exc, tarfile.FilterError):
            raise SourceError(f"{archive}: refused unsafe member: {exc}") from None
        raise SourceError(f"{archive}: cannot extract: {exc}") from None
    except (EOFError, OSError) as exc:
        raise SourceError(f"{archive}: cannot extract: {exc}") from None
