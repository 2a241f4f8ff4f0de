"""Tests for the FOR_ITER_DICT and FOR_ITER_DICT_ITEMS specializations.

FOR_ITER_DICT iterates over exact dict key/value iterators.
FOR_ITER_DICT_ITEMS fuses FOR_ITER over a dict item iterator with the
following UNPACK_SEQUENCE 2.  Both must behave exactly like the generic
FOR_ITER (+ UNPACK_SEQUENCE), including the RuntimeErrors raised when the
dict is mutated during iteration, and under tracing and monitoring.
"""

import dis
import sys
import types
import unittest
from collections import OrderedDict
from test.support import requires_specialization

WARMUP = 50


def loop_items(it):
    out = []
    for k, v in it:
        out.append((k, v))
    return out


def loop_single(it):
    out = []
    for x in it:
        out.append(x)
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


class Obj:
    pass


def dicts():
    d1 = {}
    d2 = {"a": 1, "b": 2, "c": 3}
    d3 = {i: str(i) for i in range(50)}          # non-unicode keys
    d4 = {str(i): i for i in range(50)}
    for i in range(0, 50, 3):                      # holes
        del d4[str(i)]
    o = Obj()
    o.x, o.y, o.z = 1, 2, 3                        # split table
    d5 = o.__dict__
    d6 = {(1, 2): None, 1.5: "f", None: None, "s": [1]}
    d7 = OrderedDict(a=1, b=2)
    class Sub(dict):
        def __iter__(self):
            return iter(["overridden"])
        def items(self):
            return "xy"
    d8 = Sub(p=1, q=2)
    return [d1, d2, d3, d4, d5, d6, d7, d8]


