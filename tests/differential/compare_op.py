"""COMPARE_OP between a float and an int (0004: COMPARE_OP_MIXED_FLOAT).

Guard space: <, <=, ==, !=, >, >= with an exact float and an exact compact
int in either order, as a value and as a branch condition (and chained);
deopt on big ints (exactness: 2**53 + 1 against float(2**53), 2**64, ints
beyond the float range), bool, int and float subclasses (with and without
rich comparison overrides), other types (TypeError text).  NaN, infinities
and signed zeros go through the specialized comparison.  Sites specialized
for int/int and float/float must keep working when mixed operands arrive.
"""

from fractions import Fraction

from _harness import expect_live, fresh, live, outcome, show, warm

expect_live("COMPARE_OP_MIXED_FLOAT")

OPS = ["<", "<=", "==", "!=", ">", ">="]
ns = {}
for i, op in enumerate(OPS):
    exec(f"def value_{i}(a, b):\n    return a {op} b\n", ns)
    exec(f"def branch_{i}(a, b):\n    if a {op} b:\n        return 'T'\n    return 'F'\n", ns)
    exec(f"def notbranch_{i}(a, b):\n    while not (a {op} b):\n        return 'notT'\n    return 'notF'\n", ns)
    exec(f"def chain_{i}(a, b, c):\n    return a {op} b {op} c\n", ns)


class MyInt(int):
    def __repr__(self):
        return f"MyInt({int(self)})"


class MyFloat(float):
    def __repr__(self):
        return f"MyFloat({float(self)!r})"


class Liar(float):
    def __lt__(self, other):
        return "Liar.__lt__"

    def __eq__(self, other):
        return "Liar.__eq__"

    __hash__ = float.__hash__


class IntLiar(int):
    def __gt__(self, other):
        return "IntLiar.__gt__"


NAN, INF = float("nan"), float("inf")
C = 2**30 - 1
FLOATS = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 3.0, 1e-300, 1e300, INF, -INF, NAN,
          float(C), float(2**30), float(2**53), 2.0**53 + 2, float(2**64), 1.7976931348623157e308]
INTS = [0, 1, -1, 3, C, -C, 2**30, -(2**30), 2**53, 2**53 + 1, 2**53 - 1, 2**64, 2**64 + 1, -(2**64),
        2**1024, -(2**1024), 10**400]
OTHERS = [True, False, MyInt(1), MyFloat(1.0), Liar(0.5), IntLiar(3), Fraction(1, 2), 1j, None, "1", (1,)]

for i, op in enumerate(OPS):
    for kind in ("value", "branch", "notbranch"):
        f = fresh(ns[f"{kind}_{i}"])
        warm(f, 2.5, 3)
        warm(f, 3, 2.5)
        for x in FLOATS:
            for y in INTS + OTHERS:
                show(f"{op} {kind} {x!r} {y!r}", outcome(f, x, y))
                show(f"{op} {kind} {y!r} {x!r}", outcome(f, y, x))
        for a, b in [(1, 2), (2, 2), (1.0, 2.0), (NAN, NAN), ("a", "b"), (C, 1.0 * C), (-0.0, 0), (0, -0.0)]:
            show(f"{op} {kind} same-type {a!r} {b!r}", outcome(f, a, b))
        warm(f, 1.0, 1)
        for a, b in [(NAN, 0), (0, NAN), (INF, C), (-INF, -C), (-0.0, 0), (0.5, 0), (C, float(C)), (-C, -C + 0.5)]:
            show(f"{op} {kind} rewarmed {a!r} {b!r}", outcome(f, a, b))
        live(f)
    f = fresh(ns[f"chain_{i}"])
    warm(f, 1.0, 2, 3.0)
    for args in [(1.0, 2, 3.0), (3, 2.0, 1), (NAN, 1, 2.0), (0, -0.0, 0), (2**53 + 1, float(2**53), 2**53),
                 (1.0, True, 1.0), (1.0, "x", 2)]:
        show(f"{op} chain {args!r}", outcome(f, *args))
    live(f)

# Sites specialized for same-type comparisons that later see mixed operands.
for label, warm_args in [("int-int", (1, 2)), ("float-float", (1.0, 2.0)), ("str-str", ("a", "b"))]:
    f = fresh(ns["value_0"])
    warm(f, *warm_args)
    for a, b in [(1, 2.0), (2.0, 1), (NAN, 1), (2**53 + 1, 2.0**53), (2.0**53, 2**53 + 1)]:
        show(f"< warmed {label} {a!r} {b!r}", outcome(f, a, b))
    live(f)


# Type changes inside one execution: a loop bound that is a float, an index
# that becomes big or a bool.
def count_below(values, limit):
    n = []
    for v in values:
        try:
            n.append((v < limit, v == limit, limit >= v))
        except TypeError as e:
            n.append(str(e))
    return n


f = fresh(count_below)
values = list(range(-60, 60)) + [2**53 + 1, 2**53, True, MyInt(7), 7.0, NAN, None, -0.0, 2**1024]
show("count_below 7.5", f(values, 7.5))
show("count_below 2.0**53", f(values, 2.0**53))
show("count_below nan", f(values, NAN))
show("count_below -0.0", f(values, -0.0))
show("count_below inf", f(values, INF))
warm(f, list(range(100)), 50.5, times=4)
show("count_below again", f(values, 7.5))
live(f)
