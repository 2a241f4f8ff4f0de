/* Helpers for the BINARY_SUBSCR_BYTES_INT and STORE_SUBSCR_BYTEARRAY_INT
 * specializations.
 *
 * b[i] on an exact bytes or bytearray, and a[i] = v on an exact bytearray,
 * with a non-negative compact int index, read or write one byte directly.
 * The generic path goes through PyObject_GetItem()/PyObject_SetItem(),
 * bytes_subscript()/bytearray_subscript()/bytearray_ass_subscript(),
 * PyNumber_AsSsize_t() and, for stores, _getbytevalue().  Reading returns
 * one of the small int singletons (0..255), so nothing is allocated.
 *
 * The specializer's checks are inline here; the two operations are defined
 * in Objects/quicken_bytes.c.h (included by Objects/bytearrayobject.c).
 *
 * Anything else -- negative or out-of-range indexes, int subclasses and
 * bools, stored values that are not exact ints in range(256) -- is left to
 * the generic instruction, which raises the same errors as before.
 */
#ifndef Py_INTERNAL_QUICKEN_BYTES_H
#define Py_INTERNAL_QUICKEN_BYTES_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "pycore_long.h"          // _PyLong_IsNonNegativeCompact()

/* The index as a Py_ssize_t if `sub` is an exact, non-negative, compact
   int; -1 otherwise. */
static inline Py_ssize_t
_PyQuicken_ByteIndex(PyObject *sub)
{
    if (!PyLong_CheckExact(sub) ||
        !_PyLong_IsNonNegativeCompact((PyLongObject *)sub))
    {
        return -1;
    }
    return (Py_ssize_t)((PyLongObject *)sub)->long_value.ob_digit[0];
}

/* Is container[sub] a candidate for BINARY_SUBSCR_BYTES_INT? */
static inline int
_PyQuicken_CanSpecializeByteLoad(PyObject *container, PyObject *sub)
{
    return (PyBytes_CheckExact(container) ||
            PyByteArray_CheckExact(container)) &&
           _PyQuicken_ByteIndex(sub) >= 0;
}

/* Is container[sub] = ... a candidate for STORE_SUBSCR_BYTEARRAY_INT? */
static inline int
_PyQuicken_CanSpecializeByteStore(PyObject *container, PyObject *sub)
{
    return PyByteArray_CheckExact(container) && _PyQuicken_ByteIndex(sub) >= 0;
}

/* container[sub] as a borrowed (immortal) small int if container is an exact
   bytes or bytearray and sub a non-negative compact int below its length;
   NULL otherwise, with no exception set.  Defined out of line (in
   Objects/quicken_bytes.c.h) to keep the interpreter loop small. */
extern PyObject *_PyQuicken_LoadByte(PyObject *container, PyObject *sub);

/* Do container[sub] = value and return 1 if container is an exact
   bytearray, sub a non-negative compact int below its length and value an
   exact int in range(256); else return 0 (and do nothing). */
extern int _PyQuicken_StoreByte(PyObject *container, PyObject *sub,
                                PyObject *value);

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_BYTES_H */
