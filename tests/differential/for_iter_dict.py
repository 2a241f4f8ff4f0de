"""FOR_ITER over dict iterators (0003: FOR_ITER_DICT, FOR_ITER_DICT_ITEMS).

Guard space: exact dict key / value iterators (FOR_ITER_DICT), exact dict
item iterators followed by UNPACK_SEQUENCE 2 (FOR_ITER_DICT_ITEMS, which
skips the unpack); deopt on other iterators at the same site (lists of
pairs, reversed dict iterators, OrderedDict, dict subclasses overriding
__iter__/items, generators, zip); unpack to 3 targets; partially consumed
and exhausted iterators; mutation during iteration: size changed (added /
deleted keys, clear, update), keys changed at the same size, values
changed (allowed), and the error state being sticky; split (instance)
dicts, dicts with deleted entries, big dicts; break / return /
exceptions / generators inside the loop.
"""

from collections import OrderedDict

from _harness import check, expect_live, fresh, live, outcome, show, warm

expect_live("FOR_ITER_DICT", "FOR_ITER_DICT_ITEMS")


def loop_single(it, hook, out):
    for x in it:
        out.append(x)
        hook(it, x)
    return "done"


def loop_pairs(it, hook, out):
    for k, v in it:
        out.append((k, v))
        hook(it, k)
    return "done"


def loop_keys_syntax(d, hook, out):
    for k in d.keys():
        out.append(k)
        hook(d, k)
    return "done"


def loop_values_syntax(d, hook, out):
    for v in d.values():
        out.append(v)
        hook(d, v)
    return "done"


def loop_items_syntax(d, hook, out):
    for k, v in d.items():
        out.append((k, v))
        hook(d, k)
    return "done"


def loop_triples(it, hook, out):
    for a, b, c in it:
        out.append((a, b, c))
    return "done"


def noop(it, x):
    pass


def run(label, fn, it, hook=noop):
    out = []
    r = outcome(fn, it, hook, out)
    show(label, (r, out))


def make(n=8, start=0):
    return {f"k{i}": i * i for i in range(start, start + n)}


TARGET = {}


def mutator(action, at=2):
    state = {"n": 0}

    def hook(it, x):
        state["n"] += 1
        if state["n"] != at:
            return
        d = TARGET["d"]
        if action == "add":
            d["new"] = -1
        elif action == "delete":
            del d[next(iter(d))]
        elif action == "delete_add":
            del d["k0"]
            d["other"] = -2
        elif action == "pop_reinsert":
            v = d.pop("k1")
            d["k1"] = v
        elif action == "set_value":
            d["k3"] = "changed"
        elif action == "set_all_values":
            for key in d:
                d[key] = None
        elif action == "clear":
            d.clear()
        elif action == "update_new":
            d.update({"u1": 1, "u2": 2})
        elif action == "update_same":
            d.update({"k0": "same-key"})
        elif action == "setdefault_existing":
            d.setdefault("k0", 5)
        elif action == "grow_many":
            for i in range(100):
                d[i] = i
        elif action == "delete_add_delete":
            d["tmp"] = 1
            del d["tmp"]
        elif action == "raise":
            raise KeyError("from the body")
    return hook


ACTIONS = ["add", "delete", "delete_add", "pop_reinsert", "set_value", "set_all_values", "clear",
           "update_new", "update_same", "setdefault_existing", "grow_many", "delete_add_delete", "raise"]

VIEWS = {
    "keys": (lambda d: d, loop_single),
    "iter-keys": (lambda d: iter(d), loop_single),
    "values": (lambda d: d.values(), loop_single),
    "items": (lambda d: d.items(), loop_pairs),
    "items-unfused": (lambda d: d.items(), loop_single),
    "keys()": (lambda d: d, loop_keys_syntax),
    "values()": (lambda d: d, loop_values_syntax),
    "items()": (lambda d: d, loop_items_syntax),
}

for view, (make_it, base) in VIEWS.items():
    f = fresh(base)
    warm(f, make_it(make()), noop, [])
    run(f"{view} plain", f, make_it(make()))
    run(f"{view} empty", f, make_it({}))
    for action in ACTIONS:
        for at in (1, 3, 8):
            d = make()
            TARGET["d"] = d
            run(f"{view} mutate {action} at {at}", f, make_it(d), mutator(action, at))
            show(f"{view} mutate {action} at {at} dict after", d)
    live(f)

# Sticky error state: an iterator that raised keeps raising (or stops).
for view in ("keys", "values", "items"):
    make_it, base = VIEWS[view]
    f = fresh(base)
    warm(f, iter(make_it(make())), noop, [])
    d = make()
    TARGET["d"] = d
    it = iter(make_it(d))
    run(f"{view} sticky first", f, it, mutator("add", 2))
    run(f"{view} sticky second", f, it)
    check(f"{view} sticky next()", next, it, "exhausted")
    d2 = make()
    TARGET["d"] = d2
    it2 = iter(make_it(d2))
    run(f"{view} keys-changed first", f, it2, mutator("delete_add", 2))
    run(f"{view} keys-changed second", f, it2)
    live(f)

# Partially consumed and exhausted iterators; other iterables at the sites.
f_single = fresh(loop_single)
f_pairs = fresh(loop_pairs)
f_triples = fresh(loop_triples)
warm(f_single, make(), noop, [])
warm(f_pairs, make().items(), noop, [])
warm(f_triples, {(1, 2, 3): 0}, noop, [])
for label, fn, make_it in [("single", f_single, lambda d: iter(d.values())),
                           ("pairs", f_pairs, lambda d: iter(d.items()))]:
    it = make_it(make())
    next(it), next(it)
    run(f"{label} partially consumed", fn, it)
    run(f"{label} exhausted", fn, it)


