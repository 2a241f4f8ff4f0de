"""Tests for the conditional jumps (POP_JUMP_IF_FALSE, POP_JUMP_IF_TRUE,
POP_JUMP_IF_NONE and POP_JUMP_IF_NOT_NONE) taken with a branch: the
direction, the stack below the condition, and the branch history each jump
records in its inline cache."""

import dis
import unittest
from test.support import requires_specialization

# _PyCode_Quicken() starts every conditional jump's history at this pattern.
INITIAL_HISTORY = 0x5555


def expected_history(taken):
    history = INITIAL_HISTORY
    for bit in taken:
        history = ((history << 1) | int(bit)) & 0xFFFF
    return history


def histories(func):
    """{opname: history} for the conditional jumps of func (one of each)."""
    out = {}
    for ins in dis.get_instructions(func, adaptive=True, show_caches=True):
        if ins.opname.startswith("POP_JUMP_IF_"):
            out[ins.opname] = int.from_bytes(ins.cache_info[0][2], "little")
    return out


def fresh(func):
    import types
    return types.FunctionType(func.__code__.replace(), func.__globals__, func.__name__)


def if_false(x):
    if x:
        return "T"
    return "F"


def if_true(x):
    if not x:
        return "F"
    return "T"


def if_none(x):
    if x is not None:
        return "some"
    return "none"


def if_not_none(x):
    if x is None:
        return "none"
    return "some"


def compare_int(i, j):
    if i < j:
        return "lt"
    return "ge"


def below(x, a, b):
    # Values under the condition on the stack: a list display, a call and
    # a tuple, each with a conditional expression in the middle.
    return [a, (b if x else -b), a + 1], max(a, b if not x else -b, -a), (a, x and b, x or a)


class TestCondJump(unittest.TestCase):

    def check_pattern(self, func, opname, values, taken):
        f = fresh(func)
        results = [f(v) for v in values]
        self.assertEqual(histories(f)[opname], expected_history(taken))
        return results

    @requires_specialization
    def test_pop_jump_if_false(self):
        values = [1, 0, True, False, [1], [], "a", "", 2.0, 0.0, None, (1,), ()] * 3
        results = self.check_pattern(if_false, "POP_JUMP_IF_FALSE", values,
                                     [not v for v in values])
        self.assertEqual(results, ["T" if v else "F" for v in values])

    @requires_specialization
    def test_pop_jump_if_true(self):
        values = [0, 1, False, True, [], [1], "", "a", 0.0, 2.0, None, (), (1,)] * 3
        results = self.check_pattern(if_true, "POP_JUMP_IF_TRUE", values,
                                     [bool(v) for v in values])
        self.assertEqual(results, ["T" if v else "F" for v in values])

    @requires_specialization
    def test_pop_jump_if_none(self):
        values = [None, 0, None, None, "", [], None] * 3
        results = self.check_pattern(if_none, "POP_JUMP_IF_NONE", values,
                                     [v is None for v in values])
        self.assertEqual(results, ["none" if v is None else "some" for v in values])

    @requires_specialization
    def test_pop_jump_if_not_none(self):
        values = [0, None, None, "", None, [], ()] * 3
        results = self.check_pattern(if_not_none, "POP_JUMP_IF_NOT_NONE", values,
                                     [v is not None for v in values])
        self.assertEqual(results, ["none" if v is None else "some" for v in values])

    @requires_specialization
    def test_after_specialized_compare(self):
        f = fresh(compare_int)
        for _ in range(100):
            self.assertEqual(f(1, 2), "lt")
        names = {i.opname for i in dis.get_instructions(f, adaptive=True)}
        self.assertIn("COMPARE_OP_INT", names)
        pairs = [(3, 2), (1, 2), (2, 2), (-1, 0), (5, 5), (0, 1)]
        self.assertEqual([f(i, j) for i, j in pairs],
                         ["lt" if i < j else "ge" for i, j in pairs])
        taken = [False] * 100 + [not i < j for i, j in pairs]
        self.assertEqual(histories(f)["POP_JUMP_IF_FALSE"], expected_history(taken))

    def test_stack_below_the_condition(self):
        f = fresh(below)
        for n in range(200):
            x = n % 3 == 0
            self.assertEqual(
                f(x, n, n + 7),
                ([n, (n + 7 if x else -(n + 7)), n + 1],
                 max(n, (n + 7) if not x else -(n + 7), -n),
                 (n, x and n + 7, x or n)))

    def test_condition_that_raises(self):
        class Bad:
            def __bool__(self):
                raise ZeroDivisionError

        f = fresh(if_false)
        for _ in range(100):
            f([1])
        with self.assertRaises(ZeroDivisionError):
            f(Bad())
        self.assertEqual(f([]), "F")


if __name__ == "__main__":
    unittest.main()
