"""Regenerate CPython's generated files with CPython's own generators.

Which generators run is decided by the ``[[regen]]`` rules of quicken.toml:
a rule runs when a patch changes one of its inputs.  Results are cached by
the tree they were computed from (pre-regen tree -> post-regen tree), so
re-applying an unchanged patch does not run a generator again.

Four things keep a cold apply fast (every patch of the series changes
``Python/bytecodes.c``) while the outputs stay those of CPython's own
``make regen-*``:

* an ``in-process`` rule runs its scripts in one interpreter (regen_driver.py),
  the tree's own scripts, sharing the ``memoize`` functions' results (the case
  generators parse ``Python/bytecodes.c`` once instead of nine times);
* rules that neither read the other's outputs nor write the same files run
  at the same time (in waves, in the rules' order otherwise);
* a rule with ``scan`` and ``markers`` (the global-objects generator only
  looks for ``_Py_ID(``/``_Py_DECLARE_STR(`` in the C files) is skipped when
  the scanned files' lines holding a marker, its other inputs and its outputs
  are all as they were after an earlier run of it (``ScanCache``);
* a rule with ``needs`` (Argument Clinic) gets in ``{changed}`` only the
  files holding one of those strings, and does not run when none is left.
"""

from __future__ import annotations

import hashlib
import json
import os
import subprocess
import tempfile
from collections.abc import Callable, Iterable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .config import Config, RegenRule, match_path
from .errors import RegenError, ToolMissingError
from .gitutil import Git


def triggered(cfg: Config, changed: list[str]) -> list[RegenRule]:
    return [rule for rule in cfg.regen if any(rule.triggered_by(p) for p in changed)]


def needed(rule: RegenRule, path: Path) -> bool:
    """Whether ``path`` holds one of ``rule.needs`` (always, without ``needs`` or if not UTF-8)."""
    if not rule.needs:
        return True
    data = path.read_bytes()
    try:
        data.decode("utf-8")
    except UnicodeDecodeError:
        return True  # the generator reports it
    return any(text.encode() in data for text in rule.needs)


def changed_inputs(rule: RegenRule, changed: list[str], root: Path) -> list[str]:
    """What ``{changed}`` expands to: the changed files among the inputs that exist (and are needed)."""
    return [p for p in changed if rule.triggered_by(p) and (root / p).is_file() and needed(rule, root / p)]


def expand(
    cfg: Config, rule: RegenRule, command: tuple[str, ...], changed: list[str], root: Path
) -> list[str]:
    argv: list[str] = []
    for arg in command:
        if arg == "{changed}":
            argv += changed_inputs(rule, changed, root)
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


DRIVER = Path(__file__).with_name("regen_driver.py")
#: Rules of one wave run at the same time, at most this many at once.
MAX_PARALLEL = 2
Report = Callable[[str], None]


def _pathspecs(patterns: Iterable[str], magic: str = "glob") -> list[str]:
    """quicken.toml's globs as git pathspecs (``:(glob)`` has the same ``**/`` and ``*``)."""
    return [f":({magic}){pattern}" for pattern in patterns]


def waves(rules: list[RegenRule], paths: Iterable[str]) -> list[list[RegenRule]]:
    """Group ``rules`` (in order) so that the rules of one wave are independent.

    Rule B depends on an earlier rule A when a path A produces is one of B's
    inputs, B produces one of A's inputs, or both produce the same path; the
    paths tried are ``paths`` (the tree's files) and the outputs named without
    wildcards.  B then runs in a wave after A's.
    """
    literal = [pat for rule in rules for pat in rule.outputs if not any(c in pat for c in "*?[")]
    candidates = sorted(set(paths) | set(literal))
    produced = {rule.name: [p for p in candidates if rule.produces(p)] for rule in rules}

    def reads(rule: RegenRule, path: str) -> bool:
        return any(match_path(path, pat) for pat in rule.inputs)

    def conflict(a: RegenRule, b: RegenRule) -> bool:
        return (
            any(reads(b, p) or b.produces(p) for p in produced[a.name])
            or any(reads(a, p) for p in produced[b.name])
        )

    level: dict[str, int] = {}
    for i, rule in enumerate(rules):
        level[rule.name] = 1 + max(
            (level[earlier.name] for earlier in rules[:i] if conflict(earlier, rule)), default=-1
        )
    result: list[list[RegenRule]] = [[] for _ in range(1 + max(level.values(), default=-1))]
    for rule in rules:
        result[level[rule.name]].append(rule)
    return result


