"""Reading plan exports back in tests: the text a reportlab PDF draws, page by page."""

from __future__ import annotations

import base64
import re
import zlib
from pathlib import Path

# reportlab writes each page's content as one ASCII85 + Flate stream (pageCompression=1).
_STREAM = re.compile(rb"/Filter\s*\[\s*/ASCII85Decode\s*/FlateDecode\s*\].*?stream\r?\n(.*?)endstream", re.S)
_SHOWN = re.compile(rb"\(((?:[^()\\]|\\.)*)\)\s*Tj")
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)


def pdf_page_texts(path: Path) -> list[str]:
    """Every string each page draws, one per line, a page per list item.

    pypdf is not in every venv; reportlab's pages draw every string with ``Tj`` in the standard
    fonts' WinAnsi encoding, so inflating the page streams is enough.
    """
    pages = []
    for match in _STREAM.finditer(Path(path).read_bytes()):
        body = match.group(1).strip().removesuffix(b"~>")
        content = zlib.decompress(base64.a85decode(body))
        shown = [_ESCAPE.sub(_unescape, s).decode("cp1252") for s in _SHOWN.findall(content)]
        pages.append("\n".join(shown))
    return pages


def _unescape(m: re.Match) -> bytes:
    code = m.group(1)
    return bytes([int(code, 8)]) if code[:1].isdigit() else code
