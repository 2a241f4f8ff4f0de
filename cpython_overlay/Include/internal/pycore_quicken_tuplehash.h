/* A table of kept tuple hashes.
 *
 * A tuple's hash is a function of its items' hashes, and tuplehash()
 * computes it from scratch on every call: a named tuple of small ints used
 * as a dict key is hashed item by item at every lookup.  3.14 keeps the
 * hash in the tuple (ob_hash, gh-131525); 3.13 cannot grow PyTupleObject,
 * whose layout extension modules compile in, so the hash is kept here, in
 * a direct-mapped table of (tuple address, hash) entries.
 *
 * Only hashes that no code can observe being skipped are kept: the items
 * are all exact ints, strs, floats, bools, None, or tuples whose own hash
 * is kept, and freeing the tuple runs tupledealloc().  An entry must be
 * forgotten whenever its tuple stops being the tuple it was hashed as:
 * tupledealloc(), _PyTuple_Resize(), PyTuple_SetItem(), and every place
 * that reuses a result tuple it holds the only reference to, by storing
 * new items into it (zip, enumerate, dict items iterators, ...: the
 * bpo-42536 sites).  Those call _PyQuicken_ForgetTupleHash().
 *
 * There is one table, used by the interpreters that run under the main
 * interpreter's GIL with its object allocator: the main interpreter and
 * the legacy sub-interpreters, which also pass objects to each other
 * (PyModuleDef.m_base.m_copy), so a tuple hashed in one can be freed in
 * another.  An interpreter with a GIL of its own keeps no hashes, and the
 * free-threaded build none at all.  Forgetting needs no thread state: any
 * thread may look the table up (a tuple it frees is never in the table
 * unless it was hashed under the main GIL, and then forgetting it is
 * right), so the entries' tuple pointers are read and written atomically
 * (relaxed); only holders of the main GIL read or write the hashes.
 */
#ifndef Py_INTERNAL_QUICKEN_TUPLEHASH_H
#define Py_INTERNAL_QUICKEN_TUPLEHASH_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "pycore_interp.h"        // PyInterpreterState.quicken_tuple_hashes
#include "pycore_runtime.h"       // _PyRuntime._main_interpreter

/* Entries: a power of two (16 bytes each, 64 KiB). */
#define _PyQuicken_TUPLE_HASHES 4096

struct _PyQuicken_tuple_hash_entry {
    PyObject *tuple;              /* NULL: empty */
    Py_hash_t hash;
};

struct _PyQuicken_tuple_hashes {
    struct _PyQuicken_tuple_hash_entry entries[_PyQuicken_TUPLE_HASHES];
};

/* The table (Objects/tupleobject.c). */
extern struct _PyQuicken_tuple_hashes _PyQuicken_TupleHashes;

/* The entry op's hash is kept in: address bits 4-15 folded with bits
   16-27.  Tuples are 16-byte aligned, so the low four bits carry nothing,
   and an entry is 16 bytes, so the masked bits are the entry's byte
   offset (tupledealloc() pays eight instructions to forget). */
static inline struct _PyQuicken_tuple_hash_entry *
_PyQuicken_TupleHashSlot(PyObject *op)
{
    static_assert(sizeof(struct _PyQuicken_tuple_hash_entry) == 16,
                  "an entry's byte offset is its masked address bits");
    uintptr_t a = (uintptr_t)op;
    size_t offset = (a ^ (a >> 12)) & ((_PyQuicken_TUPLE_HASHES - 1) << 4);
    return (struct _PyQuicken_tuple_hash_entry *)
        ((char *)_PyQuicken_TupleHashes.entries + offset);
}

/* The entry op's hash is kept in, or NULL when interp keeps no hashes. */
static inline struct _PyQuicken_tuple_hash_entry *
_PyQuicken_TupleHashEntry(PyInterpreterState *interp, PyObject *op)
{
    if (interp->quicken_tuple_hashes == NULL) {
        return NULL;
    }
    return _PyQuicken_TupleHashSlot(op);
}

/* 1 if entry holds op's hash. */
static inline int
_PyQuicken_TupleHashHolds(struct _PyQuicken_tuple_hash_entry *entry,
                          PyObject *op)
{
    return _Py_atomic_load_ptr_relaxed(&entry->tuple) == (void *)op;
}

/* Forget the hash kept for op, whose items have changed or which is being
   freed. */
static inline void
_PyQuicken_ForgetTupleHash(PyObject *op)
{
#ifndef Py_GIL_DISABLED
    struct _PyQuicken_tuple_hash_entry *entry = _PyQuicken_TupleHashSlot(op);
    if (_PyQuicken_TupleHashHolds(entry, op)) {
        _Py_atomic_store_ptr_relaxed(&entry->tuple, NULL);
    }
#endif
}

/* Called by _PyObject_InitState() and _PyObject_FiniState()
   (Objects/object.c), once the interpreter's feature flags are set. */
static inline void
_PyQuicken_TupleHashesInit(PyInterpreterState *interp)
{
#ifndef Py_GIL_DISABLED
    if (interp == &_PyRuntime._main_interpreter
        || _PyInterpreterState_HasFeature(interp,
                                          Py_RTFLAGS_USE_MAIN_OBMALLOC))
    {
        interp->quicken_tuple_hashes = &_PyQuicken_TupleHashes;
    }
#endif
}

static inline void
_PyQuicken_TupleHashesFini(PyInterpreterState *interp)
{
    interp->quicken_tuple_hashes = NULL;
    if (interp == &_PyRuntime._main_interpreter) {
        /* The objects left now may be freed without tupledealloc(). */
        for (size_t i = 0; i < _PyQuicken_TUPLE_HASHES; i++) {
            _Py_atomic_store_ptr_relaxed(
                &_PyQuicken_TupleHashes.entries[i].tuple, NULL);
        }
    }
}

/* 1 when freeing an instance of type ends in dealloc: its own tp_dealloc,
   or that of the first base that is not a class statement's (whose
   subtype_dealloc() hands over to that base).  In Objects/typeobject.c. */
extern int _PyType_DeallocEndsIn(PyTypeObject *type, destructor dealloc);

/* 1 if item's hash is a function of its value that runs no other code and
   cannot change: an exact int, str, float or bool, None, or a tuple whose
   hash is kept (and so is one itself).  tuplehash() asks after hashing
   the item. */
static inline int
_PyQuicken_TupleItemHashIsKept(PyInterpreterState *interp, PyObject *item)
{
    PyTypeObject *tp = Py_TYPE(item);
    if (tp == &PyLong_Type || tp == &PyUnicode_Type || tp == &PyFloat_Type
        || tp == &PyBool_Type || item == Py_None)
    {
        return 1;
    }
    if (tp->tp_hash == PyTuple_Type.tp_hash) {
        struct _PyQuicken_tuple_hash_entry *entry =
            _PyQuicken_TupleHashEntry(interp, item);
        return entry != NULL && _PyQuicken_TupleHashHolds(entry, item);
    }
    return 0;
}

/* 1 if freeing op runs tupledealloc(), which forgets its hash: exact
   tuples and the tuple subclasses of class statements (named tuples), not
   structseqs or extension types with a dealloc of their own.  tuplehash()
   keeps the hash of such a tuple whose items all pass
   _PyQuicken_TupleItemHashIsKept(). */
static inline int
_PyQuicken_TupleHashMayBeKept(PyObject *op)
{
    return PyTuple_CheckExact(op)
           || _PyType_DeallocEndsIn(Py_TYPE(op), PyTuple_Type.tp_dealloc);
}

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_TUPLEHASH_H */
