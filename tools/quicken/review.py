"""``quicken review PATCH``: a maintainer's report on one patch.

Markdown (stdout, or ``-o FILE``); with ``--html`` also a self-contained HTML
page (``FILE`` with suffix ``.html``, default ``results/review-<stem>.html``)
embedding the ratios plot of the validation results as base64 (the run's
``ratios.png`` if it is still there, else a new plot from the record).

Sections: metadata (header and trailers); diffstat and per-file hunks of the
full change (the work tree's commit of the patch against the previous one:
patch diff, overlay files and regenerated files); the C functions touched
(hunk section headers, and functions defined in added lines); the
interpreter-level change (instructions added/removed from
``Lib/_opcode_metadata.py`` or ``Include/opcode_ids.h``, families touched,
inline-cache sizes from ``_PyOpcode_Caches`` in ``pycore_opcode_metadata.h``,
whether the magic number had to change and did); the checks; the validation
verdict, numbers and the pystats delta of the declared families; the interdiff
against the previously exported mail (``exported/<patch>`` or ``--exported DIR``).

The checks (each ``pass``, ``warn`` or ``fail``; a failure says why and where, ``file:line``):

* ``applies``: the patch's diff applies to its parent commit (``git apply --check``);
* ``no generated files``: the patch carries no file a ``[[regen]]`` rule writes;
* ``overlay ownership``: every ``Quicken-Overlay:`` file exists, is owned by
  this patch only and is not generated; the diff touches no overlay file;
  a file added by the diff (not the overlay) is a warning;
* ``tests``: a file under ``Lib/test/`` is added or changed (overlay or diff);
* ``C style`` (added lines of ``.c``/``.h`` files, overlay files whole): no tabs,
  no trailing whitespace, at most 79 columns, ``if``/``for``/``while``/``else``
  bodies in braces (a condition closing on its line must end with ``{``;
  no one-line bodies);
* ``footprint``: lines changed in upstream files (the diff, without overlay,
  generated, ``Lib/test/`` and NEWS files); a warning above
  :data:`FOOTPRINT_LIMIT` lines;
* ``magic number``: when an inline-cache size or an unspecialized opcode's number
  changes, ``MAGIC_NUMBER`` in ``Lib/importlib/_bootstrap_external.py`` must
  change; a ``Quicken-Magic:`` trailer must say what happened;
* ``validation``: the record is fresh and passed.
* ``verification``: ``quicken verify``'s record is fresh and passed (behaves like stock).

The exit status is 1 when a check fails, 0 otherwise.
"""

from __future__ import annotations

import ast
import base64
import difflib
import html
import re
import tempfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import unidiff

from . import compare, export, records, validate, verify
from .config import Config
from .errors import QuickenError, SeriesError
from .gitutil import Git
from .series import Patch, Series, file_path, overlay_path, parse_patch, read_series_file
from .worktree import WorkTree

if TYPE_CHECKING:
    pass

Report = Callable[[str], None]
PASS, WARN, FAIL = "pass", "warn", "fail"
FOOTPRINT_LIMIT = 100
MAX_COLUMNS = 79
MAX_WHERE = 25  # locations listed per check
MAX_HUNK_LINES = 120  # lines of one file's hunks shown in the report
OPCODE_METADATA_PY = "Lib/_opcode_metadata.py"
OPCODE_IDS_H = "Include/opcode_ids.h"
OPCODE_METADATA_H = "Include/internal/pycore_opcode_metadata.h"
OPCODE_PY = "Lib/opcode.py"
BOOTSTRAP = "Lib/importlib/_bootstrap_external.py"
C_SUFFIXES = (".c", ".h")


@dataclass
class Check:
    name: str
    status: str
    summary: str
    where: list[str] = field(default_factory=list)  # "file:line: why"


@dataclass
class FileDiff:
    path: str
    kind: str  # upstream | overlay | generated | news | test
    added: int
    removed: int
    status: str  # added | removed | modified
    hunks: list[str]
    sections: list[str]


@dataclass
class Interp:
    available: bool
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    renumbered: list[str] = field(default_factory=list)  # unspecialized opcodes whose number changed
    families: list[str] = field(default_factory=list)
    caches: dict[str, tuple[int | None, int | None]] = field(default_factory=dict)  # changed sizes
    family_caches: dict[str, int | None] = field(default_factory=dict)  # size of each family touched
    magic_before: tuple[int, int] | None = None  # (value, line)
    magic_after: tuple[int, int] | None = None
    cache_format_mismatch: list[str] = field(default_factory=list)
    touched: list[str] = field(default_factory=list)  # instructions whose definitions changed

    @property
    def must_bump(self) -> list[str]:
        reasons = [f"inline-cache size of {name} {_n(b)} -> {_n(a)}" for name, (b, a) in self.caches.items()]
        reasons += [f"opcode number {change}" for change in self.renumbered]
        return reasons

    @property
    def bumped(self) -> bool:
        return (self.magic_before is not None and self.magic_after is not None
                and self.magic_before[0] != self.magic_after[0])