class DictIterOverride(dict):
    def __iter__(self):
        return iter(sorted(dict.keys(self), reverse=True))

    def items(self):
        return [("over", "ridden")]

    def values(self):
        return ["overridden"]


class DictSub(dict):
    pass


class Obj:
    pass


obj = Obj()
obj.a, obj.b, obj.c = 1, 2, 3
holes = make(20)
for i in range(0, 20, 3):
    del holes[f"k{i}"]
big = {i: str(i) for i in range(2000)}
for label, d in [("subclass", DictSub(make())), ("override", DictIterOverride(make())),
                 ("ordered", OrderedDict(make())), ("split", obj.__dict__), ("holes", holes),
                 ("nonstr", {(1, 2): 3, None: 4, 1.5: 5, -1: 6, frozenset(): 7}), ("big", big)]:
    res_keys = []
    run(f"{label} keys", f_single, d)
    run(f"{label} values", f_single, d.values())
    out = []
    show(f"{label} items", (outcome(f_pairs, d.items(), noop, out), out[:12], len(out)))
    run(f"{label} reversed keys", f_single, reversed(d) if not isinstance(d, DictIterOverride) else [])
    out = []
    show(f"{label} reversed items", (outcome(f_pairs, reversed(d.items()), noop, out), out[:6]))
for label, it in [("list of pairs", [(1, 2), (3, 4)]), ("list of lists", [[1, 2]]), ("zip", zip("ab", "cd")),
                  ("generator", ((i, -i) for i in range(3))), ("bad pair", [(1, 2, 3)]), ("not iterable", 5),
                  ("string pairs", ["ab", "cd"]), ("too short", [(1,)]), ("dict of pair keys", {(1, 2): 0, (3, 4): 0})]:
    run(f"pairs site {label}", f_pairs, it)
for label, it in [("items to 3 targets", make(2).items()), ("triple keys", {(1, 2, 3): 0, (4, 5, 6): 1}),
                  ("pair values", {1: (1, 2)}.values())]:
    run(f"triples site {label}", f_triples, it)
live(f_single)
live(f_pairs)


# Break, return, exceptions and generators inside the loop.
def first_match(d, wanted):
    for k, v in d.items():
        if v == wanted:
            return k
    return None


def sum_until(d, stop):
    total = 0
    for v in d.values():
        if v == stop:
            break
        total += v
    else:
        total = -total
    return total


def gen_items(d):
    for k, v in d.items():
        yield f"{k}={v}"


def nested(d):
    out = []
    for k1 in d:
        for k2, v2 in d.items():
            if v2 > 9:
                break
            out.append((k1, k2))
    return len(out), out[:5]


def body_raises(d):
    out = []
    for k, v in d.items():
        out.append(1 // (v - 4))
    return out


for fn, argsets in [(first_match, [(make(), 9), (make(), 100), ({}, 0)]),
                    (sum_until, [(make(), 16), (make(), -1)]),
                    (nested, [(make(5),)]),
                    (body_raises, [(make(3),), (make(),)])]:
    f = fresh(fn)
    warm(f, *argsets[0])
    for args in argsets:
        check(f"{fn.__name__} {args!r}", f, *args)
    live(f)
g = fresh(gen_items)
warm(lambda: list(g(make())))
gen = g(make())
show("generator first", next(gen))
show("generator second", next(gen))
gen.close()
show("generator closed", outcome(next, gen, "closed"))
show("generator full", list(g(make(4))))
live(g)


# One iterator consumed by two nested specialized loops.
def nested_same_iterator(it):
    out = []
    for k, v in it:
        for k2, v2 in it:
            out.append((k, k2))
            break
    return out


def nested_same_keys(it):
    out = []
    for k in it:
        for k2 in it:
            out.append((k, k2))
            if k2 == "k5":
                break
    return out


f = fresh(nested_same_iterator)
warm(lambda: f(iter(make(9).items())))
check("nested same items iterator", f, iter(make(9).items()))
check("nested same items view", f, make(5).items())
g = fresh(nested_same_keys)
warm(lambda: g(iter(make(9))))
check("nested same keys iterator", g, iter(make(9)))
check("nested same values iterator", g, iter(make(9).values()))
live(f)
live(g)


# Iterator state after a specialized loop stopped early, ran out, or
# raised: length_hint, __reduce__ (remaining items), next().
import operator  # noqa: E402


def take_pairs(it, n):
    c = 0
    for k, v in it:
        c += 1
        if c == n:
            break
    return c


def take_single(it, n):
    c = 0
    for k in it:
        c += 1
        if c == n:
            break
    return c


tp, ts = fresh(take_pairs), fresh(take_single)
D10 = {i: -i for i in range(10)}
for _ in range(64):
    tp(iter(D10.items()), 3)
    ts(iter(D10), 3)
    ts(iter(D10.values()), 3)
live(tp)
live(ts)
for label, fn, make_it, n in [("items", tp, lambda d: iter(d.items()), 3), ("keys", ts, iter, 4),
                              ("values", ts, lambda d: iter(d.values()), 5), ("items all", tp, lambda d: iter(d.items()), 100)]:
    it = make_it(dict(D10))
    show(f"state {label}", (fn(it, n), operator.length_hint(it), it.__reduce__()))
    show(f"state {label} next", outcome(next, it))
for label, fn, make_it in [("items", tp, lambda d: iter(d.items())), ("keys", ts, iter), ("values", ts, lambda d: iter(d.values()))]:
    d = dict(D10)
    it = make_it(d)
    fn(it, 2)
    d[100] = 1
    show(f"state {label} after size change", (outcome(fn, it, 100), operator.length_hint(it), outcome(it.__reduce__)))
    del d[100]
    show(f"state {label} after size restored", (outcome(fn, it, 100), outcome(next, it)))
