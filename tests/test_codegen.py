"""codegen: the dispatch-table reader, on small computed-goto interpreters compiled here."""

from __future__ import annotations

import dataclasses
import shutil
import subprocess
from pathlib import Path

import pytest
from quicken import codegen
from quicken.errors import QuickenError

pytestmark = pytest.mark.skipif(
    any(shutil.which(tool) is None for tool in ("gcc", "nm", "readelf", "objdump")),
    reason="needs gcc and binutils")

NAMES = {0: "ADD", 1: "TRIPLE", 2: "SPILLED", 3: "HALT"}
NOPS = "nop\\n\\tnop\\n\\tnop\\n\\tnop\\n\\tnop\\n\\tnop\\n\\tnop"
JUMP = "jmp 1f\\n\\tnop\\n1:\\tnop\\n\\tnop\\n\\tnop\\n\\tnop\\n\\tnop"

PROGRAM = """
#include <stdio.h>
#include <stdlib.h>

int PyA_Type, PyB_Type;  /* what a guard compares an operand's type against */

__attribute__((cold, noinline)) static void
fail(int acc)
{
    fprintf(stderr, "fail %%d\\n", acc);
    exit(3);
}

int
run(const unsigned char *code, int n)
{
    static void *opcode_targets[6] = {&&op_add, &&op_triple, &&op_spilled, &&op_halt, &&op_rare,
                                      &&op_guard};
    int acc = 1, i = 0;
#define DISPATCH() do { if (i >= n) return acc; goto *opcode_targets[code[i++]]; } while (0)
    DISPATCH();
op_add:
    __asm__ volatile("%(add)s");
    acc += 1;
    DISPATCH();
op_triple:
    __asm__ volatile("%(triple)s");
    acc *= 3;
    DISPATCH();
op_spilled:
    __asm__ volatile("mov (%%%%rsp),%%%%rax\\n\\t%(nops)s" ::: "rax");
    acc -= 2;
    DISPATCH();
op_halt:
    __asm__ volatile("%(nops)s");
    return acc;
op_rare:
    fail(acc);
    DISPATCH();
op_guard:
    __asm__ volatile("lea %(first)s(%%%%rip),%%%%rax\\n\\tcmp %%%%rax,%%%%rdx\\n\\t%(jump)s 1f\\n\\tnop\\n"
                     "1:\\tlea %(second)s(%%%%rip),%%%%rax" ::: "rax", "cc");
    acc += 5;
    DISPATCH();
}

int
main(int argc, char **argv)
{
    static const unsigned char code[] = {0, 1, 2, 0, 3};
    printf("%%d\\n", run(code, argc + 4));
    return 0;
}
"""


def compile_program(tmp_path: Path, name: str, *, triple_jumps: bool, flags: tuple[str, ...] = (),
                    guard: tuple[str, str] = ("PyA_Type", "PyB_Type"), guard_jump: str = "jne") -> Path:
    source = tmp_path / f"{name}.c"
    source.write_text(PROGRAM % {"add": JUMP, "triple": JUMP if triple_jumps else NOPS, "nops": NOPS,
                                 "first": guard[0], "second": guard[1], "jump": guard_jump})
    binary = tmp_path / name
    subprocess.run(["gcc", "-O2", *flags, "-fPIE", "-pie", "-o", str(binary), str(source)], check=True)
    assert subprocess.run([str(binary)], capture_output=True, text=True, check=True).stdout == "5\n"
    return binary


def test_reads_every_entry_and_classifies_it(tmp_path: Path) -> None:
    layout = codegen.read(compile_program(tmp_path, "interp", triple_jumps=False), NAMES)
    assert sorted(layout.entries) == sorted(NAMES.values())
    assert len({entry.address for entry in layout.entries.values()}) == 4
    assert layout.behind_jump() == ["ADD"]
    assert layout.stack_first() == ["SPILLED"]
    assert layout.entries["HALT"].instructions[:6] == ("nop",) * 6
    assert "1 of 4 instruction entries jump" in layout.summary()


def test_changes_name_the_entries_that_gained_or_lost_a_jump(tmp_path: Path) -> None:
    base = codegen.read(compile_program(tmp_path, "base", triple_jumps=False), NAMES)
    head = codegen.read(compile_program(tmp_path, "head", triple_jumps=True), NAMES)
    moved = codegen.changes(base, head)
    assert [(c.name, c.gained) for c in moved] == [("TRIPLE", True)]
    assert [(c.name, c.gained) for c in codegen.changes(head, base)] == [("TRIPLE", False)]
    text = codegen.render(base, head, ("old", "new"), show=["TRIPLE"])
    assert "entries that now jump (1): TRIPLE" in text
    assert "entries that no longer jump (0): none" in text
    assert "TRIPLE (new, " in text and "jmp" in text.splitlines()[-1]
    with pytest.raises(QuickenError, match="NOSUCH: not an opcode of the old build"):
        codegen.render(base, head, ("old", "new"), show=["NOSUCH"])


@pytest.mark.parametrize("partition", [True, False])
def test_entries_in_a_cold_part_are_named(tmp_path: Path, partition: bool) -> None:
    """GCC's hot/cold partitioning moves RARE, whose block calls a cold function, into ``run.cold``;
    without it (-fno-reorder-blocks-and-partition) every entry stays in ``run``."""
    flags = () if partition else ("-fno-reorder-blocks-and-partition",)
    binary = compile_program(tmp_path, "cold", triple_jumps=False, flags=flags)
    layout = codegen.read(binary, {**NAMES, 4: "RARE"})
    if partition:
        assert layout.in_cold_part() == ["RARE"]
        assert layout.summary().endswith("; 1 of 5 lie in a cold part (run.cold)")
    else:
        assert layout.in_cold_part() == []
        assert layout.summary().endswith("; 0 of 5 lie in a cold part")


