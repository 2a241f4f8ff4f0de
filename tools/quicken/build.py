"""Stage 4: out-of-tree builds of any commit of the work tree.

Layout: ``<builds>/<config>/<slot>/{src,obj,build.log,stamp.json}``, where
the slot is ``baseline``, ``patched`` or ``rev-<tree>``.  ``src`` is a
checkout of the commit made with its own git index, updated with a two-tree
``read-tree -m -u`` so only changed files get new mtimes and ``make`` stays
incremental.  ``stamp.json`` records the tree and configure arguments of the
last successful build; a build whose tree is already built in any slot of the
same configuration costs nothing.  Two changes make ``make`` unable to tell
which objects are out of date, so the obj directory is configured and built
afresh: a change to the build system (:data:`BUILD_SYSTEM_FILES`: CPython's
objects do not depend on the Makefile, so a new compile rule or flag would not
reach them), and any change at all in a profile-guided build (the training run
must profile the code it optimizes; the old profile would be reused).

Slots named ``rev-<tree>`` are a cache: at most ``[build] keep`` of them stay
per configuration.  Making a new one removes the least recently used others
beyond that bound, never ``baseline`` or ``patched`` and never a slot some
process is using: a process holds a shared lock on ``<slot>/lock`` for every
slot it built or found (:func:`hold`) until it releases it (:func:`holding`)
or exits, and a slot is removed only under an exclusive lock taken without
waiting.

A configuration may carry fixups (``[build.fixups]``): patches applied to the
checkout of every tree it builds, baseline and patched alike, recorded in the
stamp and in ``src.tree``.  Before the checkout moves to another tree they are
reversed, so the two-tree update still touches only the files that changed.

ccache, when installed, is used with CCACHE_BASEDIR set to the builds
directory and hashing of the working directory off: baseline and patched
compile with identical relative paths, so the second side mostly hits.
Profile-guided builds (``--enable-optimizations``) bypass it: the rewritten
source path of the profile-use compile no longer matches the profile, and
gcc stops with -Werror=coverage-mismatch on the first object.
"""

from __future__ import annotations

import fcntl
import fnmatch
import hashlib
import json
import os
import re
import shlex
import shutil
import subprocess
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field
from pathlib import Path

from .config import BuildConfig, Config, Fixup
from .errors import BuildError, QuickenError, ToolMissingError
from .gitutil import Git
from .worktree import WorkTree

Report = Callable[[str], None]
STAMP = "stamp.json"
SCHEME = 2  # bump when how a build is configured changes (forces a reconfigure)

# Headers whose absence stops a build, and the Debian package providing them.
HEADER_PACKAGES = {
    "zlib.h": "zlib1g-dev",
    "ffi.h": "libffi-dev",
    "openssl/ssl.h": "libssl-dev",
    "bzlib.h": "libbz2-dev",
    "lzma.h": "liblzma-dev",
    "sqlite3.h": "libsqlite3-dev",
    "readline/readline.h": "libreadline-dev",
    "ncurses.h": "libncurses-dev",
    "curses.h": "libncurses-dev",
    "gdbm.h": "libgdbm-dev",
    "uuid/uuid.h": "uuid-dev",
    "tk.h": "tk-dev",
    "expat.h": "libexpat1-dev",
    "mpdecimal.h": "libmpdec-dev",
}
# Optional extension modules CPython skips when a library is missing.
MODULE_PACKAGES = {
    "_ssl": "libssl-dev",
    "_hashlib": "libssl-dev",
    "_ctypes": "libffi-dev",
    "zlib": "zlib1g-dev",
    "_bz2": "libbz2-dev",
    "_lzma": "liblzma-dev",
    "_sqlite3": "libsqlite3-dev",
    "readline": "libreadline-dev",
    "_curses": "libncurses-dev",
    "_curses_panel": "libncurses-dev",
    "_dbm": "libgdbm-dev",
    "_gdbm": "libgdbm-dev",
    "_tkinter": "tk-dev",
    "_uuid": "uuid-dev",
}
_COMPILE = re.compile(r"^(?:ccache )?(?:gcc|cc|clang)\b.* -c ")


@dataclass(frozen=True)
class Stamp:
    tree: str
    commit: str
    config: str
    configure: list[str]
    compiled: int
    seconds: float
    scheme: int
    fixups: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class BuildResult:
    target: str
    config: str
    commit: str
    tree: str
    python: Path
    cached: bool
    seconds: float
    log: Path | None


def require_tools() -> None:
    for tool in ("make", "gcc"):
        if shutil.which(tool) is None and not (tool == "gcc" and shutil.which("cc")):
            raise ToolMissingError(f"{tool} not found on PATH", "install it: apt-get install build-essential")


def resolve(cfg: Config, target: str) -> tuple[str, str, str]:
    """target -> (slot name, commit, tree)."""
    wt = WorkTree(cfg)
    g = wt.repo()
    state = wt.state()
    if target == "baseline":
        commit = state.pristine
        slot = "baseline"
    elif target == "patched":
        commit = wt.head()
        slot = "patched"
    else:
        # a patch of the applied series (0007, its stem or file name) first: "0007" could
        # also be an abbreviated object id
        found = state.commit_of(target) or g.rev(f"{target}^{{commit}}")
        if found is None:
            raise QuickenError(
                f"{target}: not a commit of the work tree {cfg.worktree}",
                "use baseline, patched, a patch (0007, its file name) or a commit id",
            )
        commit = found
        slot = ""
    tree = g.tree_of(commit)
    return slot or f"rev-{tree[:12]}", commit, tree


def slot_dir(cfg: Config, config_name: str, slot: str) -> Path:
    return cfg.builds / config_name / slot


def read_stamp(slot: Path, name: str = STAMP) -> Stamp | None:
    try:
        return Stamp(**json.loads((slot / name).read_text()))
    except (OSError, ValueError, TypeError):
        return None


