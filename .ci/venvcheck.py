"""Is the project's virtual environment complete?  Run by the venv's own python.

Usage: .venv/bin/python -I .ci/venvcheck.py PROJECT_DIR [EXTRA_REQUIREMENT...]

Checks, without touching anything, that the environment has pip, that every
requirement of pyproject.toml (dependencies and the ``test`` extra) plus the
extra requirements (e.g. ``tox``) is installed at an allowed version, that
``quicken`` is an editable install of PROJECT_DIR at its current version, and
that the console scripts exist.  Prints one line saying what is wrong.

Exit codes: 0 complete; 3 packages missing or outdated (pip install fixes it);
4 the environment itself is broken (rebuild it).  Anything else (1 for an
uncaught exception, 126/127 when the interpreter cannot start) is broken too.
"""
from __future__ import annotations

import importlib.metadata as md
import importlib.util
import sys
import tomllib
from pathlib import Path


def broken(why: str) -> int:
    print(why)
    return 4


def main(argv: list[str]) -> int:
    if importlib.util.find_spec("pip") is None:
        return broken("it has no pip")
    try:
        from packaging.requirements import Requirement
    except ImportError:  # before the first install: pip's own copy
        from pip._vendor.packaging.requirements import Requirement

    root = Path(argv[0]).resolve()
    project = tomllib.loads((root / "pyproject.toml").read_text())["project"]
    wanted = [
        *project.get("dependencies", []),
        *project.get("optional-dependencies", {}).get("test", []),
        *argv[1:],
    ]
    missing: list[str] = []
    for text in wanted:
        req = Requirement(text)
        if req.marker is not None and not req.marker.evaluate():
            continue
        try:
            have = md.version(req.name)
        except md.PackageNotFoundError:
            missing.append(req.name)
            continue
        if not req.specifier.contains(have, prereleases=True):
            missing.append(f"{req.name}{req.specifier} (have {have})")

    try:
        have = md.version(project["name"])
    except md.PackageNotFoundError:
        missing.append(project["name"])
    else:
        if have != project["version"]:
            missing.append(f"{project['name']}=={project['version']} (have {have})")
        else:
            spec = importlib.util.find_spec(project["name"])
            origin = Path(spec.origin).resolve() if spec and spec.origin else None
            if origin is None or not origin.is_relative_to(root):
                missing.append(f"{project['name']} (installed from {origin}, not this checkout)")

    bindir = Path(sys.prefix) / "bin"
    for script in ("quicken", "tox"):
        if not missing and not (bindir / script).is_file():
            missing.append(f"{script} script")

    if missing:
        print("missing: " + ", ".join(missing))
        return 3
    try:
        import quicken  # noqa: F401
        import tox  # noqa: F401
    except Exception as exc:  # installed but does not import: a half-written install
        return broken(f"import quicken, tox fails: {type(exc).__name__}: {exc}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
