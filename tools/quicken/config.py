"""The project configuration: ``quicken.toml`` at the project root.

The file names the pin (the CPython release the series applies to, with the
sha256 of its upstream tarball), where the work tree and builds live, the
source providers to try, the build configurations and the regeneration rules
(which CPython generators to run when which inputs change).  See README.md,
"Configuration", for every key.
"""

from __future__ import annotations

import difflib
import hashlib
import json
import os
import re
import sys
import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from .errors import ConfigError

CONFIG_NAME = "quicken.toml"
DEFAULT_PROVIDERS = ("cache", "path", "url", "git", "debian")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_VERSION = re.compile(r"^(\d+)\.(\d+)\.(\d+)((?:a|b|rc)\d+)?$")

NAMES = "<name>"  # in SCHEMA: a table whose keys the user chooses (build configuration names)

#: Every key quicken.toml may hold, with its type.  A dict is a table with
#: these keys, ``[dict]`` an array of such tables, ``{NAMES: type}`` a table
#: of user-chosen names.  Unknown keys are refused (naming the nearest known
#: one); values of the wrong type too.  Extend it here, and parse() below.
SCHEMA: dict[str, object] = {
    "pin": {"version": str, "sha256": str, "git-tag": str, "git-commit": str},
    "paths": {"worktree": str, "builds": str, "cache": str, "patches": str, "overlay": str,
              "benchmarks": str, "differential": str},
    "sources": {"providers": list, "path": str, "url": str, "git": str, "timeout": float,
                "debian-package": str},
    "build": {"default": str, "jobs": int, "keep": int, "configs": {NAMES: list}, "fixups": {NAMES: list}},
    "validate": {"threshold": float, "max-wall-slowdown": float, "max-instruction-slowdown": float,
                 "suite": str},
    "verify": {"configs": list},
    "regen-python": str,
    "regen": [{"name": str, "inputs": list, "outputs": list, "commands": list, "in-process": bool,
               "memoize": list, "scan": list, "markers": list, "needs": list}],
}
_TYPE_NAMES: dict[type, str] = {str: "a string", int: "a whole number", float: "a number"}


@dataclass(frozen=True)
class Pin:
    version: str
    sha256: str
    git_tag: str
    git_commit: str | None = None

    @property
    def major_minor(self) -> tuple[int, int]:
        m = _VERSION.match(self.version)
        assert m is not None  # checked on load
        return int(m.group(1)), int(m.group(2))


@dataclass(frozen=True)
class Sources:
    providers: tuple[str, ...] = DEFAULT_PROVIDERS
    path: Path | None = None
    url: str = "https://www.python.org/ftp/python/{version}/Python-{version}.tar.xz"
    git_url: str = "https://github.com/python/cpython.git"
    timeout: float = 10.0
    debian_package: str = "python{major}.{minor}"


@dataclass(frozen=True)
class RegenRule:
    """Run ``commands`` when a patch changes a file matching ``inputs``.

    ``outputs`` are the files the commands (re)write; a patch may never carry
    them.  In a command, ``{python}`` is the regeneration interpreter and
    ``{changed}`` expands to the changed files matching ``inputs``.

    ``in_process``: the commands (each ``{python} SCRIPT ARGS``) run one after
    the other in one interpreter, each as ``python SCRIPT ARGS`` would run it
    (see regen_driver.py); ``memoize`` names functions (``module.function``,
    a module of the tree) whose results those commands share.  ``scan``:
    inputs the generator only searches for the strings ``markers`` (line by
    line); the rule is skipped when their lines holding a marker, its other
    inputs and its outputs are all as they were after an earlier run.
    ``needs``: ``{changed}`` passes only the files holding one of these
    strings (or not UTF-8), and the rule does not run when none is left.
    """

    name: str
    inputs: tuple[str, ...]
    outputs: tuple[str, ...]
    commands: tuple[tuple[str, ...], ...]
    in_process: bool = False
    memoize: tuple[str, ...] = ()
    scan: tuple[str, ...] = ()
    markers: tuple[str, ...] = ()
    needs: tuple[str, ...] = ()

    def triggered_by(self, path: str) -> bool:
        return any(match_path(path, pat) for pat in self.inputs) and not self.produces(path)

    def produces(self, path: str) -> bool:
        return any(match_path(path, pat) for pat in self.outputs)


