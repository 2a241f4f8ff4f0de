/* Helpers for the BINARY_OP_INT_COMPACT specialization.
 *
 * BINARY_OP_INT_COMPACT handles the integer operators that the other
 * BINARY_OP specializations do not cover (&, |, ^, %, //, <<, >> and their
 * in-place forms) when both operands are exact, compact ints.  A compact
 * int fits in a single digit, so every result computed here fits in a
 * Py_ssize_t without overflow.
 */
#ifndef Py_INTERNAL_QUICKEN_LONG_H
#define Py_INTERNAL_QUICKEN_LONG_H
#ifdef __cplusplus
extern "C" {
#endif

#ifndef Py_BUILD_CORE
#  error "this header requires Py_BUILD_CORE define"
#endif

#include "pycore_long.h"          // _PyLong_BothAreCompact()
#include "opcode.h"               // NB_AND

/* Largest left shift of a compact int that cannot overflow a Py_ssize_t. */
#define _PyQuicken_MAX_COMPACT_LSHIFT \
    ((Py_ssize_t)(8 * sizeof(Py_ssize_t)) - PyLong_SHIFT - 2)

/* Return 1 if oparg is an operator handled by BINARY_OP_INT_COMPACT. */
static inline int
_PyQuicken_IsCompactIntOp(int oparg)
{
    switch (oparg) {
        case NB_AND: case NB_INPLACE_AND:
        case NB_OR: case NB_INPLACE_OR:
        case NB_XOR: case NB_INPLACE_XOR:
        case NB_REMAINDER: case NB_INPLACE_REMAINDER:
        case NB_FLOOR_DIVIDE: case NB_INPLACE_FLOOR_DIVIDE:
        case NB_LSHIFT: case NB_INPLACE_LSHIFT:
        case NB_RSHIFT: case NB_INPLACE_RSHIFT:
            return 1;
    }
    return 0;
}

/* Compute "a <op> b" for the values of two compact ints.
 *
 * Return 0 (without computing anything) if the generic code path must be
 * taken: division or modulo by zero (raises ZeroDivisionError), a negative
 * shift count (raises ValueError), or a left shift that could leave the
 * Py_ssize_t range.  Otherwise store the result in *res and return 1.
 * The semantics are exactly those of long_and(), long_mod(), ...
 */
static inline int
_PyQuicken_CompactIntBinaryOp(int oparg, Py_ssize_t a, Py_ssize_t b,
                              Py_ssize_t *res)
{
    switch (oparg) {
        case NB_AND:
        case NB_INPLACE_AND:
            *res = a & b;
            return 1;
        case NB_OR:
        case NB_INPLACE_OR:
            *res = a | b;
            return 1;
        case NB_XOR:
        case NB_INPLACE_XOR:
            *res = a ^ b;
            return 1;
        case NB_REMAINDER:
        case NB_INPLACE_REMAINDER: {
            if (b == 0) {
                return 0;
            }
            /* Python's % takes the sign of the divisor (floor semantics). */
            Py_ssize_t r = a % b;
            if (r != 0 && ((r ^ b) < 0)) {
                r += b;
            }
            *res = r;
            return 1;
        }
        case NB_FLOOR_DIVIDE:
        case NB_INPLACE_FLOOR_DIVIDE: {
            if (b == 0) {
                return 0;
            }
            /* C division truncates towards zero; Python floors. */
            Py_ssize_t q = a / b;
            if ((a % b) != 0 && ((a ^ b) < 0)) {
                q -= 1;
            }
            *res = q;
            return 1;
        }
        case NB_LSHIFT:
        case NB_INPLACE_LSHIFT:
            if (b < 0 || b > _PyQuicken_MAX_COMPACT_LSHIFT) {
                return 0;
            }
            /* Multiply rather than shift: left-shifting a negative value
               is undefined behaviour in C. */
            *res = a * ((Py_ssize_t)1 << b);
            return 1;
        case NB_RSHIFT:
        case NB_INPLACE_RSHIFT:
            if (b < 0) {
                return 0;
            }
            if (b >= (Py_ssize_t)(8 * sizeof(Py_ssize_t))) {
                *res = a < 0 ? -1 : 0;
                return 1;
            }
            /* Floor semantics for negative a, without relying on the
               implementation-defined right shift of negative values. */
            *res = a >= 0 ? (a >> b) : ~((~a) >> b);
            return 1;
    }
    return 0;
}

/* Box the result of _PyQuicken_CompactIntBinaryOp().  Small ints are
   immortal singletons: return them without a function call. */
static inline PyObject *
_PyQuicken_LongFromSsize_t(Py_ssize_t v)
{
    if (_PY_IS_SMALL_INT(v)) {
        return (PyObject *)&_PyLong_SMALL_INTS[_PY_NSMALLNEGINTS + v];
    }
    return PyLong_FromSsize_t(v);
}

/* Specializer check: can BINARY_OP with this oparg and these operands
   use BINARY_OP_INT_COMPACT? */
static inline int
_PyQuicken_CanSpecializeCompactIntOp(PyObject *lhs, PyObject *rhs, int oparg)
{
    if (!_PyQuicken_IsCompactIntOp(oparg) ||
        !PyLong_CheckExact(lhs) || !PyLong_CheckExact(rhs) ||
        !_PyLong_BothAreCompact((PyLongObject *)lhs, (PyLongObject *)rhs))
    {
        return 0;
    }
    Py_ssize_t unused;
    /* Don't specialize for a case that would always deoptimize. */
    return _PyQuicken_CompactIntBinaryOp(
        oparg, _PyLong_CompactValue((PyLongObject *)lhs),
        _PyLong_CompactValue((PyLongObject *)rhs), &unused);
}

#ifdef __cplusplus
}
#endif
#endif /* !Py_INTERNAL_QUICKEN_LONG_H */
