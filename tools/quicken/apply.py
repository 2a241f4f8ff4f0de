"""Stage 3: materialize pin + overlay + series as a git work tree.

Everything is built aside first: the first time in a new directory that is
renamed into place on success, afterwards in a scratch work tree inside the
repository (``.git/quicken/scratch``, its own index) while the user's work
tree stays untouched.  Only when every patch applied and every generator ran
does the ``quicken`` branch move and the work tree switch to it, rewriting
only the files that changed (so builds stay incremental).
"""

from __future__ import annotations

import os
import shutil
import tempfile
import time
from collections.abc import Callable, Mapping, Sequence, Set
from dataclasses import dataclass
from pathlib import Path

from . import regen, source
from .config import Config
from .errors import ApplyError, DirtyTreeError, QuickenError
from .gitutil import PIN_IDENTITY, Git, Identity, init_repo
from .replay import STRICT, Diff, Engine, Mismatch, Replayed
from .series import Patch, Series
from .series import load as load_series
from .worktree import BRANCH, PATCH_REFS, PatchState, State, WorkTree, pin_tag, write_state

Report = Callable[[str], None]


@dataclass(frozen=True)
class Result:
    state: State
    noop: bool
    saved_branch: str | None = None


def _quiet(_: str) -> None:
    pass


# -- the engine ---------------------------------------------------------------


def commit_pristine(cfg: Config, g: Git, archive: source.Source, report: Report) -> str:
    """Extract the verified release into ``g``'s work tree and commit it."""
    assert g.work_tree is not None
    report(f"extract {archive.path.name}")
    source.extract(archive.path, g.work_tree)
    g("add", "-A", "-f", ".")
    tree = g("write-tree")
    message = (
        f"CPython {cfg.pin.version} (pristine)\n\n"
        f"Quicken-Pin: {cfg.pin.version}\nQuicken-Source: {archive.digest}\n"
    )
    commit = g.commit_tree(tree, None, message, PIN_IDENTITY)
    g.update_ref(pin_tag(cfg.pin.version), commit)
    return commit


def pristine_commit(cfg: Config, g: Git) -> str | None:
    """The pin's commit if this repository already has it, verified."""
    commit = g.rev(pin_tag(cfg.pin.version) + "^{commit}")
    if commit is None:
        return None
    message = g("log", "-1", "--format=%B", commit)
    expected = {f"Quicken-Source: sha256:{cfg.pin.sha256}"}
    if cfg.pin.git_commit:
        expected.add(f"Quicken-Source: git:{cfg.pin.git_commit}")
    return commit if any(line.strip() in expected for line in message.splitlines()) else None


def apply_series(
    cfg: Config,
    scratch: Git,
    pristine: str,
    series: Series,
    extras: Mapping[str, Sequence[Diff]] | None = None,
    report: Report = _quiet,
    overlay: Path | None = None,
    own_diff_replaced: Set[str] = frozenset(),
) -> list[tuple[Patch, str]]:
    """Commit every patch of ``series`` on top of ``pristine`` in ``scratch``.

    ``scratch`` must hold ``pristine`` checked out (index and files); the
    overlay files come from ``overlay`` (default: the project's).  ``extras``
    are more diffs to fold into a patch, after its own, or instead of it for
    the patches named in ``own_diff_replaced`` (used by refresh).
    Returns (patch, commit) in series order.
    """
    cache = regen.RegenCache(scratch.git_dir, regen.cache_key(cfg))
    extras = extras or {}
    parent = pristine
    done: list[tuple[Patch, str]] = []
    with tempfile.TemporaryDirectory(prefix="quicken-apply-") as tmp:
        engine = Engine(cfg, scratch, Path(tmp), overlay or cfg.overlay, STRICT, cache, report)
        for index, patch in enumerate(series.patches, 1):
            report(f"[{index}/{len(series.patches)}] {patch.name}")
            own = [] if patch.name in own_diff_replaced else [Diff.of_patch(patch)]
            diffs = [*own, *extras.get(patch.name, ())]
            result = engine.replay(parent, patch, series.overlay_of(patch), diffs)
            if result.commit is None:
                raise _does_not_apply(patch, result)
            parent = result.commit
            done.append((patch, parent))
    return done