@dataclass(frozen=True)
class Fixup:
    """A patch applied to both sides' source for one build configuration only.

    Fixups correct instrumentation, never what is measured: the pystats
    configuration carries a fix to 3.13's deopt counter, which baseline and
    patched must both have for their counts to mean the same thing.
    """

    path: Path

    @property
    def sha256(self) -> str:
        """Read when a build needs it: a missing fixup only stops builds of its configuration."""
        try:
            return hashlib.sha256(self.path.read_bytes()).hexdigest()
        except OSError as exc:
            raise ConfigError(
                f"build fixup {self.path}: {exc.strerror}",
                "restore the file or drop it from [build.fixups] in quicken.toml",
            ) from None

    @property
    def ident(self) -> str:
        return f"{self.path.name}@{self.sha256[:12]}"


@dataclass(frozen=True)
class BuildConfig:
    name: str
    configure: tuple[str, ...]
    fixups: tuple[Fixup, ...] = ()

    @property
    def fixup_idents(self) -> list[str]:
        """``name@sha256-prefix`` of each fixup, as build stamps record them."""
        return [f.ident for f in self.fixups]

    @property
    def profile_guided(self) -> bool:
        """Built with a training run's profile (``--enable-optimizations``)."""
        return "--enable-optimizations" in self.configure

    @property
    def identity(self) -> list[str]:
        """What makes two builds of one tree the same: configure arguments and fixups."""
        return [*self.configure, *(f"fixup:{ident}" for ident in self.fixup_idents)]


@dataclass(frozen=True)
class ValidateSettings:
    """Defaults of the validation gate (fractions: 0.15 is 15 %)."""

    threshold: float = 0.15
    max_wall_slowdown: float = 0.01
    max_instruction_slowdown: float = 0.005
    suite: str = "quick"


@dataclass(frozen=True)
class Config:
    root: Path
    pin: Pin
    sources: Sources
    worktree: Path
    builds: Path
    cache: Path
    patches: Path
    overlay: Path
    benchmarks: Path
    regen_python: str
    regen: tuple[RegenRule, ...]
    build_configs: dict[str, BuildConfig] = field(default_factory=dict)
    default_build: str = "release"
    jobs: int = 0
    keep: int = 24  # rev-* build slots kept per configuration (0: no bound)
    validate: ValidateSettings = field(default_factory=ValidateSettings)
    differential: Path = Path("tests/differential")  # quicken verify's programs
    verify_configs: tuple[str, ...] = ()  # shipped configurations a full verify also runs the programs on

    def is_generated(self, path: str) -> bool:
        return any(rule.produces(path) for rule in self.regen)

    @property
    def job_count(self) -> int:
        """``build.jobs``, where 0 means one job per core."""
        return self.jobs or os.cpu_count() or 1

    def build_config(self, name: str | None) -> BuildConfig:
        key = name or self.default_build
        try:
            return self.build_configs[key]
        except KeyError:
            known = ", ".join(sorted(self.build_configs))
            raise ConfigError(
                f"{self.root / CONFIG_NAME}: no build configuration {key!r}",
                f"choose one of: {known}",
            ) from None


def match_path(path: str, pattern: str) -> bool:
    """Glob match where ``**/`` spans directories and ``*`` stays within one."""
    regex = _glob_regex(pattern)
    return regex.fullmatch(path) is not None


_GLOB_CACHE: dict[str, re.Pattern[str]] = {}


