"""BINARY_OP on ints for &, |, ^, %, //, <<, >> (0001: BINARY_OP_INT_COMPACT).

Guard space: both operands exact compact ints (|v| < 2**30), every operator
and its in-place form; deopt on big ints (2**30, 2**62, 2**64 and
negatives), bool and int subclasses, floats and other types, division and
modulo by zero, negative shift counts, left shifts that could leave the
Py_ssize_t range (count > 32), right shifts by >= 64.  Each site is warmed
with compact ints, then fed the other operands (so the deopt paths run),
then re-warmed (re-specialization after the misses) and checked again.
"""

from _harness import check, expect_live, fresh, live, outcome, show, warm

expect_live("BINARY_OP_INT_COMPACT")

OPS = ["&", "|", "^", "%", "//", "<<", ">>"]
ns = {}
for i, op in enumerate(OPS):
    exec(f"def binop_{i}(a, b):\n    return a {op} b\n", ns)
    exec(f"def inplace_{i}(a, b):\n    a {op}= b\n    return a\n", ns)
    exec(f"def loop_{i}(pairs):\n"
         f"    out = []\n"
         f"    for a, b in pairs:\n"
         f"        try:\n"
         f"            out.append(a {op} b)\n"
         f"        except Exception as e:\n"
         f"            out.append((type(e).__name__, str(e)))\n"
         f"    return out\n", ns)


class MyInt(int):
    def __repr__(self):
        return f"MyInt({int(self)})"


class RevInt(int):
    """An int subclass with reflected operators: wins over the int on the left."""
    def __rand__(self, other):
        return ("rand", other)

    def __rmod__(self, other):
        return ("rmod", other)

    def __rlshift__(self, other):
        return ("rlshift", other)


def norm(value):
    """Results printed compactly: huge ints as (bits, residue)."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 2**200:
        return ("bigint", value.bit_length(), value % 1000003)
    return value


def res(fn, a, b):
    r = outcome(fn, a, b)
    if r[0] == "ok":
        v = r[1]
        small = type(v) is int and -5 <= v <= 256
        return ("ok", type(r[1]).__name__, norm(v), "small-singleton" if small and v is int(str(v)) else "")
    return r


C = 2**30 - 1           # largest compact int
OPERANDS = [
    0, 1, -1, 2, -2, 7, -7, 256, -5, 12345, C, -C, 2**30, -(2**30), 2**62, -(2**64),
    True, False, MyInt(-3), 2.5, -0.0, "s",
]
LEFTS = [0, 1, -1, 7, -7, 12345, -12345, C, -C, 2**30, -(2**30), 2**62, 2**64,
         True, MyInt(6), 2.5, None]
SHIFTS = [0, 1, 2, 29, 30, 31, 32, 33, 62, 63, 64, 65, 1000, -1, -64, -(2**62), True, MyInt(3), 1.0]

for i, op in enumerate(OPS):
    for kind in ("binop", "inplace"):
        base = ns[f"{kind}_{i}"]
        f = fresh(base)
        warm(f, 12345, 7 if op not in ("<<", ">>") else 3)
        show(f"{op} {kind} warm", res(f, 12345, 7))
        rights = (SHIFTS + ([2**62, 2**64, C] if op == ">>" else [2**62, 2**64]) if op in ("<<", ">>")
                  else OPERANDS)
        lefts = LEFTS if op not in ("<<", ">>") else [0, 1, -1, 3, -3, C, -C, 2**30, -(2**30), 2**62, 2**64, True, MyInt(5), 1.5]
        for a in lefts:
            for b in rights:
                show(f"{op} {kind} {a!r} {b!r}", res(f, a, b))
        # re-warm with compact ints after all the misses, and re-check edges
        warm(f, -12345, 5 if op not in ("<<", ">>") else 2)
        for a, b in [(C, 1), (-C, 3), (-1, 2), (C, 32), (-C, 32), (1, 33), (5, 0), (-7, -2), (7, -2), (-7, 2), (0, -1)]:
            show(f"{op} {kind} rewarmed {a} {b}", res(f, a, b))
        live(f)

# Type changes within one execution: a loop warmed with compact ints whose
# later elements are big, zero, negative, bool, subclass, float.
MIXED = ([(i * 7919 % 1000 - 500, i % 13 + 1) for i in range(80)]
         + [(2**40, 3), (7, 0), (-7, 0), (5, -1), (True, 3), (MyInt(9), 4), (9, MyInt(4)),
            (9.5, 2), (3, 2.0), (C, 31), (1, 64), (-1, 64), (2**62, 2), (-(2**62), 3),
            (6, RevInt(4)), (None, 1)]
         + [(i, 3) for i in range(-60, 60)])
for i, op in enumerate(OPS):
    f = fresh(ns[f"loop_{i}"])
    pairs = MIXED if op not in ("<<", ">>") else [(a, b if isinstance(b, int) and not isinstance(b, bool) and b < 70 else 2) if not isinstance(b, RevInt) else (a, b) for a, b in MIXED]
    result = f(pairs)
    show(f"loop {op}", [norm(x) if not isinstance(x, tuple) else x for x in result])
    warm(f, pairs[:80], times=4)
    show(f"loop {op} again", [norm(x) for x in f(pairs)[:90]])
    live(f)


# Compact ints at the boundaries, every operator, both operand orders.
def all_ops(a, b):
    out = []
    for fn in (lambda: a & b, lambda: a | b, lambda: a ^ b, lambda: a % b,
               lambda: a // b, lambda: b % a, lambda: b // a,
               lambda: a << (b & 31), lambda: a >> (b & 63), lambda: b >> (a & 63)):
        out.append(outcome(fn))
    return out


g = fresh(all_ops)
warm(g, 1000, 3)
for a in (C, -C, 1, -1, 2**29, -(2**29), 123456789, -987654321):
    for b in (C, -C, 3, -3, 2**15, -(2**15), 1, -1):
        show(f"all_ops {a} {b}", g(a, b))
live(g)


# Inplace operators on variables that alias (the result must not clobber
# the other reference).
def aliasing():
    x = 1000
    y = x
    x &= 0xF0
    z = 700
    w = z
    z %= 7
    z2 = z
    s = 300
    s <<= 2
    s >>= 1
    return (x, y, z, w, z2, s)


check("aliasing", warm, fresh(aliasing))
