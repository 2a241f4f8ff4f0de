/* Slices of exact lists, tuples and strs without a slice object
 * (BINARY_SLICE and STORE_SLICE).
 *
 * "seq[a:b]" and "seq[a:b] = v" build a slice object only to hand it to
 * the container's mp_subscript (mp_ass_subscript), which unpacks it again.
 * When the container is an exact list, tuple or str and both bounds are
 * None or exact compact ints, no code of the program can run while the
 * bounds are read, so the instructions compute the bounds the way
 * PySlice_Unpack() and PySlice_AdjustIndices() would and produce the very
 * result list_subscript(), tuplesubscript() and unicode_subscript() (or
 * list_ass_subscript()) produce for a step of 1: the same objects (an empty
 * result is the type's empty singleton, a whole tuple or str the container
 * itself), the same errors, in the same order.  Anything else (subclasses,
 * bools, big ints, objects with __index__, other containers) takes the
 * slice object path.
 *
 * Both paths live in the two functions at the end, which the instructions
 * call: they are kept out of line so that the interpreter loop's code
 * for the instructions is smaller than before (with the fast paths inlined,
 * GCC 12 spilled the loop's dispatch state to the stack and every
 * instruction paid for it).
 */
#ifndef Py_INTERNAL_QUICKEN_SLICE_H
#define Py_INTERNAL_QUICKEN_SLICE_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "pycore_long.h"          // _PyLong_IsCompact()
#include "pycore_sliceobject.h"   // _PyBuildSlice_ConsumeRefs()

/* Store in *index the value of one bound: dflt for None, the value of an
   exact compact int.  Return 0 (and store nothing useful) for any other
   object, whose conversion may run code or clamp. */
static inline int
_PyQuicken_SliceBound(PyObject *bound, Py_ssize_t dflt, Py_ssize_t *index)
{
    if (bound == Py_None) {
        *index = dflt;
        return 1;
    }
    if (PyLong_CheckExact(bound) && _PyLong_IsCompact((PyLongObject *)bound)) {
        *index = _PyLong_CompactValue((PyLongObject *)bound);
        return 1;
    }
    return 0;
}

/* The unadjusted bounds of start:stop (as PySlice_Unpack() gives them for
   a step of 1), or 0 when either needs the slice object path. */
static inline int
_PyQuicken_SliceBounds(PyObject *start, PyObject *stop,
                       Py_ssize_t *ilow, Py_ssize_t *ihigh)
{
    return (_PyQuicken_SliceBound(start, 0, ilow)
            && _PyQuicken_SliceBound(stop, PY_SSIZE_T_MAX, ihigh));
}

/* container[ilow:ihigh] for an exact list, tuple or str (unadjusted
   bounds from _PyQuicken_SliceBounds()). */
static inline PyObject *
_PyQuicken_GetSlice(PyObject *container, Py_ssize_t ilow, Py_ssize_t ihigh)
{
    PyTypeObject *tp = Py_TYPE(container);
    Py_ssize_t length = (tp == &PyUnicode_Type
                         ? PyUnicode_GET_LENGTH(container)
                         : Py_SIZE(container));
    Py_ssize_t n = PySlice_AdjustIndices(length, &ilow, &ihigh, 1);
    if (tp == &PyList_Type) {
        return (n <= 0 ? PyList_New(0)
                : PyList_GetSlice(container, ilow, ihigh));
    }
    if (n <= 0) {
        return tp == &PyTuple_Type ? PyTuple_New(0) : PyUnicode_New(0, 0);
    }
    if (n == length) {
        return Py_NewRef(container);
    }
    if (tp == &PyTuple_Type) {
        return PyTuple_GetSlice(container, ilow, ihigh);
    }
    return PyUnicode_Substring(container, ilow, ihigh);
}

/* list[ilow:ihigh] = value for an exact list (unadjusted bounds), as
   list_ass_subscript() does it: the value becomes a sequence first (which
   may run code that resizes the list), the bounds are adjusted to the
   list's size after that, and a stop before the start inserts at the
   start.  Return 0, or -1 with an exception set. */
static inline int
_PyQuicken_SetListSlice(PyObject *list, Py_ssize_t ilow, Py_ssize_t ihigh,
                        PyObject *value)
{
    PyObject *seq;
    if (value == list) {
        seq = PyList_GetSlice(list, 0, PyList_GET_SIZE(list));
    }
    else {
        seq = PySequence_Fast(value, "must assign iterable "
                                     "to extended slice");
    }
    if (seq == NULL) {
        return -1;
    }
    PySlice_AdjustIndices(PyList_GET_SIZE(list), &ilow, &ihigh, 1);
    if (ihigh < ilow) {
        ihigh = ilow;
    }
    int err = PyList_SetSlice(list, ilow, ihigh, seq);
    Py_DECREF(seq);
    return err;
}

/* BINARY_SLICE: container[start:stop], or NULL with an exception set.
   Consumes the references to start and stop, as
   _PyBuildSlice_ConsumeRefs() does. */
Py_NO_INLINE static PyObject *
_PyQuicken_BinarySlice(PyObject *container, PyObject *start, PyObject *stop)
{
    PyTypeObject *tp = Py_TYPE(container);
    Py_ssize_t ilow, ihigh;
    if ((tp == &PyList_Type || tp == &PyTuple_Type || tp == &PyUnicode_Type)
        && _PyQuicken_SliceBounds(start, stop, &ilow, &ihigh))
    {
        Py_DECREF(start);
        Py_DECREF(stop);
        return _PyQuicken_GetSlice(container, ilow, ihigh);
    }
    PyObject *slice = _PyBuildSlice_ConsumeRefs(start, stop);
    if (slice == NULL) {
        return NULL;
    }
    PyObject *res = PyObject_GetItem(container, slice);
    Py_DECREF(slice);
    return res;
}

/* STORE_SLICE: container[start:stop] = value; 0, or -1 with an exception
   set.  Consumes the references to start and stop. */
Py_NO_INLINE static int
_PyQuicken_StoreSlice(PyObject *container, PyObject *start, PyObject *stop,
                      PyObject *value)
{
    Py_ssize_t ilow, ihigh;
    if (PyList_CheckExact(container)
        && _PyQuicken_SliceBounds(start, stop, &ilow, &ihigh))
    {
        Py_DECREF(start);
        Py_DECREF(stop);
        return _PyQuicken_SetListSlice(container, ilow, ihigh, value);
    }
    PyObject *slice = _PyBuildSlice_ConsumeRefs(start, stop);
    if (slice == NULL) {
        return -1;
    }
    int err = PyObject_SetItem(container, slice, value);
    Py_DECREF(slice);
    return err;
}

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_SLICE_H */