def _does_not_apply(patch: Patch, result: Replayed) -> ApplyError:
    failed = result.failed
    assert failed is not None
    where = patch.name + (f" ({failed.what})" if failed.what else "")
    first = result.mismatches[0] if result.mismatches else None
    if first is not None and first.problem == "no such file":
        first = Mismatch(first.path, "", first.problem)
    detail = str(first) if first else (result.error.strip().splitlines() or ["git apply failed"])[0]
    return ApplyError(
        f"{where} does not apply: {detail}",
        f"the work tree is unchanged; fix the hunk in {patch.path} "
        f"(or apply it by hand with 'git apply --3way' on top of the previous patch and run "
        f"'quicken refresh --patch {patch.name}')",
    )


# -- the command ----------------------------------------------------------------


def describe_dirty(entries: list[str], extra: list[str]) -> str:
    parts = []
    if entries:
        parts.append(f"{len(entries)} uncommitted change(s) (first: {entries[0][3:]})")
    if extra:
        parts.append(f"{len(extra)} commit(s) not written back to patches/")
    return " and ".join(parts)


def check_branch_name(g: Git, name: str) -> None:
    status, _, _ = g.run("check-ref-format", "--branch", name)
    if status != 0 or name == BRANCH:
        raise QuickenError(f"--save-to {name!r}: not a usable branch name")
    if g.rev(f"refs/heads/{name}") is not None:
        raise QuickenError(f"--save-to {name}: branch already exists", "choose a new branch name")


def save_work(g: Git, branch: str) -> str:
    """Commit HEAD plus every uncommitted change onto a new branch."""
    tree = g.snapshot()
    head = g("rev-parse", "HEAD")
    commit = head
    if tree != g.tree_of(head):
        # git reads GIT_*_DATE strictly: "now" is refused, the raw "<epoch> <tz>" form is not.
        who = Identity(PIN_IDENTITY.name, PIN_IDENTITY.email, f"{int(time.time())} +0000")
        commit = g.commit_tree(tree, head, "quicken apply: saved uncommitted work\n", who)
    g.update_ref(f"refs/heads/{branch}", commit)
    return commit


def prepare_scratch(wt: WorkTree, pristine: str) -> Git:
    """The scratch tree, holding ``pristine``; updated incrementally when possible."""
    g = wt.repo()
    scratch_dir = wt.meta / "scratch"
    marker = wt.meta / "scratch.tree"
    scratch = g.with_tree(scratch_dir, wt.meta / "scratch.index")
    target = g.tree_of(pristine)
    previous = marker.read_text().strip() if marker.is_file() else None
    marker.unlink(missing_ok=True)  # invalid until this run completes
    if previous and scratch_dir.is_dir() and g.rev(previous) is not None:
        status, _, _ = scratch.run("read-tree", "-m", "-u", previous, target)
        if status == 0 and not scratch.unstaged_paths():
            return scratch
    scratch_dir.mkdir(parents=True, exist_ok=True)
    scratch("read-tree", "--reset", "-u", target)
    scratch("clean", "-f", "-d", "-x", "-q")
    return scratch


def mark_scratch(wt: WorkTree, tree: str) -> None:
    (wt.meta / "scratch.tree").write_text(tree + "\n")


def run(
    cfg: Config,
    save_to: str | None = None,
    source_path: Path | None = None,
    report: Report = _quiet,
    series: Series | None = None,
    extras: Mapping[str, Sequence[Diff]] | None = None,
    allow_user_work: bool = False,
) -> Result:
    series = series or load_series(cfg)
    wt = WorkTree(cfg)
    if wt.git is None and cfg.worktree.exists() and any(cfg.worktree.iterdir()):
        raise ApplyError(
            f"{cfg.worktree}: exists and is not a Quicken work tree",
            "move it away, or set paths.worktree in quicken.toml",
        )
    if wt.git is not None and not wt.exists:
        raise ApplyError(
            f"{cfg.worktree}: a git repository that Quicken did not create",
            "move it away, or set paths.worktree in quicken.toml",
        )
    with wt.lock():
        for stale in wt.clean_temporaries():
            report(f"removed {stale.name}, left by an interrupted apply")
        if not wt.exists:
            return _first_apply(cfg, series, source_path, report)
        wt.check_no_rebase()
        return _reapply(cfg, wt, series, save_to, source_path, report, extras, allow_user_work)