class ScanCache:
    """For ``scan`` rules: state of the inputs that matter -> the outputs a run left, per rule set.

    Kept in the repository beside :class:`RegenCache` (a file of blob ids: the
    blobs are that repository's).
    """

    LIMIT = 256

    def __init__(self, git_dir: Path) -> None:
        self.path = git_dir / "quicken" / "regen-scan.json"
        try:
            data = json.loads(self.path.read_text())
        except (OSError, ValueError):
            data = {}
        self.entries: dict[str, list[list[str]]] = data if isinstance(data, dict) else {}

    def get(self, key: str) -> list[list[str]] | None:
        value = self.entries.get(key)
        return value if isinstance(value, list) else None

    def put(self, key: str, outputs: list[list[str]]) -> None:
        self.entries.pop(key, None)
        self.entries[key] = outputs
        while len(self.entries) > self.LIMIT:
            del self.entries[next(iter(self.entries))]
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.entries))
        os.replace(tmp, self.path)


def _staged(g: Git, specs: list[str]) -> list[list[str]]:
    """``[mode, blob, path]`` of the index entries ``specs`` select."""
    out = g("ls-files", "-s", "-z", "--", *specs, strip=False)
    entries: list[list[str]] = []
    for record in out.split("\0"):
        if record:
            meta, path = record.split("\t", 1)
            mode, blob, _stage = meta.split()
            entries.append([mode, blob, path])
    return entries


def scan_key(cfg: Config, rule: RegenRule, g: Git) -> str | None:
    """What a ``scan`` rule's outputs can depend on, from the index; None: cannot tell, run it.

    The scanned files count by their lines holding a marker (with the file
    names, in order), every other input and the outputs by their blobs.
    """
    args = ["grep", "--cached", "-z", "-a", "-F", "--no-color", "--full-name"]
    for marker in rule.markers:
        args += ["-e", marker]
    status, found, _ = g.run(*args, "--", *_pathspecs(rule.scan), strip=False)
    if status not in (0, 1):
        return None
    others = _staged(
        g, _pathspecs(rule.inputs) + _pathspecs(rule.scan, "exclude,glob")
        + _pathspecs(rule.outputs, "exclude,glob"),
    )
    outputs = _staged(g, _pathspecs(rule.outputs))
    digest = hashlib.sha256(repr((rule, cfg.regen_python, others, outputs)).encode())
    digest.update(found.encode("utf-8", "surrogateescape"))
    return digest.hexdigest()


def _decodes(root: Path, rule: RegenRule, paths: Iterable[str]) -> bool:
    """Whether the scanned files among ``paths`` are UTF-8 (else let the generator say what it thinks)."""
    for path in paths:
        if not any(match_path(path, pat) for pat in rule.scan):
            continue
        try:
            (root / path).read_bytes().decode("utf-8")
        except FileNotFoundError:
            continue
        except (OSError, UnicodeDecodeError):
            return False
    return True


def _restore_outputs(g: Git, rule: RegenRule, recorded: list[list[str]]) -> bool:
    """Make the outputs those ``recorded``; False if a recorded blob is gone."""
    current = {path: (mode, blob) for mode, blob, path in _staged(g, _pathspecs(rule.outputs))}
    wanted = {path: (mode, blob) for mode, blob, path in recorded}
    if current == wanted:
        return True
    for mode, blob in wanted.values():
        if g.run("cat-file", "-e", blob)[0] != 0 or mode not in ("100644", "100755"):
            return False
    gone = [path for path in current if path not in wanted]
    if gone:
        g("rm", "-q", "-f", "--", *gone)
    changed = [path for path, entry in wanted.items() if current.get(path) != entry]
    for path in changed:
        mode, blob = wanted[path]
        g("update-index", "--add", "--cacheinfo", f"{mode},{blob},{path}")
    if changed:
        g("checkout-index", "-f", "--", *changed)
    return True


def _env() -> dict[str, str]:
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1", "LC_ALL": "C"}
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "PYTHONPATH", "PYTHONHOME"):
        env.pop(key, None)
    return env


def _failure(rule: RegenRule, argv: list[str], stdout: str, stderr: str, status: int) -> RegenError:
    last = (stderr.strip() or stdout.strip() or f"exit {status}").splitlines()[-1]
    return RegenError(f"regen {rule.name}: {' '.join(argv[1:3])} failed: {last}")


def _missing(rule: RegenRule, argv: list[str]) -> ToolMissingError:
    return ToolMissingError(
        f"regen {rule.name}: {argv[0]} not found",
        "set regen-python in quicken.toml to a Python 3.10+ interpreter",
    )


