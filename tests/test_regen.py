"""regen: the in-process driver, waves of independent rules and the scan rule, on a tiny generator tree."""

from __future__ import annotations

import json
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
from quicken import config, regen
from quicken.config import Config, RegenRule
from quicken.errors import ConfigError, RegenError
from quicken.gitutil import Git, init_repo

# A generator package in the style of Tools/cases_generator: a shared, slow-to-call parser
# module (it logs each call) and scripts that import it and write one output each.
COMMON = '''\
import os

def parse(filenames):
    with open(os.environ["PARSE_LOG"], "a") as log:
        log.write(" ".join(filenames) + "\\n")
    items = []
    for name in filenames:
        with open(name) as f:
            items += [line.split()[1] for line in f if line.startswith("def ")]
    return items
'''
IDS = '''\
import sys
from common import parse

if __name__ == "__main__":
    out, *inputs = sys.argv[2:] if sys.argv[1] == "-o" else (None, *sys.argv[1:])
    with open(out, "w") as f:
        for i, name in enumerate(parse(inputs)):
            f.write(f"#define {name.upper()} {i}\\n")
'''
NAMES = '''\
import sys
import common

def main() -> None:
    out, *inputs = sys.argv[2:]
    with open(out, "w") as f:
        f.write(repr(common.parse(inputs)) + "\\n")
        f.write(f"# {__name__} {sys.argv[0]} {sys.path[0].rsplit('/', 1)[-1]}\\n")

if __name__ == "__main__":
    main()
'''
# global-objects in miniature: reads every .c file for ID(...) lines
SCANNER = '''\
import os, re
with open(os.environ["PARSE_LOG"], "a") as log:
    log.write("scan\\n")
found = set()
for dirname, _, files in os.walk("Src"):
    for name in sorted(files):
        if name.endswith(".c"):
            with open(os.path.join(dirname, name), encoding="utf-8") as f:
                found |= set(re.findall(r"\\bID\\((\\w+)\\)", f.read()))
with open("Include/ids.h", "w") as f:
    f.write("".join(f"ID {n}\\n" for n in sorted(found)))
'''
FILES = {
    "Defs/defs.txt": "def alpha\ndef beta\n",
    "Defs/extra.txt": "def gamma\n",
    "Tools/gen/common.py": COMMON,
    "Tools/gen/ids_gen.py": IDS,
    "Tools/gen/names_gen.py": NAMES,
    "Tools/scan/scan_ids.py": SCANNER,
    "Src/a.c": "int a = ID(one);\n/* filler */\n",
    "Src/b.c": "int b = ID(two);\n",
    "Include/ids.h": "ID one\nID two\n",
    "Out/ids.h": "",
    "Out/names.txt": "",
}
CONFIG = """\
[pin]
version = "3.99.0"
sha256 = "{sha}"

[[regen]]
name = "defs"
inputs = ["Defs/*.txt", "Tools/gen/**"]
outputs = ["Out/ids.h", "Out/names.txt"]
in-process = {in_process}
{memoize}
commands = [
    ["{{python}}", "Tools/gen/ids_gen.py", "-o", "Out/ids.h", "Defs/defs.txt"],
    ["{{python}}", "Tools/gen/names_gen.py", "-o", "Out/names.txt", "Defs/defs.txt", "Defs/extra.txt"],
]

[[regen]]
name = "ids"
inputs = ["Src/**/*.c", "Out/*.h", "Tools/scan/scan_ids.py"]
outputs = ["Include/ids.h"]
{scan}
commands = [["{{python}}", "Tools/scan/scan_ids.py"]]
"""


def make_config(root: Path, in_process: bool = True, memoize: bool = True, scan: bool = True) -> Config:
    text = CONFIG.format(
        sha="a" * 64, in_process="true" if in_process else "false",
        memoize='memoize = ["common.parse"]' if memoize else "",
        scan='scan = ["Src/**/*.c", "Out/*.h"]\nmarkers = ["ID("]' if scan else "",
    )
    return config.parse(root, tomllib.loads(text))


