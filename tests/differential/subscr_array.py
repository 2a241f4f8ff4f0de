"""array.array items (0007: BINARY_SUBSCR_ARRAY_INT, STORE_SUBSCR_ARRAY_INT).

Guard space: every typecode (b B u w h H i I l L q Q f d) loaded and stored
with an exact, non-negative compact int index below len(); deopt on
negative, out-of-range (IndexError texts), big (2**30, 2**62, 2**100)
indexes, bool, int subclasses, __index__ objects, slices, floats
(TypeError text); stores of wrong types / out-of-range values
(OverflowError / TypeError texts, array unchanged), floats into int arrays,
ints into float arrays; subclasses (plain, overriding __getitem__ /
__setitem__ / __len__, gaining them after specialization); other
containers at the same site; arrays resized while a site is specialized;
stores while a buffer is exported.
"""

import sys
import warnings
from array import array

from _harness import check, expect_live, fresh, live, outcome, show, warm

expect_live("BINARY_SUBSCR_ARRAY_INT", "STORE_SUBSCR_ARRAY_INT")

TYPECODES = "bBuwhHiIlLqQfd"
warnings.filterwarnings("ignore", "The 'u' type code", DeprecationWarning)


def load(a, i):
    return a[i]


def store(a, i, v):
    a[i] = v
    return a[i]


def inplace(a, i, v):
    a[i] += v
    return a[i]


def sample(tc, k=0):
    if tc in "uw":
        return "abcdefgh"[k % 8]
    if tc in "fd":
        return 0.5 + k
    return k + 1


def contents(a):
    return (a.typecode, a.tolist()) if isinstance(a, array) else a


class MyInt(int):
    pass


class Index:
    def __init__(self, v):
        self.v = v

    def __index__(self):
        return self.v

    def __repr__(self):
        return f"Index({self.v})"


class Flt:
    def __float__(self):
        return 2.5

    def __repr__(self):
        return "Flt()"


BAD_INDEXES = [-1, -8, -9, 8, 9, 10**6, 2**30 - 1, 2**30, 2**62, 2**100, -(2**100), True, False, MyInt(2),
               Index(3), Index(-1), Index(99), slice(1, 3), slice(None, None, -2), 1.0, "1", None]
VALUES = [0, 1, -1, 127, 128, -128, -129, 255, 256, 2**15, -(2**15) - 1, 2**16, 2**31 - 1, 2**31, -(2**31) - 1,
          2**32, 2**63 - 1, 2**63, 2**64, -(2**63) - 1, True, MyInt(5), Index(6), 1.5, -0.0, float("inf"),
          float("nan"), Flt(), "a", "ab", "", b"a", None, 2**1000]

for tc in TYPECODES:
    a = array(tc, [sample(tc, k) for k in range(8)])
    f = fresh(load)
    warm(f, a, 1)
    g = fresh(store)
    warm(g, a, 2, sample(tc, 2))
    h = fresh(inplace)
    if tc not in "uw":
        warm(h, a, 3, 0)
    show(f"{tc} loads", [outcome(f, a, i) for i in range(8)])
    for i in BAD_INDEXES:
        show(f"{tc} load [{i!r}]", outcome(f, a, i) if not isinstance(i, Index) else outcome(f, a, i))
        b = array(tc, a)
        show(f"{tc} store [{i!r}]", (outcome(g, b, i, sample(tc, 5)), contents(b)))
    for v in VALUES:
        b = array(tc, a)
        r = outcome(g, b, 4, v)
        show(f"{tc} store value {v!r}", (r[0], r[1:] if r[0] == "raise" else r[1], contents(b)))
    if tc not in "uw":
        for v in (1, -1, 0.5, 2**64, "x"):
            b = array(tc, a)
            show(f"{tc} inplace +{v!r}", (outcome(h, b, 3, v), contents(b)))
    empty = array(tc)
    check(f"{tc} empty load", f, empty, 0)
    check(f"{tc} empty store", g, empty, 0, sample(tc))
    warm(f, a, 1)
    warm(g, a, 2, sample(tc, 2))
    show(f"{tc} rewarmed", (outcome(f, a, 7), outcome(g, a, 7, sample(tc, 9)), contents(a)))
    live(f)
    live(g)
    live(h)


