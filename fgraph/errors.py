"""The one error hierarchy of fgraph.

Every failure that a user can cause with an input or a command line ends up as a
:class:`FgraphError`.  ``fgraph.cli`` turns it into a one-line message and an exit code in a
single place (no traceback).  Data problems that still leave a usable result (lost events,
orphan returns, a truncated file) are *not* errors: they are counted in the result and
reported as :class:`TraceWarning` records; ``--strict`` turns them into exit code 3.

Exit codes (documented in the README):

====  ==========================================================================
0     success
1     the analysis found what ``fgraph check`` asserts against
2     unusable input or usage error (``FgraphError``)
3     partial input read with warnings, when ``--strict`` is given
====  ==========================================================================
"""

from __future__ import annotations

from dataclasses import dataclass

EXIT_OK = 0
EXIT_CHECK_FAILED = 1
EXIT_BAD_INPUT = 2
EXIT_PARTIAL = 3


class FgraphError(Exception):
    """Base class of every error fgraph reports to a user."""

    exit_code = EXIT_BAD_INPUT

    def __init__(
        self,
        message: str,
        *,
        path: str | None = None,
        offset: int | None = None,
        line: int | None = None,
    ) -> None:
        self.message = message
        self.path = path
        self.offset = offset
        self.line = line
        super().__init__(self.describe())

    def where(self) -> str:
        """``file:line`` or ``file at byte 0x…`` (empty when nothing is known)."""
        parts = []
        if self.path:
            parts.append(str(self.path))
        if self.line is not None:
            return f"{self.path or '<input>'}:{self.line}"
        if self.offset is not None:
            parts.append(f"at byte {self.offset:#x} ({self.offset})")
        return " ".join(parts)

    def describe(self) -> str:
        where = self.where()
        return f"{where}: {self.message}" if where else self.message


class UsageError(FgraphError):
    """A command line or API call that cannot be satisfied (bad threshold, unknown function…)."""


class TraceFormatError(FgraphError):
    """The input is not a trace fgraph can read (bad magic, unknown version, not function_graph)."""


class TraceParseError(FgraphError):
    """The input is a trace of a known kind but is damaged where it cannot be skipped."""


class MissingDependencyError(FgraphError):
    """An optional extra is needed (``pip install fgraph[plot]`` …)."""


@dataclass(frozen=True)
class TraceWarning:
    """A data problem that was survived: something was lost, skipped or repaired.

    ``what`` says what happened, ``where`` where (file plus byte offset or line), and
    ``lost`` how many events or lines are affected (-1 when unknown).
    """

    what: str
    where: str = ""
    lost: int = -1

    def __str__(self) -> str:
        loc = f"{self.where}: " if self.where else ""
        n = f" ({self.lost} lost)" if self.lost >= 0 else ""
        return f"{loc}{self.what}{n}"
