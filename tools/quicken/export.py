"""Stage 7: upstream-ready mails, one per patch, with NEWS entries and PR descriptions.

``quicken export [PATCH…] [--onto REF|PATH] [-o DIR] [--force]`` writes, for each
patch, ``DIR/<patch name>`` (a ``git format-patch`` mail) and ``DIR/<stem>.md`` (the
pull-request description), plus ``DIR/series`` (the mails in order).  ``DIR``
defaults to ``exported/`` in the project; ``quicken review`` looks there for the
previously exported version of a patch (its interdiff).

Decisions:

* **Stacked.**  Mail *k* is the diff from the work tree's commit of patch *k-1*
  (the pin for the first patch) to the commit of patch *k*, nothing excluded:
  the overlay files the patch owns arrive as ordinary new files and the
  regenerated files are included (CPython's CI rejects stale generated files).
  Subjects are numbered ``[PATCH k/n]`` over the whole series, so ``git am``
  of all mails in order onto the pin succeeds and reproduces the work tree
  (plus the NEWS files).  Exporting one patch of a stack writes that mail only;
  it still applies on top of the mails before it.
* **Title.**  ``gh-N: Subject`` when the patch declares ``Quicken-Upstream: gh-N``,
  the plain subject otherwise.  ``Quicken-*`` trailers are dropped from the
  message (other trailers are kept); the validation table is added.
* **NEWS.**  Each mail adds ``Misc/NEWS.d/next/<Section>/<date>.gh-issue-<N>.<nonce>.rst``
  in blurb's format: the date is the patch's author date (UTC), the text is the
  first paragraph of the patch's body (the subject if it has none) wrapped at
  76 columns like blurb does, and the nonce is blurb's own function of that
  text (so re-exports are stable; only a changed text renames the file).  A
  patch that adds its own ``Misc/NEWS.d/next/`` file gets none generated.
  blurb only accepts GitHub issue numbers >= 32426: a patch without such an
  issue is refused; with ``--force`` it is exported *without* a NEWS entry and
  the mail and PR description say so (the PR then needs one, or the
  "skip news" label).
* **Validation.**  A patch whose record (``patches/<stem>.validation.json``) is
  missing, failed or stale is refused, naming what to run; ``--force``
  exports it anyway with ``[PATCH UNVALIDATED k/n]`` and an ``UNVALIDATED``
  line in the message and the PR description.
* **--onto REF|PATH.**  A directory is a CPython git checkout (its ``HEAD``;
  ``DIR:REV`` names another revision of it); anything else is a revision of
  the work tree's repository.  In a temporary repository (borrowing both
  object stores, touching neither), each patch's diff without generated files
  is applied with ``git apply --3way`` on top of the previous one, starting
  at that revision; the ``[[regen]]`` rules then regenerate the generated
  files from that tree.  A patch that does not apply is refused in one line
  naming the patch and file.
* **CRLF files.**  A changed file holding carriage returns (``PCbuild/*.vcxproj``)
  is written as a git binary patch: ``git am`` strips the CR of every mail
  line, so its text hunks could not apply with a plain ``git am``.
"""

from __future__ import annotations

import base64
import email.utils
import hashlib
import os
import re
import shutil
import tempfile
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC
from pathlib import Path
from typing import TYPE_CHECKING, Any

from . import calibrate, compare, records, validate, verify
from .config import Config
from .errors import ApplyError, QuickenError
from .gitutil import Git, init_repo
from .replay import Diff, Engine, Policy
from .series import UPSTREAM_ISSUE, Patch, Series
from .series import load as load_series
from .worktree import WorkTree

if TYPE_CHECKING:
    pass

Report = Callable[[str], None]

