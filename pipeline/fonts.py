"""Fonts for charts: channel titles in any script, and no "Glyph missing" warnings.

Matplotlib's DejaVu Sans has no CJK glyphs: Japanese, Chinese and Korean titles came out as empty
boxes with a warning per glyph. Charts use DejaVu Sans first and then whichever CJK font is installed
(Matplotlib falls back per glyph); a character that no available font has is transliterated to Latin
(``anyascii``) rather than drawn as a box. ``make fonts`` installs Debian's ``fonts-droid-fallback``.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path

BASE_FAMILY = "DejaVu Sans"

# Families that cover CJK, best first, and where Debian's packages put their files (Matplotlib's font
# cache does not see a font installed after the cache was made, so known files are added by path).
CJK_FAMILIES = (
    "Noto Sans CJK JP",
    "Noto Sans CJK SC",
    "Source Han Sans",
    "Droid Sans Fallback",
    "WenQuanYi Micro Hei",
    "WenQuanYi Zen Hei",
    "IPAexGothic",
    "IPAGothic",
)
CJK_FILES = (
    "/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
)


@lru_cache(maxsize=1)
def chart_fonts() -> tuple[str, ...]:
    """The font families a chart's text uses, in fallback order: DejaVu Sans, then a CJK font if any."""
    from matplotlib import font_manager

    manager = font_manager.fontManager
    names = {entry.name for entry in manager.ttflist}
    if not names.intersection(CJK_FAMILIES):
        for path in CJK_FILES:
            if Path(path).is_file():
                try:
                    manager.addfont(path)
                except (OSError, RuntimeError, ValueError):  # an unreadable font file: try the next
                    continue
        names = {entry.name for entry in manager.ttflist}
    cjk = next((family for family in CJK_FAMILIES if family in names), None)
    return (BASE_FAMILY, cjk) if cjk else (BASE_FAMILY,)


@lru_cache(maxsize=8)
def _coverage(families: tuple[str, ...]) -> frozenset[int]:
    """Every code point some font of ``families`` has a glyph for."""
    from matplotlib import font_manager
    from matplotlib.ft2font import FT2Font

    covered: set[int] = set()
    for family in families:
        path = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
        covered.update(FT2Font(path).get_charmap())
    return frozenset(covered)


def printable(text: str, families: tuple[str, ...] | None = None) -> str:
    """``text`` with each character no font of ``families`` can draw transliterated to Latin."""
    covered = _coverage(families or chart_fonts())
    if all(ord(ch) in covered or ch in "\n\t" for ch in text):
        return text
    from anyascii import anyascii

    out = []
    for ch in text:
        if ord(ch) in covered or ch in "\n\t":
            out.append(ch)
        else:
            latin = anyascii(ch)
            out.append(latin if all(ord(c) in covered for c in latin) else "?")
    return "".join(out)
