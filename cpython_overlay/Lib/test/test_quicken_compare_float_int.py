"""Tests for the COMPARE_OP_MIXED_FLOAT specialization.

COMPARE_OP_MIXED_FLOAT compares an exact float with an exact compact int
(in either order).  Results must be identical to float_richcompare(),
which compares floats and ints exactly (no rounding of big ints), with NaN,
infinities and signed zeros.
"""

import dis
import math
import operator
import sys
import unittest
from test.support import requires_specialization

SPECIALIZED = "COMPARE_OP_MIXED_FLOAT"
WARMUP = 100

OPERATORS = {
    "<": operator.lt,
    "<=": operator.le,
    "==": operator.eq,
    "!=": operator.ne,
    ">": operator.gt,
    ">=": operator.ge,
}

SHIFT = sys.int_info.bits_per_digit
INTS = [0, 1, -1, 2, -2, 10, -10, 2 ** (SHIFT - 1), 2 ** SHIFT - 1,
        -(2 ** SHIFT - 1)]
BIG_INTS = [2 ** SHIFT, -(2 ** SHIFT), 2 ** 53, 2 ** 53 + 1,
            -(2 ** 53) - 1, 2 ** 63, 10 ** 30, -(10 ** 400)]
FLOATS = [0.0, -0.0, 0.5, -0.5, 1.0, -1.0, 1.5, 10.0, 9.999999999999998,
          float(2 ** (SHIFT - 1)), float(2 ** SHIFT - 1), float(2 ** 53),
          1e300, -1e300, 5e-324, math.inf, -math.inf, math.nan, -math.nan]


def make_compare(op, branch=False):
    ns = {}
    if branch:
        # "if a < b" compiles to COMPARE_OP with the "to bool" oparg bit
        src = (f"def f(a, b):\n    if a {op} b:\n        return True\n"
               f"    return False\n")
    else:
        src = f"def f(a, b):\n    return a {op} b\n"
    exec(src, ns)
    return ns["f"]


def outcome(func, a, b):
    try:
        res = func(a, b)
    except Exception as exc:
        return ("raise", type(exc), str(exc))
    return ("ok", type(res), res)


@requires_specialization
class TestCompareOpMixedFloat(unittest.TestCase):

    def opnames(self, f):
        return {i.opname for i in dis.get_instructions(f, adaptive=True)}

    def warm(self, f, a=3, b=2.5):
        for _ in range(WARMUP):
            f(a, b)

    def test_specializes(self):
        for op in OPERATORS:
            for branch in (False, True):
                for args in ((3, 2.5), (2.5, 3)):
                    with self.subTest(op=op, branch=branch, args=args):
                        f = make_compare(op, branch)
                        self.warm(f, *args)
                        self.assertIn(SPECIALIZED, self.opnames(f))

    def test_same_types_keep_their_specializations(self):
        f = make_compare("<")
        self.warm(f, 1.5, 2.5)
        self.assertIn("COMPARE_OP_FLOAT", self.opnames(f))
        g = make_compare("<")
        self.warm(g, 1, 2)
        self.assertIn("COMPARE_OP_INT", self.opnames(g))

    def test_values(self):
        for op, ref in OPERATORS.items():
            for branch in (False, True):
                f = make_compare(op, branch)
                for i in INTS + BIG_INTS:
                    for x in FLOATS:
                        for a, b, warm_args in ((i, x, (3, 2.5)),
                                                (x, i, (2.5, 3))):
                            with self.subTest(op=op, a=a, b=b,
                                              branch=branch):
                                self.warm(f, *warm_args)
                                expected = ref(a, b)
                                self.assertIs(f(a, b), expected)

    def test_precision_of_big_ints(self):
        # float(2**53 + 1) == 2**53, but the ints are not equal
        f = make_compare("==")
        self.warm(f)
        self.assertFalse(f(2 ** 53 + 1, 2.0 ** 53))
        self.assertFalse(f(2.0 ** 53, 2 ** 53 + 1))
        self.assertTrue(f(2 ** 53, 2.0 ** 53))
        g = make_compare("<")
        self.warm(g)
        self.assertTrue(g(2.0 ** 53, 2 ** 53 + 1))
        self.assertFalse(g(2 ** 53 + 1, 2.0 ** 53))

    def test_nan_and_signed_zero(self):
        nan = math.nan
        for op, ref in OPERATORS.items():
            f = make_compare(op)
            self.warm(f)
            for i in (0, 1, -1):
                self.assertIs(f(i, nan), ref(i, nan))
                self.assertIs(f(nan, i), ref(nan, i))
            self.assertIs(f(0, -0.0), ref(0, -0.0))
            self.assertIs(f(-0.0, 0), ref(-0.0, 0))
        self.assertTrue(make_compare("!=")(1, nan))

    def test_other_types_deopt(self):
        class F(float):
            def __lt__(self, other):
                return "F.lt"

        class I(int):
            def __gt__(self, other):
                return "I.gt"

        class Plain(int):
            pass

        lt = make_compare("<")
        gt = make_compare(">")
        eq = make_compare("==")
        for f in (lt, gt, eq):
            self.warm(f)
            self.assertIn(SPECIALIZED, self.opnames(f))
        self.assertEqual(lt(F(1.0), 2), "F.lt")
        self.assertEqual(gt(2.0, F(1.0)), "F.lt")   # reflected
        self.assertEqual(gt(I(1), 2.0), "I.gt")
        # I is not a float subclass: float.__lt__ handles it, no reflection
        self.assertIs(lt(2.0, I(1)), False)
        for f, op in ((lt, operator.lt), (gt, operator.gt), (eq, operator.eq)):
            for a, b in ((F(1.0), 2), (2, F(1.0)), (I(1), 2.0), (2.0, I(1)),
                         (F(math.nan), 1), (I(5), math.nan)):
                self.warm(f)
                self.assertEqual(outcome(f, a, b), outcome(op, a, b))
        self.assertIs(eq(Plain(1), 1.0), True)
        self.assertIs(eq(True, 1.0), True)
        self.assertIs(eq(1.0, False), False)
        self.assertIs(eq(1, 1j), False)
        self.assertIs(eq("1", 1.0), False)
        with self.assertRaises(TypeError):
            lt(None, 1.0)
        with self.assertRaises(TypeError):
            lt(1, "x")
        self.assertIs(lt(10 ** 400, math.inf), True)
        self.warm(lt)
        self.assertIn(SPECIALIZED, self.opnames(lt))

    def test_settrace_and_monitoring(self):
        f = make_compare("<=", branch=True)
        self.warm(f)

        def tracer(frame, event, arg):
            return tracer

        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            r = [f(i, 0.5) for i in range(-5, 5)]
        finally:
            sys.settrace(old)
        self.assertEqual(r, [i <= 0.5 for i in range(-5, 5)])

        mon = sys.monitoring
        tool = mon.PROFILER_ID
        mon.use_tool_id(tool, "test_quicken")
        seen = []
        try:
            mon.register_callback(tool, mon.events.BRANCH,
                                  lambda *args: seen.append(args))
            mon.set_local_events(tool, f.__code__, mon.events.BRANCH)
            r = [f(0.5, i) for i in range(-5, 5)]
        finally:
            mon.set_local_events(tool, f.__code__, 0)
            mon.register_callback(tool, mon.events.BRANCH, None)
            mon.free_tool_id(tool)
        self.assertEqual(len(seen), 10)
        self.assertEqual(r, [0.5 <= i for i in range(-5, 5)])


if __name__ == "__main__":
    unittest.main()
