"""LOAD_ATTR of class attributes (0008: LOAD_ATTR_CLASS_WITH_METACLASS_CHECK).

Guard space: metaclass type / custom / Enum's / ABCMeta; values of immutable
types, methods, values of the class's own (mutable) type; later changes to
the class, the metaclass, and the value's __class__.
"""

import abc
import enum

from _harness import check, expect_live, fresh, live, outcome, show, warm, warm_check

expect_live("LOAD_ATTR_CLASS_WITH_METACLASS_CHECK")


def get_x(cls):
    return cls.x


def get_red(cls):
    return cls.RED


class Meta(type):
    pass


# Values of the class's own type, then __class__ reassigned to a class with
# __get__ (gh-149239's case, with and without a metaclass, and Enum members).
for meta in (type, Meta):
    for into_subclass in (False, True):
        label = f"own-type value meta={meta.__name__} subclass={into_subclass}"
        C = meta("C", (), {})
        C.x = value = C()
        f = fresh(get_x)
        warm(f, C)
        show(label + " before", f(C) is value)
        Desc = meta("Desc", (C,) if into_subclass else (),
                    {"__get__": lambda self, obj, owner: ("get", owner.__name__)})
        value.__class__ = Desc
        check(label + " after", f, C)
        check(label + " again", f, C)
        value.__class__ = C
        show(label + " restored", f(C) is value)


class Color(enum.Enum):
    RED = 1


f = fresh(get_red)
warm(f, Color)
member = Color.RED


class EnumDesc:
    def __get__(self, obj, owner):
        return "EnumDesc.__get__"


try:
    member.__class__ = EnumDesc
except TypeError as exc:
    show("enum member __class__ assignment", ("raise", str(exc)))
else:
    check("enum member after __class__ assignment", f, Color)
    member.__class__ = Color
check("enum member restored", f, Color)


# A metaclass and an ABC: plain values, methods, a metaclass that gains a
# data descriptor, a class attribute that changes.
class WithMeta(metaclass=Meta):
    x = 1


class Abstract(abc.ABC):
    x = "abc"


for cls in (WithMeta, Abstract):
    f = fresh(get_x)
    warm_check(f"{cls.__name__}.x", f, cls)
    cls.x = 2.5
    check(f"{cls.__name__}.x changed", f, cls)

f = fresh(get_x)
warm(f, WithMeta)
Meta.x = property(lambda cls: "Meta.x property")
check("metaclass gains a data descriptor", f, WithMeta)
del Meta.x
check("metaclass loses it", f, WithMeta)


# ---------------------------------------------------------------------------
# The rest of the guard space.

def get_y(cls):
    return cls.y


def get_repr(cls):
    return cls.__repr__


def get_init(cls):
    return cls.__init__


def call_method(cls):
    return cls.method()


def describe(v):
    """Class attribute values printed without addresses or identity."""
    if isinstance(v, type):
        return ("class", v.__qualname__)
    if callable(v) and hasattr(v, "__qualname__"):
        return ("callable", type(v).__name__, v.__qualname__)
    return v


def run(label, fn, *args):
    r = outcome(fn, *args)
    if r[0] == "ok":
        r = ("ok", describe(r[1]))
    show(label, r)


# Values of the class's own type and of a base; __get__ added to the class
# or to the base afterwards (changes the class's version tag).
for meta in (type, Meta):
    Base = meta("Base", (), {})
    C = meta("C", (Base,), {})
    C.x = own = C()
    f = fresh(get_x)
    warm(f, C)
    show(f"own value meta={meta.__name__}", f(C) is own)
    C.__get__ = lambda self, obj, owner: "C.__get__"
    run(f"own value meta={meta.__name__} class gains __get__", f, C)
    del C.__get__
    show(f"own value meta={meta.__name__} class loses __get__", f(C) is own)
    C.x = Base()
    warm(f, C)
    Base.__get__ = lambda self, obj, owner: "Base.__get__"
    run(f"base value meta={meta.__name__} base gains __get__", f, C)
    del Base.__get__
    # a subclass inherits the cached value: the subclass is a different owner
    Sub = meta("Sub", (C,), {})
    run(f"base value meta={meta.__name__} via subclass", lambda: type(f(Sub)).__name__)
    # __class__ of the value reassigned to a sibling class with __get__
    # and __set__ (a data descriptor): still a descriptor on the class.
    DataDesc = meta("DataDesc", (), {"__get__": lambda self, obj, owner: "DataDesc.__get__",
                                     "__set__": lambda self, obj, value: None})
    C.x = v = C()
    warm(f, C)
    v.__class__ = DataDesc
    run(f"own value meta={meta.__name__} __class__ -> data descriptor", f, C)
    v.__class__ = C
    # Subclass of C with __get__: the value becomes an instance of it.
    SubDesc = meta("SubDesc", (C,), {"__get__": lambda self, obj, owner: ("SubDesc.__get__", owner.__name__)})
    warm(f, C)
    v.__class__ = SubDesc
    run(f"own value meta={meta.__name__} __class__ -> subclass with __get__", f, C)
    run(f"own value meta={meta.__name__} __class__ -> subclass with __get__ (again)", f, C)
    v.__class__ = C


# An Enum whose members are read through a specialized site while a member
# switches class, and Enum members of a flag / int enum.
class Shade(enum.Enum):
    LIGHT = 1
    DARK = 2


class Perm(enum.IntFlag):
    R = 4
    W = 2


def get_light(cls):
    return cls.LIGHT


class ShadeDesc:
    def __get__(self, obj, owner):
        return ("ShadeDesc.__get__", owner.__name__)


