"""A patch's evidence records: ``patches/<stem>.validation.json`` and ``.verification.json``.

Both kinds are read and written here only, as typed, versioned records.

**Binding.**  A record is bound to *content*: the patch file's bytes, the
overlay files it owns, the code below it (the earlier patches' diffs and
overlay files), the pin, and what else the kind depends on (validation: the
build configuration and the gate's settings; verification: the differential
programs).  Any change there makes the record stale.  The machine is never
part of the binding: a record made on one machine is valid on every other.

**Provenance.**  Each run of ``quicken validate``/``verify`` on unchanged content
appends one :class:`Run` to the record's ``runs``: the machine it ran on (the
CPU model is provenance: it changes between sessions), the date, the mode
(validation: ``full`` or ``instructions``; verification: ``full`` or ``quick``)
and its verdict.  Runs accumulate across machines; a run on changed content
starts a new record.  The details of the most recent run (benchmark rows,
rules, test summaries, ...) stay at the record's top level, where export and
review read them.

**Policy for machines that disagree** (:func:`judge`).  For each machine and
mode, only the latest run counts: a later run on the same machine supersedes
an earlier one.  The record passes when every machine's latest runs passed; a
failing latest run on any machine makes the record ``failed``, whatever the
other machines say, and the failure is named ("failed on Intel Xeon, ...").
Instruction counts are deterministic for a binary, and wall results should hold
on every machine a patch ships to, so a disagreement is a finding to look at,
not noise to outvote.  Running again on that machine (after a fix, or to show
the failure was load) supersedes its failure; the summary still counts the
failures a later pass superseded, and the record keeps every run.

**Standing** (:class:`Standing`): one vocabulary for both kinds: ``never``
(no record), ``passed``, ``failed`` or ``stale`` (the content changed, or the
record is unreadable); the commands show ``passed`` as "validated"/"verified".

**Schemas.**  Schema 1 records (before this module) bound validation to the
machine and kept one provenance; :func:`load` migrates them on reading (the
machine becomes the record's one run) and :func:`migrate` rewrites them.  A
validation binding's ``settings`` (the gate's thresholds and suite) came with
schema 2: a record without them is judged on the rest of its binding.  Schema
2 bound the patch by its whole mail (``patch_sha256``); schema 3 binds its
code (``code_sha256``: the diff and the gate's trailers), so that rewording a
message or adding ``Quicken-Upstream:`` keeps the evidence.  A schema-2
binding whose mail digest is still the patch's is upgraded (:func:`upgrade`):
the same mail has the same code.
"""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from pathlib import Path
from typing import Any

from .errors import QuickenError

SCHEMA = 3
VALIDATION_SUFFIX = ".validation.json"
VERIFICATION_SUFFIX = ".verification.json"

#: The keys of a record that are neither binding nor runs: the latest run's details.
_FRAME = ("schema", "kind", "binding", "runs")


class State(Enum):
    NEVER = "never"
    PASSED = "passed"
    FAILED = "failed"
    STALE = "stale"


@dataclass(frozen=True)
class Machine:
    """Where a run happened (provenance, never binding).  ``model`` tells CPUs apart that share a
    name (family, model and stepping; empty in runs recorded before it was kept)."""

    arch: str
    cpu: str
    cores: int | None
    model: str = ""

    @classmethod
    def here(cls) -> Machine:
        from . import measure

        return cls(platform.machine(), measure.cpu_model(), os.cpu_count(), measure.cpu_signature())

    @classmethod
    def from_json(cls, data: Mapping[str, Any] | None) -> Machine:
        data = data or {}
        cores = data.get("cores")
        return cls(str(data.get("arch", "?")), str(data.get("cpu", "?")),
                   int(cores) if isinstance(cores, int) else None, str(data.get("model", "")))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"arch": self.arch, "cpu": self.cpu, "cores": self.cores}
        if self.model:
            out["model"] = self.model
        return out

    def describe(self) -> str:
        name = f"{self.cpu} ({self.model})" if self.model else self.cpu
        return name if self.arch in ("x86_64", "?") else f"{name} ({self.arch})"


