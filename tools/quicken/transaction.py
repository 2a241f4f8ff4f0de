"""Writing a new version of the series: all of it, or nothing.

``refresh`` and ``rebase`` (and ``rebase --abort``, which writes the old
version back) change patches/ and the overlay through a :class:`Transaction`,
in the manner of StGit's stack transaction:

1. the new files are staged in a copy of the series (``stage``), never in
   the project's directories;
2. :meth:`Transaction.verify` applies the staged series from the pin and
   requires it to reproduce the tree the command computed;
3. :meth:`Transaction.commit` writes every changed file next to its
   destination and fsyncs it, then renames them all into place; if anything
   fails before the last rename, the files already replaced are put back, so
   patches/ and the overlay hold either the old series or the new one.

The previous state of the work tree is kept under ``refs/quicken/backup/``.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from . import apply
from .config import Config
from .errors import ApplyError
from .gitutil import Git
from .series import Inputs, Patch, Series
from .series import load as load_series
from .worktree import WorkTree

Report = Callable[[str], None]

BACKUP_REFS = "refs/quicken/backup/"
_NEW = ".quicken-new"


def backup_ref(g: Git, kind: str, stamp: str, commit: str) -> str:
    """Keep ``commit`` as ``refs/quicken/backup/<kind>-<stamp>``; returns the ref."""
    ref = f"{BACKUP_REFS}{kind}-{stamp}"
    g.update_ref(ref, commit)
    return ref


@dataclass(frozen=True)
class Written:
    """One file of the series the transaction changed."""

    path: Path
    removed: bool = False


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def write_durably(dest: Path, data: bytes, mode: int | None = None) -> None:
    """Write ``dest`` through a temporary file that is fsynced, then renamed over it."""
    if mode is None:
        mode = dest.stat().st_mode & 0o7777 if dest.exists() else 0o644
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = dest.with_name(f".{dest.name}{_NEW}")
    _write_synced(tmp, data, mode)
    os.replace(tmp, dest)
    _fsync_dir(dest.parent)


def _write_synced(path: Path, data: bytes, mode: int) -> None:
    with open(path, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.chmod(path, mode)


def _files(root: Path) -> dict[str, Path]:
    if not root.is_dir():
        return {}
    found = sorted(p for p in root.rglob("*") if p.is_file() or p.is_symlink())
    return {p.relative_to(root).as_posix(): p for p in found}


def _same(a: Path, b: Path) -> bool:
    return (a.lstat().st_mode == b.lstat().st_mode and a.read_bytes() == b.read_bytes())


class Transaction:
    """A new version of a series (patches and overlay), staged in ``workdir`` from ``base``.

    ``target`` is where :meth:`commit` writes it (by default ``base``): for
    ``rebase`` the base is its backup of the series, the target the project's.
    """

    def __init__(self, workdir: Path, base: Inputs, target: Inputs | None = None) -> None:
        self.workdir = workdir
        self.base = base
        self.target = target or base
        self.stage = Inputs(workdir / "patches", workdir / "overlay")
        shutil.rmtree(workdir, ignore_errors=True)
        workdir.mkdir(parents=True)
        shutil.copytree(base.patches, self.stage.patches, symlinks=True)
        if base.overlay.is_dir():
            shutil.copytree(base.overlay, self.stage.overlay, symlinks=True)
        else:
            self.stage.overlay.mkdir()
        self._order: list[Path] = []  # staged files in the order they were changed

    # -- staging ------------------------------------------------------------

    def _touch(self, path: Path) -> Path:
        if path not in self._order:
            self._order.append(path)
        return path

    def _put(self, path: Path, data: bytes) -> None:
        if path.is_file() and path.read_bytes() == data:
            return
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        self._touch(path)

    def write_patch(self, name: str, data: bytes) -> None:
        self._put(self.stage.patches / name, data)

    def remove_patch(self, name: str) -> None:
        """Drop a patch: its file, its validation record and its line in ``series``."""
        for path in (self.stage.patches / name, self.stage.patches / f"{Path(name).stem}.validation.json"):
            if path.exists():
                path.unlink()
                self._touch(path)
        listed = self.stage.patches / "series"
        lines = listed.read_text(encoding="utf-8").splitlines(keepends=True)
        kept = [ln for ln in lines if (ln.split("#", 1)[0].split() or [""])[0] != name]
        self._put(listed, "".join(kept).encode("utf-8"))

    def append_patch(self, name: str) -> None:
        """List ``name`` last in ``series``."""
        listed = self.stage.patches / "series"
        text = listed.read_text(encoding="utf-8")
        self._put(listed, (text + ("\n" if text and not text.endswith("\n") else "") + name + "\n").encode())

    def write_overlay(self, rel: str, data: bytes) -> None:
        self._put(self.stage.overlay / rel, data)

    def remove_overlay(self, rel: str) -> None:
        path = self.stage.overlay / rel
        if path.exists():
            path.unlink()
            self._touch(path)
            _remove_empty_dirs(self.stage.overlay)

    def load(self, cfg: Config) -> Series:
        return load_series(cfg, self.stage)

    def verify(self, cfg: Config, wt: WorkTree, pristine: str, expected_tree: str, report: Report,
               error: ApplyError) -> list[tuple[Patch, str]]:
        """Apply the staged series from ``pristine``; it must give ``expected_tree`` (else ``error``)."""
        staged = self.load(cfg)
        scratch = apply.prepare_scratch(wt, pristine)
        commits = apply.apply_series(cfg, scratch, pristine, staged, report=report,
                                     overlay=self.stage.overlay)
        tip = commits[-1][1] if commits else pristine
        g = wt.repo()
        if g.tree_of(tip) != expected_tree:
            raise error
        apply.mark_scratch(wt, expected_tree)
        return commits

    # -- the commit -----------------------------------------------------------

    def plan(self) -> list[tuple[Path, Path | None]]:
        """(destination, staged file or None to remove it) for every file that differs."""
        changes: dict[Path, tuple[Path, Path | None]] = {}
        for src_root, dest_root in ((self.stage.patches, self.target.patches),
                                    (self.stage.overlay, self.target.overlay)):
            want, have = _files(src_root), _files(dest_root)
            for rel in sorted(set(have) - set(want)):
                changes[src_root / rel] = (dest_root / rel, None)
            for rel, src in want.items():
                if rel not in have or not _same(src, have[rel]):
                    changes[src] = (dest_root / rel, src)
        first = [changes.pop(p) for p in self._order if p in changes]
        return first + list(changes.values())

    def commit(self) -> list[Written]:
        """Make the target hold the staged series, all or nothing; returns what changed."""
        plan = self.plan()
        journal = self.workdir / "journal"
        shutil.rmtree(journal, ignore_errors=True)
        saved: list[tuple[Path, Path | None]] = []  # (destination, its old copy or None: it did not exist)
        made_dirs: list[Path] = []
        try:
            for n, (dest, src) in enumerate(plan):
                for parent in reversed([dest.parent, *dest.parent.parents]):
                    if not parent.exists():
                        parent.mkdir()
                        made_dirs.append(parent)
                if src is not None:
                    _write_synced(dest.with_name(f".{dest.name}{_NEW}"), src.read_bytes(),
                                  src.lstat().st_mode & 0o7777)
                old: Path | None = None
                if dest.exists() or dest.is_symlink():
                    old = journal / str(n)
                    old.parent.mkdir(parents=True, exist_ok=True)
                    shutil.copy2(dest, old, follow_symlinks=False)
                saved.append((dest, old))
            for dest, src in plan:
                if src is None:
                    dest.unlink()
                else:
                    os.replace(dest.with_name(f".{dest.name}{_NEW}"), dest)
            for directory in {dest.parent for dest, _ in plan if dest.parent.exists()}:
                _fsync_dir(directory)
        except BaseException:
            self._roll_back(plan, saved, made_dirs)
            raise
        for dest, src in plan:
            if src is None:
                _prune(dest.parent, (self.target.patches, self.target.overlay))
        shutil.rmtree(journal, ignore_errors=True)
        return [Written(dest, src is None) for dest, src in plan]

    def _roll_back(self, plan: list[tuple[Path, Path | None]], saved: list[tuple[Path, Path | None]],
                   made_dirs: list[Path]) -> None:
        for dest, _ in plan:
            dest.with_name(f".{dest.name}{_NEW}").unlink(missing_ok=True)
        for dest, old in saved:
            if old is None:
                dest.unlink(missing_ok=True)
            elif not dest.exists() or not _same(old, dest):
                tmp = dest.with_name(f".{dest.name}{_NEW}")
                shutil.copy2(old, tmp, follow_symlinks=False)
                os.replace(tmp, dest)
        for directory in reversed(made_dirs):
            if directory.is_dir() and not any(directory.iterdir()):
                directory.rmdir()


def _prune(directory: Path, roots: tuple[Path, ...]) -> None:
    """Remove ``directory`` and its parents while they are empty, up to (not including) a root."""
    while directory not in roots and any(directory.is_relative_to(r) for r in roots):
        if not directory.is_dir() or any(directory.iterdir()):
            return
        directory.rmdir()
        directory = directory.parent


def _remove_empty_dirs(root: Path) -> None:
    for path in sorted((p for p in root.rglob("*") if p.is_dir()), key=lambda p: -len(p.parts)):
        if not any(path.iterdir()):
            path.rmdir()