@requires_specialization
class TestForIterDict(unittest.TestCase):

    def opnames(self, f):
        return [i.opname for i in dis.get_instructions(f, adaptive=True)]

    def warm(self, f, arg):
        for _ in range(WARMUP):
            f(arg)

    def test_specialization(self):
        d = {"a": 1, "b": 2}
        f = make_fresh(loop_items)
        self.warm(f, d.items())
        self.assertIn("FOR_ITER_DICT_ITEMS", self.opnames(f))
        for it in (d, d.keys(), d.values()):
            g = make_fresh(loop_single)
            self.warm(g, it)
            self.assertIn("FOR_ITER_DICT", self.opnames(g))
        # "for item in d.items()" has no UNPACK_SEQUENCE to fuse with
        h = make_fresh(loop_single)
        self.warm(h, d.items())
        self.assertNotIn("FOR_ITER_DICT_ITEMS", self.opnames(h))
        self.assertNotIn("FOR_ITER_DICT", self.opnames(h))
        self.assertEqual(h(d.items()), list(d.items()))

    def test_specializes_after_unpack_sequence_did(self):
        # UNPACK_SEQUENCE may specialize first: the loop iterated a list of
        # pairs, or ran under a tracer (which keeps FOR_ITER generic).
        d = {"a": 1, "b": 2}
        for pairs in ([(1, 2)] * 3, [[1, 2]] * 3):
            with self.subTest(pair=type(pairs[0]).__name__):
                f = make_fresh(loop_items)
                self.warm(f, pairs)
                self.assertIn("FOR_ITER_LIST", self.opnames(f))
                self.assertNotIn("UNPACK_SEQUENCE", self.opnames(f))
                self.warm(f, d.items())
                self.assertIn("FOR_ITER_DICT_ITEMS", self.opnames(f))
                self.assertEqual(f(d.items()), [("a", 1), ("b", 2)])
                self.assertEqual(f(pairs), [tuple(p) for p in pairs])
        f = make_fresh(loop_items)
        old = sys.gettrace()
        sys.settrace(lambda frame, event, arg: None)
        try:
            f(d.items())
        finally:
            sys.settrace(old)
        self.warm(f, d.items())
        self.assertIn("FOR_ITER_DICT_ITEMS", self.opnames(f))

    def test_results(self):
        for d in dicts():
            with self.subTest(d=d):
                f = make_fresh(loop_items)
                g = make_fresh(loop_single)
                self.warm(f, {"w": 0}.items())
                self.warm(g, {"w": 0})
                items = dict.items(d)
                self.assertEqual(f(items), reference(iter(items)))
                self.assertEqual(g(d), reference(iter(d)))
                self.assertEqual(g(dict.keys(d)),
                                 reference(iter(dict.keys(d))))
                self.assertEqual(g(dict.values(d)),
                                 reference(iter(dict.values(d))))
                self.assertIn("FOR_ITER_DICT_ITEMS", self.opnames(f))

    def test_partially_consumed_and_exhausted(self):
        f = make_fresh(loop_items)
        g = make_fresh(loop_single)
        self.warm(f, {"w": 0}.items())
        self.warm(g, {"w": 0}.values())
        d = {i: i * i for i in range(10)}
        it = iter(d.items())
        next(it), next(it)
        self.assertEqual(f(it), list(d.items())[2:])
        self.assertEqual(f(it), [])
        it = iter(d.values())
        next(it)
        self.assertEqual(g(it), list(d.values())[1:])
        self.assertEqual(g(it), [])

    def test_deopt_other_iterables(self):
        f = make_fresh(loop_items)
        g = make_fresh(loop_single)
        self.warm(f, {"w": 0}.items())
        self.warm(g, {"w": 0})
        pairs = [(1, 2), (3, 4)]
        self.assertEqual(f(pairs), pairs)
        self.assertEqual(f(zip("ab", "cd")), [("a", "c"), ("b", "d")])
        self.assertEqual(f(reversed({"a": 1, "b": 2}.items())),
                         [("b", 2), ("a", 1)])
        self.assertEqual(outcome(f, [(1, 2, 3)]),
                         outcome(loop_items, iter([(1, 2, 3)])))
        self.assertEqual(outcome(f, {"abc": 1}),
                         ("raise", ValueError,
                          "too many values to unpack (expected 2)"))
        self.assertEqual(g([1, 2]), [1, 2])
        self.assertEqual(g(set([5])), [5])
        self.assertEqual(g(reversed({"a": 1, "b": 2})), ["b", "a"])
        # back to dicts: still correct, still specialized
        self.warm(f, {"w": 0}.items())
        self.assertEqual(f({"x": 1}.items()), [("x", 1)])
        self.assertIn("FOR_ITER_DICT_ITEMS", self.opnames(f))

    def test_mutation_during_iteration(self):
        def items_loop(d, body):
            out = []
            for k, v in d.items():
                body(d, k, v, out)
            return out

        def values_loop(d, body):
            out = []
            for v in d.values():
                body(d, v, v, out)
            return out

        def keys_loop(d, body):
            out = []
            for k in d:
                body(d, k, k, out)
            return out

        def generic(kind, d, body):
            # next() always runs the generic tp_iternext
            it = iter({"items": dict.items, "values": dict.values,
                       "keys": dict.keys}[kind](d))
            out = []
            while True:
                try:
                    x = next(it)
                except StopIteration:
                    return out
                k, v = x if kind == "items" else (x, x)
                body(d, k, v, out)

        def grow(d, k, v, out):
            out.append(k)
            d[str(k) + "!"] = v

        def shrink(d, k, v, out):
            out.append(k)
            d.popitem()

        def delete_current(d, k, v, out):
            out.append(k)
            if k in d:
                del d[k]

        def same_size_new_key(d, k, v, out):
            out.append(k)
            if k == 1:
                del d[1]
                d[100] = 0

        def same_size_new_key_late(d, k, v, out):
            out.append(k)
            if k == 3:
                del d[0]
                d[100] = 0

        def overwrite_values(d, k, v, out):
            out.append((k, v))
            if k + 1 in d:
                d[k + 1] = -1

        def clear(d, k, v, out):
            out.append(k)
            d.clear()

        loops = {"items": items_loop, "values": values_loop,
                 "keys": keys_loop}
        bodies = [grow, shrink, delete_current, same_size_new_key,
                  same_size_new_key_late, overwrite_values, clear]
        messages = set()
        for kind, loop in loops.items():
            for body in bodies:
                for size in (5, 8, 20):
                    with self.subTest(kind=kind, body=body.__name__,
                                      size=size):
                        def new():
                            return {i: i for i in range(size)}
                        expected = outcome(generic, kind, new(), body)
                        spec = make_fresh(loop)
                        for _ in range(WARMUP):
                            spec({i: i for i in range(size)},
                                 lambda d, k, v, out: None)
                        self.assertIn("FOR_ITER_DICT" if kind != "items"
                                      else "FOR_ITER_DICT_ITEMS",
                                      self.opnames(spec))
                        got = outcome(spec, new(), body)
                        self.assertEqual(got, expected)
                        if got[0] == "raise":
                            messages.add(got[2])
        # Both RuntimeErrors of the dict iterator were exercised
        self.assertEqual(messages,
                         {"dictionary changed size during iteration",
                          "dictionary keys changed during iteration"})

    def test_sticky_error_state(self):
        f = make_fresh(loop_items)
        self.warm(f, {"w": 0}.items())
        d = {1: 1, 2: 2}
        it = iter(d.items())
        next(it)
        d[3] = 3
        with self.assertRaisesRegex(RuntimeError, "changed size"):
            f(it)
        del d[3]
        with self.assertRaisesRegex(RuntimeError, "changed size"):
            f(it)

    def test_settrace_line_events(self):
        src = (
            "def g(d):\n"
            "    out = []\n"
            "    for (k,\n"
            "         v) in d.items():\n"
            "        out.append((k, v))\n"
            "    return out\n"
        )

        def trace_lines(func, arg):
            lines = []

            def tracer(frame, event, a):
                if frame.f_code is func.__code__ and event == "line":
                    lines.append(frame.f_lineno)
                return tracer

            old = sys.gettrace()
            sys.settrace(tracer)
            try:
                res = func(arg)
            finally:
                sys.settrace(old)
            return res, lines

        d = {"a": 1, "b": 2, "c": 3}
        cold = make_from_source(src, "g")
        expected = trace_lines(cold, d)
        warm = make_from_source(src, "g")
        self.warm(warm, d)
        self.assertIn("FOR_ITER_DICT_ITEMS", self.opnames(warm))
        self.assertEqual(trace_lines(warm, d), expected)

        events = []

        def tracer2(frame, event, a):
            frame.f_trace_opcodes = True
            if frame.f_code is warm.__code__ and event == "opcode":
                events.append(frame.f_code.co_code[frame.f_lasti])
            return tracer2

        old = sys.gettrace()
        sys.settrace(tracer2)
        try:
            self.assertEqual(warm(d), list(d.items()))
        finally:
            sys.settrace(old)
        unpack = dis.opmap["UNPACK_SEQUENCE"]
        self.assertEqual(events.count(unpack), len(d))

    def test_monitoring_instruction_events(self):
        f = make_fresh(loop_items)
        d = {"a": 1, "b": 2, "c": 3}
        self.warm(f, d.items())
        self.assertIn("FOR_ITER_DICT_ITEMS", self.opnames(f))
        unpack_offsets = [i.offset for i in dis.get_instructions(f)
                          if i.opname == "UNPACK_SEQUENCE"]
        mon = sys.monitoring
        tool = mon.PROFILER_ID
        mon.use_tool_id(tool, "test_quicken")
        seen = []
        try:
            mon.register_callback(tool, mon.events.INSTRUCTION,
                                  lambda code, off: seen.append(off))
            mon.set_local_events(tool, f.__code__, mon.events.INSTRUCTION)
            res = f(d.items())
        finally:
            mon.set_local_events(tool, f.__code__, 0)
            mon.register_callback(tool, mon.events.INSTRUCTION, None)
            mon.free_tool_id(tool)
        self.assertEqual(res, list(d.items()))
        self.assertEqual(seen.count(unpack_offsets[0]), len(d))
        # After monitoring is switched off the loop specializes again
        self.warm(f, d.items())
        self.assertEqual(f(d.items()), list(d.items()))
        self.assertIn("FOR_ITER_DICT_ITEMS", self.opnames(f))


def make_fresh(func):
    """A copy of func with its own, unspecialized, code object."""
    code = func.__code__.replace()
    code = code.replace(co_code=bytes(code.co_code))
    return types.FunctionType(code, func.__globals__, func.__name__)


def make_from_source(src, name):
    ns = {}
    exec(compile(src, "<quicken>", "exec"), ns)
    return ns[name]


if __name__ == "__main__":
    unittest.main()
