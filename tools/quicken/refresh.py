"""Stage 3b: write work-tree changes back into patches/ and cpython_overlay/.

Which patch receives what:

* a commit whose subject is a patch's subject is that patch's commit, and so
  is a commit whose subject was reworded, where the next patch's commit is
  due: it keeps the applied commit's author and author date (``git commit
  --amend``, ``reword`` in ``rebase -i``) and no later commit has the patch's
  subject (the patch file keeps its name).  If it
  is not the commit apply made (``git commit --amend``, an edit in ``rebase -i``),
  its difference from that commit goes to the patch, and its message, if
  reworded, becomes the patch's message.  When its parent differs too (an
  earlier patch was rewritten and this one rebased onto it), the commit's own
  diff replaces the patch's: the old diff may not even apply any more;
* ``fixup!``/``squash!``/``amend!`` commits go to the patch they name;
* any other commit goes to the patch whose commit precedes it, except that
  commits after the top patch, and uncommitted changes (untracked files
  included), go to ``--patch`` (default: the top patch).

The new content of every patch is computed by re-running the series in the
scratch tree with those changes folded in (generated files excluded; they are
regenerated).  Files a patch changes in an overlay file stay in the overlay;
files it newly adds become overlay files it owns (``Quicken-Overlay:``
trailer).  The new patches are then applied from scratch once more and must
reproduce the same tree, before anything is written.  The previous work-tree
state is kept under ``refs/quicken/backup/``.
"""

from __future__ import annotations

import dataclasses
import re
import shutil
import tempfile
import time
from collections.abc import Callable, Sequence, Set
from dataclasses import dataclass
from pathlib import Path

from . import apply
from . import series as series_mod
from .config import Config
from .errors import ApplyError
from .gitutil import Git, Identity
from .replay import Diff
from .series import Inputs, Patch, Series, quote_path
from .series import load as load_series
from .transaction import Transaction, backup_ref
from .worktree import PATCH_REFS, WorkTree

Report = Callable[[str], None]
_FIXUP = re.compile(r"^(?:(?:fixup|squash|amend)! )+")


@dataclass(frozen=True)
class RefreshResult:
    changed: list[str]
    backup: str | None


def _subject(g: Git, commit: str) -> str:
    return g("log", "-1", "--format=%s", commit)


Change = tuple[str, str]  # (from, to): the diff between two commits


def _commit_change(commit: str) -> Change:
    """What one commit changes: its parent to itself."""
    return (f"{commit}^", commit)


def _authorship(g: Git, commit: str) -> str:
    """Author and author date: what ``git commit --amend`` and a rebase keep of a commit."""
    return g("log", "-1", "--format=%an%x00%ae%x00%at %ad", commit)


def _message(g: Git, commit: str) -> str:
    return g("log", "-1", "--format=%B", commit).strip() + "\n"


@dataclass(frozen=True)
class Attribution:
    changes: dict[str, list[Change]]  # patch name -> the user's changes that belong to it, oldest first
    fresh: list[str]  # with ``new``: commits after the top patch, each to become a patch of its own
    reworded: dict[str, str]  # patch name -> the new message of a reworded patch commit
    rebased: dict[str, str]  # patch name -> the applied commit of a patch whose commit has a new parent


