"""Stage 2: read and check the patch series before anything is touched.

``patches/series`` lists the patches in order (quilt's format: one file name a
line, ``#`` comments, an optional ``-p1``).  Each patch is a git format-patch
mail: From/Date/Subject headers, a message whose last paragraph holds the
trailers, ``---``, a diffstat and the diff.  The trailers Quicken reads:

``Quicken-Overlay: PATH``      (repeatable) a file under cpython_overlay/ owned by this patch
``Quicken-Upstream: gh-N``     the upstream issue
``Quicken-Targets: a, b``      target benchmarks
``Quicken-Scope: loop``        a whole-loop change (no target benchmark): validate judges the suite
``Quicken-Scope: layout``      a whole-loop change of code placement only: judged on the suite's
                               wall time; its instruction counts need only not grow
``Quicken-Expected: TEXT``     the expected effect
``Quicken-Tests: t1 t2``       CPython tests to run for this patch
``Quicken-Magic: bumped|unchanged``  whether the patch changes the .pyc magic number
``Quicken-Threshold: 15%``     per-patch override of the validation threshold
``Quicken-Family: F1 F2``      the specialization families (validate's pystats rule)

The gates' records are bound to a patch's *code* (:attr:`Patch.code_digest`):
its diff and the trailers that change what the gates run or how they judge
(:data:`GATE_TRAILERS`).  Rewording the message or adding ``Quicken-Upstream:``
or ``Quicken-Expected:`` leaves the records valid.

Every value is checked when the mail is read.  A mail is read the way ``git
am`` reads it: a mail whose header lines end in CRLF has the CR of every line
end stripped, and the message is decoded from the charset its Content-Type
names (UTF-8 when none).  Paths in diff headers may be quoted with C-style
escapes, as git writes them.  Every diff is parsed with unidiff.  Refusals
name the file and line.
"""

from __future__ import annotations

import codecs
import dataclasses
import email.parser
import email.policy
import email.utils
import hashlib
import os
import re
import stat
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
_HUNK = re.compile(r"^@@ -\d+(?:,(\d+))? \+\d+(?:,(\d+))? @@")
_CHARSET = re.compile(rb"^content-type:.*?charset=\"?([A-Za-z0-9_.:-]+)", re.I | re.M)
_TRANSFER = re.compile(rb"^content-transfer-encoding:\s*(\S+)", re.I | re.M)
_THRESHOLD = re.compile(r"\s*(\d+(?:\.\d+)?)\s*%\s*")
UPSTREAM_ISSUE = re.compile(r"^(?:gh-|GH-|#|https://github\.com/python/cpython/issues/)?(\d+)$")
MAGIC_VALUES = ("bumped", "unchanged")
#: ``Quicken-Scope`` values: ``loop`` is a change to the whole interpreter loop (a compiler hint,
#: a dispatch change), judged on the whole suite; ``layout`` is one that changes only where the
#: compiler puts the loop's code (block partitioning, section order), judged like ``loop`` except
#: that its instruction counts need only not grow; without the trailer a patch names its targets.
SCOPE_VALUES = ("loop", "layout")
#: Trailers that change what validate/verify run or how they judge (part of a record's binding).
GATE_TRAILERS = ("Quicken-Targets", "Quicken-Tests", "Quicken-Threshold", "Quicken-Family", "Quicken-Overlay",
                 "Quicken-Scope")
_C_ESCAPES = {"a": 7, "b": 8, "t": 9, "n": 10, "v": 11, "f": 12, "r": 13, '"': 34, "\\": 92}


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
        return tuple(overlay_path(v) or v for v in self.values("Quicken-Overlay"))

    @property
    def targets(self) -> list[str]:
        return self.listed("Quicken-Targets")

    @property
    def scope(self) -> str:
        """The ``Quicken-Scope`` value (one of :data:`SCOPE_VALUES`), or "" for a targeted patch."""
        return (self.value("Quicken-Scope") or "").strip()

    @property
    def whole_loop(self) -> bool:
        """``Quicken-Scope: loop`` or ``layout``: judged on the suite as a whole, not on targets."""
        return self.scope in SCOPE_VALUES

    @property
    def placement(self) -> bool:
        """``Quicken-Scope: layout``: a placement change, whose instruction counts need only not grow."""
        return self.scope == "layout"

    @property
    def tests(self) -> list[str]:
        return self.listed("Quicken-Tests")

    @property
    def upstream(self) -> str | None:
        return self.value("Quicken-Upstream")

    @property
    def threshold(self) -> float | None:
        """``Quicken-Threshold`` as a fraction, or None (checked when the mail was read)."""
        declared = self.value("Quicken-Threshold")
        return None if declared is None else threshold_value(declared, str(self.path))

    @property
    def digest(self) -> str:
        """sha256 of the whole mail."""
        return hashlib.sha256(self.raw).hexdigest()

    @property
    def code_digest(self) -> str:
        """sha256 of what the gates judge: the diff and the :data:`GATE_TRAILERS`, in order."""
        h = hashlib.sha256()
        for key in GATE_TRAILERS:
            for value in self.values(key):
                h.update(f"{key}: {value}\n".encode())
        h.update(b"\0")
        h.update(self.diff.encode("utf-8", "surrogateescape"))
        return h.hexdigest()


