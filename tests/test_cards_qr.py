"""The QR code on a card: module matrix with its quiet zone, drawn with few rectangles."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from cards.qr import QUIET_ZONE, dark_rects, qr_matrix

LINK = "https://t.me/LiankaBot?start=c_H1QQYBqTgVi1YC7nOD_IQQ"


def painted(matrix: list[list[bool]]) -> list[list[bool]]:
    size = len(matrix)
    canvas = [[False] * size for _ in range(size)]
    for col, row, width, height in dark_rects(matrix):
        for y in range(row, row + height):
            for x in range(col, col + width):
                assert not canvas[y][x], "rectangles overlap"
                canvas[y][x] = True
    return canvas


def test_a_card_link_is_a_version_4_code_with_a_four_module_quiet_zone() -> None:
    matrix = qr_matrix(LINK)
    assert len(matrix) == 33 + 2 * QUIET_ZONE
    for i in range(QUIET_ZONE):
        assert not any(matrix[i]) and not any(matrix[-1 - i])
        assert not any(row[i] or row[-1 - i] for row in matrix)


def test_the_rectangles_paint_exactly_the_dark_modules_and_are_fewer_than_them() -> None:
    matrix = qr_matrix(LINK)
    assert painted(matrix) == matrix
    dark = sum(map(sum, matrix))
    assert len(dark_rects(matrix)) < dark / 2


@settings(max_examples=30, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=120))
def test_any_content_is_drawn_exactly(data: str) -> None:
    matrix = qr_matrix(data)
    assert painted(matrix) == matrix
