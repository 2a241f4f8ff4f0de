"""Slices with two bounds (0010: BINARY_SLICE and STORE_SLICE without a slice object).

Guard space: "c[a:b]" for exact lists, tuples and strs (ASCII, latin-1, UCS-2,
UCS-4, empty) and "l[a:b] = v" for exact lists, with bounds that are None or
exact compact ints (zero, positive, negative, beyond either end, stop before
start) -- the path without a slice object -- and every other case at the same
sites: bounds that are big ints (2**30, 2**62, 2**100), bools, int
subclasses, objects with __index__ (one of them resizing the list it slices),
floats and strs (TypeError texts); subclasses of list, tuple and str (plain
and overriding __getitem__ / __setitem__); bytes, bytearray, range, array,
memoryview, dicts and classes with __getitem__; stores of lists, tuples,
strs, generators (one resizing the target while it is consumed), the list
itself, non-iterables (TypeError text) into lists, and stores into tuples,
strs, bytearrays and arrays.  Results are compared by value, type and
identity (a whole tuple or str slice is the object itself, an empty one the
type's empty singleton, a list slice always a new list), and the reference
counts of the bounds and containers must not move.
"""

import sys
from array import array

from _harness import check, fresh, outcome, show, warm

BIG = 10**6 + 7  # a compact int that is not a small-int singleton
EMPTY = (tuple(), str(), bytes())  # the empty singletons


def load(c, a, b):
    return c[a:b]


def load_head(c, b):
    return c[:b]


def load_tail(c, a):
    return c[a:]


def load_all(c):
    return c[:]


def store(c, a, b, v):
    c[a:b] = v
    return c


def describe(c, r):
    """An outcome of a slice load: type, value and the identities that matter."""
    if r[0] != "ok":
        return r
    v = r[1]
    return ("ok", type(v).__name__, v, v is c, [v is e for e in EMPTY])


class MyInt(int):
    pass


class Index:
    def __init__(self, v, hook=None):
        self.v, self.hook = v, hook

    def __index__(self):
        if self.hook is not None:
            self.hook()
        return self.v

    def __repr__(self):
        return f"Index({self.v})"


class SubList(list):
    pass


class SubTuple(tuple):
    pass


class SubStr(str):
    pass


class GetList(list):
    def __getitem__(self, item):
        return ("GetList", repr(item))

    def __setitem__(self, item, value):
        list.__setitem__(self, item, ["set by GetList", value])


class GetTuple(tuple):
    def __getitem__(self, item):
        return ("GetTuple", repr(item))


class GetStr(str):
    def __getitem__(self, item):
        return ("GetStr", repr(item))


class Seq:
    def __getitem__(self, item):
        return ("Seq", repr(item))

    def __setitem__(self, item, value):
        print("Seq set", repr(item), repr(value))


STRS = ["", "a", "hello world", "caf\xe9 cr\xe8me", "\u20ac\u0394\u03a9 mixed", "\U0001f600\U0001f601xyz", "x" * 40]
EXACT = ([[], [1], list(range(10)), [None, "a", 2.5, (1,)], list(range(40))]
         + [(), (1,), tuple(range(10)), ("a", None, [1])]
         + STRS)
OTHER = [SubList([1, 2, 3, 4]), SubTuple((1, 2, 3, 4)), SubStr("subclass"), GetList([1, 2, 3]),
         GetTuple((1, 2, 3)), GetStr("abc"), b"bytes!", bytearray(b"bytearray"), range(10),
         array("i", [1, 2, 3, 4, 5]), memoryview(b"memory"), {1: 2}, Seq(), 42, None]
BOUNDS = [None, 0, 1, 2, 3, -1, -2, -3, 5, 9, 10, 11, 39, 40, 41, -9, -10, -11, -40, -41, BIG, -BIG]
ODD_BOUNDS = [2**30, -(2**30), 2**62, -(2**62), 2**100, -(2**100), True, False, MyInt(2), MyInt(-1),
              Index(2), Index(-3), Index(2**100), 1.0, "1", b"1", [1]]


def show_loads(label, f, containers, bounds):
    for c in containers:
        for a in bounds:
            for b in bounds:
                show(f"{label} {c!r:.40} [{a!r}:{b!r}]", describe(c, outcome(f, c, a, b)))


# One site, warmed with the path without a slice object, then fed everything.
f = fresh(load)
warm(f, list(range(10)), 1, 5)
show_loads("load", f, EXACT, BOUNDS)
show_loads("load odd bounds", f, EXACT[:3] + EXACT[5:7] + STRS[2:4], ODD_BOUNDS + [None, 3, -2])
show_loads("load other", f, OTHER, [None, 1, -2, 2**100, True, Index(1)])
show_loads("load again", f, EXACT[2:4] + STRS[3:5], [None, 2, -3])

