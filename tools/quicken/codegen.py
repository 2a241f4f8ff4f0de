"""How the compiler laid out the interpreter loop of a build.

CPython 3.13 built with GCC dispatches through computed gotos inside one very
large function, ``_PyEval_EvalFrameDefault``.  Two of GCC's decisions about
that function are made for the whole function at once and flip as
instructions are added to it, whichever instruction is added:

* whether the dispatch state (``next_instr``) lives in a register or is
  spilled to the stack frame, so that every instruction loads and stores it;
* whether an instruction's entry falls through into its body or jumps to a
  body that GCC placed after another predecessor (the generic instruction's
  body is also the target of its specializations' deopts).

A patch that adds an unrelated instruction can so make a generic instruction
slower (a taken jump per execution) while every benchmark executes fewer
instructions.

A third is the order of a guard's type tests: ``tp == &A || tp == &B`` lets
GCC test B first, and which it does flips with unrelated changes to the
function (0005's set and frozenset tests are swapped in 7 of 21 trees built
from this series' history; written as two ``if`` statements, in none), so an
operand of the type now tested second pays the other test's compare and branch.

A fourth is which way a type guard's conditional jump goes: ``jne`` to the
deopt (the passing operand falls through into the body) or ``je`` to a body
placed elsewhere (the passing operand takes a jump every execution, the
failing one falls through).  GCC picks per guard from the blocks' placement,
so it flips with unrelated additions too (0009 turned UNPACK_SEQUENCE_TWO_TUPLE's
and COMPARE_OP_STR's guards to ``je`` on this series' release build).

A fifth is made from the profile, not from the instructions: whether an
instruction's entry lies in the function's ``.cold`` part, the blocks GCC's
hot/cold partitioning (``-freorder-blocks-and-partition``) judged never
executed and placed in ``.text.unlikely``, away from the hot code; with a
profile, GCC 12 puts every dispatch target of 3.13's loop there.

This stage shows those decisions for a built interpreter, so
that a benchmark result that moves the wrong way can be checked against
them: it reads the dispatch table ``opcode_targets`` from the *linked*
interpreter (so release and pgo-lto builds alike; in a position-independent
executable its entries are R_X86_64_RELATIVE relocations whose addends are
the code addresses) and disassembles the first instructions at each entry.
x86-64 ELF and binutils only.
"""

from __future__ import annotations

import itertools
import json
import re
import shutil
import subprocess
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from .errors import QuickenError, ToolMissingError

#: Instructions read at each entry.
WINDOW = 6
#: Instructions at each entry searched for the type objects its guards compare against.
GUARD_WINDOW = 24
#: The symbol objdump names in the comment of an instruction that addresses a type object.
_TYPE_REF = re.compile(r"<(\w+_Type)(?:[+-]0x[0-9a-f]+)?>$")
_TABLE = "opcode_targets"
_SYMBOL = re.compile(rf"^([0-9a-f]+) ([0-9a-f]+) [dD] ({_TABLE}(?:\.\d+)?)$")
#: A function's cold part as GCC names it: ``f.cold`` (``f.cold.1`` and the like after LTO).
_COLD = re.compile(r"^([0-9a-f]+) ([0-9a-f]+) [tT] (\S+\.cold(?:\.\d+)?)$")
_RELATIVE = re.compile(r"^([0-9a-f]+)\s+[0-9a-f]+\s+R_X86_64_RELATIVE\s+([0-9a-f]+)$")
_INSN = re.compile(r"^\s*([0-9a-f]+):\t(.*)$")
#: The stack-frame operand of a spilled local: ``(%rsp)`` or ``0x20(%rsp)``.
_STACK_LOAD = re.compile(r"^mov\w*\s+(?:-?0x[0-9a-f]+)?\(%rsp\),%")
#: Opcode names of a build, by number (specialized ones included).
_OPNAMES = ("import json, opcode\n"
            "names = {**opcode.opmap, **getattr(opcode, '_specialized_opmap', {})}\n"
            "print(json.dumps({v: k for k, v in names.items() if v < 256}))\n")


