"""Figures from pystats raw results (``summarize_stats.py --json-output``).

Keys look like ``opcode[BINARY_OP].execution_count``,
``opcode[BINARY_OP].specializable``, ``opcode[BINARY_OP].specialization.deferred``.
A family is a specializable instruction; its specialized forms are the
instructions named ``<FAMILY>_…`` (``BINARY_OP_ADD_INT``).
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

from .errors import QuickenError

_KEY = re.compile(r"^opcode\[([A-Z0-9_]+)\]\.(.+)$")


@dataclass(frozen=True)
class Family:
    name: str
    generic: int  # executions of the unspecialized instruction
    specialized: int  # executions of its specialized forms
    deferred: int
    failure: int
    success: int

    @property
    def specialized_share(self) -> float:
        total = self.generic + self.specialized
        return self.specialized / total if total else 0.0


@dataclass(frozen=True)
class Summary:
    total: int  # all instructions executed
    families: dict[str, Family]

    @property
    def unspecialized(self) -> int:
        """Executions of specializable instructions that ran unspecialized."""
        return sum(f.generic for f in self.families.values())

    @property
    def unspecialized_share(self) -> float:
        return self.unspecialized / self.total if self.total else 0.0


def load(path: Path) -> Summary:
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as exc:
        raise QuickenError(f"{path}: not a pystats JSON file: {exc}") from None
    return summarize(data)


def summarize(data: dict[str, object]) -> Summary:
    per_op: dict[str, dict[str, int]] = defaultdict(dict)
    for key, value in data.items():
        m = _KEY.match(key)
        if m and isinstance(value, int):
            per_op[m.group(1)][m.group(2)] = value
    total = sum(fields.get("execution_count", 0) for fields in per_op.values())
    families: dict[str, Family] = {}
    for name, fields in per_op.items():
        if "specializable" not in fields:
            continue
        specialized = sum(
            other.get("execution_count", 0)
            for op, other in per_op.items()
            if op.startswith(name + "_") and "specializable" not in other
        )
        families[name] = Family(
            name,
            fields.get("execution_count", 0),
            specialized,
            fields.get("specialization.deferred", 0),
            fields.get("specialization.failure", 0),
            fields.get("specialization.success", 0),
        )
    return Summary(total, families)


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
    return out


def render(base: Summary, head: Summary) -> str:
    lines = [
        "| family | base specialized | head specialized | base deferred | head deferred |",
        "| --- | ---: | ---: | ---: | ---: |",
    ]
    for name in sorted(set(base.families) | set(head.families)):
        b, h = base.families.get(name), head.families.get(name)
        if b is None or h is None or (b.generic + b.specialized + h.generic + h.specialized) == 0:
            continue
        lines.append(f"| {name} | {b.specialized_share:.1%} | {h.specialized_share:.1%} | "
                     f"{b.deferred:,} | {h.deferred:,} |")
    lines.append(f"| **specializable but unspecialized, share of all instructions** | "
                 f"{base.unspecialized_share:.2%} | {head.unspecialized_share:.2%} | | |")
    return "\n".join(lines)
