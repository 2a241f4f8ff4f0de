"""What the tests read from linked interpreters: the interpreter loop's instructions and size."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from quicken import build


def loop_growth(binary: Path, relinked: Path) -> int:
    """How many bytes the interior pads added to the loop."""
    was, now = (build.symbol_size(b, build.LOOP_SYMBOL) for b in (binary, relinked))
    assert was is not None and now is not None
    return now - was


def loop_instructions(binary: Path) -> list[str]:
    """The loop's instructions in order, without addresses, pads and alignment nops: a jump's
    target inside the loop as the distance in instructions, not in bytes, one outside it (a
    call) by its symbol, data addressed from the code as such."""
    out = subprocess.run(["objdump", "-d", "--no-show-raw-insn", f"--disassemble={build.LOOP_SYMBOL}",
                          str(binary)], capture_output=True, text=True, check=True).stdout
    listed = [(int(addr, 16), text.split(None, 1)) for addr, _, text in
              (line.strip().partition(":\t") for line in out.splitlines() if ":\t" in line)]
    padding = re.compile(r"(?:(?:cs|ds|data16)\s+)*(?:nop\w*|xchg\s+%ax,%ax)\b|int3$")
    code = [(addr, parts) for addr, parts in listed if not padding.match(" ".join(parts))]
    index = {addr: i for i, (addr, _) in enumerate(code)}
    result = []
    for i, (_, parts) in enumerate(code):
        rest = parts[1] if len(parts) > 1 else ""
        operand = rest.split()[0] if rest else ""
        if re.fullmatch(r"[0-9a-f]+", operand):  # a jump's or call's target
            target = int(operand, 16)
            operand = f"{index[target] - i:+d}" if target in index else rest[rest.find("<"):]
        operand = re.sub(r"-?0x[0-9a-f]+\(%rip\)", "data(%rip)", operand)  # the code moved, the data not
        result.append(f"{parts[0]} {operand}")
    return result
