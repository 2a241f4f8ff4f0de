"""Tests for the BINARY_OP_MIXED_FLOAT specialization.

BINARY_OP_MIXED_FLOAT handles +, -, * and / (and the in-place forms) when
one operand is an exact float and the other an exact float or compact int,
plus float / float.  Results must be bit-for-bit identical to the generic
BINARY_OP (signed zeros, infinities, NaN, big ints, errors...).
"""

import dis
import math
import operator
import sys
import unittest
from test.support import requires_specialization

SPECIALIZED = "BINARY_OP_MIXED_FLOAT"
WARMUP = 100

OPERATORS = {
    "+": operator.add,
    "-": operator.sub,
    "*": operator.mul,
    "/": operator.truediv,
}

SHIFT = sys.int_info.bits_per_digit
INTS = [0, 1, -1, 2, -3, 7, 1000, -1000, 2 ** (SHIFT - 1),
        2 ** SHIFT - 1, -(2 ** SHIFT - 1)]
BIG_INTS = [2 ** SHIFT, -(2 ** SHIFT), 2 ** 53 + 1, -(2 ** 53) - 1,
            2 ** 62 + 1, 10 ** 20 + 1, 10 ** 400]
FLOATS = [0.0, -0.0, 1.0, -1.0, 0.5, 1e-310, -1e-310, 1.5e300, -1.5e300,
          math.inf, -math.inf, math.nan, 3.141592653589793, 2.0 ** 53,
          1 / 3]


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
    if isinstance(res, float):
        # Compare floats bit for bit: distinguishes -0.0 and NaN payloads.
        return ("ok", type(res), res.hex() if res == res else "nan",
                math.copysign(1.0, res))
    return ("ok", type(res), res)


