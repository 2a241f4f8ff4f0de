"""Stage 2: read and check the patch series before anything is touched.

``patches/series`` lists the patches in order (quilt's format: one file name a
line, ``#`` comments, an optional ``-p1``).  Each patch is a git format-patch
mail: From/Date/Subject headers, a message whose last paragraph holds the
trailers, ``---``, a diffstat and the diff.  The trailers Quicken reads:

``Quicken-Overlay: PATH``      (repeatable) a file under cpython_overlay/ owned by this patch
``Quicken-Upstream: gh-N``     the upstream issue
``Quicken-Targets: a, b``      target benchmarks
``Quicken-Expected: TEXT``     the expected effect
``Quicken-Tests: t1 t2``       CPython tests to run for this patch
``Quicken-Magic: bumped|unchanged``  whether the patch changes the .pyc magic number
``Quicken-Threshold: 15%``     per-patch override of the validation threshold

Every diff is parsed with unidiff.  Refusals name the file and line.
"""

from __future__ import annotations

import email.parser
import email.policy
import email.utils
import hashlib
import re
from dataclasses import dataclass, field
from pathlib import Path, PurePosixPath

import unidiff

from .config import Config
from .errors import SeriesError
from .gitutil import Identity

PATCH_SUFFIXES = (".patch", ".diff")
ENGINE_VERSION = "1"  # bump when apply's output for the same inputs changes
_TRAILER = re.compile(r"^([A-Za-z0-9][A-Za-z0-9-]*):\s*(.*)$")
_SUBJECT_PREFIX = re.compile(r"^\[(?:PATCH|RFC)[^\]]*\]\s*")


@dataclass(frozen=True)
class Trailer:
    key: str
    value: str
    line: int  # 1-based line in the patch file


@dataclass(frozen=True)
class FileChange:
    path: str
    line: int  # line of its "diff --git" header
    added: bool
    removed: bool


@dataclass(frozen=True)
class Patch:
    name: str
    path: Path
    subject: str
    author: Identity
    message: str
    trailers: tuple[Trailer, ...]
    diff: str
    files: tuple[FileChange, ...]
    raw: bytes

    def values(self, key: str) -> list[str]:
        return [t.value for t in self.trailers if t.key.lower() == key.lower()]

    def value(self, key: str) -> str | None:
        found = self.values(key)
        return found[-1] if found else None

    def listed(self, key: str) -> list[str]:
        return [item for v in self.values(key) for item in re.split(r"[,\s]+", v) if item]

    @property
    def overlay(self) -> tuple[str, ...]:
        return tuple(self.values("Quicken-Overlay"))

    @property
    def targets(self) -> list[str]:
        return self.listed("Quicken-Targets")

    @property
    def tests(self) -> list[str]:
        return self.listed("Quicken-Tests")

    @property
    def upstream(self) -> str | None:
        return self.value("Quicken-Upstream")

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.raw).hexdigest()


@dataclass(frozen=True)
class Series:
    patches: tuple[Patch, ...]
    owner: dict[str, str] = field(default_factory=dict)  # overlay path -> patch name
    digest: str = ""

    def patch(self, name: str) -> Patch:
        """A patch by file name, stem, or number (``0007``, the file name's leading digits)."""
        for p in self.patches:
            if p.name == name or p.name == f"{name}.patch" or p.path.stem == name:
                return p
        if name.isdigit():
            numbered = [p for p in self.patches if p.name.split("-", 1)[0] == name]
            if len(numbered) == 1:
                return numbered[0]
        raise SeriesError(
            f"no patch {name!r} in the series",
            "known: " + ", ".join(p.name for p in self.patches) if self.patches else None,
        )

    def overlay_of(self, patch: Patch) -> list[str]:
        return sorted(path for path, owner in self.owner.items() if owner == patch.name)


def check_path(path: str, where: str) -> None:
    """Refuse absolute paths, escapes from the tree and anything in .git."""
    if not path:
        raise SeriesError(f"{where}: empty path")
    if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path):
        raise SeriesError(f"{where}: absolute path {path!r} not allowed")
    parts = PurePosixPath(path).parts
    if ".." in parts or "\\" in path:
        raise SeriesError(f"{where}: path {path!r} escapes the source tree")
    if any(part == ".git" for part in parts):
        raise SeriesError(f"{where}: path {path!r} touches .git")


