"""Generated differential programs (``quicken verify --fuzz``).

Hypothesis composes small functions that mix the operations the series
changes (integer and float arithmetic and comparisons, truth tests,
subscripts of lists, tuples, arrays and (default)dicts, slices, dict and
enumerate loops, class attributes, class calls), warms each function up
with one set of operands and then calls it with others -- a type or value change after
specialization, which is where a wrong guard shows.  A batch of such cases
is one program; it runs on both builds and their output must be identical.
When it is not, Hypothesis shrinks the batch to a minimal case, which is
written out as a standalone reproducer.

Runs are repeatable: the seed and the number of examples say which programs
are generated (``--seed S --examples N``); a run bounded by ``--seconds`` says
how many of them it ran before its time was up.
"""

from __future__ import annotations

import contextlib
import subprocess
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .errors import ToolMissingError

Report = Callable[[str], None]

#: Operand expressions, by kind; each is Python source valid in the prelude's namespace.
INTS = ("0", "1", "-1", "7", "-7", "255", "2**30 - 1", "2**30", "-2**30", "2**62", "-2**62 - 1",
        "2**63", "2**64 + 3", "-2**100", "2**53 + 1", "True", "False", "IntSub(5)")
FLOATS = ("0.0", "-0.0", "1.5", "-2.25", "1e308", "float('inf')", "float('-inf')", "float('nan')",
          "float(2**53)", "2.0**53 + 2", "0.1", "FloatSub(2.5)")
OTHERS = ("None", "'ab'", "(1, 2)", "[3, 4]", "{}", "{'k': 1}", "frozenset({1})", "set()", "()",
          "Tup((1,))", "Lst([1])", "Dct(a=1)")
CONTAINERS = ("[0, 1, 2, 3]", "(5, 6, 7)", "array('b', [1, -2, 3])", "array('B', [1, 2, 255])",
              "array('h', [1, -300])", "array('H', [1, 65535])", "array('i', [10, -20, 30])",
              "array('I', [10, 20])", "array('l', [2**40, -1])", "array('L', [1, 2])",
              "array('q', [2**62, -2**62])", "array('Q', [2**63])", "array('f', [1.5, -0.0])",
              "array('d', [1e300, float('nan')])", "array('u', 'xy')", "array('w', 'zq')",
              "Lst([9, 8])", "'str'", "b'by'", "bytearray(b'ba')", "range(4)")
INDEXES = ("0", "1", "-1", "2", "-3", "3", "100", "True", "2**64", "IntSub(1)", "1.0", "None")
SLICED = ("[0, 1, 2, 3]", "(5, 6, 7)", "'str'", "'caf\\xe9 \\u20ac'", "''", "()", "[]", "Lst([9, 8])",
          "Tup((1, 2))", "b'by'", "bytearray(b'ba')", "range(4)", "array('i', [10, -20, 30])", "None")
BOUNDS = ("None", "0", "1", "-1", "2", "-3", "100", "-100", "2**62", "-2**100", "True", "IntSub(1)", "1.0",
          "'a'")
STORES = ("0", "1", "-1", "127", "128", "-129", "255", "256", "70000", "2**31", "2**63", "-2**63 - 1",
          "1.5", "'c'", "'cc'", "None", "True")
MAPPINGS = ("{}", "{'a': 1, 'b': 2}", "{i: i * i for i in range(6)}", "Dct(x=1, y=2)",
            "OrderedDict(p=1)", "dict.fromkeys('abc')", "defaultdict(int, a=1)", "defaultdict(list)",
            "defaultdict(None, {0: 'z'})")
KEYS = ("'a'", "'p'", "'x'", "0", "1", "True", "1.0", "-0.0", "float('nan')", "(1, 2)", "None", "[1]")
SEQUENCES = ("[]", "[1, 2, 3]", "(4, 5)", "range(3)", "'ab'", "[(1, 2)]", "iter([1])", "Lst([1])")
STARTS = ("0", "1", "-5", "sys.maxsize - 1", "sys.maxsize", "2**70", "True")
CLASSES = ("Plain", "WithMeta", "Slotted", "Defaults", "KwOnly", "Color", "Abstractish", "Own")

BINARY = ("+", "-", "*", "/", "//", "%", "&", "|", "^", "<<", ">>")
#: Right operands of ``**``: with an int exponent such as 2**64 + 3, ``(2**53 + 1) ** e`` runs for
#: minutes on both builds (a timeout on both sides, proving nothing).
EXPONENTS = ("0", "1", "-1", "2", "3", "7", "0.5", "-0.5", "True", "IntSub(5)", "FloatSub(2.5)", "None")
COMPARE = ("<", "<=", "==", "!=", ">", ">=")

