"""Dict subclasses at dict subscript sites (BINARY_SUBSCR_DICT and
STORE_SUBSCR_DICT, stock instructions whose exact-dict guard any change to
them -- such as taking subclasses that keep dict's mapping slots, as 3.15's
gh-148128 does -- must keep right; and the series' dict-type guards of
TO_BOOL_SIZED and FOR_ITER_DICT*, which see the same subclasses).

Guard space: sites warmed up with a defaultdict (and with an exact dict,
an OrderedDict) then given exact dicts, defaultdicts (factories int, list,
None, raising, clearing or filling the dict, changed after warm-up),
OrderedDicts (stores keep the order), Counters, Python-level subclasses with
__missing__, __getitem__ or __setitem__ (also gained after warm-up),
subclasses of defaultdict and OrderedDict, non-dict mappings and sequences;
keys that are missing, unhashable, raise in __hash__ or __eq__, NaNs and
signed zeros; augmented assignment; __missing__ raising KeyError for
another key; a replaced value's __del__ writing into the dict; reference
counts of keys and values.
"""

import sys
import types
from collections import ChainMap, Counter, OrderedDict, UserDict, defaultdict

from _harness import expect_live, fresh, live, outcome, show, warm

expect_live("BINARY_SUBSCR_DICT", "STORE_SUBSCR_DICT")


def load(d, k):
    return d[k]


def store(d, k, v):
    d[k] = v
    return d[k]


def bump(d, k):
    d[k] += 1
    return d[k]


def contents(d):
    if isinstance(d, OrderedDict):
        return ("ordered", list(d.items()))
    if isinstance(d, (dict, UserDict, ChainMap)):
        return sorted(((repr(k), repr(v)) for k, v in d.items()))
    return d


class Missing(dict):
    def __missing__(self, key):
        return ("missing", key)


class MissingOther(dict):
    def __missing__(self, key):
        raise KeyError(("other", key))


class Overriding(dict):
    def __getitem__(self, key):
        return ("override", key)

    def __setitem__(self, key, value):
        dict.__setitem__(self, key, ("stored", value))


class Later(dict):
    pass


class SubDefault(defaultdict):
    pass


class SubOrdered(OrderedDict):
    pass


class Unhashable:
    __hash__ = None

    def __repr__(self):
        return "Unhashable()"


class BadHash:
    def __hash__(self):
        raise ValueError("hash")

    def __repr__(self):
        return "BadHash()"


class BadEq:
    def __hash__(self):
        return 12345

    def __eq__(self, other):
        raise ZeroDivisionError("eq")

    def __repr__(self):
        return "BadEq()"


def factory_raising():
    raise ValueError("factory")


def containers():
    filled = []

    def filling():
        filled.append(1)
        return len(filled)

    clearing = defaultdict(None, {"a": 1, "b": 2})
    clearing.default_factory = lambda: clearing.clear() or "cleared"
    return [
        ("dict", {"a": 1, 2: "two"}),
        ("defaultdict int", defaultdict(int, {"a": 1})),
        ("defaultdict list", defaultdict(list, {"a": [1]})),
        ("defaultdict None", defaultdict(None, {"a": 1})),
        ("defaultdict raising", defaultdict(factory_raising, {"a": 1})),
        ("defaultdict filling", defaultdict(filling, {"a": 1})),
        ("defaultdict clearing", clearing),
        ("OrderedDict", OrderedDict([("b", 1), ("a", 2)])),
        ("Counter", Counter("abca")),
        ("Missing", Missing(a=1)),
        ("MissingOther", MissingOther(a=1)),
        ("Overriding", Overriding(a=1)),
        ("SubDefault", SubDefault(str, {"a": 1})),
        ("SubOrdered", SubOrdered([("z", 0), ("a", 1)])),
        ("UserDict", UserDict(a=1)),
        ("ChainMap", ChainMap({"a": 1}, {"b": 2})),
        ("mappingproxy", types.MappingProxyType({"a": 1})),
        ("list", [10, 20, 30]),
    ]


