"""Reading plan exports back in tests: the text a reportlab PDF draws, page by page, with its size."""

from __future__ import annotations

import base64
import re
import zlib
from pathlib import Path

# reportlab writes each page's content as one ASCII85 + Flate stream (pageCompression=1), sets a
# font with "/F1 7 Tf" and draws every string with "(...) Tj".
_STREAM = re.compile(rb"/Filter\s*\[\s*/ASCII85Decode\s*/FlateDecode\s*\].*?stream\r?\n(.*?)endstream", re.S)
_TOKEN = re.compile(rb"/F\d+\s+([\d.]+)\s+Tf|\(((?:[^()\\]|\\.)*)\)\s*Tj")
_FONT_TOKEN = re.compile(rb"/(F\d+)\s+[\d.]+\s+Tf|\(((?:[^()\\]|\\.)*)\)\s*Tj")
_ESCAPE = re.compile(rb"\\([0-7]{1,3}|.)", re.S)


def pdf_page_strings(path: Path) -> list[list[tuple[float, str]]]:
    """Per page, every string it draws with its font size in points, in drawing order.

    pypdf is not in every venv; reportlab's pages draw text in the standard fonts' WinAnsi
    encoding, so inflating the page streams is enough.
    """
    pages = []
    for match in _STREAM.finditer(Path(path).read_bytes()):
        content = zlib.decompress(base64.a85decode(match.group(1).strip().removesuffix(b"~>")))
        size, shown = 0.0, []
        for font_size, text in _TOKEN.findall(content):
            if font_size:
                size = float(font_size)
            else:
                shown.append((size, _ESCAPE.sub(_unescape, text).decode("cp1252")))
        pages.append(shown)
    return pages


def pdf_page_texts(path: Path) -> list[str]:
    """Every string each page draws, one per line, a page per list item."""
    return ["\n".join(text for _, text in page) for page in pdf_page_strings(path)]


def _unescape(m: re.Match) -> bytes:
    code = m.group(1)
    return bytes([int(code, 8)]) if code[:1].isdigit() else code


def pdf_page_runs(path: Path) -> list[list[tuple[str, bytes]]]:
    """Per page, every string drawn as (font resource such as "F3", its raw bytes): a CID font's
    strings are UTF-16BE, which the WinAnsi reading of :func:`pdf_page_strings` garbles."""
    pages = []
    for match in _STREAM.finditer(Path(path).read_bytes()):
        content = zlib.decompress(base64.a85decode(match.group(1).strip().removesuffix(b"~>")))
        font, shown = "", []
        for name, text in _FONT_TOKEN.findall(content):
            if name:
                font = name.decode()
            else:
                shown.append((font, _ESCAPE.sub(_unescape, text)))
        pages.append(shown)
    return pages
