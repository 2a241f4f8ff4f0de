"""Tuple hashes kept by the interpreter (0015: the table of kept tuple hashes).

The patched build keeps the hash of a tuple whose items are all exact ints,
strs, floats, bools, None or tuples whose hash is kept, and forgets it when
the tuple is freed, resized or reused in place.  Guard space, each hashed
more than once so the kept hash is what answers:

* kept items: small and big ints, -1 (hash -2), strs, floats (-0.0, inf,
  NaNs, whose hash is their identity), bools, None, nested tuples, named
  tuples, empty tuples;
* never kept: items whose ``__hash__`` runs code (it must run at every
  hash), int/str/float subclasses, unhashable items (the error at every
  hash), items whose hash is -1 in C, tuple subclasses overriding
  ``__hash__``, structseqs (os.stat_result, time.struct_time);
* tuples reused in place by the iterators that recycle their result
  (zip, enumerate, dict and OrderedDict items, reversed items,
  itertools pairwise/product/combinations/cwr/permutations/zip_longest,
  functools.reduce), hashed while they are the only reference;
* addresses reused: millions of short-lived tuples of different contents
  at the same few addresses (the tuple free lists);
* dict and set lookups keyed by tuples and named tuples, after the keys
  were rebuilt;
* sub-interpreters, created and destroyed repeatedly: legacy ones, which
  share the main interpreter's table, and isolated ones (own GIL), which
  keep no hashes.
Tracing, monitoring and PEP 523 see tuple keys through the "tuple_keys"
family of _families.py.
"""

import collections
import functools
import itertools
import math
import os
import time

from _harness import check, show

Point = collections.namedtuple("Point", "x y")


def twice(label, make):
    """Hash the same tuple twice (the second hash answers from the table)."""
    t = make()
    first = hash(t)
    second = hash(t)
    show(label, (first, second, first == hash(tuple(t))))


# -- kept items -----------------------------------------------------------------

twice("small ints", lambda: (1, 2, 3))
twice("minus one", lambda: (-1, -2, 0))
twice("big ints", lambda: (2**64, -(2**100), 2**30))
twice("strs", lambda: ("a", "", "\u20ac" * 3))
twice("floats", lambda: (0.5, -0.0, 0.0, math.inf, -math.inf, 1e308))
twice("bools and None", lambda: (True, False, None))
twice("nested", lambda: ((1, (2, (3, ("x",)))), ()))
twice("named", lambda: Point(3, Point(4, 5)))
twice("mixed", lambda: (1, "a", 2.5, None, True, (2, "b")))
nan = float("nan")
t = (nan, 1)
show("nan identity", (hash(t) == hash(t), hash(t) == hash((nan, 1)), hash((float("nan"), 1)) == hash(t)))
show("empty", (hash(()), hash(()), hash(tuple())))


# -- never kept: hashes that run code -------------------------------------------

class Counted:
    calls = 0

    def __hash__(self):
        Counted.calls += 1
        return 7


c = Counted()
t = (1, c, "s")
show("counted item", ([hash(t) for _ in range(5)], Counted.calls))
t = (1, (2, c))
show("counted nested item", ([hash(t) for _ in range(3)], Counted.calls))


class Changing:
    def __init__(self):
        self.h = 0

    def __hash__(self):
        self.h += 1
        return self.h


ch = Changing()
t = (ch, 2)
show("changing item", [hash(t) for _ in range(4)])


class MyInt(int):
    def __hash__(self):
        return 99


class MyStr(str):
    pass


class MyFloat(float):
    pass


twice("int subclass", lambda: (MyInt(5), 1))
twice("str subclass", lambda: (MyStr("a"), 1))
twice("float subclass", lambda: (MyFloat(0.5), 1))
t = (1, [])
check("unhashable", hash, t)
check("unhashable again", hash, t)
t = (1, (2, {}))
check("unhashable nested", hash, t)
check("unhashable nested again", hash, t)


class MinusOne:
    def __hash__(self):
        return -1


t = (MinusOne(), 1)
show("hash -1 item", (hash(t), hash(t)))


class Big:
    def __hash__(self):
        return 2**70


t = (Big(), 1)
show("hash too big item", (hash(t), hash(t)))


class Raising:
    def __init__(self):
        self.n = 0

    def __hash__(self):
        self.n += 1
        if self.n % 2:
            raise ValueError(f"hash {self.n}")
        return self.n


r = Raising()
t = (1, r)
for i in range(4):
    check(f"raising item {i}", hash, t)


class OwnHash(tuple):
    def __hash__(self):
        return 12345


twice("tuple subclass with __hash__", lambda: OwnHash((1, 2)))


class PlainSub(tuple):
    pass


