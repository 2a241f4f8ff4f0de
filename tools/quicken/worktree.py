"""The materialized work tree: a git repository the pipeline owns.

Layout of the repository ``paths.worktree``:

* branch ``quicken``: commit 0 is the pristine pin (tag ``pin-<version>``),
  then one commit per patch of ``patches/series``, in order;
* ``refs/quicken/patches/<name>``: the commit of each patch;
* ``.git/quicken/state.json``: what the tree was made from (the digest of
  the series, overlay, pin and rules), so a second ``apply`` can be a no-op;
* ``.git/quicken/scratch``: where ``apply`` builds new commits aside.
"""

from __future__ import annotations

import fcntl
import json
import os
import shutil
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from . import rebase_state
from .config import Config
from .errors import ApplyError
from .gitutil import Git, open_repo
from .series import Series, match_patch
from .series import load as load_series

BRANCH = "quicken"
PATCH_REFS = "refs/quicken/patches/"
REBASE_DIR = "rebase"  # .git/quicken/rebase: the state of an unfinished `quicken rebase`


def pin_tag(version: str) -> str:
    return f"refs/tags/pin-{version}"


@dataclass
class PatchState:
    name: str
    commit: str
    digest: str
    subject: str


@dataclass
class State:
    digest: str
    version: str
    sha256: str
    pristine: str
    tip: str
    patches: list[PatchState] = field(default_factory=list)

    def commit_of(self, name: str) -> str | None:
        """The commit apply made for the patch ``name``: a file name, a stem or a number (``0007``)."""
        found = match_patch([p.name for p in self.patches], name)
        return next((p.commit for p in self.patches if p.name == found), None)


class WorkTree:
    def __init__(self, cfg: Config) -> None:
        self.cfg = cfg
        self.path = cfg.worktree
        repo = open_repo(self.path)
        self.git: Git | None = repo
        self.meta = self.path / ".git" / "quicken"

    @property
    def exists(self) -> bool:
        return self.git is not None and (self.meta / "state.json").is_file()

    def repo(self) -> Git:
        if self.git is None or not self.exists:
            raise ApplyError(f"{self.path}: no Quicken work tree yet", "run: quicken apply")
        return self.git

    def state(self) -> State:
        return read_state(self.meta / "state.json")

    @contextmanager
    def lock(self) -> Iterator[None]:
        """One quicken command at a time per work tree."""
        lock_dir = self.meta if self.exists else self.path.parent
        lock_dir.mkdir(parents=True, exist_ok=True)
        name = "lock" if self.exists else f".{self.path.name}.lock"
        with open(lock_dir / name, "w") as handle:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise ApplyError(
                    f"{self.path}: another quicken command is using this work tree",
                    f"wait for it to finish (fuser {lock_dir / name} shows which process holds it)",
                ) from None
            yield

    def temporaries(self) -> list[Path]:
        """Trees a first ``apply`` builds aside before renaming them into place."""
        return sorted(self.path.parent.glob(f".{self.path.name}.new-*"))

    def clean_temporaries(self) -> list[Path]:
        """Remove temporary trees left by a killed first ``apply``, unless one may still be running.

        A first apply holds the lock file beside the work tree while its
        temporary exists; call this while holding :meth:`lock`.
        """
        stale = self.temporaries()
        if not stale:
            return []
        if self.exists:  # our lock is the repository's: make sure no first apply holds the other one
            lock_file = self.path.parent / f".{self.path.name}.lock"
            with open(lock_file, "a") as handle:
                try:
                    fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    return []
                _remove_trees(stale)
        else:
            _remove_trees(stale)
        return stale

    def require_applied(self, state: State, digest: str, hint: str) -> None:
        """Refuse when patches/ or the overlay changed since the work tree was made."""
        if digest != state.digest:
            raise ApplyError("patches/ or cpython_overlay/ changed since the work tree was applied", hint)

    def applied_series(self, hint: str) -> tuple[State, Series]:
        """The state and the series, for a command that rewrites the series (no rebase unfinished)."""
        self.check_no_rebase()
        state = self.state()
        series = load_series(self.cfg)
        self.require_applied(state, series.digest, hint)
        return state, series

    # -- the user's work ------------------------------------------------

    def dirty(self) -> list[str]:
        """Uncommitted changes, untracked files included (porcelain lines)."""
        return self.repo().status_porcelain()

    def head(self) -> str:
        head = self.repo().rev("HEAD")
        if head is None:
            raise ApplyError(f"{self.path}: HEAD does not point at a commit")
        return head

    def extra_commits(self, state: State) -> list[str]:
        """Commits reachable from HEAD that the series does not account for."""
        g = self.repo()
        out = g("rev-list", "--first-parent", f"{state.tip}..HEAD")
        return out.split() if out else []

    def rebase_in_progress(self) -> tuple[str, str] | None:
        """(message, hint) of an unfinished ``quicken rebase`` (stopped, or killed midway), or None."""
        return rebase_state.banner(self.meta / REBASE_DIR)

    def check_no_rebase(self) -> None:
        """Refuse while ``quicken rebase`` is unfinished (stopped, or killed midway)."""
        found = self.rebase_in_progress()
        if found is not None:
            raise ApplyError(f"{self.path}: {found[0]}", found[1])

    def head_off_series(self, state: State) -> bool:
        """HEAD is not a descendant of the recorded tip (history rewritten)."""
        g = self.repo()
        status, _, _ = g.run("merge-base", "--is-ancestor", state.tip, "HEAD")
        return status != 0


def _remove_trees(paths: list[Path]) -> None:
    for path in paths:
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path, ignore_errors=True)


def read_state(path: Path) -> State:
    """What a work tree was made from, as :func:`write_state` wrote it."""
    data = json.loads(path.read_text())
    patches = [PatchState(**p) for p in data.pop("patches", [])]
    return State(**data, patches=patches)


def write_state(meta: Path, state: State) -> None:
    meta.mkdir(parents=True, exist_ok=True)
    tmp = meta / "state.json.tmp"
    tmp.write_text(json.dumps(asdict(state), indent=1) + "\n")
    os.replace(tmp, meta / "state.json")