#: Directories beside a configuration's build slots that hold other caches (:func:`cache_dir`).
CACHE_DIRS = ("regrtest", "venvs")


def cache_dir(cfg: Config, config_name: str, what: str) -> Path:
    """A cache kept beside the build slots of ``config_name`` (regrtest results, venvs); not a slot."""
    assert what in CACHE_DIRS, what
    return cfg.builds / config_name / what


def slots(cfg: Config, config_name: str) -> list[Path]:
    """The build slots (directories) of one configuration; files beside them, such as the
    instruction-count cache, and the :data:`CACHE_DIRS` are not slots."""
    base = cfg.builds / config_name
    if not base.is_dir():
        return []
    return sorted(path for path in base.iterdir() if path.is_dir() and path.name not in CACHE_DIRS)


def configured_source(obj: Path) -> Path | None:
    """The source directory ``obj/Makefile`` was configured for (its ``srcdir`` line)."""
    try:
        text = (obj / "Makefile").read_text(errors="replace")
    except OSError:
        return None
    m = re.search(r"^srcdir\s*=\s*(.*?)\s*$", text, re.M)
    return Path(m.group(1)) if m and os.path.isabs(m.group(1)) else None


def foreign_source(slot: Path) -> Path | None:
    """The other source directory this slot's build was configured for (a copied or moved project)."""
    configured = configured_source(slot / "obj")
    if configured is None or os.path.realpath(configured) == os.path.realpath(slot / "src"):
        return None
    return configured


LOCK = "lock"  # in a slot: shared-locked by every process using the slot
USED = "used"  # in a slot: its modification time is the slot's last use
NAMED_SLOTS = ("baseline", "patched")  # never removed by the bound on rev-* slots

#: The slots this process holds: slot -> open file descriptor of its shared-locked lock file.
_held: dict[Path, int] = {}


def _open_lock(slot: Path) -> int:
    return os.open(slot / LOCK, os.O_RDWR | os.O_CREAT, 0o644)


def hold(slot: Path) -> bool:
    """Mark ``slot`` as used by this process until :func:`release` (or exit); False if another
    process removed it meanwhile."""
    if slot in _held:
        (slot / USED).touch()
        return True
    try:
        fd = _open_lock(slot)
    except FileNotFoundError:
        return False
    fcntl.flock(fd, fcntl.LOCK_SH)
    if not slot.is_dir() or os.fstat(fd).st_nlink == 0:  # removed before the lock was ours
        os.close(fd)
        return False
    _held[slot] = fd
    (slot / USED).touch()
    return True


def release(slot: Path) -> None:
    fd = _held.pop(slot, None)
    if fd is not None:
        os.close(fd)


def held() -> frozenset[Path]:
    return frozenset(_held)


@contextmanager
def holding() -> Iterator[None]:
    """Release, on leaving, the slots first held inside (a validated patch's probe builds)."""
    before = set(_held)
    try:
        yield
    finally:
        for slot in set(_held) - before:
            release(slot)


def last_used(slot: Path) -> float:
    for path in (slot / USED, slot / STAMP, slot):
        try:
            return path.stat().st_mtime
        except OSError:
            continue
    return 0.0


def evict(cfg: Config, config_name: str, keep: int, report: Report) -> list[Path]:
    """Remove the least recently used ``rev-*`` slots of ``config_name`` beyond ``keep``, skipping
    those in use (by this process or, per their lock, another); the removed slots."""
    cached = [s for s in slots(cfg, config_name) if s.name not in NAMED_SLOTS]
    removed: list[Path] = []
    excess = len(cached) - keep
    for slot in sorted(cached, key=last_used):
        if excess <= 0:
            break
        if slot in _held:
            continue
        try:
            fd = _open_lock(slot)
        except OSError:
            continue
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            shutil.rmtree(slot)
        finally:
            os.close(fd)
        removed.append(slot)
        excess -= 1
        report(f"build: removed {config_name}/{slot.name} (least recently used; [build] keep = {keep})")
    return removed


def find_built(cfg: Config, bc: BuildConfig, tree: str) -> Path | None:
    """Any slot of this configuration whose last build is exactly ``tree`` (with its fixups);
    this process holds it from now on (:func:`hold`)."""
    fixups = bc.fixup_idents
    for slot in slots(cfg, bc.name):
        stamp = read_stamp(slot)
        if (
            stamp
            and stamp.tree == tree
            and stamp.configure == list(bc.configure)
            and stamp.fixups == fixups
            and (slot / "obj" / "python").exists()
            and foreign_source(slot) is None
            and hold(slot)
        ):
            return slot
    return None


def start_failure(python: Path) -> str | None:
    """Why ``python`` does not start and import ``encodings`` (its ``Fatal Python error`` line, else
    its first line of error output), or None when it does: in a build directory whose
    ``pybuilddir.txt`` is gone the binary no longer knows it runs from its build tree, looks for
    the standard library under its install prefix, and fails here."""
    try:
        done = subprocess.run([str(python), "-c", "import encodings"], capture_output=True, text=True,
                              timeout=60, check=False,
                              env={k: v for k, v in os.environ.items() if not k.startswith("PYTHON")})
    except (OSError, subprocess.TimeoutExpired) as err:
        return str(err)
    if done.returncode == 0:
        return None
    lines = done.stderr.strip().splitlines()
    fatal = [line for line in lines if line.startswith("Fatal Python error")]
    return (fatal or lines or [f"exit status {done.returncode}"])[0]


def interpreter(cfg: Config, target: str, config_name: str | None = None) -> Path:
    bc = cfg.build_config(config_name)
    _, _, tree = resolve(cfg, target)
    slot = find_built(cfg, bc, tree)
    if slot is None:
        raise QuickenError(
            f"{target} ({bc.name}) is not built for its current tree",
            f"run: quicken build {target}" + (f" --config {bc.name}" if config_name else ""),
        )
    return slot / "obj" / "python"


