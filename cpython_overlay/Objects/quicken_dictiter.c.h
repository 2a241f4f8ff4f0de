/* Support for the FOR_ITER_DICT and FOR_ITER_DICT_ITEMS specializations.
 * This file is included by Objects/dictobject.c. */

/* Advance a forward dict iterator (keys, values or items) and return its
 * next key and/or value as new references, without building the items
 * tuple.  Pass NULL for a part that is not wanted.
 *
 * Return 1 on success, 0 when the iterator is exhausted (no exception set)
 * and -1 with an exception set on error ("dictionary changed size during
 * iteration"...), exactly when dictiter_iternext{key,value,item}() would
 * have raised it.
 */
int
_PyDictIter_NextKeyValue(PyObject *self, PyObject **out_key,
                         PyObject **out_value)
{
    assert(Py_IS_TYPE(self, &PyDictIterKey_Type) ||
           Py_IS_TYPE(self, &PyDictIterValue_Type) ||
           Py_IS_TYPE(self, &PyDictIterItem_Type));
    dictiterobject *di = (dictiterobject *)self;
    PyDictObject *d = di->di_dict;
    if (d == NULL) {
        return 0;
    }
#ifdef Py_GIL_DISABLED
    int res = dictiter_iternext_threadsafe(d, self, out_key, out_value);
#else
    int res = dictiter_iternextitem_lock_held(d, self, out_key, out_value);
#endif
    if (res < 0) {
        return PyErr_Occurred() ? -1 : 0;
    }
    return 1;
}