PRELUDE = '''\
import sys
from array import array
from collections import OrderedDict, defaultdict
import enum


class IntSub(int):
    pass


class FloatSub(float):
    pass


class Tup(tuple):
    pass


class Lst(list):
    pass


class Dct(dict):
    pass


class Meta(type):
    pass


class Plain:
    x = 1


class WithMeta(metaclass=Meta):
    x = 2.5


class Slotted:
    __slots__ = ("a", "b")
    x = "slot"

    def __init__(self, a, b=2):
        self.a = a
        self.b = b


class Defaults:
    x = None

    def __init__(self, a, b=3, *, c=4):
        self.v = (a, b, c)


class KwOnly:
    x = ()

    def __init__(self, *args, scale=1, **kw):
        self.v = (args, scale, kw)


class Color(enum.Enum):
    RED = 1
    x = 3


class Own:
    pass


Own.x = Own()


class OwnDesc:
    def __get__(self, obj, owner):
        return "OwnDesc.__get__"


class Abstractish:
    x = 0

    def __init__(self, a=0):
        self.a = a


def outcome(fn, *args):
    try:
        r = fn(*args)
    except Exception as exc:
        return ("raise", type(exc).__name__, str(exc))
    if type(r).__init__ is object.__init__ or type(r).__repr__ is object.__repr__:
        return ("ok", type(r).__name__, sorted(getattr(r, "__dict__", {}).items()))
    return ("ok", repr(r))


def mutate(kind):
    """Class and value changes made after warm-up."""
    if kind == "meta_attr":
        Meta.x = property(lambda cls: "meta property")
    elif kind == "class_attr":
        Plain.x = Plain()
    elif kind == "value_class":
        Own.__dict__["x"].__class__ = OwnDesc
    elif kind == "abstract":
        Abstractish.__abstractmethods__ = frozenset({"f"})
    elif kind == "init":
        Defaults.__init__ = lambda self, a, b=9: setattr(self, "v", (a, b))
    elif kind == "defaults":
        Slotted.__init__.__defaults__ = None
'''


@dataclass(frozen=True)
class Case:
    """One generated function: a template, the operands it is warmed with, the ones checked after."""

    template: str  # source of the function body, with {0}, {1}, {2} for the parameters a, b, c
    warm: tuple[str, ...]
    checks: tuple[tuple[str, ...], ...]
    mutation: str = ""

    def source(self, n: int) -> str:
        body = self.template.format("a", "b", "c")
        lines = [f"def f{n}(a, b=None, c=None):"] + [f"    {ln}" for ln in body.splitlines()]
        lines.append(f"for _ in range(WARMUP): outcome(f{n}, {', '.join(self.warm)})")
        if self.mutation:
            lines.append(f"mutate({self.mutation!r})")
        for i, args in enumerate(self.checks):
            lines.append(f"print('f{n}.{i}', {args!r}, outcome(f{n}, {', '.join(args)}))")
        return "\n".join(lines) + "\n"


def program(cases: list[Case], warmup: int = 60) -> str:
    return PRELUDE + f"\nWARMUP = {warmup}\n\n" + "\n".join(c.source(i) for i, c in enumerate(cases))