def sync_source(g: Git, slot: Path, tree: str, fixups: tuple[Fixup, ...] = ()) -> None:
    """Make ``slot/src`` hold ``tree`` plus ``fixups``, touching only files that changed."""
    src = slot / "src"
    index = slot / "src.index"
    checkout = g.with_tree(src, index)
    marker = slot / "src.tree"
    wanted = [tree, *(f.ident for f in fixups)]
    recorded = marker.read_text().split() if marker.is_file() else []
    if recorded == wanted and src.is_dir():
        return
    previous = recorded[0] if recorded else None
    marker.unlink(missing_ok=True)
    applied = slot / "src.fixups"
    if src.is_dir() and applied.is_dir() and not _reverse_fixups(checkout, applied):
        previous = None  # could not restore the tree: check everything out afresh
    shutil.rmtree(applied, ignore_errors=True)
    if previous and src.is_dir() and index.is_file() and g.rev(previous) is not None:
        status, _, _ = checkout.run("read-tree", "-m", "-u", previous, tree)
        if status != 0:
            checkout("read-tree", "--reset", "-u", tree)
    else:
        src.mkdir(parents=True, exist_ok=True)
        checkout("read-tree", "--reset", "-u", tree)
    if fixups:
        applied.mkdir()
        for number, fixup in enumerate(fixups):
            status, _, err = checkout.run("apply", "--whitespace=nowarn", str(fixup.path))
            if status != 0:
                _reverse_fixups(checkout, applied)
                shutil.rmtree(applied, ignore_errors=True)
                first = (err.strip().splitlines() or ["git apply failed"])[0]
                raise BuildError(
                    f"build fixup {fixup.path} does not apply to tree {tree[:12]}: {first}",
                    "refresh the fixup against this tree (or drop it from [build.fixups])",
                )
            shutil.copyfile(fixup.path, applied / f"{number:02d}.patch")
    marker.write_text("\n".join(wanted) + "\n")


def _reverse_fixups(checkout: Git, applied: Path) -> bool:
    """Undo the fixups recorded in ``applied`` (newest first) and refresh the index's
    stat data, so the next two-tree update sees clean files."""
    for patch in sorted(applied.glob("*.patch"), reverse=True):
        status, _, _ = checkout.run("apply", "-R", "--whitespace=nowarn", str(patch))
        if status != 0:
            return False
    checkout.run("update-index", "-q", "--refresh")
    return True


def build_env(cfg: Config, bc: BuildConfig) -> dict[str, str]:
    env = {**os.environ, "LC_ALL": "C"}
    # gcc writes X.d beside X.o listing every header X.o was compiled from;
    # stale_objects() reads them, because CPython's Makefile only knows the
    # headers it lists by hand (a new overlay header would not trigger a rebuild).
    env["CFLAGS_NODIST"] = (env.get("CFLAGS_NODIST", "") + " -MMD").strip()
    for key in ("GIT_DIR", "GIT_WORK_TREE", "GIT_INDEX_FILE", "PYTHONPATH", "PYTHONHOME", "MAKEFLAGS"):
        env.pop(key, None)
    if bc.profile_guided:
        env["CCACHE_DISABLE"] = "1"  # also where an older configure recorded CC="ccache gcc"
    elif shutil.which("ccache") and "CC" not in os.environ:
        env["CC"] = "ccache gcc"
        env["CCACHE_BASEDIR"] = str(cfg.builds.resolve())
        env["CCACHE_NOHASHDIR"] = "1"
    return env


#: The files CPython's build rules and compile flags come from (fnmatch patterns).
BUILD_SYSTEM_FILES = ("Makefile.pre.in", "configure", "configure.ac", "aclocal.m4", "pyconfig.h.in",
                      "Modules/Setup*", "Modules/makesetup")


def afresh_because(g: Git, bc: BuildConfig, previous: Stamp | None, tree: str) -> str | None:
    """Why the objects built from ``previous.tree`` cannot be updated to ``tree`` by make (None: they can)."""
    if previous is None or previous.tree == tree:
        return None
    if bc.profile_guided:
        return "the tree changed and a profile-guided build must profile the code it optimizes"
    try:
        changed = g.changed_paths(previous.tree, tree)
    except QuickenError:
        return f"the objects' tree {previous.tree[:12]} is not in the repository"
    rules = [path for path in changed
             if any(fnmatch.fnmatchcase(path, pattern) for pattern in BUILD_SYSTEM_FILES)]
    if rules:
        return f"the build system changed ({', '.join(rules)})"
    return None


def stale_objects(obj: Path) -> list[Path]:
    """Objects older than a file their compiler-written dependency list names."""
    stale: list[Path] = []
    for dep_file in obj.rglob("*.d"):
        target = dep_file.with_suffix(".o")
        try:
            built = target.stat().st_mtime
            text = dep_file.read_text(errors="replace")
        except OSError:
            continue
        _, _, deps = text.replace("\\\n", " ").partition(":")
        for dep in deps.split():
            path = Path(dep) if os.path.isabs(dep) else obj / dep
            try:
                if path.stat().st_mtime > built:
                    stale.append(target)
                    break
            except OSError:
                stale.append(target)  # a header it used is gone
                break
    return stale


def _run_logged(
    argv: list[str], cwd: Path, env: dict[str, str], log: Path, on_line: Callable[[str], None]
) -> int:
    with open(log, "a", encoding="utf-8", errors="replace") as out:
        out.write(f"$ {' '.join(argv)}\n")
        out.flush()
        proc = subprocess.Popen(
            argv,
            cwd=cwd,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            errors="replace",
        )
        assert proc.stdout is not None
        for line in proc.stdout:
            out.write(line)
            on_line(line)
        return proc.wait()