def run_rule(cfg: Config, rule: RegenRule, changed: list[str], root: Path) -> None:
    """Run ``rule``'s commands in ``root`` (one process each, or all in one: ``in-process``)."""
    env = _env()
    argvs = [expand(cfg, rule, command, changed, root) for command in rule.commands]
    if rule.in_process:
        run_in_process(cfg, rule, argvs, root, env)
        return
    for argv in argvs:
        try:
            proc = subprocess.run(argv, cwd=root, env=env, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise _missing(rule, argv) from None
        if proc.returncode != 0:
            raise _failure(rule, argv, proc.stdout, proc.stderr, proc.returncode)


def run_in_process(
    cfg: Config, rule: RegenRule, argvs: list[list[str]], root: Path, env: dict[str, str]
) -> None:
    """The commands ``[python, SCRIPT, ARG...]`` of one rule, in one regen_driver.py process."""
    with tempfile.TemporaryDirectory(prefix="quicken-regen-") as tmp_s:
        spec, result = Path(tmp_s) / "spec.json", Path(tmp_s) / "result.json"
        spec.write_text(json.dumps({"commands": [argv[1:] for argv in argvs], "memoize": list(rule.memoize)}))
        driver = [cfg.regen_python, str(DRIVER), str(spec), str(result)]
        try:
            proc = subprocess.run(driver, cwd=root, env=env, capture_output=True, text=True, check=False)
        except FileNotFoundError:
            raise _missing(rule, driver) from None
        try:
            outcomes = json.loads(result.read_text())
        except (OSError, ValueError):
            outcomes = None
    named = [driver[0], DRIVER.name]
    if not isinstance(outcomes, list):  # the driver itself failed (an interpreter too old?)
        raise _failure(rule, named, proc.stdout, proc.stderr, proc.returncode)
    for argv, outcome in zip(argvs, outcomes, strict=False):
        if outcome.get("status") != 0:
            raise _failure(rule, argv, str(outcome.get("error") or ""), proc.stderr,
                           int(outcome.get("status") or 1))
    if proc.returncode != 0 or len(outcomes) != len(argvs):
        raise _failure(rule, named, proc.stdout, proc.stderr, proc.returncode)


def _stage_wave(cfg: Config, scratch: Git, wave: list[RegenRule]) -> list[str]:
    """Refuse files no rule declares, and stage (and return) what the wave wrote."""
    touched: list[str] = []
    for path in scratch.unstaged_paths():
        if not any(rule.produces(path) for rule in cfg.regen):
            raise RegenError(
                f"regen {', '.join(r.name for r in wave)}: changed {path}, which no rule declares "
                "as an output",
                "add it to the rule's outputs in quicken.toml",
            )
        touched.append(path)
    if touched:
        scratch("add", "-A", "-f", "--", *touched)
    return touched


def regenerate(
    cfg: Config,
    scratch: Git,
    changed: list[str],
    cache: RegenCache | None,
    report: Report | None = None,
) -> list[str]:
    """Run the triggered rules in ``scratch`` and stage their outputs.

    Returns the names of the rules that were applied (run, taken from the
    cache, or skipped because their scanned inputs did not change).  A
    generator that fails, or one that changes a file it does not declare as
    an output, raises RegenError.  ``scratch``'s index must match its work
    tree.
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
    scans = ScanCache(scratch.git_dir) if any(rule.scan for rule in rules) else None
    tracked = scratch("ls-files", "-z", strip=False).split("\0")
    seen = list(changed)  # the patch's files, then what earlier waves regenerated
    for wave in waves(rules, (p for p in tracked if p)):
        todo: list[tuple[RegenRule, str | None]] = []
        for rule in wave:
            key = scan_key(cfg, rule, scratch) if rule.scan and scans and _decodes(root, rule, seen) else None
            recorded = scans.get(key) if scans and key else None
            if recorded is not None and _restore_outputs(scratch, rule, recorded):
                if report:
                    report(f"regen {rule.name}: scanned lines unchanged, skipped")
                continue
            if rule.needs and not changed_inputs(rule, changed, root):
                if report:
                    report(f"regen {rule.name}: no changed input needs it, skipped")
                continue
            if report:
                report(f"regen {rule.name}")
            todo.append((rule, key))
        if len(todo) > 1:
            with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL, len(todo))) as pool:
                futures = [pool.submit(run_rule, cfg, rule, changed, root) for rule, _ in todo]
                for future in futures:
                    future.result()  # the first failing rule (in order) is the one reported
        else:
            for rule, _ in todo:
                run_rule(cfg, rule, changed, root)
        seen += _stage_wave(cfg, scratch, wave)
        for rule, key in todo:
            if scans and key:
                scans.put(key, _staged(scratch, _pathspecs(rule.outputs)))
    if cache:
        cache.put(pre, scratch("write-tree"))
    return [rule.name for rule in rules]
