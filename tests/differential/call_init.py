"""Calls of Python classes (0009: CALL_ALLOC_AND_ENTER_INIT_GENERAL).

Guard space: classes with object.__new__ and a Python __init__ that the
stock CALL_ALLOC_AND_ENTER_INIT does not take: __slots__ classes, __init__
with defaults left out, keyword-only parameters (with defaults), *args /
**kwargs, positional-only parameters, inherited __init__; the exact-arity
case (stock instruction) next to them.  Changes after specialization:
__abstractmethods__ set ("Can't instantiate abstract class" text),
__init__ replaced, __new__ added, __defaults__ / __kwdefaults__ changed or
removed (TypeError texts), __init__'s code replaced by a generator's,
__init__ returning non-None (TypeError text), raising (traceback frame
names), other callables at the same site, recursion through __init__,
RecursionError, frames seen from inside __init__ (f_back chain), and a
PEP 523 eval-frame hook enabled after the site specialized (the hook must
see the __init__ frame).
"""

import sys
import warnings

from _harness import eval_frame_record, expect_live, fresh, live, outcome, show, warm

expect_live("CALL_ALLOC_AND_ENTER_INIT_GENERAL")
warnings.filterwarnings("ignore", "Assigning a code object", DeprecationWarning)
warnings.filterwarnings("ignore", "coroutine", RuntimeWarning)


class Defaults:
    def __init__(self, x, y=2, z=3):
        self.args = (x, y, z)


class KwOnly:
    def __init__(self, x, *, scale=10, shift=1):
        self.args = (x, scale, shift)


class VarArgs:
    def __init__(self, *args, **kwargs):
        self.args = (args, kwargs)


class PosOnly:
    def __init__(self, a, b=5, /, c=6):
        self.args = (a, b, c)


class Sub(Defaults):
    pass


class Slotted:
    __slots__ = ("x", "y")

    def __init__(self, x, y=0.5):
        self.x = x
        self.y = y

    @property
    def args(self):
        return (self.x, self.y)


class SlottedExact:
    __slots__ = ("x",)

    def __init__(self, x):
        self.x = x

    @property
    def args(self):
        return (self.x,)


class SlotSub(Slotted):
    __slots__ = ("z",)


class Exact:
    def __init__(self, x):
        self.args = (x,)


class WithDict:
    __slots__ = ("__dict__", "s")

    def __init__(self, s, t=1):
        self.s = s
        self.t = t

    @property
    def args(self):
        return (self.s, self.t)


def call0(cls):
    return cls()


def call1(cls, a):
    return cls(a)


def call2(cls, a, b):
    return cls(a, b)


def call3(cls, a, b, c):
    return cls(a, b, c)


CALLERS = {0: call0, 1: call1, 2: call2, 3: call3}


def describe(obj):
    if isinstance(obj, (int, str, tuple, type(None))):
        return obj
    return (type(obj).__name__, getattr(obj, "args", None))


def run(label, fn, *args):
    r = outcome(fn, *args)
    show(label, ("ok", describe(r[1])) if r[0] == "ok" else r)


def fresh_class(init, name="Fresh", bases=(), **ns):
    return type(name, bases, {"__init__": init, **ns})


for cls in (Defaults, KwOnly, VarArgs, PosOnly, Sub, Slotted, SlottedExact, SlotSub, Exact, WithDict):
    for nargs in range(4):
        args = tuple(range(1, nargs + 1))
        f = fresh(CALLERS[nargs])
        warm(f, cls, *args)
        run(f"{cls.__name__} nargs={nargs}", f, cls, *args)
        # the same site with another arity-compatible class, then back
        run(f"{cls.__name__} nargs={nargs} then Defaults", f, Defaults, *((1,) * max(nargs, 1))[:nargs] if nargs else ())
        run(f"{cls.__name__} nargs={nargs} again", f, cls, *args)
        live(f)