#: blurb's sections (blurb._template), and the directory names it uses for them.
SECTIONS = (
    "Security", "Core and Builtins", "Library", "Documentation", "Tests", "Build", "Windows", "macOS",
    "iOS", "Android", "FreeBSD", "WASI", "Emscripten", "Unsupported platforms", "IDLE", "Tools/Demos",
    "C API",
)
_SECTION_DIRS = {"C API": "C_API", "Core and Builtins": "Core_and_Builtins", "Tools/Demos": "Tools-Demos",
                 "Unsupported platforms": "Unsupported_platforms"}
DEFAULT_SECTION = "Core and Builtins"
#: blurb refuses smaller gh-issue numbers (they were bugs.python.org issues).
MIN_GH_ISSUE = 32426
NEWS_DIR = "Misc/NEWS.d/next/"
DEFAULT_OUTPUT = "exported"
_NAUGHTY = ("- ", "issue #", "bpo-", "gh-")


def _quiet(_: str) -> None:
    pass


@dataclass(frozen=True)
class News:
    path: str
    text: str


@dataclass(frozen=True)
class Exported:
    """One patch's export, computed in memory (:func:`write` puts it on disk)."""

    patch: Patch
    index: int  # 1-based position in the series
    total: int
    title: str
    mail: bytes
    pr: str
    news: News | None
    validation: records.Standing
    base: str  # the commit the mail applies to
    head: str  # the exported commit

    @property
    def validated(self) -> bool:
        return self.validation.passed

    @property
    def mail_name(self) -> str:
        return self.patch.name

    @property
    def pr_name(self) -> str:
        return f"{Path(self.patch.name).stem}.md"


# -- pieces of a mail ----------------------------------------------------------


def issue_number(patch: Patch) -> int | None:
    """The GitHub issue of ``Quicken-Upstream:`` (``gh-N``, ``#N``, ``N`` or the issue URL)."""
    value = patch.upstream
    if not value:
        return None
    m = UPSTREAM_ISSUE.match(value.strip())
    return int(m.group(1)) if m else None


def title(patch: Patch) -> str:
    n = issue_number(patch)
    return f"gh-{n}: {patch.subject}" if n is not None else patch.subject


def body_paragraphs(patch: Patch) -> list[str]:
    """The message's paragraphs between the subject and the trailer block."""
    rest = patch.message.split("\n", 1)[1] if "\n" in patch.message else ""
    paragraphs = [p.strip("\n") for p in re.split(r"\n\s*\n", rest.strip("\n")) if p.strip()]
    if patch.trailers and paragraphs:
        paragraphs = paragraphs[:-1]
    return paragraphs


def kept_trailers(patch: Patch) -> list[str]:
    return [f"{t.key}: {t.value}" for t in patch.trailers if not t.key.lower().startswith("quicken-")]


def wrap_like_blurb(text: str) -> str:
    """One paragraph wrapped at 76 columns, twice (blurb's textwrap_body is stable only so)."""
    once = "\n".join(textwrap.wrap(" ".join(text.split()), width=76, break_long_words=False,
                                   break_on_hyphens=False))
    twice = "\n".join(textwrap.wrap(once, width=76, break_long_words=False, break_on_hyphens=False))
    return twice + "\n"


def blurb_nonce(text: str) -> str:
    """blurb's ``generate_nonce``: six url-safe base64 characters of the text's md5."""
    digest = hashlib.md5(text.encode("utf-8")).digest()
    return base64.urlsafe_b64encode(digest)[:6].decode("ascii")


def news_date(patch: Patch) -> str:
    when = email.utils.parsedate_to_datetime(patch.author.date)
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return when.astimezone(UTC).strftime("%Y-%m-%d-%H-%M-%S")


