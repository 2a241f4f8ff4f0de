"""quicken calibrate: the layout probe and its commit."""

from __future__ import annotations

import pytest
import synthetic as S
from quicken import calibrate
from quicken.errors import QuickenError
from quicken.worktree import WorkTree

CEVAL = """\
#include "Python.h"

static int helper(void) { return 1; }

PyObject* _Py_HOT_FUNCTION
_PyEval_EvalFrameDefault(PyThreadState *tstate, _PyInterpreterFrame *frame, int throwflag)
{
    return NULL;
}
"""


def test_the_probe_goes_just_before_the_interpreter_loop() -> None:
    shifted = calibrate.insert_probe(CEVAL, 48)
    head, _, tail = shifted.partition("_PyQuicken_LayoutProbe(void)\n")
    assert 'static int helper(void) { return 1; }' in head and "_PyEval_EvalFrameDefault" not in head
    assert tail.startswith('{\n    __asm__ volatile (".skip 48, 0x90");\n}\n\nPyObject* _Py_HOT_FUNCTION\n')
    probe = shifted[len(CEVAL.split("PyObject*")[0]):shifted.index("PyObject* _Py_HOT")]
    assert shifted.replace(probe, "") == CEVAL  # nothing else changes
    assert calibrate.insert_probe(CEVAL, 48) == shifted  # deterministic


@pytest.mark.parametrize("shift", [0, -8, 5000])
def test_shift_must_be_a_sensible_number_of_bytes(shift: int) -> None:
    with pytest.raises(QuickenError, match="from 1 to 4096"):
        calibrate.insert_probe(CEVAL, shift)


def test_a_ceval_without_the_loop_definition_is_refused() -> None:
    with pytest.raises(QuickenError, match="found 0 times"):
        calibrate.insert_probe("int main(void) { return 0; }\n", 48)
    with pytest.raises(QuickenError, match="found 2 times"):
        calibrate.insert_probe(CEVAL + CEVAL, 48)


def test_probe_commit_on_a_tree_it_does_not_know(applied: S.Project) -> None:
    """The synthetic tree's ceval.c has no interpreter loop: one clear error, nothing written."""
    cfg = applied.cfg()
    with pytest.raises(QuickenError, match=r"Python/ceval\.c: the definition"):
        calibrate.probe_commit(cfg, "baseline", 48)
    assert WorkTree(cfg).repo().refs(calibrate.PROBE_REF) == {}
