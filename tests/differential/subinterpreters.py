"""The series' specializations inside sub-interpreters (_interpreters).

Every family is warmed up and checked inside an isolated sub-interpreter
(own GIL) and a legacy one (shared GIL), printing results from there; the
array module is imported for the first time inside a sub-interpreter (it
publishes its item functions when executed) and then used by the main
interpreter after that sub-interpreter is destroyed; a PEP 523 hook is
installed in a sub-interpreter only (hooks are per interpreter); and
sys.monitoring events are enabled inside a sub-interpreter.  The
sub-interpreters report the instructions that specialized there through a
file (note_live()), never through stdout.
"""

import json
import os
import sys
import tempfile

import _interpreters
from _harness import expect_live, note_live, show

HERE = os.path.dirname(os.path.abspath(__file__))

expect_live("BINARY_OP_INT_COMPACT", "BINARY_OP_MIXED_FLOAT", "FOR_ITER_DICT", "FOR_ITER_DICT_ITEMS",
            "COMPARE_OP_MIXED_FLOAT", "TO_BOOL_SIZED", "FOR_ITER_ENUMERATE",
            "LOAD_ATTR_CLASS_WITH_METACLASS_CHECK", "BINARY_SUBSCR_ARRAY_INT", "STORE_SUBSCR_ARRAY_INT",
            "CALL_ALLOC_AND_ENTER_INIT_GENERAL")

PRELUDE = f"""
import sys, json
sys.path.insert(0, {HERE!r})
import _harness
def report(path):
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(sorted(_harness._live)) + "\\n")
"""

FAMILIES = """
import _families
from _harness import show, outcome, warm, live, fresh, eval_frame_record
warmed = _families.warm_all()
for name, f, args in warmed:
    show(f"[{tag}] {name}", outcome(f, *args()))
_families.record(warmed)

# values that change type after warm-up, inside the sub-interpreter
for name, f, args, others in [
    ("int_ops", warmed[0][1], None, [(2**40, 3), (7, 0), (-7, -3), (True, 2), (1.5, 2)]),
    ("float_mix", warmed[1][1], None, [(1.5, 2**60), (0.0, 0), (2**1024, 1.0), (float("nan"), 3)]),
    ("dict_loops", warmed[2][1], None, [({},), ([("a", 1)],), ({1: 2, 3: 4},)]),
    ("compare", warmed[3][1], None, [(float(2**53), 2**53 + 1), (float("nan"), 1), (True, 1.0)]),
    ("truth", warmed[4][1], None, [((), {1: 1}, set(), frozenset({1})), ([], [1], "", "x")]),
    ("enum_loop", warmed[5][1], None, [("ab",), ((1, 2),), (range(3),)]),
    ("array_ops", warmed[7][1], None, [([1, 2],), (bytearray(b"ab"),)]),
    ("make_objects", warmed[8][1], None, [(0,), (3,)]),
]:
    for a in others:
        show(f"[{tag}] {name} {a!r}", outcome(f, *a))
_families.record(warmed)

# a PEP 523 hook installed in this interpreter only
r, names = eval_frame_record(warmed[8][1], 2)
show(f"[{tag}] make_objects hooked", (r, names))
show(f"[{tag}] make_objects unhooked", outcome(warmed[8][1], 2))
report(path)
"""

ARRAY_FIRST = """
import array
from _harness import show, outcome, warm, live, fresh
def load(a, i):
    return a[i]
def store(a, i, v):
    a[i] = v
    return a.tolist()
f, g = fresh(load), fresh(store)
a = array.array("q", range(10))
warm(f, a, 3)
warm(g, a, 3, 33)
show(f"[{tag}] array load", [outcome(f, a, i) for i in (0, 9, 10, -1, 2**40)])
show(f"[{tag}] array store", [outcome(g, a, i, v) for i, v in ((0, 5), (9, 2**63), (10, 1), (1, 1.5))])
live(f)
live(g)
report(path)
"""

MONITORING = """
import sys, dis
import _families
from _harness import show, outcome
mon = sys.monitoring
warmed = _families.warm_all()
_families.record(warmed)
seen = []
code = warmed[2][1].__code__
names = {i.offset: i.opname for i in dis.get_instructions(code)}
mon.use_tool_id(3, "sub")
mon.register_callback(3, mon.events.INSTRUCTION, lambda c, off: seen.append(names.get(off)) if c is code else None)
mon.set_local_events(3, code, mon.events.INSTRUCTION)
r = outcome(warmed[2][1], {"x": 1, "y": 2})
mon.set_local_events(3, code, 0)
mon.free_tool_id(3)
show(f"[{tag}] monitored dict_loops", (r, seen))
show(f"[{tag}] unmonitored dict_loops", outcome(warmed[2][1], {"x": 1, "y": 2}))
report(path)
"""


def run_in(config, tag, script, path):
    sys.stdout.flush()
    interp = _interpreters.create(config)
    try:
        exc = _interpreters.exec(interp, PRELUDE + script, shared={"tag": tag, "path": path})
        if exc is not None:
            show(f"[{tag}] raised", (exc.type.__name__, exc.msg))
    finally:
        _interpreters.destroy(interp)
    sys.stdout.flush()


fd, path = tempfile.mkstemp(prefix="quicken-subinterp-", suffix=".jsonl")
os.close(fd)
try:
    assert "array" not in sys.modules
    run_in("isolated", "isolated array-first", ARRAY_FIRST, path)
    run_in("isolated", "isolated", FAMILIES, path)
    run_in("legacy", "legacy", FAMILIES, path)
    run_in("isolated", "isolated monitoring", MONITORING, path)
    # Two live sub-interpreters at once, alternating.
    a = _interpreters.create("isolated")
    b = _interpreters.create("legacy")
    try:
        for rnd in range(2):
            for interp, tag in ((a, "A"), (b, "B")):
                sys.stdout.flush()
                exc = _interpreters.exec(interp, PRELUDE + FAMILIES, shared={"tag": f"{tag}{rnd}", "path": path})
                if exc is not None:
                    show(f"[{tag}{rnd}] raised", (exc.type.__name__, exc.msg))
                sys.stdout.flush()
    finally:
        _interpreters.destroy(a)
        _interpreters.destroy(b)
    with open(path, encoding="utf-8") as f:
        for line in f:
            note_live(json.loads(line))
finally:
    os.unlink(path)

# The main interpreter uses the array module after the sub-interpreter
# that first executed it is gone.
from array import array  # noqa: E402

from _harness import fresh, live, outcome, warm  # noqa: E402


def load(a, i):
    return a[i]


def store(a, i, v):
    a[i] = v


f, g = fresh(load), fresh(store)
arr = array("d", [0.5, 1.5, 2.5])
warm(f, arr, 1)
warm(g, arr, 1, 1.5)
show("main array after sub-interpreters", ([outcome(f, arr, i) for i in (0, 2, 3, -1)],
                                           outcome(g, arr, 2, "x"), outcome(g, arr, 0, 7), arr.tolist()))
live(f)
live(g)
