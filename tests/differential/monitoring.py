"""sys.monitoring (PEP 669) over the specialized sites of every family.

INSTRUCTION, LINE, BRANCH, JUMP, PY_START, PY_RETURN, CALL and
C_RETURN/C_RAISE events on warmed (specialized) code: local events on one
code object, global events, events switched on from inside a running
specialized loop and switched off again, a LINE callback that returns
DISABLE, and the sites re-specializing after the events are removed.
Instruction names are read from the un-specialized bytecode by offset, so
both builds print the same; the fused FOR_ITER_DICT_ITEMS /
FOR_ITER_ENUMERATE must still let the skipped UNPACK_SEQUENCE report its
INSTRUCTION event.
"""

import dis
import sys

import _families
from _harness import expect_live, fresh, live, outcome, show, warm

expect_live(*_families.EXPECTED)

mon = sys.monitoring
E = mon.events
TOOL = 4
mon.use_tool_id(TOOL, "quicken-verify")

OPNAMES = {}


def opname_at(code, offset):
    if code not in OPNAMES:
        OPNAMES[code] = {i.offset: i.opname for i in dis.get_instructions(code)}
    return OPNAMES[code].get(offset, "?")


LOG = []
WATCH = set()


def cb_instruction(code, offset):
    if code in WATCH:
        LOG.append(("I", code.co_name, offset, opname_at(code, offset)))


def cb_line(code, line):
    if code in WATCH:
        LOG.append(("L", code.co_name, line - code.co_firstlineno))


def cb_branch(code, src, dst):
    if code in WATCH:
        LOG.append(("B", code.co_name, src, dst))


def cb_jump(code, src, dst):
    if code in WATCH:
        LOG.append(("J", code.co_name, src, dst))


def cb_start(code, offset):
    if code in WATCH:
        LOG.append(("START", code.co_name, offset))


def cb_return(code, offset, retval):
    if code in WATCH:
        LOG.append(("RET", code.co_name, offset))


def cb_call(code, offset, callable, arg0):
    if code in WATCH:
        LOG.append(("CALL", code.co_name, offset, getattr(callable, "__qualname__", type(callable).__name__)))


def cb_c_return(code, offset, callable, arg0):
    if code in WATCH:
        LOG.append(("C_RET", code.co_name, offset, getattr(callable, "__qualname__", type(callable).__name__)))


CALLBACKS = [(E.INSTRUCTION, cb_instruction), (E.LINE, cb_line), (E.BRANCH, cb_branch), (E.JUMP, cb_jump),
             (E.PY_START, cb_start), (E.PY_RETURN, cb_return), (E.CALL, cb_call), (E.C_RETURN, cb_c_return)]
for ev, cb in CALLBACKS:
    mon.register_callback(TOOL, ev, cb)

ALL_LOCAL = E.INSTRUCTION | E.LINE | E.BRANCH | E.JUMP | E.PY_START | E.PY_RETURN | E.CALL | E.C_RETURN | E.C_RAISE


def codes_of(fn):
    out = [fn.__code__]
    out += [c for c in fn.__code__.co_consts if hasattr(c, "co_code")]
    return out


def monitored(fn, args, events, local=True):
    LOG.clear()
    WATCH.clear()
    WATCH.update(codes_of(fn))
    WATCH.update(c.__init__.__code__ for c in (_families.Slotted, _families.Defaults))
    if local:
        for code in WATCH:
            mon.set_local_events(TOOL, code, events)
    else:
        mon.set_events(TOOL, events)
    try:
        r = outcome(fn, *args)
    finally:
        if local:
            for code in WATCH:
                mon.set_local_events(TOOL, code, 0)
        else:
            mon.set_events(TOOL, 0)
    return r, list(LOG)


warmed = _families.warm_all()
for name, f, args in warmed:
    for label, events, local in [("instruction", E.INSTRUCTION, True), ("line+branch", E.LINE | E.BRANCH | E.JUMP, True),
                                 ("all local", ALL_LOCAL, True), ("global start/return/call", E.PY_START | E.PY_RETURN | E.CALL | E.C_RETURN | E.C_RAISE, False)]:
        show(f"{name} {label}", monitored(f, args(), events, local))
    show(f"{name} after", outcome(f, *args()))
_families.record(_families.warm_all())
mon.restart_events()