# Subclasses.
class Plain(array):
    pass


class Loud(array):
    def __getitem__(self, i):
        return ("Loud.get", i)

    def __setitem__(self, i, v):
        super().__setitem__(i, v * 2)


class Short(array):
    def __len__(self):
        return 0


class Late(array):
    pass


f = fresh(load)
g = fresh(store)
warm(f, array("i", [1, 2, 3]), 1)
warm(g, array("i", [1, 2, 3]), 1, 5)
for cls in (Plain, Loud, Short):
    x = cls("i", [1, 2, 3])
    show(f"{cls.__name__} load", outcome(f, x, 2))
    show(f"{cls.__name__} store", (outcome(g, x, 2, 30), x.tolist()))
    show(f"{cls.__name__} load oob", outcome(f, x, 5))
late = Late("i", [1, 2, 3])
f2, g2 = fresh(load), fresh(store)
warm(f2, late, 0)
warm(g2, late, 0, 1)
Late.__getitem__ = lambda self, i: ("Late.get", i)
Late.__setitem__ = lambda self, i, v: None
show("Late after override", (outcome(f2, late, 0), outcome(g2, late, 0, 100), late.tolist()))
del Late.__getitem__
del Late.__setitem__
show("Late after del", (outcome(f2, late, 0), outcome(g2, late, 0, 100), late.tolist()))
live(f2)
live(g2)

# Other containers at the specialized sites.
for label, c, i in [("list", [1, 2, 3], 1), ("tuple", (1, 2), 1), ("dict", {1: "x"}, 1), ("bytes", b"abc", 1),
                    ("bytearray", bytearray(b"abc"), 0), ("memoryview", memoryview(bytearray(b"abc")), 2),
                    ("str", "abc", 2), ("range", range(5), 4), ("object", object(), 0), ("None", None, 0)]:
    show(f"other load {label}", outcome(f, c, i))
    show(f"other store {label}", outcome(g, c, i, 65))


# Type change and resize within one execution.
def total(seq):
    s = 0
    for i in range(len(seq)):
        s += seq[i]
    return s


def fill(seq, v):
    for i in range(len(seq)):
        seq[i] = v
    return seq


def drain(a):
    out = []
    i = 0
    while i < 6:
        try:
            out.append(a[i])
        except IndexError as e:
            out.append(str(e))
        try:
            a[i] = i * 10
        except IndexError as e:
            out.append(str(e))
        if i == 2:
            del a[3:]
        i += 1
    return out, a.tolist()


t, fl, dr = fresh(total), fresh(fill), fresh(drain)
warm(t, array("q", range(50)), times=5)
warm(fl, array("q", range(50)), 0, times=5)
warm(dr, array("i", range(10)), times=5)
for seq in (array("q", range(50)), list(range(50)), range(50), array("d", [0.5] * 4), array("B", b"xyz"), (1, 2)):
    show(f"total {type(seq).__name__}", outcome(t, seq))
for seq, v in ((array("q", [0] * 8), 7), ([1] * 5, 9), ({i: 0 for i in range(3)}, 1), (array("b", [0] * 3), 200),
               (array("d", [0] * 3), 2), (array("u", "ab"), "z"), (array("i", [0] * 3), 1.5)):
    show(f"fill {type(seq).__name__}", (outcome(fl, seq, v), contents(seq)))
check("drain", dr, array("i", range(10)))
check("drain short", dr, array("i", range(2)))
live(t)
live(fl)
live(dr)

# Stores while a buffer is exported (allowed: no resize), appends refused.
a = array("d", [0.0, 0.0])
with memoryview(a) as m:
    show("store while exported", (outcome(g, a, 1, 2.5), m[1]))
    check("append while exported", a.append, 1.0)
show("after export", a.tolist())

# Byte-swapped, extended, and re-typed contents.
a = array("H", [1, 2, 3])
warm(f, a, 2)
a.byteswap()
show("byteswapped", [f(a, i) for i in range(3)])
a.extend(range(100))
show("extended", [f(a, i) for i in (3, 50, 102)])
check("extended oob", f, a, 103)
show("sys.maxsize index", outcome(f, a, sys.maxsize))