def _n(value: int | None) -> str:
    return "absent" if value is None else str(value)


@dataclass
class ReviewResult:
    patch: Patch
    markdown: str
    checks: list[Check]
    html: str | None = None

    @property
    def failed(self) -> list[Check]:
        return [c for c in self.checks if c.status == FAIL]


# -- reading the series leniently (a review must work on a broken patch too) --------------------


def lenient_series(cfg: Config) -> tuple[Series, dict[str, list[str]], str | None]:
    """The series, every overlay path's claimed owners, and the error series.load would raise."""
    from .series import load as load_series

    error: str | None = None
    try:
        load_series(cfg)
    except SeriesError as exc:
        error = exc.message
    patches = [parse_patch(cfg.patches / name, name) for name, _ in read_series_file(cfg)]
    owners: dict[str, list[str]] = {}
    for patch in patches:
        for rel in patch.overlay:
            owners.setdefault(rel, []).append(patch.name)
    owner = {rel: names[0] for rel, names in owners.items()}
    return Series(tuple(patches), owner), owners, error


# -- the interpreter-level change ------------------------------------------------------------


def parse_opcode_metadata(text: str) -> dict[str, Any]:
    """Module-level literal assignments of Lib/_opcode_metadata.py (or Lib/opcode.py)."""
    found: dict[str, Any] = {}
    try:
        tree = ast.parse(text)
    except SyntaxError:
        return found
    for node in tree.body:
        if isinstance(node, ast.Assign) and len(node.targets) == 1 and isinstance(node.targets[0], ast.Name):
            try:
                found[node.targets[0].id] = ast.literal_eval(node.value)
            except ValueError:
                continue
    return found


def parse_opcode_ids(text: str) -> dict[str, int]:
    return {m.group(1): int(m.group(2)) for m in re.finditer(r"^#define (\w+)\s+(\d+)\s*$", text, re.M)
            if not m.group(1).startswith(("Py_", "HAVE_", "MIN_", "MAX_"))}


def parse_caches(text: str) -> dict[str, int]:
    """``_PyOpcode_Caches`` of pycore_opcode_metadata.h: opcode -> inline cache entries."""
    m = re.search(r"_PyOpcode_Caches\[256\] = \{(.*?)\};", text, re.S)
    if not m:
        return {}
    return {k: int(v) for k, v in re.findall(r"\[(\w+)\] = (\d+),", m.group(1))}


def parse_cache_format(text: str) -> dict[str, int]:
    """``_cache_format`` of Lib/opcode.py: opcode -> sum of its cache entries."""
    fmt = parse_opcode_metadata(text).get("_cache_format")
    if not isinstance(fmt, dict):
        return {}
    return {k: sum(v.values()) for k, v in fmt.items() if isinstance(v, dict)}


def magic_number(text: str) -> tuple[int, int] | None:
    """(MAGIC_NUMBER, its line) in Lib/importlib/_bootstrap_external.py."""
    for no, line in enumerate(text.splitlines(), 1):
        m = re.match(r"^MAGIC_NUMBER = \((\d+)\)\.to_bytes", line)
        if m:
            return int(m.group(1)), no
    return None


def family_of(name: str, specializations: dict[str, list[str]]) -> str | None:
    if name in specializations:
        return name
    for family, members in specializations.items():
        if name in members:
            return family
    return None


