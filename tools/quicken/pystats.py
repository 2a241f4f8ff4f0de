"""Figures from pystats raw results (``summarize_stats.py --json-output``).

Keys look like ``opcode[BINARY_OP].execution_count``,
``opcode[BINARY_OP].specializable``, ``opcode[BINARY_OP].specialization.deferred``;
``_specialized_instructions`` lists the interpreter's specialized instructions.

A *family* is an instruction pystats marks ``specializable``; its specialized
forms are the specialized instructions named ``<FAMILY>_…`` (the longest
matching family wins, so ``LOAD_SUPER_ATTR_ATTR`` is not a ``LOAD_ATTR`` form,
and ``CALL_KW`` — not a specialized instruction — is not a ``CALL`` form).

Two shares of "specializable but not specialized" executions are reported:

* the *adaptive* share counts only families that have specialized forms — what
  a specialization can remove;
* CPython's own "Not specialized" row (summarize_stats.py) also counts every
  instruction with an inline cache that has no specialized form at all: in 3.13
  the POP_JUMP_IF_* instructions (their cache holds branch history, not a
  specialization) and BINARY_SLICE / STORE_SLICE (marked specializable by
  specialize.c "even though we don't specialize them yet").

Upstream called counting the branches a bug (gh-115521) and stopped marking
POP_JUMP_IF_* specializable in 3.14 (gh-123236), keeping BINARY_SLICE and
STORE_SLICE.  The *upstream* share below reads a 3.13 run that way, so a 3.13
figure can be compared with what 3.14's summarize_stats.py prints.

``specialization.deopt`` is only a count of deoptimizations in builds that carry
the pystats fixup ([build.fixups] in quicken.toml): stock 3.13 reads the
counter of the *following* instruction.  Misses are counted correctly either way.
"""

from __future__ import annotations

import json
import re
from collections import Counter, defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from .errors import QuickenError

_KEY = re.compile(r"^opcode\[([A-Z0-9_]+)\]\.(.+)$")
_BRANCHES = "POP_JUMP_IF_"  # an inline cache of branch history, never specialized


@dataclass(frozen=True)
class Family:
    name: str
    generic: int  # executions of the unspecialized instruction
    specialized: int  # executions of its specialized forms
    deferred: int
    failure: int
    success: int
    miss: int = 0
    deopt: int = 0
    adaptive: bool = True  # the interpreter has specialized forms of it

    @property
    def specialized_share(self) -> float:
        total = self.generic + self.specialized
        return self.specialized / total if total else 0.0


@dataclass(frozen=True)
class Summary:
    total: int  # all instructions executed
    families: dict[str, Family]
    forms: tuple[str, ...] = ()  # the specialized instructions the families were classified with

    @property
    def unspecialized(self) -> int:
        """Executions of adaptive families' generic instructions (what specialization can remove)."""
        return sum(f.generic for f in self.families.values() if f.adaptive)

    @property
    def unspecialized_share(self) -> float:
        return self.unspecialized / self.total if self.total else 0.0

    @property
    def cpython_not_specialized_share(self) -> float:
        """CPython's "Not specialized" ratio: every instruction marked specializable."""
        generic = sum(f.generic for f in self.families.values())
        return generic / self.total if self.total else 0.0

    @property
    def upstream_generic(self) -> dict[str, int]:
        """Executions of each executed family's generic instruction, without the branches (3.14)."""
        return {f.name: f.generic for f in self.families.values()
                if f.generic and not f.name.startswith(_BRANCHES)}

    @property
    def upstream_not_specialized_share(self) -> float:
        """3.14's "Not specialized" ratio: CPython's, without the branches (gh-123236)."""
        return sum(self.upstream_generic.values()) / self.total if self.total else 0.0

    @property
    def misses(self) -> int:
        return sum(f.miss for f in self.families.values())

    @property
    def deopts(self) -> int:
        return sum(f.deopt for f in self.families.values())

    @property
    def miss_share(self) -> float:
        """Guard failures per execution of a specialized instruction."""
        specialized = sum(f.specialized for f in self.families.values())
        return self.misses / specialized if specialized else 0.0


def load(path: Path) -> Summary:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise QuickenError(f"{path}: not a pystats JSON file: {exc}") from None
    try:
        return summarize(data)
    except QuickenError as exc:
        raise QuickenError(f"{path}: {exc.message}", exc.hint) from None


def summarize(data: dict[str, object]) -> Summary:
    specialized_names = data.get("_specialized_instructions")
    if not isinstance(specialized_names, list):
        raise QuickenError(
            "no _specialized_instructions list: not summarize_stats.py --json-output of a 3.13 pystats run",
            "produce it with `quicken bench --mode pystats`",
        )
    per_op: dict[str, dict[str, int]] = defaultdict(dict)
    for key, value in data.items():
        m = _KEY.match(key)
        if m and isinstance(value, int):
            per_op[m.group(1)][m.group(2)] = value
    total = sum(fields.get("execution_count", 0) for fields in per_op.values())
    marked = [name for name, fields in per_op.items() if "specializable" in fields]
    forms: dict[str, list[str]] = {name: [] for name in marked}
    for op in specialized_names:
        owners = [name for name in marked if str(op).startswith(name + "_")]
        if owners:
            forms[max(owners, key=len)].append(str(op))
    families: dict[str, Family] = {}
    for name in marked:
        fields = per_op[name]
        families[name] = Family(
            name,
            fields.get("execution_count", 0),
            sum(per_op.get(op, {}).get("execution_count", 0) for op in forms[name]),
            fields.get("specialization.deferred", 0),
            fields.get("specialization.failure", 0),
            fields.get("specialization.success", 0),
            fields.get("specialization.miss", 0),
            fields.get("specialization.deopt", 0),
            adaptive=bool(forms[name]),
        )
    return Summary(total, families, tuple(str(op) for op in specialized_names))