@pytest.fixture
def tree(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Git:
    root = tmp_path / "tree"
    for rel, text in FILES.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    monkeypatch.setenv("PARSE_LOG", str(tmp_path / "parse.log"))
    g = init_repo(root)
    g("add", "-A")
    return g


def parse_log(g: Git) -> list[str]:
    assert g.work_tree is not None
    path = g.work_tree.parent / "parse.log"
    lines = path.read_text().splitlines() if path.exists() else []
    path.unlink(missing_ok=True)
    return lines


def by_processes(cfg: Config, root: Path) -> dict[str, bytes]:
    """The outputs of the 'defs' rule run the old way: one process per command."""
    rule = cfg.regen[0]
    for command in rule.commands:
        argv = regen.expand(cfg, rule, command, [], root)
        subprocess.run(argv, cwd=root, check=True, env=regen._env() | {"PARSE_LOG": "/dev/null"})
    return {p: (root / p).read_bytes() for p in rule.outputs}


def test_in_process_outputs_equal_separate_processes_and_parse_once(tree: Git) -> None:
    root = tree.work_tree
    assert root is not None
    cfg = make_config(root)
    assert regen.regenerate(cfg, tree, ["Defs/defs.txt"], None) == ["defs"]
    fast = {p: (root / p).read_bytes() for p in cfg.regen[0].outputs}
    # one parse of defs.txt for both scripts that ask for it; the second input list is another call
    assert parse_log(tree) == ["Defs/defs.txt", "Defs/defs.txt Defs/extra.txt"]
    assert fast["Out/ids.h"] == b"#define ALPHA 0\n#define BETA 1\n"
    assert fast["Out/names.txt"] == (b"['alpha', 'beta', 'gamma']\n"
                                     b"# __main__ Tools/gen/names_gen.py gen\n")
    assert tree.unstaged_paths() == []  # staged
    assert by_processes(cfg, root) == fast


def test_memo_follows_file_contents(tree: Git) -> None:
    """Same arguments, other bytes in the file: parsed again."""
    root = tree.work_tree
    assert root is not None
    cfg = make_config(root, scan=False)
    first = (root / "Tools/gen/ids_gen.py").read_text()
    writer = first.replace('if __name__ == "__main__":\n',
                           'if __name__ == "__main__":\n    parse(["Defs/defs.txt"])\n'
                           '    open("Defs/defs.txt", "a").write("def delta\\n")\n', 1)
    (root / "Tools/gen/ids_gen.py").write_text(writer)
    tree("add", "-A")
    with pytest.raises(RegenError, match=r"changed Defs/defs\.txt, which no rule declares"):
        regen.regenerate(cfg, tree, ["Defs/defs.txt"], None)
    assert (root / "Out/ids.h").read_text().splitlines()[-1] == "#define DELTA 2"
    assert parse_log(tree)[:2] == ["Defs/defs.txt", "Defs/defs.txt"]


def test_without_memoize_every_script_parses(tree: Git) -> None:
    root = tree.work_tree
    assert root is not None
    regen.regenerate(make_config(root, memoize=False), tree, ["Defs/defs.txt"], None)
    assert parse_log(tree) == ["Defs/defs.txt", "Defs/defs.txt Defs/extra.txt"]


def test_the_trees_own_generator_runs(tree: Git) -> None:
    """A patch that changes a generator module changes the output (nothing is taken from elsewhere)."""
    root = tree.work_tree
    assert root is not None
    common = root / "Tools/gen/common.py"
    common.write_text(common.read_text().replace("line.split()[1]", "line.split()[1] + '_x'"))
    tree("add", "-A")
    regen.regenerate(make_config(root), tree, ["Tools/gen/common.py"], None)
    assert (root / "Out/ids.h").read_text() == "#define ALPHA_X 0\n#define BETA_X 1\n"


@pytest.mark.parametrize(("body", "message"), [
    ('import sys\nsys.exit("boom: no input")\n', "boom: no input"),
    ("raise ValueError('bad definition')\n", "ValueError: bad definition"),
    ("import sys\nsys.exit(3)\n", "exit 3"),
])
def test_in_process_failure_names_the_script(tree: Git, body: str, message: str) -> None:
    root = tree.work_tree
    assert root is not None
    (root / "Tools/gen/names_gen.py").write_text(body)
    tree("add", "-A")
    with pytest.raises(RegenError) as info:
        regen.regenerate(make_config(root), tree, ["Defs/defs.txt"], None)
    assert info.value.message == f"regen defs: Tools/gen/names_gen.py -o failed: {message}"


def test_a_driver_that_cannot_run_is_reported(tree: Git) -> None:
    root = tree.work_tree
    assert root is not None
    text = CONFIG.format(sha="a" * 64, in_process="true", memoize="", scan="")
    cfg = config.parse(root, tomllib.loads('regen-python = "false"\n' + text))
    with pytest.raises(RegenError) as info:
        regen.regenerate(cfg, tree, ["Defs/defs.txt"], None)
    assert info.value.message == "regen defs: regen_driver.py failed: exit 1"


def test_driver_stops_at_the_first_failure(tmp_path: Path) -> None:
    (tmp_path / "ok.py").write_text("open('ran', 'a').write('ok\\n')\n")
    (tmp_path / "bad.py").write_text("raise SystemExit('no')\n")
    (tmp_path / "spec.json").write_text(json.dumps({"commands": [["ok.py"], ["bad.py"], ["ok.py"]]}))
    proc = subprocess.run([sys.executable, str(regen.DRIVER), "spec.json", "result.json"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 1 and "no" in proc.stderr
    results = json.loads((tmp_path / "result.json").read_text())
    assert [(r["argv"], r["status"]) for r in results] == [(["ok.py"], 0), (["bad.py"], 1)]
    assert (tmp_path / "ran").read_text() == "ok\n"


def test_driver_closes_what_a_script_left_open(tmp_path: Path) -> None:
    """A file a script leaves open is written out before the next script runs, as on process exit."""
    (tmp_path / "w.py").write_text("def f():\n    return out\n"  # a cycle: f -> globals -> f
                                   "out = open('data.txt', 'w')\nout.write('hello')\n")
    (tmp_path / "r.py").write_text("import sys\n"
                                   "sys.exit(0 if open('data.txt').read() == 'hello' else 'unflushed')\n")
    (tmp_path / "spec.json").write_text(json.dumps({"commands": [["w.py"], ["r.py"]]}))
    proc = subprocess.run([sys.executable, str(regen.DRIVER), "spec.json", "result.json"], cwd=tmp_path,
                          capture_output=True, text=True, check=False)
    assert proc.returncode == 0, proc.stderr


def test_waves_order_dependent_rules() -> None:
    def rule(name: str, inputs: list[str], outputs: list[str]) -> RegenRule:
        return RegenRule(name, tuple(inputs), tuple(outputs), (("true",),))

    cases = rule("cases", ["Python/bytecodes.c"], ["Python/generated_cases.c.h", "Include/opcode_ids.h"])
    clinic = rule("clinic", ["Python/**/*.c", "Modules/**/*.c"], ["**/clinic/*.c.h"])
    scan = rule("global", ["Python/**/*.c", "Python/**/*.h", "Modules/**/*.h"], ["Include/g.h"])
    paths = ["Python/bytecodes.c", "Python/ceval.c", "Modules/clinic/posix.c.h", "Modules/posix.c"]
    names = [[r.name for r in wave] for wave in regen.waves([cases, clinic, scan], paths)]
    assert names == [["cases", "clinic"], ["global"]]
    # dependent rules keep their order (global reads what cases writes)
    reader = rule("reader", ["Include/g.h"], ["Include/h.h"])
    assert [[r.name for r in w] for w in regen.waves([scan, reader, cases], paths)] == [
        ["global"], ["reader", "cases"]]
    # the same output: never at once
    twin = rule("twin", ["Other/x"], ["Include/g.h"])
    assert [[r.name for r in w] for w in regen.waves([scan, twin], paths)] == [["global"], ["twin"]]


def test_scan_rule_skips_when_marker_lines_are_unchanged(tree: Git) -> None:
    root = tree.work_tree
    assert root is not None
    cfg = make_config(root)
    src = root / "Src/a.c"
    src.write_text(src.read_text() + "int extra;\n")
    tree("add", "-A")
    regen.regenerate(cfg, tree, ["Src/a.c"], None)
    assert parse_log(tree) == ["scan"]  # no run recorded yet: it runs
    reports: list[str] = []
    src.write_text(src.read_text().replace("filler", "other filler"))  # no ID( line changed
    tree("add", "-A")
    regen.regenerate(cfg, tree, ["Src/a.c"], None, reports.append)
    assert parse_log(tree) == [] and reports == ["regen ids: scanned lines unchanged, skipped"]
    src.write_text(src.read_text() + "int c = ID(three);\n")  # a new marker line: runs
    tree("add", "-A")
    regen.regenerate(cfg, tree, ["Src/a.c"], None)
    assert parse_log(tree) == ["scan"]
    assert (root / "Include/ids.h").read_text() == "ID one\nID three\nID two\n"
    # the outputs count too: back to the earlier lines, it runs once, then skips again
    src.write_text("int a = ID(one);\n/* filler */\n")
    tree("add", "-A")
    regen.regenerate(cfg, tree, ["Src/a.c"], None)
    assert parse_log(tree) == ["scan"] and (root / "Include/ids.h").read_text() == "ID one\nID two\n"
    src.write_text("int a = ID(one);\n/* filler again */\n")
    tree("add", "-A")
    regen.regenerate(cfg, tree, ["Src/a.c"], None)
    assert parse_log(tree) == []
    assert tree.unstaged_paths() == []
    # the script is an input read in full: changing it runs the rule
    scanner = root / "Tools/scan/scan_ids.py"
    scanner.write_text(scanner.read_text().replace('f"ID {n}', 'f"ID: {n}'))
    tree("add", "-A")
    regen.regenerate(cfg, tree, ["Tools/scan/scan_ids.py"], None)
    assert parse_log(tree) == ["scan"] and (root / "Include/ids.h").read_text() == "ID: one\nID: two\n"


def test_scan_rule_sees_what_earlier_rules_regenerated(tree: Git) -> None:
    """Out/ids.h is written by 'defs' and scanned by 'ids': a marker line appearing there runs 'ids'."""
    root = tree.work_tree
    assert root is not None
    cfg = make_config(root)
    regen.regenerate(cfg, tree, ["Defs/defs.txt", "Src/a.c"], None)
    assert parse_log(tree)[-1] == "scan"
    ids = root / "Tools/gen/ids_gen.py"
    ids.write_text(ids.read_text().replace('f"#define {name.upper()} {i}\\n"',
                                           'f"#define {name.upper()} ID({name})\\n"'))
    tree("add", "-A")
    regen.regenerate(cfg, tree, ["Tools/gen/ids_gen.py", "Src/a.c"], None)
    assert (root / "Out/ids.h").read_text() == "#define ALPHA ID(alpha)\n#define BETA ID(beta)\n"
    assert parse_log(tree)[-1] == "scan"


def test_scan_rule_runs_when_a_scanned_file_is_not_utf8(tree: Git) -> None:
    root = tree.work_tree
    assert root is not None
    cfg = make_config(root)
    regen.regenerate(cfg, tree, ["Src/a.c"], None)
    parse_log(tree)
    (root / "Src/b.c").write_bytes(b"int b = ID(two);\n/* \xff */\n")  # the marker lines are unchanged
    tree("add", "-A")
    with pytest.raises(RegenError, match="UnicodeDecodeError"):
        regen.regenerate(cfg, tree, ["Src/b.c"], None)


NEEDS = """\
[pin]
version = "3.99.0"
sha256 = "{sha}"

[[regen]]
name = "clin"
inputs = ["Src/**/*.c"]
outputs = ["Out/args.txt"]
needs = [" input]"]
commands = [["{{python}}", "-c", "import sys; open('Out/args.txt', 'w').write(repr(sys.argv[1:]))",
             "{{changed}}"]]
"""


def test_needs_passes_only_the_files_holding_a_marker(tree: Git) -> None:
    root = tree.work_tree
    assert root is not None
    cfg = config.parse(root, tomllib.loads(NEEDS.format(sha="a" * 64)))
    (root / "Src/a.c").write_text("/*[clinic input]\nx\n[clinic start generated code]*/\n")
    (root / "Src/b.c").write_text("int b;\n")
    tree("add", "-A")
    regen.regenerate(cfg, tree, ["Src/a.c", "Src/b.c"], None)
    assert (root / "Out/args.txt").read_text() == "['Src/a.c']"
    reports: list[str] = []
    (root / "Src/b.c").write_text("int b = 2;\n")
    tree("add", "-A")
    regen.regenerate(cfg, tree, ["Src/b.c"], None, reports.append)
    assert reports == ["regen clin: no changed input needs it, skipped"]
    assert (root / "Out/args.txt").read_text() == "['Src/a.c']"
    (root / "Src/b.c").write_bytes(b"int b = 3; /* \xff */\n")  # not UTF-8: the generator decides
    tree("add", "-A")
    regen.regenerate(cfg, tree, ["Src/b.c"], None)
    assert (root / "Out/args.txt").read_text() == "['Src/b.c']"


@pytest.mark.parametrize(("rule", "message"), [
    ('in-process = true\ncommands = [["make", "x"]]\n',
     'regen[0]: in-process commands must each be ["{python}", "SCRIPT.py", ...]'),
    ('memoize = ["a.b"]\ncommands = [["{python}", "x.py"]]\n', "regen[0].memoize needs in-process = true"),
    ('in-process = true\nmemoize = ["nodot"]\ncommands = [["{python}", "x.py"]]\n',
     "regen[0].memoize: 'nodot' is not MODULE.FUNCTION"),
    ('scan = ["*.c"]\ncommands = [["x"]]\n',
     "regen[0]: scan and markers go together (markers: non-empty strings of one line)"),
    ('in-process = "yes"\ncommands = [["{python}", "x.py"]]\n', "regen[0].in-process must be true or false"),
    ('needs = ["x"]\ncommands = [["{python}", "x.py"]]\n',
     "regen[0].needs filters {changed}, which no command uses"),
])
def test_rule_options_are_checked(tmp_path: Path, rule: str, message: str) -> None:
    text = f'[pin]\nversion = "3.99.0"\nsha256 = "{"a" * 64}"\n[[regen]]\nname = "x"\n{rule}'
    (tmp_path / "quicken.toml").write_text(text)
    with pytest.raises(ConfigError) as info:
        config.load(tmp_path)
    assert info.value.message == f"{tmp_path / 'quicken.toml'}: {message}"
