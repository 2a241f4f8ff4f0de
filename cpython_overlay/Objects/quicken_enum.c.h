/* Support for the FOR_ITER_ENUMERATE specialization.
 * This file is included by Objects/enumobject.c. */

/* FOR_ITER_ENUMERATE skips the UNPACK_SEQUENCE that follows it, so the
 * underlying iterator must not be able to run Python code (which could,
 * for example, turn on instrumentation of that UNPACK_SEQUENCE) while
 * producing an item.  Only the iterators of exact lists, tuples and
 * ranges are accepted. */
static inline int
enum_has_simple_iterator(enumobject *en)
{
    PyTypeObject *tp = Py_TYPE(en->en_sit);
    return (tp == &PyListIter_Type || tp == &PyTupleIter_Type ||
            tp == &PyRangeIter_Type);
}

/* Return 1 if FOR_ITER_ENUMERATE can be used for this enumerate object. */
int
_PyEnum_CanSpecialize(PyObject *self)
{
    return (Py_IS_TYPE(self, &PyEnum_Type) &&
            enum_has_simple_iterator((enumobject *)self));
}

/* Advance an exact enumerate object and return its next index and item as
 * new references, without building the (index, item) tuple.
 *
 * Return 1 on success; 0 if the underlying iterator returned NULL (an
 * exception may be set: the caller handles it as FOR_ITER does for a NULL
 * from tp_iternext); -1 with an exception set on error; -2, without doing
 * anything, if the underlying iterator is not one of those accepted by
 * _PyEnum_CanSpecialize().  Mirrors enum_next() and enum_next_long().
 */
int
_PyEnum_NextIndexItem(PyObject *self, PyObject **out_index,
                      PyObject **out_item)
{
    assert(Py_IS_TYPE(self, &PyEnum_Type));
    enumobject *en = (enumobject *)self;
    if (!enum_has_simple_iterator(en)) {
        return -2;
    }
    PyObject *it = en->en_sit;
    PyObject *next_item = (*Py_TYPE(it)->tp_iternext)(it);
    if (next_item == NULL) {
        return 0;
    }
    PyObject *next_index;
    if (en->en_index == PY_SSIZE_T_MAX) {
        if (en->en_longindex == NULL) {
            en->en_longindex = PyLong_FromSsize_t(PY_SSIZE_T_MAX);
            if (en->en_longindex == NULL) {
                Py_DECREF(next_item);
                return -1;
            }
        }
        next_index = en->en_longindex;
        PyObject *stepped_up = PyNumber_Add(next_index, en->one);
        if (stepped_up == NULL) {
            Py_DECREF(next_item);
            return -1;
        }
        /* The reference to the old en_longindex goes to the caller. */
        en->en_longindex = stepped_up;
    }
    else {
        next_index = PyLong_FromSsize_t(en->en_index);
        if (next_index == NULL) {
            Py_DECREF(next_item);
            return -1;
        }
        en->en_index++;
    }
    *out_index = next_index;
    *out_item = next_item;
    return 1;
}