def interpreter_change(before: dict[str, str | None], after: dict[str, str | None],
                       named: list[str] = ()) -> Interp:  # type: ignore[assignment]
    """Compare the interpreter's metadata files before and after a patch.

    ``before``/``after`` map the files above to their text (None: absent);
    ``named`` are instruction names the C change mentions (bytecodes.c hunks).
    """
    meta_b = parse_opcode_metadata(before.get(OPCODE_METADATA_PY) or "")
    meta_a = parse_opcode_metadata(after.get(OPCODE_METADATA_PY) or "")
    opmap_b: dict[str, int] = meta_b.get("opmap") or parse_opcode_ids(before.get(OPCODE_IDS_H) or "")
    opmap_a: dict[str, int] = meta_a.get("opmap") or parse_opcode_ids(after.get(OPCODE_IDS_H) or "")
    info = Interp(available=bool(opmap_b or opmap_a), touched=sorted(named))
    spec_b: dict[str, list[str]] = meta_b.get("_specializations") or {}
    spec_a: dict[str, list[str]] = meta_a.get("_specializations") or {}
    specialized_b: dict[str, int] = meta_b.get("_specialized_opmap") or {}
    specialized_a: dict[str, int] = meta_a.get("_specialized_opmap") or {}
    specialized = set(specialized_b) | set(specialized_a)
    # 3.13's opmap holds the unspecialized instructions, _specialized_opmap the others.
    all_b, all_a = {**opmap_b, **specialized_b}, {**opmap_a, **specialized_a}
    info.added = sorted(set(all_a) - set(all_b))
    info.removed = sorted(set(all_b) - set(all_a))
    info.renumbered = [
        f"{name} {_n(opmap_b.get(name))} -> {_n(opmap_a.get(name))}"
        for name in sorted((set(opmap_a) | set(opmap_b)) - specialized)
        if opmap_a.get(name) != opmap_b.get(name) and not name.startswith("INSTRUMENTED_")
    ]
    caches_b = parse_caches(before.get(OPCODE_METADATA_H) or "")
    caches_a = parse_caches(after.get(OPCODE_METADATA_H) or "")
    info.caches = {k: (caches_b.get(k), caches_a.get(k)) for k in sorted(set(caches_b) | set(caches_a))
                   if caches_b.get(k) != caches_a.get(k)}
    families: set[str] = set()
    for fam in set(spec_a) | set(spec_b):
        if spec_a.get(fam) != spec_b.get(fam):
            families.add(fam)
    for name in [*info.added, *info.removed, *info.caches, *named]:
        found = family_of(name, spec_a) or family_of(name, spec_b)
        if found:
            families.add(found)
    info.families = sorted(families)
    info.family_caches = {fam: caches_a.get(fam) for fam in info.families}
    mb = before.get(BOOTSTRAP)
    ma = after.get(BOOTSTRAP)
    info.magic_before = magic_number(mb) if mb else None
    info.magic_after = magic_number(ma) if ma else None
    fmt = parse_cache_format(after.get(OPCODE_PY) or "")
    if fmt and caches_a:
        for name in sorted(set(fmt) | {k for k, v in caches_a.items() if v and k in spec_a}):
            if fmt.get(name, 0) != caches_a.get(name, 0):
                info.cache_format_mismatch.append(f"{name}: Lib/opcode.py _cache_format {fmt.get(name, 0)}, "
                                                  f"generated {caches_a.get(name, 0)}")
    return info


_INST = re.compile(r"\b(?:inst|op|family|macro|pseudo)\((\w+)")


def named_instructions(files: list[FileDiff], patchset: unidiff.PatchSet) -> list[str]:
    """Instructions of Python/bytecodes.c whose definitions the change touches.

    A changed line belongs to the nearest ``inst(``/``op(``/``family(``/``macro(``
    before it in its hunk (or in the hunk's section header).
    """
    names: set[str] = set()
    for pf in patchset:
        if pf.path != "Python/bytecodes.c":
            continue
        for hunk in pf:
            current = _INST.findall(hunk.section_header or "")[-1:]
            for line in hunk:
                found = _INST.findall(line.value)
                code = re.sub(r"/\*.*?\*/|//.*$", "", line.value).strip()
                if (line.is_added or line.is_removed) and code and not code.startswith(("*", "/*")):
                    names.update(found or current)
                if found and not line.is_removed:
                    current = found[-1:]
    return sorted(names)


# -- the checks ----------------------------------------------------------------------------------


def check_applies(g: Git, patch: Patch, parent: str, workdir: Path) -> Check:
    name = "applies"
    if not patch.diff:
        return Check(name, PASS, "no diff (overlay files only)")
    diff_file = workdir / "check.diff"
    diff_file.write_text(patch.diff, encoding="utf-8")
    tmp = g.with_tree(workdir, workdir / "check.index")
    tmp("read-tree", parent)
    status, _, err = tmp.run("apply", "--cached", "--check", "--whitespace=nowarn", str(diff_file))
    (workdir / "check.index").unlink(missing_ok=True)
    if status == 0:
        return Check(name, PASS, f"the diff applies to its parent {parent[:12]} with no offset or fuzz")
    where = []
    for line in err.splitlines():
        m = re.match(r"error: patch failed: (\S+):(\d+)", line)
        if m:
            where.append(f"{m.group(1)}:{m.group(2)}: hunk does not apply")
        m = re.match(r"error: (\S+): (does not exist in index|already exists in index)", line)
        if m:
            where.append(f"{m.group(1)}:1: {m.group(2)}")
    first = (err.strip().splitlines() or ["git apply failed"])[0]
    return Check(name, FAIL, f"git apply --check on the parent {parent[:12]} fails: {first}",
                 where or [f"{patch.path}:1: {first}"])


def check_generated(cfg: Config, patch: Patch) -> Check:
    bad = [f"{patch.path}:{f.line}: {f.path} is generated (regenerated on apply): remove it from the patch"
           for f in patch.files if cfg.is_generated(f.path)]
    if bad:
        return Check("no generated files", FAIL, f"{len(bad)} generated file(s) stored in the patch", bad)
    return Check("no generated files", PASS, "the patch stores no generated file")


