"""Evidence records: content binding, runs from several machines, the policy when they disagree,
schema-1 migration, and the instruction-only gate."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from quicken import gate, records, validate, verify
from quicken.series import load as load_series

EPYC = records.Machine("x86_64", "AMD EPYC", 2)
XEON = records.Machine("x86_64", "Intel Xeon", 2)


@pytest.fixture
def here(monkeypatch: pytest.MonkeyPatch) -> records.Machine:
    """This machine is an Intel Xeon: records made on the EPYC come from elsewhere."""
    monkeypatch.setattr(records.Machine, "here", classmethod(lambda cls: XEON))
    return XEON


def _record(*runs: tuple[records.Machine, str, str, bool]) -> records.Record:
    rec = records.Record("validation", {"patch": "p"})
    for machine, date, mode, ok in runs:
        rec.add(records.Run(machine, date, mode, ok))
    return rec


def test_passed_on_another_machine_is_valid_here(here: records.Machine) -> None:
    passed, why = records.judge(_record((EPYC, "2026-12-02T10:00:00Z", "full", True),
                                        (EPYC, "2026-12-02T11:00:00Z", "full", True)))
    assert passed
    assert why == "on AMD EPYC ×2, 2026-12-02; instructions not re-checked on this machine"


def test_a_failure_on_any_machine_fails_the_record(here: records.Machine) -> None:
    passed, why = records.judge(_record((EPYC, "2026-12-02T10:00:00Z", "full", True),
                                        (XEON, "2026-12-03T10:00:00Z", "full", False)))
    assert not passed
    assert why == "FAILED on Intel Xeon (full, 2026-12-03); passed on AMD EPYC ×1, 2026-12-03"


def test_a_later_run_on_the_same_machine_supersedes_its_failure(here: records.Machine) -> None:
    passed, why = records.judge(_record((XEON, "2026-12-03T10:00:00Z", "full", False),
                                        (EPYC, "2026-12-02T10:00:00Z", "full", True),
                                        (XEON, "2026-12-03T12:00:00Z", "full", True)))
    assert passed
    assert why == ("on AMD EPYC ×1, Intel Xeon ×1, 2026-12-03; 1 earlier failing run superseded (on Intel "
                   "Xeon; kept in the record); instructions checked on this machine")


def test_an_instruction_recheck_does_not_supersede_a_wall_failure(here: records.Machine) -> None:
    passed, _ = records.judge(_record((XEON, "2026-12-03T10:00:00Z", "full", False),
                                      (XEON, "2026-12-03T12:00:00Z", "instructions", True)))
    assert not passed


def test_cpus_of_one_name_but_another_model_are_other_machines(here: records.Machine) -> None:
    zen2 = records.Machine("x86_64", "AMD EPYC", 2, "family 23 model 49 stepping 0")
    zen4 = records.Machine("x86_64", "AMD EPYC", 2, "family 25 model 17 stepping 1")
    passed, why = records.judge(_record((zen2, "2026-12-03T10:00:00Z", "full", False),
                                        (zen4, "2026-12-05T10:00:00Z", "full", True)))
    assert not passed  # the pass on the newer CPU does not supersede the failure on the older one
    assert why == ("FAILED on AMD EPYC (family 23 model 49 stepping 0) (full, 2026-12-03); "
                   "passed on AMD EPYC (family 25 model 17 stepping 1) ×1, 2026-12-05")
    assert records.Machine.from_json(zen4.to_json()) == zen4
    assert EPYC.to_json() == {"arch": "x86_64", "cpu": "AMD EPYC", "cores": 2}  # older runs: no model
    assert records.Machine.from_json(EPYC.to_json()) == EPYC


def _first_patch(make_project, two_patches):  # type: ignore[no-untyped-def]
    """A synthetic project's configuration, series and first patch."""
    project = make_project(two_patches)
    cfg = project.cfg()
    series = load_series(cfg)
    return cfg, series, series.patch(two_patches[0].name)