def missing_compiler(obj: Path | None, env: dict[str, str] | None) -> str | None:
    """The compiler command (``ccache gcc``) whose program is not on PATH, if any.

    It is the ``CC`` of the environment, of the Makefile, or of configure's
    cache (``config.cache`` keeps the ``CC`` of the first configure).
    """
    candidates = [(env or {}).get("CC", "")]
    sources = (("Makefile", r"^CC=\s*(.*?)\s*$"), ("config.cache", r"^ac_cv_prog_CC=\$?\{?'?([^'}]*)"))
    for name, pattern in sources:
        try:
            text = (obj / name).read_text(errors="replace") if obj is not None else ""
        except OSError:
            continue
        m = re.search(pattern, text, re.M)
        if m:
            candidates.append(m.group(1))
    path = (env or {}).get("PATH")
    for command in candidates:
        words = command.split()
        if words and shutil.which(words[0], path=path) is None:
            return command
    return None


def failure(what: str, log: Path, obj: Path | None = None, env: dict[str, str] | None = None) -> BuildError:
    lines = log.read_text(errors="replace").splitlines() if log.is_file() else []
    errors = [ln for ln in lines if re.search(r"\berror\b|Error \d|No such file", ln)]
    hint = f"full log: {log}"
    detail = (errors or lines or ["no output"])[-12:]
    compiler = missing_compiler(obj, env)
    if compiler is not None:
        program = compiler.split()[0]
        err = BuildError(f"{what} failed: the compiler CC={compiler!r} needs {program}, which is not on PATH",
                         f"install {program}, or remove {obj} to configure without it; {hint}")
        err.details = detail
        return err
    for ln in errors:
        m = re.search(r"fatal error: ([\w./+-]+\.h): No such file", ln)
        if m and m.group(1) in HEADER_PACKAGES:
            hint = f"install the build dependency: apt-get install {HEADER_PACKAGES[m.group(1)]}; {hint}"
            break
    err = BuildError(f"{what} failed: {(errors or lines or ['no output'])[0].strip()}", hint)
    err.details = detail
    return err


def missing_modules(log: Path) -> list[str]:
    text = log.read_text(errors="replace") if log.is_file() else ""
    m = re.search(r"necessary bits to build these optional modules were not found:\n(.*?)(?:\nTo find|\n\n)",
                  text, re.S)
    return m.group(1).split() if m else []


#: A compiler's (or LTO linker's) warning in a build log: ``path:line[:column]: warning: message``.
_WARNING = re.compile(r"^(?P<path>[^\s:][^:]*):\d+:(?:\d+:)? warning: (?P<message>.+)$")


def compiler_warnings(slot: Path) -> Counter[tuple[str, str]]:
    """The warnings in a build slot's log, counted by (path in the source tree, message).

    Line numbers are left out (a patch moves the lines below it) and paths are made
    relative to the slot's ``src``, so that two slots' warnings compare.  The log holds
    what the slot's last ``make`` compiled (ccache replays a cached unit's warnings), so
    a build that recompiled only what changed shows the warnings of what changed.
    """
    log = slot / "build.log"
    found: Counter[tuple[str, str]] = Counter()
    if not log.is_file():
        return found
    src = slot / "src"
    for line in log.read_text(errors="replace").splitlines():
        m = _WARNING.match(line)
        if m is None:
            continue
        path = Path(m["path"]) if os.path.isabs(m["path"]) else slot / "obj" / m["path"]
        message = m["message"].replace(str(slot), "<build>")  # PGO names the slot's .gcda files
        found[(os.path.relpath(os.path.normpath(path), src), message)] += 1
    return found


def new_warnings(base_slot: Path, head_slot: Path) -> list[str]:
    """The warnings ``head_slot``'s log has and ``base_slot``'s has not: ``path: message``."""
    new = compiler_warnings(head_slot) - compiler_warnings(base_slot)
    return [f"{path}: {message}" for path, message in sorted(new)]