def check_overlay(cfg: Config, patch: Patch, owners: dict[str, list[str]]) -> Check:
    where: list[str] = []
    warn: list[str] = []
    for trailer in patch.trailers:
        if trailer.key.lower() != "quicken-overlay":
            continue
        rel = overlay_path(trailer.value) or trailer.value
        at = f"{patch.path}:{trailer.line}"
        if not (cfg.overlay / rel).is_file():
            where.append(f"{at}: {rel}: no such file in {cfg.overlay}")
        others = [n for n in owners.get(rel, []) if n != patch.name]
        if others:
            where.append(f"{at}: {rel} is also owned by {', '.join(others)}")
        if cfg.is_generated(rel):
            where.append(f"{at}: {rel} is a generated file")
    for change in patch.files:
        if change.path in owners:
            where.append(f"{patch.path}:{change.line}: {change.path} is an overlay file (owned by "
                         f"{', '.join(owners[change.path])}): edit {cfg.overlay / change.path} instead")
        elif change.added and not change.path.startswith(export.NEWS_DIR):
            warn.append(f"{patch.path}:{change.line}: {change.path} is added by the diff: new files belong "
                        "in cpython_overlay/ (quicken refresh moves them there)")
    owned = [rel for rel, names in owners.items() if patch.name in names]
    if where:
        return Check("overlay ownership", FAIL, f"{len(where)} ownership problem(s)", where + warn)
    if warn:
        return Check("overlay ownership", WARN, "the diff adds files outside the overlay", warn)
    if not owned:
        return Check("overlay ownership", PASS, "owns no overlay file; the diff touches none")
    return Check("overlay ownership", PASS, f"owns {len(owned)} overlay file(s), each only by this patch")


def check_tests(patch: Patch, owned: list[str]) -> Check:
    found = [f"{f.path} ({'added' if f.added else 'changed'} by the diff)" for f in patch.files
             if f.path.startswith("Lib/test/") and not f.removed]
    found += [f"{rel} (overlay)" for rel in owned if rel.startswith("Lib/test/")]
    if found:
        return Check("tests", PASS, "tests: " + ", ".join(found))
    return Check("tests", FAIL, "no test added: neither the overlay nor the diff adds or changes a file "
                 "under Lib/test/", [f"{patch.path}:1: add a test under Lib/test/ (overlay file, or a diff "
                                     "of an existing test)"])


_BRACE_OPEN = re.compile(r"^\s*(?:\}\s*)?(?:else\s+)?(if|for|while)\s*\(")
_ELSE_ALONE = re.compile(r"^\s*(?:\}\s*)?else\s*$")


def style_problems(line: str) -> list[str]:
    """PEP 7 basics for one added C line (see the module docstring)."""
    problems = []
    if "\t" in line:
        problems.append("tab character")
    if line != line.rstrip():
        problems.append("trailing whitespace")
    if len(line.expandtabs(8)) > MAX_COLUMNS:
        problems.append(f"{len(line.expandtabs(8))} columns (> {MAX_COLUMNS})")
    code = re.sub(r"/\*.*?\*/|//.*$", "", line).rstrip()
    m = _BRACE_OPEN.match(code)
    if m and not (m.group(1) == "while" and code.lstrip().startswith("}")):
        depth, close = 0, None
        start = code.index("(", m.start(1))
        for i in range(start, len(code)):
            depth += {"(": 1, ")": -1}.get(code[i], 0)
            if depth == 0:
                close = i
                break
        if close is not None:
            rest = code[close + 1:].strip()
            if rest == "" and not code.endswith("\\"):
                problems.append(f"'{m.group(1)}' without a brace on its line")
            elif rest not in ("{", ";", "\\", "{ \\") and not rest.startswith("{"):
                problems.append(f"one-line '{m.group(1)}' body: use braces")
    elif _ELSE_ALONE.match(code):
        problems.append("'else' without a brace on its line")
    return problems


def check_c_style(lines: list[tuple[str, int, str]]) -> Check:
    """``lines``: (path, line number, text) of every added C line."""
    where = [f"{path}:{no}: {problem}" for path, no, text in lines for problem in style_problems(text)]
    if where:
        return Check("C style", FAIL, f"{len(where)} problem(s) in {len(lines)} added C line(s)", where)
    return Check("C style", PASS, f"{len(lines)} added C line(s): no tabs, no trailing whitespace, "
                 f"<= {MAX_COLUMNS} columns, braces")


def check_footprint(files: list[FileDiff]) -> Check:
    upstream = [f for f in files if f.kind == "upstream"]
    total = sum(f.added + f.removed for f in upstream)
    summary = (f"{total} line(s) changed in {len(upstream)} upstream file(s) "
               "(overlay, generated, tests excluded)")
    if total > FOOTPRINT_LIMIT:
        biggest = sorted(upstream, key=lambda f: -(f.added + f.removed))
        where = [f"{f.path}:{_first_line(f)}: +{f.added} -{f.removed}" for f in biggest]
        return Check("footprint", WARN,
                     f"{summary}: more than {FOOTPRINT_LIMIT}; move bodies into the overlay", where)
    return Check("footprint", PASS, summary)


