/* Helpers for the FOR_ITER_ENUMERATE specialization.
 *
 * FOR_ITER_ENUMERATE is a superinstruction for "for i, x in
 * enumerate(seq)": FOR_ITER over an exact enumerate object (whose
 * underlying iterator is an exact list, tuple or range iterator)
 * immediately followed by UNPACK_SEQUENCE 2.  It pushes the item and the
 * index directly and skips the UNPACK_SEQUENCE, so no (index, item) tuple
 * is built or unpacked.
 */
#ifndef Py_INTERNAL_QUICKEN_ENUM_H
#define Py_INTERNAL_QUICKEN_ENUM_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

// Defined in Objects/quicken_enum.c.h (part of Objects/enumobject.c).
extern int _PyEnum_CanSpecialize(PyObject *self);
extern int _PyEnum_NextIndexItem(PyObject *self, PyObject **out_index,
                                 PyObject **out_item);

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_ENUM_H */
