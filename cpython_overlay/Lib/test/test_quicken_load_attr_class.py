"""Tests for LOAD_ATTR_CLASS_WITH_METACLASS_CHECK: class attributes of
classes whose metaclass is not type, or whose metaclass also defines the
name as a non-data descriptor."""

import abc
import dis
import enum
import sys
import types
import unittest
from test.support import requires_specialization

SPECIALIZED = "LOAD_ATTR_CLASS_WITH_METACLASS_CHECK"
WARMUP = 100


def get_x(cls):
    return cls.x


def call_m(cls):
    return cls.m()


def get_repr(cls):
    return cls.__repr__


def fresh(func):
    return types.FunctionType(func.__code__.replace(), func.__globals__,
                              func.__name__)


class Meta(type):
    pass


@requires_specialization
class TestLoadAttrClassWithMetaclass(unittest.TestCase):

    def opnames(self, f):
        return {i.opname for i in dis.get_instructions(f, adaptive=True)}

    def warm(self, f, arg):
        for _ in range(WARMUP):
            f(arg)

    def assert_specialized(self, f, arg):
        self.warm(f, arg)
        self.assertIn(SPECIALIZED, self.opnames(f))

    def assert_not_specialized(self, f, arg):
        self.warm(f, arg)
        self.assertNotIn(SPECIALIZED, self.opnames(f))

    def test_custom_metaclass(self):
        class C(metaclass=Meta):
            x = 1
        f = fresh(get_x)
        self.assert_specialized(f, C)
        self.assertEqual(f(C), 1)

    def test_inherited_attribute(self):
        class Base(metaclass=Meta):
            x = "base"
        class Derived(Base):
            pass
        f = fresh(get_x)
        self.assert_specialized(f, Derived)
        self.assertEqual(f(Derived), "base")
        Base.x = "changed"
        self.assertEqual(f(Derived), "changed")
        Derived.x = "own"
        self.assertEqual(f(Derived), "own")

    def test_method_call(self):
        class C(metaclass=Meta):
            @staticmethod
            def helper():
                return 0
            def m():
                return "m"
        f = fresh(call_m)
        self.assert_specialized(f, C)
        self.assertEqual(f(C), "m")

    def test_enum_member_and_abc(self):
        class Color(enum.Enum):
            x = 1
        f = fresh(get_x)
        self.assert_specialized(f, Color)
        self.assertIs(f(Color), Color.x)

        class A(abc.ABC):
            x = 2
        g = fresh(get_x)
        self.assert_specialized(g, A)
        self.assertEqual(g(A), 2)

    def test_instance_of_own_class(self):
        # The value's type is mutable, but it is the class itself (as for
        # Enum members) or a base: giving it __get__ later changes the
        # class's version.
        for meta in (type, Meta):
            with self.subTest(meta=meta):
                Base = meta("Base", (), {})
                C = meta("C", (Base,), {})
                C.x = C()
                f = fresh(get_x)
                self.assert_specialized(f, C)
                self.assertIs(type(f(C)), C)
                C.__get__ = lambda self, obj, owner: "C.__get__"
                self.assertEqual(f(C), "C.__get__")
                del C.__get__
                C.x = Base()
                self.assert_specialized(f, C)
                Base.__get__ = lambda self, obj, owner: "Base.__get__"
                self.assertEqual(f(C), "Base.__get__")

    def test_value_class_reassigned_to_descriptor(self):
        # __class__ assignment gives the cached value a type with __get__
        # without changing the class's or the metaclass's version tag.
        for meta in (type, Meta):
            for into_subclass in (False, True):
                with self.subTest(meta=meta, into_subclass=into_subclass):
                    C = meta("C", (), {})
                    C.x = value = C()
                    f = fresh(get_x)
                    self.assert_specialized(f, C)
                    self.assertIs(f(C), value)
                    bases = (C,) if into_subclass else ()
                    Desc = meta("Desc", bases, {
                        "__get__": lambda self, obj, owner: ("get", owner)})
                    value.__class__ = Desc
                    self.assertEqual(f(C), ("get", C))
                    self.assertEqual(f(C), ("get", C))
                    value.__class__ = C
                    self.assertIs(f(C), value)

    def test_enum_member_class_reassigned_to_descriptor(self):
        class Color(enum.Enum):
            RED = 1
        def get_red(cls):
            return cls.RED
        f = fresh(get_red)
        self.assert_specialized(f, Color)
        member = Color.RED

        class Desc:
            def __get__(self, obj, owner):
                return "Desc.__get__"
        member.__class__ = Desc
        try:
            self.assertEqual(f(Color), "Desc.__get__")
            self.assertEqual(f(Color), "Desc.__get__")
        finally:
            member.__class__ = Color
        self.assertIs(f(Color), member)

    def test_instance_of_unrelated_mutable_class_not_cached(self):
        class Value:
            pass
        class C(metaclass=Meta):
            x = Value()
        f = fresh(get_x)
        self.assert_not_specialized(f, C)
        Value.__get__ = lambda self, obj, owner: "Value.__get__"
        self.assertEqual(f(C), "Value.__get__")

    def test_name_also_defined_by_type(self):
        # type defines __repr__ as a non-data descriptor: the class's own
        # attribute wins.
        f = fresh(get_repr)
        self.assert_specialized(f, dict)
        self.assertIs(f(dict), dict.__repr__)
        self.assertIs(f(list), list.__repr__)
        self.assertIs(f(dict), dict.__repr__)

    def test_class_attribute_changes(self):
        class C(metaclass=Meta):
            x = 1
        f = fresh(get_x)
        self.assert_specialized(f, C)
        C.x = 2
        self.assertEqual(f(C), 2)
        del C.x
        with self.assertRaises(AttributeError):
            f(C)
        C.x = 3
        self.assert_specialized(f, C)
        self.assertEqual(f(C), 3)

    def test_metaclass_gains_data_descriptor(self):
        class M(type):
            pass
        class C(metaclass=M):
            x = 1
        f = fresh(get_x)
        self.assert_specialized(f, C)
        M.x = property(lambda cls: "from metaclass")
        self.assertEqual(f(C), "from metaclass")
        self.assert_not_specialized(f, C)
        self.assertEqual(f(C), "from metaclass")
        del M.x
        self.assertEqual(f(C), 1)

    def test_metaclass_value_becomes_data_descriptor(self):
        # The metaclass's value is of a mutable class that later gains
        # __get__ and __set__: the metaclass's version does not change, so
        # such a value must rule the specialization out.
        class Value:
            pass
        class M(type):
            x = Value()
        class C(metaclass=M):
            x = 1
        f = fresh(get_x)
        self.assert_not_specialized(f, C)
        self.assertEqual(f(C), 1)
        Value.__get__ = lambda self, obj, owner: "now a data descriptor"
        Value.__set__ = lambda self, obj, value: None
        self.assertEqual(f(C), "now a data descriptor")

    def test_metaclass_base_gains_data_descriptor(self):
        class MBase(type):
            pass
        class M(MBase):
            pass
        class C(metaclass=M):
            x = 1
        f = fresh(get_x)
        self.assert_specialized(f, C)
        MBase.x = property(lambda cls: "from metaclass base")
        self.assertEqual(f(C), "from metaclass base")

    def test_metaclass_non_data_descriptor_is_shadowed(self):
        class M(type):
            def x(cls):
                return "metaclass method"
        class C(metaclass=M):
            x = 1
        f = fresh(get_x)
        self.assert_specialized(f, C)
        self.assertEqual(f(C), 1)
        del C.x
        self.assertEqual(f(C)(), "metaclass method")

    def test_metaclass_gains_getattribute(self):
        class M(type):
            pass
        class C(metaclass=M):
            x = 1
        f = fresh(get_x)
        self.assert_specialized(f, C)

        def getattribute(cls, name):
            return "intercepted"
        M.__getattribute__ = getattribute
        self.assertEqual(f(C), "intercepted")
        self.assert_not_specialized(f, C)
        self.assertEqual(f(C), "intercepted")

    def test_metaclass_with_getattribute_not_specialized(self):
        class M(type):
            def __getattribute__(cls, name):
                return super().__getattribute__(name)
        class C(metaclass=M):
            x = 1
        f = fresh(get_x)
        self.assert_not_specialized(f, C)
        self.assertEqual(f(C), 1)

    def test_metaclass_data_descriptor_not_specialized(self):
        class M(type):
            @property
            def x(cls):
                return "property"
        class C(metaclass=M):
            x = 1
        f = fresh(get_x)
        self.assert_not_specialized(f, C)
        self.assertEqual(f(C), "property")

    def test_class_changes_metaclass(self):
        class M1(type):
            pass
        class M2(type):
            x = property(lambda cls: "M2 property")
        class C(metaclass=M1):
            x = 1
        f = fresh(get_x)
        self.assert_specialized(f, C)
        C.__class__ = M2
        self.assertEqual(f(C), "M2 property")

    def test_other_classes_at_the_same_site(self):
        class A(metaclass=Meta):
            x = "a"
        class B(metaclass=Meta):
            x = "b"
        class Plain:
            x = "plain"
        f = fresh(get_x)
        self.assert_specialized(f, A)
        self.assertEqual([f(A), f(B), f(Plain), f(A)], ["a", "b", "plain", "a"])

        class Obj:
            x = "class"
            def __init__(self):
                self.x = "instance"
        self.assertEqual(f(Obj()), "instance")
        self.assertEqual(f(types.SimpleNamespace(x=5)), 5)

    def test_descriptor_class_attribute(self):
        # A classmethod in the class's namespace is not cached.
        class C(metaclass=Meta):
            @classmethod
            def x(cls):
                return cls
        f = fresh(get_x)
        self.assert_not_specialized(f, C)
        self.assertIs(f(C)(), C)

    def test_settrace_and_monitoring(self):
        class C(metaclass=Meta):
            x = 7
        f = fresh(get_x)
        self.assert_specialized(f, C)
        events = []

        def tracer(frame, event, arg):
            events.append(event)
            return tracer
        old = sys.gettrace()
        sys.settrace(tracer)
        try:
            self.assertEqual(f(C), 7)
        finally:
            sys.settrace(old)
        self.assertIn("line", events)

        tool = sys.monitoring.PROFILER_ID
        seen = []
        sys.monitoring.use_tool_id(tool, "test_quicken_load_attr_class")
        try:
            sys.monitoring.register_callback(
                tool, sys.monitoring.events.INSTRUCTION,
                lambda code, offset: seen.append(offset))
            sys.monitoring.set_local_events(
                tool, f.__code__, sys.monitoring.events.INSTRUCTION)
            self.assertEqual(f(C), 7)
        finally:
            sys.monitoring.set_local_events(tool, f.__code__, 0)
            sys.monitoring.register_callback(
                tool, sys.monitoring.events.INSTRUCTION, None)
            sys.monitoring.free_tool_id(tool)
        self.assertTrue(seen)
        self.assertEqual(f(C), 7)


if __name__ == "__main__":
    unittest.main()
