"""Fuzzing the readers: mutated patch mails, series files and configs (seeded, thousands of cases).

Every case ends in success or a QuickenError (one line, no traceback) -- never another exception --
and nothing is written outside the project's work directories.
"""

from __future__ import annotations

import copy
import os
import shutil
import tomllib
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import synthetic as S
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from quicken import apply, config, series
from quicken.errors import QuickenError

FUZZ = settings(derandomize=True, deadline=None, database=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])

#: Fragments that matter to the readers: line ends, bad bytes, quoting, diff and mail syntax, trailers.
TOKENS = [
    b"\r\n", b"\r", b"\n", b"\n\n", b"\xff", b"\xe9", b"\xc3", b"\x00", b"\x0c", b'"', b"\\", b"\t", b" ",
    b"diff --git ", b"diff --git a/x b/x\n", b'diff --git "a/\\303\\251" "b/\\303\\251"\n', b"a/../",
    b"/etc/passwd",
    b"a/.git/config", b"@@ -1,2 +1,3 @@\n", b"@@ -0,0 +1 @@\n", b"--- ", b"+++ ", b"--- /dev/null\n",
    b"\\ No newline at end of file\n", b"new file mode 100644\n", b"deleted file mode 100644\n",
    b"GIT binary patch\n", b"rename from x\n", b"-- \n", b"---\n", b"Quicken-Threshold: ", b"150%", b"abc",
    b"Quicken-Overlay: ", b"Quicken-Magic: maybe", b"Quicken-Upstream: ",
    b"Content-Type: text/plain; charset=",
    b"ISO-8859-1", b"x-unknown", b"Content-Transfer-Encoding: base64\n", b"=?utf-8?q?=C3?=", b"From: ",
    b"Date: ", b"Subject: ", b"From 0000000000000000000000000000000000000000 Mon Sep 17 00:00:00 2001\n",
    b"<", b">", b"#", b"-p1", b"-p0", b"../", b"0001", b".patch",
]


def _lines(data: bytes) -> list[bytes]:
    return data.split(b"\n")


@st.composite
def mutated(draw: st.DrawFn, base: bytes) -> bytes:
    """``base`` with one to four byte- or line-level edits."""
    data = base
    for _ in range(draw(st.integers(1, 4))):
        op = draw(st.sampled_from(["insert", "delete", "replace", "line", "dup", "drop", "truncate", "crlf"]))
        at = draw(st.integers(0, len(data)))
        if op == "insert":
            data = data[:at] + draw(st.sampled_from(TOKENS) | st.binary(max_size=8)) + data[at:]
        elif op == "delete":
            data = data[:at] + data[at + draw(st.integers(1, 40)):]
        elif op == "replace":
            data = data[:at] + draw(st.binary(min_size=1, max_size=4)) + data[at + 1:]
        elif op == "truncate":
            data = data[:at]
        elif op == "crlf":
            data = data.replace(b"\n", b"\r\n")
        else:
            lines = _lines(data)
            i = draw(st.integers(0, len(lines) - 1))
            if op == "line":
                lines[i] = draw(st.sampled_from(TOKENS)).rstrip(b"\n") + lines[i][draw(st.integers(0, 6)):]
            elif op == "dup":
                lines.insert(i, lines[i])
            else:
                del lines[i]
            data = b"\n".join(lines)
    return data


def listing(root: Path) -> dict[str, tuple[int, int]]:
    """Every file under ``root`` (outside work/) with its size and mtime."""
    found: dict[str, tuple[int, int]] = {}
    for top, dirs, files in os.walk(root):
        dirs[:] = [d for d in dirs if Path(top, d) != root / "work"]
        for name in files:
            st_ = os.lstat(Path(top, name))
            found[str(Path(top, name).relative_to(root))] = (st_.st_size, st_.st_mtime_ns)
    return found


@pytest.fixture
def fuzz_project(make_project: Callable[..., S.Project], two_patches: list[S.Mail]) -> Iterator[S.Project]:
    """A project with a valid two-patch series, and a check that nothing outside work/ changed."""
    project = make_project(two_patches)
    before = listing(project.root.parent)
    yield project
    after = listing(project.root.parent)
    inputs = (f"{project.root.name}/patches/", f"{project.root.name}/quicken.toml")  # what the cases rewrite
    changed = {k for k in set(before) | set(after) if before.get(k) != after.get(k)}
    assert {k for k in changed if not k.startswith(inputs)} == set()


