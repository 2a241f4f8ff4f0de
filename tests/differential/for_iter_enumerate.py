"""FOR_ITER over enumerate (0006: FOR_ITER_ENUMERATE, fused with UNPACK_SEQUENCE 2).

Guard space: exact enumerate over exact list / tuple / range iterators
followed by UNPACK_SEQUENCE 2; start values 0, negative, near and beyond
sys.maxsize (index overflowing into a long) and big ints; deopt on
enumerate over other iterators (str, generators, dict, iterators that
raise, list subclasses overriding __iter__), enumerate subclasses, plain
lists of pairs at the same site, unpacking to 3 targets and nested
unpacking; lists mutated during iteration (append, pop, clear, slice
assignment, element replacement); partially consumed and exhausted
enumerate objects; break / return / exceptions / generators.
"""

import sys

from _harness import check, expect_live, fresh, live, outcome, show, warm

expect_live("FOR_ITER_ENUMERATE")


def loop(it, hook, out):
    for i, x in it:
        out.append((i, x))
        hook(i, x)
    return "done"


def loop_syntax(seq, start, hook, out):
    for i, x in enumerate(seq, start):
        out.append((i, x))
        hook(i, x)
    return "done"


def loop_nested_unpack(seq, out):
    for i, (a, b) in enumerate(seq):
        out.append((i, a, b))
    return "done"


def loop_unfused(seq, out):
    for pair in enumerate(seq):
        out.append(pair)
    return "done"


def loop_three(it, out):
    for a, b, c in it:
        out.append((a, b, c))
    return "done"


def noop(i, x):
    pass


def run(label, fn, *args):
    out = []
    r = outcome(fn, *args, out)
    show(label, (r, out[:20], len(out)))


MAX = sys.maxsize
seqs = {"list": lambda: list("abcdefgh"), "tuple": lambda: tuple("abcdefgh"), "range": lambda: range(100, 108)}

for name, make in seqs.items():
    f = fresh(loop_syntax)
    warm(f, make(), 0, noop, [])
    for start in (0, 1, -5, -(2**62), MAX - 3, MAX - 1, MAX, MAX + 1, -MAX - 2, 2**64, -(2**100), True, 2**30):
        run(f"{name} start={start}", f, make(), start, noop)
    check(f"{name} start=1.5", f, make(), 1.5, noop, [])
    check(f"{name} start='a'", f, make(), "a", noop, [])
    live(f)

    g = fresh(loop)
    warm(g, enumerate(make()), noop, [])
    e = enumerate(make(), MAX - 2)
    next(e)
    run(f"{name} partially consumed near maxsize", g, e, noop)
    run(f"{name} exhausted", g, e, noop)
    live(g)


class Hooks:
    def __init__(self, seq, action, at):
        self.seq, self.action, self.at, self.n = seq, action, at, 0

    def __call__(self, i, x):
        self.n += 1
        if self.n != self.at:
            return
        s = self.seq
        if self.action == "append":
            s.append("appended")
        elif self.action == "extend_many":
            s.extend(range(50))
        elif self.action == "pop":
            s.pop()
        elif self.action == "pop0":
            s.pop(0)
        elif self.action == "clear":
            s.clear()
        elif self.action == "insert0":
            s.insert(0, "inserted")
        elif self.action == "replace":
            s[-1] = "replaced"
        elif self.action == "slice":
            s[:] = ["x", "y"]
        elif self.action == "raise":
            raise IndexError("raised in body")


f = fresh(loop_syntax)
warm(f, list(range(10)), 0, noop, [])
for action in ("append", "extend_many", "pop", "pop0", "clear", "insert0", "replace", "slice", "raise"):
    for at in (1, 3, 8):
        seq = list("abcdefgh")
        run(f"list mutate {action} at {at}", f, seq, 0, Hooks(seq, action, at))
        seq = list("abcdefgh")
        run(f"list mutate {action} at {at} start near max", f, seq, MAX - 2, Hooks(seq, action, at))
live(f)


def gen():
    yield "g1"
    yield "g2"


def gen_raises():
    yield "r1"
    raise ValueError("generator failed")


class ListIterOverride(list):
    def __iter__(self):
        return iter(["over", "ridden"])


class ListSub(list):
    pass


class MyEnumerate(enumerate):
    def __next__(self):
        i, x = super().__next__()
        return i * 10, x


class StopsEarly:
    def __iter__(self):
        return self

    def __next__(self):
        raise StopIteration


