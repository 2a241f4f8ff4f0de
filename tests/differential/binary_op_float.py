"""BINARY_OP with a float and an int, and float / float (0002: BINARY_OP_MIXED_FLOAT).

Guard space: +, -, *, / and their in-place forms; an exact float with an
exact compact int in either order, and float / float; deopt on big ints
(2**30, 2**53 + 1, 2**64, ints too large for a float: OverflowError text),
bool and int/float subclasses, other numbers (complex, Fraction, Decimal),
division by zero (ZeroDivisionError text, int and float zero, -0.0);
NaN, infinities and signed zeros flow through the specialized arithmetic
(a NaN result's sign is not compared: see _harness.sign).
The reuse of a dying float operand for the result must not clobber live
references.
"""

from decimal import Decimal
from fractions import Fraction

from _harness import check, expect_live, fresh, live, outcome, show, sign, warm

expect_live("BINARY_OP_MIXED_FLOAT")

OPS = ["+", "-", "*", "/"]
ns = {}
for i, op in enumerate(OPS):
    exec(f"def binop_{i}(a, b):\n    return a {op} b\n", ns)
    exec(f"def inplace_{i}(a, b):\n    a {op}= b\n    return a\n", ns)
    # temporaries: the left operand of the outer op has refcount 1
    exec(f"def temp_{i}(a, b):\n    return (a + 0.0) {op} b, a {op} (b * 1)\n", ns)
    exec(f"def loop_{i}(pairs):\n"
         f"    out = []\n"
         f"    for a, b in pairs:\n"
         f"        try:\n"
         f"            out.append(a {op} b)\n"
         f"        except Exception as e:\n"
         f"            out.append((type(e).__name__, str(e)))\n"
         f"    return out\n", ns)


class MyFloat(float):
    def __repr__(self):
        return f"MyFloat({float(self)!r})"


class MyInt(int):
    def __repr__(self):
        return f"MyInt({int(self)})"


class RFloat(float):
    def __radd__(self, other):
        return ("radd", other)

    def __rtruediv__(self, other):
        return ("rtruediv", other)


def res(fn, a, b):
    r = outcome(fn, a, b)
    if r[0] == "ok":
        v = r[1]
        if isinstance(v, tuple):
            return ("ok",) + tuple((type(x).__name__, x) for x in v)
        if type(v) is float:
            return ("ok", "float", v, sign(v))
        return ("ok", type(v).__name__, v)
    return r


NAN, INF = float("nan"), float("inf")
C = 2**30 - 1
FLOATS = [0.0, -0.0, 1.5, -2.25, 0.1, 1e308, -1e308, 5e-324, INF, -INF, NAN, 2.0**53, 1e16]
INTS = [0, 1, -1, 3, -7, 1000, C, -C, 2**30, -(2**30), 2**53, 2**53 + 1, 2**64, -(2**64), 10**308, 2**1024, -(2**1024)]
OTHERS = [True, False, MyInt(2), MyFloat(2.5), RFloat(4.0), 1 + 2j, Fraction(1, 3), Decimal("1.5"), None, "s", [1]]

for i, op in enumerate(OPS):
    for kind in ("binop", "inplace", "temp"):
        base = ns[f"{kind}_{i}"]
        for order in ("float-int", "int-float", "float-float"):
            if order == "float-float" and op != "/" and kind != "temp":
                continue
            f = fresh(base)
            if order == "float-int":
                warm(f, 2.5, 3)
            elif order == "int-float":
                warm(f, 3, 2.5)
            else:
                warm(f, 2.5, 0.5)
            label = f"{op} {kind} {order}"
            for x in FLOATS:
                for y in INTS + OTHERS + FLOATS[:3] + [NAN]:
                    show(f"{label} {x!r} {y!r}", res(f, x, y))
                    show(f"{label} {y!r} {x!r}", res(f, y, x))
            # int / int and int * int at a float site
            for a, b in [(7, 2), (7, 0), (0, 0), (C, C), (2**64, 3)]:
                show(f"{label} ints {a} {b}", res(f, a, b))
            warm(f, 2.5, 3)
            warm(f, 3, 2.5)
            for a, b in [(1.0, 0), (0, 1.0), (-0.0, 0), (0, -0.0), (1, 0.0), (1.5, -0.0), (NAN, 0), (0.0, 0.0), (C, 0.5), (1.0, 3)]:
                show(f"{label} rewarmed {a!r} {b!r}", res(f, a, b))
            live(f)

# Type changes within one execution.
MIXED = ([(i * 0.5, i % 7 - 3) for i in range(80)]
         + [(1.5, 0), (0, 0.0), (2**60, 1.5), (1.5, 2**1024), (True, 0.5), (0.5, MyInt(3)), (MyFloat(1.0), 2),
            (1.0, 1 + 1j), (1.0, Fraction(1, 4)), (None, 1.0), (NAN, 1), (INF, -1), (-0.0, 0)]
         + [(i, 0.25) for i in range(-40, 40)])
for i, op in enumerate(OPS):
    f = fresh(ns[f"loop_{i}"])
    show(f"loop {op}", f(MIXED))
    warm(f, MIXED[:80], times=4)
    show(f"loop {op} again", f(MIXED))
    live(f)


# The result may reuse a float operand whose only reference is the stack:
# other references must keep their values.
def reuse(n):
    x = 1.5
    keep = x
    acc = 0.25
    total = []
    for i in range(n):
        acc = acc * 2 + i      # acc float, refcount 1 after rebinding
        y = x * i              # x still referenced by keep
        z = i / (acc + 1)
        total.append((y, z))
    return keep, x, acc, total[-3:]


check("reuse", warm, fresh(reuse), 40)
f = fresh(reuse)
warm(f, 10)
check("reuse after warm", f, 60)
live(f)


# Accumulation loop: float += int keeps the same result as the stock build.
def accumulate(values):
    s = 0.0
    p = 1.0
    for v in values:
        s += v
        p *= v if v else 1
        s -= 0.5
        p /= 3
    return s, p


check("accumulate ints", warm, fresh(accumulate), list(range(-50, 50)))
f = fresh(accumulate)
warm(f, list(range(10)))
check("accumulate then big", f, [1, 2, 2**40, 3, -(2**40), 2**1024 - 2**1024 + 7, True, MyInt(2), 1.5])
check("accumulate overflow", f, [1, 2**1024])
live(f)