def expect_quicken_error(call: Callable[[], object]) -> None:
    try:
        call()
    except QuickenError as exc:
        assert exc.message and "\n" not in exc.message, exc.message
    # any other exception propagates and fails the case


def test_fuzz_patch_mails(fuzz_project: S.Project, two_patches: list[S.Mail]) -> None:
    target = fuzz_project.patches / "fuzz.patch"
    bases = [m.data for m in two_patches]

    @settings(FUZZ, max_examples=1500)
    @given(st.sampled_from(bases).flatmap(mutated))
    def case(data: bytes) -> None:
        target.write_bytes(data)
        expect_quicken_error(lambda: series.parse_patch(target))

    case()
    target.unlink()


def test_fuzz_series_files(fuzz_project: S.Project) -> None:
    series_file = fuzz_project.patches / "series"
    base = series_file.read_bytes()
    cfg = fuzz_project.cfg()

    @settings(FUZZ, max_examples=600)
    @given(mutated(base))
    def case(data: bytes) -> None:
        series_file.write_bytes(data)
        expect_quicken_error(lambda: series.load(cfg))

    case()
    series_file.write_bytes(base)


def test_fuzz_config_text(fuzz_project: S.Project) -> None:
    path = fuzz_project.config_file
    base = path.read_bytes()

    @settings(FUZZ, max_examples=800)
    @given(mutated(base))
    def case(data: bytes) -> None:
        path.write_bytes(data)
        expect_quicken_error(lambda: config.load(fuzz_project.root))

    case()
    path.write_bytes(base)


TOML_SCALARS = (st.text(max_size=12) | st.integers(-(2**63), 2**63 - 1) | st.booleans()
                | st.floats(allow_nan=True) | st.sampled_from(["release", "cache", "3.99.0", "0" * 64]))
TOML_VALUES = st.recursive(TOML_SCALARS, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.text(max_size=8), inner, max_size=3), max_leaves=6)


def _paths(data: Any, prefix: tuple[str, ...] = ()) -> Iterator[tuple[str, ...]]:
    if isinstance(data, dict):
        for key, value in data.items():
            yield (*prefix, key)
            yield from _paths(value, (*prefix, key))


def test_fuzz_config_values(fuzz_project: S.Project) -> None:
    """Structural mutations: any key set to any TOML value, keys dropped, unknown keys added."""
    base = tomllib.loads(fuzz_project.config_file.read_text())
    paths = sorted(_paths(base))
    names = sorted({p[-1] for p in paths} | {"jbos", "bulid", "stress", "verify"})

    @settings(FUZZ, max_examples=1500)
    @given(st.lists(st.tuples(st.sampled_from(paths), st.sampled_from(["set", "drop", "add"]),
                              st.sampled_from(names), TOML_VALUES), min_size=1, max_size=3))
    def case(edits: list[tuple[tuple[str, ...], str, str, object]]) -> None:
        data = copy.deepcopy(base)
        for path, op, name, value in edits:
            node: Any = data
            for key in path[:-1]:
                node = node.get(key) if isinstance(node, dict) else None
            if not isinstance(node, dict):
                continue
            if op == "set":
                node[path[-1]] = value
            elif op == "drop":
                node.pop(path[-1], None)
            else:
                node[name] = value
        expect_quicken_error(lambda: config.parse(fuzz_project.root, data))

    case()


def test_fuzz_apply_writes_only_work(fuzz_project: S.Project, two_patches: list[S.Mail]) -> None:
    """A few mutated mails go all the way through apply: a QuickenError or a work tree, nothing else."""
    fuzz_project.apply()
    target = fuzz_project.patches / two_patches[1].name
    base = target.read_bytes()

    @settings(FUZZ, max_examples=40)
    @given(mutated(base))
    def case(data: bytes) -> None:
        target.write_bytes(data)
        expect_quicken_error(lambda: apply.run(fuzz_project.cfg()))
        if not fuzz_project.worktree.is_dir():  # a refused first apply leaves nothing behind
            assert not list(fuzz_project.worktree.parent.glob(".cpython.new-*"))

    try:
        case()
    finally:
        target.write_bytes(base)
        shutil.rmtree(fuzz_project.root / "work", ignore_errors=True)
