"""The replay engine: one patch onto a parent commit, in a scratch work tree.

``apply`` (and ``refresh``, through it), ``rebase`` and ``export`` all make a
patch's commit the same way, with :func:`replay`:

1. the overlay files the patch owns are written into the tree (they add new
   files; one that already exists in the parent is refused);
2. each diff is applied with ``git apply --index``; when one fails, the
   :class:`Policy` decides what is tried next: whether its reverse applies
   (the change is already upstream), and ``git apply --3way`` (the blobs named
   by the diff's ``index`` lines are the merge base);
3. the ``[[regen]]`` rules regenerate the generated files;
4. the index is committed on the parent with the patch's message and author.

The result is a :class:`Replayed` with an :class:`Outcome`; the engine never
decides what a conflict means to the user, its callers do.
"""

from __future__ import annotations

import enum
import os
import re
import shutil
import stat
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import unidiff

from . import regen
from .config import Config
from .errors import ApplyError, QuickenError
from .gitutil import Git
from .series import Patch, check_overlay_file, diff_paths, file_path

Report = Callable[[str], None]


class Outcome(enum.Enum):
    """What became of one patch; the value is how reports name it."""

    CLEAN = "clean"
    OFFSETS = "applied with offsets"
    MERGED = "3-way merged"
    CONFLICTED = "conflicted"
    UPSTREAM = "already upstream"
    EMPTIED = "emptied"

    @property
    def committed(self) -> bool:
        return self in (Outcome.CLEAN, Outcome.OFFSETS, Outcome.MERGED)


@dataclass(frozen=True)
class Diff:
    """One diff to apply: the patch's own, or more changes folded into it."""

    text: str
    paths: tuple[str, ...]  # the files it changes (regeneration is triggered by them)
    what: str = ""  # "" for the patch's own diff, else e.g. "commit 0123abcd4567"

    @classmethod
    def of_patch(cls, patch: Patch) -> Diff:
        return cls(patch.diff, tuple(f.path for f in patch.files))

    @classmethod
    def of_text(cls, text: str, what: str = "", paths: Sequence[str] | None = None) -> Diff:
        return cls(text, tuple(diff_paths(text) if paths is None else paths), what)


@dataclass(frozen=True)
class Mismatch:
    """Why one hunk (or one file) of a diff does not fit the tree."""

    path: str
    header: str  # "@@ -a,b +c,d @@ section", "" for the whole file
    problem: str  # "no such file", "already exists", "line N expected …", "context not found"

    def __str__(self) -> str:
        if self.header:
            return f"{self.path} hunk {self.header}: {self.problem}"
        return f"{self.path}: {self.problem}"


@dataclass(frozen=True)
class Replayed:
    outcome: Outcome
    commit: str | None = None  # the new commit (CLEAN, OFFSETS, MERGED)
    tree: str | None = None  # the scratch index's tree when the engine finished (None: reset to the parent)
    detail: str = ""  # offsets, merged files, or why it stopped
    failed: Diff | None = None  # the diff that did not apply (CONFLICTED, UPSTREAM)
    error: str = ""  # git apply's messages for it
    files: tuple[str, ...] = ()  # unmerged files the 3-way merge left (CONFLICTED)
    mismatches: tuple[Mismatch, ...] = ()  # the hunks of ``failed`` that do not fit the parent


@dataclass(frozen=True)
class Policy:
    """What the engine tries when a diff does not apply as it is."""

    upstream: bool = False  # a diff whose reverse applies is already upstream
    three_way: bool = False  # fall back on git apply --3way
    drop_empty: bool = False  # nothing left to change: EMPTIED, no commit


STRICT = Policy()


def _overlay_clash(overlay: Path, rel: str, patch: Patch) -> QuickenError:
    return ApplyError(
        f"{overlay / rel}: already exists in the tree before {patch.name}",
        "overlay files add new files; change existing ones with a diff in the patch",
    )


