"""quicken.rebase_state: the typed, versioned state of an unfinished rebase."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from quicken import rebase_state
from quicken.config import Pin
from quicken.errors import QuickenError
from quicken.rebase_state import SCHEMA, Base, RebaseState, Step, Stop

OLD = Pin("3.99.0", "a" * 64, "v3.99.0", None)
NEW = Pin("3.99.1", "b" * 64, "v3.99.1", "c" * 40)


def sample() -> RebaseState:
    state = RebaseState("20270101-000000", Base.of(OLD, "1" * 40, "2" * 40), Base.of(NEW),
                        ["0001-a.patch", "0002-b.patch"], ["sha256 as given"], None, False,
                        {"refs/heads/quicken": "2" * 40})
    state.parent = "3" * 40
    state.add_step(Step("0001-a.patch", "clean", "4" * 40))
    state.stop = Stop("0002-b.patch", "conflicted", ["Python/ceval.c"], ["Python/ceval.c @@ -1,3 +1,4 @@"])
    state.phase = "stopped"
    state.message, state.hint = "stopped", "--continue or --abort"
    return state


def test_round_trip_with_a_schema_version(tmp_path: Path) -> None:
    state = sample()
    state.save(tmp_path)
    data = json.loads((tmp_path / "state.json").read_text())
    assert data["schema"] == SCHEMA and data["next"] == 1 and data["phase"] == "stopped"
    assert data["parent"] == "4" * 40  # add_step moved it to the new commit
    loaded = rebase_state.load(tmp_path)
    assert loaded == state
    assert loaded is not None and loaded.new.pin == NEW and loaded.old.tip == "2" * 40
    assert not (tmp_path / "state.json.tmp").exists()


def test_the_first_layout_is_read(tmp_path: Path) -> None:
    """Rebases started before the schema field (``format: 1``, None for unknown commits) continue."""
    old = {"version": "3.99.0", "sha256": "a" * 64, "git_tag": "v3.99.0", "git_commit": None,
           "pristine": "1" * 40, "tip": "2" * 40}
    new = {"version": "3.99.1", "sha256": "b" * 64, "git_tag": "v3.99.1", "git_commit": None,
           "pristine": None}
    data = {"format": 1, "stamp": "s", "phase": "prepare", "old": old, "new": new, "notes": [],
            "source": None, "drop_upstream": True, "patches": ["0001-a.patch"], "steps": [], "next": 0,
            "parent": None,
            "switched": False, "stop": None, "refs": {}, "seconds": 0.0, "message": "m", "hint": "h"}
    (tmp_path / "state.json").write_text(json.dumps(data))
    state = rebase_state.load(tmp_path)
    assert state is not None and state.new.pristine == "" and state.parent == "" and state.drop_upstream


def test_no_state_is_no_rebase(tmp_path: Path) -> None:
    assert rebase_state.load(tmp_path) is None
    assert rebase_state.banner(tmp_path) is None
    assert not rebase_state.in_progress(tmp_path)


@pytest.mark.parametrize(("text", "match"), [
    ('{"schema": 99, "message": "stopped", "hint": "h"}', "schema 99"),
    ("[]", "not an object"),
    ("{", "unreadable rebase state"),
    ('{"schema": 2, "stamp": "s"}', "unreadable rebase state"),
])
def test_damaged_or_newer_states_are_refused(tmp_path: Path, text: str, match: str) -> None:
    (tmp_path / "state.json").write_text(text)
    with pytest.raises(QuickenError, match=match):
        rebase_state.load(tmp_path)
    assert rebase_state.banner(tmp_path) in {
        ("an unfinished quicken rebase", "quicken rebase --continue, --skip or --abort"),
        ("stopped", "h; quicken rebase --continue, --skip or --abort")}


def test_banner_adds_the_way_out(tmp_path: Path) -> None:
    state = sample()
    state.hint = "resolve the conflicts"
    state.save(tmp_path)
    assert rebase_state.banner(tmp_path) == (
        "stopped", "resolve the conflicts; quicken rebase --continue, --skip or --abort")
