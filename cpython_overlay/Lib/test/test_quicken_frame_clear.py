"""Frames are cleared and popped on return exactly as before (Quicken).

_PyEval_FrameClearAndPop() clears and pops a thread's frame itself
(Include/internal/pycore_quicken_frame.h) instead of calling
_PyFrame_ClearExceptCode() and _PyThreadState_PopFrame().  These tests pin
down what a program can observe of that: when and in which order locals,
cells, f_locals and the function are released, what a finalizer that runs
during the release sees, frames that have a frame object, generator
frames, returns across data stack chunks, and returns under tracing and
sys.monitoring.
"""

import gc
import sys
import unittest

from test import support

log = []


class Tracked:
    """Appends its name to ``log`` when released."""

    def __init__(self, name, on_del=None):
        self.name = name
        self.on_del = on_del

    def __del__(self):
        log.append(self.name)
        if self.on_del is not None:
            self.on_del()


def two_args_two_locals(x, y):
    a = Tracked("a")
    b = Tracked("b")
    return 1


def returns_a_local():
    a = Tracked("a")
    b = Tracked("b")
    return b


def with_cell():
    a = Tracked("cell")
    b = Tracked("b")

    def inner():
        return a

    return 2


def raises():
    a = Tracked("a")
    b = Tracked("b")
    raise ValueError(a.name)


def keeps_frame(keep):
    a = Tracked("a")
    keep.append(sys._getframe())
    return 3


def drops_frame():
    a = Tracked("a")
    sys._getframe()
    return 4


def recurse(n):
    a = Tracked(n)
    if n == 0:
        return 0
    return recurse(n - 1) + 1


def frame_stack_depth():
    depth = 0
    frame = sys._getframe(1)
    while frame is not None:
        depth += 1
        frame = frame.f_back
    return depth


# A function whose frame is large (many locals), so that a few nested calls
# fill a data stack chunk and the next one starts a new chunk.
_names = [f"v{i}" for i in range(300)]
_source = (
    "def big(n, inner):\n"
    + "".join(f"    {name} = n\n" for name in _names)
    + "    t = Tracked(('big', n))\n"
    + "    if n == 0:\n"
    + "        return inner()\n"
    + f"    return big(n - 1, inner) + {' + '.join(_names[:3])} - 3 * n\n"
)
_namespace = {"Tracked": Tracked}
exec(_source, _namespace)
big = _namespace["big"]
del _names, _source, _namespace


