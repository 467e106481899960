"""The Chinese font embedded in every PDF and PNG Lianka makes (cards, reports).

Debian's fonts-wqy-microhei is installed by the Makefile; Noto Sans CJK (face 2 of the
collection is Simplified Chinese) and WenQuanYi Zen Hei are used if that is what a machine has.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from fpdf import FPDF

FONT_PACKAGE = "fonts-wqy-microhei"


@dataclass(frozen=True, slots=True)
class FontFile:
    """A TrueType/OpenType font file and the face to use if it is a collection (.ttc)."""

    path: Path
    index: int = 0


CJK_FONTS = (
    FontFile(Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"), 0),
    FontFile(Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"), 2),  # SC
    FontFile(Path("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc"), 0),
)


class CjkFontMissing(Exception):
    """No Chinese font is installed, so no PDF or PNG can be made."""

    def __init__(self, searched: Sequence[FontFile]) -> None:
        self.searched = tuple(searched)
        places = ", ".join(str(font.path) for font in self.searched)
        super().__init__(
            f"找不到中文字体，无法生成 PDF 或图片。请安装 Debian 软件包 {FONT_PACKAGE}："
            f"sudo apt-get install {FONT_PACKAGE}\n"
            f"No CJK font found (looked for {places}); "
            f"install the Debian package {FONT_PACKAGE}."
        )


def find_cjk_font(candidates: Sequence[FontFile] = CJK_FONTS) -> FontFile:
    """The first installed CJK font, or ``CjkFontMissing`` naming the package to install."""
    for font in candidates:
        if font.path.is_file():
            return font
    raise CjkFontMissing(candidates)


def close_fonts(pdf: FPDF) -> None:
    """fpdf2 keeps every embedded font file open; close them once the PDF is written."""
    for font in pdf.fonts.values():
        close = getattr(font, "close", None)
        if close is not None:
            close()
