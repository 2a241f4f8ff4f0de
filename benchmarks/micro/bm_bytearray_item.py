"""Micro-benchmark: ``bytearray[i]`` get and set.

Exercises BINARY_SUBSCR and STORE_SUBSCR on a bytearray with int indices,
in a checksum-and-patch loop over a 256-byte buffer.
"""

from __future__ import annotations

import pyperf

SIZE = 256


def bench(loops: int, buf: bytearray) -> float:
    range_it = range(loops)
    indices = range(SIZE)
    t0 = pyperf.perf_counter()
    for _ in range_it:
        for i in indices:
            b = buf[i]
            buf[i] = b ^ 0x5A
    elapsed = pyperf.perf_counter() - t0
    return elapsed


if __name__ == "__main__":
    runner = pyperf.Runner()
    runner.metadata["description"] = "b = buf[i]; buf[i] = b ^ 0x5A over a 256-byte bytearray"
    data = bytearray(i & 0xFF for i in range(SIZE))
    runner.bench_time_func("bytearray_item", bench, data, inner_loops=SIZE)