@dataclass
class Engine:
    """Replays patches in ``scratch`` (a work tree and index of its own)."""

    cfg: Config
    scratch: Git
    workdir: Path  # for temporary diff files
    overlay: Path | None = None  # where the overlay files come from (None: the patches own none)
    policy: Policy = STRICT
    cache: regen.RegenCache | None = None
    report: Report = field(default=lambda _: None)
    clash: Callable[[Path, str, Patch], QuickenError] = _overlay_clash

    def replay(
        self,
        parent: str,
        patch: Patch,
        owned: Sequence[str] = (),
        diffs: Sequence[Diff] = (),
        changed: Sequence[str] = (),
    ) -> Replayed:
        """``patch`` as a commit on ``parent``; ``scratch`` must hold ``parent`` (index and files).

        ``owned`` are the patch's overlay files, ``diffs`` what is applied after
        them, ``changed`` more paths that trigger regeneration.  With no owned
        files and no diffs, whatever the scratch index holds is committed.
        """
        self.write_overlay(parent, patch, owned)
        outcome, details = Outcome.CLEAN, []
        paths = [*owned, *changed]
        for diff in diffs:
            paths += diff.paths
            if not diff.text.strip():
                continue
            status, err = self.apply(diff, "-v")
            if status == 0:
                offsets = _offsets(err)
                if offsets and outcome is Outcome.CLEAN:
                    outcome = Outcome.OFFSETS
                details += offsets
                continue
            mismatches = tuple(mismatches_in(self._work_tree, diff.text))
            failed = Replayed(Outcome.CONFLICTED, detail=_first_error(err), failed=diff, error=err,
                              mismatches=mismatches)
            if self.policy.upstream and self._applies_reversed(diff):
                self._reset(parent)
                return Replayed(Outcome.UPSTREAM, detail="its reverse applies cleanly", failed=diff,
                                error=err, mismatches=mismatches)
            if not self.policy.three_way:
                return failed
            status, err = self.apply(diff, "-v", "--3way")
            if status != 0:
                unmerged = unmerged_paths(self.scratch)
                self._reset(parent)
                return Replayed(Outcome.CONFLICTED, detail=_first_error(err), failed=diff, error=err,
                                files=tuple(unmerged), mismatches=mismatches)
            outcome = Outcome.MERGED
            details = re.findall(r"^Applied patch to '(.+)' cleanly\.$", err, re.M)
        regen.regenerate(self.cfg, self.scratch, sorted(set(paths)), self.cache, self.report)
        tree = self.scratch("write-tree")
        if self.policy.drop_empty and tree == self.scratch.tree_of(parent):
            return Replayed(Outcome.EMPTIED, tree=tree,
                            detail="nothing left to change on the new base: dropped")
        commit = self.scratch.commit_tree(tree, parent, patch.message, patch.author)
        sep = ", " if outcome is Outcome.MERGED else "; "
        return Replayed(outcome, commit, tree, sep.join(details))

    # -- steps ----------------------------------------------------------------

    @property
    def _work_tree(self) -> Path:
        assert self.scratch.work_tree is not None
        return self.scratch.work_tree

    def write_overlay(self, parent: str, patch: Patch, owned: Sequence[str]) -> None:
        if not owned:
            return
        assert self.overlay is not None, f"{patch.name} owns overlay files but no overlay was given"
        for rel in owned:
            if self.scratch.run("cat-file", "-e", f"{parent}:{rel}")[0] == 0:
                raise self.clash(self.overlay, rel, patch)
            copy_overlay_file(self.overlay, self._work_tree, rel)
        self.scratch("update-index", "--add", "--", *owned)

    def apply(self, diff: Diff, *options: str) -> tuple[int, str]:
        path = self._diff_file(diff)
        args = ("apply", "--index", "--whitespace=nowarn", "-p1", *options, str(path))
        status, _, err = self.scratch.run(*args)
        return status, err

    def _applies_reversed(self, diff: Diff) -> bool:
        return self.scratch.run("apply", "--check", "-R", "-p1", str(self._diff_file(diff)))[0] == 0

    def _diff_file(self, diff: Diff) -> Path:
        self.workdir.mkdir(parents=True, exist_ok=True)
        path = self.workdir / "replay.diff"
        path.write_text(diff.text, encoding="utf-8")
        return path

    def _reset(self, parent: str) -> None:
        self.scratch("read-tree", "--reset", "-u", parent)


