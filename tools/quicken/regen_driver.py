"""Run several generator scripts of a tree in one interpreter (``in-process`` regen rules).

    {python} regen_driver.py SPEC.json RESULT.json      (cwd: the tree's root)

This file runs under the regeneration interpreter, not Quicken's: it imports
nothing from Quicken and keeps to Python 3.10.  SPEC holds ``commands`` (each
``[SCRIPT, ARG...]``, relative to the tree) and ``memoize`` (``module.function``
names).  Each command runs as ``python SCRIPT ARG...`` would run it: as
``__main__``, with ``sys.argv`` set and the script's directory first on
``sys.path``.  What differs is what makes it fast: the modules a script
imports from the tree stay loaded for the next script of the same directory,
and a memoized function called again with equal arguments, while the files
those arguments name hold the same bytes, returns its first result (so the
callers must not modify it; the regen tests compare the outputs with separate
processes' byte for byte).  The scripts are always the tree's own: a patch
that changes a generator changes what runs here.

RESULT receives one entry per command run, ``{"argv", "status", "error"}``;
the first failing command ends the run.  Exit status: 0 if all succeeded.
"""

from __future__ import annotations

import builtins
import functools
import hashlib
import importlib
import importlib.machinery
import importlib.util
import json
import os
import sys
import traceback
import types
from collections.abc import Callable
from typing import Any

MEMO_ATTR = "__quicken_memoized__"


class _Unkeyable(Exception):
    pass


def _key_part(value: object) -> object:
    """A hashable stand-in for an argument; a string naming a file carries the file's sha256."""
    if isinstance(value, str):
        if os.path.isfile(value):
            with open(value, "rb") as f:
                return ("file", value, hashlib.sha256(f.read()).hexdigest())
        return ("str", value)
    if value is None or isinstance(value, (bool, int, float, bytes)):
        return (type(value).__name__, value)
    if isinstance(value, (list, tuple)):
        return (type(value).__name__, tuple(_key_part(v) for v in value))
    if isinstance(value, dict):
        return ("dict", tuple((_key_part(k), _key_part(v)) for k, v in value.items()))
    raise _Unkeyable(type(value).__name__)


def memoized(function: Callable[..., Any], store: dict[object, Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        try:
            key = (_key_part(list(args)), _key_part(kwargs))
        except _Unkeyable:
            return function(*args, **kwargs)
        if key not in store:
            store[key] = function(*args, **kwargs)
        return store[key]

    setattr(wrapper, MEMO_ATTR, True)
    return wrapper


def _inside(path: str | None, root: str) -> bool:
    if not path:
        return False
    path = os.path.realpath(path)
    return path == root or path.startswith(root + os.sep)


def run_main(script: str) -> None:
    """Execute ``script`` as the interpreter runs its command-line script: module ``__main__``,
    ``__file__`` absolute, ``sys.argv`` as given (runpy would rewrite ``sys.argv[0]``)."""
    with open(script, "rb") as f:
        code = compile(f.read(), script, "exec")
    module = types.ModuleType("__main__")
    module.__file__ = script
    module.__cached__ = None  # type: ignore[attr-defined]
    module.__loader__ = importlib.machinery.SourceFileLoader("__main__", script)
    module.__builtins__ = builtins  # type: ignore[attr-defined]
    saved = sys.modules.get("__main__")
    sys.modules["__main__"] = module
    try:
        exec(code, module.__dict__)
    finally:
        if saved is not None:
            sys.modules["__main__"] = saved
        # As at the end of its own process: what the script left in its globals goes now (a
        # file it left open is closed), without a full collection of the shared parse results.
        module.__dict__.clear()


class Driver:
    def __init__(self, root: str, memoize: list[str]) -> None:
        self.root = os.path.realpath(root)
        self.memoize = memoize
        self.directory: str | None = None
        self.store: dict[object, Any] = {}
        self.base_path = list(sys.path[1:])

    def forget_tree_modules(self) -> None:
        """Unload every module imported from the tree (a new script directory starts afresh)."""
        for name, module in list(sys.modules.items()):
            if _inside(getattr(module, "__file__", None), self.root):
                del sys.modules[name]
        self.store.clear()

    def install_memos(self) -> None:
        for spec in self.memoize:
            module_name, _, attr = spec.rpartition(".")
            try:
                found = importlib.util.find_spec(module_name)
            except (ImportError, ValueError):
                continue
            if found is None or not _inside(found.origin, self.root):
                continue  # not this script's module: memoize only the tree's own code
            module = importlib.import_module(module_name)
            function = getattr(module, attr, None)
            if callable(function) and not getattr(function, MEMO_ATTR, False):
                setattr(module, attr, memoized(function, self.store))

    def run(self, argv: list[str]) -> tuple[int, str]:
        script = os.path.abspath(argv[0])
        directory = os.path.dirname(script)
        if directory != self.directory:
            self.forget_tree_modules()
            self.directory = directory
        sys.path[:] = [directory, *self.base_path]
        sys.argv = list(argv)
        cwd = os.getcwd()
        status, error = 0, ""
        try:
            self.install_memos()
            run_main(script)
        except SystemExit as exc:
            if exc.code is None or exc.code == 0:
                status = 0
            elif isinstance(exc.code, int):
                status, error = exc.code, f"exit {exc.code}"
            else:
                print(exc.code, file=sys.stderr)
                status, error = 1, str(exc.code)
        except BaseException as exc:  # reported as the interpreter would
            traceback.print_exc()
            status, error = 1, "".join(traceback.format_exception_only(type(exc), exc)).strip()
        finally:
            os.chdir(cwd)
            sys.stdout.flush()
            sys.stderr.flush()
        return status, error


def main(args: list[str]) -> int:
    if len(args) != 2:
        print("usage: regen_driver.py SPEC.json RESULT.json", file=sys.stderr)
        return 2
    with open(args[0], encoding="utf-8") as f:
        spec = json.load(f)
    driver = Driver(os.getcwd(), list(spec.get("memoize", [])))
    results: list[dict[str, object]] = []
    status = 0
    for argv in spec["commands"]:
        status, error = driver.run(list(argv))
        results.append({"argv": argv, "status": status, "error": error})
        if status != 0:
            break
    with open(args[1], "w", encoding="utf-8") as f:
        json.dump(results, f)
    return 0 if status == 0 else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
