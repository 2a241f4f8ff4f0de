"""Thin, typed access to git for the pipeline (GitPython underneath).

All git calls go through :class:`Git`, which fixes the settings that would
otherwise make results depend on the user's global configuration (signing,
line-ending conversion, hooks) and turns failures into :class:`QuickenError`.
Commits the pipeline makes are deterministic: author, committer and dates
come from the patch mail (or the pin), so the same inputs give the same
commit ids on every machine.
"""

from __future__ import annotations

import shutil
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import git

from .errors import QuickenError, ToolMissingError

# Never convert line endings, never run filters: the work tree must hold the
# release's bytes exactly as the tarball had them.
ATTRIBUTES = "* -text !eol -ident -filter -export-subst -export-ignore\n"
SAFE_CONFIG = (
    "-c",
    "core.autocrlf=false",
    "-c",
    "core.safecrlf=false",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "tag.gpgsign=false",
    "-c",
    "core.hooksPath=/dev/null",
    "-c",
    "core.quotepath=false",
    "-c",
    "diff.noprefix=false",
    "-c",
    "diff.mnemonicprefix=false",
    "-c",
    "diff.renames=false",
    "-c",
    "format.signature=",
    "-c",
    "advice.detachedHead=false",
)

PIN_DATE = "2001-01-01T00:00:00+00:00"


@dataclass(frozen=True)
class Identity:
    name: str
    email: str
    date: str

    def env(self) -> dict[str, str]:
        return {
            "GIT_AUTHOR_NAME": self.name,
            "GIT_AUTHOR_EMAIL": self.email,
            "GIT_AUTHOR_DATE": self.date,
            "GIT_COMMITTER_NAME": self.name,
            "GIT_COMMITTER_EMAIL": self.email,
            "GIT_COMMITTER_DATE": self.date,
        }


PIN_IDENTITY = Identity("Quicken", "quicken@localhost", PIN_DATE)


def require_git() -> None:
    if shutil.which("git") is None:
        raise ToolMissingError("git not found on PATH", "install it: apt-get install git")


