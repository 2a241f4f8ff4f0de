"""Tests for BINARY_SUBSCR_BYTES_INT (b[i] on exact bytes and bytearray)
and STORE_SUBSCR_BYTEARRAY_INT (a[i] = v on an exact bytearray)."""

import dis
import sys
import types
import unittest
from test.support import requires_specialization

LOAD = "BINARY_SUBSCR_BYTES_INT"
STORE = "STORE_SUBSCR_BYTEARRAY_INT"
WARMUP = 100


def load(b, i):
    return b[i]


def store(b, i, v):
    b[i] = v


def fresh(func):
    return types.FunctionType(func.__code__.replace(), func.__globals__,
                              func.__name__)


def outcome(func, *args):
    """What a call returns, or the type and message of what it raises."""
    try:
        return ("ok", func(*args))
    except Exception as exc:
        return (type(exc), str(exc))


class Index(int):
    pass


class IndexLike:
    def __init__(self, value):
        self.value = value

    def __index__(self):
        return self.value


class Bytes(bytes):
    def __getitem__(self, i):
        return "overridden"


class ByteArray(bytearray):
    def __setitem__(self, i, v):
        super().__setitem__(i, 0)


@requires_specialization
class TestBytesSubscr(unittest.TestCase):

    def opnames(self, f):
        return {i.opname for i in dis.get_instructions(f, adaptive=True)}

    def warm_load(self, data=b"abc"):
        f = fresh(load)
        for _ in range(WARMUP):
            f(data, 1)
        self.assertIn(LOAD, self.opnames(f))
        return f

    def warm_store(self):
        f = fresh(store)
        buf = bytearray(3)
        for _ in range(WARMUP):
            f(buf, 1, 7)
        self.assertIn(STORE, self.opnames(f))
        return f

    def test_load_specializes_and_reads(self):
        for data in (bytes(range(256)), bytearray(range(256))):
            with self.subTest(type=type(data).__name__):
                f = self.warm_load(data)
                self.assertEqual([f(data, i) for i in range(256)],
                                 list(range(256)))

    def test_load_deopts_like_the_generic_instruction(self):
        f = self.warm_load()
        generic = load
        cases = [
            (b"abc", -1), (b"abc", -4), (b"abc", 3), (b"", 0),
            (b"abc", 2**70), (b"abc", -2**70), (b"abc", True),
            (b"abc", Index(2)), (b"abc", IndexLike(2)), (b"abc", 1.0),
            (b"abc", "1"), (b"abcdef", slice(1, 4)),
            (bytearray(b"abc"), -1), (bytearray(b"abc"), 3),
            (bytearray(), 0), (Bytes(b"abc"), 1), (ByteArray(b"abc"), 1),
            (memoryview(b"abc"), 1), ([1, 2, 3], 1), ("abc", 1),
        ]
        for data, index in cases:
            with self.subTest(data=data, index=index):
                self.assertEqual(outcome(f, data, index),
                                 outcome(generic, data, index))
        self.assertEqual(f(b"abc", 1), ord("b"))

    def test_load_sees_bytearray_changes(self):
        buf = bytearray(b"abc")
        f = self.warm_load(buf)
        buf[1] = 200
        self.assertEqual(f(buf, 1), 200)
        buf.clear()
        self.assertEqual(outcome(f, buf, 1), outcome(load, buf, 1))
        buf.extend(b"xyz")
        self.assertEqual(f(buf, 1), ord("y"))
        del buf[:1]  # moves the start of the buffer
        self.assertEqual(f(buf, 1), ord("z"))

    def test_store_specializes_and_writes(self):
        f = self.warm_store()
        buf = bytearray(256)
        for i in range(256):
            f(buf, i, 255 - i)
        self.assertEqual(buf, bytes(range(255, -1, -1)))

    def test_store_deopts_like_the_generic_instruction(self):
        f = self.warm_store()
        cases = [
            (-1, 5), (-4, 5), (3, 5), (2**70, 5), (True, 5), (Index(1), 5),
            (IndexLike(1), 5), (1.0, 5), (slice(0, 2), b"xy"),
            (1, 256), (1, -1), (1, 2**70), (1, True), (1, Index(9)),
            (1, IndexLike(9)), (1, 1.0), (1, b"x"), (1, None),
        ]
        for index, value in cases:
            with self.subTest(index=index, value=value):
                a, b = bytearray(b"abc"), bytearray(b"abc")
                self.assertEqual(outcome(f, a, index, value),
                                 outcome(store, b, index, value))
                self.assertEqual(a, b)

    def test_store_other_containers(self):
        f = self.warm_store()
        sub = ByteArray(b"abc")
        f(sub, 1, 9)
        self.assertEqual(sub, bytearray(b"a\x00c"))
        lst = [1, 2, 3]
        f(lst, 1, 9)
        self.assertEqual(lst, [1, 9, 3])
        with self.assertRaises(TypeError):
            f(b"abc", 1, 9)
        view = memoryview(bytearray(b"abc"))
        f(view, 1, 9)
        self.assertEqual(bytes(view), b"a\tc")

    def test_store_while_exported(self):
        # Item assignment does not resize, so it is allowed while a
        # memoryview holds the buffer; the view sees the write.
        f = self.warm_store()
        buf = bytearray(b"abc")
        view = memoryview(buf)
        f(buf, 0, 0x41)
        self.assertEqual(bytes(view), b"Abc")
        view.release()

    def test_settrace_and_monitoring(self):
        f = self.warm_load()
        events = []

        def tracer(frame, event, arg):
            events.append(event)
            return tracer
        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            self.assertEqual(f(b"abc", 2), ord("c"))
        finally:
            sys.settrace(old)
        self.assertIn("line", events)

        g = self.warm_store()
        tool = sys.monitoring.PROFILER_ID
        seen = []
        sys.monitoring.use_tool_id(tool, "test_quicken_bytes_subscr")
        try:
            sys.monitoring.register_callback(
                tool, sys.monitoring.events.INSTRUCTION,
                lambda code, offset: seen.append(offset))
            sys.monitoring.set_local_events(
                tool, g.__code__, sys.monitoring.events.INSTRUCTION)
            buf = bytearray(3)
            g(buf, 2, 42)
            self.assertEqual(buf, bytearray(b"\x00\x00*"))
        finally:
            sys.monitoring.set_local_events(tool, g.__code__, 0)
            sys.monitoring.register_callback(
                tool, sys.monitoring.events.INSTRUCTION, None)
            sys.monitoring.free_tool_id(tool)
        self.assertTrue(seen)


if __name__ == "__main__":
    unittest.main()
