"""Domain errors.

Every failure a user can cause or fix is raised deep in the pipeline as a
:class:`QuickenError` carrying one line of message (naming the file, patch or
hunk concerned) and, where it helps, one line saying what to do.  ``cli.py``
turns it into ``quicken: error: <message>`` plus the hint and a non-zero exit
code; nothing else prints tracebacks for expected failures.
"""

from __future__ import annotations


class QuickenError(Exception):
    """An expected failure with a one-line explanation."""

    exit_code = 1

    def __init__(self, message: str, hint: str | None = None) -> None:
        super().__init__(message)
        self.message = message
        self.hint = hint
        self.details: list[str] = []  # extra lines (e.g. the last compiler errors)

    def __str__(self) -> str:
        return self.message


class ConfigError(QuickenError):
    """quicken.toml is missing or wrong."""


class SourceError(QuickenError):
    """No provider could supply a verified CPython source."""


class SeriesError(QuickenError):
    """patches/, the series file or the overlay is inconsistent or malformed."""


class ApplyError(QuickenError):
    """A patch does not apply, or the work tree is not in a state to be replaced."""


class DirtyTreeError(ApplyError):
    """The work tree holds changes that would be lost."""


class RegenError(QuickenError):
    """A CPython generator failed."""


class BuildError(QuickenError):
    """configure or make failed."""


class ToolMissingError(QuickenError):
    """An external program the pipeline needs is not installed."""

    exit_code = 3
