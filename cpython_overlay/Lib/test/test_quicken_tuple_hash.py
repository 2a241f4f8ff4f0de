"""Tests for tuplehash()'s item hashing (Objects/tupleobject.c).

tuplehash() hashes an exact one-digit int itself and calls other items'
tp_hash directly.  These tests compare hash(tuple) with the documented
xxHash-based combination of the items' own hashes, computed here in Python
from hash(item), which never takes that path, and check that items with
their own __hash__ are still asked."""

import collections
import sys
import unittest

WIDTH = sys.hash_info.width
MASK = (1 << WIDTH) - 1
if WIDTH == 64:
    PRIME_1 = 11400714785074694791
    PRIME_2 = 14029467366897019727
    PRIME_5 = 2870177450012600261
    ROTATE = 31
else:
    PRIME_1 = 2654435761
    PRIME_2 = 2246822519
    PRIME_5 = 374761393
    ROTATE = 13


def reference_hash(t):
    acc = PRIME_5
    for item in t:
        lane = (reference_hash(item) if type(item) is tuple else hash(item)) & MASK
        acc = (acc + lane * PRIME_2) & MASK
        acc = ((acc << ROTATE) | (acc >> (WIDTH - ROTATE))) & MASK
        acc = (acc * PRIME_1) & MASK
    acc = (acc + (len(t) ^ (PRIME_5 ^ 3527539))) & MASK
    if acc == MASK:
        return 1546275796
    return acc - (1 << WIDTH) if acc >> (WIDTH - 1) else acc


DIGIT = 1 << sys.int_info.bits_per_digit
INTS = [0, 1, -1, -2, 2, 7, -7, 255, -256, DIGIT - 1, -(DIGIT - 1), DIGIT,
        -DIGIT, DIGIT + 1, 2 ** 61 - 2, 2 ** 61 - 1, 2 ** 61, -(2 ** 61 - 1),
        -(2 ** 61), 2 ** 63, -(2 ** 63), 2 ** 64 + 5, -(2 ** 100), 10 ** 40]


class MyInt(int):
    pass


class HashedInt(int):
    calls = 0

    def __hash__(self):
        HashedInt.calls += 1
        return 42


class MinusOne:
    def __hash__(self):
        return -1


class Fails:
    def __hash__(self):
        raise ZeroDivisionError("no hash")


class OwnHashTuple(tuple):
    def __hash__(self):
        return 12345


Point = collections.namedtuple("Point", "x y")


class TupleHashTests(unittest.TestCase):

    def check(self, t):
        self.assertEqual(hash(t), reference_hash(t), t)

    def test_one_digit_ints(self):
        for n in INTS:
            with self.subTest(n=n):
                self.check((n,))
                self.check((n, n, -n))
                self.check((1, n, "a", n))
        self.assertEqual(hash((-1,)), hash((-2,)))
        self.assertNotEqual(hash((-1,)), hash((1,)))

    def test_every_one_digit_value_of_a_range(self):
        for n in range(-1000, 1000):
            self.assertEqual(hash((n, n + 1)), reference_hash((n, n + 1)))

    def test_ints_that_are_not_exact(self):
        self.check((True, False, MyInt(5), MyInt(-1), MyInt(DIGIT)))
        HashedInt.calls = 0
        self.assertEqual(hash((HashedInt(5),)), hash((42,)))
        self.assertEqual(hash((HashedInt(-1), 3)), hash((42, 3)))
        self.assertEqual(HashedInt.calls, 2)

    def test_other_items(self):
        self.check((None, Ellipsis, 1.5, -0.0, float("inf"), 2j, "", "abc",
                    "".join(["fresh", "str"]), b"bytes", frozenset({1, 2}),
                    range(3), int, len))
        self.check(((1, 2), ((3,), ()), (), Point(1, -1), (Point(2, 3),)))
        self.assertEqual(hash((OwnHashTuple((1, 2)),)), hash((12345,)))
        self.assertEqual(hash((MinusOne(), 1)), hash((-2, 1)))

    def test_errors_propagate(self):
        with self.assertRaisesRegex(TypeError, "unhashable type: 'list'"):
            hash((1, [2]))
        with self.assertRaisesRegex(ZeroDivisionError, "no hash"):
            hash((1, 2, Fails()))
        with self.assertRaisesRegex(TypeError, "unhashable type: 'dict'"):
            hash(((1,), (2, {})))

    def test_named_tuples_and_dict_keys(self):
        self.assertEqual(hash(Point(3, 4)), hash((3, 4)))
        d = {(x, y): x - y for x in range(-40, 40) for y in range(-3, 3)}
        for (x, y), v in list(d.items()):
            self.assertEqual(d[(x, y)], v)
            self.assertEqual(d[Point(x, y)], v)
        self.assertEqual(len({(n, -n) for n in INTS}), len(set(INTS)))


if __name__ == "__main__":
    unittest.main()
