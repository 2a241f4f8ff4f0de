/* Helpers for the BINARY_OP_MIXED_FLOAT specialization.
 *
 * BINARY_OP_MIXED_FLOAT handles +, -, * and / (and their in-place forms)
 * when at least one operand is an exact float and the other one is an exact
 * float or an exact compact int.  A compact int has at most one digit, so
 * its absolute value is below 2**30 (or 2**15) and converts to a double
 * exactly: the result is bit-for-bit the one float_add(), float_sub(),
 * float_mul() and float_div() compute after PyLong_AsDouble().
 * Float + float, float - float and float * float have their own
 * specializations; float / float is handled here.
 */
#ifndef Py_INTERNAL_QUICKEN_FLOAT_H
#define Py_INTERNAL_QUICKEN_FLOAT_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "pycore_long.h"          // _PyLong_IsCompact()
#include "opcode.h"               // NB_ADD

static_assert(PyLong_SHIFT <= 52,
              "compact ints must be exactly representable as doubles");

/* Store the value of an exact float or exact compact int in *d.
   Return 0 for any other object. */
static inline int
_PyQuicken_AsExactDouble(PyObject *v, double *d)
{
    if (PyFloat_CheckExact(v)) {
        *d = PyFloat_AS_DOUBLE(v);
        return 1;
    }
    if (PyLong_CheckExact(v) && _PyLong_IsCompact((PyLongObject *)v)) {
        *d = (double)_PyLong_CompactValue((PyLongObject *)v);
        return 1;
    }
    return 0;
}

/* Return 1 and store both operands as doubles if at least one of them is an
   exact float and the other one is an exact float or compact int. */
static inline int
_PyQuicken_MixedFloatOperands(PyObject *left, PyObject *right,
                              double *dl, double *dr)
{
    if (!PyFloat_CheckExact(left) && !PyFloat_CheckExact(right)) {
        return 0;
    }
    return _PyQuicken_AsExactDouble(left, dl) &&
           _PyQuicken_AsExactDouble(right, dr);
}

/* Compute "a <op> b".  Return 0 if the generic code must run instead
   (division by zero raises ZeroDivisionError there). */
static inline int
_PyQuicken_FloatBinaryOp(int oparg, double a, double b, double *res)
{
    switch (oparg) {
        case NB_ADD:
        case NB_INPLACE_ADD:
            *res = a + b;
            return 1;
        case NB_SUBTRACT:
        case NB_INPLACE_SUBTRACT:
            *res = a - b;
            return 1;
        case NB_MULTIPLY:
        case NB_INPLACE_MULTIPLY:
            *res = a * b;
            return 1;
        case NB_TRUE_DIVIDE:
        case NB_INPLACE_TRUE_DIVIDE:
            if (b == 0.0) {
                return 0;
            }
            *res = a / b;
            return 1;
    }
    return 0;
}

/* Return the boxed result, consuming the references to both operands.
   Like DECREF_INPUTS_AND_REUSE_FLOAT, reuse a float operand that is about
   to die instead of allocating a new float. */
static inline PyObject *
_PyQuicken_BoxFloatResult(PyObject *left, PyObject *right, double d)
{
    if (PyFloat_CheckExact(left) && Py_REFCNT(left) == 1) {
        ((PyFloatObject *)left)->ob_fval = d;
        Py_DECREF(right);
        return left;
    }
    if (PyFloat_CheckExact(right) && Py_REFCNT(right) == 1) {
        ((PyFloatObject *)right)->ob_fval = d;
        Py_DECREF(left);
        return right;
    }
    PyObject *res = PyFloat_FromDouble(d);
    Py_DECREF(left);
    Py_DECREF(right);
    return res;
}

/* Specializer check: can BINARY_OP with this oparg and these operands
   use BINARY_OP_MIXED_FLOAT? */
static inline int
_PyQuicken_CanSpecializeMixedFloatOp(PyObject *lhs, PyObject *rhs, int oparg)
{
    double a, b, unused;
    if (!_PyQuicken_MixedFloatOperands(lhs, rhs, &a, &b)) {
        return 0;
    }
    if (PyFloat_CheckExact(lhs) && PyFloat_CheckExact(rhs) &&
        oparg != NB_TRUE_DIVIDE && oparg != NB_INPLACE_TRUE_DIVIDE)
    {
        /* BINARY_OP_{ADD,SUBTRACT,MULTIPLY}_FLOAT are better. */
        return 0;
    }
    return _PyQuicken_FloatBinaryOp(oparg, a, b, &unused);
}

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_FLOAT_H */
