"""Tests for BINARY_SUBSCR_ARRAY_INT and STORE_SUBSCR_ARRAY_INT
(array.array items indexed by an int)."""

import dis
import sys
import types
import unittest
from array import array
from test.support import requires_specialization

LOAD = "BINARY_SUBSCR_ARRAY_INT"
STORE = "STORE_SUBSCR_ARRAY_INT"
WARMUP = 100
TYPECODES = "bBuwhHiIlLqQfd"


def load(a, i):
    return a[i]


def store(a, i, v):
    a[i] = v


def make_fresh(func):
    return types.FunctionType(func.__code__.replace(), func.__globals__,
                              func.__name__)


def sample(typecode):
    if typecode in "uw":
        return "a"
    if typecode in "fd":
        return 1.5
    return 7


class MyInt(int):
    pass


class Index:
    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value


@requires_specialization
class TestArraySubscr(unittest.TestCase):

    def opnames(self, f):
        return {i.opname for i in dis.get_instructions(f, adaptive=True)}

    def warm_load(self, a=None):
        f = make_fresh(load)
        a = array("d", [0.5, 1.5, 2.5]) if a is None else a
        for _ in range(WARMUP):
            f(a, 1)
        self.assertIn(LOAD, self.opnames(f))
        return f

    def warm_store(self, a=None):
        f = make_fresh(store)
        a = array("d", [0.5, 1.5, 2.5]) if a is None else a
        for _ in range(WARMUP):
            f(a, 1, a[1])
        self.assertIn(STORE, self.opnames(f))
        return f

    def test_every_typecode_specializes(self):
        for typecode in TYPECODES:
            with self.subTest(typecode=typecode):
                value = sample(typecode)
                a = array(typecode, [value] * 4)
                self.warm_load(a)
                f = self.warm_store(a)
                f(a, 3, value)
                self.assertEqual(a[3], value)

    def test_values_match_generic(self):
        reference = {
            "b": [-128, 0, 127], "B": [0, 255, 3], "h": [-32768, 32767, 0],
            "i": [-2**31, 2**31 - 1, 5], "I": [0, 2**32 - 1, 9],
            "q": [-2**63, 2**63 - 1, 0], "Q": [0, 2**64 - 1, 1],
            "d": [float("nan"), -0.0, float("inf")], "f": [0.25, -0.0, 1e30],
        }
        f = self.warm_load()
        g = self.warm_store()
        for typecode, values in reference.items():
            with self.subTest(typecode=typecode):
                a = array(typecode, values)
                got = [f(a, i) for i in range(len(a))]
                self.assertEqual(repr(got), repr(a.tolist()))
                b = array(typecode, [values[2]] * 3)
                for i, v in enumerate(values):
                    g(b, i, v)
                self.assertEqual(repr(b.tolist()), repr(a.tolist()))

    def assertSameError(self, call, generic):
        with self.assertRaises(Exception) as want:
            generic()
        with self.assertRaises(type(want.exception)) as got:
            call()
        self.assertEqual(str(got.exception), str(want.exception))

    def test_index_errors_match_generic(self):
        f = self.warm_load()
        g = self.warm_store()
        a = array("i", [1, 2, 3])
        for index in (3, 10**6, 2**62, 2**100, -4, -2**100):
            with self.subTest(index=index):
                self.assertSameError(lambda: f(a, index),
                                     lambda: a.__getitem__(index))
                self.assertSameError(lambda: g(a, index, 0),
                                     lambda: a.__setitem__(index, 0))
                self.assertEqual(f(a, 1), 2)
        self.assertEqual(a.tolist(), [1, 2, 3])
        empty = array("d")
        with self.assertRaisesRegex(IndexError, "array index out of range"):
            f(empty, 0)
        with self.assertRaisesRegex(IndexError,
                                    "array assignment index out of range"):
            g(empty, 0, 1.0)

    def test_other_indexes_deopt(self):
        f = self.warm_load()
        g = self.warm_store()
        a = array("l", [10, 20, 30])
        self.assertEqual(f(a, -1), 30)
        self.assertEqual(f(a, True), 20)
        self.assertEqual(f(a, MyInt(2)), 30)
        self.assertEqual(f(a, Index(0)), 10)
        self.assertEqual(f(a, slice(1, None)), array("l", [20, 30]))
        with self.assertRaisesRegex(TypeError, "array indices must be integers"):
            f(a, 1.0)
        g(a, -1, 33)
        g(a, False, 11)
        g(a, MyInt(1), 22)
        g(a, slice(0, 1), array("l", [1]))
        self.assertEqual(a.tolist(), [1, 22, 33])
        g(a, Index(2), 3)
        self.assertEqual(a.tolist(), [1, 22, 3])

    def test_store_conversion_errors_match_generic(self):
        g = self.warm_store()
        cases = [
            (array("b", [0]), 200, OverflowError),
            (array("B", [0]), -1, OverflowError),
            (array("i", [0]), 1.5, TypeError),
            (array("d", [0.0]), "x", TypeError),
            (array("u", "a"), "ab", TypeError),
            (array("Q", [0]), -1, OverflowError),
        ]
        for a, value, exc in cases:
            with self.subTest(typecode=a.typecode, value=value):
                before = a.tolist()
                with self.assertRaises(exc):
                    g(a, 0, value)
                self.assertEqual(a.tolist(), before)
        a = array("d", [0.0])
        g(a, 0, 3)              # ints convert, as in the generic path
        self.assertEqual(a[0], 3.0)
        self.assertIs(type(a[0]), float)

    def test_other_containers_deopt(self):
        f = self.warm_load()
        g = self.warm_store()
        lst = [1, 2, 3]
        self.assertEqual(f(lst, 1), 2)
        self.assertEqual(f({1: "x"}, 1), "x")
        self.assertEqual(f(b"abc", 1), ord("b"))
        self.assertEqual(f(memoryview(b"abc"), 2), ord("c"))
        g(lst, 1, 20)
        self.assertEqual(lst, [1, 20, 3])
        ba = bytearray(b"abc")
        g(ba, 0, 65)
        self.assertEqual(ba, b"Abc")
        with self.assertRaises(TypeError):
            f(object(), 0)
        with self.assertRaises(TypeError):
            g((1, 2), 0, 1)

    def test_subclasses(self):
        class Plain(array):
            pass

        class Loud(array):
            def __getitem__(self, i):
                return ("get", i)

            def __setitem__(self, i, v):
                super().__setitem__(i, v * 2)

        class Short(array):
            def __len__(self):
                return 0

        f = self.warm_load()
        g = self.warm_store()
        p = Plain("i", [1, 2, 3])
        self.assertEqual(f(p, 2), 3)
        g(p, 2, 30)
        self.assertEqual(p.tolist(), [1, 2, 30])
        loud = Loud("i", [1, 2, 3])
        self.assertEqual(f(loud, 1), ("get", 1))
        g(loud, 1, 5)
        self.assertEqual(loud.tolist(), [1, 10, 3])
        # __len__ does not take part in array indexing
        s = Short("i", [4, 5])
        self.assertEqual(f(s, 1), 5)
        g(s, 1, 6)
        self.assertEqual(s.tolist(), [4, 6])

        # A subclass specializes too, and keeps working when its class
        # later gains __getitem__/__setitem__.
        class Late(array):
            pass
        late = Late("i", [1, 2, 3])
        f2 = self.warm_load(late)
        g2 = self.warm_store(late)
        Late.__getitem__ = lambda self, i: -1
        Late.__setitem__ = lambda self, i, v: None
        self.assertEqual(f2(late, 0), -1)
        g2(late, 0, 100)
        self.assertEqual(late.tolist(), [1, 2, 3])

    def test_type_change_mid_loop(self):
        def total(seq):
            s = 0
            for i in range(len(seq)):
                s += seq[i]
            return s

        def fill(seq, v):
            for i in range(len(seq)):
                seq[i] = v

        f = make_fresh(total)
        g = make_fresh(fill)
        a = array("q", range(50))
        for _ in range(10):
            self.assertEqual(f(a), sum(range(50)))
            g(array("q", range(50)), 0)
        self.assertIn(LOAD, self.opnames(f))
        self.assertIn(STORE, self.opnames(g))
        self.assertEqual(f(list(range(50))), sum(range(50)))
        self.assertEqual(f(range(50)), sum(range(50)))
        self.assertEqual(f(array("d", [0.5] * 4)), 2.0)
        lst = [1] * 5
        g(lst, 9)
        self.assertEqual(lst, [9] * 5)
        d = {i: 0 for i in range(5)}
        g(d, 1)
        self.assertEqual(d, {i: 1 for i in range(5)})
        a = array("q", [0] * 8)
        g(a, 7)
        self.assertEqual(a.tolist(), [7] * 8)

    def test_resize_during_loop(self):
        def drain(a, stop):
            out = []
            i = 0
            while i < stop:
                try:
                    out.append(a[i])
                except IndexError:
                    out.append(None)
                if i == 2:
                    del a[3:]
                i += 1
            return out

        f = make_fresh(drain)
        for _ in range(10):
            f(array("i", range(10)), 3)  # every read in range
        self.assertIn(LOAD, self.opnames(f))
        # The reads after the resize deopt (a build that re-specializes at
        # once may leave the site generic afterwards, so no check of that).
        self.assertEqual(f(array("i", range(10)), 6), [0, 1, 2, None, None, None])

    def test_store_while_exported(self):
        # Item stores never resize, so they are allowed while a buffer is
        # exported, exactly as in the generic path.
        g = self.warm_store()
        a = array("d", [0.0, 0.0])
        with memoryview(a) as m:
            g(a, 1, 2.5)
            self.assertEqual(m[1], 2.5)

    def test_settrace_and_monitoring(self):
        f = self.warm_load()
        g = self.warm_store()
        a = array("i", [1, 2, 3])

        def tracer(frame, event, arg):
            return tracer

        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            r = [f(a, i) for i in range(3)]
            g(a, 0, 9)
        finally:
            sys.settrace(old)
        self.assertEqual(r, [1, 2, 3])
        self.assertEqual(a[0], 9)

        mon = sys.monitoring
        tool = mon.PROFILER_ID
        mon.use_tool_id(tool, "test_quicken")
        seen = []
        try:
            mon.register_callback(tool, mon.events.INSTRUCTION,
                                  lambda code, off: seen.append(off))
            mon.set_local_events(tool, f.__code__, mon.events.INSTRUCTION)
            r = [f(a, i) for i in range(3)]
        finally:
            mon.set_local_events(tool, f.__code__, 0)
            mon.register_callback(tool, mon.events.INSTRUCTION, None)
            mon.free_tool_id(tool)
        self.assertEqual(r, [9, 2, 3])
        self.assertTrue(seen)


if __name__ == "__main__":
    unittest.main()
