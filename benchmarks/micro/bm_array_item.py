"""Micro-benchmark: ``array.array`` items read and written by int index.

Exercises BINARY_SUBSCR and STORE_SUBSCR on ``array('d')`` and
``array('i')`` with int indices: the inner loop of a sparse matrix-vector
product (scimark's sparse_mat_mult shape) over 256 elements.
"""

from __future__ import annotations

from array import array

import pyperf

SIZE = 256


def bench(loops: int, x: array, val: array, col: array, y: array) -> float:
    range_it = range(loops)
    indices = range(SIZE)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for i in indices:
            y[i] = x[col[i]] * val[i]
    elapsed = pyperf.perf_counter() - t0
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "y[i] = x[col[i]] * val[i] over array('d')/array('i') of 256 items"
    x = array("d", [i * 0.5 for i in range(SIZE)])
    val = array("d", [1.0 / (i + 1) for i in range(SIZE)])
    col = array("i", [(i * 7) % SIZE for i in range(SIZE)])
    y = array("d", [0.0]) * SIZE
    runner.bench_time_func("array_item", bench, x, val, col, y, inner_loops=SIZE)
