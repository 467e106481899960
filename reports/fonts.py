"""The CJK font embedded in PDF reports (the Makefile installs fonts-wqy-microhei)."""

from __future__ import annotations

from pathlib import Path

CANDIDATES = (
    Path("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc"),
    Path("/usr/share/fonts/wqy-microhei/wqy-microhei.ttc"),
    Path("/usr/share/fonts/opentype/noto/NotoSansCJK-Regular.ttc"),
    Path("/usr/share/fonts/noto-cjk/NotoSansCJK-Regular.ttc"),
)


class FontMissing(RuntimeError):
    """No CJK font is installed; the message says how to get one."""


def cjk_font() -> Path:
    """The first installed CJK font of the known ones."""
    for path in CANDIDATES:
        if path.is_file():
            return path
    raise FontMissing(
        "未找到中文字体，无法生成 PDF。请安装 fonts-wqy-microhei（make setup 会自动安装）。"
        " No CJK font found: install fonts-wqy-microhei."
    )