@dataclass(frozen=True)
class Run:
    """One validate/verify run on the record's content."""

    machine: Machine
    date: str  # ISO 8601, UTC
    mode: str  # validation: full | instructions; verification: full | quick
    passed: bool
    failures: tuple[str, ...] = ()
    quicken: str = ""
    results: str = ""  # the results directory on that machine
    migrated: bool = False  # made from a schema-1 record

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Run:
        return cls(Machine.from_json(data.get("machine")), str(data.get("date", "")),
                   str(data.get("mode", "full")), bool(data.get("passed")),
                   tuple(str(f) for f in data.get("failures") or ()), str(data.get("quicken", "")),
                   str(data.get("results", "")), bool(data.get("migrated", False)))

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {"machine": self.machine.to_json(), "date": self.date, "mode": self.mode,
                               "passed": self.passed, "failures": list(self.failures),
                               "quicken": self.quicken, "results": self.results}
        if self.migrated:
            out["migrated"] = True
        return out


@dataclass
class Record:
    """A validation or verification record."""

    kind: str  # validation | verification
    binding: dict[str, Any]
    runs: list[Run] = field(default_factory=list)
    details: dict[str, Any] = field(default_factory=dict)  # the latest run's details

    def to_json(self) -> dict[str, Any]:
        return {"schema": SCHEMA, "kind": self.kind, "binding": self.binding,
                "runs": [r.to_json() for r in self.runs], **self.details}

    def add(self, run: Run, details: Mapping[str, Any] | None = None) -> None:
        """Append ``run``; its details replace the record's unless ``details`` is None."""
        self.runs.append(run)
        if details is not None:
            self.details = {k: v for k, v in details.items() if k not in _FRAME}

    def latest(self, mode: str | None = None) -> Run | None:
        runs = [r for r in self.runs if mode is None or r.mode == mode]
        return max(runs, key=lambda r: r.date) if runs else None


@dataclass(frozen=True)
class Standing:
    """What a record says of its patch now."""

    state: State
    why: str  # stale: what changed; passed/failed: the provenance summary
    record: Record | None = None

    @property
    def passed(self) -> bool:
        return self.state is State.PASSED

    def word(self) -> str:
        """``validated``/``verified`` for a passing record, the state's name otherwise."""
        if self.state is State.PASSED and self.record is not None:
            return "validated" if self.record.kind == "validation" else "verified"
        return self.state.value

    def describe(self) -> str:
        """One phrase for status, review and export."""
        if self.state is State.NEVER:
            return f"never {'validated' if self.why.startswith('no validation') else 'verified'}"
        if self.state is State.STALE:
            return f"stale: {self.why}"
        if self.state is State.FAILED and self.record is not None:
            return f"{self.record.kind} {self.why}"  # "validation FAILED on <machine> (<mode>, <date>)..."
        return f"{self.word()} ({self.why})" if self.why else self.word()


# -- reading and writing -------------------------------------------------------


def path_for(patches_dir: Path, patch_name: str, kind: str) -> Path:
    suffix = VALIDATION_SUFFIX if kind == "validation" else VERIFICATION_SUFFIX
    return patches_dir / f"{Path(patch_name).stem}{suffix}"


def from_json(kind: str, data: Mapping[str, Any]) -> Record:
    """A record from its JSON, migrating schema 1."""
    if not isinstance(data, Mapping) or not isinstance(data.get("binding"), Mapping):
        raise ValueError("not a record (no binding)")
    schema = data.get("schema", 1)
    if schema in (2, SCHEMA):  # the same frame; a schema-2 binding is upgraded by upgrade()
        return Record(kind, dict(data["binding"]), [Run.from_json(r) for r in data.get("runs") or ()],
                      {k: v for k, v in data.items() if k not in _FRAME})
    if schema != 1:
        raise ValueError(f"record schema {schema!r} is newer than this Quicken knows ({SCHEMA})")
    return _from_schema1(kind, data)