def attribute(
    g: Git, series: Series, pristine: str, target: Patch | None, new: bool = False
) -> Attribution:
    """Which of the user's commits (and rewritten patch commits) belong to which patch.

    A change is a commit (``commit^``, ``commit``), or for a rewritten patch
    commit (the applied commit, the rewritten one); for a rebased patch commit
    it is (``commit^``, ``commit``): its whole diff, which replaces the patch's.
    """
    chain = g("rev-list", "--first-parent", "--reverse", f"{pristine}..HEAD").split()
    by_subject = {p.subject: p for p in series.patches}
    applied = {ref[len(PATCH_REFS):]: sha for ref, sha in g.refs(PATCH_REFS).items()}
    expected = list(series.patches)
    extras: dict[str, list[Change]] = {p.name: [] for p in series.patches}
    reworded: dict[str, str] = {}
    rebased: dict[str, str] = {}
    current: Patch | None = None
    fresh: list[str] = []
    subjects = [_subject(g, commit) for commit in chain]
    for at, (commit, subject) in enumerate(zip(chain, subjects, strict=True)):
        if expected and (subject == expected[0].subject
                         or _reworded_commit(g, commit, subject, applied.get(expected[0].name),
                                             expected[0].subject, subjects[at + 1:])):
            current = expected.pop(0)
            original = applied.get(current.name)
            if original and original != commit:
                message = _message(g, commit)
                if message != _message(g, original):
                    reworded[current.name] = message
                if g.rev(f"{original}~1^{{tree}}") == g.rev(f"{commit}~1^{{tree}}"):
                    extras[current.name].append((original, commit))
                else:  # rebased onto rewritten history: its own diff is the patch's new diff
                    rebased[current.name] = original
                    extras[current.name].append(_commit_change(commit))
            continue
        if _FIXUP.match(subject):
            aimed = _FIXUP.sub("", subject)
            if aimed not in by_subject:
                raise ApplyError(f"commit {commit[:12]} ({subject!r}) names no patch of the series")
            extras[by_subject[aimed].name].append(_commit_change(commit))
            continue
        if not expected and new:
            fresh.append(commit)
            continue
        owner = target if not expected else current
        if owner is None:
            raise ApplyError(
                f"commit {commit[:12]} ({subject!r}) comes before the first patch's commit",
                "move it after a patch commit, make it a fixup! commit, or use --new",
            )
        extras[owner.name].append(_commit_change(commit))
    if expected:
        raise ApplyError(
            f"the work tree's history has no commit for {expected[0].name} ({expected[0].subject!r})",
            "keep each patch's commit (reword it with 'git commit --amend' or 'git rebase -i', which keep "
            "its author and date), or re-apply with 'quicken apply --save-to BRANCH'",
        )
    return Attribution(extras, fresh, reworded, rebased)


def _reworded_commit(
    g: Git, commit: str, subject: str, original: str | None, old_subject: str, later: list[str]
) -> bool:
    """Whether ``commit`` (``subject``), due to be a patch's commit, is that patch's applied commit
    ``original`` with its subject reworded: not a ``fixup!`` commit, the same author and author date,
    and no later commit with the patch's subject ``old_subject``."""
    return (original is not None and not _FIXUP.match(subject) and old_subject not in later
            and _authorship(g, commit) == _authorship(g, original))


def new_patch(cfg: Config, g: Git, commit: str, number: int) -> Patch:
    """A patch made from a work-tree commit (its content comes in as an extra)."""
    subject = _subject(g, commit)
    slug = re.sub(r"[^A-Za-z0-9]+", "-", subject).strip("-").lower()[:52].rstrip("-") or "patch"
    name = f"{number:04d}-{slug}.patch"
    message = _message(g, commit)
    name_, email, date = g("log", "-1", "--format=%an%x00%ae%x00%aD", commit).split("\0")
    return Patch(
        name, cfg.patches / name, subject, Identity(name_, email, date), message, _trailers(message), "", (),
        b"",
    )


def _trailers(message: str) -> tuple[series_mod.Trailer, ...]:
    lines = message.splitlines(keepends=True)
    return tuple(series_mod.parse_trailers(lines, 1, len(lines)))


def _reworded(patch: Patch, message: str) -> Patch:
    """``patch`` with the message of its rewritten commit (trailers parsed again)."""
    return dataclasses.replace(patch, message=message, trailers=_trailers(message))


def _exclusions(cfg: Config) -> list[str]:
    return [f":(exclude,glob){pat}" for rule in cfg.regen for pat in rule.outputs]