def news_entry(patch: Patch, section: str = DEFAULT_SECTION) -> News | None:
    """The blurb "next" file for ``patch``, or None when it declares no usable issue."""
    if section not in SECTIONS:
        raise QuickenError(f"NEWS section {section!r} is not one of blurb's sections",
                           "choose one of: " + ", ".join(SECTIONS))
    n = issue_number(patch)
    if n is None or n < MIN_GH_ISSUE:
        return None
    paragraphs = body_paragraphs(patch)
    text = paragraphs[0] if paragraphs else patch.subject
    if text.lower().startswith(_NAUGHTY) or not text.strip():
        text = patch.subject
    if not text.rstrip().endswith((".", "!", "?")):
        text = text.rstrip() + "."
    body = wrap_like_blurb(text)
    directory = _SECTION_DIRS.get(section, section)
    path = f"{NEWS_DIR}{directory}/{news_date(patch)}.gh-issue-{n}.{blurb_nonce(body)}.rst"
    return News(path, body)


def _fmt_time(value: object) -> str:
    return compare.format_time(float(value)) if isinstance(value, (int, float)) else "?"


def measured_sampling(rows: Sequence[object]) -> str:
    """What a record's wall ratios rest on, read from its rows (kept since stop 46): worker
    processes and values per process, per side at the unmoved layout; "" when no row says."""
    shapes: set[tuple[int, int]] = set()
    for row in rows:
        if not isinstance(row, Mapping):
            continue
        for side in ("base", "head"):
            runs, values = row.get(f"{side}_processes"), row.get(f"{side}_values")
            if isinstance(runs, int) and isinstance(values, int) and runs > 0:
                shapes.add((runs, values // runs))
    if not shapes:
        return ""
    if len(shapes) == 1:
        (runs, per_run), = shapes
        return f"{runs} processes of {per_run} value{'s' if per_run != 1 else ''} per side"
    counts = sorted({runs for runs, _ in shapes})
    return f"{counts[0]} to {counts[-1]} processes per side"


def validation_lines(record: dict[str, Any] | None, families: list[str] | None = None) -> list[str]:
    """The validation table (Markdown, also readable as plain text in a commit message)."""
    if not record:
        return ["No validation record."]
    verdict = record.get("verdict") or {}
    bound = record.get("binding") or {}
    config = (bound.get("config") or {}).get("name", "?")
    try:
        where = records.judge(records.from_json("validation", record))[1]
    except (ValueError, TypeError, KeyError):
        where = "provenance unknown"
    sampling = record.get("sampling")  # the command line's pyperf options, if any
    options = sampling.items() if isinstance(sampling, dict) else ()
    pyperf = "".join(f", --{key} {value}" for key, value in options)
    rows = record.get("benchmarks") or []
    measured = measured_sampling(rows)
    lines = [f"Validation: {'PASS' if verdict.get('passed') else 'FAIL'} ({record.get('date', '?')}, "
             f"suite {record.get('suite', '?')}{pyperf}{', ' + measured if measured else ''}, "
             f"{config} build; {where})", ""]
    if rows:
        lines += ["| benchmark | base | head | ratio | significant | instructions ratio |",
                  "| --- | ---: | ---: | ---: | --- | ---: |"]
        for row in rows:
            ratio = row.get("ratio")
            num = isinstance(ratio, (int, float))
            ratio_s = f"{ratio:.3f} ({compare.format_ratio(ratio)})" if num else "?"
            iratio = row.get("instructions_ratio")
            inum = isinstance(iratio, (int, float))
            iratio_s = f"{iratio:.3f} ({(iratio - 1) * 100:+.1f}%)" if inum else "-"
            sig = "yes" if row.get("significant") else "no"
            if row.get("unstable"):
                sig += " (unstable)"
            lines.append(f"| {row.get('name', '?')} | {_fmt_time(row.get('base_mean'))} | "
                         f"{_fmt_time(row.get('head_mean'))} | {ratio_s} | {sig} | {iratio_s} |")
        lines.append("")
    geo = record.get("geometric_mean")
    if isinstance(geo, (int, float)):
        lines.append(f"- Geometric mean (time): {geo:.3f} ({compare.format_ratio(geo)})")
    igeo = record.get("instructions_geometric_mean")
    if isinstance(igeo, (int, float)):
        lines.append(f"- Geometric mean (instructions): {igeo:.3f} ({(igeo - 1) * 100:+.1f}%)")
    stats = record.get("pystats")
    if isinstance(stats, dict) and stats:
        wanted = [k for k in stats if not families or any(k.startswith(f"{f} ") for f in families)]
        wanted += [k for k in stats if k not in wanted and k.startswith("unspecialized")]
        for key in wanted:
            value = stats[key]
            if isinstance(value, (int, float)):
                lines.append(f"- pystats delta: {key} {value * 100:+.2f} percentage points")
    for check in record.get("rechecked") or []:
        if isinstance(check, dict):  # records before layout re-measurement list only names
            layouts = calibrate.judged_from_record(check)
            lines.append(f"- Re-measured at other code layouts: {layouts.describe()}")
    for note in record.get("codegen") or []:
        lines.append(f"- GCC's interpreter loop: {note}")
    tests = record.get("tests")
    if isinstance(tests, dict):
        lines.append(f"- Tests: {'passed' if tests.get('passed') else 'FAILED'} ({tests.get('summary', '')})")
    for failure in verdict.get("failures") or []:
        lines.append(f"- Failed rule: {failure}")
    while lines and not lines[-1]:
        lines.pop()
    return lines


def read_record(cfg: Config, patch: Patch) -> dict[str, Any] | None:
    """The patch's validation record as JSON (schema 1 migrated), None without a readable one."""
    try:
        record = records.load(validate.record_path(cfg, patch), "validation")
    except (ValueError, TypeError, KeyError):
        return None
    return None if record is None else record.to_json()


def unvalidated_line(patch: Patch, st: records.Standing) -> str:
    return (f"UNVALIDATED: exported with --force; {st.describe()}. "
            f"Run 'quicken validate {patch.name}' before submitting.")


NO_NEWS_LINE = ("NO NEWS ENTRY: the patch declares no upstream issue (Quicken-Upstream: gh-N, N >= "
                f"{MIN_GH_ISSUE}); add one, or ask for the 'skip news' label.")


def commit_message(patch: Patch, record: dict[str, Any] | None, marks: list[str]) -> str:
    parts = [title(patch)]
    parts += body_paragraphs(patch)
    parts += [textwrap.fill(mark, width=72, break_long_words=False, break_on_hyphens=False) for mark in marks]
    parts.append("\n".join(validation_lines(record, patch.listed("Quicken-Family"))))
    kept = kept_trailers(patch)
    if kept:
        parts.append("\n".join(kept))
    text = "\n\n".join(parts) + "\n"
    # git am ends the message at a line "---"; never let the body contain one.
    return "\n".join(" ---" if ln.rstrip() == "---" else ln for ln in text.split("\n"))


def pr_description(ex_title: str, patch: Patch, index: int, total: int, previous: list[str],
                   record: dict[str, Any] | None, marks: list[str], news: News | None, base_label: str,
                   stat: str) -> str:
    md = [f"# {ex_title}", ""]
    for mark in marks:
        md += [f"> **{mark.split(':', 1)[0]}**:{mark.split(':', 1)[1]}", ""]
    md += [p.replace("\n", " ") + "\n" for p in body_paragraphs(patch)]
    md += ["## Validation", "", *validation_lines(record, patch.listed("Quicken-Family")), ""]
    expected = patch.value("Quicken-Expected")
    targets = patch.targets
    if targets or expected or patch.whole_loop:
        md += ["## Expected effect", ""]
        if targets:
            md.append(f"- target benchmarks: {', '.join(targets)}")
        if patch.whole_loop:
            md.append("- a whole-loop change" + (" of code placement" if patch.placement else "")
                      + ": judged on the benchmark suite as a whole")
        if expected:
            md.append(f"- {expected}")
        md.append("")
    if patch.tests:
        md += ["## Tests", "", f"`./python -m test {' '.join(patch.tests)}`", ""]
    md += ["## Changes", "", "```", stat.rstrip("\n"), "```", ""]
    md += ["## Stack", "", f"Patch {index} of {total}, against {base_label}."]
    if previous:
        md.append("It applies on top of:")
        md += [f"{i}. {t}" for i, t in enumerate(previous, 1)]
    md.append("")
    md += ["## NEWS", ""]
    md.append(f"`{news.path}`" if news else "No NEWS entry (no upstream issue declared).")
    md += ["", "---", f"Exported by `quicken export` from `{patch.name}` (sha256 {patch.digest[:12]})."]
    return "\n".join(md) + "\n"


# -- the commits ------------------------------------------------------------------


@dataclass(frozen=True)
class Chain:
    """The commits to export: ``commits[i]`` is patch ``i``'s, ``base`` what patch 0 applies to."""

    git: Git
    base: str
    commits: list[str]
    label: str


def _work_chain(cfg: Config, series: Series, last: int) -> Chain:
    wt = WorkTree(cfg)
    g = wt.repo()
    state = wt.state()
    if state.digest != series.digest:
        raise QuickenError("the work tree does not match patches/ and cpython_overlay/", "run: quicken apply")
    commits = {p.name: p.commit for p in state.patches}
    return Chain(g, state.pristine, [commits[p.name] for p in series.patches[: last + 1]],
                 f"CPython {cfg.pin.version} (the pin)")


def resolve_onto(cfg: Config, g: Git, onto: str) -> tuple[str, Path | None, str]:
    """``onto`` -> (commit, objects directory to borrow or None, label)."""
    path, _, rev = onto, "", ""
    if not Path(onto).is_dir() and ":" in onto and Path(onto.rsplit(":", 1)[0]).is_dir():
        path, rev = onto.rsplit(":", 1)
    if Path(path).is_dir():
        other = Git(Path(path) / ".git", Path(path))
        status, common, _ = other.run("rev-parse", "--path-format=absolute", "--git-common-dir")
        if status != 0:
            raise QuickenError(f"--onto {onto}: {path} is not a git checkout",
                               "pass a CPython git checkout, DIR:REV, or a revision of the work tree")
        found = Git(Path(common), Path(path)).rev(f"{rev or 'HEAD'}^{{commit}}")
        if found is None:
            raise QuickenError(f"--onto {onto}: no revision {rev or 'HEAD'} in {path}")
        return found, Path(common) / "objects", f"{rev or 'HEAD'} of {path} ({found[:12]})"
    found = g.rev(f"{onto}^{{commit}}")
    if found is None:
        raise QuickenError(f"--onto {onto}: neither a directory nor a revision of {cfg.worktree}",
                           "pass a CPython git checkout, DIR:REV, or a revision of the work tree")
    return found, None, f"{onto} ({found[:12]})"


def _conflict(err: str) -> str:
    for pattern in (r"Applied patch to '([^']+)' with conflicts", r"^U (\S+)$",
                    r"patch failed: (\S+:\d+)", r"error: (\S+): (?:already exists|does not exist) in",
                    r"error: (\S+): patch does not apply"):
        m = re.search(pattern, err, re.M)
        if m:
            return m.group(1)
    lines = err.strip().splitlines()
    return next((ln for ln in lines if ln.startswith("error:")), lines[0] if lines else "git apply failed")


def _onto_chain(cfg: Config, series: Series, last: int, onto: str, workdir: Path, report: Report) -> Chain:
    work = _work_chain(cfg, series, last)
    commit, borrowed, label = resolve_onto(cfg, work.git, onto)
    g = init_repo(workdir / "repo")
    stores = [str(work.git.git_dir / "objects")] + ([str(borrowed)] if borrowed else [])
    (g.git_dir / "objects" / "info" / "alternates").write_text("\n".join(stores) + "\n")
    report(f"check out {label}")
    g("read-tree", "--reset", "-u", commit)
    previous = work.base
    parent = commit
    made: list[str] = []
    exclusions = [f":(exclude,glob){pat}" for rule in cfg.regen for pat in rule.outputs]
    engine = Engine(cfg, g, workdir, policy=Policy(three_way=True), report=report)
    for patch, mine in zip(series.patches[: last + 1], work.commits, strict=True):
        report(f"onto: {patch.name}")
        text = work.git("diff", "--binary", "--full-index", "--no-renames", previous, mine, "--", ".",
                        *exclusions, strip=False)
        diff = Diff.of_text(text, paths=work.git.changed_paths(previous, mine))
        done = engine.replay(parent, patch, diffs=[diff])
        if done.commit is None:
            raise ApplyError(f"{patch.name} does not apply onto {label}: {_conflict(done.error)}",
                             "rebase the patch (apply it there with git apply --3way and resolve), "
                             "or export against the pin")
        parent = done.commit
        made.append(parent)
        previous = mine
    return Chain(g, commit, made, label)


@contextmanager
def _workdir() -> Iterator[Path]:
    path = Path(tempfile.mkdtemp(prefix="quicken-export-"))
    try:
        yield path
    finally:
        shutil.rmtree(path, ignore_errors=True)


def _with_news(g: Git, commit: str, news: News | None, workdir: Path) -> str:
    if news is None:
        return g.tree_of(commit)
    return g.tree_with(commit, {news.path: news.text.encode("utf-8")}, workdir)


def _crlf_attributes(g: Git, base: str, commit: str, workdir: Path) -> Path:
    """An attributes file marking changed files with carriage returns ``binary``.

    ``git am`` strips the CR of every mail line (unless ``--keep-cr``), so a text
    hunk of a CRLF file (PCbuild/*.vcxproj) could never apply; as a binary patch it does.
    """
    lines = []
    for path in g.changed_paths(base, commit):
        for rev in (base, commit):
            if g.run("cat-file", "-e", f"{rev}:{path}")[0] == 0 and b"\r" in g.blob(f"{rev}:{path}"):
                lines.append(f"/{path} binary\n")
                break
    dest = workdir / "crlf.attributes"
    dest.write_text("".join(lines), encoding="utf-8")
    return dest


def _has_news(g: Git, base: str, commit: str) -> bool:
    out = g("diff", "--name-only", "--diff-filter=A", base, commit, "--", NEWS_DIR)
    return bool(out.strip())


# -- the command ---------------------------------------------------------------------


def check(cfg: Config, series: Series, patches: list[Patch], force: bool, section: str) -> None:
    """Refuse unvalidated patches and patches without a usable issue (unless ``force``)."""
    if force:
        return
    for patch in patches:
        records.require_passed(validate.standing(cfg, series, patch), patch.name,
                               f"quicken validate {patch.name} (or export with --force: the mail is then "
                               "marked unvalidated)", "")
        records.require_passed(verify.standing(cfg, series, patch), patch.name,
                               f"quicken verify {Path(patch.name).stem} (or export with --force: the mail is "
                               "then marked unverified)", "it is not shown to behave like stock CPython")
    for patch in patches:
        own = [f.path for f in patch.files if f.added] + series.overlay_of(patch)
        if news_entry(patch, section) is None and not any(p.startswith(NEWS_DIR) for p in own):
            got = f"Quicken-Upstream: {patch.upstream}" if patch.upstream else "no Quicken-Upstream: trailer"
            raise QuickenError(
                f"{patch.name}: no upstream issue for its NEWS entry ({got}; blurb needs gh-N, N >= "
                f"{MIN_GH_ISSUE})",
                "add 'Quicken-Upstream: gh-N' to the patch's trailers, or export with --force "
                "(without a NEWS entry, marked so)",
            )


def prepare(
    cfg: Config,
    names: list[str] | None = None,
    onto: str | None = None,
    force: bool = False,
    section: str = DEFAULT_SECTION,
    report: Report = _quiet,
) -> list[Exported]:
    """Compute the exports of ``names`` (default: the whole series), refusing as documented."""
    series = load_series(cfg)
    if not series.patches:
        raise QuickenError("the series is empty: nothing to export")
    chosen = [series.patch(n) for n in names] if names else list(series.patches)
    order = [p.name for p in series.patches]
    chosen.sort(key=lambda p: order.index(p.name))
    if section not in SECTIONS:
        raise QuickenError(f"--section {section!r} is not one of blurb's sections",
                           "choose one of: " + ", ".join(SECTIONS))
    check(cfg, series, chosen, force, section)
    last = max(order.index(p.name) for p in chosen)
    wt = WorkTree(cfg)
    wt.repo()
    out: list[Exported] = []
    with wt.lock(), _workdir() as workdir:
        if onto:
            chain = _onto_chain(cfg, series, last, onto, workdir, report)
        else:
            chain = _work_chain(cfg, series, last)
        g = chain.git
        titles = [title(p) for p in series.patches]
        for patch in chosen:
            i = order.index(patch.name)
            base = chain.base if i == 0 else chain.commits[i - 1]
            head = chain.commits[i]
            report(f"export {patch.name}")
            validated = validate.standing(cfg, series, patch)
            record = read_record(cfg, patch)
            news = None if _has_news(g, base, head) else news_entry(patch, section)
            marks: list[str] = []
            if not validated.passed:
                marks.append(unvalidated_line(patch, validated))
            proven = verify.standing(cfg, series, patch)
            if not proven.passed:
                marks.append(f"UNVERIFIED: not shown to behave like stock CPython (quicken verify: "
                             f"{proven.describe()}).")
            if news is None and not _has_news(g, base, head):
                marks.append(NO_NEWS_LINE)
            message = commit_message(patch, record, marks)
            tree = _with_news(g, head, news, workdir)
            commit = g.commit_tree(tree, base, message, patch.author)
            prefix = f"PATCH{'' if validated.passed else ' UNVALIDATED'} {i + 1}/{len(order)}"
            crlf = f"core.attributesFile={_crlf_attributes(g, base, commit, workdir)}"
            mail = g("-c", crlf, "format-patch", "-1", "--always", "--stdout", "--zero-commit",
                     "--no-signature", "--no-numbered", f"--subject-prefix={prefix}", "--no-renames",
                     "--full-index", "--binary", commit, strip=False)
            stat = g("-c", crlf, "diff", "--stat=100", "--summary", base, commit, strip=False)
            pr = pr_description(title(patch), patch, i + 1, len(order), titles[:i],
                                record, marks, news, chain.label, stat)
            out.append(Exported(patch, i + 1, len(order), title(patch), mail.encode("utf-8"), pr, news,
                                validated, base, head))
    return out


def write(exports: list[Exported], output: Path) -> list[Path]:
    """Write mails, PR descriptions and ``series``; returns the paths written."""
    output.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    for ex in exports:
        for name, data in ((ex.mail_name, ex.mail), (ex.pr_name, ex.pr.encode("utf-8"))):
            dest = output / name
            tmp = dest.with_name(f".{dest.name}.tmp")
            tmp.write_bytes(data)
            os.replace(tmp, dest)
            written.append(dest)
    listed = output / "series"
    names = listed.read_text().split() if listed.is_file() else []
    merged = sorted(set(names) | {ex.mail_name for ex in exports})
    listed.write_text("".join(f"{n}\n" for n in merged if (output / n).is_file()))
    return written


def default_output(cfg: Config) -> Path:
    return cfg.root / DEFAULT_OUTPUT


def run(
    cfg: Config,
    names: list[str] | None = None,
    onto: str | None = None,
    output: Path | None = None,
    force: bool = False,
    section: str = DEFAULT_SECTION,
    report: Report = _quiet,
) -> list[tuple[Exported, Path]]:
    exports = prepare(cfg, names, onto, force, section, report)
    dest = output or default_output(cfg)
    write(exports, dest)
    return [(ex, dest / ex.mail_name) for ex in exports]


# -- CLI --------------------------------------------------------------------------------