def strategies():  # -> SearchStrategy[list[Case]]
    """The Hypothesis strategy of a batch of cases."""
    try:
        from hypothesis import strategies as st
    except ImportError:
        raise ToolMissingError("quicken verify --fuzz needs Hypothesis",
                               "install it: pip install hypothesis") from None

    number = st.sampled_from(INTS + FLOATS)
    anything = st.sampled_from(INTS + FLOATS + OTHERS)

    def pairs(kind: st.SearchStrategy[str]) -> st.SearchStrategy[tuple[str, str]]:
        return st.tuples(kind, kind)

    def case(template: st.SearchStrategy[str], warm: st.SearchStrategy[tuple[str, ...]],
             check: st.SearchStrategy[tuple[str, ...]], mutation: st.SearchStrategy[str] | None = None
             ) -> st.SearchStrategy[Case]:
        checks = st.lists(check, min_size=1, max_size=4).map(tuple)
        return st.builds(Case, template, warm, checks, mutation if mutation is not None else st.just(""))

    binary = case(st.sampled_from(BINARY).map(lambda op: "return {0} " + op + " {1}"),
                  pairs(number), pairs(anything))
    power = case(st.just("return {0} ** {1}"), st.tuples(number, st.sampled_from(EXPONENTS)),
                 st.tuples(anything, st.sampled_from(EXPONENTS)))
    compare = case(st.sampled_from(COMPARE).map(lambda op: "return {0} " + op + " {1}"),
                   pairs(number), pairs(anything))
    truth = case(st.just("return 'yes' if {0} else 'no'"), st.tuples(anything),
                 st.tuples(st.sampled_from(INTS + FLOATS + OTHERS + MAPPINGS)))
    item = st.tuples(st.sampled_from(CONTAINERS), st.sampled_from(INDEXES))
    subscr = case(st.just("return {0}[{1}]"), item, item)
    store = case(st.just("{0}[{1}] = {2}\nreturn {0}"),
                 st.tuples(st.sampled_from(CONTAINERS), st.sampled_from(INDEXES), st.sampled_from(STORES)),
                 st.tuples(st.sampled_from(CONTAINERS), st.sampled_from(INDEXES), st.sampled_from(STORES)))
    entry = st.tuples(st.sampled_from(MAPPINGS), st.sampled_from(KEYS))
    lookup = case(st.sampled_from(("return {0}[{1}]", "{0}[{1}] += 1\nreturn {0}")), entry, entry)
    assign = case(st.just("{0}[{1}] = {2}\nreturn {0}"),
                  st.tuples(st.sampled_from(MAPPINGS), st.sampled_from(KEYS), st.sampled_from(STORES)),
                  st.tuples(st.sampled_from(MAPPINGS + CONTAINERS), st.sampled_from(KEYS),
                            st.sampled_from(STORES)))
    bounds = st.tuples(st.sampled_from(SLICED), st.sampled_from(BOUNDS), st.sampled_from(BOUNDS))
    slice_load = case(st.just("return {0}[{1}:{2}]"), bounds, bounds)
    slice_store = case(st.sampled_from(tuple(f"{{0}}[{{1}}:{{2}}] = {value}\nreturn {{0}}"
                                             for value in ("[7, 8]", "'xy'", "()", "5", "{0}", "iter([1])"))),
                       bounds, bounds)
    items = case(st.sampled_from((
        "out = []\nfor k, v in {0}.items():\n    out.append((k, v))\nreturn out",
        "out = []\nfor k in {0}:\n    out.append(k)\nreturn out",
        "out = []\nfor v in {0}.values():\n    out.append(v)\nreturn out",
        "out = []\nfor k, v in {0}.items():\n    {0}[k] = v\n    {0}[str(k) + '!'] = 1\nreturn out",
        "out = []\nfor k, v in {0}.items():\n    out.append(k)\n    {0}.pop(k)\n    {0}[k] = v\nreturn out")),
        st.tuples(st.sampled_from(MAPPINGS)), st.tuples(st.sampled_from(MAPPINGS + SEQUENCES)))
    enum_loop = case(st.just("out = []\nfor i, x in enumerate({0}, {1}):\n"
                             "    out.append((i, x))\nreturn out"),
                     st.tuples(st.sampled_from(SEQUENCES), st.sampled_from(STARTS)),
                     st.tuples(st.sampled_from(SEQUENCES + MAPPINGS), st.sampled_from(STARTS)))
    pairs_loop = case(st.just("out = []\nfor p, q in {0}:\n    out.append((p, q))\nreturn out"),
                      st.tuples(st.sampled_from(("[(1, 2)]", "[[3, 4]]", "{'ab': 1}"))),
                      st.tuples(st.sampled_from(("{'xy': 1}.items()", "enumerate('ab')", "[(5, 6)]",
                                                 "{1: 2}.items()", "[(1, 2, 3)]"))))
    attr = case(st.just("return {0}.x"), st.tuples(st.sampled_from(CLASSES)),
                st.tuples(st.sampled_from(CLASSES)),
                st.sampled_from(("", "meta_attr", "class_attr", "value_class")))
    call = case(st.just("return {0}({1})"), st.tuples(st.sampled_from(CLASSES[:5] + CLASSES[6:7]),
                                                     st.sampled_from(INTS[:6])),
                st.tuples(st.sampled_from(CLASSES), st.sampled_from(INTS[:6] + OTHERS[:3])),
                st.sampled_from(("", "abstract", "init", "defaults")))
    one = st.one_of(binary, power, compare, truth, subscr, store, lookup, assign, slice_load, slice_store,
                    items, enum_loop, pairs_loop, attr, call)
    return st.lists(one, min_size=1, max_size=12)