@dataclass(frozen=True)
class Series:
    patches: tuple[Patch, ...]
    owner: dict[str, str] = field(default_factory=dict)  # overlay path -> patch name
    digest: str = ""

    def patch(self, name: str) -> Patch:
        """A patch by file name, stem, or number (``0007``, the file name's leading digits)."""
        found = match_patch([p.name for p in self.patches], name)
        if found is not None:
            return next(p for p in self.patches if p.name == found)
        raise SeriesError(
            f"no patch {name!r} in the series",
            "known: " + ", ".join(p.name for p in self.patches) if self.patches else None,
        )

    def overlay_of(self, patch: Patch) -> list[str]:
        return sorted(path for path, owner in self.owner.items() if owner == patch.name)


def match_patch(names: list[str], name: str) -> str | None:
    """Which of the patch files ``names`` ``name`` means: a file name, a stem or a number (``0007``)."""
    for candidate in names:
        if name in (candidate, PurePosixPath(candidate).stem) or candidate == f"{name}.patch":
            return candidate
    if name.isdigit():
        numbered = [c for c in names if c.split("-", 1)[0] == name]
        if len(numbered) == 1:
            return numbered[0]
    return None


@dataclass(frozen=True)
class Inputs:
    """Where a series lives: its patches directory and its overlay directory."""

    patches: Path
    overlay: Path

    @classmethod
    def of(cls, cfg: Config) -> Inputs:
        return cls(cfg.patches, cfg.overlay)


_PATH_HINT = "paths in a patch are relative to the CPython source root (a/…, b/…)"


def check_path(path: str, where: str) -> None:
    """Refuse absolute paths, escapes from the tree and anything in .git."""
    if not path:
        raise SeriesError(f"{where}: empty path", _PATH_HINT)
    if path.startswith("/") or re.match(r"^[A-Za-z]:[\\/]", path):
        raise SeriesError(f"{where}: absolute path {path!r} not allowed", _PATH_HINT)
    parts = PurePosixPath(path).parts
    if ".." in parts or ".." in re.split(r"[\\/]", path):
        raise SeriesError(f"{where}: path {path!r} escapes the source tree", _PATH_HINT)
    if any(part == ".git" for part in parts):
        raise SeriesError(f"{where}: path {path!r} touches .git", "a patch may not change git's own files")


def check_trailers(trailers: list[Trailer], where: str) -> None:
    """Refuse trailer values Quicken could not use later (checked on read, not after measuring)."""
    for t in trailers:
        key, at = t.key.lower(), f"{where}:{t.line}"
        if key == "quicken-threshold":
            threshold_value(t.value, at)
        elif key == "quicken-magic" and t.value.strip() not in MAGIC_VALUES:
            raise SeriesError(f"{at}: Quicken-Magic: {t.value!r} is neither {' nor '.join(MAGIC_VALUES)}",
                              "write Quicken-Magic: bumped or Quicken-Magic: unchanged")
        elif key == "quicken-scope" and t.value.strip() not in SCOPE_VALUES:
            raise SeriesError(f"{at}: Quicken-Scope: {t.value!r} is not {' or '.join(SCOPE_VALUES)}",
                              "write Quicken-Scope: loop for a whole-loop change (layout for a "
                              "placement-only one), or name its Quicken-Targets instead")
        elif key == "quicken-upstream" and not UPSTREAM_ISSUE.match(t.value.strip()):
            raise SeriesError(f"{at}: Quicken-Upstream: {t.value!r} is not an issue (gh-N)",
                              "write Quicken-Upstream: gh-12345")
        elif key == "quicken-overlay":
            rel = overlay_path(t.value)
            if rel is None:
                raise SeriesError(f"{at}: Quicken-Overlay: {t.value!r} is an unreadable quoted path",
                                  "quote a path as git does: \"Lib/tr ail \" (C escapes inside)")
            check_path(rel, at)
    scoped = [t for t in trailers if t.key.lower() == "quicken-scope"]
    named = [t for t in trailers if t.key.lower() == "quicken-targets"]
    if scoped and named:
        raise SeriesError(f"{where}:{named[0].line}: Quicken-Targets on a Quicken-Scope patch (line "
                          f"{scoped[0].line}): a whole-loop change is judged on the whole suite",
                          "remove Quicken-Targets, or Quicken-Scope if the patch has target benchmarks")


