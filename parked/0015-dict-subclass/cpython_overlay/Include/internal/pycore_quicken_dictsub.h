/* Dict subclasses at BINARY_SUBSCR_DICT and STORE_SUBSCR_DICT sites.
 *
 * A dict subclass that does not override __getitem__ (__setitem__ and
 * __delitem__) keeps dict's own mapping slot: collections.defaultdict and
 * most subclasses written in C do, a class statement that defines none of
 * those methods does too.  For such a container, d[k] runs exactly
 * dict_subscript(), which calls __missing__ for a key the dict does not
 * hold, and d[k] = v runs exactly dict_ass_sub(), which inserts as
 * PyDict_SetItem() does.  The specialized instructions test the slot on
 * every execution (a class that gains one of those methods gets another
 * slot at once, so no type version is needed) and then run as for an
 * exact dict: a load looks the key up as dict_subscript() does, and only
 * a miss (__missing__ or KeyError) leaves the interpreter loop, for
 * _PyQuicken_DictSubscriptMissing(); a store inserts with
 * _PyDict_SetItem_Take2().
 */
#ifndef Py_INTERNAL_QUICKEN_DICTSUB_H
#define Py_INTERNAL_QUICKEN_DICTSUB_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "pycore_global_strings.h" // _Py_ID()
#include "pycore_object.h"         // _PyObject_LookupSpecial()
#include "pycore_pyerrors.h"       // _PyErr_SetKeyError()

/* The exact dict is the common case: GCC is told so, or it may lay the
   instructions out with the exact dict's code behind a jump.  The miss
   function is cold and kept out of the interpreter loop. */
#if defined(__GNUC__) || defined(__clang__)
#  define _PyQuicken_IsExactDict(obj) \
    __builtin_expect(PyDict_CheckExact(obj), 1)
#  define _PyQuicken_DICTSUB_COLD __attribute__((cold, noinline, unused))
#else
#  define _PyQuicken_IsExactDict(obj) PyDict_CheckExact(obj)
#  define _PyQuicken_DICTSUB_COLD Py_NO_INLINE
#endif

/* Whether d[k] on obj, a dict or not, runs dict_subscript(). */
static inline int
_PyQuicken_DictSubscriptInherited(PyObject *obj)
{
    PyMappingMethods *mapping = Py_TYPE(obj)->tp_as_mapping;
    return (PyDict_Check(obj) && mapping != NULL &&
            mapping->mp_subscript == PyDict_Type.tp_as_mapping->mp_subscript);
}

/* Whether d[k] = v on obj, a dict or not, runs dict_ass_sub(). */
static inline int
_PyQuicken_DictAssSubscriptInherited(PyObject *obj)
{
    PyMappingMethods *mapping = Py_TYPE(obj)->tp_as_mapping;
    return (PyDict_Check(obj) && mapping != NULL &&
            mapping->mp_ass_subscript ==
            PyDict_Type.tp_as_mapping->mp_ass_subscript);
}

/* The end of d[k] for a key that the dict d (exact or a subclass keeping
   dict's __getitem__) does not hold, as dict_subscript() ends after its
   lookup: a subclass's __missing__(k), if it has one, gives the result;
   otherwise KeyError.  Returns 1 with *result set to a new reference, 0
   with KeyError set, or -1 with another exception set.  Kept out of the
   interpreter loop: a hit never comes here. */
static _PyQuicken_DICTSUB_COLD int
_PyQuicken_DictSubscriptMissing(PyObject *dict, PyObject *key,
                                PyObject **result)
{
    *result = NULL;
    if (!PyDict_CheckExact(dict)) {
        PyObject *missing = _PyObject_LookupSpecial(dict,
                                                    &_Py_ID(__missing__));
        if (missing != NULL) {
            *result = PyObject_CallOneArg(missing, key);
            Py_DECREF(missing);
            return *result != NULL ? 1 : -1;
        }
        if (PyErr_Occurred()) {
            return -1;
        }
    }
    _PyErr_SetKeyError(key);
    return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_DICTSUB_H */
