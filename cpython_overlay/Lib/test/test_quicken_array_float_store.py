"""Tests for the exact-float fast path of array('f') and array('d') item
stores (f_setitem() and d_setitem() in Modules/arraymodule.c).

An exact float is converted without PyArg_Parse(); everything else takes
the format-parsing path.  Each test stores the same value both ways (an
exact float, and a float subclass instance, which PyArg_Parse() converts
with PyFloat_AsDouble()) and requires the same bytes."""

import math
import struct
import sys
import unittest
from array import array

FLOAT_TYPECODES = "fd"

VALUES = [0.0, -0.0, 1.5, -2.25, 0.1, 1 / 3, math.pi, 1e-45, 1e-320, 5e-324,
          3.4028234663852886e38, 3.5e38, 1e300, -1e300, sys.float_info.max,
          -sys.float_info.max, sys.float_info.min, math.inf, -math.inf,
          math.nan, -math.nan, 16777217.0, 2.0 ** 60 + 1]


class Sub(float):
    """Converted by PyArg_Parse(): PyFloat_AsDouble() reads the value and
    never calls the __float__ override."""

    def __float__(self):
        raise AssertionError("__float__ of a float subclass was called")


class HasFloat:
    def __init__(self, value):
        self.value = value

    def __float__(self):
        return self.value


class HasIndex:
    def __index__(self):
        return 7


class Shrinks:
    """Empties the array it is stored into while being converted."""

    def __init__(self, target):
        self.target = target

    def __float__(self):
        del self.target[:]
        return 1.0


def stored_bytes(typecode, value):
    a = array(typecode, [0.0])
    a[0] = value
    return a.tobytes()


class ExactFloatStoreTests(unittest.TestCase):

    def test_same_bytes_as_the_generic_conversion(self):
        for tc in FLOAT_TYPECODES:
            for v in VALUES:
                with self.subTest(typecode=tc, value=v):
                    self.assertIs(type(v), float)
                    self.assertEqual(stored_bytes(tc, v),
                                     stored_bytes(tc, Sub(v)))

    def test_double_keeps_every_bit(self):
        for v in VALUES:
            with self.subTest(value=v):
                self.assertEqual(stored_bytes("d", v), struct.pack("d", v))

    def test_float_rounds_and_overflows_like_a_c_cast(self):
        self.assertEqual(array("f", [0.1])[0], struct.unpack("f", struct.pack("f", 0.1))[0])
        self.assertEqual(array("f", [16777217.0])[0], 16777216.0)
        self.assertEqual(array("f", [1e300])[0], math.inf)
        self.assertEqual(array("f", [-1e300])[0], -math.inf)
        self.assertEqual(array("f", [1e-50])[0], 0.0)
        self.assertEqual(math.copysign(1.0, array("f", [-0.0])[0]), -1.0)
        self.assertTrue(math.isnan(array("f", [math.nan])[0]))

    def test_every_storing_path(self):
        for tc in FLOAT_TYPECODES:
            with self.subTest(typecode=tc):
                a = array(tc, [0.5, 1.5])
                a.append(2.5)
                a.insert(0, -0.5)
                a.extend([3.5, 4.5])
                a.fromlist([5.5])
                a[1] = 9.5
                a[-1] = 8.5
                a[2:4] = array(tc, [6.5, 7.5])
                self.assertEqual(a.tolist(),
                                 [-0.5, 9.5, 6.5, 7.5, 3.5, 4.5, 8.5])

    def test_float_subclass_override_is_not_called(self):
        for tc in FLOAT_TYPECODES:
            with self.subTest(typecode=tc):
                a = array(tc, [0.0, 0.0])
                a[1] = Sub(4.5)
                a.append(Sub(-1.5))
                self.assertEqual(a.tolist(), [0.0, 4.5, -1.5])

    def test_other_values_keep_the_generic_conversion(self):
        for tc in FLOAT_TYPECODES:
            with self.subTest(typecode=tc):
                a = array(tc, [0.0] * 4)
                a[0] = 3
                a[1] = True
                a[2] = HasFloat(2.5)
                a[3] = HasIndex()
                self.assertEqual(a.tolist(), [3.0, 1.0, 2.5, 7.0])
                for bad, error in (("1.5", TypeError), (None, TypeError),
                                   (b"x", TypeError), (1j, TypeError),
                                   (2 ** 1100, OverflowError),
                                   (HasFloat("x"), TypeError)):
                    with self.assertRaises(error):
                        a[0] = bad
                    with self.assertRaises(error):
                        a.append(bad)
                    with self.assertRaises(error):
                        array(tc, [1.0, bad])
                self.assertEqual(a.tolist(), [3.0, 1.0, 2.5, 7.0])

    def test_error_messages(self):
        a = array("d", [0.0])
        with self.assertRaisesRegex(TypeError, "must be real number, not str"):
            a[0] = "x"
        with self.assertRaisesRegex(OverflowError, "too large to convert to float"):
            a[0] = 2 ** 1100

    def test_array_emptied_during_conversion(self):
        for tc in FLOAT_TYPECODES:
            with self.subTest(typecode=tc):
                a = array(tc, [0.0, 0.0])
                with self.assertRaisesRegex(IndexError, "assignment index out of range"):
                    a[1] = Shrinks(a)
                self.assertEqual(len(a), 0)


if __name__ == "__main__":
    unittest.main()
