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
 * slot at once, so no type version is needed) and call what the generic
 * instruction would have reached through PyObject_GetItem() and
 * PyObject_SetItem().  Exact dicts keep their own code.
 */
#ifndef Py_INTERNAL_QUICKEN_DICTSUB_H
#define Py_INTERNAL_QUICKEN_DICTSUB_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

/* The exact dict is the common case: GCC is told so, or it may lay the
   instructions out with the exact dict's code behind a jump.  The
   subclasses' functions are cold and kept out of the interpreter loop. */
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

/* d[k] for a dict that is not exact: -2 (nothing done) if its type does
   not keep dict's __getitem__, else 1 with *result set to a new reference,
   or -1 with an exception set (KeyError, or whatever __missing__ raised).
   Kept out of the interpreter loop: only subclasses come here. */
static _PyQuicken_DICTSUB_COLD int
_PyQuicken_DictSubclassGetItem(PyObject *dict, PyObject *key,
                               PyObject **result)
{
    assert(!PyDict_CheckExact(dict));
    if (!_PyQuicken_DictSubscriptInherited(dict)) {
        return -2;
    }
    *result = PyDict_Type.tp_as_mapping->mp_subscript(dict, key);
    return *result != NULL ? 1 : -1;
}

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_DICTSUB_H */
