"""Regenerate CPython's generated files with CPython's own generators.

Which generators run is decided by the ``[[regen]]`` rules of quicken.toml:
a rule runs when a patch changes one of its inputs.  Results are cached by
the tree they were computed from (pre-regen tree -> post-regen tree), so
re-applying an unchanged patch does not run a generator again.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

from .config import Config, RegenRule
from .errors import RegenError, ToolMissingError
from .gitutil import Git


def triggered(cfg: Config, changed: list[str]) -> list[RegenRule]:
    return [rule for rule in cfg.regen if any(rule.triggered_by(p) for p in changed)]


def expand(
    cfg: Config, rule: RegenRule, command: tuple[str, ...], changed: list[str], root: Path
) -> list[str]:
    argv: list[str] = []
    for arg in command:
        if arg == "{changed}":
            argv += [p for p in changed if rule.triggered_by(p) and (root / p).is_file()]
        else:
            argv.append(arg.replace("{python}", cfg.regen_python))
    return argv


def cache_key(cfg: Config) -> str:
    """Results depend on the rules and the interpreter that runs them."""
    return hashlib.sha256(repr((cfg.regen, cfg.regen_python)).encode()).hexdigest()[:16]


class RegenCache:
    """pre-regen tree -> post-regen tree, per rule set, in the repository."""

    def __init__(self, git_dir: Path, rules_key: str) -> None:
        self.path = git_dir / "quicken" / "regen-cache.json"
        self.key = rules_key
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        self.entries: dict[str, str] = data.get(rules_key, {}) if isinstance(data, dict) else {}

    def get(self, pre: str) -> str | None:
        return self.entries.get(pre)

    def put(self, pre: str, post: str) -> None:
        self.entries[pre] = post
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        data = {self.key: self.entries} | {k: v for k, v in data.items() if k != self.key}
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(data))
        os.replace(tmp, self.path)


def regenerate(
    cfg: Config,
    scratch: Git,
    changed: list[str],
    cache: RegenCache | None,
    report: Callable[[str], None] | None = None,
) -> list[str]:
    """Run the triggered rules in ``scratch`` and stage their outputs.

    Returns the names of the rules that were applied (run or taken from the
    cache).  A generator that fails, or one that changes a file it does not
    declare as an output, raises RegenError.
    """
    rules = triggered(cfg, changed)
    if not rules:
        return []
    assert scratch.work_tree is not None
    root = scratch.work_tree
    pre = scratch("write-tree")
    post = cache.get(pre) if cache else None
    if post is not None and scratch.rev(post) is not None:
        scratch("read-tree", "-m", "-u", pre, post)
        return [rule.name for rule in rules]
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "LC_ALL": "C"}
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "PYTHONPATH", "PYTHONHOME"):
        env.pop(key, None)
    for rule in rules:
        if report:
            report(f"regen {rule.name}")
        for command in rule.commands:
            argv = expand(cfg, rule, command, changed, root)
            try:
                proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
            except FileNotFoundError:
                raise ToolMissingError(
                    f"regen {rule.name}: {argv[0]} not found",
                    "set regen-python in quicken.toml to a Python 3.10+ interpreter",
                ) from None
            if proc.returncode != 0:
                last = (proc.stderr.strip() or proc.stdout.strip() or f"exit {proc.returncode}").splitlines()[
                    -1
                ]
                raise RegenError(f"regen {rule.name}: {' '.join(argv[1:3])} failed: {last}")
    touched: list[str] = []
    for path in scratch.unstaged_paths():
        if not any(rule.produces(path) for rule in cfg.regen):
            raise RegenError(
                f"regen {', '.join(r.name for r in rules)}: changed {path}, which no rule declares "
                "as an output",
                "add it to the rule's outputs in quicken.toml",
            )
        touched.append(path)
    if touched:
        scratch("add", "-A", "-f", "--", *touched)
    if cache:
        cache.put(pre, scratch("write-tree"))
    return [rule.name for rule in rules]