# Events switched on from inside a specialized loop, then off again.
def switch(state, on):
    code = sys._getframe(1).f_code
    if on:
        WATCH.add(code)
        mon.set_local_events(TOOL, code, state["events"])
    else:
        mon.set_local_events(TOOL, code, 0)


def items_loop(d, on, off, state):
    out = []
    n = 0
    for k, v in d.items():
        n += 1
        if n == on:
            switch(state, True)
        if n == off:
            switch(state, False)
        out.append((k, v))
    return out


def enum_loop(seq, on, off, state):
    out = []
    for i, x in enumerate(seq):
        if i == on:
            switch(state, True)
        if i == off:
            switch(state, False)
        out.append(x)
    return out


def mixed_loop(n, on, off, state):
    acc = 0.5
    bits = 0
    d = {}
    for i in range(n):
        if i == on:
            switch(state, True)
        if i == off:
            switch(state, False)
        acc = acc * i + 1 if acc < i else acc / 2
        bits = (bits ^ i) & 0xFF
        d[i % 3] = bits
        for k in d:
            bits += k
        if d:
            bits = bits % 7
    return acc, bits, sorted(d.items())


def objects_loop(n, on, off, state):
    out = []
    for i in range(n):
        if i == on:
            switch(state, True)
        if i == off:
            switch(state, False)
        out.append(_families.Slotted(i).y)
        out.append(_families.WithMeta.x)
    return out


D = {f"k{i}": i for i in range(12)}
L = [f"x{i}" for i in range(12)]
for ev_label, events in [("instruction", E.INSTRUCTION), ("line", E.LINE), ("branch+jump", E.BRANCH | E.JUMP),
                         ("all", ALL_LOCAL)]:
    for label, fn, arg in [("items", items_loop, D), ("enumerate", enum_loop, L), ("mixed", mixed_loop, 12),
                           ("objects", objects_loop, 8)]:
        f = fresh(fn)
        warm(f, arg, -1, -1, {})
        live(f)
        LOG.clear()
        WATCH.clear()
        r = outcome(f, arg, 3, 6, {"events": events})
        show(f"mid-loop {label} {ev_label}", (r, list(LOG)))
        LOG.clear()
        show(f"mid-loop {label} {ev_label} after", (outcome(f, arg, -1, -1, {}), list(LOG)))
        warm(f, arg, -1, -1, {})
        live(f)
        show(f"mid-loop {label} {ev_label} rewarmed", outcome(f, arg, -1, -1, {}))
        mon.restart_events()


# A LINE callback returning DISABLE: each line reports once, then the
# specialized code runs on.
def disabling_line(code, line):
    if code in WATCH:
        LOG.append(("L-once", code.co_name, line - code.co_firstlineno))
    return mon.DISABLE


mon.register_callback(TOOL, E.LINE, disabling_line)
for name, f, args in _families.warm_all():
    LOG.clear()
    WATCH.clear()
    WATCH.add(f.__code__)
    mon.set_local_events(TOOL, f.__code__, E.LINE)
    r1 = outcome(f, *args())
    r2 = outcome(f, *args())
    mon.set_local_events(TOOL, f.__code__, 0)
    show(f"{name} DISABLE", (r1, r2, list(LOG)))
    warm(f, *args())
    live(f)
mon.restart_events()
mon.register_callback(TOOL, E.LINE, None)
for ev, cb in CALLBACKS:
    mon.register_callback(TOOL, ev, None)
mon.free_tool_id(TOOL)


# Loop targets on their own lines (LINE events on the skipped unpack).
def multiline_items(d):
    out = []
    for (
        k,
        v
    ) in d.items():
        out.append(k)
    return out


def multiline_enum(seq):
    out = []
    for (
        i,
        x
    ) in enumerate(seq):
        out.append(i)
    return out


mon.use_tool_id(TOOL, "quicken-verify")
for ev, cb in CALLBACKS:
    mon.register_callback(TOOL, ev, cb)
for fn, arg in [(multiline_items, {"a": 1, "b": 2, "c": 3}), (multiline_enum, ["p", "q", "r"])]:
    f = fresh(fn)
    warm(f, arg)
    live(f)
    for label, events in [("line", E.LINE), ("instruction", E.INSTRUCTION), ("line+instruction", E.LINE | E.INSTRUCTION)]:
        show(f"{fn.__name__} {label}", monitored(f, (arg,), events))
        warm(f, arg)
        live(f)
for ev, cb in CALLBACKS:
    mon.register_callback(TOOL, ev, None)
mon.free_tool_id(TOOL)
