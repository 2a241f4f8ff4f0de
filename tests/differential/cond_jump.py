"""Conditional jumps: POP_JUMP_IF_FALSE/TRUE/NONE/NOT_NONE (0011 jumps with a branch).

0011 changes how the interpreter moves to the next instruction after a
conditional jump, not what it decides, so the guard space is the decision
and the jump's side effects: every kind of condition (each TO_BOOL
specialization, the sized containers of 0005, COMPARE_OP's int, float and
str forms, ``is``/``is not`` None, ``in``, user __bool__/__len__ and ones
that raise) in ``if``/``elif``/``while``/``and``/``or``/conditional
expressions/comprehension filters/``assert``, taken, not taken, alternating
and in a seeded random pattern, forward and at loop ends; and the 16-bit
branch history every conditional jump records in its inline cache (read
back through dis, which shows it), which must come out bit for bit as on
stock.
"""

import dis
import random

from _harness import check, expect_live, fresh, live, outcome, show, warm

expect_live("TO_BOOL_BOOL", "TO_BOOL_INT", "TO_BOOL_LIST", "TO_BOOL_NONE", "TO_BOOL_STR",
            "COMPARE_OP_INT", "COMPARE_OP_FLOAT", "COMPARE_OP_STR")


def history(fn):
    """The branch history of every conditional jump in ``fn``, by offset."""
    out = []
    for ins in dis.get_instructions(fn, adaptive=True, show_caches=True):
        if "POP_JUMP_IF" in ins.opname:
            out.append((ins.offset, ins.opname, ins.cache_info[0][2].hex()))
    return out


def if_(x):
    if x:
        return "T"
    return "F"


def if_not(x):
    if not x:
        return "F"
    return "T"


def is_none(x):
    if x is None:
        return "none"
    if x is not None:
        return "some"
    return "unreachable"


def elif_(x, y):
    if x < y:
        return "lt"
    elif x == y:
        return "eq"
    elif x > y:
        return "gt"
    return "unordered"


def and_or(x, y):
    return (x and y, x or y, not x and not y, (x or y) and x)


def cond_expr(x):
    return "yes" if x else "no"


def filtered(seq):
    return [v for v in seq if v] + [v for v in seq if not v]


def while_(n):
    total = 0
    while n:
        total += n
        n -= 1
        if total > 1000:
            break
    return total


def contains(x, c):
    if x in c:
        return "in"
    if x not in c:
        return "out"
    return "?"


def asserting(x):
    assert x, "falsy"
    return "ok"


class Truthy:
    def __init__(self, value):
        self.value = value

    def __bool__(self):
        return self.value


class Sized:
    def __init__(self, n):
        self.n = n

    def __len__(self):
        return self.n


class BadBool:
    def __bool__(self):
        raise ZeroDivisionError("no truth")


class NotBool:
    def __bool__(self):
        return 1


class HugeLen:
    def __len__(self):
        return 2 ** 70


VALUES = [True, False, 0, 1, -1, 2 ** 70, 0.0, -0.0, 1.5, float("nan"), "", "a", "\u20ac",
          b"", b"x", [], [0], (), (0,), {}, {0: 0}, set(), {0}, frozenset(), frozenset({0}),
          None, Truthy(True), Truthy(False), Sized(0), Sized(3), BadBool(), NotBool(), HugeLen(),
          range(0), range(2), object()]

PAIRS = [(1, 2), (2, 2), (3, 2), (-5, 5), (2 ** 40, 2 ** 40 + 1), (1.5, 2.5), (2.5, 2.5),
         (float("nan"), 1.0), (-0.0, 0.0), ("a", "b"), ("b", "b"), ("\u20ac", "a"), (1, 1.0),
         (True, 1), (None, None)]


def run_all(label, fns):
    for name, fn in fns:
        for i, v in enumerate(VALUES):
            check(f"{label} {name}({i})", fn, v)


# 1. Each function warmed on one kind of condition (its TO_BOOL / COMPARE_OP
#    specializes to it), then fed every other kind: the jump must follow the
#    decision whatever computed it, and deopts must not disturb the history.
ONE_ARG = [("if", if_), ("if_not", if_not), ("is_none", is_none), ("cond_expr", cond_expr),
           ("asserting", asserting)]
for warm_value in [True, 1, [1], None, "s", (1,), {1: 2}, {1}, 2.0, Truthy(False)]:
    fns = [(name, fresh(fn)) for name, fn in ONE_ARG]
    for _, fn in fns:
        warm(fn, warm_value)
    run_all(f"warm {type(warm_value).__name__}", fns)
    for name, fn in fns:
        show(f"history {type(warm_value).__name__} {name}", history(fn))

for a, b in PAIRS:
    f = fresh(elif_)
    warm(f, a, b)
    for x, y in PAIRS:
        check(f"elif {a!r},{b!r} <- {x!r},{y!r}", f, x, y)
    show(f"history elif {a!r},{b!r}", history(f))

for a, b in PAIRS:
    f = fresh(and_or)
    warm(f, a, b)
    check(f"and_or {a!r},{b!r}", f, a, b)
    check(f"and_or bad {a!r}", f, BadBool(), b)
    show(f"history and_or {a!r},{b!r}", history(f))

# 2. Patterns: never, always, alternating and seeded random, so the history
#    holds a known sequence of taken and not-taken jumps.
rng = random.Random(20261206)
patterns = {
    "never": [0] * 40,
    "always": [1] * 40,
    "alternating": [i % 2 for i in range(40)],
    "random": [rng.randrange(2) for _ in range(40)],
}
for name, bits in patterns.items():
    for kind, make in [("int", int), ("bool", bool), ("list", lambda b: [0] * b),
                       ("tuple", lambda b: (0,) * b), ("none", lambda b: None if b else 0)]:
        f, g, h = fresh(if_), fresh(if_not), fresh(is_none)
        results = [(f(make(b)), g(make(b)), h(make(b))) for b in bits]
        show(f"pattern {name} {kind}", results)
        show(f"history pattern {name} {kind}", (history(f), history(g), history(h)))
        live(f)
        live(g)

# 3. Loops: while, comprehension filters, membership; a condition that
#    raises inside a specialized loop.
w = fresh(while_)
warm(w, 10)
for n in [0, 1, 5, 50, 2 ** 70, True, 3.0]:
    check(f"while {n!r}", w, n)
show("history while", history(w))

fl = fresh(filtered)
warm(fl, [0, 1, 2, 0, "", "x"])
check("filtered values", fl, VALUES[:25])
check("filtered bad", fl, [1, BadBool(), 2])
show("history filtered", history(fl))

ct = fresh(contains)
warm(ct, 2, [1, 2, 3])
for x, c in [(2, [1, 2]), (5, [1, 2]), ("a", "abc"), ("z", "abc"), (1, {1: 0}), (3, {1}),
             (1, range(3)), (None, [None]), (float("nan"), [float("nan")])]:
    check(f"contains {x!r} {c!r}", ct, x, c)
show("history contains", history(ct))


def mutate_while_iterating(values):
    seen = []
    for v in values:
        if v:
            seen.append(v)
            if len(seen) == 2:
                values.clear()
    return seen


m = fresh(mutate_while_iterating)
warm(m, [1, 0])
check("mutate", m, [1, 2, 3, 4, 0])
show("outcome bad in loop", outcome(fresh(filtered), [BadBool()] * 3))
show("history mutate", history(m))
