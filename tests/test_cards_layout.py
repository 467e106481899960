"""The card layout: names wrap or shrink but never overflow; ten cards and their crop marks on A4."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cards.layout import (
    CARD_H,
    CARD_W,
    ELLIPSIS,
    LEFT_W,
    PAD,
    PAGE_H,
    PAGE_W,
    PER_PAGE,
    QR_BOX,
    QR_X,
    QR_Y,
    CardBack,
    CardFace,
    Layout,
    Measure,
    TextItem,
    back_layout,
    card_origin,
    crop_marks,
    front_layout,
    wrap,
)
from cards.printing import mirrored_slot

LONG_NAME = (
    "四川省遂宁市安居区玉丰镇现代农业综合开发与乡村振兴产业发展集团有限责任公司"
    "安居经济技术开发区第一分公司（遂宁市安居区柏树坡村）"
)


def monospace(ch: str) -> float:
    """Chinese characters 1 em, ASCII half an em (close to the real fonts)."""
    return 0.5 if ch.isascii() else 1.0


def face(name: str) -> CardFace:
    return CardFace(
        "安居经开区纪工委",
        name,
        "https://t.me/LiankaBot?start=c_H1QQYBqTgVi1YC7nOD_IQQ",
        "0825-12388",
        "12388",
    )


def name_items(layout: Layout) -> list[TextItem]:
    return [t for t in layout.texts if t.x == PAD and 21.0 < t.baseline < 37.0]


def assert_inside_card(layout: Layout) -> None:
    for item in layout.texts:
        assert item.x >= 0 and item.x + item.width <= CARD_W, item
        assert item.size * 0.35 <= item.baseline <= CARD_H, item
    if layout.qr is None:
        return
    for item in layout.texts:
        beside_qr = QR_Y <= item.baseline <= QR_Y + QR_BOX and item.x < QR_X
        if beside_qr:
            assert item.x + item.width <= QR_X + 0.5, item  # the QR's quiet zone is white


def test_a_sixty_character_name_wraps_and_shrinks_inside_its_column() -> None:
    name = LONG_NAME[:60]
    assert len(name) == 60
    layout = front_layout(face(name), Measure(monospace))
    lines = name_items(layout)
    assert "".join(line.text for line in lines) == name
    assert 2 <= len(lines) <= 3
    assert all(line.width <= LEFT_W for line in lines)
    assert lines[-1].baseline < 37.0  # above the hotline
    assert_inside_card(layout)


def test_a_short_name_stays_on_one_line_at_full_size() -> None:
    lines = name_items(front_layout(face("安居某某科技有限公司"), Measure(monospace)))
    assert [line.text for line in lines] == ["安居某某科技有限公司"]
    assert lines[0].size == 10.5


def test_a_name_too_long_for_the_card_ends_with_an_ellipsis_and_still_fits() -> None:
    layout = front_layout(face(LONG_NAME * 3), Measure(monospace))
    lines = name_items(layout)
    assert lines[-1].text.endswith(ELLIPSIS)
    assert all(line.width <= LEFT_W for line in lines)
    assert_inside_card(layout)


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(codec="utf-8"), min_size=1, max_size=200))
def test_no_name_ever_overflows_the_card(name: str) -> None:
    assert_inside_card(front_layout(face(name), Measure(monospace)))


def test_lines_do_not_start_with_closing_punctuation_or_split_latin_words() -> None:
    measure = Measure(monospace)
    assert wrap("一二三四五，六", measure, 5.0) == ["一二三四", "五，六"]
    assert wrap("安居某某（分公司）", measure, 8.0) == ["安居某某（分公", "司）"]
    assert wrap("Sichuan Anju Technology Co., Ltd.", measure, 6.0) == [
        "Sichuan Anju",
        "Technology",
        "Co., Ltd.",
    ]


def test_the_back_fits_every_promise() -> None:
    promises = (
        "对企业反映的问题，1个工作日内签收，3个工作日内告知受理情况。",
        "诉求类问题15个工作日内办结，办结后回访，不满意的重新办理。",
        "严格保密反映人信息，严禁打击报复。",
        "不收取任何费用，不接受吃请送礼。",
    )
    layout = back_layout(
        CardBack("安居区纪委监委", promises, "0825-12388", "12388"), Measure(monospace)
    )
    body = "".join(t.text for t in layout.texts)
    for promise in promises:
        assert promise in body.replace(" ", "") or all(ch in body for ch in promise)
    assert layout.qr is None
    assert_inside_card(layout)


def test_ten_cards_fill_an_a4_sheet_with_margins_for_the_printer() -> None:
    origins = [card_origin(slot) for slot in range(PER_PAGE)]
    assert len(set(origins)) == PER_PAGE
    xs, ys = zip(*origins, strict=True)
    assert min(xs) >= 5 and max(xs) + CARD_W <= PAGE_W - 5
    assert min(ys) >= 5 and max(ys) + CARD_H <= PAGE_H - 5


@pytest.mark.parametrize("slot", range(PER_PAGE))
def test_crop_marks_sit_at_every_corner_outside_every_card(slot: int) -> None:
    marks = crop_marks(slot)
    x, y = card_origin(slot)
    assert len(marks) == 8
    corners = {(x, y), (x + CARD_W, y), (x, y + CARD_H), (x + CARD_W, y + CARD_H)}
    for cx, cy in corners:
        near = [m for m in marks if (m[0] == cx and m[2] == cx) or (m[1] == cy and m[3] == cy)]
        assert len(near) >= 2
    for x1, y1, x2, y2 in marks:
        assert min(x1, x2) > 0 and max(x1, x2) < PAGE_W and min(y1, y2) > 0 and max(y1, y2) < PAGE_H
        for other in range(PER_PAGE):
            ox, oy = card_origin(other)
            inside = ox < (x1 + x2) / 2 < ox + CARD_W and oy < (y1 + y2) / 2 < oy + CARD_H
            assert not inside, (slot, other)
            for px, py in ((x1, y1), (x2, y2)):
                assert not (ox < px < ox + CARD_W and oy < py < oy + CARD_H)


def test_the_back_page_swaps_the_columns_so_duplex_lines_up() -> None:
    for slot in range(PER_PAGE):
        x, y = card_origin(slot, mirrored=True)
        assert (x, y) == card_origin(mirrored_slot(slot))
        front_x, front_y = card_origin(slot)
        assert y == front_y
        assert x + CARD_W / 2 == pytest.approx(PAGE_W - (front_x + CARD_W / 2))