@dataclass(frozen=True)
class FuzzResult:
    seed: int
    examples: int  # Hypothesis's max_examples
    ran: int  # programs run on both builds (fewer when the time ran out)
    seconds: float
    reproducer: Path | None
    difference: str | None

    def as_record(self) -> dict[str, object]:
        return {"seed": self.seed, "examples": self.examples, "ran": self.ran,
                "seconds": round(self.seconds, 1),
                "reproducer": str(self.reproducer) if self.reproducer else None,
                "failures": [] if self.difference is None else
                [f"generated program differs (seed {self.seed}, reproducer {self.reproducer}): "
                 f"{self.difference}"]}


def _run(python: Path, source: str) -> tuple[str, str, int]:
    from .verify import mask, program_env

    with tempfile.TemporaryDirectory(prefix="quicken-fuzz-") as tmp:
        path = Path(tmp) / "case.py"
        path.write_text(source)
        try:
            proc = subprocess.run([str(python), str(path)], capture_output=True, text=True, timeout=120,
                                  env=program_env(), check=False, errors="replace")
        except subprocess.TimeoutExpired:
            return "", "timed out", -1
    # The script's path first: a temporary name such as quicken-fuzz-b0x1f... would otherwise lose
    # its "0x1f" to the address mask, differently in the two runs.
    return (mask(proc.stdout.replace(str(path), "case.py"), python),
            mask(proc.stderr.replace(str(path), "case.py"), python), proc.returncode)


def differ(base: Path, head: Path, source: str) -> str | None:
    """The first difference between the two builds' runs of ``source``, or None."""
    from .verify import Observation, first_difference

    return first_difference(Observation(*_run(base, source)), Observation(*_run(head, source)))


def run(base: Path, head: Path, *, seconds: int = 120, seed: int = 0, examples: int | None = None,
        out: Path, report: Report = lambda _: None) -> FuzzResult:
    """Generate programs for about ``seconds`` (or exactly ``examples`` of them) and compare."""
    try:
        from hypothesis import HealthCheck, Phase, given, settings
        from hypothesis import seed as hypothesis_seed
    except ImportError:
        raise ToolMissingError("quicken verify --fuzz needs Hypothesis",
                               "install it: pip install hypothesis") from None
    batch = strategies()
    start = time.monotonic()
    bounded = examples is None
    if examples is None:  # calibrate: one program of a typical size (12 cases) on both builds
        checks = (("1.5", "2"), ("IntSub(3)", "2**64"), ("None", "1"), ("float('nan')", "-0.0"))
        probe = program(
            [Case("return {0} + {1}", ("1", "2"), checks)] * 4
            + [Case("out = []\nfor k, v in {0}.items():\n    out.append((k, v))\nreturn out",
                    ("{'a': 1, 'b': 2}",), (("{}",), ("Dct(x=1)",), ("[(1, 2)]",)))] * 4
            + [Case("return {0}({1})", ("Defaults", "1"), (("Slotted", "2"), ("KwOnly", "0")))] * 4)
        t0 = time.monotonic()
        differ(base, head, probe)
        examples = max(5, int(seconds / max(time.monotonic() - t0, 0.01)))
    count = 0
    failing: list[str] = []
    generate_until = time.monotonic() + (2 * seconds if bounded else float("inf"))
    shrink_until = generate_until + max(60, seconds)

    @hypothesis_seed(seed)
    @settings(max_examples=examples, deadline=None, database=None, derandomize=False,
              phases=(Phase.generate, Phase.shrink), suppress_health_check=list(HealthCheck),
              report_multiple_bugs=False)
    @given(batch)
    def check(cases: list[Case]) -> None:
        nonlocal count
        now = time.monotonic()
        if (now > generate_until and not failing) or now > shrink_until:
            return  # out of time: the smallest failure found so far stands
        count += 1
        if count % 20 == 0:
            report(f"verify fuzz: {count}/{examples} generated programs")
        source = program(cases)
        found = differ(base, head, source)
        if found is not None:
            failing[:] = [source, found]
            raise AssertionError(found)

    with contextlib.suppress(AssertionError):  # the failing case is kept in ``failing``
        check()
    elapsed = time.monotonic() - start
    if not failing:
        return FuzzResult(seed, examples, count, elapsed, None, None)
    source, found = failing
    out.mkdir(parents=True, exist_ok=True)
    repro = out / f"fuzz-repro-seed{seed}.py"
    repro.write_text(
        f"# quicken verify --fuzz --seed {seed} --examples {examples}: a minimal generated program\n"
        f"# whose output differs between the baseline and the patched build.\n# {found}\n"
        "# Run it with both interpreters and compare the output.\n" + source)
    return FuzzResult(seed, examples, count, elapsed, repro, found)