g = fresh(loop)
warm(g, enumerate([1, 2, 3]), noop, [])
others = [
    ("str", lambda: enumerate("xyz")),
    ("generator", lambda: enumerate(gen())),
    ("generator raising", lambda: enumerate(gen_raises())),
    ("dict", lambda: enumerate({"a": 1, "b": 2})),
    ("set", lambda: enumerate({7})),
    ("list subclass", lambda: enumerate(ListSub([5, 6]))),
    ("list subclass override", lambda: enumerate(ListIterOverride([5, 6]))),
    ("enumerate subclass", lambda: MyEnumerate(["m", "n"])),
    ("enumerate of enumerate", lambda: enumerate(enumerate("ab"))),
    ("reversed list", lambda: enumerate(reversed([1, 2]))),
    ("big range", lambda: enumerate(range(2**63, 2**63 + 3))),
    ("iterator of list", lambda: enumerate(iter([8, 9]))),
    ("stops early", lambda: enumerate(StopsEarly())),
    ("list of pairs", lambda: [(1, "p"), (2, "q")]),
    ("zip", lambda: zip("ab", "cd")),
    ("bad pairs", lambda: [(1, 2, 3)]),
    ("items", lambda: {1: 2}.items()),
    ("tuple", lambda: enumerate(("t1", "t2"))),
    ("range", lambda: enumerate(range(3))),
]
for label, make in others:
    run(f"other {label}", g, make(), noop)
warm(g, enumerate([1, 2, 3]), noop, [])
for label, make in others:
    run(f"other again {label}", g, make(), noop)
live(g)

h = fresh(loop_nested_unpack)
warm(h, [(1, 2), (3, 4)])
for label, seq in [("pairs", [(1, 2), (3, 4)]), ("lists", [[5, 6]]), ("bad", [(1, 2, 3)]), ("str", ["ab", "c"])]:
    run(f"nested unpack {label}", h, seq)
live(h)
u = fresh(loop_unfused)
warm(u, [1, 2])
run("unfused", u, ["a", "b"])
t = fresh(loop_three)
warm(t, [(1, 2, 3)])
run("three targets enumerate", t, enumerate("ab"))
run("three targets enumerate of pairs", t, enumerate([(1, 2)]))


# Break, return, exceptions and generators.
def find(seq, wanted):
    for i, x in enumerate(seq):
        if x == wanted:
            return i
    return -1


def first_neg(seq):
    for i, x in enumerate(seq, 1):
        if x < 0:
            break
    else:
        return "none"
    return i


def gen_enum(seq):
    for i, x in enumerate(seq):
        yield i * x


def body_raises(seq):
    out = []
    for i, x in enumerate(seq):
        out.append(x // (i - 3))
    return out


for fn, argsets in [(find, [(list(range(20)), 7), (tuple("abc"), "z"), (range(10), 9), ("abc", "c")]),
                    (first_neg, [([1, 2, -3],), ((1, 2),), (range(-1, 2),)]),
                    (body_raises, [([1, 2, 3],), ([5] * 6,)])]:
    f = fresh(fn)
    warm(f, *argsets[0])
    for args in argsets:
        check(f"{fn.__name__} {args!r}", f, *args)
    live(f)
gg = fresh(gen_enum)
warm(lambda: list(gg([1, 2, 3])))
it = gg(list(range(10)))
show("gen first", [next(it), next(it)])
it.close()
show("gen full", list(gg((4, 5, 6))))
live(gg)


# One enumerate object consumed by two nested specialized loops.
def nested_same(e):
    out = []
    for i, x in e:
        for j, y in e:
            out.append((i, x, j, y))
            break
    return out


f = fresh(nested_same)
warm(lambda: f(enumerate(range(9))))
check("nested same enumerate list", f, enumerate(list("abcdefg")))
check("nested same enumerate near max", f, enumerate((1, 2, 3, 4, 5), MAX - 2))
live(f)


# Enumerate state after a specialized loop stopped early: __reduce__ and
# pickling, next(), near and beyond sys.maxsize.
import operator  # noqa: E402
import pickle  # noqa: E402


def take(e, n):
    c = 0
    for i, x in e:
        c += 1
        if c == n:
            break
    return c


tk = fresh(take)
for _ in range(64):
    tk(enumerate(list(range(10))), 3)
live(tk)
for label, make in [("list", lambda: enumerate(list("abcdef"))), ("tuple", lambda: enumerate(tuple("abcdef"), -3)),
                    ("range", lambda: enumerate(range(6), 2**70)), ("near max", lambda: enumerate(list("abcdef"), MAX - 1)),
                    ("at max", lambda: enumerate(list("abcdef"), MAX))]:
    e = make()
    n = tk(e, 3)
    red = e.__reduce__()
    show(f"state {label}", (n, red[0].__name__, red[1][1], operator.length_hint(red[1][0])))
    copy = pickle.loads(pickle.dumps(make()))
    show(f"state {label} pickled fresh", (tk(copy, 2), next(copy)))
    show(f"state {label} next", (outcome(next, e), tk(e, 100), outcome(next, e)))