def build_one(
    cfg: Config,
    target: str,
    config_name: str | None,
    report: Report,
    force: bool = False,
    repo: Git | None = None,
) -> BuildResult:
    """Build ``target`` (a work-tree target, or with ``repo`` any commit of that repository)."""
    bc = cfg.build_config(config_name)
    configure = list(bc.configure)
    if repo is None:
        slot_name, commit, tree = resolve(cfg, target)
    else:
        found = repo.rev(f"{target}^{{commit}}")
        if found is None:
            raise QuickenError(f"{target}: not a commit of {repo.git_dir}")
        commit, tree = found, repo.tree_of(found)
        slot_name = f"rev-{tree[:12]}"
    label = f"build {target} ({bc.name})"
    if not force:
        built = find_built(cfg, bc, tree)
        if built is not None:
            broken = start_failure(built / "obj" / "python")
            if broken is None:
                return BuildResult(target, bc.name, commit, tree, built / "obj" / "python", True, 0.0, None)
            # A slot changed by hand (a file of its build deleted): make it again where it is.
            report(f"{label}: the interpreter in {built} does not start ({broken}): linking it again")
            (built / "obj" / "python").unlink()
            slot_name = built.name
    require_tools()
    g = repo or WorkTree(cfg).repo()
    slot = slot_dir(cfg, bc.name, slot_name)
    new = not slot.is_dir()
    slot.mkdir(parents=True, exist_ok=True)
    hold(slot)
    if new and cfg.keep:
        evict(cfg, bc.name, cfg.keep, report)
    log = slot / "build.log"
    log.write_text("")
    (slot / STAMP).unlink(missing_ok=True)
    start = time.monotonic()

    def say(phase: str) -> None:
        report(f"{label}: {phase} [{time.monotonic() - start:.0f}s]")

    say("checking out source")
    sync_source(g, slot, tree, bc.fixups)
    obj = slot / "obj"
    env = build_env(cfg, bc)
    previous = read_stamp_any(slot)
    afresh = afresh_because(g, bc, previous, tree) if (obj / "Makefile").is_file() else None
    if afresh:
        say(f"building afresh: {afresh}")
    if (
        force
        or afresh
        or previous is None
        or previous.configure != configure
        or previous.scheme != SCHEME
        or not (obj / "Makefile").is_file()
        or foreign_source(slot) is not None
    ):
        shutil.rmtree(obj, ignore_errors=True)
        obj.mkdir(parents=True)
        sibling_cache = _sibling_config_cache(cfg, bc.name, slot)
        if sibling_cache is not None:
            shutil.copyfile(sibling_cache, obj / "config.cache")
        say("configure")
        status = _run_logged(
            [str(slot / "src" / "configure"), "-C", *configure], obj, env, log, lambda _: None
        )
        if status != 0:
            raise failure(f"{label}: configure", log, obj, env)
    for target_obj in stale_objects(obj):
        target_obj.unlink(missing_ok=True)
    jobs = cfg.job_count
    total = previous.compiled if previous else 0
    compiled = 0

    def on_line(line: str) -> None:
        nonlocal compiled
        if _COMPILE.match(line):
            compiled += 1
            say(f"compile {compiled}" + (f"/~{total}" if total >= compiled else "") + " units")
        elif line.startswith(("gcc -pthread", "ccache gcc -pthread")) and " -o python" in line:
            say("link python")

    say("make")
    status = _run_logged(["make", f"-j{jobs}"], obj, env, log, on_line)
    if status != 0:
        raise failure(f"{label}: make", log, obj, env)
    python = obj / "python"
    if not python.exists():
        raise BuildError(f"{label}: make succeeded but {python} is missing", f"full log: {log}")
    broken = start_failure(python)
    if broken is not None:
        raise BuildError(f"{label}: make succeeded but {python} does not start ({broken})",
                         f"full log: {log}")
    seconds = time.monotonic() - start
    stamp = Stamp(tree, commit, bc.name, configure, max(compiled, total), round(seconds, 1), SCHEME,
                  bc.fixup_idents)
    (slot / STAMP).write_text(json.dumps(asdict(stamp), indent=1) + "\n")
    (slot / "last.json").write_text(json.dumps(asdict(stamp), indent=1) + "\n")
    missing = missing_modules(log)
    if missing:
        packages = sorted({MODULE_PACKAGES[m] for m in missing if m in MODULE_PACKAGES})
        report(
            f"{label}: optional modules not built: {' '.join(missing)}"
            + (f" (apt-get install {' '.join(packages)})" if packages else "")
        )
    return BuildResult(target, bc.name, commit, tree, python, False, seconds, log)


CACHE_LINE = 64


def split_shift(shift: int) -> tuple[int, int]:
    """``shift`` as (bytes before the interpreter loop, bytes after it): ``1040`` -> (16, 1024)."""
    if not 1 <= shift <= 4096:
        raise QuickenError(f"--shift {shift}: choose a number of bytes from 1 to 4096")
    return shift % CACHE_LINE, shift - shift % CACHE_LINE


#: Input sections of a relinked interpreter's layout probe (:func:`relink`).  GNU ld's default
#: script lays ``.text`` out as unlikely, exit, startup, hot, sorted, then ordinary code, so
#: bytes in the first move all hot and ordinary code, bytes in the second move the ordinary
#: code away from the hot code (the interpreter loop is hot: ``_Py_HOT_FUNCTION``).
PROBE_SECTIONS = (".text.unlikely.quicken_layout_probe", ".text.sorted.quicken_layout_probe")
LOOP_SYMBOL = "_PyEval_EvalFrameDefault"


def probe_assembly(before: int, after: int) -> str:
    """A never-executed object of ``before`` bytes ahead of the hot code and ``after`` bytes behind it."""
    lines = ["# quicken: a layout probe for a relinked interpreter, never executed"]
    for section, size in zip(PROBE_SECTIONS, (before, after), strict=True):
        if size:
            lines += [f'.section {section},"ax",@progbits', f".skip {size}, 0x90"]
    lines.append('.section .note.GNU-stack,"",@progbits')
    return "\n".join(lines) + "\n"


def symbol_address(binary: Path, symbol: str) -> int | None:
    """``symbol``'s address in ``binary`` (``nm``), None if it has none or nm is missing."""
    found = _symbol(binary, symbol)
    return found[0] if found else None


def symbol_size(binary: Path, symbol: str) -> int | None:
    """How many bytes of code ``symbol`` has in ``binary`` (``nm -S``), None if unknown."""
    found = _symbol(binary, symbol)
    return found[1] if found else None


def _symbol(binary: Path, symbol: str) -> tuple[int, int | None] | None:
    try:
        out = subprocess.run(["nm", "--defined-only", "-S", str(binary)], capture_output=True, text=True,
                             check=False).stdout
    except OSError:
        return None
    for line in out.splitlines():
        parts = line.split()
        if len(parts) in (3, 4) and parts[-1] == symbol:
            return int(parts[0], 16), int(parts[1], 16) if len(parts) == 4 else None
    return None


#: The interpreter loop's unit, as the build's Makefile names its object and source.
LOOP_OBJECT, LOOP_SOURCE = "Python/ceval.o", "Python/ceval.c"
#: How many points inside the interpreter loop's code a relinked layout pads, one in each of
#: that many equal parts of it, and the most bytes one pad has.
INTERIOR_POINTS = 3
INTERIOR_MAX = 1024


def interior_pads(shift: int) -> list[tuple[float, int]]:
    """Where (a fraction of the loop's code) and by how many bytes (1 to :data:`INTERIOR_MAX`)
    layout ``shift`` pads the interpreter loop inside: one point in each of
    :data:`INTERIOR_POINTS` equal parts, from a hash of the shift, so the same for every build."""
    digest = hashlib.sha256(f"interior:{shift}".encode()).digest()
    return [((part + digest[3 * part] / 256) / INTERIOR_POINTS,
             1 + int.from_bytes(digest[3 * part + 1: 3 * part + 3], "big") % INTERIOR_MAX)
            for part in range(INTERIOR_POINTS)]


_SECTION_DIRECTIVE = re.compile(
    r"^\s*\.(?:section\s+([^\s,]+)|(text)\s*$|(pushsection|popsection|previous)\b)")