def _first_line(f: FileDiff) -> int:
    m = re.search(r"\+(\d+)", f.hunks[0]) if f.hunks else None
    return int(m.group(1)) if m else 1


def check_magic(patch: Patch, interp: Interp) -> Check:
    name = "magic number"
    declared = patch.value("Quicken-Magic")
    trailer_line = next((t.line for t in patch.trailers if t.key.lower() == "quicken-magic"), None)
    if not interp.available:
        return Check(name, PASS, "no opcode metadata in the tree: nothing to check")
    where: list[str] = []
    reasons = interp.must_bump
    at = f"{BOOTSTRAP}:{interp.magic_after[1]}" if interp.magic_after else f"{BOOTSTRAP}:1"
    if reasons and not interp.bumped:
        where.append(f"{at}: MAGIC_NUMBER unchanged but it must change: {'; '.join(reasons)}")
    actual = "bumped" if interp.bumped else "unchanged"
    if declared is not None and declared.strip() != actual:
        where.append(f"{patch.path}:{trailer_line}: Quicken-Magic: {declared} but the patch left it {actual}")
    if where:
        return Check(name, FAIL, "the magic number does not match the change", where)
    if interp.bumped and not reasons:
        return Check(name, WARN, "MAGIC_NUMBER changed although no cache size or opcode number changed",
                     [f"{at}: {interp.magic_before[0] if interp.magic_before else '?'} -> "
                      f"{interp.magic_after[0] if interp.magic_after else '?'}"])
    if reasons:
        return Check(name, PASS, f"must change ({'; '.join(reasons)}) and did")
    return Check(name, PASS, "no cache size or opcode number changed; MAGIC_NUMBER unchanged")


def check_validation(cfg: Config, series: Series, patch: Patch) -> Check:
    st = validate.standing(cfg, series, patch)
    return _record_check("validation", st, validate.record_path(cfg, patch), patch,
                         f"quicken validate {patch.name}", "validated")


def check_verification(cfg: Config, series: Series, patch: Patch) -> Check:
    st = verify.standing(cfg, series, patch)
    return _record_check("verification", st, verify.record_path(cfg, patch), patch,
                         f"quicken verify {Path(patch.name).stem}", "behaves like stock CPython")


def _record_check(name: str, st: records.Standing, record: Path, patch: Patch, command: str,
                  good: str) -> Check:
    if st.passed:
        return Check(name, PASS, f"{good} ({st.why})")
    text = st.describe()
    return Check(name, FAIL, f"{text}: run '{command}'",
                 [f"{record}:1: {text}" if record.is_file() else f"{patch.path}:1: {text}"])


# -- the diff ---------------------------------------------------------------------------------------


def classify(cfg: Config, path: str, owned: set[str]) -> str:
    if cfg.is_generated(path):
        return "generated"
    if path in owned:
        return "overlay"
    if path.startswith(export.NEWS_DIR):
        return "news"
    if path.startswith("Lib/test/"):
        return "test"
    return "upstream"


_FUNCTION_HEADER = re.compile(r"^(?:[A-Za-z_][\w \t\*]*[\s\*])?[A-Za-z_]\w*\s*\(")


def file_diffs(cfg: Config, patchset: unidiff.PatchSet, owned: set[str]) -> list[FileDiff]:
    out = []
    for pf in patchset:
        status = "added" if pf.is_added_file else "removed" if pf.is_removed_file else "modified"
        hunks = [str(h) for h in pf]
        sections = sorted({h.section_header.strip() for h in pf
                           if _FUNCTION_HEADER.match(h.section_header or "")
                           and not h.section_header.startswith("dummy_func(")})
        name = file_path(pf)
        out.append(FileDiff(name, classify(cfg, name, owned), pf.added, pf.removed, status, hunks, sections))
    return out


def added_c_lines(cfg: Config, patchset: unidiff.PatchSet) -> list[tuple[str, int, str]]:
    lines: list[tuple[str, int, str]] = []
    for pf in patchset:
        if not pf.path.endswith(C_SUFFIXES) or cfg.is_generated(file_path(pf)):
            continue
        for hunk in pf:
            for line in hunk:
                if line.is_added:
                    lines.append((file_path(pf), line.target_line_no or 0, line.value.rstrip("\n")))
    return lines


_DEFINITION = re.compile(r"^(?:[A-Za-z_][\w\s\*]*?\s\**)?([A-Za-z_]\w*)\s*\([^;]*$")


def defined_functions(lines: list[tuple[str, int, str]]) -> list[str]:
    found = []
    for path, _, text in lines:
        if text[:1].isspace() or text.startswith(("#", "/", "*", "}", "{")):
            continue
        m = _DEFINITION.match(text)
        if m and m.group(1) not in ("if", "for", "while", "switch", "return", "sizeof"):
            found.append(f"{m.group(1)} ({path})")
    return sorted(set(found))


# -- interdiff -----------------------------------------------------------------------------------------


