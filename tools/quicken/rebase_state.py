"""The state of an unfinished ``quicken rebase``, kept across ``--continue``.

One typed record (:class:`RebaseState`), read and written here only, as
``.git/quicken/rebase/state.json`` with a schema version.  The file is
rewritten atomically (fsynced, then renamed) before every step, so a killed
rebase can be continued or aborted; ``message`` and ``hint`` say what every
other command prints while it is unfinished.
"""

from __future__ import annotations

import dataclasses
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .config import Pin
from .errors import QuickenError

#: Version of state.json's layout; 1 is the same layout without ``schema`` (read too).
SCHEMA = 2
STATE_FILE = "state.json"

PHASES = ("prepare", "replay", "stopped", "commit")


@dataclass
class Base:
    """One side of the rebase: its pin and commits (``tip`` is known for the old side only)."""

    version: str
    sha256: str
    git_tag: str
    git_commit: str | None
    pristine: str = ""  # "" until the new base is extracted
    tip: str = ""

    @classmethod
    def of(cls, pin: Pin, pristine: str = "", tip: str = "") -> Base:
        return cls(pin.version, pin.sha256, pin.git_tag, pin.git_commit, pristine, tip)

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> Base:
        return cls(data["version"], data["sha256"], data["git_tag"], data.get("git_commit"),
                   data.get("pristine") or "", data.get("tip") or "")

    @property
    def pin(self) -> Pin:
        return Pin(self.version, self.sha256, self.git_tag, self.git_commit)


@dataclass
class Step:
    """What became of one patch (the outcome as reports name it)."""

    name: str
    outcome: str
    commit: str | None
    detail: str = ""


@dataclass
class Stop:
    """Where the rebase stopped: a conflicted patch, or one already upstream."""

    patch: str
    outcome: str
    files: list[str]
    hunks: list[str]
    detail: str = ""


@dataclass
class RebaseState:
    stamp: str
    old: Base
    new: Base
    patches: list[str]  # the series being replayed, in order
    notes: list[str] = field(default_factory=list)
    source: str | None = None  # --source, to extract the new base from
    drop_upstream: bool = False
    refs: dict[str, str] = field(default_factory=dict)  # Quicken's refs before the rebase
    phase: str = "prepare"
    steps: list[Step] = field(default_factory=list)
    next: int = 0  # index into ``patches`` of the patch to replay next
    parent: str = ""  # the commit the next patch goes on ("" until the new base is extracted)
    switched: bool = False  # the user's work tree shows the rebased series
    stop: Stop | None = None
    seconds: float = 0.0
    message: str = ""
    hint: str = ""

    def add_step(self, step: Step) -> None:
        self.steps.append(step)
        if step.commit:
            self.parent = step.commit
        self.next += 1

    # -- the file -------------------------------------------------------------------

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, **dataclasses.asdict(self)}

    @classmethod
    def from_json(cls, data: dict[str, Any], where: Path) -> RebaseState:
        schema = data.get("schema", 1)
        if schema not in (1, SCHEMA):
            raise QuickenError(f"{where}: rebase state of schema {schema}, this Quicken reads {SCHEMA}",
                               "finish or abort the rebase with the Quicken version that started it")
        try:
            fields = {f.name for f in dataclasses.fields(cls)}
            values = {k: v for k, v in data.items() if k in fields}
            values["old"] = Base.from_json(data["old"])
            values["new"] = Base.from_json(data["new"])
            values["parent"] = data.get("parent") or ""
            values["steps"] = [Step(**s) for s in data.get("steps", [])]
            values["stop"] = Stop(**data["stop"]) if data.get("stop") else None
            state = cls(**values)
        except (KeyError, TypeError) as exc:
            raise QuickenError(f"{where}: unreadable rebase state ({exc})",
                               "'quicken rebase --abort' needs it: restore it, or remove the directory",
                               ) from None
        if state.phase not in PHASES:
            raise QuickenError(f"{where}: unknown rebase phase {state.phase!r}")
        return state

    def save(self, directory: Path) -> None:
        directory.mkdir(parents=True, exist_ok=True)
        tmp = directory / f"{STATE_FILE}.tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(json.dumps(self.to_json(), indent=1) + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, directory / STATE_FILE)


def load(directory: Path) -> RebaseState | None:
    """The state in ``directory``, or None when no rebase is in progress."""
    path = directory / STATE_FILE
    if not path.is_file():
        return None
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except ValueError as exc:
        raise QuickenError(f"{path}: unreadable rebase state ({exc})") from None
    if not isinstance(data, dict):
        raise QuickenError(f"{path}: unreadable rebase state (not an object)")
    return RebaseState.from_json(data, path)


def in_progress(directory: Path) -> bool:
    return (directory / STATE_FILE).is_file()


def banner(directory: Path) -> tuple[str, str] | None:
    """(message, hint) of an unfinished rebase, or None; a damaged state still counts as one.

    Only ``message`` and ``hint`` are read, so that a state this version cannot
    otherwise read (newer, damaged) still says what is going on.
    """
    if not in_progress(directory):
        return None
    generic = "an unfinished quicken rebase", "quicken rebase --continue, --skip or --abort"
    try:
        data = json.loads((directory / STATE_FILE).read_text(encoding="utf-8"))
        message, hint = str(data["message"]), str(data["hint"])
    except (OSError, ValueError, KeyError, TypeError):
        return generic
    if "--continue" not in hint or "--abort" not in hint:
        hint = f"{hint}; {generic[1]}"
    return message, hint
