"""Output paths a user names: checked before anything is written.

A user-given output folder must be a folder (or not exist yet) and be creatable; the problem says
which, with exit code 2 at the command line.
"""

from __future__ import annotations

from pathlib import Path

from twin.errors import Problem, ProblemList


def output_folder(path: str | Path) -> Path:
    """Create (if needed) and return an output folder, or raise ProblemList with the fix."""
    if not str(path).strip():
        raise ProblemList([Problem("--out", 0, "", "empty; name a folder to write to, e.g. --out results")])
    folder = Path(path)
    if folder.exists() and not folder.is_dir():
        raise ProblemList(
            [Problem(str(folder), 0, "", "exists and is not a folder; give a folder for --out")]
        )
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ProblemList(
            [Problem(str(folder), 0, "", f"cannot create the output folder: {exc.strerror}")]
        ) from None
    return folder
