"""Tests for the TO_BOOL_SIZED specialization (exact tuple, dict, set and
frozenset truth tests)."""

import dis
import sys
import unittest
from collections import OrderedDict, defaultdict
from test.support import requires_specialization

SPECIALIZED = "TO_BOOL_SIZED"
WARMUP = 100


def truth(x):
    if x:
        return True
    return False


def negation(x):
    return not x


def make_fresh(func):
    import types
    return types.FunctionType(func.__code__.replace(), func.__globals__,
                              func.__name__)


@requires_specialization
class TestToBoolSized(unittest.TestCase):

    def opnames(self, f):
        return {i.opname for i in dis.get_instructions(f, adaptive=True)}

    def warm(self, f, value):
        for _ in range(WARMUP):
            f(value)

    def test_specializes(self):
        for value in ((1,), (), {1: 2}, {}, {1}, set(), frozenset([1]),
                      frozenset()):
            for func in (truth, negation):
                with self.subTest(value=value, func=func.__name__):
                    f = make_fresh(func)
                    self.warm(f, value)
                    self.assertIn(SPECIALIZED, self.opnames(f))
                    self.assertIs(f(value), func(value))

    def test_values(self):
        f = make_fresh(truth)
        self.warm(f, (1,))
        self.assertIn(SPECIALIZED, self.opnames(f))
        values = [(), (0,), (None, None), {}, {0: 0}, set(), {0}, {()},
                  frozenset(), frozenset([0]), tuple(range(1000))]
        for v in values:
            self.warm(f, (1,))
            self.assertIs(f(v), bool(len(v)))

    def test_mutation_is_observed(self):
        f = make_fresh(truth)
        d = {}
        s = set()
        self.warm(f, d)
        self.assertFalse(f(d))
        d["k"] = 1
        self.assertTrue(f(d))
        del d["k"]
        self.assertFalse(f(d))
        d.update(a=1, b=2)
        d.clear()
        self.assertFalse(f(d))
        self.warm(f, s)
        s.add(1)
        self.assertTrue(f(s))
        s.discard(1)
        self.assertFalse(f(s))
        # dict with a split (shared-key) table
        class C:
            pass
        o = C()
        self.assertFalse(f(o.__dict__))
        o.attr = 1
        self.assertTrue(f(o.__dict__))
        del o.attr
        self.assertFalse(f(o.__dict__))

    def test_subclasses_and_other_types_deopt(self):
        class T(tuple):
            def __len__(self):
                return 0

        class D(dict):
            def __bool__(self):
                return False

        class S(set):
            def __len__(self):
                raise ValueError("len")

        class FS(frozenset):
            pass

        f = make_fresh(truth)
        self.warm(f, (1,))
        self.assertIn(SPECIALIZED, self.opnames(f))
        self.assertIs(f(T((1, 2))), False)
        self.assertIs(f(D(a=1)), False)
        with self.assertRaisesRegex(ValueError, "len"):
            f(S([1]))
        self.assertIs(f(FS([1])), True)
        self.assertIs(f(OrderedDict()), False)
        self.assertIs(f(OrderedDict(a=1)), True)
        self.assertIs(f(defaultdict(int)), False)
        self.assertIs(f({}.keys()), False)
        self.assertIs(f({1: 1}.items()), True)
        self.assertIs(f([]), False)
        self.assertIs(f(0.0), False)
        self.assertIs(f(None), False)
        self.assertIs(f("x"), True)
        self.assertIs(f(b""), False)
        self.assertIs(f(range(0)), False)
        # still specialized for the exact types afterwards
        self.warm(f, {})
        self.assertIn(SPECIALIZED, self.opnames(f))

    def test_type_change_mid_loop(self):
        def count(seq):
            n = 0
            for x in seq:
                if x:
                    n += 1
            return n

        f = make_fresh(count)
        seq = [(), (1,), {}, {1: 1}, set(), {1}, frozenset(), [1], 0, 1,
               "", "a", None] * 20
        self.assertEqual(f(seq), sum(1 for x in seq if bool(x)))
        self.assertEqual(f(seq), sum(1 for x in seq if bool(x)))

    def test_settrace_and_monitoring(self):
        f = make_fresh(truth)
        self.warm(f, ())

        def tracer(frame, event, arg):
            return tracer

        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            r = [f(v) for v in ((), (1,), {}, {1: 1})]
        finally:
            sys.settrace(old)
        self.assertEqual(r, [False, True, False, True])

        mon = sys.monitoring
        tool = mon.PROFILER_ID
        mon.use_tool_id(tool, "test_quicken")
        seen = []
        try:
            mon.register_callback(tool, mon.events.INSTRUCTION,
                                  lambda code, off: seen.append(off))
            mon.set_local_events(tool, f.__code__, mon.events.INSTRUCTION)
            r = [f(v) for v in (set(), {1}, frozenset(), frozenset([2]))]
        finally:
            mon.set_local_events(tool, f.__code__, 0)
            mon.register_callback(tool, mon.events.INSTRUCTION, None)
            mon.free_tool_id(tool)
        self.assertTrue(seen)
        self.assertEqual(r, [False, True, False, True])


if __name__ == "__main__":
    unittest.main()