def _glob_regex(pattern: str) -> re.Pattern[str]:
    cached = _GLOB_CACHE.get(pattern)
    if cached is not None:
        return cached
    parts: list[str] = []
    i = 0
    while i < len(pattern):
        if pattern.startswith("**/", i):
            parts.append("(?:.*/)?")
            i += 3
        elif pattern.startswith("**", i):
            parts.append(".*")
            i += 2
        elif pattern[i] == "*":
            parts.append("[^/]*")
            i += 1
        elif pattern[i] == "?":
            parts.append("[^/]")
            i += 1
        else:
            parts.append(re.escape(pattern[i]))
            i += 1
    compiled = re.compile("".join(parts))
    _GLOB_CACHE[pattern] = compiled
    return compiled


def find_root(start: Path | None = None) -> Path:
    """The nearest directory at or above ``start`` holding quicken.toml."""
    env = os.environ.get("QUICKEN_PROJECT")
    if env:
        root = Path(env).resolve()
        if not (root / CONFIG_NAME).is_file():
            raise ConfigError(f"QUICKEN_PROJECT={env}: no {CONFIG_NAME} there")
        return root
    here = (start or Path.cwd()).resolve()
    for candidate in (here, *here.parents):
        if (candidate / CONFIG_NAME).is_file():
            return candidate
    raise ConfigError(
        f"no {CONFIG_NAME} in {here} or any parent directory",
        "run quicken inside a Quicken project, or pass -C PROJECT_DIR",
    )


def default_cache_dir() -> Path:
    env = os.environ.get("QUICKEN_CACHE_DIR")
    if env:
        return Path(env)
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg) if xdg else Path.home() / ".cache"
    return base / "quicken"


def load(root: Path) -> Config:
    path = root / CONFIG_NAME
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigError(f"{path}: not found", "run quicken in a Quicken project, or pass -C DIR") from None
    except OSError as exc:
        raise ConfigError(f"{path}: {exc.strerror}", "make quicken.toml a readable file") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise ConfigError(f"{path}:{line}: not UTF-8 text", "TOML files are UTF-8; re-encode it") from None
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: {exc}", "fix the TOML syntax at that line") from None
    return parse(root, data)


def _kind(value: object, spec: type) -> bool:
    """Whether a TOML value has the scalar type ``spec`` (a bool is not a number, an int is a float)."""
    if isinstance(value, bool):
        return spec is bool
    return isinstance(value, (int, float) if spec is float else spec)


def check_schema(where: Path, data: dict[str, object], schema: dict[str, object], prefix: str = "") -> None:
    """Refuse keys ``schema`` does not know (naming the nearest known key) and values of the wrong type."""
    for key, value in data.items():
        name = prefix + (key if re.fullmatch(r"[A-Za-z0-9_-]+", key) else json.dumps(key))
        if NAMES in schema:
            spec = schema[NAMES]
        elif key in schema:
            spec = schema[key]
        else:
            what = f"table [{name}]" if isinstance(value, dict) else f"key {name}"
            near = difflib.get_close_matches(key, list(schema), n=1, cutoff=0.6)
            known = ", ".join(schema)
            raise ConfigError(f"{where}: unknown {what}",
                              f"did you mean {prefix}{near[0]}? (known: {known})" if near
                              else f"known here: {known}")
        if spec in (str, int, float) and not _kind(value, spec):  # tables and lists: parse() says more
            raise ConfigError(f"{where}: {name} must be {_TYPE_NAMES[spec]}, not {type(value).__name__} "
                              f"{value!r:.40}", "see README.md, Configuration")
        if isinstance(spec, dict) and isinstance(value, dict):
            check_schema(where, value, spec, f"{name}.")
        elif isinstance(spec, list) and isinstance(value, list):
            for i, item in enumerate(value):
                if isinstance(item, dict):
                    check_schema(where, item, spec[0], f"{name}[{i}].")