# Abstract methods set after specialization.
cls = fresh_class(Defaults.__init__)
f = fresh(call1)
warm(f, cls, 1)
cls.__abstractmethods__ = frozenset({"f", "g"})
run("abstract after specialization", f, cls, 1)
run("abstract after specialization (again)", f, cls, 1)
cls.__abstractmethods__ = frozenset()
run("abstract cleared", f, cls, 1)
sl = fresh_class(Slotted.__init__, "SlottedAbstract", __slots__=("x", "y"))
g = fresh(call1)
warm(g, sl, 1)
sl.__abstractmethods__ = frozenset({"m"})
run("abstract slotted", g, sl, 1)
warm(g, sl, 1)
run("abstract slotted rewarmed", g, sl, 1)
live(f)
live(g)


# __init__ returning non-None, raising.
def returns_value(self, x, y=2):
    return x


def returns_none_explicitly(self, x, y=2):
    return None


def raises(self, x, y=2):
    if x < 0:
        raise ValueError(f"negative {x}")
    self.args = (x, y)


for init in (returns_value, returns_none_explicitly):
    c = fresh_class(init)
    f = fresh(call1)
    warm(f, c, 1)
    run(f"{init.__name__}", f, c, 1)
    run(f"{init.__name__} str", f, c, "s")
    live(f)

c = fresh_class(raises)
f = fresh(call1)
warm(f, c, 1)
try:
    f(c, -1)
except ValueError as exc:
    tb = exc.__traceback__
    names = []
    while tb is not None:
        names.append(tb.tb_frame.f_code.co_name)
        tb = tb.tb_next
    show("raise traceback", (str(exc), names))
run("raise then ok", f, c, 3)
live(f)


# __defaults__ / __kwdefaults__ / __code__ changed after specialization.
def init_d(self, x, y=2):
    self.args = (x, y)


c = fresh_class(init_d)
f = fresh(call1)
warm(f, c, 1)
init_d.__defaults__ = None
run("defaults removed", f, c, 1)
init_d.__defaults__ = (9,)
run("defaults changed", f, c, 1)
init_d.__defaults__ = (7, 8)
run("defaults grown", f, c, 1)
warm(f, c, 1)
init_d.__defaults__ = ()
run("defaults emptied", f, c, 1)
live(f)


def init_k(self, x, *, k=1):
    self.args = (x, k)


c = fresh_class(init_k)
f = fresh(call1)
warm(f, c, 1)
init_k.__kwdefaults__ = {"k": 5}
run("kwdefaults changed", f, c, 1)
init_k.__kwdefaults__ = None
run("kwdefaults removed", f, c, 1)
init_k.__kwdefaults__ = {"k": 6}
warm(f, c, 1)
init_k.__kwdefaults__ = {"other": 1}
run("kwdefaults wrong name", f, c, 1)
live(f)


def init_g(self, x, y=2):
    self.args = (x, y)


def gen_init(self, x, y=2):
    yield x


c = fresh_class(init_g)
f = fresh(call1)
warm(f, c, 1)
init_g.__code__ = gen_init.__code__
run("code replaced by generator", f, c, 1)


async def coro_init(self, x, y=2):
    return x


def init_c(self, x, y=2):
    self.args = (x, y)


c = fresh_class(init_c)
f = fresh(call1)
warm(f, c, 1)
init_c.__code__ = coro_init.__code__
r = outcome(f, c, 1)
show("code replaced by coroutine", r)
live(f)


# __init__ replaced, __new__ added, base class's __init__ changed.
c = fresh_class(Defaults.__init__)
f = fresh(call1)
warm(f, c, 1)


def other(self, x, y=20):
    self.args = ("other", x, y)


c.__init__ = other
run("init replaced", f, c, 1)
c.__init__ = lambda self, *a: setattr(self, "args", ("lambda", a))
run("init replaced by lambda", f, c, 1)
c.__init__ = print
run("init replaced by builtin", f, c, 1)
del c.__init__
run("init deleted", f, c, 1)
c.__init__ = other
warm(f, c, 1)
c.__new__ = lambda cls, *a: "from __new__"
run("new added", f, c, 1)
del c.__new__
run("new removed", f, c, 1)
Base = fresh_class(Defaults.__init__, "Base")
Child = type("Child", (Base,), {})
f = fresh(call1)
warm(f, Child, 1)
Base.__init__ = other
run("base init replaced", f, Child, 1)
live(f)

