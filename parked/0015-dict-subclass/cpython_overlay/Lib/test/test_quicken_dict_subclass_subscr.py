"""Tests for BINARY_SUBSCR_DICT and STORE_SUBSCR_DICT on dict subclasses.

The two instructions also take a dict subclass whose type keeps dict's own
mapping slot (collections.defaultdict; for stores, any subclass that defines
no __setitem__ or __delitem__).  They must behave exactly as the generic
instructions: __missing__ called once per missing key, overrides gained
after the site specialized honoured at once, reference counts unchanged."""

import dis
import sys
import types
import unittest
from collections import Counter, OrderedDict, UserDict, defaultdict
from test.support import requires_specialization

LOAD = "BINARY_SUBSCR_DICT"
STORE = "STORE_SUBSCR_DICT"
WARMUP = 100


def load(d, k):
    return d[k]


def store(d, k, v):
    d[k] = v


def bump(d, k):
    d[k] += 1


def make_fresh(func):
    return types.FunctionType(func.__code__.replace(), func.__globals__,
                              func.__name__)


class Plain(dict):
    pass


class WithMissing(dict):
    def __missing__(self, key):
        return ("missing", key)


class SubDefault(defaultdict):
    pass


class Key:
    """A key that counts how often the dict hashes and compares it."""
    hashes = 0
    compares = 0

    def __init__(self, name):
        self.name = name

    def __hash__(self):
        Key.hashes += 1
        return hash(self.name)

    def __eq__(self, other):
        Key.compares += 1
        return isinstance(other, Key) and other.name == self.name