@dataclass(frozen=True)
class Entry:
    """Where one opcode's code starts, and its first instructions."""

    opcode: int
    name: str
    address: int
    instructions: tuple[str, ...]
    cold: str | None = None  # the ``.cold`` part it lies in, if any
    types: tuple[str, ...] = ()  # type objects addressed in its first GUARD_WINDOW instructions, in order
    guard_jump: str | None = None  # ``je``/``jne`` right after its first compare with a type object

    @property
    def jumps(self) -> bool:
        """Whether an unconditional ``jmp`` is among the first instructions."""
        return any(insn.split(None, 1)[0] == "jmp" for insn in self.instructions)

    @property
    def stack_load_first(self) -> bool:
        """Whether the entry starts by loading a spilled local from the stack frame."""
        return bool(self.instructions) and _STACK_LOAD.match(self.instructions[0]) is not None


@dataclass(frozen=True)
class Layout:
    """The entries of one linked interpreter, by opcode name."""

    binary: Path
    entries: Mapping[str, Entry]

    def behind_jump(self) -> list[str]:
        return sorted(name for name, entry in self.entries.items() if entry.jumps)

    def stack_first(self) -> list[str]:
        return sorted(name for name, entry in self.entries.items() if entry.stack_load_first)

    def in_cold_part(self) -> list[str]:
        return sorted(name for name, entry in self.entries.items() if entry.cold)

    @property
    def spills(self) -> bool:
        """Whether most entries start by reloading a spilled local: the dispatch state lives on the stack."""
        return 2 * len(self.stack_first()) > len(self.entries)

    def summary(self) -> str:
        total = len(self.entries)
        parts = sorted({entry.cold for entry in self.entries.values() if entry.cold})
        return (f"{len(self.behind_jump())} of {total} instruction entries jump within their first "
                f"{WINDOW} instructions; {len(self.stack_first())} of {total} start with a load from "
                "the stack frame (a local spilled by the register allocator); "
                f"{len(self.in_cold_part())} of {total} lie in a cold part"
                + (f" ({', '.join(parts)})" if parts else ""))


@dataclass(frozen=True)
class Change:
    """An opcode whose entry gained or lost an unconditional jump between two builds."""

    name: str
    base: Entry
    head: Entry

    @property
    def gained(self) -> bool:
        return self.head.jumps and not self.base.jumps


def _tool(name: str) -> str:
    path = shutil.which(name)
    if path is None:
        raise ToolMissingError(f"{name} not found on PATH", "install binutils: apt-get install binutils")
    return path


def _run(argv: Sequence[str], subject: str) -> str:
    try:
        proc = subprocess.run(list(argv), capture_output=True, text=True)
    except OSError as exc:
        raise QuickenError(f"cannot run {argv[0]}: {exc.strerror}") from exc
    if proc.returncode != 0:
        last = (proc.stderr.strip().splitlines() or ["(no output)"])[-1]
        raise QuickenError(f"{Path(argv[0]).name} failed on {subject}: {last}")
    return proc.stdout


def opcode_names(python: Path) -> dict[int, str]:
    """The opcode numbers of the interpreter ``python``, as it names them."""
    out = _run([str(python), "-I", "-S", "-c", _OPNAMES], f"{python} (reading its opcode names)")
    return {int(k): v for k, v in json.loads(out).items()}


def symbols(binary: Path) -> list[str]:
    """``nm -S`` of a linked binary, one symbol a line."""
    return _run([_tool("nm"), "-S", str(binary)], str(binary)).splitlines()


