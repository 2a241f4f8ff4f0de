/* Helpers for the TO_BOOL_SIZED specialization.
 *
 * TO_BOOL_SIZED converts exact tuples, dicts, sets and frozensets to bool
 * by reading their size directly, as PyObject_IsTrue() does through
 * tuplelength(), dict_length() and set_len().  Subclasses (which may
 * override __bool__ or __len__) are not handled.
 */
#ifndef Py_INTERNAL_QUICKEN_TOBOOL_H
#define Py_INTERNAL_QUICKEN_TOBOOL_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "pycore_pyatomic_ft_wrappers.h"  // FT_ATOMIC_LOAD_SSIZE_RELAXED

/* Store the number of items of an exact tuple, dict, set or frozenset in
   *size and return 1; return 0 for any other object. */
static inline int
_PyQuicken_ExactContainerSize(PyObject *value, Py_ssize_t *size)
{
    PyTypeObject *tp = Py_TYPE(value);
    if (tp == &PyTuple_Type) {
        *size = PyTuple_GET_SIZE(value);
        return 1;
    }
    if (tp == &PyDict_Type) {
        *size = FT_ATOMIC_LOAD_SSIZE_RELAXED(((PyDictObject *)value)->ma_used);
        return 1;
    }
    if (tp == &PySet_Type || tp == &PyFrozenSet_Type) {
        *size = PySet_GET_SIZE(value);
        return 1;
    }
    return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_TOBOOL_H */
