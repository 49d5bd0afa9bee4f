"""Reading a user's text file safely: a regular file, of bounded size, in UTF-8.

Every file campustwin reads from a user (sites, scenarios, catalogs, traces, users files, uploads)
could be the wrong file, a huge one or a hostile one. Only regular files are read: a FIFO or a
device such as /dev/zero would block or never end. The size is capped before and during the read,
and the bytes must decode as UTF-8 text without NUL bytes, so a binary file gets one clear line
that names the file and the line, never a traceback or a hang.
"""

from __future__ import annotations

import codecs
import stat
from pathlib import Path

from twin.errors import Problem, ProblemList

MAX_FILE_BYTES = 8 * 1024 * 1024


def read_text(path: str | Path, what: str = "file") -> str:
    """Read a text file with the size and encoding checks; raise ProblemList on failure."""
    file = str(path)
    return decode_text(_read_bytes(Path(path), file, what), file)


def _read_bytes(p: Path, file: str, what: str) -> bytes:
    """The file's bytes, refusing what is not a readable regular file of bounded size.

    Only regular files are read: a FIFO or a device such as /dev/zero would block or never end,
    and the read itself is capped in case the file grows after it was measured.
    """
    try:
        st = p.stat()
        if stat.S_ISDIR(st.st_mode):
            raise ProblemList.one(file, 0, f"is a directory; give the path of a {what} inside it")
        if not stat.S_ISREG(st.st_mode):
            raise ProblemList.one(file, 0, f"is not a regular file (a pipe or device); give a {what} path")
        if st.st_size > MAX_FILE_BYTES:
            raise _too_big(file, st.st_size)
        with p.open("rb") as fh:
            raw = fh.read(MAX_FILE_BYTES + 1)
    except FileNotFoundError:
        raise ProblemList.one(file, 0, f"{what} not found; check the path") from None
    except (OSError, ValueError) as exc:
        reason = getattr(exc, "strerror", None) or str(exc)
        raise ProblemList.one(
            file, 0, f"cannot read {what} ({reason}); check the path and permissions"
        ) from None
    if len(raw) > MAX_FILE_BYTES:
        raise _too_big(file, len(raw))
    return raw


def _too_big(file: str, size: int) -> ProblemList:
    return ProblemList.one(
        file,
        0,
        f"file is {size:,} bytes, over the {MAX_FILE_BYTES:,}-byte ({MAX_FILE_BYTES // 2**20} MiB) limit; "
        "is it the file you meant? (a site file describes repeated buildings, halls and pods with "
        "templates and count:)",
    )


def decode_text(raw: bytes, file: str) -> str:
    """Decode bytes as UTF-8 text, refusing binary content with a clear problem."""
    if raw.startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)):
        raise ProblemList.one(file, 1, "file is UTF-16 or UTF-32 text; save it as UTF-8")
    nul = raw.find(b"\x00")
    if nul >= 0:
        line = raw.count(b"\n", 0, nul) + 1
        raise ProblemList.one(
            file,
            line,
            "binary data (a NUL byte) on this line; expected YAML text, check this is the right file",
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ProblemList.one(
            file, line, f"byte 0x{raw[exc.start]:02x} on this line is not UTF-8; save the file as UTF-8"
        ) from None
    if not text.strip():
        raise empty_file(file)
    return text


class EmptyFile(ProblemList):
    """A file with nothing in it but blanks or comments: its reader knows what it should hold."""


def empty_file(file: str) -> EmptyFile:
    return EmptyFile(
        [
            Problem(
                file,
                1,
                "",
                "file is empty; write a site (buildings:), a scenario (sites:) or a catalog (rack_types:)",
            )
        ]
    )