_UNCONDITIONAL_JUMP = re.compile(r"^\s*jmp\s")


def pad_loop(assembly: str, symbol: str,
             pads: Sequence[tuple[float, int]]) -> tuple[str, list[tuple[float, int]]]:
    """``assembly`` (the compiler's, of the loop's unit) with each pad of ``pads`` placed as
    ``.skip`` bytes right after the first unconditional ``jmp`` of ``symbol``'s own section
    at or past that fraction of its code: nothing falls through a ``jmp``, so every
    instruction stays as compiled and only the blocks after a pad move (a short jump across
    it may be assembled long).  Returns the text and where each pad went (the fraction of
    the function's lines, bytes)."""
    lines = assembly.splitlines(keepends=True)
    label = f"{symbol}:"
    starts = [i for i, line in enumerate(lines) if line.strip() == label]
    ends = [i for i, line in enumerate(lines) if re.match(rf"^\s*\.size\s+{re.escape(symbol)},", line)]
    if len(starts) != 1 or len(ends) != 1 or ends[0] < starts[0]:
        raise BuildError(f"relink: the interpreter loop's assembly has {len(starts)} labels {label!r} and "
                         f"{len(ends)} '.size {symbol}' lines, not one of each after the other",
                         "interior layout probes know GCC's x86-64 assembly of CPython's ceval.c")
    start, end = starts[0], ends[0]
    home = current = _section_at(lines, start)
    jumps: list[int] = []
    inline_asm = False
    for i in range(start, end):
        line = lines[i]
        if line.startswith("#APP") or line.startswith("#NO_APP"):
            inline_asm = line.startswith("#APP")  # the source's own asm: its bytes are not ours to move
        elif m := _SECTION_DIRECTIVE.match(line):
            current = _section_named(m)
        elif current == home and not inline_asm and _UNCONDITIONAL_JUMP.match(line):
            jumps.append(i)
    if home is None or not jumps:
        raise BuildError(f"relink: no unconditional jump in {symbol}'s code to place a pad after",
                         "interior layout probes know GCC's x86-64 assembly of CPython's ceval.c")
    placed: dict[int, int] = {}
    for fraction, size in pads:
        at = start + fraction * (end - start)
        after = next((i for i in jumps if i >= at), jumps[-1])
        placed[after] = placed.get(after, 0) + size
    out: list[str] = []
    for i, line in enumerate(lines):
        out.append(line)
        if i in placed:
            out.append(f"\t.skip {placed[i]}, 0xcc  # quicken: an interior layout probe, never executed\n")
    return "".join(out), [((i - start) / (end - start), size) for i, size in sorted(placed.items())]


def _section_at(lines: Sequence[str], index: int) -> str | None:
    """The section the line at ``index`` is assembled into, from the last directive before it."""
    for line in reversed(lines[:index]):
        if m := _SECTION_DIRECTIVE.match(line):
            return _section_named(m)
    return ".text"


def _section_named(directive: re.Match[str]) -> str | None:
    """The section a :data:`_SECTION_DIRECTIVE` switches to; None for one only a stack of
    sections could tell (``.previous``, ``.popsection``, ``.pushsection``)."""
    return directive.group(1) or (".text" if directive.group(2) else None)


#: The line of GNU ld's default script that collects the hot functions' code.
HOT_TEXT_LINE = "*(.text.hot .text.hot.*)"
_HOT_SECTION = re.compile(r"^ (\.text\.hot\.[\w.$]+)(?:\s|$)")
_SCRIPT_RULE = "=" * 50  # ld --verbose prints its script between two such lines


def hot_order(names: Sequence[str], shift: int) -> list[str]:
    """``names`` (hot functions' sections) in the order of layout ``shift``: sorted by a hash of
    the shift and the name, so a layout is an arbitrary order that is the same for every build
    (two builds' shared hot functions come in the same relative order)."""
    return sorted(names, key=lambda name: hashlib.sha256(f"{shift}:{name}".encode()).digest())


def ordering_script(default: str, hot: Sequence[str]) -> str:
    """``default`` (ld's script) with ``hot``'s sections placed one by one, in that order, where it
    places all hot functions' code; sections not named follow in the linker's order."""
    lines = default.splitlines()
    at = [i for i, line in enumerate(lines) if line.strip() == HOT_TEXT_LINE]
    if len(at) != 1:
        raise BuildError(f"relink: ld's linker script has {len(at)} lines {HOT_TEXT_LINE!r}, not one, "
                         "so the hot functions cannot be ordered",
                         "relinked layouts need GNU ld (binutils); see relink.log for the script it printed")
    indent = lines[at[0]][: len(lines[at[0]]) - len(lines[at[0]].lstrip())]
    placed = [f"{indent}*({name})" for name in hot]
    return "\n".join(lines[: at[0]] + placed + lines[at[0]:]) + "\n"


def _link(cfg: Config, res: BuildResult, name: str, ldflags: Sequence[str], env: dict[str, str], log: Path,
          on_line: Callable[[str], None] = lambda _: None, make_vars: Sequence[str] = ()) -> Path:
    """``res``'s interpreter linked again as ``name`` beside it by its own Makefile, with
    ``ldflags`` added and ``make_vars`` set, from the build's objects: if make would compile
    anything, nothing is kept."""
    obj = res.python.parent
    partial = obj / f"{name}.partial"  # an interrupted link must not pass for a finished one
    partial.unlink(missing_ok=True)
    compiled: list[str] = []

    def seen(line: str) -> None:
        if _COMPILE.match(line):
            compiled.append(line)
        on_line(line)

    make = ["make", f"-j{cfg.job_count}", f"BUILDPYTHON={partial.name}",
            f"LDFLAGS_NODIST={' '.join(ldflags)}", *make_vars, partial.name]
    status = _run_logged(make, obj, env, log, seen)
    if status != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise failure(f"relink {res.target} ({res.config})", log, obj, env)
    if compiled:  # made with other flags than the build's (a profile-guided build's profile-use flags)
        partial.unlink()
        raise BuildError(f"relink {res.target} ({res.config}): make compiled {len(compiled)} units again, "
                         "so the relinked interpreter would not hold the build's code",
                         f"build {res.target} again (quicken build --force), then relink; log: {log}")
    binary = obj / name
    os.replace(partial, binary)
    return binary


