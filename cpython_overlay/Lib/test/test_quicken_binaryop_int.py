"""Tests for the BINARY_OP_INT_COMPACT specialization.

BINARY_OP_INT_COMPACT handles &, |, ^, %, //, << and >> (and the in-place
forms) for exact, compact (single digit) ints.  Every result must be
identical to the generic BINARY_OP, including on every deoptimization path.
"""

import dis
import operator
import sys
import unittest
from test.support import requires_specialization, import_helper

_testinternalcapi = import_helper.import_module("_testinternalcapi")

SPECIALIZED = "BINARY_OP_INT_COMPACT"
WARMUP = 100

OPERATORS = {
    "&": operator.and_,
    "|": operator.or_,
    "^": operator.xor,
    "%": operator.mod,
    "//": operator.floordiv,
    "<<": operator.lshift,
    ">>": operator.rshift,
}

# Digit size: compact ints are those with |v| < 2**PyLong_SHIFT.
SHIFT = sys.int_info.bits_per_digit
SMALL = [0, 1, -1, 2, -2, 3, -3, 5, -5, 7, -7, 255, -256, 1000, -1000,
         2 ** (SHIFT - 1), -(2 ** (SHIFT - 1)),
         2 ** SHIFT - 1, -(2 ** SHIFT - 1)]
BIG = [2 ** SHIFT, -(2 ** SHIFT), 2 ** 62, -(2 ** 62), 2 ** 64 + 1,
       -(2 ** 64) - 1, 10 ** 30]


def make_binop(op, inplace=False):
    ns = {}
    if inplace:
        src = f"def f(a, b):\n    a {op}= b\n    return a\n"
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


class QuickenTestBase(unittest.TestCase):

    def opnames(self, f):
        return {i.opname for i in dis.get_instructions(f, adaptive=True)}

    def assert_specialized(self, f, opname):
        self.assertIn(opname, self.opnames(f))

    def assert_not_specialized(self, f, opname):
        self.assertNotIn(opname, self.opnames(f))


