"""Why a change to the library was refused, told with the fix that fits.

A library that is fine but not writable here (a read-only disk, an immutable file, another user's
folder) is told so, with a copy elsewhere as the fix; anything else that stops a change (another
process holding the database, a full disk) is told as passing.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path


def read_only(folder: Path, reason: BaseException) -> bool:
    """True when the library is fine, only not writable here: SQLite says so, the system refused a
    write, or the folder or its database cannot be written (a read-only disk, an immutable file)."""
    if isinstance(reason, PermissionError) or getattr(reason, "errno", None) == errno.EROFS:
        return True
    if "readonly" in str(reason).lower():  # SQLite: "attempt to write a readonly database"
        return True
    db = folder / "library.sqlite"
    return folder.is_dir() and (
        not os.access(folder, os.W_OK) or (db.is_file() and not os.access(db, os.W_OK))
    )


def read_only_message(folder: Path, reason: BaseException) -> str:
    return (
        f"{folder}: the library cannot be changed there ({str(reason)[:160]}); it is read-only to you: "
        "copy the folder somewhere writable and give that with --data"
    )


def change_refused(folder: Path, exc: BaseException) -> str:
    """Why a change to the library failed (an OSError, or SQLAlchemy's error around SQLite's), with
    the fix that fits: read-only, or something passing (another process holding it, a full disk)."""
    reason = getattr(exc, "orig", None) or exc
    if read_only(folder, reason):
        return read_only_message(folder, reason)
    return (
        f"{folder}: the library could not be changed ({str(reason)[:160]}); if another campustwin is "
        "saving to it, try again when it is done; if the disk is full, free some space"
    )