def threshold_value(value: str, where: str) -> float:
    """``Quicken-Threshold: 15%`` as a fraction (0.15); 0 % <= value < 100 %."""
    m = _THRESHOLD.fullmatch(value)
    if not m:
        raise SeriesError(f"{where}: Quicken-Threshold: {value!r} is not a percentage like 15%",
                          "write Quicken-Threshold: 15%")
    fraction = float(m.group(1)) / 100
    if not fraction < 1:
        raise SeriesError(f"{where}: Quicken-Threshold: {value!r} must be below 100%",
                          "a target cannot get faster by 100% or more; write e.g. 15%")
    return fraction


def decode_mail(raw: bytes, where: str) -> str:
    """The mail as ``git am`` reads it: CRLF line ends stripped, the message in its charset.

    A mail whose header lines end in CRLF was converted as a whole (an editor,
    a mail client): every line end loses its CR.  A mail with LF headers keeps
    carriage returns inside its diff, where they are a CRLF file's content.
    The headers and message are decoded from the charset of the Content-Type
    header (UTF-8 when none is declared); the diff must be UTF-8.
    """
    head = raw.split(b"\n\n", 1)[0]
    if b"\r\n" in head and head.count(b"\r\n") >= head.count(b"\n") - 1:
        raw = raw.replace(b"\r\n", b"\n")
    transfer = _TRANSFER.search(raw.split(b"\n\n", 1)[0])
    if transfer and transfer.group(1).lower() not in (b"7bit", b"8bit", b"binary"):
        encoding = transfer.group(1).decode("ascii", "replace")
        raise SeriesError(f"{where}:1: Content-Transfer-Encoding {encoding} is not supported",
                          "write the mail with git format-patch (8bit)")
    m = _CHARSET.search(raw.split(b"\n\n", 1)[0])
    charset = m.group(1).decode("ascii").lower() if m else "utf-8"
    try:
        codec = codecs.lookup(charset).name
    except LookupError:
        raise SeriesError(f"{where}:1: unknown charset {charset!r} in Content-Type",
                          "re-encode the mail in UTF-8 (charset=UTF-8)") from None
    diff_at = raw.find(b"\ndiff --git ") + 1 or len(raw)
    parts = ((raw[:diff_at], codec, 0), (raw[diff_at:], "utf-8", diff_at))
    text = []
    for chunk, encoding, offset in parts:
        try:
            text.append(chunk.decode(encoding))
        except UnicodeDecodeError as exc:
            line = raw[: offset + exc.start].count(b"\n") + 1
            what = "not UTF-8 text" if encoding == "utf-8" else f"not {charset} text"
            raise SeriesError(f"{where}:{line}: {what}",
                              "declare the mail's charset in a Content-Type header, or re-encode it "
                              "in UTF-8 (a diff must be UTF-8)") from None
    return "".join(text)


def split_lines(text: str) -> list[str]:
    """Lines with their ends, split at LF only (C sources hold form feeds, which splitlines splits at)."""
    parts = text.split("\n")
    return [part + "\n" for part in parts[:-1]] + ([parts[-1]] if parts[-1] else [])