# Other callables at the same site.
f = fresh(call1)
warm(f, Defaults, 1)
for label, callee, arg in [("int", int, "7"), ("lambda", lambda a: a * 2, 4), ("KwOnly", KwOnly, 2),
                           ("Slotted", Slotted, 3), ("Exact", Exact, 4), ("bound method", "x{}".format, 5),
                           ("dict", dict, {1: 2}), ("type", type, 5), ("Defaults", Defaults, 3)]:
    run(f"other callable {label}", f, callee, arg)
live(f)


# Frames seen from inside __init__ and recursion.
def init_frames(self, x, y=2):
    chain = []
    frame = sys._getframe(1)
    while frame is not None and len(chain) < 3:
        chain.append(frame.f_code.co_name)
        frame = frame.f_back
    self.args = chain


c = fresh_class(init_frames)
f = fresh(call1)
warm(f, c, 1)
run("frames inside init", f, c, 1)


class Node:
    __slots__ = ("child",)

    def __init__(self, depth, limit=50):
        self.child = Node(depth + 1) if depth < limit else None


f = fresh(call1)
warm(f, Node, 45)
node = f(Node, 0)
depth = 0
while node.child is not None:
    node = node.child
    depth += 1
show("recursion depth", depth)


class Endless:
    def __init__(self, depth=0):
        Endless(depth + 1)


show("endless", outcome(call0, Endless)[:2])
live(f)

# A loop creating objects while the class changes inside the loop.
def make_many(cls, n, change_at):
    out = []
    for i in range(n):
        if i == change_at:
            cls.__init__.__defaults__ = (i * 100,)
        out.append(cls(i).args)
    return out


def init_m(self, x, y=0):
    self.args = (x, y)


c = fresh_class(init_m, "Many")
f = fresh(make_many)
show("make_many", f(c, 80, 70)[65:75])
live(f)

# PEP 523: a hook installed after the sites specialized sees __init__.
for cls, args in [(Slotted, (1,)), (Defaults, (1,)), (KwOnly, (2,)), (VarArgs, (1, 2)), (Exact, (1,))]:
    f = fresh(CALLERS[len(args)])
    warm(f, cls, *args)
    r, names = eval_frame_record(f, cls, *args)
    show(f"pep523 {cls.__name__}", (describe(r[1]) if r[0] == "ok" else r, names))
    live(f)


# super().__init__ (a __class__ cell) from a __slots__ class, closures as
# __init__, dataclasses with defaults and slots.
import dataclasses  # noqa: E402


class SlotBase:
    __slots__ = ("a",)

    def __init__(self, a=0):
        self.a = a


class SlotChild(SlotBase):
    __slots__ = ("b",)

    def __init__(self, b, a=-1):
        super().__init__(a)
        self.b = b

    @property
    def args(self):
        return (self.a, self.b)


def make_closure_class(offset):
    def __init__(self, x, y=offset):
        self.args = (x, y, offset)
    return type("Closure", (), {"__init__": __init__})


@dataclasses.dataclass
class DC:
    x: int
    y: int = 2
    z: list = dataclasses.field(default_factory=list)

    @property
    def args(self):
        return (self.x, self.y, self.z)


@dataclasses.dataclass(slots=True)
class DCSlots:
    x: int
    y: str = "y"

    @property
    def args(self):
        return (self.x, self.y)


@dataclasses.dataclass(frozen=True)
class DCFrozen:
    x: int
    y: int = 3

    @property
    def args(self):
        return (self.x, self.y)


for cls in (SlotChild, make_closure_class(7), DC, DCSlots, DCFrozen):
    f = fresh(call1)
    warm(f, cls, 1)
    run(f"{cls.__name__} call1", f, cls, 1)
    run(f"{cls.__name__} call1 str", f, cls, "s")
    live(f)
    r, names = eval_frame_record(f, cls, 2)
    show(f"pep523 {cls.__name__}", (describe(r[1]) if r[0] == "ok" else r, names))
