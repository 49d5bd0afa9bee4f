"""Output paths a user names: checked before anything is written.

A user-given output folder must be a folder (or not exist yet) and be writable; a file name
inside it must not climb out of it (``..``, absolute paths, links).
"""

from __future__ import annotations

from pathlib import Path

from twin.errors import Problem, ProblemList


def output_folder(path: str | Path) -> Path:
    """Create (if needed) and return an output folder, or raise ProblemList with the fix."""
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


def inside(folder: Path, name: str) -> Path:
    """``folder / name``, refusing names that would land outside ``folder``."""
    base = folder.resolve()
    target = (base / name).resolve()
    if base != target and base not in target.parents:
        raise ProblemList(
            [Problem(name, 0, "", f"file name leaves the output folder {str(folder)!r}; use a plain name")]
        )
    return target
