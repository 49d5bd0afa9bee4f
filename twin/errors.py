"""Problems a person can act on.

Every user-caused error in campustwin is a :class:`Problem`: the file, the 1-based line, the
dotted path inside the document and a message that says what to do. Loaders collect all the
problems they find and raise them together as a :class:`ProblemList`, so a user fixes a file in
one pass; the command line prints them one per line as ``FILE:LINE: dotted.path: message`` and
exits with code 2.

A line of 0 means the problem is with the file as a whole (it is missing, a directory, too big),
where no line could help; such a problem prints as ``FILE: message``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


@dataclass(frozen=True, order=True)
class Problem:
    """One actionable error: where it is and what to do about it."""

    file: str
    line: int
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        text = f"{where}: {self.path}: {self.message}" if self.path else f"{where}: {self.message}"
        return printable(text)


def printable(text: str) -> str:
    """``text`` with what a terminal would act on written out as escapes (``\\x1b``, ``\\x00``).

    Problems quote the user's files, and a file can hold anything: a CSV header of ``ESC ]0;...BEL``
    retitled the terminal and recoloured it when its problem was printed.
    """
    if text.isprintable():
        return text
    return "".join(c if c.isprintable() else repr(c)[1:-1] for c in text)


def in_brief(names: Sequence[str], shown: int = 3) -> str:
    """``a, b, c and 4 more``: what a folder holds, named in a message without listing it all."""
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return ", ".join(names[:shown]) + more


class ProblemList(Exception):
    """One or more problems found while loading or checking user input."""

    def __init__(self, problems: Iterable[Problem]):
        self.problems: list[Problem] = list(problems)
        super().__init__("\n".join(str(p) for p in self.problems))

    @classmethod
    def one(cls, file: str, line: int, message: str, path: str = "") -> ProblemList:
        """A list of a single problem, for the many places that stop at the first one."""
        return cls([Problem(file, line, path, message)])


def sort_problems(problems: Iterable[Problem], first: str | None = None) -> list[Problem]:
    """Drop repeats and order by line within each file, files in the order they first appear.

    A person reads the list top to bottom beside the file, so lines must ascend; a scenario's
    problems span several files, and the file that was asked about (``first``) leads.
    """
    unique = list(dict.fromkeys(problems))
    first_seen: dict[str, int] = {first: 0} if first is not None else {}
    for p in unique:
        first_seen.setdefault(p.file, len(first_seen))
    return sorted(unique, key=lambda p: (first_seen[p.file], p.line, p.path, p.message))


def dotted(path: Sequence[str | int]) -> str:
    """Render a path such as ('buildings', 0, 'halls') as 'buildings[0].halls'."""
    out = ""
    for part in path:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out