def table_targets(binary: Path, symbol_lines: Sequence[str]) -> list[int]:
    """The code addresses of the dispatch table ``opcode_targets`` of a linked binary."""
    start = size = None
    for line in symbol_lines:
        match = _SYMBOL.match(line.strip())
        if match:
            if start is not None:
                raise QuickenError(f"{binary}: more than one {_TABLE} table")
            start, size = int(match.group(1), 16), int(match.group(2), 16)
    if start is None or size is None:
        raise QuickenError(f"{binary}: no {_TABLE} symbol",
                           "the interpreter must be built with computed gotos and not stripped")
    slots: dict[int, int] = {}
    for line in _run([_tool("readelf"), "-rW", str(binary)], str(binary)).splitlines():
        match = _RELATIVE.match(line.strip())
        if match:
            offset = int(match.group(1), 16)
            if start <= offset < start + size:
                slots[(offset - start) // 8] = int(match.group(2), 16)
    if len(slots) != size // 8:
        raise QuickenError(f"{binary}: {_TABLE} has {size // 8} entries but {len(slots)} relocations",
                           "only position-independent x86-64 executables are supported")
    return [slots[i] for i in range(size // 8)]


def cold_parts(symbol_lines: Sequence[str]) -> list[tuple[int, int, str]]:
    """The ``.cold`` parts of the functions among ``nm -S`` lines: (start, size, name)."""
    parts = []
    for line in symbol_lines:
        match = _COLD.match(line.strip())
        if match:
            parts.append((int(match.group(1), 16), int(match.group(2), 16), match.group(3)))
    return parts


@dataclass(frozen=True)
class Instruction:
    address: int
    text: str  # without objdump's comment
    symbol: str | None  # the type object it addresses (objdump's ``# addr <PyTuple_Type>``), if any


def disassemble(binary: Path, addresses: Sequence[int], window: int = WINDOW
                ) -> dict[int, tuple[Instruction, ...]]:
    """The first ``window`` instructions at each address (one objdump run over their span)."""
    if not addresses:
        return {}
    low, high = min(addresses), max(addresses) + 16 * window
    out = _run([_tool("objdump"), "-d", "--no-show-raw-insn", f"--start-address={low:#x}",
                f"--stop-address={high:#x}", str(binary)], str(binary))
    listing: list[Instruction] = []
    for line in out.splitlines():
        match = _INSN.match(line)
        if match:
            raw = match.group(2).strip()
            text = re.sub(r"\s+#.*$|\s+<[^>]*>$", "", raw).strip()
            symbol = _TYPE_REF.search(raw)
            listing.append(Instruction(int(match.group(1), 16), re.sub(r"\s+", " ", text),
                                       symbol.group(1) if symbol else None))
    index = {insn.address: i for i, insn in enumerate(listing)}
    result = {}
    for address in set(addresses):
        if address not in index:
            raise QuickenError(f"{binary}: no instruction starts at {address:#x} (a dispatch target)")
        at = index[address]
        result[address] = tuple(listing[at:at + window])
    return result


def guard_jump(insns: Sequence[Instruction]) -> str | None:
    """``je`` or ``jne``: the conditional jump that directly follows the first ``cmp`` after the
    first instruction addressing a type object (a type guard's test); ``None`` if there is none."""
    first = next((n for n, insn in enumerate(insns) if insn.symbol), None)
    if first is None:
        return None
    for before, insn in itertools.pairwise(insns[first:]):
        if before.text.startswith("cmp"):
            mnemonic = insn.text.split(None, 1)[0]
            return mnemonic if mnemonic in ("je", "jne") else None
    return None


def read(binary: Path, names: Mapping[int, str], window: int = WINDOW) -> Layout:
    """The entries of the opcodes in ``names`` in the linked interpreter ``binary``."""
    symbol_lines = symbols(binary)
    targets = table_targets(binary, symbol_lines)
    wanted = {op: targets[op] for op in names if op < len(targets)}
    code = disassemble(binary, list(wanted.values()), max(window, GUARD_WINDOW))
    parts = cold_parts(symbol_lines)

    def part_of(address: int) -> str | None:
        return next((name for start, size, name in parts if start <= address < start + size), None)

    starts = sorted(set(targets))

    def own(address: int) -> list[Instruction]:
        """Its first instructions before the next dispatch target (another opcode's code)."""
        end = next((a for a in starts if a > address), None)
        return [i for i in code[address][:GUARD_WINDOW] if end is None or i.address < end]

    def entry(op: int, address: int) -> Entry:
        guards = own(address)
        types = tuple(dict.fromkeys(i.symbol for i in guards if i.symbol))  # first mention of each
        return Entry(op, names[op], address, tuple(i.text for i in code[address][:window]), part_of(address),
                     types, guard_jump(guards))

    return Layout(binary, {names[op]: entry(op, address) for op, address in wanted.items()})


def read_interpreter(python: Path) -> Layout:
    """The entries of every opcode of the built interpreter ``python`` (named as it names them)."""
    return read(python, opcode_names(python))


def common(base: Layout, head: Layout) -> Iterator[tuple[str, Entry, Entry]]:
    """(name, base entry, head entry) of every opcode both builds have, by name."""
    for name in sorted(base.entries.keys() & head.entries.keys()):
        yield name, base.entries[name], head.entries[name]


def changes(base: Layout, head: Layout) -> list[Change]:
    """Opcodes (present in both builds) whose entry gained or lost a jump."""
    return [Change(name, b, h) for name, b, h in common(base, head) if b.jumps != h.jumps]


def decisions(base: Layout, head: Layout) -> list[str]:
    """The whole-function decisions that differ from ``base`` to ``head``, one sentence each.

    A change of where the dispatch state lives moves the cost of every
    instruction, in either direction, whatever the patch changed; an entry
    that begins to jump costs its instruction a taken jump per execution.
    """
    notes = []
    if base.spills != head.spills:
        where = "on the stack" if head.spills else "in a register"
        loads = (f"{len(head.stack_first())} of {len(head.entries)} entries start with a load from the "
                 f"stack frame (base: {len(base.stack_first())} of {len(base.entries)})")
        notes.append(f"the dispatch state moved {where}: {loads}; every instruction's cost moves with it, "
                     "whatever the patch changed")
    if len(base.in_cold_part()) != len(head.in_cold_part()):
        notes.append(f"{len(head.in_cold_part())} of {len(head.entries)} entries lie in a cold part (base: "
                     f"{len(base.in_cold_part())} of {len(base.entries)}): code the compiler judged never "
                     "executed, placed away from the hot code")
    gained = [change.name for change in changes(base, head) if change.gained]
    if gained:
        verb = "entry now jumps" if len(gained) == 1 else "entries now jump"
        notes.append(f"{len(gained)} {verb} to a body placed elsewhere (a taken jump per execution): "
                     f"{', '.join(gained)}")
    turned = [name for name, now in turned_guards(base, head) if now]
    if turned:
        verb = "guard now jumps" if len(turned) == 1 else "guards now jump"
        notes.append(f"{len(turned)} {verb} when the type matches (body placed elsewhere, a taken jump per "
                     f"execution of the specialized path): {', '.join(turned)}")
    for name, old, new in reordered_guards(base, head):
        notes.append(f"{name} tests types in another order: {', '.join(new)} (base: {', '.join(old)}); "
                     "where the guard accepts either type, an operand of the one now tested later pays "
                     "the other's compare and branch")
    return notes


def reordered_guards(base: Layout, head: Layout) -> list[tuple[str, tuple[str, ...], tuple[str, ...]]]:
    """Opcodes whose entries address the same type objects in another order: (name, base, head)."""
    return [(name, b.types, h.types) for name, b, h in common(base, head)
            if len(b.types) > 1 and b.types != h.types and sorted(b.types) == sorted(h.types)]


def turned_guards(base: Layout, head: Layout) -> list[tuple[str, bool]]:
    """Opcodes whose first type guard jumps the other way in ``head``: (name, whether a passing
    operand now takes the jump)."""
    return [(name, h.guard_jump == "je") for name, b, h in common(base, head)
            if b.guard_jump and h.guard_jump and b.guard_jump != h.guard_jump]


def render(base: Layout, head: Layout, labels: tuple[str, str] = ("base", "head"),
           show: Sequence[str] = ()) -> str:
    """The two builds' summaries, the entries that changed, and the opcodes asked for."""
    lines = [f"{labels[0]}: {base.binary}", f"  {base.summary()}",
             f"{labels[1]}: {head.binary}", f"  {head.summary()}"]
    moved = changes(base, head)
    gained = [c.name for c in moved if c.gained]
    lost = [c.name for c in moved if not c.gained]
    lines.append(f"entries that now jump ({len(gained)}): {', '.join(gained) or 'none'}")
    lines.append(f"entries that no longer jump ({len(lost)}): {', '.join(lost) or 'none'}")
    turned = turned_guards(base, head)
    for now, what in ((True, "now jump"), (False, "no longer jump")):
        names = [name for name, jumps in turned if jumps == now]
        lines.append(f"type guards that {what} when the type matches ({len(names)}): "
                     f"{', '.join(names) or 'none'}")
    reordered = reordered_guards(base, head)
    lines.append(f"guards that test types in another order ({len(reordered)}): "
                 + ("; ".join(f"{name} {' '.join(new)} (was {' '.join(old)})" for name, old, new in reordered)
                    or "none"))
    for name in show:
        for label, layout in zip(labels, (base, head), strict=True):
            entry = layout.entries.get(name)
            if entry is None:
                raise QuickenError(f"{name}: not an opcode of the {label} build")
            lines.append(f"{name} ({label}, {entry.address:#x}): {'; '.join(entry.instructions)}")
    return "\n".join(lines)
