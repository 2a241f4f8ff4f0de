"""Tests for the FOR_ITER_ENUMERATE specialization.

FOR_ITER_ENUMERATE fuses FOR_ITER over an exact enumerate object (whose
underlying iterator is a list, tuple or range iterator) with the following
UNPACK_SEQUENCE 2.  It must behave exactly like the generic FOR_ITER +
UNPACK_SEQUENCE, including start values beyond sys.maxsize, list mutation
during iteration, tracing and monitoring.
"""

import dis
import sys
import types
import unittest
from test.support import requires_specialization

SPECIALIZED = "FOR_ITER_ENUMERATE"
WARMUP = 50


def loop(it):
    out = []
    for i, x in it:
        out.append((i, x))
    return out


def reference(it):
    """Generic iteration protocol, never specialized."""
    out = []
    while True:
        try:
            x = next(it)
        except StopIteration:
            return out
        out.append(x)


def outcome(func, *args):
    try:
        return ("ok", func(*args))
    except Exception as exc:
        return ("raise", type(exc), str(exc))


def make_fresh(func):
    """A copy of func with its own, unspecialized, code object."""
    return types.FunctionType(func.__code__.replace(), func.__globals__,
                              func.__name__)


@requires_specialization
class TestForIterEnumerate(unittest.TestCase):

    def opnames(self, f):
        return [i.opname for i in dis.get_instructions(f, adaptive=True)]

    def warmed(self):
        f = make_fresh(loop)
        for _ in range(WARMUP):
            f(enumerate([1, 2, 3]))
        self.assertIn(SPECIALIZED, self.opnames(f))
        return f

    def test_specialization(self):
        for seq in ([1, 2], (1, 2), range(3)):
            f = make_fresh(loop)
            for _ in range(WARMUP):
                f(enumerate(seq))
            self.assertIn(SPECIALIZED, self.opnames(f))
        # Iterators that may run Python code are not handled
        def gen():
            yield 1
            yield 2
        for make in (gen, lambda: iter("ab"), lambda: {1: 2},
                     lambda: map(str, [1])):
            g = make_fresh(loop)
            for _ in range(WARMUP):
                g(enumerate(make()))
            self.assertNotIn(SPECIALIZED, self.opnames(g))
        # Not followed by UNPACK_SEQUENCE 2
        def single(it):
            return [p for p in it]
        h = make_fresh(single)
        for _ in range(WARMUP):
            h(enumerate([1, 2]))
        self.assertNotIn(SPECIALIZED, self.opnames(h))

    def test_specializes_after_unpack_sequence_did(self):
        # UNPACK_SEQUENCE may specialize first: the loop iterated a list of
        # pairs, or ran under a tracer (which keeps FOR_ITER generic).
        for pairs in ([(1, 2)] * 3, [[1, 2]] * 3):
            with self.subTest(pair=type(pairs[0]).__name__):
                f = make_fresh(loop)
                for _ in range(WARMUP):
                    f(pairs)
                self.assertIn("FOR_ITER_LIST", self.opnames(f))
                self.assertNotIn("UNPACK_SEQUENCE", self.opnames(f))
                for _ in range(WARMUP):
                    f(enumerate([7, 8]))
                self.assertIn(SPECIALIZED, self.opnames(f))
                self.assertEqual(f(enumerate([7, 8])), [(0, 7), (1, 8)])
                self.assertEqual(f(pairs), [tuple(p) for p in pairs])
        f = make_fresh(loop)
        old = sys.gettrace()
        sys.settrace(lambda frame, event, arg: None)
        try:
            f(enumerate([1, 2]))
        finally:
            sys.settrace(old)
        for _ in range(WARMUP):
            f(enumerate([1, 2]))
        self.assertIn(SPECIALIZED, self.opnames(f))

    def test_results(self):
        f = self.warmed()
        cases = [[], [None], list("abcdef"), tuple(range(10)), range(5),
                 range(10, -10, -3), range(2 ** 70, 2 ** 70 + 3)]
        for seq in cases:
            for start in (0, 1, -5, 2 ** 40, sys.maxsize - 2, sys.maxsize,
                          sys.maxsize + 1, -sys.maxsize - 5, 2 ** 100,
                          True):
                with self.subTest(seq=seq, start=start):
                    got = f(enumerate(seq, start))
                    exp = reference(enumerate(seq, start))
                    self.assertEqual(got, exp)
                    self.assertEqual([type(i) for i, _ in got],
                                     [type(i) for i, _ in exp])
        # range(2 ** 70, ...) has no simple iterator: the site deopted, and
        # re-specializes on sequences it takes.
        for _ in range(WARMUP):
            f(enumerate([1, 2]))
        self.assertIn(SPECIALIZED, self.opnames(f))

    def test_index_overflow_into_long(self):
        f = self.warmed()
        e = enumerate("abcdef", sys.maxsize - 2)
        got = f(e)
        self.assertEqual([i for i, _ in got],
                         [sys.maxsize - 2 + k for k in range(6)])
        # also with a list (specialized path)
        e = enumerate(list("abcdef"), sys.maxsize - 2)
        self.assertEqual(f(e), reference(enumerate(list("abcdef"),
                                                   sys.maxsize - 2)))
        self.assertEqual(e.__reduce__()[1][1], sys.maxsize + 4)

    def test_partially_consumed_and_exhausted(self):
        f = self.warmed()
        e = enumerate([10, 20, 30, 40])
        next(e)
        self.assertEqual(f(e), [(1, 20), (2, 30), (3, 40)])
        self.assertEqual(f(e), [])

    def test_list_mutation_during_iteration(self):
        def body_loop(seq, body):
            out = []
            for i, x in enumerate(seq):
                out.append((i, x))
                body(seq, i, x)
            return out

        def generic(seq, body):
            it = enumerate(seq)
            out = []
            while True:
                try:
                    i, x = next(it)
                except StopIteration:
                    return out
                out.append((i, x))
                body(seq, i, x)

        def append_some(seq, i, x):
            if len(seq) < 20:
                seq.append(x * 2)

        def pop_front(seq, i, x):
            if seq:
                seq.pop(0)

        def clear(seq, i, x):
            if i == 2:
                seq.clear()

        def raise_at(seq, i, x):
            if i == 3:
                raise KeyError(i)

        for body in (append_some, pop_front, clear, raise_at):
            with self.subTest(body=body.__name__):
                f = make_fresh(body_loop)
                for _ in range(WARMUP):
                    f([1, 2, 3], lambda *a: None)
                self.assertIn(SPECIALIZED, self.opnames(f))
                self.assertEqual(outcome(f, list(range(1, 8)), body),
                                 outcome(generic, list(range(1, 8)), body))

    def test_deopt_other_iterables(self):
        f = self.warmed()
        def gen():
            yield from "xyz"
        self.assertEqual(f(enumerate(gen())), list(enumerate("xyz")))
        self.assertEqual(f(enumerate("ab")), [(0, "a"), (1, "b")])
        self.assertEqual(f([(1, 2), (3, 4)]), [(1, 2), (3, 4)])
        self.assertEqual(f({"ab": 1}), [("a", "b")])
        self.assertEqual(f(zip("ab", "cd")), [("a", "c"), ("b", "d")])

        class E(enumerate):
            def __next__(self):
                i, x = super().__next__()
                return i * 10, x
        self.assertEqual(f(E([5, 6])), [(0, 5), (10, 6)])

        class StopIter:
            def __init__(self):
                self.n = 0
            def __iter__(self):
                return self
            def __next__(self):
                self.n += 1
                if self.n > 2:
                    raise StopIteration
                return self.n
        self.assertEqual(f(enumerate(StopIter())), [(0, 1), (1, 2)])
        self.assertEqual(outcome(f, enumerate([(1, 2, 3)])),
                         ("ok", [(0, (1, 2, 3))]))
        # still correct and specialized for lists afterwards
        for _ in range(WARMUP):
            f(enumerate([1]))
        self.assertIn(SPECIALIZED, self.opnames(f))
        self.assertEqual(f(enumerate([7, 8])), [(0, 7), (1, 8)])

    def test_settrace(self):
        src = (
            "def g(seq):\n"
            "    out = []\n"
            "    for (i,\n"
            "         x) in enumerate(seq):\n"
            "        out.append((i, x))\n"
            "    return out\n"
        )

        def make():
            ns = {}
            exec(compile(src, "<quicken>", "exec"), ns)
            return ns["g"]

        def trace(func, arg):
            events = []

            def tracer(frame, event, a):
                frame.f_trace_opcodes = True
                if frame.f_code is func.__code__:
                    if event == "line":
                        events.append(("line", frame.f_lineno))
                    elif event == "opcode":
                        events.append(("op", frame.f_lasti))
                return tracer

            old = sys.gettrace()
            sys.settrace(tracer)
            try:
                res = func(arg)
            finally:
                sys.settrace(old)
            return res, events

        seq = ["a", "b", "c"]
        cold = make()
        expected = trace(cold, seq)
        warm = make()
        for _ in range(WARMUP):
            warm(seq)
        self.assertIn(SPECIALIZED, self.opnames(warm))
        self.assertEqual(trace(warm, seq), expected)
        unpack = [i.offset for i in dis.get_instructions(warm)
                  if i.opname == "UNPACK_SEQUENCE"][0]
        self.assertEqual(expected[1].count(("op", unpack)), len(seq))

    def test_monitoring(self):
        f = self.warmed()
        unpack = [i.offset for i in dis.get_instructions(f)
                  if i.opname == "UNPACK_SEQUENCE"][0]
        mon = sys.monitoring
        tool = mon.PROFILER_ID
        mon.use_tool_id(tool, "test_quicken")
        seen = []
        try:
            mon.register_callback(tool, mon.events.INSTRUCTION,
                                  lambda code, off: seen.append(off))
            mon.set_local_events(tool, f.__code__, mon.events.INSTRUCTION)
            res = f(enumerate("abcd"))
            res2 = f(enumerate(list("abcd")))
        finally:
            mon.set_local_events(tool, f.__code__, 0)
            mon.register_callback(tool, mon.events.INSTRUCTION, None)
            mon.free_tool_id(tool)
        self.assertEqual(res, list(enumerate("abcd")))
        self.assertEqual(res2, list(enumerate("abcd")))
        self.assertEqual(seen.count(unpack), 8)


if __name__ == "__main__":
    unittest.main()