def read_raw(paths: Iterable[Path]) -> dict[str, int]:
    """The counters of raw pystats files (``key : value`` lines, as a 3.13 build writes them at
    exit), summed over the files: the statistics of one benchmark's processes."""
    total: Counter[str] = Counter()
    for path in paths:
        try:
            text = path.read_text()
        except OSError as exc:
            raise QuickenError(f"{path}: cannot read pystats output: {exc.strerror}") from None
        for line in text.splitlines():
            key, sep, value = line.strip().rpartition(" : ")
            if sep and value.isdigit():
                total[key] += int(value)
    return dict(total)


def by_benchmark(raw: Mapping[str, Mapping[str, int]], side: Summary) -> dict[str, Summary]:
    """Each benchmark's own figures (``raw``: benchmark -> its summed raw counters), classified
    as ``side``, the whole run of the build that ran them, was."""
    return {name: summarize({**counters, "_specialized_instructions": list(side.forms)})
            for name, counters in raw.items()}


def render_by_benchmark(base: Mapping[str, Summary], head: Mapping[str, Summary], top: int = 3) -> str:
    """Where the head's unspecialized executions are: per benchmark, both sides' "Not specialized"
    share (3.14's classification) and the head's largest generic families, benchmarks with the most
    unspecialized executions first.  Each benchmark ran once, start-up included, so a short one's
    share is mostly its start-up's."""
    lines = [
        "| benchmark | executed (head) | not specialized, base | head | head's largest generic families |",
        "| --- | ---: | ---: | ---: | --- |",
    ]
    rows = sorted(head.items(), key=lambda item: -sum(item[1].upstream_generic.values()))
    for name, h in rows:
        b = base.get(name)
        largest = ", ".join(f"{family} {count / h.total:.2%}"
                            for family, count in Counter(h.upstream_generic).most_common(top))
        base_share = f"{b.upstream_not_specialized_share:.2%}" if b is not None else "-"
        lines.append(f"| {name} | {h.total:,} | {base_share} | {h.upstream_not_specialized_share:.2%} | "
                     f"{largest or '-'} |")
    return "\n".join(lines)


def deltas(base: Summary, head: Summary, families: list[str]) -> dict[str, float]:
    """head - base of each family's specialized share, plus the overall unspecialized share."""
    out: dict[str, float] = {}
    for name in families:
        b = base.families.get(name)
        h = head.families.get(name)
        if b is None or h is None:
            continue
        out[f"{name} specialized share"] = h.specialized_share - b.specialized_share
    out["unspecialized share (lower is better)"] = head.unspecialized_share - base.unspecialized_share
    out["miss share (lower is better)"] = head.miss_share - base.miss_share
    return out


def render(base: Summary, head: Summary) -> str:
    lines = [
        "| family | base specialized | head specialized | base deferred | head deferred "
        "| base misses | head misses |",
        "| --- | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for name in sorted(set(base.families) | set(head.families)):
        b, h = base.families.get(name), head.families.get(name)
        if b is None or h is None or not (b.adaptive or h.adaptive):
            continue
        if (b.generic + b.specialized + h.generic + h.specialized) == 0:
            continue
        lines.append(f"| {name} | {b.specialized_share:.1%} | {h.specialized_share:.1%} | "
                     f"{b.deferred:,} | {h.deferred:,} | {b.miss:,} | {h.miss:,} |")
    lines += [
        "",
        "| share of all executed instructions | base | head |",
        "| --- | ---: | ---: |",
        f"| **adaptive families not specialized** | {base.unspecialized_share:.2%} "
        f"| {head.unspecialized_share:.2%} |",
        f"| CPython's \"Not specialized\" (adds POP_JUMP_IF_*, BINARY_SLICE, STORE_SLICE) | "
        f"{base.cpython_not_specialized_share:.2%} | {head.cpython_not_specialized_share:.2%} |",
        f"| the same without the branches (3.14's classification, gh-123236) | "
        f"{base.upstream_not_specialized_share:.2%} | {head.upstream_not_specialized_share:.2%} |",
        f"| misses per specialized execution | {base.miss_share:.3%} | {head.miss_share:.3%} |",
        f"| deopts | {base.deopts:,} | {head.deopts:,} |",
        "",
        render_generic(base, head),
    ]
    return "\n".join(lines)


def render_generic(base: Summary, head: Summary) -> str:
    """Where 3.14's "Not specialized" share is, family by family, the head's largest first: each
    family's generic executions on both sides, its part of the head's share, and the head's share
    left once it and every family above it were specialized completely: the lowest share that
    specializing those families could reach."""
    lines = [
        "| not specialized (3.14's classification) | base executions | head executions "
        "| head, share of all executed | head's share without it and the families above |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    base_generic, head_generic = base.upstream_generic, head.upstream_generic

    def largest_first(family: str) -> tuple[int, int, str]:
        return -head_generic.get(family, 0), -base_generic.get(family, 0), family

    left = sum(head_generic.values())
    for name in sorted(set(base_generic) | set(head_generic), key=largest_first):
        count = head_generic.get(name, 0)
        left -= count
        share = count / head.total if head.total else 0.0
        rest = left / head.total if head.total else 0.0
        lines.append(f"| {name} | {base_generic.get(name, 0):,} | {count:,} | {share:.2%} | {rest:.2%} |")
    return "\n".join(lines)