@requires_specialization
class TestBinaryOpMixedFloat(unittest.TestCase):

    def opnames(self, f):
        return {i.opname for i in dis.get_instructions(f, adaptive=True)}

    def warm(self, f, a=3, b=0.25):
        for _ in range(WARMUP):
            f(a, b)

    def check(self, f, op, a, b, warm_args):
        self.warm(f, *warm_args)
        self.assertEqual(outcome(f, a, b), outcome(OPERATORS[op], a, b),
                         (op, a, b))

    def test_specializes(self):
        for op in OPERATORS:
            for inplace in (False, True):
                for args in ((3, 0.25), (0.25, 3), (-7, 1.5)):
                    with self.subTest(op=op, inplace=inplace, args=args):
                        f = make_binop(op, inplace)
                        self.warm(f, *args)
                        self.assertIn(SPECIALIZED, self.opnames(f))
                        self.assertEqual(f(*args), OPERATORS[op](*args))

    def test_float_true_divide_specializes(self):
        f = make_binop("/")
        self.warm(f, 1.5, 0.25)
        self.assertIn(SPECIALIZED, self.opnames(f))
        # float + float keeps its dedicated specialization
        g = make_binop("+")
        self.warm(g, 1.5, 0.25)
        self.assertIn("BINARY_OP_ADD_FLOAT", self.opnames(g))

    def test_int_int_not_specialized_as_float(self):
        for op in OPERATORS:
            f = make_binop(op)
            self.warm(f, 7, 2)
            self.assertNotIn(SPECIALIZED, self.opnames(f))
        # Deopt path: an int op on a specialized mixed instruction
        for op in OPERATORS:
            f = make_binop(op)
            self.warm(f, 7, 2.0)
            self.assertIn(SPECIALIZED, self.opnames(f))
            r = f(7, 2)
            self.assertEqual(outcome(f, 7, 2), outcome(OPERATORS[op], 7, 2))
            if op != "/":
                self.assertIs(type(r), int)

    def test_values_both_orders(self):
        for op in OPERATORS:
            for inplace in (False, True):
                f = make_binop(op, inplace)
                for i in INTS + BIG_INTS:
                    for x in FLOATS:
                        with self.subTest(op=op, i=i, x=x, inplace=inplace):
                            self.check(f, op, i, x, (3, 0.25))
                            self.check(f, op, x, i, (0.25, 3))
                            self.check(f, op, x, i, (3, 0.25))

    def test_float_float_divide_values(self):
        f = make_binop("/")
        for x in FLOATS:
            for y in FLOATS:
                with self.subTest(x=x, y=y):
                    self.check(f, "/", x, y, (1.5, 0.25))

    def test_zero_division(self):
        f = make_binop("/")
        for a, b in ((1, 0.0), (1.5, 0), (0.0, 0), (1.5, -0.0), (0, 0.0),
                     (1.5, 0.0), (2 ** 100, 0.0)):
            self.warm(f, 3, 0.25)
            with self.assertRaises(ZeroDivisionError) as cm:
                f(a, b)
            with self.assertRaises(ZeroDivisionError) as cm2:
                operator.truediv(a, b)
            self.assertEqual(str(cm.exception), str(cm2.exception))
        self.warm(f, 3, 0.25)
        self.assertIn(SPECIALIZED, self.opnames(f))

    def test_other_types_and_subclasses(self):
        class F(float):
            def __add__(self, other):
                return "F.add"
            def __rmul__(self, other):
                return "F.rmul"

        class I(int):
            def __sub__(self, other):
                return "I.sub"

        class G(float):
            pass

        f_add = make_binop("+")
        f_mul = make_binop("*")
        f_sub = make_binop("-")
        f_div = make_binop("/")
        for f in (f_add, f_mul, f_sub, f_div):
            self.warm(f)
        self.assertEqual(f_add(F(1.0), 2), "F.add")
        self.assertEqual(f_mul(2, F(1.0)), "F.rmul")
        self.assertEqual(f_sub(I(1), 2.0), "I.sub")
        r = f_div(G(1.0), 4)
        self.assertIs(type(r), float)
        self.assertEqual(r, 0.25)
        self.assertEqual(f_add(True, 0.5), 1.5)
        self.assertEqual(f_mul(0.5, False), 0.0)
        self.assertEqual(f_add(1j, 0.5), 0.5 + 1j)
        self.assertEqual(f_mul("ab", 2), "abab")
        with self.assertRaises(TypeError):
            f_add(None, 0.5)
        with self.assertRaises(OverflowError):
            f_add(10 ** 400, 0.5)
        self.assertEqual(outcome(f_div, 10 ** 400, 1e300),
                         outcome(operator.truediv, 10 ** 400, 1e300))

    def test_reuse_of_operand_does_not_corrupt(self):
        f = make_binop("*")
        self.warm(f)
        x = 1.5
        y = f(x, 2)
        self.assertEqual(x, 1.5)
        self.assertEqual(y, 3.0)
        # Temporary operands may be reused: check results stay distinct
        g = make_binop("+")
        self.warm(g)
        results = [g(i * 0.5, i) for i in range(50)]
        self.assertEqual(results, [i * 1.5 for i in range(50)])

    def test_settrace_and_monitoring(self):
        f = make_binop("-")
        self.warm(f)

        def tracer(frame, event, arg):
            return tracer

        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            r = [f(i, 0.5) for i in range(-20, 20)]
        finally:
            sys.settrace(old)
        self.assertEqual(r, [i - 0.5 for i in range(-20, 20)])

        mon = sys.monitoring
        tool = mon.PROFILER_ID
        mon.use_tool_id(tool, "test_quicken")
        seen = []
        try:
            mon.register_callback(tool, mon.events.INSTRUCTION,
                                  lambda code, off: seen.append(off))
            mon.set_local_events(tool, f.__code__, mon.events.INSTRUCTION)
            r = [f(0.5, i) for i in range(-20, 20)]
        finally:
            mon.set_local_events(tool, f.__code__, 0)
            mon.register_callback(tool, mon.events.INSTRUCTION, None)
            mon.free_tool_id(tool)
        self.assertTrue(seen)
        self.assertEqual(r, [0.5 - i for i in range(-20, 20)])


if __name__ == "__main__":
    unittest.main()