# A site warmed with other containers first, then fed the exact ones.
f = fresh(load)
warm(f, SubList([1, 2, 3]), 1, 2)
warm(f, b"abc", None, 2)
show_loads("load after others", f, EXACT[2:4] + [(1, 2, 3), "abcdef", SubStr("xyz"), bytearray(b"ba")],
           [None, 1, -1, 7, 2**62])

# The one-bound and no-bound forms (LOAD_CONST None as a bound).
for fn in (load_head, load_tail):
    g = fresh(fn)
    warm(g, list(range(5)), 2)
    for c in EXACT + OTHER[:6]:
        for x in [None, 0, 2, -2, 50, -50, 2**100, True, Index(1), 1.5]:
            show(f"{fn.__name__} {c!r:.40} {x!r}", describe(c, outcome(g, c, x)))
g = fresh(load_all)
warm(g, (1, 2))
for c in EXACT + OTHER:
    show(f"load_all {c!r:.40}", describe(c, outcome(g, c)))

# __index__ that resizes the list being sliced (the slice object path).
victim = list(range(10))
f = fresh(load)
warm(f, victim, 1, 3)
check("load resized by __index__", f, victim, Index(2, lambda: victim.clear()), 8)
show("victim after", victim)


# Stores into exact lists: every bound with every kind of value.
def resize_while_consumed(target):
    def gen():
        yield "g1"
        target.extend(["new1", "new2"])
        yield "g2"
    return gen()


def fresh_list():
    return list(range(8))


VALUES = [[], ["x"], ["x", "y", "z"], ("t1", "t2"), "str", range(3), {"k": 1}, 5, None, 1.5,
          iter([7, 8]), (i for i in range(2))]
s = fresh(store)
warm(s, fresh_list(), 1, 3, ["w"])
for a in BOUNDS[:16] + [BIG, -BIG]:
    for b in BOUNDS[:16] + [BIG, -BIG]:
        show(f"store [{a!r}:{b!r}] = ['v']", outcome(s, fresh_list(), a, b, ["v"]))
for v in VALUES:
    for a, b in [(1, 3), (None, None), (5, 2), (-2, None), (None, -20), (20, 30)]:
        show(f"store [{a!r}:{b!r}] = {v!r:.30}", outcome(s, fresh_list(), a, b, v))
for a, b in [(None, None), (1, 3), (3, 1), (-2, None), (2**100, None), (True, False), (MyInt(1), 3), (Index(1), 2)]:
    lst = fresh_list()
    show(f"store itself [{a!r}:{b!r}]", outcome(s, lst, a, b, lst))
    lst = fresh_list()
    show(f"store resizing generator [{a!r}:{b!r}]", outcome(s, lst, a, b, resize_while_consumed(lst)))
for a, b in [(1, 3), (2**62, None), (True, 2), (1.5, 2), ("a", None), (Index(1, lambda: None), 4)]:
    show(f"store odd bounds [{a!r}:{b!r}]", outcome(s, fresh_list(), a, b, ["v", "w"]))
TARGETS = [lambda: SubList([1, 2, 3, 4]), lambda: GetList([1, 2, 3]), lambda: (1, 2, 3), lambda: "str",
           lambda: bytearray(b"abcdef"), lambda: array("i", [1, 2, 3, 4]), Seq, lambda: {1: 2}, lambda: None]
for make in TARGETS:
    for v in [["v"], b"zz", array("i", [9]), "q"]:
        target = make()
        show(f"store into {target!r:.30} = {v!r}", outcome(s, target, 1, 3, v))

# The slice path and the path without one keep every reference count.
lst, tup, text = list(range(50)), tuple(range(50)), "abcdefghij" * 5
lo, hi = -(BIG - BIG + 300), BIG - BIG + 1000  # ints made at run time, not small-int singletons
before = [sys.getrefcount(x) for x in (lst, tup, text, lo, hi)]
f = fresh(load)
for _ in range(200):
    f(lst, lo, hi)
    f(tup, lo, hi)
    f(text, lo, hi)
    f(tup, None, None)
    f(text, None, None)
s = fresh(store)
for _ in range(200):
    s(lst, lo, hi, [1] * 50)
after = [sys.getrefcount(x) for x in (lst, tup, text, lo, hi)]
show("reference counts unchanged", [b2 - b1 for b1, b2 in zip(before, after)])
show("list after stores", lst)
