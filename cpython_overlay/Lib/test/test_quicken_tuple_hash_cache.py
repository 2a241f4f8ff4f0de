"""Tests for the table of kept tuple hashes
(Include/internal/pycore_quicken_tuplehash.h, Objects/tupleobject.c).

Every hash is compared with the documented combination of the items' own
hashes (test_quicken_tuple_hash.reference_hash), after the tuple was hashed
once already, so that a kept hash answers.  The tuples that iterators
reuse in place, the addresses the tuple free lists hand out again, and the
items whose hash runs code are the cases a wrongly kept hash would show."""

import collections
import functools
import itertools
import math
import os
import time
import unittest

from test.support import import_helper
from test.test_quicken_tuple_hash import reference_hash

Point = collections.namedtuple("Point", "x y")


class Counted:
    def __init__(self):
        self.calls = 0

    def __hash__(self):
        self.calls += 1
        return self.calls


class PlainSub(tuple):
    pass


class TupleHashCacheTests(unittest.TestCase):

    def check_twice(self, t):
        expected = reference_hash(t)
        self.assertEqual(hash(t), expected, t)
        self.assertEqual(hash(t), expected, t)

    def test_kept_items(self):
        nan = float("nan")
        for t in [(1, 2), (-1,), (2 ** 70, -(2 ** 40)), ("a", "", "\u20ac"),
                  (0.5, -0.0, math.inf, nan), (True, False, None),
                  ((1, (2, ("x",))), ()), (1, "a", 2.5, None, (2, "b"))]:
            with self.subTest(t=t):
                self.check_twice(t)

    def test_named_and_subclassed_tuples(self):
        for t in [Point(1, 2), Point(3, Point(4, "z")), PlainSub((1, 2)), (Point(1, 2), 3)]:
            with self.subTest(t=t):
                self.check_twice(t)
                self.assertEqual(hash(t), hash(tuple(t)))

    def test_structseqs(self):
        g = time.gmtime(86400)
        for _ in range(3):
            self.assertEqual(hash(g), hash(tuple(g)))
        st = os.stat(os.curdir)
        self.assertEqual(hash(st), hash(st))

    def test_items_whose_hash_runs_code_are_asked_every_time(self):
        c = Counted()
        t = (1, c)
        nested = (2, (3, c))
        hashes = [hash(t) for _ in range(3)] + [hash(nested) for _ in range(3)]
        self.assertEqual(c.calls, 6)
        self.assertEqual(len(set(hashes)), 6)

    def test_errors_are_raised_every_time(self):
        t = (1, (2, []))
        for _ in range(3):
            with self.assertRaises(TypeError):
                hash(t)

    def test_recycled_result_tuples(self):
        a = list(range(30))
        b = [str(i) for i in range(30)]
        d = dict(zip(a, b))
        od = collections.OrderedDict(d)
        makers = {
            "zip": lambda: zip(a, b),
            "enumerate": lambda: enumerate(b),
            "enumerate long": lambda: enumerate(b, 2 ** 70),
            "dict items": lambda: iter(d.items()),
            "reversed dict items": lambda: reversed(d.items()),
            "OrderedDict items": lambda: iter(od.items()),
            "pairwise": lambda: itertools.pairwise(a),
            "product": lambda: itertools.product(a[:4], repeat=3),
            "combinations": lambda: itertools.combinations(a[:7], 3),
            "combinations_with_replacement":
                lambda: itertools.combinations_with_replacement(a[:5], 3),
            "permutations": lambda: itertools.permutations(a[:5], 3),
            "zip_longest": lambda: itertools.zip_longest(a[:5], b[:9]),
        }
        for name, make in makers.items():
            with self.subTest(name):
                expected = [reference_hash(t) for t in list(make())]
                # map() drops each tuple before asking for the next one, so
                # the iterator reuses it; each is hashed twice.
                got = list(map(lambda t: (hash(t), hash(t)), make()))
                self.assertEqual(got, [(h, h) for h in expected])

    def test_reduce_reuses_its_arguments(self):
        seen = []
        functools.reduce(lambda x, y: seen.append(hash((x, y))) or y, range(10))
        self.assertEqual(seen, [reference_hash((x, x + 1)) for x in range(9)])

    def test_freed_addresses(self):
        for i in range(20000):
            t = (i, i + 1)
            hash(t)
            u = (i + 1, "x")
            self.assertEqual(hash(u), reference_hash(u))
            self.assertEqual(hash(t), reference_hash(t))

    def test_dict_lookups(self):
        table = {}
        for i in range(300):
            key = Point(i % 7, i % 5)
            table[key] = table.get(key, 0) + 1
        self.assertEqual(sum(table.values()), 300)
        self.assertEqual(table[(0, 0)], sum(1 for i in range(300) if i % 7 == 0 and i % 5 == 0))

    def test_subinterpreters(self):
        interpreters = import_helper.import_module("_interpreters")
        code = ("t = (1, 'a', (2.5, None))\n"
                "assert hash(t) == hash(t) == hash((1, 'a', (2.5, None)))\n"
                "assert [hash(p) for p in map(tuple, zip(range(3), 'abc'))] "
                "== list(map(hash, zip(range(3), 'abc')))\n")
        for config in ("isolated", "legacy"):
            for _ in range(3):
                with self.subTest(config=config):
                    interp = interpreters.create(config)
                    try:
                        self.assertIsNone(interpreters.run_string(interp, code))
                    finally:
                        interpreters.destroy(interp)
        self.check_twice((1, "a", (2.5, None)))


if __name__ == "__main__":
    unittest.main()
