"""Tests for CALL_ALLOC_AND_ENTER_INIT_GENERAL (calls of a class whose
__init__ has defaults, keyword-only parameters, *args or **kwargs)."""

import dis
import sys
import types
import unittest
from test.support import import_helper, requires_specialization

GENERAL = "CALL_ALLOC_AND_ENTER_INIT_GENERAL"
SIMPLE = "CALL_ALLOC_AND_ENTER_INIT"
WARMUP = 100


class Defaults:
    def __init__(self, x, y=2, z=3):
        self.args = (x, y, z)


class KwOnly:
    def __init__(self, x, *, scale=10, shift=1):
        self.args = (x, scale, shift)


class VarArgs:
    def __init__(self, *args, **kwargs):
        self.args = (args, kwargs)


class PosOnly:
    def __init__(self, a, b=5, /, c=6):
        self.args = (a, b, c)


class Sub(Defaults):
    pass


class Slotted:
    __slots__ = ("x", "y")

    def __init__(self, x, y=0.5):
        self.x = x
        self.y = y


def call0(cls):
    return cls()


def call1(cls, a):
    return cls(a)


def call2(cls, a, b):
    return cls(a, b)


def call3(cls, a, b, c):
    return cls(a, b, c)


def make_fresh(func):
    return types.FunctionType(func.__code__.replace(), func.__globals__,
                              func.__name__)


def opnames(f):
    return {i.opname for i in dis.get_instructions(f, adaptive=True)}


def fresh_class(init):
    return type("Fresh", (), {"__init__": init})