def parse_patch(path: Path, name: str | None = None) -> Patch:
    raw = path.read_bytes()
    rel = name or path.name
    where = str(path)
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise SeriesError(f"{where}:{line}: not UTF-8 text") from None
    lines = text.splitlines(keepends=True)
    start = 1 if lines and lines[0].startswith("From ") else 0
    head_end = start
    while head_end < len(lines) and lines[head_end].strip():
        head_end += 1
    headers = email.parser.HeaderParser(policy=email.policy.default).parsestr("".join(lines[start:head_end]))
    for key in ("From", "Date", "Subject"):
        if headers.get(key) is None:
            raise SeriesError(
                f"{where}:{start + 1}: not a git format-patch mail (no {key}: header)",
                "create it with git format-patch, or quicken refresh",
            )
    author_name, author_email = email.utils.parseaddr(str(headers["From"]))
    if not author_email:
        raise SeriesError(f"{where}:{start + 1}: From: header has no e-mail address")
    subject = _SUBJECT_PREFIX.sub("", " ".join(str(headers["Subject"]).split()))
    if not subject:
        raise SeriesError(f"{where}:{start + 1}: empty Subject:")
    date = str(headers["Date"]).strip()
    if email.utils.parsedate_tz(date) is None:
        raise SeriesError(f"{where}:{start + 1}: unreadable Date: {date!r}")

    body_start = head_end + 1
    diff_start = next(
        (i for i in range(body_start, len(lines)) if lines[i].startswith("diff --git ")), len(lines)
    )
    sep = next((i for i in range(body_start, diff_start) if lines[i].rstrip("\n") == "---"), diff_start)
    body_lines = [ln.rstrip() for ln in lines[body_start:sep]]
    while body_lines and not body_lines[-1]:
        body_lines.pop()
    while body_lines and not body_lines[0]:
        body_lines.pop(0)
    trailers = parse_trailers(lines, body_start, sep)
    message = subject + ("\n\n" + "\n".join(body_lines) if body_lines else "") + "\n"

    diff_lines = lines[diff_start:]
    # Drop git's signature ("-- " then a version line) after the last hunk.
    for i in range(len(diff_lines) - 1, -1, -1):
        if diff_lines[i].rstrip("\n") == "-- ":
            diff_lines = diff_lines[:i]
            break
    diff = "".join(diff_lines)
    files = _file_changes(path, diff, diff_start + 1)
    who = Identity(author_name or author_email, author_email, date)
    return Patch(rel, path, subject, who, message, tuple(trailers), diff, tuple(files), raw)


def parse_trailers(lines: list[str], start: int, end: int) -> list[Trailer]:
    """Trailers are the last paragraph of the message, if it is all ``Key: value``."""
    j = end - 1
    while j >= start and not lines[j].strip():
        j -= 1
    para_end = j
    while j >= start and lines[j].strip():
        j -= 1
    para = range(j + 1, para_end + 1)
    found: list[Trailer] = []
    for i in para:
        line = lines[i].rstrip()
        if line[:1].isspace() and found:
            last = found[-1]
            found[-1] = Trailer(last.key, f"{last.value} {line.strip()}", last.line)
            continue
        m = _TRAILER.match(line)
        if not m:
            return []
        found.append(Trailer(m.group(1), m.group(2).strip(), i + 1))
    return found


def _file_changes(path: Path, diff: str, first_line: int) -> list[FileChange]:
    headers = [
        (first_line + i, line) for i, line in enumerate(diff.splitlines()) if line.startswith("diff --git ")
    ]
    try:
        patchset = unidiff.PatchSet(diff)
    except unidiff.UnidiffParseError as exc:
        reason = str(exc).strip()  # unidiff ends some messages with the offending line's newline
        raise SeriesError(f"{path}:{_locate(diff, reason, first_line)}: malformed diff: {reason}") from None
    if len(patchset) != len(headers):
        raise SeriesError(
            f"{path}:{first_line}: malformed diff: {len(headers)} file headers, {len(patchset)} parsed"
        )
    changes: list[FileChange] = []
    for (line, header), pf in zip(headers, patchset, strict=True):
        m = re.match(r"^diff --git a/(\S+) b/(\S+)$", header)
        if not m:
            raise SeriesError(f"{path}:{line}: unreadable diff header {header!r}")
        for p in {m.group(1), m.group(2)}:
            check_path(p, f"{path}:{line}")
        for p in (pf.source_file, pf.target_file):
            if p and p != "/dev/null":
                check_path(p.split("/", 1)[1] if p.startswith(("a/", "b/")) else p, f"{path}:{line}")
        if m.group(1) != m.group(2):
            raise SeriesError(f"{path}:{line}: renames are not supported ({m.group(1)} -> {m.group(2)})")
        changes.append(FileChange(m.group(2), line, pf.is_added_file, pf.is_removed_file))
    return changes


def _locate(diff: str, message: str, first_line: int) -> int:
    m = re.search(r": (.*)$", message)
    needle = m.group(1).strip() if m else ""
    if needle:
        for i, line in enumerate(diff.splitlines()):
            if line.strip() == needle or (needle in line and len(needle) > 3):
                return first_line + i
    return first_line