def _fresh(path: Path, *sources: Path) -> bool:
    """Whether ``path`` exists and is not older than any of ``sources`` (all of which exist)."""
    return path.is_file() and all(src.is_file() and path.stat().st_mtime_ns >= src.stat().st_mtime_ns
                                  for src in sources)


def _hot_sections(cfg: Config, res: BuildResult, env: dict[str, str], log: Path,
                  report: Report) -> tuple[list[str], str]:
    """The sections of ``res``'s hot functions when each function has its own, and the script
    GNU ld links it with: learnt from one link with ``-ffunction-sections`` and a link map,
    kept beside the build until it changes."""
    obj = res.python.parent
    names_file, script_file = obj / "quicken-hot-sections.txt", obj / "quicken-link.ld"
    if _fresh(names_file, res.python) and _fresh(script_file, res.python):
        return names_file.read_text().split(), script_file.read_text()
    report(f"relink {res.target} ({res.config}): linking once with a section per function, to learn "
           "which functions are hot")
    link_map = obj / "quicken-sections.map"
    printed: list[str] = []
    learnt = _link(cfg, res, f"{res.python.name}-sections",
                   ["-ffunction-sections", f"-Wl,-Map={link_map}", "-Wl,--verbose"], env, log, printed.append)
    learnt.unlink()
    rules = [i for i, line in enumerate(printed) if line.strip() == _SCRIPT_RULE]
    if len(rules) < 2:
        raise BuildError(f"relink {res.target} ({res.config}): the linker printed no linker script "
                         "with --verbose", f"relinked layouts need GNU ld (binutils); log: {log}")
    script = "".join(printed[rules[0] + 1: rules[1]])
    ordering_script(script, [])  # refuses a script without the hot functions' line now, not per layout
    if not link_map.is_file():
        raise BuildError(f"relink {res.target} ({res.config}): the linker wrote no link map ({link_map})",
                         f"relinked layouts need GNU ld (binutils); log: {log}")
    text = link_map.read_text(errors="replace")
    memory_map = text[text.find("Linker script and memory map"):]  # not the discarded sections
    names = list(dict.fromkeys(m.group(1) for line in memory_map.splitlines()
                               if (m := _HOT_SECTION.match(line))))
    link_map.unlink()
    names_file.write_text("".join(f"{n}\n" for n in names))
    script_file.write_text(script)
    return names, script


def _loop_assembly(res: BuildResult, env: dict[str, str], log: Path) -> Path | None:
    """The compiler's assembly of the interpreter loop's unit, compiled as the build compiled
    its object (the Makefile's own command, ``-S`` for ``-c``), kept beside the build until it
    changes; None for a link-time-optimised build, whose loop is compiled only when linked."""
    obj = res.python.parent
    out = obj / "quicken-loop.s"
    if _fresh(out, res.python):
        return out
    source = configured_source(obj)
    if source is None:
        raise BuildError(f"relink {res.target}: {obj / 'Makefile'} names no absolute srcdir",
                         f"build {res.target} again (quicken build --force)")
    dry = subprocess.run(["make", "-n", "-W", str(source / LOOP_SOURCE), LOOP_OBJECT], cwd=obj, env=env,
                         capture_output=True, text=True, check=False)
    commands = [shlex.split(line) for line in dry.stdout.splitlines() if f" -o {LOOP_OBJECT} " in f" {line} "]
    if dry.returncode != 0 or len(commands) != 1:
        raise BuildError(f"relink {res.target}: 'make -n' printed {len(commands)} commands that compile "
                         f"{LOOP_OBJECT}, not one", f"see {obj / 'Makefile'}; {dry.stderr.strip()[:200]}")
    argv = commands[0]
    if any(arg.startswith("-flto") for arg in argv):
        return None
    partial = obj / "quicken-loop.s.partial"
    compile_s: list[str] = []
    args = iter(argv)
    for arg in args:
        if arg in ("-MMD", "-MD"):  # the build's dependency files stay the build's
            continue
        if arg == "-MF":
            next(args, None)
        elif arg == "-c":
            compile_s.append("-S")
        elif arg == LOOP_OBJECT:
            compile_s.append(partial.name)
        else:
            compile_s.append(arg)
    status = _run_logged(compile_s, obj, env, log, lambda _: None)
    if status != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise failure(f"relink {res.target}: compiling {LOOP_SOURCE} to assembly", log, obj, env)
    os.replace(partial, out)
    return out


def _padded_loop(res: BuildResult, shift: int, env: dict[str, str], log: Path,
                 report: Report) -> Path | None:
    """The interpreter loop's object with layout ``shift``'s interior pads (:func:`interior_pads`,
    :func:`pad_loop`), assembled beside the build; None for a link-time-optimised build."""
    assembly = _loop_assembly(res, env, log)
    if assembly is None:
        report(f"relink {res.target} ({res.config}): link-time optimisation compiles the loop when it is "
               "linked, so this layout moves it whole, not its blocks inside")
        return None
    obj = res.python.parent
    source, padded = obj / f"quicken-loop-{shift}.s", _padded_object(res, shift)
    if _fresh(padded, assembly):
        return padded
    text, placed = pad_loop(assembly.read_text(), LOOP_SYMBOL, interior_pads(shift))
    source.write_text(text)
    partial = obj / f"{padded.name}.partial"  # an interrupted assembly must not pass for a finished one
    partial.unlink(missing_ok=True)
    assemble = [shutil.which("gcc") or "cc", "-c", "-x", "assembler", "-o", partial.name, source.name]
    status = _run_logged(assemble, obj, env, log, lambda _: None)
    if status != 0 or not partial.is_file():
        partial.unlink(missing_ok=True)
        raise failure(f"relink {res.target}: assembling the padded interpreter loop", log, obj, env)
    os.replace(partial, padded)
    where = ", ".join(f"{size} at {fraction:.0%}" for fraction, size in placed)
    report(f"relink {res.target} ({res.config}): pads inside the interpreter loop of {where} of its code "
           "(bytes, never executed)")
    return padded


