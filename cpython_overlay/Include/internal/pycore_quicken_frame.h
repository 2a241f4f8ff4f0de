/* Clearing and popping a thread's frame on return, with one call.
 *
 * Every return from a Python function cleared its frame through three
 * calls: _PyEval_FrameClearAndPop() (Python/ceval.c), then
 * _PyFrame_ClearExceptCode() (Python/frame.c) and _PyThreadState_PopFrame()
 * (Python/pystate.c), the last two in other translation units.  A release
 * build paid three calls' register saves and restores on every return, on
 * top of releasing the locals.
 *
 * The functions below do the same work, in the same order, inside
 * _PyEval_FrameClearAndPop(), which the interpreter still calls.  A frame
 * without a frame object releases its locals, its f_locals and its function
 * exactly as _PyFrame_ClearExceptCode() does (the same references, in the
 * same order, after the frame was unlinked: GH-99729), and a frame that is
 * not the first one of its data stack chunk is popped by moving the stack
 * top back, exactly as _PyThreadState_PopFrame() does.  A frame with a frame
 * object (which may have to hand its locals over to it) and the first frame
 * of a chunk (whose chunk is released) still take those functions.  The
 * release of the locals is written once, here: _PyFrame_ClearLocals()
 * (Python/frame.c) calls _PyQuicken_FrameClearLocals() too.
 *
 * The interpreter loop itself is left alone: with this code inlined into
 * RETURN_VALUE and RETURN_CONST, GCC 12 laid out other instructions of the
 * loop differently (type guards tested in another order), which cost more
 * than the call it saved on some of them.
 */
#ifndef Py_INTERNAL_QUICKEN_FRAME_H
#define Py_INTERNAL_QUICKEN_FRAME_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "pycore_frame.h"         // _PyFrame_ClearExceptCode()
#include "pycore_pystate.h"       // _PyThreadState_GET()

/* Release a frame's locals and f_locals: the body of _PyFrame_ClearLocals()
   (Python/frame.c), kept here once so that the inlined return path below
   and frame.c run the same code. */
static inline void
_PyQuicken_FrameClearLocals(_PyInterpreterFrame *frame)
{
    assert(frame->stacktop >= 0);
    int stacktop = frame->stacktop;
    frame->stacktop = 0;
    for (int i = 0; i < stacktop; i++) {
        Py_XDECREF(frame->localsplus[i]);
    }
    Py_CLEAR(frame->f_locals);
}

/* What _PyFrame_ClearExceptCode(frame) does. */
static inline void
_PyQuicken_FrameClearExceptCode(_PyInterpreterFrame *frame)
{
    if (frame->frame_obj != NULL) {
        _PyFrame_ClearExceptCode(frame);
        return;
    }
    assert(frame->owner != FRAME_OWNED_BY_GENERATOR ||
           _PyFrame_GetGenerator(frame)->gi_frame_state == FRAME_CLEARED);
    // GH-99729: the frame must already be unlinked (finalizers run below).
    assert(_PyThreadState_GET()->current_frame != frame);
    _PyQuicken_FrameClearLocals(frame);
    Py_DECREF(frame->f_funcobj);
}

/* What _PyThreadState_PopFrame(tstate, frame) does. */
static inline void
_PyQuicken_PopFrame(PyThreadState *tstate, _PyInterpreterFrame *frame)
{
    PyObject **base = (PyObject **)frame;
    assert(tstate->datastack_chunk);
    if (base == &tstate->datastack_chunk->data[0]) {
        _PyThreadState_PopFrame(tstate, frame);
        return;
    }
    assert(tstate->datastack_top >= base);
    tstate->datastack_top = base;
}

/* What clear_thread_frame() (Python/ceval.c) does: a frame owned by the
   thread is cleared and popped. */
static inline void
_PyQuicken_ClearThreadFrame(PyThreadState *tstate, _PyInterpreterFrame *frame)
{
    assert(frame->owner == FRAME_OWNED_BY_THREAD);
    // The top frame (checked here: f_executable is released below).
    assert((PyObject **)frame + _PyFrame_GetCode(frame)->co_framesize ==
           tstate->datastack_top);
    tstate->c_recursion_remaining--;
    assert(frame->frame_obj == NULL || frame->frame_obj->f_frame == frame);
    _PyQuicken_FrameClearExceptCode(frame);
    Py_DECREF(frame->f_executable);
    tstate->c_recursion_remaining++;
    _PyQuicken_PopFrame(tstate, frame);
}

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_FRAME_H */
