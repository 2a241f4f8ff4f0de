#!/usr/bin/env python3
"""Derive a deb-src sources file from the machine's existing Debian apt sources.

Reads the deb822 file(s) under /etc/apt/sources.list.d, takes the first stanza
whose URIs point at the main Debian archive (the one carrying the
``bookworm``/``trixie`` style suites, not ``-security``), and writes a copy with
``Types: deb-src`` and suites ``trixie forky sid``.  No host name is written
here: it is copied from the machine's own configuration.
"""
from __future__ import annotations

import sys
from pathlib import Path

SOURCES_DIR = Path("/etc/apt/sources.list.d")
TARGET = SOURCES_DIR / "quicken-deb-src.sources"
SUITES = "trixie forky sid"


def stanzas(text: str) -> list[dict[str, str]]:
    out: list[dict[str, str]] = []
    for block in text.split("\n\n"):
        fields: dict[str, str] = {}
        for line in block.splitlines():
            if not line.strip() or line.lstrip().startswith("#") or ":" not in line:
                continue
            key, _, value = line.partition(":")
            fields[key.strip()] = value.strip()
        if fields:
            out.append(fields)
    return out


def main() -> int:
    if TARGET.exists():
        print(f"deb-src entries already present: {TARGET}")
        return 0
    for path in sorted(SOURCES_DIR.glob("*.sources")):
        if path == TARGET:
            continue
        for st in stanzas(path.read_text()):
            suites = st.get("Suites", "").split()
            if "deb" not in st.get("Types", "").split():
                continue
            if not suites or any(s.endswith("-security") for s in suites):
                continue
            lines = [
                "Types: deb-src",
                f"URIs: {st['URIs']}",
                f"Suites: {SUITES}",
                f"Components: {st.get('Components', 'main')}",
            ]
            if "Signed-By" in st:
                lines.append(f"Signed-By: {st['Signed-By']}")
            TARGET.write_text("\n".join(lines) + "\n")
            print(f"wrote {TARGET} (derived from {path})")
            return 0
    print(f"no Debian 'deb' stanza found under {SOURCES_DIR}; add a deb-src entry by hand",
          file=sys.stderr)
    return 1


if __name__ == "__main__":
    sys.exit(main())
