"""Setting user text on a PDF page, whatever its script.

The page fonts are the PDF standard Helvetica pair, which every viewer has and which keep files
small, but they encode only WinAnsi (Western European) characters: a tenant named 日本AI printed
as two black boxes. Text is therefore set in runs: what WinAnsi encodes in Helvetica, the rest in
Adobe's HeiseiKakuGo-W5 through reportlab's Unicode CID support (Japanese, Chinese characters,
Greek, Cyrillic). That font is named, not embedded (no font file is shipped or fetched): viewers
supply it, as they do for any CJK PDF, and the text stays text, searchable and copyable.
"""

from __future__ import annotations

import itertools

from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfgen.canvas import Canvas

WIDE_FONT = "HeiseiKakuGo-W5"


def _encodable(ch: str) -> bool:
    try:
        ch.encode("cp1252")
    except UnicodeEncodeError:
        return False
    return True


def runs(text: str, font: str) -> list[tuple[str, str]]:
    """``text`` as (part, font) runs: ``font`` where WinAnsi encodes it, the wide font elsewhere."""
    out = []
    for plain, group in itertools.groupby(text, _encodable):
        part = "".join(group)
        out.append((part, font if plain else _wide()))
    return out


def text_width(text: str, font: str, size: float) -> float:
    """The width in points of ``text`` set in runs (:func:`runs`)."""
    return sum(pdfmetrics.stringWidth(part, f, size) for part, f in runs(text, font))


def draw_text(c: Canvas, x: float, y: float, text: str, font: str, size: float, align: str = "left") -> None:
    """Draw ``text`` at (x, y), aligned left, "centre" or "right" on x."""
    if align != "left":
        width = text_width(text, font, size)
        x -= width / 2 if align == "centre" else width
    for part, f in runs(text, font):
        c.setFont(f, size)
        c.drawString(x, y, part)
        x += pdfmetrics.stringWidth(part, f, size)


def _wide() -> str:
    """The wide font's name, registered with reportlab on first use."""
    if WIDE_FONT not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont(WIDE_FONT))
    return WIDE_FONT