def test_schema1_validation_record_is_migrated_machine_becoming_provenance(tmp_path: Path,
                                                                          here: records.Machine) -> None:
    path = tmp_path / "0001-x.validation.json"
    path.write_text(json.dumps({
        "binding": {"patch": "0001-x.patch", "patch_sha256": "ab", "machine": EPYC.to_json()},
        "verdict": {"passed": True, "failures": []}, "benchmarks": [{"name": "b"}],
        "date": "2026-12-02T13:06:45Z", "quicken": "0.1.0", "results": "/r"}))
    rec = records.load(path, "validation")
    assert rec is not None
    assert rec.binding == {"patch": "0001-x.patch", "patch_sha256": "ab"}
    assert rec.runs == [records.Run(EPYC, "2026-12-02T13:06:45Z", "full", True, (), "0.1.0", "/r",
                                    migrated=True)]
    assert rec.details["benchmarks"] == [{"name": "b"}]
    assert records.migrate([path]) == [path]
    data = json.loads(path.read_text())
    assert data["schema"] == records.SCHEMA and data["runs"][0]["migrated"] is True
    assert records.load(path, "validation") == rec
    assert records.migrate([path]) == []  # already this schema


def test_schema1_verification_record_keeps_its_provenance(tmp_path: Path) -> None:
    path = tmp_path / "0001-x.verification.json"
    path.write_text(json.dumps({"schema": 1, "binding": {"patch": "0001-x.patch"}, "passed": False,
                                "mode": "quick", "failures": ["p.py: output differs"],
                                "provenance": XEON.to_json(), "date": "2026-12-03T10:00:00Z"}))
    rec = records.load(path, "verification")
    assert rec is not None and rec.runs[0].machine == XEON
    assert rec.runs[0].failures == ("p.py: output differs",) and rec.runs[0].mode == "quick"
    assert "provenance" not in rec.to_json()


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "r.validation.json"
    path.write_text(json.dumps({"schema": 99, "binding": {}}))
    st = records.standing(path, "validation", {}, ())
    assert st.state is records.State.STALE and "newer than this Quicken knows" in st.why


def test_append_run_accumulates_on_the_same_content_and_restarts_on_new(tmp_path: Path) -> None:
    path = tmp_path / "r.validation.json"
    records.append_run(path, "validation", {"patch_sha256": "a"}, records.Run(EPYC, "d1", "full", True),
                       {"benchmarks": [1]})
    rec = records.append_run(path, "validation", {"patch_sha256": "a"},
                             records.Run(XEON, "d2", "instructions", True), None)
    assert [r.machine for r in rec.runs] == [EPYC, XEON] and rec.details == {"benchmarks": [1]}
    rec = records.append_run(path, "validation", {"patch_sha256": "b"},
                             records.Run(XEON, "d3", "full", False), {"benchmarks": [2]})
    assert [r.date for r in rec.runs] == ["d3"] and rec.details == {"benchmarks": [2]}
    assert not list(tmp_path.glob("*.tmp"))


def test_validation_is_valid_on_any_machine_and_stale_on_content(make_project, two_patches,  # type: ignore[no-untyped-def]
                                                                 here: records.Machine) -> None:
    cfg, series, patch = _first_patch(make_project, two_patches)
    path = validate.record_path(cfg, patch)
    legacy = {"binding": validate.binding(cfg, series, patch, "release") | {"machine": EPYC.to_json()},
              "verdict": {"passed": True}, "date": "2026-12-02T13:06:45Z"}
    del legacy["binding"]["settings"]  # schema 1 had no settings
    path.write_text(json.dumps(legacy))
    st = validate.standing(cfg, series, patch)
    assert st.word() == "validated"
    assert st.describe() == ("validated (on AMD EPYC ×1, 2026-12-02; "
                             "instructions not re-checked on this machine)")
    (cfg.overlay / "Include/quicken_counter.h").write_text("#define QUICKEN_COUNTER 2\n")
    assert validate.standing(cfg, series, patch).describe() == "stale: overlay files changed"


def test_verification_standing_and_require(make_project, two_patches, here: records.Machine) -> None:  # type: ignore[no-untyped-def]
    cfg, series, patch = _first_patch(make_project, two_patches)
    path = verify.record_path(cfg, patch)
    records.append_run(path, "verification", verify.binding(cfg, series, patch),
                       records.Run(EPYC, "2026-12-03T10:00:00Z", "full", True), {})
    assert verify.standing(cfg, series, patch).describe() == "verified (full, on AMD EPYC ×1, 2026-12-03)"
    assert verify.require(cfg, series, patch)["summary"] == "full, on AMD EPYC ×1, 2026-12-03"


