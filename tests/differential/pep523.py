"""PEP 523 frame-evaluation hooks over every family of the series.

_testinternalcapi.set_eval_frame_record(list) installs a hook that records
the name of every Python function whose frame it evaluates.  With the hook
installed, a specialized instruction that pushes a frame inline must not
hide that frame from the hook (CALL_ALLOC_AND_ENTER_INIT_GENERAL and the
__init__ of a __slots__ class or an __init__ with defaults in particular).
Printed: the recorded names for calls of sites that specialized before
the hook was installed, for sites warmed while it is installed (the
specializer runs under the hook), for the hook switched on and off inside
a running specialized loop, and the results after it is removed again.
"""

import _testinternalcapi

import _families
from _harness import eval_frame_record, expect_live, fresh, live, outcome, show, warm

expect_live(*_families.EXPECTED)


def summary(names):
    """The first recorded names and how often each name was recorded."""
    counts = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    return names[:8], sorted(counts.items())


# Specialized before the hook.
warmed = _families.warm_all()
for name, f, args in warmed:
    r, names = eval_frame_record(f, *args())
    show(f"{name} warmed, hooked", (r, names))
    show(f"{name} after hook", outcome(f, *args()))
_families.record(warmed)


# Warmed while the hook is installed: the specializer runs under the hook.
def warm_under_hook(f, args, times=64):
    results = []
    for _ in range(times):
        results.append(f(*args()))
    return results[-1]


for name, fn, args in _families.cases():
    f = fresh(fn)
    r, names = eval_frame_record(warm_under_hook, f, args)
    show(f"{name} warmed under hook", (r, summary(names)))
    r, names = eval_frame_record(f, *args())
    show(f"{name} warmed under hook, hooked again", (r, names))
    show(f"{name} warmed under hook, unhooked", outcome(f, *args()))
    warm(f, *args())  # re-specializes without the hook
    live(f)
    r, names = eval_frame_record(f, *args())
    show(f"{name} rewarmed, hooked", (r, names))


# Classes called from one site: __slots__, defaults, kw-only, *args, exact.
class KwOnly:
    def __init__(self, x, *, k=3):
        self.args = (x, k)


class VarArgs:
    def __init__(self, *a, **kw):
        self.args = (a, kw)


class Exact:
    def __init__(self, x):
        self.args = (x,)


class SlotDefaults:
    __slots__ = ("a", "b")

    def __init__(self, a, b=None):
        self.a = a
        self.b = b

    @property
    def args(self):
        return (self.a, self.b)


def make(cls, x):
    obj = cls(x)
    return type(obj).__name__, getattr(obj, "args", None) if not isinstance(obj, _families.Slotted) else (obj.x, obj.y)


for cls in (_families.Slotted, _families.Defaults, KwOnly, VarArgs, Exact, SlotDefaults):
    f = fresh(make)
    warm(f, cls, 1)
    live(f)
    show(f"{cls.__name__} before hook", f(cls, 2))
    r, names = eval_frame_record(f, cls, 3)
    show(f"{cls.__name__} hooked", (r, names))
    r, names = eval_frame_record(lambda: [f(cls, i) for i in range(60)][-1])
    show(f"{cls.__name__} hooked loop", (r, summary(names)))
    show(f"{cls.__name__} unhooked", f(cls, 4))


# The hook installed and removed from inside a running specialized loop.
def loop(classes, n, on, off, recorded):
    out = []
    for i in range(n):
        if i == on:
            _testinternalcapi.set_eval_frame_record(recorded)
        if i == off:
            _testinternalcapi.set_eval_frame_default()
        obj = classes[i % len(classes)](i)
        out.append(type(obj).__name__)
    return out


classes = [_families.Slotted, _families.Defaults, SlotDefaults, KwOnly]
f = fresh(loop)
warm(f, classes, 8, -1, -1, [])
live(f)
recorded = []
try:
    r = outcome(f, classes, 16, 4, 12, recorded)
finally:
    _testinternalcapi.set_eval_frame_default()
show("loop hook on/off", (r, recorded))
recorded = []
show("loop after", (outcome(f, classes, 8, -1, -1, recorded), recorded))


# The hook also sees generator / property / __getitem__ frames next to the
# new instructions (stock behaviour, unchanged).
class Prop:
    @property
    def p(self):
        return "prop"


def mixed(d, seq, obj):
    out = [k for k, v in d.items()]
    out += [x for i, x in enumerate(seq)]
    out.append(obj.p)
    out.append(sum(x for x in seq if isinstance(x, int)))
    return out


f = fresh(mixed)
warm(f, {"a": 1}, [1, 2], Prop())
live(f)
show("mixed hooked", eval_frame_record(f, {"a": 1, "b": 2}, [1, "s", 3], Prop()))