class FrameClearTests(unittest.TestCase):

    def setUp(self):
        gc.collect()  # no garbage of another test is released during this one
        log.clear()

    def test_locals_released_in_order_at_return(self):
        def run():
            return two_args_two_locals(Tracked("x"), Tracked("y"))
        for _ in range(100):
            log.clear()
            self.assertEqual(run(), 1)
            self.assertEqual(log, ["x", "y", "a", "b"])

    def test_references_given_back(self):
        # The function, its code object, f_locals and every local hold the
        # same number of references after a return as before the call.
        def use(x, y):
            z = x
            return None

        obj = object()
        code = compile("a = obj\n", "<test>", "exec")
        scope = {}
        for _ in range(3):  # warm up, so that the counts below are stable
            use(obj, obj)
            exec(code, {"obj": obj}, scope)
        scope.clear()
        counts = (sys.getrefcount(use), sys.getrefcount(use.__code__),
                  sys.getrefcount(obj), sys.getrefcount(scope))
        for _ in range(100):
            use(obj, obj)
        exec(code, {"obj": obj}, scope)
        scope.clear()
        self.assertEqual((sys.getrefcount(use), sys.getrefcount(use.__code__),
                          sys.getrefcount(obj), sys.getrefcount(scope)), counts)

    def test_returned_local_survives(self):
        for _ in range(100):
            log.clear()
            b = returns_a_local()
            self.assertEqual(log, ["a"])
            self.assertEqual(b.name, "b")
            del b
            self.assertEqual(log, ["a", "b"])

    def test_cells_and_inner_functions_released(self):
        for _ in range(100):
            log.clear()
            self.assertEqual(with_cell(), 2)
            self.assertEqual(sorted(log), ["b", "cell"])

    def test_locals_released_when_unwinding(self):
        for _ in range(100):
            log.clear()
            try:
                raises()
            except ValueError as exc:
                # The traceback holds the frame: nothing is released yet.
                self.assertEqual(log, [])
                self.assertEqual(exc.args, ("a",))
                self.assertEqual(exc.__traceback__.tb_next.tb_frame.f_locals["b"].name, "b")
            self.assertEqual(log, ["a", "b"])

    def test_frame_object_kept_keeps_locals(self):
        keep = []
        for _ in range(100):
            log.clear()
            self.assertEqual(keeps_frame(keep), 3)
            self.assertEqual(log, [])
            self.assertEqual(keep[-1].f_locals["a"].name, "a")
            keep.clear()
            self.assertEqual(log, ["a"])

    def test_frame_object_dropped(self):
        for _ in range(100):
            log.clear()
            self.assertEqual(drops_frame(), 4)
            self.assertEqual(log, ["a"])

    def test_finalizer_sees_the_caller_as_top_frame(self):
        # GH-99729: a frame is unlinked before it is cleared, so a finalizer
        # that runs during the clearing never sees it.
        seen = []

        def on_del():
            seen.append(sys._getframe(2).f_code.co_name)

        def victim():
            a = Tracked("a", on_del)
            return 5

        def caller():
            return victim()

        for _ in range(100):
            seen.clear()
            self.assertEqual(caller(), 5)
            self.assertEqual(seen, ["caller"])

    def test_finalizer_calls_and_recurses_during_clearing(self):
        # Frames pushed by a finalizer while the dying frame's memory is
        # still on the data stack, deep enough to take new chunks.
        depths = []

        def on_del():
            depths.append(big(6, frame_stack_depth))

        def victim():
            a = Tracked("a", on_del)
            return 6

        for _ in range(20):
            depths.clear()
            self.assertEqual(victim(), 6)
            self.assertEqual(len(depths), 1)
            self.assertGreater(depths[0], 6)

    def test_recursion_across_chunks(self):
        for depth in (0, 1, 5, 20, 60):
            for _ in range(5):
                log.clear()
                self.assertEqual(big(depth, lambda: 7), 7)
                self.assertEqual(log, [("big", n) for n in range(depth + 1)])
        for _ in range(5):
            log.clear()
            self.assertEqual(recurse(300), 300)
            self.assertEqual(log, list(range(301)))

    def test_deep_structure_released_at_return(self):
        def holder():
            nested = None
            for _ in range(200_000):
                nested = [nested]
            a = Tracked("a")
            return 8

        self.assertEqual(holder(), 8)
        self.assertEqual(log, ["a"])

    def test_class_body_namespace_released(self):
        class Namespace(dict):
            def __del__(self):
                log.append("namespace")

        class Meta(type):
            @classmethod
            def __prepare__(mcls, name, bases):
                return Namespace()

        for _ in range(20):
            log.clear()

            class C(metaclass=Meta):
                x = 11

            self.assertEqual(log, ["namespace"])
            self.assertEqual(C.x, 11)

    def test_exec_with_locals(self):
        code = compile("a = Tracked('a')\nb = 9\n", "<test>", "exec")
        for _ in range(20):
            log.clear()
            scope = {}
            exec(code, {"Tracked": Tracked}, scope)
            self.assertEqual(scope["b"], 9)
            self.assertEqual(log, [])
            del scope
            self.assertEqual(log, ["a"])

    def test_generator_frames(self):
        def gen():
            a = Tracked("a")
            yield 1
            b = Tracked("b")
            yield 2

        for _ in range(50):
            log.clear()
            self.assertEqual(list(gen()), [1, 2])
            self.assertEqual(log, ["a", "b"])
            log.clear()
            g = gen()
            next(g)
            g.close()
            self.assertEqual(log, ["a"])
            log.clear()
            g = gen()
            next(g)
            frame = g.gi_frame
            del g
            self.assertEqual(log, [])
            self.assertEqual(frame.f_locals["a"].name, "a")
            del frame
            self.assertEqual(log, ["a"])

    def test_coroutine_return(self):
        async def coro():
            a = Tracked("a")
            return 10

        for _ in range(50):
            log.clear()
            c = coro()
            with self.assertRaises(StopIteration) as cm:
                c.send(None)
            self.assertEqual(cm.exception.value, 10)
            self.assertEqual(log, ["a"])

    def test_same_under_tracing(self):
        # Traced returns go through INSTRUMENTED_RETURN_VALUE: the same
        # releases, in the same order, with a trace function active.
        events = []

        def tracer(frame, event, arg):
            if frame.f_code is two_args_two_locals.__code__:
                events.append(event)
            return tracer

        expected = ["x", "y", "a", "b"]
        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            for _ in range(20):
                log.clear()
                self.assertEqual(two_args_two_locals(Tracked("x"), Tracked("y")), 1)
                self.assertEqual(log, expected)
        finally:
            sys.settrace(old)
        self.assertEqual(events.count("return"), 20)
        log.clear()
        self.assertEqual(two_args_two_locals(Tracked("x"), Tracked("y")), 1)
        self.assertEqual(log, expected)

    @support.cpython_only
    def test_same_under_monitoring(self):
        mon = sys.monitoring
        tool = mon.PROFILER_ID
        returns = []

        def on_return(code, offset, retval):
            if code is two_args_two_locals.__code__:
                returns.append(retval)

        mon.use_tool_id(tool, "test_quicken_frame_clear")
        try:
            mon.register_callback(tool, mon.events.PY_RETURN, on_return)
            mon.set_events(tool, mon.events.PY_RETURN)
            for _ in range(20):
                log.clear()
                self.assertEqual(two_args_two_locals(Tracked("x"), Tracked("y")), 1)
                self.assertEqual(log, ["x", "y", "a", "b"])
        finally:
            mon.set_events(tool, 0)
            mon.register_callback(tool, mon.events.PY_RETURN, None)
            mon.free_tool_id(tool)
        self.assertEqual(returns, [1] * 20)


if __name__ == "__main__":
    unittest.main()
