/* Byte loads and stores for BINARY_SUBSCR_BYTES_INT and
   STORE_SUBSCR_BYTEARRAY_INT; included by Objects/bytearrayobject.c.
   See Include/internal/pycore_quicken_bytes.h. */

PyObject *
_PyQuicken_LoadByte(PyObject *container, PyObject *sub)
{
    Py_ssize_t index = _PyQuicken_ByteIndex(sub);
    if (index < 0 || index >= Py_SIZE(container)) {
        return NULL;
    }
    unsigned char byte;
    if (PyBytes_CheckExact(container)) {
        byte = (unsigned char)PyBytes_AS_STRING(container)[index];
    }
    else if (PyByteArray_CheckExact(container)) {
        byte = (unsigned char)PyByteArray_AS_STRING(container)[index];
    }
    else {
        return NULL;
    }
    return (PyObject *)&_PyLong_SMALL_INTS[_PY_NSMALLNEGINTS + byte];
}

int
_PyQuicken_StoreByte(PyObject *container, PyObject *sub, PyObject *value)
{
    Py_ssize_t index = _PyQuicken_ByteIndex(sub);
    Py_ssize_t byte = _PyQuicken_ByteIndex(value);
    if (!PyByteArray_CheckExact(container) ||
        index < 0 || index >= Py_SIZE(container) || byte < 0 || byte > 255)
    {
        return 0;
    }
    PyByteArray_AS_STRING(container)[index] = (char)byte;
    return 1;
}