def _from_schema1(kind: str, data: Mapping[str, Any]) -> Record:
    binding = dict(data["binding"])
    details = {k: v for k, v in data.items() if k not in ("schema", "binding", "provenance")}
    if kind == "validation":
        machine = Machine.from_json(binding.pop("machine", None))
        verdict = data.get("verdict") or {}
        passed = bool(verdict.get("passed"))
        failures = tuple(str(f) for f in verdict.get("failures") or ())
        mode = "full"
    else:
        machine = Machine.from_json(data.get("provenance"))
        passed = bool(data.get("passed"))
        failures = tuple(str(f) for f in data.get("failures") or ())
        mode = str(data.get("mode", "full"))
    run = Run(machine, str(data.get("date", "")), mode, passed, failures, str(data.get("quicken", "")),
              str(data.get("results", "")), migrated=True)
    return Record(kind, binding, [run], details)


def upgrade(record: Record, mail_digest: str | None, code_digest: str) -> bool:
    """Rebind a schema-2 record (``patch_sha256``, the whole mail) to the code, if the mail is unchanged."""
    binding = record.binding
    if mail_digest is None or "code_sha256" in binding or binding.get("patch_sha256") != mail_digest:
        return False
    record.binding = {k: v for k, v in binding.items() if k != "patch_sha256"} | {"code_sha256": code_digest}
    return True


def load(path: Path, kind: str) -> Record | None:
    """The record at ``path`` (None when there is none); ValueError when it is unreadable."""
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise ValueError(str(exc)) from exc
    return from_json(kind, json.loads(text))


def save(path: Path, record: Record) -> None:
    """Write ``record`` atomically (fsync, then rename over the old one)."""
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "w", encoding="utf-8") as out:
        out.write(json.dumps(record.to_json(), indent=1, default=list) + "\n")
        out.flush()
        os.fsync(out.fileno())
    os.replace(tmp, path)


def append_run(path: Path, kind: str, binding: dict[str, Any], run: Run,
               details: Mapping[str, Any] | None, optional: Sequence[str] = (),
               mail_digest: str | None = None) -> Record:
    """Add ``run`` to the record at ``path`` if it judged the same content, else start a new record.

    ``details`` None keeps the record's details (a run that measured only part of them);
    ``mail_digest`` (the patch's whole mail) lets a schema-2 record be upgraded.
    """
    try:
        record = load(path, kind)
    except ValueError:
        record = None
    if record is not None:
        upgrade(record, mail_digest, str(binding.get("code_sha256")))
    if record is None or stale_reason(record.binding, binding, (), optional) is not None:
        record = Record(kind, binding)
    else:
        record.binding = binding
    record.add(run, details)
    save(path, record)
    return record


def migrate(paths: Sequence[Path], digests: Mapping[str, tuple[str, str]] | None = None) -> list[Path]:
    """Rewrite older records in place in this schema; returns the ones rewritten.

    ``digests`` maps a patch name to its (mail, code) digests, to upgrade
    schema-2 bindings (:func:`upgrade`); a record whose mail changed since is
    rewritten with its old binding, and stays stale.
    """
    done = []
    for path in paths:
        kind = "validation" if path.name.endswith(VALIDATION_SUFFIX) else "verification"
        data = json.loads(path.read_text(encoding="utf-8"))
        if data.get("schema", 1) == SCHEMA:
            continue
        record = from_json(kind, data)
        mail, code = (digests or {}).get(str(record.binding.get("patch")), (None, ""))
        upgrade(record, mail, code)
        save(path, record)
        done.append(path)
    return done


# -- judging -------------------------------------------------------------------