def _padded_object(res: BuildResult, shift: int) -> Path:
    return res.python.parent / f"quicken-loop-{shift}.o"


def interior_padded(res: BuildResult, shift: int) -> bool:
    """Whether ``res``'s layout ``shift`` (:func:`relink`) pads its interpreter loop inside."""
    return _fresh(_padded_object(res, shift), res.python)


def relink(cfg: Config, res: BuildResult, shift: int, report: Report) -> Path:
    """``res``'s interpreter linked again, from the same objects, at layout ``shift``: a probe of
    ``shift`` bytes (:func:`split_shift`), the part below a cache line ahead of all hot and
    ordinary code, the rest between the two (it moves the ordinary code relative to the hot
    code), and the hot functions -- with a profile, every function the training run found hot
    and the interpreter loop's entry (its body is its cold part, behind the probe's first
    part) -- in the order :func:`hot_order` gives them for ``shift``.

    Inside the loop, the blocks move too: its object is assembled again from the
    compiler's own assembly with a few never-executed pads between blocks
    (:func:`interior_pads`), since a patch moves the loop's blocks relative to each other,
    not only the loop as a whole.  A link-time-optimised build's loop is compiled at link
    time, so its layouts move it whole.

    A profile-guided build keeps its profile: nothing is compiled again (link-time
    optimisation runs again from the same objects, each function in a section of its own so
    the linker can order them; the instructions are the same, but a short ``jmp`` between
    functions can become a long one and alignment padding can change).  The binary, ``python-layout-<shift>``
    beside ``python``, runs from the build directory as ``python`` does and is reused until
    the build changes.
    """
    before, after = split_shift(shift)
    obj = res.python.parent
    name = f"{res.python.name}-layout-{shift}"
    ordered = obj / f"quicken-layout-{shift}.ld"
    require_tools()
    log = obj.parent / "relink.log"
    env = build_env(cfg, cfg.build_config(res.config))
    loop = _padded_loop(res, shift, env, log, report)
    if _fresh(obj / name, ordered, res.python, *([loop] if loop else [])):  # from this build, this layout
        return obj / name
    hot, script = _hot_sections(cfg, res, env, log, report)
    probe, source = obj / f"quicken-layout-probe-{shift}.o", obj / f"quicken-layout-probe-{shift}.s"
    source.write_text(probe_assembly(before, after))
    ordered.write_text(ordering_script(script, hot_order(hot, shift)))
    report(f"relink {res.target} ({res.config}) with a layout probe of {before}+{after} bytes and "
           f"{len(hot)} hot functions in the order of layout {shift}")
    status = _run_logged([shutil.which("gcc") or "cc", "-c", "-o", str(probe), str(source)], obj, env, log,
                         lambda _: None)
    if status != 0:
        raise failure(f"relink {res.target}: assembling the layout probe", log, obj, env)
    replace = [f"LINK_PYTHON_OBJS=$(patsubst {LOOP_OBJECT},{loop.name},$(LIBRARY_OBJS))"] if loop else []
    binary = _link(cfg, res, name, [str(probe), "-ffunction-sections", f"-Wl,-T,{ordered}"], env, log,
                   make_vars=replace)
    if loop and symbol_size(binary, LOOP_SYMBOL) != symbol_size(loop, LOOP_SYMBOL):
        binary.unlink()
        raise BuildError(f"relink {res.target} ({res.config}): the relinked interpreter's {LOOP_SYMBOL} is "
                         f"not the padded one ({loop.name}): its Makefile does not link {LOOP_OBJECT} itself",
                         f"interior layout probes need a build that links its objects statically; log: {log}")
    moves = []
    for part in (LOOP_SYMBOL, f"{LOOP_SYMBOL}.cold"):  # with a profile the loop's body is its cold part
        was, now = (symbol_address(b, part) for b in (res.python, binary))
        if was is not None and now is not None:
            moves.append(f"{part} by {now - was}")
    if moves:
        report(f"relink {res.target} ({res.config}): moved {', '.join(moves)} bytes")
    return binary


def read_stamp_any(slot: Path) -> Stamp | None:
    """The configuration the obj directory was last configured with, even if its build failed."""
    return read_stamp(slot, "last.json")


# Installing or removing a system package changes this file: configure results
# cached before that (e.g. "no gdbm") must not be reused after it.
PACKAGE_DATABASE = Path("/var/lib/dpkg/status")


def _sibling_config_cache(cfg: Config, config_name: str, slot: Path) -> Path | None:
    """A finished sibling's configure cache, if it is newer than the last package change."""
    try:
        packages_changed = PACKAGE_DATABASE.stat().st_mtime
    except OSError:
        packages_changed = 0.0
    for other in slots(cfg, config_name):
        cache = other / "obj" / "config.cache"
        if (
            other != slot
            and cache.is_file()
            and read_stamp(other) is not None
            and cache.stat().st_mtime > packages_changed
        ):
            return cache
    return None


def build_many(
    cfg: Config, targets: list[str], config_name: str | None, report: Report, force: bool = False
) -> list[BuildResult]:
    wt = WorkTree(cfg)
    if wt.exists:
        wt.check_no_rebase()
    if "patched" in targets and wt.exists and wt.dirty():
        report("note: the work tree has uncommitted changes; 'patched' builds its last commit")
    return [build_one(cfg, t, config_name, report, force) for t in targets]
