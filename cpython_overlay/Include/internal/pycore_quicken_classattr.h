/* Helpers for the LOAD_ATTR_CLASS_WITH_METACLASS_CHECK specialization.
 *
 * LOAD_ATTR_CLASS caches an attribute found in a class's MRO and guards on
 * the class's version tag.  The 3.13 specializer uses it only when the class
 * is an exact instance of type and type does not define the name itself, so
 * class attributes of classes with a custom metaclass (Enum members, ABCs,
 * ORM models) and names that type also defines (dict.__repr__, cls.__init__)
 * run the generic LOAD_ATTR every time.
 *
 * type_getattro() consults the metaclass first, but only a *data* descriptor
 * found there takes precedence over the class's own attribute.  So when the
 * metaclass uses type's tp_getattro and has no data descriptor of that name,
 * the class's attribute is the result, and stays the result while neither
 * the class nor its metaclass changes: LOAD_ATTR_CLASS_WITH_METACLASS_CHECK
 * guards on both version tags.
 *
 * The specializer also declines attributes whose type is mutable (it could
 * gain __get__ later).  When that type is the class itself or one of its
 * bases -- an Enum member, a singleton stored on its own class -- a change to
 * it changes the class's version tag too, so the value can be cached.  But
 * assigning the value's __class__ changes no version tag, and the new class
 * may define __get__: such values always use
 * LOAD_ATTR_CLASS_WITH_METACLASS_CHECK (also when the metaclass is type),
 * which checks at run time that the cached value's type is immutable or has
 * no __get__.
 */
#ifndef Py_INTERNAL_QUICKEN_CLASSATTR_H
#define Py_INTERNAL_QUICKEN_CLASSATTR_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

/* Why a metaclass rules out caching a class attribute. */
typedef enum {
    _PyQuicken_METACLASS_OK = 0,
    /* The metaclass overrides __getattribute__ (its tp_getattro is not
       type's), so it may compute any result. */
    _PyQuicken_METACLASS_GETATTRO,
    /* The metaclass (or a base of it) defines the name as a data
       descriptor, which wins over the class's attribute, or as an object
       whose type is mutable and so may become one (by gaining __get__ and
       __set__) without changing the metaclass's version tag. */
    _PyQuicken_METACLASS_DATA_DESCRIPTOR,
} _PyQuicken_MetaclassCheck;

/* Can LOAD_ATTR of `name` on a class whose metaclass is `meta` return the
   attribute found in the class's MRO, as long as `meta` keeps its version
   tag?  Adding a data descriptor or __getattribute__ to `meta` or to one of
   its bases changes that tag; what `meta` already holds under `name` must
   be of an immutable type without __set__ (type's own slot wrappers and
   methods are). */
static inline _PyQuicken_MetaclassCheck
_PyQuicken_CheckMetaclass(PyTypeObject *meta, PyObject *name)
{
    if (meta->tp_getattro != PyType_Type.tp_getattro) {
        return _PyQuicken_METACLASS_GETATTRO;
    }
    PyObject *meta_attr = _PyType_Lookup(meta, name);  /* borrowed */
    if (meta_attr != NULL) {
        PyTypeObject *tp = Py_TYPE(meta_attr);
        if (tp->tp_descr_set != NULL ||
            !(tp->tp_flags & Py_TPFLAGS_IMMUTABLETYPE))
        {
            return _PyQuicken_METACLASS_DATA_DESCRIPTOR;
        }
    }
    return _PyQuicken_METACLASS_OK;
}

/* Is the class attribute `attr` of `cls` a plain value although its type is
   mutable: not a descriptor, and an instance of `cls` or of one of its
   bases, so that giving its type a __get__ changes cls's version tag? */
static inline int
_PyQuicken_IsValueOfOwnType(PyTypeObject *cls, PyObject *attr)
{
    PyTypeObject *tp = Py_TYPE(attr);
    return tp->tp_descr_get == NULL && PyType_IsSubtype(cls, tp);
}

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_CLASSATTR_H */