def _first_apply(cfg: Config, series: Series, source_path: Path | None, report: Report) -> Result:
    archive = source.fetch(cfg, source_path, report)
    parent = cfg.worktree.parent
    parent.mkdir(parents=True, exist_ok=True)
    new = Path(tempfile.mkdtemp(prefix=f".{cfg.worktree.name}.new-", dir=parent))
    try:
        g = init_repo(new)
        pristine = commit_pristine(cfg, g, archive, report)
        commits = apply_series(cfg, g, pristine, series, report=report)
        state = finish(cfg, g, series, pristine, commits, old_head=None)
        os.rename(new, cfg.worktree)
    except BaseException:
        shutil.rmtree(new, ignore_errors=True)
        raise
    return Result(state, noop=False)


def _reapply(
    cfg: Config,
    wt: WorkTree,
    series: Series,
    save_to: str | None,
    source_path: Path | None,
    report: Report,
    extras: Mapping[str, Sequence[Diff]] | None,
    allow_user_work: bool,
) -> Result:
    g = wt.repo()
    state = wt.state()
    dirty = wt.dirty()
    head = wt.head()
    extra = [] if head == state.tip else wt.extra_commits(state)
    off_series = head != state.tip and wt.head_off_series(state)
    user_work = bool(dirty or extra or off_series)
    if not user_work and state.digest == series.digest and head == state.tip:
        return Result(state, noop=True)
    if user_work and not allow_user_work:
        if save_to is None:
            what = describe_dirty(dirty, extra) or "HEAD moved off the series"
            raise DirtyTreeError(
                f"{cfg.worktree}: {what}",
                "write them back with 'quicken refresh', or keep them on a branch with "
                "'quicken apply --save-to BRANCH'",
            )
        check_branch_name(g, save_to)
    pristine = pristine_commit(cfg, g)
    scratch: Git
    if pristine is None:
        archive = source.fetch(cfg, source_path, report)
        scratch = g.with_tree(wt.meta / "scratch", wt.meta / "scratch.index")
        (wt.meta / "scratch.tree").unlink(missing_ok=True)
        shutil.rmtree(wt.meta / "scratch", ignore_errors=True)
        (wt.meta / "scratch.index").unlink(missing_ok=True)
        (wt.meta / "scratch").mkdir(parents=True)
        pristine = commit_pristine(cfg, scratch, archive, report)
    else:
        scratch = prepare_scratch(wt, pristine)
    commits = apply_series(cfg, scratch, pristine, series, extras, report)
    tip = commits[-1][1] if commits else pristine
    mark_scratch(wt, g.tree_of(tip))
    saved = None
    if user_work and save_to is not None:
        save_work(g, save_to)
        saved = save_to
    new_state = finish(cfg, g, series, pristine, commits, old_head=head, discard=user_work)
    return Result(new_state, noop=False, saved_branch=saved)


def finish(
    cfg: Config,
    g: Git,
    series: Series,
    pristine: str,
    commits: list[tuple[Patch, str]],
    old_head: str | None,
    discard: bool = False,
) -> State:
    """Point the branch, refs and work tree at the new commits."""
    tip = commits[-1][1] if commits else pristine
    g.update_ref(f"refs/heads/{BRANCH}", tip)
    g("symbolic-ref", "HEAD", f"refs/heads/{BRANCH}")
    if old_head is None:
        pass  # the first apply built the commits in this very work tree
    elif discard:
        g("read-tree", "--reset", "-u", tip)
        g("clean", "-f", "-d", "-q")
    else:
        g("read-tree", "-m", "-u", old_head, tip)
    wanted = {f"{PATCH_REFS}{p.name}": c for p, c in commits}
    for ref in g.refs(PATCH_REFS):
        if ref not in wanted:
            g.delete_ref(ref)
    for ref, commit in wanted.items():
        g.update_ref(ref, commit)
    state = State(
        digest=series.digest,
        version=cfg.pin.version,
        sha256=cfg.pin.sha256,
        pristine=pristine,
        tip=tip,
        patches=[PatchState(p.name, c, p.digest, p.subject) for p, c in commits],
    )
    write_state(g.git_dir / "quicken", state)
    return state