@requires_specialization
class TestInitGeneral(unittest.TestCase):

    def warm(self, caller, *args, expect=GENERAL):
        f = make_fresh(caller)
        for _ in range(WARMUP):
            f(*args)
        self.assertIn(expect, opnames(f))
        return f

    def test_specializes_and_binds_like_generic(self):
        cases = [
            (call1, (Defaults, 1), (1, 2, 3)),
            (call2, (Defaults, 1, 7), (1, 7, 3)),
            (call1, (KwOnly, 4), (4, 10, 1)),
            (call0, (VarArgs,), ((), {})),
            (call2, (VarArgs, 1, 2), ((1, 2), {})),
            (call1, (PosOnly, 1), (1, 5, 6)),
            (call2, (PosOnly, 1, 2), (1, 2, 6)),
            (call1, (Sub, 8), (8, 2, 3)),
        ]
        for caller, args in [(call1, (Slotted, 1)), (call2, (Slotted, 1, 2))]:
            with self.subTest(cls="Slotted", nargs=len(args) - 1):
                f = self.warm(caller, *args)
                obj = f(*args)
                self.assertIs(type(obj), Slotted)
                y = args[2] if len(args) > 2 else 0.5
                self.assertEqual((obj.x, obj.y), (1, y))
        for caller, args, expected in cases:
            with self.subTest(cls=args[0].__name__, nargs=len(args) - 1):
                f = self.warm(caller, *args)
                obj = f(*args)
                self.assertIs(type(obj), args[0])
                self.assertEqual(obj.args, expected)

    def test_exact_argument_count_keeps_simple_instruction(self):
        f = self.warm(call3, Defaults, 1, 2, 3, expect=SIMPLE)
        self.assertNotIn(GENERAL, opnames(f))
        self.assertEqual(f(Defaults, 1, 2, 3).args, (1, 2, 3))

    def test_arguments_that_do_not_bind_are_not_specialized(self):
        def generic_error(caller, *args):
            with self.assertRaises(TypeError) as cm:
                caller(*args)
            return str(cm.exception)

        kw_required = fresh_class(lambda self, *, k: None)
        for caller, args in [(call0, (Defaults,)),
                             (call3, (KwOnly, 1, 2, 3)),
                             (call2, (kw_required, 1, 2))]:
            f = make_fresh(caller)
            message = generic_error(caller, *args)
            for _ in range(WARMUP):
                self.assertEqual(generic_error(f, *args), message)
            self.assertNotIn(GENERAL, opnames(f))

    def test_abstract_classes_raise_the_generic_error(self):
        cls = fresh_class(Defaults.__init__)
        cls.__abstractmethods__ = frozenset({"f"})
        f = make_fresh(call1)
        for _ in range(WARMUP):
            with self.assertRaisesRegex(TypeError, "abstract class Fresh"):
                f(cls, 1)
        self.assertNotIn(GENERAL, opnames(f))
        cls = fresh_class(Defaults.__init__)
        f = self.warm(call1, cls, 1)
        cls.__abstractmethods__ = frozenset({"f"})
        with self.assertRaisesRegex(TypeError, "abstract class Fresh"):
            f(cls, 1)

    def test_defaults_removed_mid_loop_raise_the_generic_error(self):
        def init(self, x, y=2):
            self.args = (x, y)
        cls = fresh_class(init)
        f = self.warm(call1, cls, 1)
        init.__defaults__ = None
        with self.assertRaises(TypeError) as cm:
            f(cls, 1)
        self.assertIn("missing 1 required positional argument: 'y'",
                      str(cm.exception))
        init.__defaults__ = (9,)
        self.assertEqual(f(cls, 1).args, (1, 9))

    def test_kwdefaults_changed_mid_loop(self):
        def init(self, x, *, k=1):
            self.args = (x, k)
        cls = fresh_class(init)
        f = self.warm(call1, cls, 1)
        init.__kwdefaults__ = {"k": 5}
        self.assertEqual(f(cls, 1).args, (1, 5))
        init.__kwdefaults__ = None
        with self.assertRaises(TypeError) as cm:
            f(cls, 1)
        self.assertIn("missing 1 required keyword-only argument: 'k'",
                      str(cm.exception))

    def test_code_replaced_by_a_generator_deopts(self):
        def init(self, x, y=2):
            self.args = (x, y)

        def gen_init(self, x, y=2):
            yield x
        cls = fresh_class(init)
        f = self.warm(call1, cls, 1)
        init.__code__ = gen_init.__code__
        message = r"__init__\(\) should return None, not 'generator'"
        with self.assertRaisesRegex(TypeError, message):
            f(cls, 1)

    def test_init_replaced_or_new_added_mid_loop(self):
        cls = fresh_class(Defaults.__init__)
        f = self.warm(call1, cls, 1)

        def other(self, x, y=20):
            self.args = ("other", x, y)
        cls.__init__ = other
        self.assertEqual(f(cls, 1).args, ("other", 1, 20))
        cls.__new__ = lambda c, *a: "from __new__"
        self.assertEqual(f(cls, 1), "from __new__")

    def test_other_callables_at_the_same_site(self):
        f = self.warm(call1, Defaults, 1)
        self.assertEqual(f(int, "7"), 7)
        self.assertEqual(f(lambda a: a * 2, 4), 8)
        self.assertEqual(f(KwOnly, 2).args, (2, 10, 1))
        self.assertEqual(f(Defaults, 3).args, (3, 2, 3))

    def test_init_must_return_none(self):
        def init(self, x, y=2):
            return x
        cls = fresh_class(init)
        f = make_fresh(call1)
        for _ in range(WARMUP):
            with self.assertRaisesRegex(
                    TypeError, r"__init__\(\) should return None, not 'int'"):
                f(cls, 1)
        self.assertIn(GENERAL, opnames(f))

    def test_exception_and_frames_inside_init(self):
        seen = []

        def init(self, x, y=2):
            caller = sys._getframe(1)
            seen.append(caller.f_code.co_name)
            if x < 0:
                raise ValueError(x)
            self.x = x
        cls = fresh_class(init)
        f = self.warm(call1, cls, 1)
        try:
            f(cls, -1)
        except ValueError as exc:
            tb = exc.__traceback__
        else:
            self.fail("ValueError not raised")
        names = []
        while tb is not None:
            names.append(tb.tb_frame.f_code.co_name)
            tb = tb.tb_next
        self.assertEqual(names[-2:], ["call1", "init"])
        self.assertEqual(set(seen), {"call1"})

    def test_deep_recursion_through_init(self):
        class Node:
            def __init__(self, depth, limit=50):
                self.child = Node(depth + 1) if depth < limit else None
        f = self.warm(call1, Node, 45)
        node = f(Node, 0)
        depth = 0
        while node.child is not None:
            node = node.child
            depth += 1
        self.assertEqual(depth, 50)

        class Endless:
            def __init__(self, depth=0):
                Endless(depth + 1)
        with self.assertRaises(RecursionError):
            Endless()

    def test_settrace_and_monitoring(self):
        f = self.warm(call1, Defaults, 1)
        events = []

        def tracer(frame, event, arg):
            if frame.f_code is Defaults.__init__.__code__:
                events.append(event)
            return tracer

        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            obj = f(Defaults, 1)
        finally:
            sys.settrace(old)
        self.assertEqual(obj.args, (1, 2, 3))
        self.assertEqual(events[0], "call")
        self.assertEqual(events[-1], "return")

        mon = sys.monitoring
        tool = mon.PROFILER_ID
        mon.use_tool_id(tool, "test_quicken")
        starts = []
        try:
            mon.register_callback(tool, mon.events.PY_START,
                                  lambda code, off: starts.append(code))
            mon.set_events(tool, mon.events.PY_START)
            obj = f(Defaults, 5)
        finally:
            mon.set_events(tool, 0)
            mon.register_callback(tool, mon.events.PY_START, None)
            mon.free_tool_id(tool)
        self.assertEqual(obj.args, (5, 2, 3))
        self.assertIn(Defaults.__init__.__code__, starts)

    def test_pep523_hook_sees_init(self):
        # The generic call evaluates __init__ through the interpreter's
        # frame evaluation function, so a PEP 523 hook sees its frame.
        _testinternalcapi = import_helper.import_module("_testinternalcapi")
        for cls, caller, args in ((Slotted, call1, (1,)),
                                  (Defaults, call1, (1,)),
                                  (KwOnly, call1, (2,))):
            with self.subTest(cls=cls.__name__):
                warmed = self.warm(caller, cls, *args)
                unwarmed = make_fresh(caller)
                seen = []
                _testinternalcapi.set_eval_frame_record(seen)
                try:
                    warmed(cls, *args)
                    for _ in range(WARMUP):
                        unwarmed(cls, *args)
                finally:
                    _testinternalcapi.set_eval_frame_default()
                self.assertEqual(seen.count("__init__"), WARMUP + 1)
                self.assertNotIn(GENERAL, opnames(unwarmed))
                self.assertIs(type(warmed(cls, *args)), cls)


if __name__ == "__main__":
    unittest.main()
