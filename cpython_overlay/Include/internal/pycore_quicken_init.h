/* Helpers for the CALL_ALLOC_AND_ENTER_INIT_GENERAL specialization: calls
 * of a Python class whose __init__ is a Python function, that
 * CALL_ALLOC_AND_ENTER_INIT does not take because the class has __slots__
 * (no inline values), the call leaves parameters to their defaults, or
 * __init__ has keyword-only parameters, *args or **kwargs.
 *
 * Like CALL_ALLOC_AND_ENTER_INIT, the instruction does what type.__call__
 * does for a class with object.__new__ and the generic tp_alloc: it
 * allocates the object, pushes the shim frame that checks that __init__
 * returned None (EXIT_INIT_CHECK) and enters __init__ without a C call.
 * The arguments are bound by _PyEvalFramePushAndInit(), as for any call of
 * a Python function, reading __defaults__ and __kwdefaults__ at call time:
 * if they no longer bind, it raises the same TypeError.
 */
#ifndef Py_INTERNAL_QUICKEN_INIT_H
#define Py_INTERNAL_QUICKEN_INIT_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "pycore_frame.h"         // _PyThreadState_PopFrame()
#include "pycore_global_objects.h"  // _Py_ID()

/* Nonzero if a frame for code can be entered from the shim: an ordinary
   function, not a generator or coroutine function. */
static inline int
_PyQuicken_InitCodeIsPlain(PyCodeObject *code)
{
    const int flags = CO_OPTIMIZED | CO_GENERATOR | CO_COROUTINE
                      | CO_ASYNC_GENERATOR | CO_ITERABLE_COROUTINE;
    return (code->co_flags & flags) == CO_OPTIMIZED;
}

/* Nonzero if nargs positional arguments after self bind to func's
   parameters with nothing else given: the parameters left out have
   defaults, and so has every keyword-only parameter. */
static inline int
_PyQuicken_InitArgumentsBind(PyFunctionObject *func, int nargs)
{
    PyCodeObject *code = (PyCodeObject *)func->func_code;
    int given = nargs + 1;
    Py_ssize_t defaults = func->func_defaults == NULL
                          ? 0 : PyTuple_GET_SIZE(func->func_defaults);
    if (given > code->co_argcount && !(code->co_flags & CO_VARARGS)) {
        return 0;
    }
    if (given < code->co_argcount - defaults) {
        return 0;
    }
    for (int i = 0; i < code->co_kwonlyargcount; i++) {
        PyObject *name = PyTuple_GET_ITEM(code->co_localsplusnames,
                                          code->co_argcount + i);
        if (func->func_kwdefaults == NULL
            || !PyDict_Check(func->func_kwdefaults))
        {
            return 0;
        }
        int found = PyDict_Contains(func->func_kwdefaults, name);
        if (found < 0) {
            PyErr_Clear();
        }
        if (found <= 0) {
            return 0;
        }
    }
    return 1;
}

/* The __init__ of tp if CALL_ALLOC_AND_ENTER_INIT_GENERAL should serve a
   call of tp with nargs positional arguments, else NULL.  The caller has
   checked that tp->tp_new is object.__new__; object.__new__ then only
   refuses abstract classes and calls tp_alloc(tp, 0).  __init__ must be a
   plain Python function to which the arguments bind, and the call must be
   one CALL_ALLOC_AND_ENTER_INIT cannot take. */
static inline PyFunctionObject *
_PyQuicken_InitForGeneralCall(PyTypeObject *tp, int nargs)
{
    if (tp->tp_alloc != PyType_GenericAlloc
        || !(tp->tp_flags & Py_TPFLAGS_HEAPTYPE)
        || (tp->tp_flags & Py_TPFLAGS_IS_ABSTRACT))
    {
        return NULL;
    }
    PyObject *init = _PyType_Lookup(tp, &_Py_ID(__init__));
    if (init == NULL || !PyFunction_Check(init)) {
        return NULL;
    }
    PyFunctionObject *func = (PyFunctionObject *)init;
    PyCodeObject *code = (PyCodeObject *)func->func_code;
    if (!_PyQuicken_InitCodeIsPlain(code)
        || !_PyQuicken_InitArgumentsBind(func, nargs))
    {
        return NULL;
    }
    int simple = !(code->co_flags & (CO_VARARGS | CO_VARKEYWORDS))
                 && code->co_kwonlyargcount == 0;
    if ((tp->tp_flags & Py_TPFLAGS_INLINE_VALUES)
        && simple && code->co_argcount == nargs + 1)
    {
        return NULL;  // CALL_ALLOC_AND_ENTER_INIT's case
    }
    return func;
}

/* Pop the shim frame of a call whose __init__ frame could not be pushed
   (the arguments did not bind, or no memory): drop the shim's references
   to self and to its code. */
static inline void
_PyQuicken_PopInitShim(PyThreadState *tstate, _PyInterpreterFrame *shim)
{
    _PyFrame_ClearExceptCode(shim);
    Py_DECREF(shim->f_executable);
    _PyThreadState_PopFrame(tstate, shim);
}

/* The body of CALL_ALLOC_AND_ENTER_INIT_GENERAL once its guards passed:
   allocate self as object.__new__ does, push the shim frame (shim_code,
   whose EXIT_INIT_CHECK checks that __init__ returned None) on top of
   frame and the frame of init on top of the shim, binding self and the
   nargs arguments at args.  args[-1] (the NULL slot) receives self.
   Consumes the references to tp and to the arguments whatever happens.
   Returns the __init__ frame, or NULL with an exception set and both frames
   popped.  Kept out of line (not static inline: GCC rejects noinline on an
   inline function) and defined only where the interpreter loop is compiled
   (_PY_INTERPRETER), so that other includers have no unused function. */
#ifdef _PY_INTERPRETER
Py_NO_INLINE static _PyInterpreterFrame *
_PyQuicken_PushInitFrames(PyThreadState *tstate, _PyInterpreterFrame *frame,
                          PyTypeObject *tp, PyFunctionObject *init,
                          PyObject **args, int nargs, PyCodeObject *shim_code)
{
    PyObject *self = PyType_GenericAlloc(tp, 0);
    if (self == NULL) {
        for (int i = 0; i < nargs; i++) {
            Py_DECREF(args[i]);
        }
        Py_DECREF(tp);
        return NULL;
    }
    /* self holds a reference to its heap type */
    Py_DECREF(tp);
    _PyInterpreterFrame *shim = _PyFrame_PushTrampolineUnchecked(
        tstate, shim_code, 1);
    shim->localsplus[0] = Py_NewRef(self);
    args[-1] = self;
    _PyInterpreterFrame *init_frame = _PyEvalFramePushAndInit(
        tstate, (PyFunctionObject *)Py_NewRef(init), NULL,
        args - 1, nargs + 1, NULL);
    if (init_frame == NULL) {
        _PyQuicken_PopInitShim(tstate, shim);
        return NULL;
    }
    init_frame->previous = shim;
    shim->previous = frame;
    return init_frame;
}
#endif  /* _PY_INTERPRETER */

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_INIT_H */