def parse_patch(path: Path, name: str | None = None) -> Patch:
    rel = name or path.name
    where = str(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise SeriesError(f"{where}: {exc.strerror}", "a patch is a git format-patch mail file") from None
    lines = split_lines(decode_mail(raw, where))
    start = 1 if lines and lines[0].startswith("From ") else 0
    head_end = start
    while head_end < len(lines) and lines[head_end].strip():
        head_end += 1
    headers = email.parser.HeaderParser(policy=email.policy.default).parsestr("".join(lines[start:head_end]))
    try:
        found = {key: headers.get(key) for key in ("From", "Date", "Subject")}
    except (ValueError, TypeError, IndexError, AttributeError) as exc:  # the email package on odd headers
        raise SeriesError(f"{where}:{start + 1}: unreadable mail header ({exc})",
                          "create it with git format-patch, or quicken refresh") from None
    for key, value in found.items():
        if value is None:
            raise SeriesError(
                f"{where}:{start + 1}: not a git format-patch mail (no {key}: header)",
                "create it with git format-patch, or quicken refresh",
            )
    author_name, author_email = email.utils.parseaddr(str(found["From"]))
    if not author_email:
        raise SeriesError(f"{where}:{start + 1}: From: header has no e-mail address",
                          "write From: Name <address>")
    subject = _SUBJECT_PREFIX.sub("", " ".join(str(found["Subject"]).split()))
    if not subject:
        raise SeriesError(f"{where}:{start + 1}: empty Subject:", "give the patch a one-line subject")
    date = str(found["Date"]).strip()
    if email.utils.parsedate_tz(date) is None:
        raise SeriesError(f"{where}:{start + 1}: unreadable Date: {date!r}",
                          "write an RFC 2822 date: Thu, 1 Jan 2026 12:00:00 +0000")

    body_start = head_end + 1
    diff_start = next(
        (i for i in range(body_start, len(lines)) if lines[i].startswith("diff --git ")), len(lines)
    )
    sep = next((i for i in range(body_start, diff_start) if lines[i].rstrip("\n") == "---"), diff_start)
    _refuse_plain_diff(lines, body_start, diff_start, where)
    body_lines = [ln.rstrip() for ln in lines[body_start:sep]]
    while body_lines and not body_lines[-1]:
        body_lines.pop()
    while body_lines and not body_lines[0]:
        body_lines.pop(0)
    trailers = parse_trailers(lines, body_start, sep)
    check_trailers(trailers, where)
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


def _refuse_plain_diff(lines: list[str], start: int, end: int, where: str) -> None:
    """A diff without ``diff --git`` headers (``diff -u``, ``quilt``) is refused by its paths first."""
    for i in range(start, end - 1):
        if lines[i].startswith("--- ") and lines[i + 1].startswith("+++ "):
            for line in (lines[i], lines[i + 1]):
                name = line[4:].rstrip("\n").split("\t", 1)[0]
                if name != "/dev/null":
                    check_path(name[2:] if name.startswith(("a/", "b/")) else name, f"{where}:{i + 1}")
            raise SeriesError(f"{where}:{i + 1}: a plain diff, not a git diff (no 'diff --git' header)",
                              "make the patch with git format-patch (or git diff)")


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


def unquote_path(name: str) -> str | None:
    """A path as git writes it: ``"a/\\303\\251 x"`` (C-style quoted, octal UTF-8 bytes) or bare."""
    if not name.startswith('"'):
        return name
    if len(name) < 2 or not name.endswith('"'):
        return None
    out = bytearray()
    body = name[1:-1]
    i = 0
    while i < len(body):
        ch = body[i]
        if ch == '"':
            return None
        if ch != "\\":
            out += ch.encode("utf-8", "surrogateescape")
            i += 1
            continue
        esc = body[i + 1 : i + 2]
        if esc in _C_ESCAPES:
            out.append(_C_ESCAPES[esc])
            i += 2
        elif re.fullmatch(r"[0-3][0-7][0-7]", body[i + 1 : i + 4]):
            out.append(int(body[i + 1 : i + 4], 8))
            i += 4
        else:
            return None
    try:
        return out.decode("utf-8")
    except UnicodeDecodeError:
        return None


def quote_path(path: str) -> str:
    """``path`` as git quotes it where needed (and, for a trailer, where it starts or ends in a space)."""
    raw = path.encode("utf-8", "surrogateescape")
    reverse = {v: k for k, v in _C_ESCAPES.items()}
    if not any(b < 32 or b == 127 or b in (34, 92) for b in raw) and path == path.strip() and path:
        return path
    out = []
    for b in raw:
        if b in reverse:
            out.append("\\" + reverse[b])
        elif b < 32 or b == 127:
            out.append(f"\\{b:03o}")
        else:
            out.append(chr(b))
    return '"' + bytes("".join(out), "latin-1").decode("utf-8", "surrogateescape") + '"'


def overlay_path(value: str) -> str | None:
    """The path of a ``Quicken-Overlay:`` value, which is quoted when it needs to be (see quote_path)."""
    return unquote_path(value.strip())


def file_path(pf: unidiff.PatchedFile) -> str:
    """The path of one of unidiff's files, unquoted (unidiff keeps git's C-style quotes)."""
    return unquote_path(pf.path) or pf.path


def diff_paths(diff: str) -> list[str]:
    """The paths a git diff changes, from its ``diff --git`` headers (quoted or not)."""
    found = (diff_header_paths(line) for line in diff.split("\n") if line.startswith("diff --git "))
    return [names[1] for names in found if names is not None]


def _quoted_token(text: str) -> tuple[str, str] | None:
    """The leading C-quoted token of ``text`` and the rest."""
    i = 1
    while i < len(text):
        if text[i] == "\\":
            i += 2
            continue
        if text[i] == '"':
            return text[: i + 1], text[i + 1 :]
        i += 1
    return None


def diff_header_paths(header: str) -> tuple[str, str] | None:
    """The old and new path (without a/ and b/) of a ``diff --git`` header line."""
    rest = header[len("diff --git ") :].rstrip("\n")
    if rest.startswith('"'):
        token = _quoted_token(rest)
        if token is None or not token[1].startswith(" "):
            return None
        first, second = token[0], token[1][1:]
    elif '"' in rest:
        first, _, second = rest.partition(' "')
        second = '"' + second
    else:
        # Unquoted names may hold spaces: "a/NAME b/NAME" splits where both halves name the same
        # file; two different names (a rename) split at their only " b/".
        half = len(rest) // 2
        if len(rest) % 2 and rest[half] == " " and rest[:half][2:] == rest[half + 1 :][2:]:
            first, second = rest[:half], rest[half + 1 :]
        elif rest.count(" b/") == 1:
            first, _, second = rest.partition(" b/")
            second = "b/" + second
        else:
            return None
    old, new = unquote_path(first), unquote_path(second)
    if old is None or new is None or not old.startswith("a/") or not new.startswith("b/"):
        return None
    return old[2:], new[2:]


def _marker_path(line: str) -> str | None:
    """The path of a ``---``/``+++`` line: unquoted, without git's trailing tab, a/ or b/ stripped."""
    name = line[4:].rstrip("\n")
    if not name.startswith('"') and "\t" in name:
        name = name.split("\t", 1)[0]
    path = unquote_path(name.rstrip("\t") if name.startswith('"') else name)
    if path is None or path == "/dev/null":
        return path
    return path[2:] if path.startswith(("a/", "b/")) else path


def _check_hunks(path: Path, lines: list[str], first_line: int) -> None:
    """Every hunk holds as many lines as its header says; a short one is reported at its header."""
    if lines and lines[-1] == "":
        lines = lines[:-1]  # the end of the text, not an empty line
    i = 0
    while i < len(lines):
        m = _HUNK.match(lines[i])
        if not m:
            i += 1
            continue
        at = i
        old = int(m.group(1)) if m.group(1) is not None else 1
        new = int(m.group(2)) if m.group(2) is not None else 1
        i += 1
        while old > 0 or new > 0:
            kind = lines[i][:1] if i < len(lines) else None
            if kind == "\\":
                i += 1
                continue
            ended = kind is None or lines[i].startswith(("diff --git ", "@@ "))
            if kind not in (" ", "-", "+", "") and not ended:
                return  # a stray line inside the hunk: unidiff names it
            if ended:
                raise SeriesError(
                    f"{path}:{first_line + at}: malformed diff: hunk {m.group(0)} is shorter than its "
                    f"header says (ends at line {first_line + i})",
                    "the patch is truncated or was edited by hand; recreate it (quicken refresh)",
                )
            old -= kind in (" ", "-", "")
            new -= kind in (" ", "+", "")
            i += 1
            if old < 0 or new < 0:
                raise SeriesError(f"{path}:{first_line + at}: malformed diff: hunk {m.group(0)} is longer "
                                  "than its header says",
                                  "the patch was edited by hand; recreate it (quicken refresh)")


def _file_changes(path: Path, diff: str, first_line: int) -> list[FileChange]:
    diff_lines = diff.split("\n")
    headers = [(first_line + i, line) for i, line in enumerate(diff_lines) if line.startswith("diff --git ")]
    _check_hunks(path, diff_lines, first_line)
    try:
        patchset = unidiff.PatchSet(diff)
    except unidiff.UnidiffParseError as exc:
        reason = str(exc).strip()  # unidiff ends some messages with the offending line's newline
        raise SeriesError(f"{path}:{_locate(diff, reason, first_line)}: malformed diff: {reason}",
                          "recreate the patch with git format-patch (or quicken refresh)") from None
    if len(patchset) != len(headers):
        raise SeriesError(
            f"{path}:{first_line}: malformed diff: {len(headers)} file headers, {len(patchset)} parsed",
            "recreate the patch with git format-patch (or quicken refresh)",
        )
    changes: list[FileChange] = []
    for (line, header), pf in zip(headers, patchset, strict=True):
        names = diff_header_paths(header)
        if names is None:
            raise SeriesError(f"{path}:{line}: unreadable diff header {header!r}",
                              "recreate the patch with git format-patch (or quicken refresh)")
        for p in set(names):
            check_path(p, f"{path}:{line}")
        for marker in (pf.source_file, pf.target_file):
            marked = _marker_path("--- " + marker) if marker else None
            if marked is not None and marked != "/dev/null":
                check_path(marked, f"{path}:{line}")
        if names[0] != names[1]:
            raise SeriesError(f"{path}:{line}: renames are not supported ({names[0]} -> {names[1]})",
                              "make the rename a removal and an addition (git format-patch --no-renames)")
        changes.append(FileChange(names[1], line, pf.is_added_file, pf.is_removed_file))
    return changes


def _locate(diff: str, message: str, first_line: int) -> int:
    m = re.search(r": (.*)$", message)
    needle = m.group(1).strip() if m else ""
    if needle:
        for i, line in enumerate(diff.split("\n")):
            if line.strip() == needle or (needle in line and len(needle) > 3):
                return first_line + i
    return first_line


def read_series_file(cfg: Config) -> list[tuple[str, int]]:
    series = cfg.patches / "series"
    if not series.is_file():
        raise SeriesError(f"{series}: not found", "create it (one patch file name per line)")
    entries: list[tuple[str, int]] = []
    seen: dict[str, int] = {}
    data = series.read_bytes()
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = data[: exc.start].count(b"\n") + 1
        raise SeriesError(f"{series}:{line}: not UTF-8 text",
                          "the series lists patch file names, one a line") from None
    for no, raw in enumerate(text.split("\n"), 1):
        entry = raw.split("#", 1)[0].strip()
        if not entry:
            continue
        name, *opts = entry.split()
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
    """Every file under the overlay; each must be a regular file (no symlink, device or fifo)."""
    if not cfg.overlay.is_dir():
        return []
    found: list[str] = []
    for top, dirs, files in os.walk(cfg.overlay):
        for entry in (*dirs, *files):
            check_overlay_file(cfg.overlay, (Path(top) / entry).relative_to(cfg.overlay).as_posix(),
                               directory=entry in dirs)
        found += [(Path(top) / f).relative_to(cfg.overlay).as_posix() for f in files]
    return sorted(found)


def check_overlay_file(overlay: Path, rel: str, directory: bool = False) -> None:
    """Refuse an entry of the overlay ``overlay`` that is not a regular file (or directory) inside it."""
    path = overlay / rel
    try:
        mode = path.lstat().st_mode
    except OSError as exc:
        raise SeriesError(f"{path}: {exc.strerror}",
                          "restore the file, or drop its Quicken-Overlay trailer") from None
    if stat.S_ISLNK(mode):
        raise SeriesError(f"{path}: a symlink (to {os.readlink(path)}); overlay files must be regular files "
                          "inside the overlay", "replace the link with a copy of the file")
    if not (stat.S_ISDIR(mode) if directory else stat.S_ISREG(mode)):
        raise SeriesError(f"{path}: not a regular file; overlay files must be regular files",
                          "remove it from the overlay")


def load(cfg: Config, inputs: Inputs | None = None) -> Series:
    """Parse and check the whole series (in ``inputs``, default the project's); raise on the first problem."""
    if inputs is not None:
        cfg = dataclasses.replace(cfg, patches=inputs.patches, overlay=inputs.overlay)
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
            rel = overlay_path(trailer.value) or trailer.value
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
