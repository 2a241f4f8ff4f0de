"""sys.settrace and sys.setprofile over every family of the series.

Each family's function is warmed up (specialized), then run under a
tracer (call / line / return / exception events, and opcode events with
f_trace_opcodes, whose instruction names come from the un-specialized
bytecode so both builds agree), under a profiler (call / return / c_call
events), with tracing switched on in the middle of a specialized loop
(the loop's own frame gets f_trace) and switched off again, and again
without tracing afterwards (the sites re-specialize).  The fused
FOR_ITER_DICT_ITEMS / FOR_ITER_ENUMERATE must still deliver the line and
opcode events of the UNPACK_SEQUENCE they skip.
"""

import dis
import sys

import _families
from _harness import expect_live, outcome, show, traced

expect_live(*_families.EXPECTED)

OPNAMES = {}


def opname_at(code, offset):
    if code not in OPNAMES:
        OPNAMES[code] = {i.offset: i.opname for i in dis.get_instructions(code)}
    return OPNAMES[code].get(offset, "?")


def run_opcode_trace(fn, *args):
    events = []
    target = fn.__code__

    def tracer(frame, event, arg):
        if frame.f_code is not target:
            return None
        frame.f_trace_opcodes = True
        item = (event, frame.f_lineno - target.co_firstlineno)
        if event == "opcode":
            item += (opname_at(target, frame.f_lasti),)
        events.append(item)
        return tracer

    sys.settrace(tracer)
    try:
        result = outcome(fn, *args)
    finally:
        sys.settrace(None)
    return result, events


warmed = _families.warm_all()
for name, f, args in warmed:
    show(f"{name} plain", outcome(f, *args()))
    show(f"{name} settrace", traced(f, *args()))
    show(f"{name} setprofile", traced(f, *args(), profile=True))
    show(f"{name} opcodes", run_opcode_trace(f, *args()))
    show(f"{name} after", outcome(f, *args()))
_families.warm_all()  # re-specialize after the instrumentation was removed
_families.record(_families.warm_all())


# Tracing switched on from inside a specialized loop, then off again.
def switch_on(state):
    frame = sys._getframe(1)
    events = state["events"]
    code = frame.f_code

    def tracer(fr, event, arg):
        if fr.f_code is code:
            fr.f_trace_opcodes = state["opcodes"]
            item = (event, fr.f_lineno - code.co_firstlineno)
            if event == "opcode":
                item += (opname_at(code, fr.f_lasti),)
            events.append(item)
        return tracer

    frame.f_trace = tracer
    frame.f_trace_opcodes = state["opcodes"]
    sys.settrace(tracer)


def switch_off(state):
    sys._getframe(1).f_trace = None
    sys.settrace(None)


def items_loop(d, on, off, state):
    out = []
    n = 0
    for k, v in d.items():
        n += 1
        if n == on:
            switch_on(state)
        if n == off:
            switch_off(state)
        out.append((k, v))
    return out


def enum_loop(seq, on, off, state):
    out = []
    for i, x in enumerate(seq):
        if i == on:
            switch_on(state)
        if i == off:
            switch_off(state)
        out.append(x)
    return out


def mixed_loop(n, on, off, state):
    acc = 0.5
    bits = 0
    d = {}
    for i in range(n):
        if i == on:
            switch_on(state)
        if i == off:
            switch_off(state)
        acc = acc * i + 1 if acc < i else acc / 2
        bits = (bits ^ i) & 0xFF
        d[i % 3] = bits
        if d:
            bits = bits % 7
    return acc, bits, sorted(d.items())


from _harness import fresh, live, warm  # noqa: E402

D = {f"k{i}": i for i in range(12)}
L = [f"x{i}" for i in range(12)]
for opcodes in (False, True):
    for label, fn, arg in [("items", items_loop, D), ("enumerate", enum_loop, L), ("mixed", mixed_loop, 12)]:
        f = fresh(fn)
        warm(f, arg, -1, -1, {"events": [], "opcodes": False})
        live(f)
        state = {"events": [], "opcodes": opcodes}
        r = outcome(f, arg, 4, 8, state)
        show(f"mid-loop {label} opcodes={opcodes}", (r, state["events"]))
        state2 = {"events": [], "opcodes": opcodes}
        show(f"mid-loop {label} after", (outcome(f, arg, -1, -1, state2), state2["events"]))
        warm(f, arg, -1, -1, {"events": [], "opcodes": False})
        live(f)
        show(f"mid-loop {label} rewarmed", outcome(f, arg, 2, 3, {"events": [], "opcodes": opcodes}))


# Loop targets on their own lines: the skipped UNPACK_SEQUENCE (and the
# stores after it) start new lines, so line events land on it.
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


for fn, arg in [(multiline_items, {"a": 1, "b": 2, "c": 3}), (multiline_enum, ["p", "q", "r"])]:
    f = fresh(fn)
    warm(f, arg)
    live(f)
    show(f"{fn.__name__} settrace", traced(f, arg))
    show(f"{fn.__name__} opcodes", run_opcode_trace(f, arg))
    warm(f, arg)
    live(f)
    show(f"{fn.__name__} settrace again", traced(f, arg))
