"""quicken.config: loading quicken.toml, its refusals, globbing and root discovery."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import synthetic as S
from quicken import config
from quicken.errors import ConfigError

REPO_ROOT = Path(__file__).resolve().parent.parent


def test_synthetic_project_loads(project: S.Project, cache_dir: Path) -> None:
    cfg = project.cfg()
    assert cfg.root == project.root
    assert cfg.pin.version == S.VERSION and cfg.pin.sha256 == project.sha256
    assert cfg.pin.git_tag == "v3.99.0" and cfg.pin.git_commit is None
    assert cfg.pin.major_minor == (3, 99)
    assert cfg.sources.providers == ("cache", "path")
    assert cfg.sources.path == project.tarball
    assert cfg.worktree == project.worktree and cfg.builds == project.builds
    assert cfg.patches == project.patches and cfg.overlay == project.overlay
    assert cfg.cache == cache_dir  # from QUICKEN_CACHE_DIR
    assert cfg.regen_python == sys.executable
    assert [r.name for r in cfg.regen] == ["gen"]
    assert cfg.is_generated("Python/generated.h") and not cfg.is_generated("Python/bytecodes.c")
    assert cfg.build_config(None).name == "release" and cfg.build_config("release").configure == ()
    assert cfg.jobs == 2
    assert cfg.keep == 24  # rev-* build slots kept per configuration


def test_real_project_config_loads() -> None:
    cfg = config.load(REPO_ROOT)
    assert cfg.pin.major_minor == (3, 13)
    assert cfg.is_generated("Python/generated_cases.c.h")
    assert cfg.is_generated("Modules/clinic/posixmodule.c.h")
    assert not cfg.is_generated("Python/bytecodes.c")
    assert cfg.build_config("release").fixups == () and cfg.build_config("release").identity == []
    (deopts,) = cfg.build_config("pystats").fixups  # 3.13's deopt counter, fixed on both sides
    assert deopts.path.parent == REPO_ROOT / "benchmarks" / "pystats"
    assert cfg.build_config("pystats").identity == ["--enable-pystats", f"fixup:{deopts.ident}"]
    rules = {r.name: r for r in cfg.regen}
    assert rules["cases"].triggered_by("Tools/cases_generator/analyzer.py")
    assert rules["clinic"].triggered_by("Modules/posixmodule.c")
    assert not rules["clinic"].triggered_by("Modules/clinic/posixmodule.c.h")
    assert cfg.verify_configs == ("pgo-lto",)  # the full verify covers what distributions ship


def test_unknown_build_config(project: S.Project) -> None:
    with pytest.raises(ConfigError) as info:
        project.cfg().build_config("nope")
    assert info.value.message == f"{project.config_file}: no build configuration 'nope'"
    assert info.value.hint == "choose one of: release"


@pytest.mark.parametrize(
    ("pattern", "path", "expected"),
    [
        ("Python/bytecodes.c", "Python/bytecodes.c", True),
        ("Python/*.c", "Python/ceval.c", True),
        ("Python/*.c", "Python/sub/ceval.c", False),
        ("**/clinic/*.c.h", "Modules/clinic/x.c.h", True),
        ("**/clinic/*.c.h", "clinic/x.c.h", True),
        ("**/clinic/*.c.h", "Modules/clinic/sub/x.c.h", False),
        ("Tools/cases_generator/**", "Tools/cases_generator/a/b.py", True),
        ("Modules/**/*.c", "Modules/a.c", True),
        ("Modules/**/*.c", "Modules/x/y/a.c", True),
        ("Python/?.c", "Python/a.c", True),
        ("Python/?.c", "Python/ab.c", False),
        ("Python/a.c", "Python/abc", False),
        ("Include/internal/pycore_x.h", "Include/internal/pycore_xh", False),
    ],
)
def test_match_path(pattern: str, path: str, expected: bool) -> None:
    assert config.match_path(path, pattern) is expected


BAD = [
    ('[pin]\nversion = "3.99"\nsha256 = "{sha}"\n', "pin.version '3.99' is not a CPython release version"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "abc"\n', "pin.sha256 must be 64 hex digits"),
    ('[pin]\nsha256 = "{sha}"\n', "pin.version must be a string"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\ngit-commit = "xyz"\n',
     "pin.git-commit must be a 40-hex-digit commit id"),
    ('pin = 3\n', "[pin] must be a table"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[sources]\nproviders = ["ftp"]\n',
     "sources.providers must list some of cache, path, url, git, debian"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[sources]\ntimeout = 0\n',
     "sources.timeout must be a positive number of seconds"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[build]\ndefault = "debug"\n',
     "build.default 'debug' is not in [build.configs]"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[build.configs]\nrelease = "-O2"\n',
     "build.configs.release must be a list of strings"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[build]\njobs = -1\n',
     "build.jobs must be a whole number (0 = all cores)"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[build]\nkeep = -3\n',
     "build.keep must be a whole number of build slots (0 = no bound)"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[build]\nfixups = 3\n',
     "[build.fixups] must map configuration names to lists of patch files"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[build.fixups]\npystats = ["x.patch"]\n',
     "build.fixups.pystats: no such build configuration"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[build.fixups]\nrelease = "x.patch"\n',
     "build.fixups.release must be a list of patch file paths"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[[regen]]\nname = "x"\ncommands = []\n',
     "regen[0].commands must be a non-empty list of argument lists"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[[regen]]\nname = "x"\ninputs = "a"\ncommands = [["a"]]\n',
     "regen[0].inputs must be a list of strings"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[[regen]]\ncommands = [["a"]]\n',
     "regen[0].name must be a string"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[verify]\nconfigs = "pgo"\n',
     "verify.configs must be a list of build configuration names"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[verify]\nconfigs = ["pgo"]\n',
     "verify.configs: 'pgo' is not a build configuration other than the default ('release')"),
    ('[pin]\nversion = "3.99.0"\nsha256 = "{sha}"\n[verify]\nconfigs = ["release"]\n',
     "verify.configs: 'release' is not a build configuration other than the default ('release')"),
]


@pytest.mark.parametrize(("text", "message"), BAD)
def test_config_refusals_name_the_file(tmp_path: Path, text: str, message: str) -> None:
    (tmp_path / "quicken.toml").write_text(text.replace("{sha}", "a" * 64))
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path)
    assert info.value.message == f"{tmp_path / 'quicken.toml'}: {message}"


def test_missing_fixup_stops_only_its_builds(tmp_path: Path) -> None:
    (tmp_path / "quicken.toml").write_text(
        f'[pin]\nversion = "3.99.0"\nsha256 = "{"a" * 64}"\n[build.configs]\nrelease = []\n'
        'stats = ["--enable-pystats"]\n[build.fixups]\nstats = ["x.patch"]\n'
    )
    cfg = config.load(tmp_path)  # loading, and the release configuration, do not need it
    assert cfg.build_config("release").identity == []
    with pytest.raises(ConfigError) as info:
        _ = cfg.build_config("stats").identity
    assert info.value.message == f"build fixup {tmp_path / 'x.patch'}: No such file or directory"
    assert info.value.hint == "restore the file or drop it from [build.fixups] in quicken.toml"


def test_config_syntax_error_and_missing_file(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path)
    assert info.value.message == f"{tmp_path / 'quicken.toml'}: not found"
    (tmp_path / "quicken.toml").write_text("[pin\n")
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path)
    assert info.value.message.startswith(f"{tmp_path / 'quicken.toml'}: ")
    assert "\n" not in info.value.message


def test_defaults(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("QUICKEN_CACHE_DIR")
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    cfg = config.parse(tmp_path, {"pin": {"version": "3.14.0rc1", "sha256": "A" * 64}})
    assert cfg.pin.sha256 == "a" * 64 and cfg.pin.git_tag == "v3.14.0rc1"
    assert cfg.sources.providers == config.DEFAULT_PROVIDERS and cfg.sources.path is None
    assert cfg.worktree == tmp_path / "work/cpython" and cfg.builds == tmp_path / "work/builds"
    assert cfg.patches == tmp_path / "patches" and cfg.overlay == tmp_path / "cpython_overlay"
    assert cfg.cache == tmp_path / "xdg" / "quicken"
    assert list(cfg.build_configs) == ["release"] and cfg.regen == () and cfg.verify_configs == ()
    monkeypatch.delenv("XDG_CACHE_HOME")
    assert config.default_cache_dir() == Path.home() / ".cache" / "quicken"


def test_find_root(project: S.Project, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    deep = project.root / "a" / "b"
    deep.mkdir(parents=True)
    assert config.find_root(deep) == project.root
    monkeypatch.chdir(deep)
    assert config.find_root() == project.root
    outside = tmp_path / "outside"
    outside.mkdir()
    with pytest.raises(ConfigError) as info:
        config.find_root(outside)
    assert info.value.message == f"no quicken.toml in {outside} or any parent directory"
    monkeypatch.setenv("QUICKEN_PROJECT", str(project.root))
    assert config.find_root(outside) == project.root
    monkeypatch.setenv("QUICKEN_PROJECT", str(outside))
    with pytest.raises(ConfigError) as info:
        config.find_root(project.root)
    assert info.value.message == f"QUICKEN_PROJECT={outside}: no quicken.toml there"
