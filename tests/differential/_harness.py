"""Helpers shared by the differential programs.

A differential program is run by ``quicken verify`` on the baseline (stock)
build and on the patched build; its standard output must be identical on both
(after memory addresses are masked).  So a program prints only *semantic*
results -- values, exception types and messages, event sequences -- never
which instructions ran.  What ran goes to a side channel: ``warm()`` and
``live()`` record the specialized instructions present in a function's
adaptive bytecode, and ``expect_live()`` names the ones the program is meant
to reach; ``quicken verify`` reads that channel (``QUICKEN_VERIFY_LIVE``) from
the patched run and flags a program that never reached what it expects.

Run a program by hand with either build: ``work/builds/release/baseline/obj/python
tests/differential/binary_op_int.py``.
"""

from __future__ import annotations

import atexit
import dis
import json
import math
import os
import re
import sys
import types

#: Calls made to warm a function up: 3.13 specializes after 2 executions and
#: re-specializes 52 misses after a deopt; loops inside the callee add more.
WARMUP = int(os.environ.get("QUICKEN_VERIFY_WARMUP", "64"))

_ADDRESS = re.compile(r"0x[0-9a-fA-F]+")
_SPECIALIZED = frozenset(getattr(dis, "_specialized_opmap", {}))
_live: set[str] = set()
_expected: set[str] = set()


def mask(text: str) -> str:
    """Text with memory addresses replaced, so both builds print the same."""
    return _ADDRESS.sub("0x?", text)


def show(label: str, value: object) -> None:
    """Print one result line: ``label: repr(value)``, addresses masked."""
    print(f"{label}: {mask(repr(value))}", flush=True)


def sign(value: float) -> float | str:
    """The sign of a float result where Python defines it: ``"nan"`` for any NaN.

    IEEE 754 leaves the sign of a NaN produced by arithmetic unspecified, and
    stock CPython's own builds disagree on it: ``nan * -1`` keeps the sign on
    a release build of 3.13.15 and flips it on its PGO+LTO build (GCC turns the
    multiplication by -1.0 in float_mul's int path into a negation).  Signed
    zeros and infinities are compared as they are.
    """
    return "nan" if value != value else math.copysign(1.0, value)


def outcome(fn, /, *args, **kwargs) -> tuple:
    """("ok", result) or ("raise", exception type name, message)."""
    try:
        return ("ok", fn(*args, **kwargs))
    except Exception as exc:
        return ("raise", type(exc).__qualname__, mask(str(exc)))


def check(label: str, fn, /, *args, **kwargs) -> None:
    """Print the outcome of one call."""
    show(label, outcome(fn, *args, **kwargs))


def fresh(fn):
    """A copy of ``fn`` with its own, never executed, code object."""
    copy = types.FunctionType(fn.__code__.replace(), fn.__globals__, fn.__name__,
                              fn.__defaults__, fn.__closure__)
    copy.__kwdefaults__ = fn.__kwdefaults__
    return copy


def live(fn) -> set[str]:
    """Record (and return) the specialized instructions now in ``fn``'s code."""
    names = set()
    stack = [fn.__code__ if hasattr(fn, "__code__") else fn]
    while stack:
        code = stack.pop()
        for ins in dis.get_instructions(code, adaptive=True):
            if ins.opname in _SPECIALIZED:
                names.add(ins.opname)
        stack.extend(c for c in code.co_consts if isinstance(c, types.CodeType))
    _live.update(names)
    return names


def warm(fn, /, *args, times: int = WARMUP, **kwargs) -> tuple:
    """Call ``fn`` ``times`` times, record what specialized, return the last outcome."""
    result = None
    for _ in range(times):
        result = outcome(fn, *args, **kwargs)
    live(fn)
    return result


def warm_check(label: str, fn, /, *args, times: int = WARMUP, **kwargs) -> None:
    """Warm ``fn`` up with these arguments, then print the outcome of one more call."""
    warm(fn, *args, times=times, **kwargs)
    check(label, fn, *args, **kwargs)
    live(fn)


def expect_live(*names: str) -> None:
    """The specialized instructions this program must reach on a build that has them."""
    _expected.update(names)


def _in_main_interpreter() -> bool:
    try:
        import _interpreters
    except ImportError:
        return True
    return _interpreters.get_current()[0] == _interpreters.get_main()[0]


def _write_live() -> None:
    path = os.environ.get("QUICKEN_VERIFY_LIVE")
    if not path:
        return
    if not _in_main_interpreter():
        # A sub-interpreter that imported the harness reports its live
        # instructions to the main interpreter instead (see note_live()).
        return
    with open(path, "w", encoding="utf-8") as f:
        json.dump({"live": sorted(_live), "expected": sorted(_expected),
                   "known": sorted(_SPECIALIZED)}, f)


atexit.register(_write_live)
sys.setrecursionlimit(max(sys.getrecursionlimit(), 1000))


# ---------------------------------------------------------------------------
# Helpers for the concern programs (tracing, monitoring, PEP 523,
# sub-interpreters).  They only add to the API above.

def note_live(names) -> None:
    """Record specialized instruction names observed elsewhere (for example
    in a sub-interpreter, which reports them back through a file)."""
    _live.update(n for n in names if n in _SPECIALIZED)


def _code_name(code) -> str:
    return code.co_qualname if hasattr(code, "co_qualname") else code.co_name


def traced(fn, /, *args, profile: bool = False, **kwargs) -> tuple:
    """Run ``fn`` under sys.settrace (or sys.setprofile when ``profile``)
    and return (outcome, events).  Events are (event, function, line offset
    from the function's first line) for Python frames of this program's
    files, and (event, callee name) for C calls under the profiler."""
    events = []
    here = fn.__code__.co_filename if hasattr(fn, "__code__") else None
    harness = __file__

    def name_of(frame):
        return _code_name(frame.f_code)

    def tracer(frame, event, arg):
        code = frame.f_code
        if code.co_filename == harness or (here and code.co_filename != here):
            return tracer
        item = [event, name_of(frame), frame.f_lineno - code.co_firstlineno]
        if event == "exception":
            item.append(arg[0].__name__)
        elif event == "return":
            item.append(mask(repr(arg)) if not isinstance(arg, types.GeneratorType) else "<gen>")
        elif event in ("c_call", "c_return", "c_exception"):
            item.append(getattr(arg, "__qualname__", getattr(arg, "__name__", "?")))
        events.append(tuple(item))
        return tracer

    if profile:
        sys.setprofile(tracer)
        try:
            result = outcome(fn, *args, **kwargs)
        finally:
            sys.setprofile(None)
    else:
        sys.settrace(tracer)
        try:
            result = outcome(fn, *args, **kwargs)
        finally:
            sys.settrace(None)
    return result, events


def eval_frame_record(fn, /, *args, **kwargs) -> tuple:
    """Run ``fn`` with the PEP 523 hook of _testinternalcapi that records the
    name of every Python function whose frame it evaluates; return
    (outcome, names).  The hook is removed again afterwards."""
    import _testinternalcapi
    names: list = []
    _testinternalcapi.set_eval_frame_record(names)
    try:
        try:
            result = ("ok", fn(*args, **kwargs))
        except Exception as exc:
            result = ("raise", type(exc).__qualname__, mask(str(exc)))
    finally:
        _testinternalcapi.set_eval_frame_default()
    recorded = list(names)
    return result, recorded