def _diff(g: Git, old: str, new: str, cfg: Config, what: str, paths: Sequence[str] | None = None) -> Diff:
    """The change from ``old`` to ``new`` (in ``paths``), generated files left out (they are regenerated)."""
    specs = ["."] if paths is None else [f":(literal){p}" for p in paths]
    text = g("diff", "--binary", "--full-index", "--no-renames", old, new, "--", *specs, *_exclusions(cfg),
             strip=False)
    return Diff.of_text(text, what)


def _filtered_tree(g: Git, parent: str, commit: str, excluded: set[str], workdir: Path) -> str:
    """``commit``'s tree with ``excluded`` paths as they are in ``parent``."""
    tmp = g.with_tree(workdir, workdir / "format.index")
    tmp("read-tree", commit)
    for path in sorted(excluded):
        entry = g("ls-tree", "--full-tree", parent, "--", path)
        if entry:
            info = workdir / "index-info"
            info.write_text(entry + "\n")
            tmp("update-index", "--index-info", stdin=info)
        else:
            tmp("update-index", "--force-remove", "--", path)
    return tmp("write-tree")


def format_mail(
    cfg: Config, g: Git, patch: Patch, parent: str, commit: str, overlay: list[str], workdir: Path
) -> tuple[bytes, list[str]]:
    """The patch mail for ``commit`` and the overlay files it owns."""
    changed = g.changed_paths(parent, commit)
    before, after = (set(filter(None, g("ls-tree", "-r", "-z", "--name-only", "--full-tree", rev,
                                        strip=False).split("\0"))) for rev in (parent, commit))
    diffed_adds = {f.path for f in patch.files if f.added}
    owned = {p for p in overlay if p in after}
    for path in changed:
        if path in after and path not in before and path not in diffed_adds and not cfg.is_generated(path):
            owned.add(path)  # a new file: its body belongs in the overlay
    excluded = {p for p in changed if cfg.is_generated(p) or p in owned or p in overlay}
    tree = _filtered_tree(g, parent, commit, excluded, workdir)
    message = patch.message
    if owned != set(overlay):
        kept = [ln for ln in message.rstrip("\n").split("\n") if not ln.startswith("Quicken-Overlay:")]
        while kept and not kept[-1].strip():  # the blank line before an overlay-only trailer block
            kept.pop()
        lines = [f"Quicken-Overlay: {quote_path(p)}" for p in sorted(owned)]
        has_trailers = any(t.key.lower() != "quicken-overlay" for t in patch.trailers)
        message = "\n".join(kept + ([] if has_trailers or not lines else [""]) + lines) + "\n"
    temp = g.commit_tree(tree, parent, message, patch.author)
    mail = g(
        "format-patch",
        "-1",
        "--always",
        "--stdout",
        "--zero-commit",
        "--no-signature",
        "--no-numbered",
        "--no-renames",
        "--full-index",
        "--binary",
        temp,
        strip=False,
    )
    return mail.encode("utf-8"), sorted(owned)


def run(
    cfg: Config, target: str | None = None, new: bool = False, report: Report = lambda _: None
) -> RefreshResult:
    wt = WorkTree(cfg)
    g = wt.repo()
    with wt.lock():
        state, series = wt.applied_series(
            "keep the work tree with 'quicken apply --save-to BRANCH', or revert the edits in patches/")
        goal = series.patch(target) if target else (series.patches[-1] if series.patches else None)
        found = attribute(g, series, state.pristine, goal, new)
        extras_commits, fresh, reworded = found.changes, found.fresh, found.reworded
        if reworded:
            series = dataclasses.replace(series, patches=tuple(
                _reworded(p, reworded[p.name]) if p.name in reworded else p for p in series.patches))
        dirty = wt.dirty()
        if not dirty and not fresh and not any(extras_commits.values()):
            return RefreshResult([], None)
        if fresh:
            made = [new_patch(cfg, g, c, len(series.patches) + i) for i, c in enumerate(fresh, 1)]
            for patch, commit in zip(made, fresh, strict=True):
                if (cfg.patches / patch.name).exists():
                    raise ApplyError(f"{cfg.patches / patch.name}: exists already", "rename or remove it")
                extras_commits[patch.name] = [_commit_change(commit)]
            series = dataclasses.replace(series, patches=series.patches + tuple(made))
        if goal is None:
            goal = series.patches[-1] if series.patches else None
        if goal is None:
            raise ApplyError(
                "the series is empty: there is no patch to write changes into",
                "commit your change in the work tree and run 'quicken refresh --new'",
            )
        workdir = Path(tempfile.mkdtemp(prefix="quicken-refresh-"))
        try:
            return _refresh(cfg, wt, g, state.pristine, series, goal, extras_commits, found.rebased,
                            set(reworded), bool(dirty), workdir, report)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)