def test_instruction_only_gate() -> None:
    th = gate.Thresholds(min_target_instruction_reduction=0.15, max_instruction_slowdown=0.01)
    counts = {"bm_target": (1000, 700), "other": (1000, 1005)}
    verdict = gate.evaluate_instructions(counts, ["target"], th)
    assert verdict.passed and len(verdict.rules) == 3
    verdict = gate.evaluate_instructions({"bm_target": (1000, 900), "other": (1000, 1020)}, ["target"], th)
    assert not verdict.passed
    assert [r.benchmark for r in verdict.failures] == ["bm_target", "other"]
    assert not gate.evaluate_instructions({"other": (1, 1)}, ["target"], th).passed  # target missing


def test_landed_records_are_valid_on_any_machine(here: records.Machine) -> None:
    """The repository's own records: readable (migrated on reading), bound to content only."""
    root = Path(__file__).resolve().parents[1] / "patches"
    for path in sorted(root.glob("*.json")):
        kind = "validation" if path.name.endswith(records.VALIDATION_SUFFIX) else "verification"
        rec = records.load(path, kind)
        assert rec is not None and rec.runs, path.name
        assert "machine" not in rec.binding, path.name
        assert all(run.machine.cpu for run in rec.runs), path.name


def _schema2(cfg, series, patch, kind: str) -> Path:  # type: ignore[no-untyped-def]
    """A passing schema-2 record of ``patch``: bound to its whole mail (``patch_sha256``)."""
    binding = verify.binding(cfg, series, patch) if kind == "verification" else \
        validate.binding(cfg, series, patch, "release")
    binding = {("patch_sha256" if k == "code_sha256" else k): (patch.digest if k == "code_sha256" else v)
               for k, v in binding.items()}
    path = records.path_for(cfg.patches, patch.name, kind)
    path.write_text(json.dumps({"schema": 2, "kind": kind, "binding": binding,
                                "runs": [records.Run(EPYC, "2026-12-02T10:00:00Z", "full", True).to_json()]}))
    return path


def _add_trailer(cfg, patch, trailer: str):  # type: ignore[no-untyped-def]
    """Add ``trailer`` to ``patch``'s mail; the series and the patch read again."""
    head, sep, rest = patch.path.read_text().partition("\n---\n")
    patch.path.write_text(f"{head}\n{trailer}{sep}{rest}")
    series = load_series(cfg)
    return series, series.patch(patch.name)


def test_schema2_records_are_rebound_to_the_code_and_survive_a_new_trailer(  # type: ignore[no-untyped-def]
        make_project, two_patches, here: records.Machine) -> None:
    from quicken import status

    cfg, series, patch = _first_patch(make_project, two_patches)
    paths = [_schema2(cfg, series, patch, kind) for kind in ("validation", "verification")]
    assert validate.standing(cfg, series, patch).word() == "validated"  # upgraded on reading
    assert status.migrate_records(cfg) == paths
    assert status.migrate_records(cfg) == []  # already schema 3
    data = json.loads(paths[0].read_text())
    assert data["schema"] == records.SCHEMA == 3
    assert data["binding"]["code_sha256"] == patch.code_digest and "patch_sha256" not in data["binding"]
    series, patch = _add_trailer(cfg, patch, "Quicken-Upstream: gh-100239")
    assert validate.standing(cfg, series, patch).word() == "validated"
    assert verify.standing(cfg, series, patch).word() == "verified"
    series, patch = _add_trailer(cfg, patch, "Quicken-Targets: other_benchmark")
    assert validate.standing(cfg, series, patch).describe() == "stale: patch changed (diff or gate trailers)"


def test_a_schema2_record_of_a_changed_mail_stays_stale(make_project, two_patches,  # type: ignore[no-untyped-def]
                                                        here: records.Machine) -> None:
    from quicken import status

    cfg, series, patch = _first_patch(make_project, two_patches)
    _schema2(cfg, series, patch, "validation")
    series, patch = _add_trailer(cfg, patch, "Quicken-Upstream: gh-100239")  # before the migration
    assert validate.standing(cfg, series, patch).state is records.State.STALE
    status.migrate_records(cfg)
    assert validate.standing(cfg, series, patch).state is records.State.STALE


def test_the_landed_series_has_current_records(here: records.Machine) -> None:
    """Every landed patch has a verification and a validation record of its current code: a
    fresh clone shows each patch verified and validated or failed, never stale or never run."""
    from quicken.config import load as load_config

    cfg = load_config(Path(__file__).resolve().parents[1])
    series = load_series(cfg)
    for patch in series.patches:
        verified = verify.standing(cfg, series, patch)
        for st in (verified, validate.standing(cfg, series, patch)):
            assert st.state in (records.State.PASSED, records.State.FAILED), (patch.name, st.describe())
        assert verified.passed, patch.name
