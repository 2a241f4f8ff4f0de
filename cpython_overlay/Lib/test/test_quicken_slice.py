"""Tests for BINARY_SLICE and STORE_SLICE without a slice object
(exact lists, tuples and strs with None or compact int bounds)."""

import sys
import unittest


def load(c, a, b):
    return c[a:b]


def store(c, a, b, v):
    c[a:b] = v


class Index:
    def __init__(self, value, hook=None):
        self.value = value
        self.hook = hook

    def __index__(self):
        if self.hook is not None:
            self.hook()
        return self.value


class MyInt(int):
    pass


class TestSliceLoad(unittest.TestCase):

    def check_same(self, c, bounds):
        # The fast path must give what slice(a, b) gives through the type.
        for a in bounds:
            for b in bounds:
                with self.subTest(c=c, a=a, b=b):
                    expected = type(c).__getitem__(c, slice(a, b))
                    got = load(c, a, b)
                    self.assertIs(type(got), type(expected))
                    self.assertEqual(got, expected)

    def test_values_match_the_slice_object_path(self):
        bounds = [None, 0, 1, 3, -1, -3, 7, 8, 9, -8, -9, 2**40, -2**40]
        for c in [list(range(8)), tuple(range(8)), "abcdefgh", "\u20acbc\u0394efgh",
                  "\U0001f600bcdefgh", [], (), ""]:
            self.check_same(c, bounds)

    def test_identities(self):
        t = tuple(range(5))
        s = "a string"
        lst = [1, 2, 3]
        self.assertIs(load(t, None, None), t)
        self.assertIs(load(t, 0, 5), t)
        self.assertIs(load(t, -9, 99), t)
        self.assertIs(load(s, None, None), s)
        self.assertIs(load(s, 0, 100), s)
        self.assertIsNot(load(lst, None, None), lst)
        self.assertIs(load(t, 3, 1), ())
        self.assertIs(load(s, 3, 1), "")
        self.assertIs(load("", None, None), "")
        self.assertIs(load((), None, None), ())
        self.assertEqual(load(lst, 3, 1), [])

    def test_bounds_taking_the_slice_object_path(self):
        lst = list(range(10))
        self.assertEqual(load(lst, True, MyInt(3)), [1, 2])
        self.assertEqual(load(lst, Index(2), Index(-2)), [2, 3, 4, 5, 6, 7])
        self.assertEqual(load(lst, -2**100, 2**100), lst)
        msg = "slice indices must be integers or None or have an __index__ method"
        for bad in (1.0, "1", [1]):
            with self.assertRaisesRegex(TypeError, msg):
                load(lst, bad, None)
            with self.assertRaisesRegex(TypeError, msg):
                load("abc", None, bad)

    def test_index_resizing_the_list(self):
        lst = list(range(10))
        self.assertEqual(load(lst, Index(2, lst.clear), 8), [])

    def test_subclasses_and_other_containers(self):
        class L(list):
            def __getitem__(self, item):
                return ("L", item)

        class S(str):
            pass

        self.assertEqual(load(L([1, 2, 3]), 1, 2), ("L", slice(1, 2)))
        sub = S("abcdef")
        self.assertIs(type(load(sub, 1, 3)), str)
        self.assertIsNot(load(sub, None, None), sub)
        self.assertEqual(load(b"abcdef", 1, 3), b"bc")
        self.assertEqual(load(range(10), 2, 5), range(2, 5))
        with self.assertRaisesRegex(TypeError, "'int' object is not subscriptable"):
            load(5, 1, 2)

    def test_reference_counts(self):
        lst, tup, text = list(range(20)), tuple(range(20)), "x" * 20
        lo, hi = -(int("300")), int("1000")
        objects = (lst, tup, text, lo, hi)
        before = [sys.getrefcount(o) for o in objects]
        for _ in range(100):
            load(lst, lo, hi)
            load(tup, lo, hi)
            load(text, lo, hi)
            store(lst, lo, hi, lst)
        self.assertEqual([sys.getrefcount(o) for o in objects], before)


class TestSliceStore(unittest.TestCase):

    def check_same(self, value, bounds):
        for a in bounds:
            for b in bounds:
                with self.subTest(value=value, a=a, b=b):
                    expected = list(range(8))
                    got = list(range(8))
                    try:
                        list.__setitem__(expected, slice(a, b), value)
                    except TypeError as exc:
                        with self.assertRaisesRegex(TypeError, str(exc)):
                            store(got, a, b, value)
                    else:
                        store(got, a, b, value)
                    self.assertEqual(got, expected)

    def test_values_match_the_slice_object_path(self):
        bounds = [None, 0, 2, 5, -1, -3, 8, 9, -9, 2**40]
        for value in [[], ["x"], ("a", "b", "c"), "str", range(3), 5, None]:
            self.check_same(value, bounds)

    def test_not_iterable_message(self):
        with self.assertRaisesRegex(TypeError, "must assign iterable to extended slice"):
            store([1, 2, 3], 0, 1, 5)

    def test_the_list_itself(self):
        lst = [1, 2, 3, 4]
        store(lst, 1, 2, lst)
        self.assertEqual(lst, [1, 1, 2, 3, 4, 3, 4])

    def test_value_resizing_the_list_while_consumed(self):
        lst = list(range(6))

        def values():
            yield "a"
            del lst[:4]
            yield "b"

        store(lst, 1, 3, values())
        # The bounds are adjusted to the list as it is after consuming.
        self.assertEqual(lst, [4, "a", "b"])

    def test_stop_before_start_inserts(self):
        lst = list(range(5))
        store(lst, 3, 1, ["x"])
        self.assertEqual(lst, [0, 1, 2, "x", 3, 4])

    def test_other_targets(self):
        class L(list):
            def __setitem__(self, item, value):
                list.__setitem__(self, item, ["L", value])

        target = L([1, 2, 3])
        store(target, 1, 2, 9)
        self.assertEqual(target, [1, "L", 9, 3])
        with self.assertRaisesRegex(TypeError, "does not support item assignment"):
            store((1, 2), 0, 1, [5])
        b = bytearray(b"abc")
        store(b, 0, 1, b"zz")
        self.assertEqual(b, bytearray(b"zzbc"))


if __name__ == "__main__":
    unittest.main()