def read_series_file(cfg: Config) -> list[tuple[str, int]]:
    series = cfg.patches / "series"
    if not series.is_file():
        raise SeriesError(f"{series}: not found", "create it (one patch file name per line)")
    entries: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    for no, raw in enumerate(series.read_text(encoding="utf-8").splitlines(), 1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, *opts = line.split()
        if opts and opts != ["-p1"]:
            raise SeriesError(f"{series}:{no}: unsupported options {' '.join(opts)} (only -p1)")
        check_path(name, f"{series}:{no}")
        if "/" in name:
            raise SeriesError(f"{series}:{no}: {name}: patches must sit directly in {cfg.patches}")
        if name in seen:
            raise SeriesError(f"{series}:{no}: {name} already listed at line {seen[name]}")
        if not (cfg.patches / name).is_file():
            raise SeriesError(f"{series}:{no}: {name}: no such file in {cfg.patches}")
        seen[name] = no
        entries.append((name, no))
    return entries


def overlay_files(cfg: Config) -> list[str]:
    if not cfg.overlay.is_dir():
        return []
    return sorted(
        p.relative_to(cfg.overlay).as_posix() for p in cfg.overlay.rglob("*") if p.is_file() or p.is_symlink()
    )


def load(cfg: Config) -> Series:
    """Parse and check the whole series; raise on the first problem."""
    entries = read_series_file(cfg)
    listed = {name for name, _ in entries}
    for candidate in sorted(cfg.patches.iterdir()) if cfg.patches.is_dir() else []:
        if candidate.suffix in PATCH_SUFFIXES and candidate.name not in listed:
            raise SeriesError(
                f"{candidate}: not listed in {cfg.patches / 'series'}",
                "add it to the series or delete the file",
            )
    patches = [parse_patch(cfg.patches / name, name) for name, _ in entries]
    on_disk = overlay_files(cfg)
    owner: dict[str, str] = {}
    owner_line: dict[str, str] = {}
    for patch in patches:
        for trailer in patch.trailers:
            if trailer.key.lower() != "quicken-overlay":
                continue
            where = f"{patch.path}:{trailer.line}"
            rel = trailer.value
            check_path(rel, where)
            if rel in owner and owner[rel] == patch.name:
                raise SeriesError(f"{where}: Quicken-Overlay: {rel} is listed twice (also at line "
                                  f"{owner_line[rel].rsplit(':', 1)[1]})", "remove one of the two trailers")
            if rel in owner:
                raise SeriesError(
                    f"{cfg.overlay / rel}: owned by two patches ({owner_line[rel]} and {where})",
                    "an overlay file belongs to exactly one patch",
                )
            if rel not in on_disk:
                raise SeriesError(f"{where}: Quicken-Overlay: {rel}: no such file in {cfg.overlay}")
            if cfg.is_generated(rel):
                raise SeriesError(f"{where}: overlay file {rel} is a generated file")
            owner[rel] = patch.name
            owner_line[rel] = where
        for change in patch.files:
            if cfg.is_generated(change.path):
                raise SeriesError(
                    f"{patch.path}:{change.line}: {change.path} is generated: "
                    "regenerated on apply — remove it from the patch"
                )
        if not patch.files and not patch.overlay:
            raise SeriesError(f"{patch.path}: empty patch (no diff and no overlay files)")
    for patch in patches:
        for change in patch.files:
            if change.path in owner:
                raise SeriesError(
                    f"{patch.path}:{change.line}: {change.path} is an overlay file "
                    f"(owned by {owner[change.path]})",
                    f"edit {cfg.overlay / change.path} instead of diffing it",
                )
    for rel in on_disk:
        check_path(rel, str(cfg.overlay / rel))
        if rel not in owner:
            raise SeriesError(
                f"{cfg.overlay / rel}: owned by no patch",
                f"add 'Quicken-Overlay: {rel}' to the trailers of the patch that adds it",
            )
    return Series(tuple(patches), owner, _digest(cfg, patches, on_disk))


def _digest(cfg: Config, patches: list[Patch], overlay: list[str]) -> str:
    h = hashlib.sha256()
    h.update(f"engine {ENGINE_VERSION}\npin {cfg.pin.version} {cfg.pin.sha256}\n".encode())
    for rule in cfg.regen:
        h.update(repr(rule).encode())
    for patch in patches:
        h.update(f"patch {patch.name} {patch.digest}\n".encode())
    for rel in overlay:
        h.update(f"overlay {rel} ".encode())
        h.update(hashlib.sha256((cfg.overlay / rel).read_bytes()).digest())
    return h.hexdigest()