def normalize_mail(text: str) -> list[str]:
    """A mail without what changes on every export for no reason (index lines, diffstat)."""
    lines = text.splitlines()
    out: list[str] = []
    in_stat = False
    for line in lines:
        if line.startswith("From ") and not out:
            continue
        if line == "---" and not in_stat and not any(ln.startswith("diff --git ") for ln in out):
            in_stat = True
            out.append(line)
            continue
        if in_stat:
            if line.startswith("diff --git "):
                in_stat = False
            else:
                continue
        if line.startswith("index "):
            continue
        out.append(line)
    return out


def interdiff(previous: str, current: str, previous_label: str) -> str:
    diff = difflib.unified_diff(normalize_mail(previous), normalize_mail(current),
                                previous_label, "as exported now", lineterm="")
    return "\n".join(diff)


# -- the report --------------------------------------------------------------------------------------------


def _blob(g: Git, rev: str, path: str) -> str | None:
    status, out, _ = g.run("cat-file", "blob", f"{rev}:{path}", strip=False)
    return out if status == 0 else None


def review(
    cfg: Config,
    name: str,
    exported: Path | None = None,
    with_html: bool = False,
    report: Report = lambda _: None,
) -> ReviewResult:
    series, owners, series_error = lenient_series(cfg)
    patch = series.patch(name)
    wt = WorkTree(cfg)
    g = wt.repo()
    state = wt.state()
    names = [p.name for p in series.patches]
    index = names.index(patch.name)
    commits = {p.name: p for p in state.patches}
    if patch.name not in commits:
        raise QuickenError(f"{patch.name} is not applied in {cfg.worktree}", "run: quicken apply")
    head = commits[patch.name].commit
    previous = names[index - 1] if index else None
    parent = commits[previous].commit if previous in commits else state.pristine
    notes: list[str] = []
    if series_error:
        notes.append(f"the series does not load: {series_error}")
    if commits[patch.name].digest != patch.digest:
        notes.append("the work tree holds an older version of this patch (run: quicken apply); the diff, "
                     "functions and interpreter sections show that version")
    owned = {rel for rel, who in owners.items() if patch.name in who}
    report(f"review {patch.name}")
    full = g("diff", "--no-renames", "--full-index", parent, head, strip=False)
    patchset = unidiff.PatchSet(full)
    files = file_diffs(cfg, patchset, owned)
    c_lines = added_c_lines(cfg, patchset)
    wanted = (OPCODE_METADATA_PY, OPCODE_IDS_H, OPCODE_METADATA_H, OPCODE_PY, BOOTSTRAP)
    interp = interpreter_change({p: _blob(g, parent, p) for p in wanted},
                                {p: _blob(g, head, p) for p in wanted}, named_instructions(files, patchset))
    with tempfile.TemporaryDirectory(prefix="quicken-review-") as tmp:
        checks = [
            check_applies(g, patch, parent, Path(tmp)),
            check_generated(cfg, patch),
            check_overlay(cfg, patch, owners),
            check_tests(patch, sorted(owned)),
            check_c_style(c_lines),
            check_footprint(files),
            check_magic(patch, interp),
            check_validation(cfg, series, patch),
            check_verification(cfg, series, patch),
        ]
    record = export.read_record(cfg, patch)
    inter = _interdiff_section(cfg, patch, exported)
    md = render_markdown(cfg, patch, index, len(names), notes, files, c_lines, interp, checks, record, inter)
    page = render_html(md, _plot_png(record), patch.subject) if with_html else None
    return ReviewResult(patch, md, checks, page)


def _interdiff_section(cfg: Config, patch: Patch, exported: Path | None) -> list[str]:
    directory = exported or export.default_output(cfg)
    previous = directory / patch.name
    if not previous.is_file():
        return [f"No previously exported version ({previous} does not exist)."]
    try:
        (current,) = export.prepare(cfg, [patch.name], force=True)
    except QuickenError as exc:
        return [f"Cannot export the current version to compare: {exc.message}"]
    old = previous.read_text(encoding="utf-8", errors="replace")
    text = interdiff(old, current.mail.decode(), str(previous))
    if not text:
        return [f"No change since the export in `{previous}`."]
    return [f"Against `{previous}` (index lines and diffstat ignored):", "", "```diff", text, "```"]


