/* Helpers for the BINARY_SUBSCR_ARRAY_INT and STORE_SUBSCR_ARRAY_INT
 * specializations (array.array items indexed by an int).
 *
 * The array type lives in an extension module, so the interpreter cannot
 * name it.  Instead the array module publishes its subscript functions here
 * when it is executed (_PyQuicken_PublishArrayItemAccess()).  A container
 * whose type's mp_subscript (mp_ass_subscript) is the array module's is an
 * array, or a subclass that did not override __getitem__ (__setitem__); for
 * an int index array_subscr() and array_ass_subscr() do nothing but call
 * array_item() and array_ass_item() once the index is normalized, so the
 * specialized instructions call those directly for an exact, non-negative
 * compact int below len(container), and deoptimize for anything else.
 */
#ifndef Py_INTERNAL_QUICKEN_ARRAY_H
#define Py_INTERNAL_QUICKEN_ARRAY_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "pycore_long.h"          // _PyLong_IsNonNegativeCompact()

typedef struct {
    binaryfunc subscript;           // array_subscr()
    ssizeargfunc item;              // array_item()
    objobjargproc ass_subscript;    // array_ass_subscr()
    ssizeobjargproc ass_item;       // array_ass_item()
} _PyQuicken_ArrayItemAccess;

/* Defined in Python/specialize.c; all NULL until the array module runs.
   The functions are the same for every instance of the module, so the
   fields only ever change once, from NULL to their final value. */
PyAPI_DATA(_PyQuicken_ArrayItemAccess) _PyQuicken_ArrayAccess;

static inline void
_PyQuicken_PublishArrayItemAccess(binaryfunc subscript, ssizeargfunc item,
                                  objobjargproc ass_subscript,
                                  ssizeobjargproc ass_item)
{
    if (_PyQuicken_ArrayAccess.subscript == NULL) {
        _PyQuicken_ArrayAccess.item = item;
        _PyQuicken_ArrayAccess.ass_item = ass_item;
        _PyQuicken_ArrayAccess.ass_subscript = ass_subscript;
        _PyQuicken_ArrayAccess.subscript = subscript;
    }
}

/* Nonzero if container[sub] is what array_subscr() computes. */
static inline int
_PyQuicken_IsArrayLoad(PyObject *container)
{
    PyMappingMethods *mp = Py_TYPE(container)->tp_as_mapping;
    return mp != NULL && mp->mp_subscript != NULL
           && mp->mp_subscript == _PyQuicken_ArrayAccess.subscript;
}

/* Nonzero if container[sub] = value is what array_ass_subscr() does. */
static inline int
_PyQuicken_IsArrayStore(PyObject *container)
{
    PyMappingMethods *mp = Py_TYPE(container)->tp_as_mapping;
    return mp != NULL && mp->mp_ass_subscript != NULL
           && mp->mp_ass_subscript == _PyQuicken_ArrayAccess.ass_subscript;
}

/* The index of item sub of an array when sub is an exact int with
   0 <= sub < len(array), else -1: negative indexes, bools, int subclasses,
   __index__ objects and out-of-range indexes take the generic path. */
static inline Py_ssize_t
_PyQuicken_ArrayIndex(PyObject *array, PyObject *sub)
{
    if (!PyLong_CheckExact(sub)
        || !_PyLong_IsNonNegativeCompact((PyLongObject *)sub))
    {
        return -1;
    }
    PyLongObject *lsub = (PyLongObject *)sub;
    Py_ssize_t index = (Py_ssize_t)lsub->long_value.ob_digit[0];
    return index < Py_SIZE(array) ? index : -1;
}

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_ARRAY_H */