@requires_specialization
class TestDictSubclassSubscr(unittest.TestCase):

    def opnames(self, f):
        return {i.opname for i in dis.get_instructions(f, adaptive=True)}

    def warm(self, func, opname, *args):
        f = make_fresh(func)
        for _ in range(WARMUP):
            f(*args)
        self.assertIn(opname, self.opnames(f))
        return f

    def test_defaultdict_specializes(self):
        d = defaultdict(int, {"a": 1})
        f = self.warm(load, LOAD, d, "a")
        g = self.warm(store, STORE, d, "b", 2)
        self.assertEqual(f(d, "a"), 1)
        self.assertEqual(f(d, "new"), 0)
        self.assertEqual(d, {"a": 1, "b": 2, "new": 0})
        g(d, "c", [3])
        self.assertEqual(d["c"], [3])

    def test_class_statement_subclasses(self):
        # A class statement gives a dict subclass the generic __getitem__
        # slot even when it defines none (gh-132284), so its loads stay
        # generic; its stores keep dict's slot and specialize.
        for d in (SubDefault(list), Plain(), WithMissing()):
            with self.subTest(type=type(d).__name__):
                f = make_fresh(load)
                d["k"] = 0
                for _ in range(WARMUP):
                    f(d, "k")
                self.assertNotIn(LOAD, self.opnames(f))
                g = self.warm(store, STORE, d, "k", 1)
                g(d, "k", 2)
                self.assertEqual(dict(d), {"k": 2})

    def test_overriding_types_stay_generic(self):
        for d in (Counter(), OrderedDict(), UserDict()):
            with self.subTest(type=type(d).__name__):
                f = make_fresh(store)
                for _ in range(WARMUP):
                    f(d, "k", 1)
                self.assertNotIn(STORE, self.opnames(f))

    def test_missing_factory_called_once_per_key(self):
        calls = []

        def factory():
            calls.append(1)
            return len(calls)

        d = defaultdict(factory)
        f = self.warm(load, LOAD, defaultdict(int, {"x": 1}), "x")
        self.assertEqual([f(d, k) for k in "abab"], [1, 2, 1, 2])
        self.assertEqual(len(calls), 2)
        self.assertEqual(d, {"a": 1, "b": 2})

    def test_missing_errors(self):
        f = self.warm(load, LOAD, defaultdict(int, {"x": 1}), "x")
        with self.assertRaises(KeyError) as cm:
            f(defaultdict(None), "absent")
        self.assertEqual(cm.exception.args, ("absent",))

        def raising():
            raise ZeroDivisionError("factory")

        with self.assertRaises(ZeroDivisionError):
            f(defaultdict(raising), "absent")
        with self.assertRaises(TypeError):
            f(defaultdict(int), [])
        g = self.warm(store, STORE, defaultdict(int), "x", 1)
        with self.assertRaises(TypeError):
            g(defaultdict(int), {}, 1)

    def test_factory_changed_after_specialization(self):
        d = defaultdict(int)
        f = self.warm(load, LOAD, d, "a")
        d.default_factory = lambda: "changed"
        self.assertEqual(f(d, "b"), "changed")
        d.default_factory = None
        with self.assertRaises(KeyError):
            f(d, "c")

    def test_overrides_gained_and_lost_after_specialization(self):
        class Later(dict):
            pass

        d = Later(a=1)
        f = self.warm(load, LOAD, defaultdict(int, {"a": 1}), "a")
        g = self.warm(store, STORE, d, "b", 2)
        self.assertEqual(f(d, "a"), 1)
        Later.__getitem__ = lambda self, key: ("getitem", key)
        Later.__setitem__ = (lambda self, key, value:
                             dict.__setitem__(self, key, ("set", value)))
        self.assertEqual(f(d, "a"), ("getitem", "a"))
        g(d, "c", 3)
        self.assertEqual(dict.__getitem__(d, "c"), ("set", 3))
        del Later.__getitem__, Later.__setitem__
        self.assertEqual(f(d, "a"), 1)
        g(d, "c", 4)
        self.assertEqual(d["c"], 4)
        Later.__missing__ = lambda self, key: ("own missing", key)
        self.assertEqual(f(d, "zz"), ("own missing", "zz"))
        self.assertNotIn("zz", d)
        Later.__delitem__ = dict.__delitem__
        g(d, "d", 5)
        self.assertEqual(d["d"], 5)
        self.assertIn(STORE, self.opnames(g))

    def test_other_containers_at_a_specialized_site(self):
        f = self.warm(load, LOAD, defaultdict(int, {"a": 1}), "a")
        g = self.warm(store, STORE, defaultdict(int), "a", 1)
        self.assertEqual(f({"a": 5}, "a"), 5)
        self.assertEqual(f([10, 20], 1), 20)
        self.assertEqual(f(WithMissing(), "k"), ("missing", "k"))
        self.assertEqual(f(Counter("aab"), "a"), 2)
        self.assertEqual(f(Counter(), "z"), 0)
        od = OrderedDict(b=1)
        g(od, "a", 2)
        self.assertEqual(list(od), ["b", "a"])
        lst = [0, 0]
        g(lst, 1, 7)
        self.assertEqual(lst, [0, 7])

    def key_calls(self, f, g, h):
        d = defaultdict(int, {"x": 0})
        k1, k2 = Key("k"), Key("k")
        Key.hashes = Key.compares = 0
        g(d, k1, 1)
        results = [f(d, k2)]
        h(d, k2)
        results += [f(d, k1), f(d, Key("absent")), len(d)]
        return results, Key.hashes, Key.compares

    def test_hash_and_eq_calls_match_generic(self):
        d = defaultdict(int)
        warm = (self.warm(load, LOAD, d, "x"), self.warm(store, STORE, d, "x", 1),
                self.warm(bump, STORE, d, "x"))

        def cold(func):
            # A new code object for every call: never specialized.
            return lambda *args: make_fresh(func)(*args)

        generic = self.key_calls(cold(load), cold(store), cold(bump))
        self.assertEqual(self.key_calls(*warm), generic)
        self.assertEqual(generic[0], [1, 2, 0, 3])

    def test_reference_counts(self):
        key, value = object(), object()
        d = defaultdict(object, {key: value})
        f = self.warm(load, LOAD, d, key)
        g = self.warm(store, STORE, d, key, value)
        before = (sys.getrefcount(key), sys.getrefcount(value),
                  sys.getrefcount(d))
        for _ in range(1000):
            f(d, key)
            g(d, key, value)
        after = (sys.getrefcount(key), sys.getrefcount(value),
                 sys.getrefcount(d))
        self.assertEqual(before, after)
        missing = ("fresh", 1)
        before = sys.getrefcount(missing)
        for _ in range(100):
            d.pop(missing, None)
            f(d, missing)
        self.assertEqual(sys.getrefcount(missing), before + 1)


if __name__ == "__main__":
    unittest.main()