@requires_specialization
class TestBinaryOpIntCompact(QuickenTestBase):

    def warm(self, f, a=12345, b=7):
        for _ in range(WARMUP):
            f(a, b)

    def check_all(self, op, values_a, values_b, inplace=False):
        ref = OPERATORS[op]
        f = make_binop(op, inplace)
        self.warm(f)
        self.assert_specialized(f, SPECIALIZED)
        for a in values_a:
            for b in values_b:
                with self.subTest(op=op, a=a, b=b, inplace=inplace):
                    # Re-warm so that each value hits the specialized code.
                    self.warm(f)
                    self.assertEqual(outcome(f, a, b), outcome(ref, a, b))

    def test_specializes_all_operators(self):
        for op in OPERATORS:
            for inplace in (False, True):
                with self.subTest(op=op, inplace=inplace):
                    f = make_binop(op, inplace)
                    self.warm(f)
                    self.assert_specialized(f, SPECIALIZED)
                    self.assertEqual(f(12345, 7), OPERATORS[op](12345, 7))

    def test_compact_values(self):
        values = SMALL
        for op in ("&", "|", "^", "%", "//"):
            self.check_all(op, values, values)
            self.check_all(op, values, values, inplace=True)

    def test_shifts(self):
        counts = [0, 1, 2, 5, 15, 16, 29, 30, 31, 32, 33, 34, 62, 63, 64,
                  65, 100, 2 ** SHIFT - 1, -1, -2 ** SHIFT + 1]
        for op in ("<<", ">>"):
            self.check_all(op, SMALL, counts)
            self.check_all(op, SMALL, counts, inplace=True)

    def test_big_ints_deopt(self):
        values = SMALL[:8] + BIG
        for op in OPERATORS:
            bs = [b for b in values if op not in ("<<", ">>") or 0 <= b < 200]
            self.check_all(op, values, bs)

    def test_zero_division(self):
        for op in ("%", "//"):
            f = make_binop(op)
            self.warm(f)
            self.assert_specialized(f, SPECIALIZED)
            for a in (0, 1, -1, 2 ** 100):
                with self.assertRaises(ZeroDivisionError) as cm:
                    f(a, 0)
                with self.assertRaises(ZeroDivisionError) as cm2:
                    OPERATORS[op](a, 0)
                self.assertEqual(str(cm.exception), str(cm2.exception))
            self.warm(f)
            self.assert_specialized(f, SPECIALIZED)

    def test_negative_shift_count(self):
        for op in ("<<", ">>"):
            f = make_binop(op)
            self.warm(f)
            with self.assertRaisesRegex(ValueError, "negative shift count"):
                f(5, -1)
            self.assertEqual(f(5, 1), OPERATORS[op](5, 1))

    def test_bool_and_other_types(self):
        # bool & bool is a bool, never an int: must not use the int path.
        others = [True, False, 1.5, -0.0, float("nan"), "x", None,
                  2 ** 70, 3, -4]
        for op in OPERATORS:
            f = make_binop(op)
            for a in others:
                for b in others:
                    self.warm(f)
                    with self.subTest(op=op, a=a, b=b):
                        got = outcome(f, a, b)
                        exp = outcome(OPERATORS[op], a, b)
                        if exp[0] == "ok" and exp[2] != exp[2]:  # NaN
                            self.assertEqual(got[:2], exp[:2])
                        else:
                            self.assertEqual(got, exp)
        f = make_binop("&")
        for _ in range(WARMUP):
            self.assertIs(f(True, True), True)
        self.assert_not_specialized(f, SPECIALIZED)

    def test_int_subclass(self):
        class MyInt(int):
            def __and__(self, other):
                return "and"
            def __mod__(self, other):
                return "mod"
            def __rfloordiv__(self, other):
                return "rfloordiv"

        class Plain(int):
            pass

        f_and = make_binop("&")
        f_mod = make_binop("%")
        f_floordiv = make_binop("//")
        f_or = make_binop("|")
        for f in (f_and, f_mod, f_floordiv, f_or):
            self.warm(f)
            self.assert_specialized(f, SPECIALIZED)
        self.assertEqual(f_and(MyInt(3), 1), "and")
        self.assertEqual(f_mod(MyInt(3), 1), "mod")
        self.assertEqual(f_floordiv(3, MyInt(1)), "rfloordiv")
        res = f_or(Plain(1), 2)
        self.assertIs(type(res), int)
        self.assertEqual(res, 3)

    def test_type_change_mid_loop(self):
        f = make_binop("%")
        self.warm(f)
        self.assert_specialized(f, SPECIALIZED)
        seq = [7, 7.5, 2 ** 80, -7, "%d", 7]
        expected = [operator.mod(x, 3) if not isinstance(x, str)
                    else x % 3 for x in seq]
        got = [f(x, 3) for x in seq]
        self.assertEqual(got, expected)
        # Respecializes after the deoptimizations
        self.warm(f)
        self.assert_specialized(f, SPECIALIZED)

    def test_results_are_small_int_singletons(self):
        f = make_binop("&")
        self.warm(f)
        self.assertIs(f(12, 3), 0)
        self.assertIs(f(13, 7), 5)

    def test_settrace_and_monitoring(self):
        f = make_binop("^")
        g = make_binop("//")
        self.warm(f)
        self.warm(g)
        events = []

        def tracer(frame, event, arg):
            events.append(event)
            return tracer

        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            r1 = [f(i, 3) for i in range(-50, 50)]
            r2 = [g(i, 7) for i in range(-50, 50)]
        finally:
            sys.settrace(old)
        self.assertTrue(events)
        self.assertEqual(r1, [i ^ 3 for i in range(-50, 50)])
        self.assertEqual(r2, [operator.floordiv(i, 7)
                              for i in range(-50, 50)])

        mon = sys.monitoring
        tool = mon.PROFILER_ID
        mon.use_tool_id(tool, "test_quicken")
        count = 0

        def on_instruction(code, offset):
            nonlocal count
            count += 1

        try:
            mon.register_callback(tool, mon.events.INSTRUCTION,
                                  on_instruction)
            mon.set_local_events(tool, g.__code__, mon.events.INSTRUCTION)
            r3 = [g(i, -7) for i in range(-50, 50)]
        finally:
            mon.set_local_events(tool, g.__code__, 0)
            mon.register_callback(tool, mon.events.INSTRUCTION, None)
            mon.free_tool_id(tool)
        self.assertGreater(count, 0)
        self.assertEqual(r3, [operator.floordiv(i, -7)
                              for i in range(-50, 50)])


if __name__ == "__main__":
    unittest.main()
