"""Output paths a user names: checked before anything is written.

A user-given output folder must be a folder (or not exist yet) and be creatable; the problem says
which, with exit code 2 at the command line.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

from twin.errors import Problem, ProblemList, in_brief


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


def writable_for(folder: Path, names: list[str]) -> Path:
    """``folder``, once it is known that files ``names`` can be written there: none of them is a
    folder, it holds nothing else (an earlier run's files are replaced; anything else would be
    mixed with them), and a file can be made (checked before a long run, not after it)."""
    try:
        others = sorted(
            p.name for p in folder.iterdir() if p.name not in names and not p.name.startswith(".")
        )
    except OSError as exc:
        raise ProblemList(
            [Problem(str(folder), 0, "", f"cannot read it ({exc.strerror}); give another --out")]
        ) from None
    if others:
        message = f"holds {in_brief(others)}, not a run's results; give a new or empty folder for --out"
        raise ProblemList([Problem(str(folder), 0, "", message)])
    for name in names:
        if (folder / name).is_dir():
            raise ProblemList(
                [
                    Problem(
                        str(folder / name),
                        0,
                        "",
                        "is a folder, where a result file goes; move it away or give another --out",
                    )
                ]
            )
    try:
        with tempfile.NamedTemporaryFile(dir=folder, prefix=".probe-"):
            pass
    except OSError as exc:
        raise ProblemList(
            [Problem(str(folder), 0, "", f"cannot write there ({exc.strerror}); give another --out")]
        ) from None
    return folder


def folders_to_make(path: str | Path) -> list[Path]:
    """The folders that creating ``path`` will make (those missing), the deepest first.

    A run that stops before it writes (Ctrl-C, an error) removes them again, if still empty: an
    empty folder left behind reads as a run that wrote nothing.
    """
    missing: list[Path] = []
    folder = Path(path).absolute()
    while not folder.exists() and folder != folder.parent:
        missing.append(folder)
        folder = folder.parent
    return missing


def remove_if_empty(folders: list[Path]) -> None:
    """Remove these folders, the deepest first, stopping at the first one that is not empty."""
    for folder in folders:
        try:
            folder.rmdir()
        except OSError:
            return
