/* Helpers for the FOR_ITER_DICT and FOR_ITER_DICT_ITEMS specializations.
 *
 * FOR_ITER_DICT iterates over exact dict key and value iterators
 * ("for k in d", "for v in d.values()").  FOR_ITER_DICT_ITEMS is a
 * superinstruction for "for k, v in d.items()": FOR_ITER over a dict item
 * iterator immediately followed by UNPACK_SEQUENCE 2.  It pushes the key
 * and the value directly and skips the UNPACK_SEQUENCE, so no items tuple
 * is built or unpacked.
 */
#ifndef Py_INTERNAL_QUICKEN_DICT_H
#define Py_INTERNAL_QUICKEN_DICT_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "opcode.h"               // UNPACK_SEQUENCE

// Defined in Objects/quicken_dictiter.c.h (part of Objects/dictobject.c).
extern int _PyDictIter_NextKeyValue(PyObject *self, PyObject **out_key,
                                    PyObject **out_value);

/* Specializer helper: the FOR_ITER specialization to use for iterator
   "iter" given the instruction following FOR_ITER and its inline cache
   (its de-specialized opcode: UNPACK_SEQUENCE may have specialized
   before FOR_ITER does), or 0 if "iter" is not a (forward) dict
   iterator. */
static inline int
_PyQuicken_ForIterDictOpcode(PyObject *iter, int next_opcode, int next_oparg)
{
    PyTypeObject *tp = Py_TYPE(iter);
    if (tp == &PyDictIterKey_Type || tp == &PyDictIterValue_Type) {
        return FOR_ITER_DICT;
    }
    if (tp == &PyDictIterItem_Type && next_opcode == UNPACK_SEQUENCE &&
        next_oparg == 2)
    {
        return FOR_ITER_DICT_ITEMS;
    }
    return 0;
}

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_DICT_H */