def _refresh(
    cfg: Config,
    wt: WorkTree,
    g: Git,
    pristine: str,
    series: Series,
    goal: Patch | None,
    extras_commits: dict[str, list[Change]],
    rebased: dict[str, str],
    reworded: Set[str],
    dirty: bool,
    workdir: Path,
    report: Report,
) -> RefreshResult:
    extras: dict[str, list[Diff]] = {}
    for name, original in rebased.items():
        # The rebased commit's diff adds the overlay files the patch owns, which
        # replay has already put in place: take them out first, as they were applied.
        owned = series.overlay_of(series.patch(name))
        if owned:
            extras[name] = [_diff(g, original, f"{original}~1", cfg, "its overlay files", owned)]
    for name, changes in extras_commits.items():
        for old, new in changes:
            diff = _diff(g, old, new, cfg, f"commit {new[:12]}")
            if diff.text or name in rebased:  # a commit only re-made (by a rebase) changes nothing
                extras.setdefault(name, []).append(diff)
    current = g.snapshot()
    if dirty:
        assert goal is not None
        extras.setdefault(goal.name, []).append(_diff(g, "HEAD", current, cfg, "uncommitted changes"))
    report("fold changes into the series")
    scratch = apply.prepare_scratch(wt, pristine)
    folded = apply.apply_series(cfg, scratch, pristine, series, extras, report,
                                own_diff_replaced=set(rebased))

    # New patch files and overlay contents, staged in a copy of the project's inputs.
    tx = Transaction(workdir / "stage", Inputs.of(cfg))
    parent = pristine
    for patch, commit in folded:
        if extras.get(patch.name) or patch.name in reworded:
            mail, owned = format_mail(cfg, g, patch, parent, commit, series.overlay_of(patch), workdir)
            if not patch.raw:
                tx.append_patch(patch.name)
            tx.write_patch(patch.name, mail)
            for rel in owned:
                tx.write_overlay(rel, g.blob(f"{commit}:{rel}"))
            for rel in series.overlay_of(patch):
                if rel not in owned:  # the user deleted it
                    tx.remove_overlay(rel)
        parent = commit
    report("re-apply the refreshed series")
    mismatch = ApplyError(
        "refresh could not reproduce the work tree from the new patches; nothing written",
        "please report this with the output of 'git -C work/cpython log --stat'",
    )
    commits = tx.verify(cfg, wt, pristine, g.tree_of(folded[-1][1]), report, mismatch)

    # Commit point: keep the old state, write files, move the work tree.
    saved = g("rev-parse", "HEAD")
    if dirty:
        saved = g.commit_tree(
            current, saved, "quicken refresh: work tree before refresh\n", apply.PIN_IDENTITY
        )
    backup = backup_ref(g, "refresh", time.strftime("%Y%m%d-%H%M%S"), saved)
    written = tx.commit()
    apply.finish(cfg, g, load_series(cfg), pristine, commits, old_head=saved, discard=True)
    changed = [_shown(cfg, w.path) + (" (removed)" if w.removed else "") for w in written]
    return RefreshResult(changed, backup)


def _shown(cfg: Config, path: Path) -> str:
    return str(path.relative_to(cfg.root)) if path.is_relative_to(cfg.root) else str(path)