def render_markdown(cfg: Config, patch: Patch, index: int, total: int, notes: list[str],
                    files: list[FileDiff], c_lines: list[tuple[str, int, str]], interp: Interp,
                    checks: list[Check], record: dict[str, Any] | None, inter: list[str]) -> str:
    md = [f"# Review: {export.title(patch)}", ""]
    for note in notes:
        md += [f"> **Note**: {note}", ""]
    failed = [c for c in checks if c.status == FAIL]
    md += [f"**{'FAIL' if failed else 'PASS'}**: {len(checks) - len(failed)} of {len(checks)} checks pass"
           + (f" (failing: {', '.join(c.name for c in failed)})" if failed else ""), ""]
    md += ["## Metadata", "", "| field | value |", "| --- | --- |",
           f"| patch | `{patch.name}` ({index + 1} of {total}) |",
           f"| subject | {_cell(patch.subject)} |",
           f"| author | {_cell(f'{patch.author.name} <{patch.author.email}>')} |",
           f"| date | {_cell(patch.author.date)} |",
           f"| upstream issue | {_cell(patch.upstream or '(none)')} |"]
    md += [f"| {_cell(t.key)} | {_cell(t.value)} |" for t in patch.trailers]
    md.append("")
    paragraphs = export.body_paragraphs(patch)
    if paragraphs:
        md += [*[p.replace("\n", " ") + "\n" for p in paragraphs]]

    md += ["## Checks", "", "| check | result | summary |", "| --- | --- | --- |"]
    md += [f"| {c.name} | {c.status.upper()} | {_cell(c.summary)} |" for c in checks]
    md.append("")
    for c in checks:
        if c.where and c.status != PASS:
            md += [f"### {c.name}: {c.status}", ""]
            md += [f"- `{w}`" for w in c.where[:MAX_WHERE]]
            if len(c.where) > MAX_WHERE:
                md.append(f"- … and {len(c.where) - MAX_WHERE} more")
            md.append("")

    md += ["## Interpreter-level change", ""]
    if not interp.available:
        md += ["No opcode metadata in the tree (Lib/_opcode_metadata.py, Include/opcode_ids.h).", ""]
    else:
        md.append(f"- instructions added: {', '.join(interp.added) or 'none'}")
        md.append(f"- instructions removed: {', '.join(interp.removed) or 'none'}")
        md.append(f"- definitions changed in Python/bytecodes.c: {', '.join(interp.touched) or 'none'}")
        declared = patch.listed("Quicken-Family")
        md.append(f"- families touched: {', '.join(interp.families) or 'none'}"
                  + (f" (declared: {', '.join(declared)})" if declared else ""))
        if interp.caches:
            md.append("- inline-cache sizes changed: " + ", ".join(
                f"{k} {_n(b)} -> {_n(a)}" for k, (b, a) in interp.caches.items()))
        else:
            sizes = ", ".join(f"{k} {_n(v)}" for k, v in interp.family_caches.items())
            md.append("- inline-cache sizes: unchanged" + (f" ({sizes})" if sizes else ""))
        mb, ma = interp.magic_before, interp.magic_after
        magic = f"{mb[0] if mb else '?'} -> {ma[0] if ma else '?'}" if interp.bumped else \
            f"unchanged ({ma[0] if ma else '?'})"
        must = "; ".join(interp.must_bump)
        md.append(f"- magic number: {magic}; {'must change: ' + must if must else 'no change needed'}")
        for line in interp.cache_format_mismatch:
            md.append(f"- cache layout mismatch: {line}")
        md.append("")

    md += ["## Files", "", "| file | kind | status | + | - |", "| --- | --- | --- | ---: | ---: |"]
    md += [f"| `{f.path}` | {f.kind} | {f.status} | {f.added} | {f.removed} |" for f in files]
    md += ["", f"{len(files)} file(s), +{sum(f.added for f in files)} -{sum(f.removed for f in files)}", ""]

    md += ["## C functions touched", ""]
    sections = [f"`{s}` ({f.path})" for f in files if f.path.endswith(C_SUFFIXES) and f.kind != "generated"
                for s in f.sections]
    defined = defined_functions(c_lines)
    md += [f"- {s}" for s in sections] or ["- (no hunk section headers)"]
    if defined:
        md.append("- defined in added lines: " + ", ".join(f"`{d}`" for d in defined))
    md.append("")

    md += ["## Hunks", ""]
    for f in files:
        if f.kind == "generated":
            md += [f"### `{f.path}` (generated: {len(f.hunks)} hunk(s), +{f.added} -{f.removed}, "
                   "not shown)", ""]
            continue
        md += [f"### `{f.path}` ({f.kind}, {f.status}, +{f.added} -{f.removed})", "", "```diff"]
        body = "".join(f.hunks).splitlines()
        md += body[:MAX_HUNK_LINES]
        if len(body) > MAX_HUNK_LINES:
            md.append(f"… {len(body) - MAX_HUNK_LINES} more line(s)")
        md += ["```", ""]

    md += ["## Validation", ""]
    md += export.validation_lines(record, patch.listed("Quicken-Family"))
    families = patch.listed("Quicken-Family")
    stats = (record or {}).get("pystats")
    if families:
        md.append("")
        for fam in families:
            value = stats.get(f"{fam} specialized share") if isinstance(stats, dict) else None
            md.append(f"- pystats, {fam} specialized share: "
                      + (f"{value * 100:+.2f} percentage points" if isinstance(value, (int, float))
                         else "not measured (quicken validate --pystats)"))
    md.append("")
    md += ["## Interdiff", "", *inter, ""]
    return "\n".join(md)


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


# -- HTML -------------------------------------------------------------------------------------------