twice("tuple subclass", lambda: PlainSub((1, 2)))
st = os.stat(".")
show("structseq stat", (hash(st[:3]) == hash(tuple(st[:3])), hash(time.gmtime(0)), hash(time.gmtime(0))))
g = time.gmtime(86400)
show("structseq twice", (hash(g), hash(g), hash(g) == hash(tuple(g))))


# -- tuples reused in place ----------------------------------------------------

a = list(range(40))
b = [f"s{i}" for i in range(40)]
d = dict(zip(a, b))
od = collections.OrderedDict(d)


def hashes(it):
    """Hash each tuple an iterator yields and drop it before the next one,
    so the iterator reuses it (a for loop would still hold it)."""
    return list(map(hash, it))


def hashes_twice(it):
    return list(map(lambda t: (hash(t), hash(t)), it))


show("zip", hashes(zip(a, b)))
show("zip twice", hashes_twice(zip(a, b)))
show("enumerate", hashes(enumerate(b)))
show("enumerate long", hashes(enumerate(b, 2**70)))
show("dict items", hashes(d.items()))
show("dict items twice", hashes_twice(iter(d.items())))
show("reversed dict items", hashes(reversed(d.items())))
show("OrderedDict items", hashes(od.items()))
show("pairwise", hashes(itertools.pairwise(a)))
show("product", hashes(itertools.product(a[:4], b[:3], repeat=1)))
show("product repeat", hashes(itertools.product(a[:3], repeat=3)))
show("combinations", hashes(itertools.combinations(a[:7], 3)))
show("combinations_with_replacement", hashes(itertools.combinations_with_replacement(a[:5], 3)))
show("permutations", hashes(itertools.permutations(a[:5], 3)))
show("zip_longest", hashes(itertools.zip_longest(a[:5], b[:8], fillvalue=-1)))
show("for loop over zip", [hash(t) for t in zip(a, b)])
show("sets of recycled", len(set(zip(a[:10], a[:10]))) + len(set(map(tuple, enumerate(b)))))
seen = {}
for k, v in enumerate(b):
    seen[(k, v)] = k
show("keys from recycled tuples", [seen[(k, v)] for k, v in enumerate(b)][:10])
it = zip(a, b)
first = next(it)
h1 = hash(first)
del first
second = next(it)
show("recycled after release", (h1, hash(second), hash(second) == hash((1, "s1"))))
show("reduce", functools.reduce(lambda acc, y: acc ^ hash((acc, y)), a, 0))
show("reduce tuples", functools.reduce(lambda acc, y: acc + (y,), a[:8], ()))


# -- addresses reused ----------------------------------------------------------

acc = 0
for i in range(200_000):
    t = (i, i + 1)
    acc ^= hash(t) ^ hash(t)
    u = (i + 1, i)
    acc += hash(u) & 0xFF
show("short-lived pairs", acc)
acc = 0
for i in range(50_000):
    acc += hash(Point(i, -i)) % 1000 + hash((i, (i, str(i)))) % 1000
show("short-lived named and nested", acc)
many = [(i, i) for i in range(10_000)]
show("many live", sum(hash(t) % 97 for t in many))
del many
fresh = [(i, -i) for i in range(10_000)]
show("many live at freed addresses", sum(hash(t) % 97 for t in fresh))


# -- lookups ---------------------------------------------------------------------

table = {}
for i in range(1000):
    table[Point(i % 10, i % 7)] = table.get(Point(i % 10, i % 7), 0) + 1
show("named keys", sorted(table.items())[:12])
show("lookup by plain tuple", [table.get((x, y)) for x in range(3) for y in range(3)])
s = {(i, str(i), float(i)) for i in range(100)}
show("set membership", sum((i, str(i), float(i)) in s for i in range(150)))
show("dict of nested keys", len({((i % 5,), (i % 3, "k")): i for i in range(100)}))


# -- sub-interpreters ---------------------------------------------------------------

try:
    import _interpreters
except ImportError:
    _interpreters = None

if _interpreters is not None:
    import tempfile

    CODE = """
import collections, itertools
P = collections.namedtuple("P", "x y")
acc = 0
for i in range(20000):
    t = (i, str(i))
    acc ^= hash(t) ^ hash(t) ^ hash(P(i, t))
acc ^= sum(hash(t) for t in zip(range(100), range(100)))
with open({path!r}, "a") as f:
    f.write(f"{label} {{acc}}\\n")
"""
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "out.txt")
        for round_ in range(3):
            for label, config in (("isolated", "isolated"), ("legacy", "legacy")):
                interp = _interpreters.create(config)
                _interpreters.run_string(interp, CODE.format(path=path, label=f"{label} {round_}"))
                _interpreters.destroy(interp)
        with open(path) as f:
            show("sub-interpreters", f.read().splitlines())
    acc = 0
    for i in range(20000):
        t = (i, str(i))
        acc ^= hash(t) ^ hash(t) ^ hash(Point(i, t))
    show("main after sub-interpreters", acc)
