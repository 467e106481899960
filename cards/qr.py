"""QR codes as module matrices, and the few rectangles that draw one."""

from __future__ import annotations

import qrcode
from qrcode.constants import ERROR_CORRECT_M

QUIET_ZONE = 4  # modules of white around the code, as ISO/IEC 18004 asks

# (col, row, width, height) in modules from the matrix's top-left corner
ModuleRect = tuple[int, int, int, int]


def qr_matrix(data: str) -> list[list[bool]]:
    """The module matrix of ``data`` (error correction M), quiet zone included; True is dark."""
    code = qrcode.QRCode(error_correction=ERROR_CORRECT_M, border=QUIET_ZONE)
    code.add_data(data)
    code.make(fit=True)
    matrix: list[list[bool]] = code.get_matrix()
    return matrix


def dark_rects(matrix: list[list[bool]]) -> list[ModuleRect]:
    """Rectangles that cover exactly the dark modules: each horizontal run of dark modules is one,
    and a run repeated at the same place on the next row extends the rectangle above it."""
    rects: list[list[int]] = []
    open_at: dict[tuple[int, int], list[int]] = {}  # (col, width) -> the rectangle ending there
    for row_index, row in enumerate(matrix):
        size = len(row)
        col = 0
        while col < size:
            if not row[col]:
                col += 1
                continue
            start = col
            while col < size and row[col]:
                col += 1
            width = col - start
            above = open_at.get((start, width))
            if above is not None and above[1] + above[3] == row_index:
                above[3] += 1
            else:
                rect = [start, row_index, width, 1]
                rects.append(rect)
                open_at[(start, width)] = rect
    return [(c, r, w, h) for c, r, w, h in rects]