def parse(root: Path, data: dict[str, object]) -> Config:
    where = root / CONFIG_NAME
    check_schema(where, data, SCHEMA)

    def table(name: str) -> dict[str, object]:
        value = data.get(name, {})
        if not isinstance(value, dict):
            raise ConfigError(f"{where}: [{name}] must be a table")
        return value

    def string(tbl: dict[str, object], key: str, ctx: str, default: str | None = None) -> str:
        value = tbl.get(key, default)
        if not isinstance(value, str):
            raise ConfigError(f"{where}: {ctx}.{key} must be a string")
        return value

    pin_t = table("pin")
    version = string(pin_t, "version", "pin")
    if not _VERSION.match(version):
        raise ConfigError(f"{where}: pin.version {version!r} is not a CPython release version")
    sha = string(pin_t, "sha256", "pin").lower()
    if not _SHA256.match(sha):
        raise ConfigError(f"{where}: pin.sha256 must be 64 hex digits")
    commit = pin_t.get("git-commit")
    if commit is not None and not (isinstance(commit, str) and re.fullmatch(r"[0-9a-f]{40}", commit)):
        raise ConfigError(f"{where}: pin.git-commit must be a 40-hex-digit commit id")
    pin = Pin(version, sha, string(pin_t, "git-tag", "pin", f"v{version}"), commit)

    src_t = table("sources")
    providers = src_t.get("providers", list(DEFAULT_PROVIDERS))
    if not isinstance(providers, list) or not all(p in DEFAULT_PROVIDERS for p in providers):
        raise ConfigError(f"{where}: sources.providers must list some of {', '.join(DEFAULT_PROVIDERS)}")
    src_path = src_t.get("path")
    timeout = src_t.get("timeout", 10)
    if not isinstance(timeout, (int, float)) or timeout <= 0:
        raise ConfigError(f"{where}: sources.timeout must be a positive number of seconds")
    defaults = Sources()
    sources = Sources(
        providers=tuple(providers),
        path=(root / src_path) if isinstance(src_path, str) else None,
        url=string(src_t, "url", "sources", defaults.url),
        git_url=string(src_t, "git", "sources", defaults.git_url),
        timeout=float(timeout),
        debian_package=string(src_t, "debian-package", "sources", defaults.debian_package),
    )

    paths_t = table("paths")
    cache_s = paths_t.get("cache")
    build_t = table("build")
    configs_t = build_t.get("configs", {"release": []})
    if not isinstance(configs_t, dict) or not configs_t:
        raise ConfigError(f"{where}: [build.configs] must map names to configure argument lists")
    build_configs: dict[str, BuildConfig] = {}
    for name, args in configs_t.items():
        if not isinstance(args, list) or not all(isinstance(a, str) for a in args):
            raise ConfigError(f"{where}: build.configs.{name} must be a list of strings")
        build_configs[name] = BuildConfig(name, tuple(args))
    fixups_t = build_t.get("fixups", {})
    if not isinstance(fixups_t, dict):
        raise ConfigError(f"{where}: [build.fixups] must map configuration names to lists of patch files")
    for name, files in fixups_t.items():
        if name not in build_configs:
            raise ConfigError(f"{where}: build.fixups.{name}: no such build configuration")
        if not isinstance(files, list) or not all(isinstance(f, str) for f in files):
            raise ConfigError(f"{where}: build.fixups.{name} must be a list of patch file paths")
        build_configs[name] = BuildConfig(name, build_configs[name].configure,
                                          tuple(Fixup(root / f) for f in files))
    default_build = string(build_t, "default", "build", "release")
    if default_build not in build_configs:
        raise ConfigError(f"{where}: build.default {default_build!r} is not in [build.configs]")
    jobs = build_t.get("jobs", 0)
    if not isinstance(jobs, int) or jobs < 0:
        raise ConfigError(f"{where}: build.jobs must be a whole number (0 = all cores)")
    keep = build_t.get("keep", 24)
    if not isinstance(keep, int) or keep < 0:
        raise ConfigError(f"{where}: build.keep must be a whole number of build slots (0 = no bound)")

    rules: list[RegenRule] = []
    regen_list = data.get("regen", [])
    if not isinstance(regen_list, list):
        raise ConfigError(f"{where}: [[regen]] must be an array of tables")
    for i, rule in enumerate(regen_list):
        ctx = f"regen[{i}]"
        if not isinstance(rule, dict):
            raise ConfigError(f"{where}: {ctx} must be a table")
        name = string(rule, "name", ctx)

        def strings(key: str, rule: dict[str, object] = rule, ctx: str = ctx) -> tuple[str, ...]:
            value = rule.get(key, [])
            if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                raise ConfigError(f"{where}: {ctx}.{key} must be a list of strings")
            return tuple(value)

        commands = rule.get("commands", [])
        if (
            not isinstance(commands, list)
            or not commands
            or not all(isinstance(c, list) and c and all(isinstance(a, str) for a in c) for c in commands)
        ):
            raise ConfigError(f"{where}: {ctx}.commands must be a non-empty list of argument lists")
        in_process = rule.get("in-process", False)
        if not isinstance(in_process, bool):
            raise ConfigError(f"{where}: {ctx}.in-process must be true or false")
        scripts = all(len(c) >= 2 and c[0] == "{python}" and c[1].endswith(".py") for c in commands)
        if in_process and not scripts:
            raise ConfigError(f"{where}: {ctx}: in-process commands must each be "
                              '["{python}", "SCRIPT.py", ...]')
        memoize = strings("memoize")
        if memoize and not in_process:
            raise ConfigError(f"{where}: {ctx}.memoize needs in-process = true")
        for spec in memoize:
            if not re.fullmatch(r"[A-Za-z_]\w*(\.[A-Za-z_]\w*)+", spec):
                raise ConfigError(f"{where}: {ctx}.memoize: {spec!r} is not MODULE.FUNCTION")
        scan, markers = strings("scan"), strings("markers")
        if bool(scan) != bool(markers) or any(not m or "\n" in m for m in markers):
            raise ConfigError(f"{where}: {ctx}: scan and markers go together "
                              "(markers: non-empty strings of one line)")
        needs = strings("needs")
        if needs and not any("{changed}" in c for c in commands):
            raise ConfigError(f"{where}: {ctx}.needs filters {{changed}}, which no command uses")
        if any(not n for n in needs):
            raise ConfigError(f"{where}: {ctx}.needs: empty string")
        rules.append(
            RegenRule(name, strings("inputs"), strings("outputs"), tuple(tuple(c) for c in commands),
                      in_process, memoize, scan, markers, needs)
        )
    val_t = table("validate")
    fractions: dict[str, float] = {}
    for key in ("threshold", "max-wall-slowdown", "max-instruction-slowdown"):
        value = val_t.get(key, getattr(ValidateSettings(), key.replace("-", "_")))
        if not isinstance(value, (int, float)) or not 0 <= value < 1:
            raise ConfigError(f"{where}: validate.{key} must be a fraction in [0, 1) (0.15 = 15 %)")
        fractions[key.replace("-", "_")] = float(value)
    validate = ValidateSettings(**fractions, suite=string(val_t, "suite", "validate", "quick"))
    verify_configs = table("verify").get("configs", [])
    if not isinstance(verify_configs, list):
        raise ConfigError(f"{where}: verify.configs must be a list of build configuration names")
    for name in verify_configs:
        if not isinstance(name, str) or name not in build_configs or name == default_build:
            raise ConfigError(f"{where}: verify.configs: {name!r} is not a build configuration other than "
                              f"the default ({default_build!r})",
                              f"choose from: {', '.join(sorted(set(build_configs) - {default_build}))}")
    regen_python = data.get("regen-python", sys.executable)
    if not isinstance(regen_python, str):
        raise ConfigError(f"{where}: regen-python must be a string")

    return Config(
        root=root,
        pin=pin,
        sources=sources,
        worktree=root / string(paths_t, "worktree", "paths", "work/cpython"),
        builds=root / string(paths_t, "builds", "paths", "work/builds"),
        cache=(root / cache_s) if isinstance(cache_s, str) else default_cache_dir(),
        patches=root / string(paths_t, "patches", "paths", "patches"),
        overlay=root / string(paths_t, "overlay", "paths", "cpython_overlay"),
        benchmarks=root / string(paths_t, "benchmarks", "paths", "benchmarks"),
        differential=root / string(paths_t, "differential", "paths", "tests/differential"),
        regen_python=regen_python,
        regen=tuple(rules),
        build_configs=build_configs,
        default_build=default_build,
        jobs=jobs,
        keep=keep,
        validate=validate,
        verify_configs=tuple(verify_configs),
    )