def _plot_png(record: dict[str, Any] | None) -> bytes | None:
    if not record:
        return None
    results = record.get("results")
    if isinstance(results, str) and (Path(results) / "ratios.png").is_file():
        return (Path(results) / "ratios.png").read_bytes()
    rows = []
    for r in record.get("benchmarks") or []:
        try:
            rows.append(compare.ComparisonRow(
                name=str(r["name"]), unit="second", base_mean=float(r["base_mean"]), base_stdev=0.0,
                base_values=0, head_mean=float(r["head_mean"]), head_stdev=0.0, head_values=0,
                ratio=float(r["ratio"]), significant=bool(r.get("significant")), t_score=None,
                unstable_reasons=tuple(r.get("unstable") or ())))
        except (KeyError, TypeError, ValueError):
            continue
    if not rows:
        return None
    with tempfile.TemporaryDirectory(prefix="quicken-review-") as tmp:
        path = compare.plot_ratios(compare.Comparison("base", "head", tuple(rows)), Path(tmp) / "ratios.png",
                                   title="head vs base (from the validation record)")
        return path.read_bytes()


def _inline(text: str) -> str:
    out = html.escape(text, quote=False)
    out = re.sub(r"`([^`]+)`", r"<code>\1</code>", out)
    return re.sub(r"\*\*([^*]+)\*\*", r"<strong>\1</strong>", out)


def markdown_to_html(md: str) -> str:
    """The subset of Markdown the report uses: headings, tables, lists, quotes, fenced code, paragraphs."""
    out: list[str] = []
    lines = md.split("\n")
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.startswith("```"):
            lang = line[3:].strip()
            block = []
            i += 1
            while i < len(lines) and not lines[i].startswith("```"):
                block.append(lines[i])
                i += 1
            rendered = []
            for b in block:
                cls = ("add" if b.startswith("+") else "del" if b.startswith("-") else
                       "hunk" if b.startswith("@@") else "") if lang == "diff" else ""
                rendered.append(f'<span class="{cls}">{html.escape(b)}</span>' if cls else html.escape(b))
            out.append("<pre>" + "\n".join(rendered) + "</pre>")
        elif m := re.match(r"^(#{1,6}) (.*)$", line):
            level = len(m.group(1))
            out.append(f"<h{level}>{_inline(m.group(2))}</h{level}>")
        elif line.startswith("|"):
            rows = []
            while i < len(lines) and lines[i].startswith("|"):
                rows.append(lines[i])
                i += 1
            i -= 1
            cells = [[c.strip().replace("\\|", "|") for c in re.split(r"(?<!\\)\|", r.strip())[1:-1]]
                     for r in rows]
            table = ["<table>", "<tr>" + "".join(f"<th>{_inline(c)}</th>" for c in cells[0]) + "</tr>"]
            for row in cells[2:]:
                cls = "".join(f' class="{c.lower()}"' for c in row if c in ("PASS", "FAIL", "WARN"))
                table.append(f"<tr{cls}>" + "".join(f"<td>{_inline(c)}</td>" for c in row) + "</tr>")
            out.append("\n".join([*table, "</table>"]))
        elif line.startswith("- "):
            items = []
            while i < len(lines) and lines[i].startswith("- "):
                items.append(f"<li>{_inline(lines[i][2:])}</li>")
                i += 1
            i -= 1
            out.append("<ul>" + "".join(items) + "</ul>")
        elif line.startswith("> "):
            out.append(f"<blockquote>{_inline(line[2:])}</blockquote>")
        elif line.strip():
            out.append(f"<p>{_inline(line)}</p>")
        i += 1
    return "\n".join(out)


CSS = """
body { font-family: sans-serif; max-width: 72em; margin: 2em auto; padding: 0 1em; color: #222; }
table { border-collapse: collapse; margin: 0.5em 0; } td, th { border: 1px solid #ccc; padding: 2px 8px; }
th { background: #f3f3f3; } tr.fail td { background: #fdd; } tr.warn td { background: #ffd; }
pre { background: #f7f7f7; padding: 0.6em; overflow-x: auto; } .add { color: #070; } .del { color: #a00; }
.hunk { color: #06c; } blockquote { border-left: 4px solid #e90; margin: 0.5em 0; padding-left: 0.8em; }
img { max-width: 100%; }
"""


def render_html(md: str, png: bytes | None, title_text: str) -> str:
    body = markdown_to_html(md)
    if png is not None:
        img = (f'<img alt="speedups of the validation run" '
               f'src="data:image/png;base64,{base64.b64encode(png).decode("ascii")}">')
        body = body.replace("<h2>Validation</h2>", f"<h2>Validation</h2>\n{img}", 1)
    return (f"<!DOCTYPE html>\n<html><head><meta charset=\"utf-8\"><title>Review: {html.escape(title_text)}"
            f"</title><style>{CSS}</style></head><body>\n{body}\n</body></html>\n")


# -- CLI -------------------------------------------------------------------------------------------------
