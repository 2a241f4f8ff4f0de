"""TO_BOOL of exact tuples, dicts, sets and frozensets (0005: TO_BOOL_SIZED).

Guard space: empty and non-empty exact tuple/dict/set/frozenset in if /
not / while / and / or; deopt on subclasses (plain, with __len__, with
__bool__, with __bool__ raising or returning a non-bool, __len__ negative
or too big), other containers, and other types; the container mutated
between executions (cleared, refilled) must be observed.
"""

from _harness import check, expect_live, fresh, live, outcome, show, warm

expect_live("TO_BOOL_SIZED")


def if_(x):
    if x:
        return "T"
    return "F"


def not_(x):
    return not x


def while_(x):
    n = 0
    while x:
        n += 1
        if n > 3:
            break
    return n


def and_(x, y):
    return (x and "and-yes", x or "or-no", bool(x) if x else "neg")


def cond_expr(x):
    return "yes" if x else "no"


class T(tuple):
    pass


class D(dict):
    pass


class S(set):
    pass


class FS(frozenset):
    pass


class LenT(tuple):
    def __len__(self):
        return 0


class BoolD(dict):
    def __bool__(self):
        return False


class BoolS(set):
    def __bool__(self):
        return True


class RaiseBool(tuple):
    def __bool__(self):
        raise ValueError("no truth for you")


class IntBool(dict):
    def __bool__(self):
        return 1


class NegLen(frozenset):
    def __len__(self):
        return -1


class HugeLen(set):
    def __len__(self):
        return 2**64


class Plain:
    pass


class LenOnly:
    def __len__(self):
        return 2


def values():
    return [
        (), (0,), (None, None), {}, {0: 0}, {"": None}, set(), {0}, frozenset(), frozenset({()}),
        T(), T((1,)), D(), D(a=1), S(), S({1}), FS(), FS({1}),
        LenT((1, 2)), BoolD(a=1), BoolS(), RaiseBool((1,)), IntBool(), NegLen({1}), HugeLen(),
        [], [0], "", "x", 0, 1, 0.0, None, Plain(), LenOnly(), range(0), range(2), b"", bytearray(b"x"),
        {}.keys(), {1: 2}.values(), {1: 2}.items(), memoryview(b""),
    ]


def describe(v):
    return f"{type(v).__name__}({len(v) if type(v) in (tuple, dict, set, frozenset) else ''})"


for fn in (if_, not_, while_, and_, cond_expr):
    for warm_value in ((), (1, 2), {}, {1: 2}, set(), {3}, frozenset(), frozenset({4})):
        f = fresh(fn)
        args = (warm_value,) if fn is not and_ else (warm_value, warm_value)
        warm(f, *args)
        for v in values():
            a = (v,) if fn is not and_ else (v, v)
            show(f"{fn.__name__} warm={describe(warm_value)} {describe(v)}", outcome(f, *a))
        warm(f, *args)
        show(f"{fn.__name__} warm={describe(warm_value)} rewarmed", [outcome(f, *((x,) if fn is not and_ else (x, x)))
                                                                     for x in ((), (1,), {}, {1: 1}, set(), {1}, frozenset(), frozenset({1}))])
        live(f)


# Mutation between executions is observed.
d, s, lst = {}, set(), []
f = fresh(if_)
warm(f, d)
out = []
for i in range(8):
    out.append(f(d))
    out.append(f(s))
    d[i] = i
    s.add(i)
    if i % 3 == 2:
        d.clear()
        s.clear()
show("mutation", out)
live(f)


# A queue emptied by the loop it controls: the while test specializes on
# the non-empty set and must stop exactly when it becomes empty.
def drain(todo):
    seen = []
    while todo:
        seen.append(todo.pop())
        if len(seen) == 5 and isinstance(todo, set):
            todo.add(-1)
    return sorted(seen)


check("drain set", drain, set(range(20)))


def drain_dict(d):
    n = 0
    while d:
        d.popitem()
        n += 1
    return n


check("drain dict", drain_dict, {i: i for i in range(10)})
check("drain S", drain, S(range(7)))


# Type change within one execution.
def truth_list(items):
    return ["T" if x else "F" for x in items]


f = fresh(truth_list)
show("truth_list", outcome(f, [(), (1,)] * 40 + values()))
show("truth_list again", outcome(f, values() + [{}, {1: 1}] * 40))
live(f)