def rewrite_pin(text: str, version: str, sha256: str, git_tag: str | None, git_commit: str | None) -> str:
    """``text`` (quicken.toml) with the [pin] keys set, everything else byte for byte.

    Only the value of each ``key = "..."`` line of the [pin] table changes;
    comments (on their own lines or after a value) and layout survive.  A key
    whose new value is None is removed (``git-commit``), or left out when
    absent; a missing key with a value is added after the last [pin] line.
    ``git_tag`` None means the default (``v<version>``): an existing line is
    updated to it, no line is added.
    """
    lines = text.splitlines(keepends=True)
    start = next((i for i, ln in enumerate(lines) if re.match(r"^\s*\[pin\]\s*(#.*)?$", ln)), None)
    if start is None:
        raise ConfigError(f"{CONFIG_NAME}: no [pin] table to rewrite")
    end = next((i for i in range(start + 1, len(lines)) if re.match(r"^\s*\[", lines[i])), len(lines))
    wanted: dict[str, str | None] = {
        "version": version,
        "sha256": sha256,
        "git-tag": git_tag or f"v{version}",
        "git-commit": git_commit,
    }
    seen: set[str] = set()
    out = lines[:start + 1]
    last_key = start
    for i in range(start + 1, end):
        line = lines[i]
        m = re.match(r'^(\s*)([A-Za-z0-9_-]+)(\s*=\s*)"[^"\n]*"(.*)$', line, re.S)
        if m and m.group(2) in wanted:
            key = m.group(2)
            seen.add(key)
            value = wanted[key]
            if value is None:
                continue
            out.append(f'{m.group(1)}{key}{m.group(3)}"{value}"{m.group(4)}')
            last_key = len(out) - 1
            continue
        if m:
            last_key = len(out)
        out.append(line)
    added = [f'{key} = "{value}"\n' for key, value in wanted.items()
             if key not in seen and value is not None and not (key == "git-tag" and git_tag is None)]
    if added:
        if not out[last_key].endswith("\n"):
            out[last_key] += "\n"
        out[last_key + 1:last_key + 1] = added
    out += lines[end:]
    result = "".join(out)
    pin = tomllib.loads(result).get("pin", {})
    check = {"version": version, "sha256": sha256, "git-tag": git_tag or f"v{version}",
             "git-commit": git_commit}
    for key, value in check.items():
        if pin.get(key, f"v{version}" if key == "git-tag" else None) != value:
            raise ConfigError(f"{CONFIG_NAME}: could not rewrite pin.{key} (unusual layout)",
                              f"set [pin] {key} = \"{value}\" by hand")
    return result


def write_pin(root: Path, version: str, sha256: str, git_tag: str | None, git_commit: str | None) -> None:
    """Rewrite the [pin] of ``root/quicken.toml`` in place (atomically), keeping comments."""
    path = root / CONFIG_NAME
    text = path.read_text(encoding="utf-8")
    new = rewrite_pin(text, version, sha256, git_tag, git_commit)
    if new == text:
        return
    tmp = path.with_name(f".{CONFIG_NAME}.tmp")
    tmp.write_text(new, encoding="utf-8")
    os.chmod(tmp, os.stat(path).st_mode & 0o7777)
    os.replace(tmp, path)
