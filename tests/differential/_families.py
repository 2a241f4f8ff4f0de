"""One small function per specialization family of the series, shared by the
concern programs (tracing, monitoring, PEP 523).  Each is warmed up to its
specialized form by warm_all(); the bodies are kept on separate lines so
that line events are meaningful."""

from array import array
from collections import defaultdict, namedtuple

from _harness import fresh, live, warm


class Meta(type):
    pass


class WithMeta(metaclass=Meta):
    x = "class attr"


class Slotted:
    __slots__ = ("x", "y")

    def __init__(self, x, y=0.5):
        self.x = x
        self.y = y


class Defaults:
    def __init__(self, x, y=2):
        self.args = (x, y)


def int_ops(a, b):
    r = a & b
    r = r | (a ^ b)
    r += a % b
    r += a // b
    r += (a << 3) >> 2
    return r


def float_mix(x, i):
    y = x * i
    y = y + i
    y = i - y
    return y / 3


def dict_loops(d):
    out = []
    for k in d:
        out.append(k)
    for v in d.values():
        out.append(v)
    for k, v in d.items():
        out.append(k)
        out.append(v)
    return out


def compare(x, i):
    a = x < i
    b = i >= x
    c = x == i
    return (a, b, c)


def truth(t, d, s, fs):
    out = []
    if t:
        out.append("t")
    if not d:
        out.append("not d")
    if s:
        out.append("s")
    if fs:
        out.append("fs")
    return out


def enum_loop(seq):
    out = []
    for i, x in enumerate(seq):
        out.append(i)
        out.append(x)
    return out


def class_attr(cls):
    return cls.x


def array_ops(a):
    for i in range(len(a)):
        a[i] = a[i] + 1
    return a.tolist()


def make_objects(n):
    out = []
    for i in range(n):
        s = Slotted(i)
        d = Defaults(i)
        out.append((s.x, s.y, d.args))
    return out


def slices(seq, text):
    head = seq[:2]
    tail = text[1:]
    seq[1:3] = head
    return (head, tail, seq[-3:], text[:-1])


def counting(counts, words):
    for w in words:
        counts[w] += 1
    return (counts["zz"], sorted(counts.items()))


def branches(n, xs):
    out = 0
    for x in xs:
        if x is None:
            out -= 1
        elif x < n:
            out += 1
        if not x:
            out += 10
        out += 100 if x else 1000
    while n:
        n -= 1
    return out


Pair = namedtuple("Pair", "x y")


def tuple_keys(table, points):
    for x, y in points:
        key = Pair(x, y)
        table[key] = table.get(key, 0) + 1
        table[(x, "s")] = table.get((x, "s"), 0) + 1
    return sorted(map(repr, table.items()))


def cases():
    """(name, function, argument factory) for every family."""
    return [
        ("int_ops", int_ops, lambda: (12345, 7)),
        ("float_mix", float_mix, lambda: (2.5, 3)),
        ("dict_loops", dict_loops, lambda: ({"a": 1, "b": 2, "c": 3},)),
        ("compare", compare, lambda: (2.5, 3)),
        ("truth", truth, lambda: ((1,), {}, {2}, frozenset())),
        ("enum_loop", enum_loop, lambda: (["p", "q", "r"],)),
        ("class_attr", class_attr, lambda: (WithMeta,)),
        ("array_ops", array_ops, lambda: (array("i", [1, 2, 3]),)),
        ("make_objects", make_objects, lambda: (2,)),
        ("slices", slices, lambda: ([1, 2, 3, 4], "slice")),
        ("counting", counting, lambda: (defaultdict(int), ["a", "b", "a"])),
        ("branches", branches, lambda: (2, [0, 1, None, 3, 2])),
        ("tuple_keys", tuple_keys, lambda: ({}, [(1, 2), (3, 4), (1, 2)])),
    ]


EXPECTED = ("BINARY_OP_INT_COMPACT", "BINARY_OP_MIXED_FLOAT", "FOR_ITER_DICT", "FOR_ITER_DICT_ITEMS",
            "COMPARE_OP_MIXED_FLOAT", "TO_BOOL_SIZED", "FOR_ITER_ENUMERATE",
            "LOAD_ATTR_CLASS_WITH_METACLASS_CHECK", "BINARY_SUBSCR_ARRAY_INT", "STORE_SUBSCR_ARRAY_INT",
            "CALL_ALLOC_AND_ENTER_INIT_GENERAL")


def warm_all():
    """Fresh, warmed copies: [(name, function, argument factory)]."""
    out = []
    for name, fn, args in cases():
        f = fresh(fn)
        warm(f, *args())
        out.append((name, f, args))
    return out


def record(warmed):
    for _, f, _ in warmed:
        live(f)