f = fresh(get_light)
warm(f, Shade)
run("enum LIGHT", f, Shade)
Shade.LIGHT.__class__ = ShadeDesc
run("enum LIGHT after __class__ -> descriptor", f, Shade)
run("enum LIGHT after __class__ -> descriptor (again)", f, Shade)
Shade.__dict__["LIGHT"].__class__ = Shade
run("enum LIGHT restored", f, Shade)
g = fresh(lambda cls: cls.R)
warm(g, Perm)
run("IntFlag member", g, Perm)
run("IntFlag member | W", lambda: g(Perm) | Perm.W)


# Immutable values, methods, class methods, static methods, names that
# type also defines, inherited attributes, ABCs.
class Values(metaclass=Meta):
    x = 1
    y = "text"
    t = (1, 2)
    fs = frozenset({3})
    n = None
    b = True
    fl = 1.5
    big = 2**100

    def method():
        return "plain function via class"

    @classmethod
    def cm(cls):
        return ("classmethod", cls.__name__)

    @staticmethod
    def sm():
        return "staticmethod"

    def __init__(self):
        pass

    def __repr__(self):
        return "Values()"


class Derived(Values):
    y = "derived"


for name in ("x", "y", "t", "fs", "n", "b", "fl", "big", "method", "cm", "sm", "__init__", "__repr__", "__doc__", "__module__"):
    getter = eval(f"lambda cls: cls.{name}")
    f = fresh(getter)
    warm(f, Values)
    run(f"Values.{name}", f, Values)
    run(f"Derived.{name}", f, Derived)
    run(f"Values.{name} again", f, Values)
    live(f)

for cls in (dict, list, int, Values, Abstract, Color, WithMeta):
    f = fresh(get_repr)
    warm(f, cls)
    run(f"{cls.__name__}.__repr__", f, cls)
    run(f"{cls.__name__}.__repr__ then dict", f, dict)
    g = fresh(get_init)
    warm(g, cls)
    run(f"{cls.__name__}.__init__", g, cls)
    live(f)
    live(g)

f = fresh(call_method)
warm(f, Values)
run("call method", f, Values)
Values.method = staticmethod(lambda: "replaced")
run("call method replaced", f, Values)
Values.method = classmethod(lambda cls: ("replaced classmethod", cls.__name__))
run("call method classmethod", f, Values)
run("call method on Derived", f, Derived)


# Class attribute deleted / re-added; the metaclass's non-data descriptor
# shows when the class attribute goes away; metaclass base gains a data
# descriptor; metaclass gains __getattribute__; class changes metaclass;
# metaclass holding a mutable value that becomes a data descriptor.
class M(type):
    def z(cls):
        return "metaclass method z"


class MBase(type):
    pass


class M2(MBase):
    pass


class Z(metaclass=M):
    z = "class z"
    x = 1


class Y(metaclass=M2):
    x = 1


f = fresh(lambda cls: cls.z)
warm(f, Z)
run("Z.z", f, Z)
del Z.z
run("Z.z deleted -> metaclass method", lambda: f(Z)())
Z.z = "class z again"
warm(f, Z)
run("Z.z re-added", f, Z)
del Z.x
run("Z.x deleted", get_x, Z)
check("Z.x deleted (specialized site)", warm, fresh(get_x), Z)

f = fresh(get_x)
warm(f, Y)
MBase.x = property(lambda cls: "from metaclass base")
run("metaclass base gains data descriptor", f, Y)
del MBase.x
run("metaclass base loses it", f, Y)
warm(f, Y)
M2.__getattribute__ = lambda cls, name: ("intercepted", name)
run("metaclass gains __getattribute__", f, Y)
del M2.__getattribute__
run("metaclass loses __getattribute__", f, Y)


class M3(type):
    x = property(lambda cls: "M3 property")


class Q(metaclass=M2):
    x = "Q.x"


f = fresh(get_x)
warm(f, Q)
Q.__class__ = M3
run("class changes metaclass", f, Q)
Q.__class__ = M2
run("class changes metaclass back", f, Q)


class Mutable:
    pass


class M4(type):
    x = Mutable()


class R(metaclass=M4):
    x = "R.x"


f = fresh(get_x)
warm(f, R)
run("metaclass mutable value", f, R)
Mutable.__get__ = lambda self, obj, owner: "Mutable now a data descriptor"
Mutable.__set__ = lambda self, obj, value: None
run("metaclass mutable value became data descriptor", f, R)


class Unrelated:
    pass


class HasUnrelated(metaclass=Meta):
    x = Unrelated()


f = fresh(get_x)
warm(f, HasUnrelated)
Unrelated.__get__ = lambda self, obj, owner: "Unrelated.__get__"
run("unrelated mutable value gains __get__", f, HasUnrelated)


# Many classes through one site (polymorphic: deopt and re-specialize).
classes = [type(f"K{i}", (), {"x": i}) for i in range(4)] + [Meta(f"MK{i}", (), {"x": -i}) for i in range(4)]
f = fresh(get_x)
out = []
for rnd in range(70):
    out.append(f(classes[rnd % len(classes)]))
show("polymorphic", out)
live(f)
f = fresh(get_x)
for cls in classes:
    warm(f, cls)
    show(f"sequential {cls.__name__}", f(cls))
live(f)


# A metaclass that gains __getattr__ (only consulted for missing names)
# after the site specialized; the attribute then disappears.
class MG(type):
    pass


class G(metaclass=MG):
    x = "G.x"


f = fresh(get_x)
warm(f, G)
MG.__getattr__ = lambda cls, name: ("MG.__getattr__", name)
run("metaclass gains __getattr__", f, G)
del G.x
run("metaclass __getattr__ for deleted attribute", f, G)
del MG.__getattr__
run("metaclass loses __getattr__", f, G)
G.x = "G.x again"
warm(f, G)
run("re-added", f, G)
live(f)