class Git:
    """Run git in one repository, optionally with another work tree/index."""

    def __init__(
        self,
        git_dir: Path,
        work_tree: Path | None = None,
        index_file: Path | None = None,
    ) -> None:
        self.git_dir = git_dir
        self.work_tree = work_tree
        self.index_file = index_file
        self._cmd = git.Git(str(work_tree or git_dir))

    def with_tree(self, work_tree: Path, index_file: Path) -> Git:
        return Git(self.git_dir, work_tree, index_file)

    def _env(self, extra: Mapping[str, str] | None) -> dict[str, str]:
        env = {"GIT_DIR": str(self.git_dir), "LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0"}
        if self.work_tree is not None:
            env["GIT_WORK_TREE"] = str(self.work_tree)
        if self.index_file is not None:
            env["GIT_INDEX_FILE"] = str(self.index_file)
        if extra:
            env.update(extra)
        return env

    def __call__(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        stdin: Path | None = None,
        strip: bool = True,
        check: bool = True,
    ) -> str:
        status, out, err = self.run(*args, env=env, stdin=stdin, strip=strip)
        if check and status != 0:
            cmd = " ".join(args[:2])
            first = (err.strip().splitlines() or [f"exit status {status}"])[0]
            raise QuickenError(f"git {cmd} failed in {self.work_tree or self.git_dir}: {first}")
        return out

    def run(
        self,
        *args: str,
        env: Mapping[str, str] | None = None,
        stdin: Path | None = None,
        strip: bool = True,
    ) -> tuple[int, str, str]:
        argv = ["git", *SAFE_CONFIG, *args]
        handle = open(stdin, "rb") if stdin is not None else None  # noqa: SIM115
        try:
            status, out, err = self._cmd.execute(
                argv,
                with_extended_output=True,
                with_exceptions=False,
                env=self._env(env),
                istream=handle,
                strip_newline_in_stdout=strip,
            )
        finally:
            if handle is not None:
                handle.close()
        return int(status or 0), str(out), str(err)

    # -- conveniences ---------------------------------------------------

    def blob(self, rev_path: str) -> bytes:
        """The exact bytes of ``REV:PATH``."""
        out = self._cmd.execute(
            ["git", *SAFE_CONFIG, "cat-file", "blob", rev_path],
            env=self._env(None),
            stdout_as_string=False,
            strip_newline_in_stdout=False,
        )
        assert isinstance(out, bytes)
        return out

    def rev(self, ref: str) -> str | None:
        status, out, _ = self.run("rev-parse", "--verify", "--quiet", ref)
        return out.strip() if status == 0 else None

    def tree_of(self, rev: str) -> str:
        return self("rev-parse", f"{rev}^{{tree}}")

    def commit_tree(self, tree: str, parent: str | None, message: str, who: Identity) -> str:
        args = ["commit-tree", "--no-gpg-sign", tree]
        if parent:
            args += ["-p", parent]
        msg_file = self.git_dir / "quicken" / "COMMIT_MSG"
        msg_file.parent.mkdir(parents=True, exist_ok=True)
        msg_file.write_text(message if message.endswith("\n") else message + "\n", encoding="utf-8")
        return self(*args, "-F", str(msg_file), env=who.env())

    def snapshot(self) -> str:
        """The tree of the work tree as it is, untracked files included (no side effects)."""
        assert self.work_tree is not None
        index = self.git_dir / "quicken" / "snapshot.index"
        index.unlink(missing_ok=True)
        tmp = self.with_tree(self.work_tree, index)
        try:
            tmp("read-tree", "HEAD")
            tmp("add", "-A", "-f", ".")
            return tmp("write-tree")
        finally:
            index.unlink(missing_ok=True)

    def tree_with(self, base: str, files: Mapping[str, bytes], scratch: Path) -> str:
        """The tree of ``base`` with each file of ``files`` (path -> data, mode 100644) holding its data.

        Written through a temporary index in the directory ``scratch``; the
        repository's own index and work tree are not touched.
        """
        scratch.mkdir(parents=True, exist_ok=True)
        index, blob_file = scratch / "tree-with.index", scratch / "tree-with.blob"
        tmp = self.with_tree(scratch, index)
        try:
            tmp("read-tree", base)
            for path, data in files.items():
                blob_file.write_bytes(data)
                blob = tmp("hash-object", "-w", "--no-filters", str(blob_file))
                tmp("update-index", "--add", "--cacheinfo", f"100644,{blob},{path}")
            return tmp("write-tree")
        finally:
            index.unlink(missing_ok=True)
            blob_file.unlink(missing_ok=True)

    def changed_paths(self, old: str, new: str) -> list[str]:
        out = self("diff", "--name-only", "--no-renames", "-z", old, new, strip=False)
        return [p for p in out.split("\0") if p]

    def status_porcelain(self) -> list[str]:
        out = self("status", "--porcelain=v1", "-z", "--untracked-files=all", strip=False)
        return [entry for entry in out.split("\0") if entry]

    def unstaged_paths(self) -> list[str]:
        """Work-tree files that differ from the index, and untracked files."""
        changed = self("diff-files", "--name-only", "-z", strip=False).split("\0")
        others = self("ls-files", "--others", "-z", strip=False).split("\0")
        return sorted({p for p in changed + others if p})

    def update_ref(self, ref: str, value: str) -> None:
        self("update-ref", ref, value)

    def delete_ref(self, ref: str) -> None:
        self("update-ref", "-d", ref)

    def refs(self, prefix: str) -> dict[str, str]:
        out = self("for-each-ref", "--format=%(refname) %(objectname)", prefix)
        result: dict[str, str] = {}
        for line in out.splitlines():
            name, _, sha = line.partition(" ")
            result[name] = sha
        return result


def init_repo(path: Path) -> Git:
    """Create a repository at ``path`` configured for byte-exact checkouts."""
    require_git()
    path.mkdir(parents=True, exist_ok=True)
    g = Git(path / ".git", path)
    g("init", "-q", "--initial-branch=quicken", str(path))
    info = path / ".git" / "info"
    info.mkdir(parents=True, exist_ok=True)
    (info / "attributes").write_text(ATTRIBUTES, encoding="utf-8")
    for key, value in (
        ("core.autocrlf", "false"),
        ("commit.gpgsign", "false"),
        ("gc.auto", "0"),
        ("user.name", PIN_IDENTITY.name),
        ("user.email", PIN_IDENTITY.email),
    ):
        g("config", key, value)
    return g


def clone(url: str, dest: Path, branch: str, env: Mapping[str, str], depth: int = 1) -> Git:
    """A shallow clone of ``branch`` of ``url`` at ``dest``, nothing checked out.

    A failure is raised as git's last line of error output.
    """
    require_git()
    argv = ["git", *SAFE_CONFIG, "clone", "-q", f"--depth={depth}", f"--branch={branch}", "--no-checkout",
            url, str(dest)]
    status, _, err = git.Git(str(dest.parent)).execute(
        argv, with_extended_output=True, with_exceptions=False,
        env={"LC_ALL": "C", "GIT_TERMINAL_PROMPT": "0", **env},
    )
    if status != 0:
        lines = [ln.strip() for ln in str(err).splitlines() if ln.strip()]
        raise QuickenError(lines[-1] if lines else f"git clone: exit status {status}")
    return Git(dest / ".git", dest)


def open_repo(path: Path) -> Git | None:
    git_dir = path / ".git"
    if not git_dir.is_dir():
        return None
    return Git(git_dir, path)
