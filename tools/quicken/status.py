"""``quicken status``: pin, work tree, series with per-patch state, builds."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from . import build, records, source, validate, verify
from .config import Config
from .errors import ConfigError, QuickenError
from .series import load as load_series
from .worktree import WorkTree


@dataclass
class PatchLine:
    name: str
    subject: str
    state: str  # applied / changed since apply / not applied
    commit: str | None
    validation: str = "never"
    verification: str = "never"


@dataclass
class BuildLine:
    config: str
    slot: str
    tree: str
    state: str
    python: str


@dataclass
class Status:
    pin: str
    source: str
    worktree: str
    worktree_state: str
    series_error: str | None = None
    patches: list[PatchLine] = field(default_factory=list)
    builds: list[BuildLine] = field(default_factory=list)


def collect(cfg: Config) -> Status:
    cached = source.cached_tarball(cfg)
    st = Status(
        pin=f"CPython {cfg.pin.version} (sha256 {cfg.pin.sha256[:16]}…)",
        source=str(cached) if cached.is_file() else "not fetched (quicken fetch)",
        worktree=str(cfg.worktree),
        worktree_state="not applied (quicken apply)",
    )
    wt = WorkTree(cfg)
    state = wt.state() if wt.exists else None
    try:
        series = load_series(cfg)
    except QuickenError as exc:
        st.series_error = exc.message
        series = None
    heads: dict[str, str] = {}
    if state is not None:
        dirty = wt.dirty()
        rebase = wt.rebase_in_progress()
        # During a rebase HEAD is on the new base: its commits are the rebase's, not work to refresh.
        extra = wt.extra_commits(state) if wt.head() != state.tip and rebase is None else []
        parts = [f"at {wt.head()[:12]}"]
        if rebase is not None:
            parts.append(f"REBASE IN PROGRESS: {rebase[0]} ({rebase[1]})")
        if dirty:
            parts.append(f"{len(dirty)} uncommitted change(s)")
        if extra:
            parts.append(f"{len(extra)} commit(s) to refresh")
        if series is not None and series.digest != state.digest:
            parts.append("patches/ changed since apply (quicken apply)")
        if len(parts) == 1:
            parts.append("clean")
        st.worktree_state = ", ".join(parts)
        heads = {p.name: p.commit for p in state.patches}
    if series is not None:
        recorded = {p.name: p.digest for p in state.patches} if state else {}
        for patch in series.patches:
            if patch.name not in recorded:
                s = "not applied"
            elif recorded[patch.name] != patch.digest:
                s = "changed since apply"
            else:
                s = "applied"
            st.patches.append(PatchLine(patch.name, patch.subject, s, heads.get(patch.name),
                                        validate.standing(cfg, series, patch).describe(),
                                        verify.standing(cfg, series, patch).describe()))
    if state is not None:
        for name in sorted(cfg.build_configs):
            try:
                fixups: list[str] | None = cfg.build_configs[name].fixup_idents
            except ConfigError:
                fixups = None  # a fixup file is missing
            for slot in build.slots(cfg, name):
                stamp = build.read_stamp(slot)
                if stamp is None:
                    st.builds.append(
                        BuildLine(name, slot.name, "-", "failed or incomplete", str(slot / "build.log"))
                    )
                    continue
                current = _current_tree(cfg, slot.name)
                foreign = build.foreign_source(slot)
                if foreign is not None:
                    fresh = f"out of date (configured for {foreign})"
                elif current not in (None, stamp.tree):
                    fresh = "out of date"
                elif fixups is None:
                    fresh = "out of date (a fixup file is missing)"
                elif stamp.fixups != fixups:
                    fresh = "out of date (fixups changed)"
                else:
                    fresh = "up to date"
                st.builds.append(
                    BuildLine(name, slot.name, stamp.tree[:12], fresh, str(slot / "obj" / "python"))
                )
    return st


def migrate_records(cfg: Config) -> list[Path]:
    """Rewrite the series' records of older schemas in this one; returns the files rewritten.

    A record bound to a patch's whole mail is rebound to its code while the mail is unchanged.
    """
    series = load_series(cfg)
    digests = {p.name: (p.digest, p.code_digest) for p in series.patches}
    paths = [records.path_for(cfg.patches, p.name, kind) for p in series.patches
             for kind in ("validation", "verification")]
    return records.migrate([path for path in paths if path.exists()], digests)


def _current_tree(cfg: Config, slot: str) -> str | None:
    if slot not in ("baseline", "patched"):
        return None
    try:
        return build.resolve(cfg, slot)[2]
    except QuickenError:
        return None


def render(st: Status) -> str:
    lines = [
        f"pin:       {st.pin}",
        f"source:    {st.source}",
        f"work tree: {st.worktree} — {st.worktree_state}",
    ]
    if st.series_error:
        lines.append(f"series:    ERROR {st.series_error}")
    else:
        lines.append(f"series:    {len(st.patches)} patch(es)")
        for p in st.patches:
            commit = p.commit[:12] if p.commit else "-" * 12
            lines.append(f"  {commit}  {p.state:20} {p.name}")
            lines.append(f"  {'':12}  validate: {p.validation}")
            lines.append(f"  {'':12}  verify:   {p.verification}")
    lines.append("builds:" + ("" if st.builds else "    none (quicken build)"))
    for b in st.builds:
        lines.append(f"  {b.config:8} {b.slot:20} {b.tree:12}  {b.state:12} {b.python}")
    return "\n".join(lines)