def copy_overlay_file(overlay: Path, root: Path, rel: str) -> None:
    """Copy the overlay file ``rel`` into the tree at ``root`` (bytes, and the executable bit)."""
    check_overlay_file(overlay, rel)  # again: a link made since the series was read is not followed either
    src, dest = overlay / rel, root / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(src, dest)
    os.chmod(dest, 0o755 if os.stat(src).st_mode & stat.S_IXUSR else 0o644)


def unmerged_paths(git: Git) -> list[str]:
    out = git("ls-files", "-u", "-z", strip=False)
    return sorted({entry.split("\t", 1)[1] for entry in out.split("\0") if "\t" in entry})


def _first_error(err: str) -> str:
    first = next((ln for ln in err.splitlines() if ln.startswith("error:")), "")
    return first.removeprefix("error: ")


def _offsets(err: str) -> list[str]:
    """git apply -v's "Hunk #N succeeded at L (offset K lines)." as "path hunk #N at line L (+K)"."""
    found: list[str] = []
    current = "?"
    for line in err.splitlines():
        m = re.match(r"^Checking patch (.+)\.\.\.$", line)
        if m:
            current = m.group(1)
            continue
        m = re.match(r"^Hunk #(\d+) succeeded at (\d+) \(offset (-?\d+) lines?\)\.", line)
        if m:
            found.append(f"{current} hunk #{m.group(1)} at line {m.group(2)} ({int(m.group(3)):+d})")
    return found


# -- why a diff does not apply --------------------------------------------------------


def mismatches_in(root: Path, diff: str) -> Iterator[Mismatch]:
    """The files and hunks of ``diff`` that do not fit the tree at ``root``, in diff order.

    A hunk fits when its pre-image (context and removed lines) is somewhere in
    the file; one that does not is reported with the first line that differs
    from where the hunk header places it.
    """
    try:
        patchset = unidiff.PatchSet(diff)
    except unidiff.UnidiffParseError:
        return
    for pf in patchset:
        name = file_path(pf)
        path = root / name
        if pf.is_added_file:
            if path.exists():
                yield Mismatch(name, "", "already exists")
            continue
        # Split on "\n" only: a CRLF file's lines keep their "\r", as the hunk's lines do.
        lines = (path.read_bytes().decode("utf-8", "surrogateescape").split("\n")
                 if path.is_file() else None)
        for hunk in pf:
            header = (f"@@ -{hunk.source_start},{hunk.source_length} "
                      f"+{hunk.target_start},{hunk.target_length} @@")
            if hunk.section_header:
                header += f" {hunk.section_header}"
            if lines is None:
                yield Mismatch(name, header, "no such file")
                continue
            old = [ln.value.rstrip("\n") for ln in hunk if ln.is_context or ln.is_removed]
            if _find(lines, old) is not None:
                continue
            yield Mismatch(name, header, _first_difference(lines, old, max(hunk.source_start - 1, 0)))


def _first_difference(lines: list[str], old: list[str], at: int) -> str:
    for offset, want in enumerate(old):
        have = lines[at + offset] if at + offset < len(lines) else "<end of file>"
        if have != want:
            if have.strip() == want.strip():  # say which invisible characters differ
                return f"line {at + offset + 1} expected {want!r}, found {have!r}"
            return f"line {at + offset + 1} expected {want.strip()!r}, found {have.strip()!r}"
    return "context not found"


def _find(lines: list[str], block: list[str]) -> int | None:
    if not block:
        return 0
    first = block[0]
    for i in range(len(lines) - len(block) + 1):
        if lines[i] == first and lines[i : i + len(block)] == block:
            return i
    return None