def test_a_guard_that_tests_types_in_another_order_is_named(tmp_path: Path) -> None:
    names = {**NAMES, 5: "GUARD"}
    base = codegen.read(compile_program(tmp_path, "base", triple_jumps=False), names)
    head = codegen.read(compile_program(tmp_path, "head", triple_jumps=False, guard=("PyB_Type", "PyA_Type")),
                        names)
    assert base.entries["GUARD"].types == ("PyA_Type", "PyB_Type")
    # the entries before it do not see its types
    assert all(not entry.types for name, entry in base.entries.items() if name != "GUARD")
    ab, ba = ("PyA_Type", "PyB_Type"), ("PyB_Type", "PyA_Type")
    assert codegen.reordered_guards(base, head) == [("GUARD", ab, ba)]
    assert codegen.decisions(base, head) == [
        "GUARD tests types in another order: PyB_Type, PyA_Type (base: PyA_Type, PyB_Type); where the guard "
        "accepts either type, an operand of the one now tested later pays the other's compare and branch"]
    assert codegen.render(base, head).splitlines()[-1] == (
        "guards that test types in another order (1): GUARD PyB_Type PyA_Type (was PyA_Type PyB_Type)")
    assert codegen.reordered_guards(base, base) == []


def test_a_type_guard_that_turned_to_jump_when_the_type_matches_is_named(tmp_path: Path) -> None:
    """``cmp`` with a type object then ``jne`` (to the deopt): a passing operand falls through; ``je``:
    it takes the jump (its body was placed elsewhere)."""
    names = {**NAMES, 5: "GUARD"}
    base = codegen.read(compile_program(tmp_path, "base", triple_jumps=False), names)
    head = codegen.read(compile_program(tmp_path, "head", triple_jumps=False, guard_jump="je"), names)
    assert (base.entries["GUARD"].guard_jump, head.entries["GUARD"].guard_jump) == ("jne", "je")
    assert all(entry.guard_jump is None for name, entry in base.entries.items() if name != "GUARD")
    assert codegen.turned_guards(base, head) == [("GUARD", True)]
    assert codegen.turned_guards(head, base) == [("GUARD", False)]
    assert codegen.turned_guards(base, base) == []
    assert codegen.decisions(base, head) == [
        "1 guard now jumps when the type matches (body placed elsewhere, a taken jump per execution of "
        "the specialized path): GUARD"]
    assert codegen.decisions(head, base) == []  # a jump lost costs nothing
    text = codegen.render(base, head).splitlines()
    assert "type guards that now jump when the type matches (1): GUARD" in text
    assert "type guards that no longer jump when the type matches (0): none" in text


def test_a_binary_without_a_dispatch_table_is_a_clear_error(tmp_path: Path) -> None:
    source = tmp_path / "plain.c"
    source.write_text("int main(void) { return 0; }\n")
    binary = tmp_path / "plain"
    subprocess.run(["gcc", "-O2", "-fPIE", "-pie", "-o", str(binary), str(source)], check=True)
    with pytest.raises(QuickenError, match=r"plain: no opcode_targets symbol"):
        codegen.read(binary, NAMES)


def test_an_interpreter_that_fails_is_named(tmp_path: Path) -> None:
    python = tmp_path / "python"
    python.write_text("#!/bin/sh\necho 'ModuleNotFoundError: opcode' >&2\nexit 1\n")
    python.chmod(0o755)
    with pytest.raises(QuickenError, match=r"python failed on .*/python \(reading its opcode names\): "
                                           r"ModuleNotFoundError: opcode"):
        codegen.opcode_names(python)


def _layout(stack_first: int, jumping: tuple[str, ...] = ()) -> codegen.Layout:
    """Four entries; the first ``stack_first`` reload a spilled local, ``jumping`` ones jump."""
    entries = {}
    for opcode, name in NAMES.items():
        first = "mov (%rsp),%rax" if opcode < stack_first else "mov %r13,%rax"
        then = "jmp 4010a0" if name in jumping else "nop"
        entries[name] = codegen.Entry(opcode, name, 0x401000 + 0x40 * opcode, (first, then))
    return codegen.Layout(Path("python"), entries)


def test_decisions_name_a_spill_flip_in_either_direction_and_new_jumps() -> None:
    registers, spilled = _layout(1), _layout(3)
    assert not registers.spills and spilled.spills
    assert codegen.decisions(registers, _layout(2)) == []  # half is not most: no flip
    assert codegen.decisions(registers, spilled) == [
        "the dispatch state moved on the stack: 3 of 4 entries start with a load from the stack frame "
        "(base: 1 of 4); every instruction's cost moves with it, whatever the patch changed"]
    moved_back = codegen.decisions(spilled, registers)
    assert moved_back[0].startswith("the dispatch state moved in a register: 1 of 4")
    assert codegen.decisions(registers, _layout(1, ("TRIPLE",))) == [
        "1 entry now jumps to a body placed elsewhere (a taken jump per execution): TRIPLE"]
    assert codegen.decisions(_layout(1, ("TRIPLE",)), registers) == []  # a lost jump costs nothing
    cold = codegen.Layout(Path("python"), {name: dataclasses.replace(entry, cold="f.cold")
                                           for name, entry in registers.entries.items()})
    assert codegen.decisions(cold, registers) == [
        "0 of 4 entries lie in a cold part (base: 4 of 4): code the compiler judged never executed, "
        "placed away from the hot code"]
    both = codegen.decisions(registers, _layout(4, ("ADD", "HALT")))
    assert len(both) == 2 and both[1].startswith("2 entries now jump") and both[1].endswith(": ADD, HALT")