KEYS = ["a", "b", 2, 1, (1, 2), 0.0, -0.0, float("nan"), Unhashable(), BadHash(), BadEq(), None]


def exercise(label, f, g, h):
    for name, _ in containers():
        for k in KEYS:
            d = dict(containers())[name]
            show(f"{label} load {name} [{k!r}]", (outcome(f, d, k), contents(d)))
            d = dict(containers())[name]
            show(f"{label} store {name} [{k!r}]", (outcome(g, d, k, "v"), contents(d)))
            d = dict(containers())[name]
            show(f"{label} bump {name} [{k!r}]", (outcome(h, d, k), contents(d)))


# Sites warmed up with each of the three kinds the instructions now take.
for label, warm_with in [("warm defaultdict", lambda: defaultdict(int, {"a": 1, "b": 2})),
                         ("warm dict", lambda: {"a": 1, "b": 2}),
                         ("warm OrderedDict", lambda: OrderedDict(a=1, b=2))]:
    f, g, h = fresh(load), fresh(store), fresh(bump)
    show(f"{label} warm", (warm(f, warm_with(), "a"), warm(g, warm_with(), "c", 3),
                           warm(h, warm_with(), "b")))
    exercise(label, f, g, h)
    live(f)
    live(g)
    live(h)

# A defaultdict whose factory changes after the site specialized.
f = fresh(load)
d = defaultdict(int)
warm(f, d, "a")
d.default_factory = lambda: "new factory"
show("factory changed", (outcome(f, d, "x"), contents(d)))
d.default_factory = None
show("factory removed", (outcome(f, d, "y"), contents(d)))
live(f)

# A class that gains __getitem__ / __setitem__ / __missing__ after warm-up.
f, g = fresh(load), fresh(store)
warm(f, defaultdict(int, {"a": 1}), "a")
warm(g, defaultdict(int), "a", 1)
later = Later(a=1)
show("later before", (outcome(f, later, "a"), outcome(f, later, "zz"), outcome(g, later, "b", 2)))
Later.__missing__ = lambda self, key: ("gained missing", key)
show("later missing", (outcome(f, later, "zz"), contents(later)))
Later.__getitem__ = lambda self, key: ("gained getitem", key)
Later.__setitem__ = lambda self, key, value: dict.__setitem__(self, key, ("gained setitem", value))
show("later gained", (outcome(f, later, "a"), outcome(g, later, "c", 3), contents(later)))
del Later.__getitem__, Later.__setitem__
show("later lost", (outcome(f, later, "a"), outcome(g, later, "d", 4), contents(later)))
live(f)
live(g)


# A replaced value whose __del__ writes into the same dict.
class Noisy:
    def __init__(self, d, name):
        self.d, self.name = d, name

    def __del__(self):
        print("del", self.name, sorted(self.d), flush=True)
        self.d["written by del " + self.name] = 1


g = fresh(store)
warm(g, defaultdict(int), "w", 0)
d = defaultdict(int)
for i in range(3):
    g(d, "slot", Noisy(d, str(i)))
    show(f"after noisy store {i}", sorted(d))
g(d, "slot", None)
show("noisy done", sorted(d))
live(g)

# Reference counts of keys, values and the container itself.
key, value = object(), object()
d = defaultdict(object, {key: value})
f, g, h = fresh(load), fresh(store), fresh(bump)
warm(f, d, key)
warm(g, d, key, value)
counter = defaultdict(int)
warm(h, counter, key)
before = (sys.getrefcount(key), sys.getrefcount(value), sys.getrefcount(d))
for _ in range(500):
    f(d, key)
    g(d, key, value)
    h(counter, key)
show("refcount deltas", tuple(a - b for a, b in zip(
    (sys.getrefcount(key), sys.getrefcount(value), sys.getrefcount(d)), before)))
missing_key = ("fresh", 1)
before = sys.getrefcount(missing_key)
m = defaultdict(list)
for i in range(50):
    m.pop(missing_key, None)
    f(m, missing_key)
show("refcount delta of a key inserted by __missing__", sys.getrefcount(missing_key) - before - 1)
live(f)
live(g)
live(h)