def stale_reason(recorded: Mapping[str, Any], current: Mapping[str, Any],
                 labels: Sequence[tuple[str, str]], optional: Sequence[str] = ()) -> str | None:
    """What changed between the recorded binding and the current one (None: the same content).

    ``labels`` names keys in the order they are reported; other differing keys
    are reported by name.  Keys in ``optional`` are compared only when the
    record has them (records older than that part of the binding).
    """
    named = dict(labels)
    for key in [*named, *sorted(set(recorded) | set(current))]:
        if key in optional and key not in recorded:
            continue
        if recorded.get(key) != current.get(key):
            return named.get(key, f"{key} changed")
    return None


def judge(record: Record) -> tuple[bool, str]:
    """(passed, provenance summary) under the policy in the module docstring."""
    latest: dict[tuple[Machine, str], Run] = {}
    for run in sorted(record.runs, key=lambda r: r.date):
        latest[(run.machine, run.mode)] = run
    if not latest:
        return False, "no run recorded"
    failing = [r for r in latest.values() if not r.passed]
    counts: dict[Machine, int] = {}
    for run in record.runs:
        if run.passed and not any(f.machine == run.machine for f in failing):
            counts[run.machine] = counts.get(run.machine, 0) + 1
    newest = max(latest.values(), key=lambda r: r.date)
    parts = [f"FAILED on {r.machine.describe()} ({r.mode}, {r.date[:10]})" for r in failing]
    if counts:
        names = ", ".join(f"{m.describe()} \N{MULTIPLICATION SIGN}{n}" for m, n in counts.items())
        mode = f"{newest.mode}, " if record.kind == "verification" and not failing else ""
        parts.append(f"{mode}{'passed on' if failing else 'on'} {names}, {newest.date[:10]}")
    superseded = [r for r in record.runs if not r.passed and latest[(r.machine, r.mode)].passed]
    if superseded:  # a pass that followed a failure on the same machine says so
        where = ", ".join(sorted({r.machine.describe() for r in superseded}))
        parts.append(f"{len(superseded)} earlier failing run{'s' * (len(superseded) > 1)} superseded "
                     f"(on {where}; kept in the record)")
    if record.kind == "validation" and not failing:
        here = Machine.here()
        parts.append("instructions checked on this machine" if any(m == here for m in counts)
                     else "instructions not re-checked on this machine")
    return not failing, "; ".join(parts)


def standing(path: Path, kind: str, current: Mapping[str, Any],
             labels: Sequence[tuple[str, str]], optional: Sequence[str] = (),
             mail_digest: str | None = None) -> Standing:
    """The record at ``path`` judged against the ``current`` binding of its patch.

    ``mail_digest`` (the patch's whole mail) lets a schema-2 record be upgraded.
    """
    try:
        record = load(path, kind)
    except (ValueError, TypeError, KeyError) as exc:
        return Standing(State.STALE, f"{path.name} is unreadable ({exc})")
    if record is None:
        return Standing(State.NEVER, f"no {kind} record")
    upgrade(record, mail_digest, str(current.get("code_sha256")))
    why = stale_reason(record.binding, current, labels, optional)
    if why is not None:
        return Standing(State.STALE, why, record)
    passed, summary = judge(record)
    return Standing(State.PASSED if passed else State.FAILED, summary, record)


def require_passed(st: Standing, patch_name: str, command: str, purpose: str) -> None:
    """Raise unless ``st`` passed: ``patch_name <what>: purpose``, hint ``run: command``."""
    if st.passed:
        return
    noun = "validation" if command.startswith("quicken validate") else "verification"
    what = {State.NEVER: f"has no {noun} record", State.FAILED: f"{noun} {st.why}",
            State.STALE: f"has a stale {noun} record ({st.why})"}[st.state]
    raise QuickenError(f"{patch_name} {what}{': ' + purpose if purpose else ''}", f"run: {command}")
