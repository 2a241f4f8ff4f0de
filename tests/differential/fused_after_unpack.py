"""Fused FOR_ITER superinstructions after the UNPACK_SEQUENCE specialized first.

"for k, v in ...": when the loop first iterates a list of pairs (or of
lists), its UNPACK_SEQUENCE 2 specializes (UNPACK_SEQUENCE_TWO_TUPLE /
UNPACK_SEQUENCE_LIST) before the FOR_ITER sees a dict item iterator or an
enumerate object.  FOR_ITER_DICT_ITEMS (0003) and FOR_ITER_ENUMERATE (0006)
must still be installed once the site is re-warmed with dict items /
enumerate.  This is a lost specialization, not an output difference: this
program is the only one whose sites reach these two instructions through
that path, and nothing else here reaches them, so the liveness check sees
whether they were installed.
"""

import os

from _harness import expect_live, fresh, live, outcome, show, warm

expect_live("FOR_ITER_DICT_ITEMS", "FOR_ITER_ENUMERATE")


def pairs_loop(it):
    total = []
    for k, v in it:
        total.append((k, v))
    return total


def enum_loop(it):
    total = []
    for i, x in it:
        total.append((i, x))
    return total


D = {f"k{i}": i for i in range(100)}
L = [f"x{i}" for i in range(100)]

for first_label, first in [("tuples", [(i, -i) for i in range(100)]),
                           ("lists", [[i, -i] for i in range(100)])]:
    f = fresh(pairs_loop)
    show(f"dict items after {first_label} warm", warm(f, first)[1][:3])
    # Re-warm with dict items: each call misses 100 times, enough for the
    # FOR_ITER to re-specialize.
    result = warm(f, D.items())
    show(f"dict items after {first_label} result", (result[0], result[1][:3], len(result[1])))
    show(f"dict items after {first_label} changed dict", f({"a": 1, "b": 2}.items()))
    live(f)

    g = fresh(enum_loop)
    show(f"enumerate after {first_label} warm", warm(g, first)[1][:3])
    for _ in range(64):
        result = outcome(g, enumerate(L))
    show(f"enumerate after {first_label} result", (result[0], result[1][:3], len(result[1])))
    show(f"enumerate after {first_label} start", g(enumerate("ab", 5)))
    live(g)
    if os.environ.get("QUICKEN_DEBUG_SITES"):
        import sys
        print(first_label, sorted(live(f)), sorted(live(g)), file=sys.stderr)


# Same, with a loop that switches inside a single execution: the sequence
# of pairs comes first, then the dict items / enumerate of the same outer
# loop (the inner site is the one that has to re-specialize).
def switch(sources):
    out = 0
    for src in sources:
        for a, b in src:
            out += 1
    return out


s = fresh(switch)
show("switch", s([[(1, 2)] * 80, D.items(), D.items(), enumerate(L), enumerate(L)] * 3))
show("switch again", s([D.items(), enumerate(L)] * 5))
live(s)
