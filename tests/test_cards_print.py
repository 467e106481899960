"""Printed cards as a person gets them: every QR code on the PDF and the PNGs scans to its card's
link, the CJK font travels inside the PDF, long names stay inside the card, backs line up."""

from __future__ import annotations

import json
import re
import shutil
import subprocess
from pathlib import Path

import pytest
import zxingcpp
from PIL import Image

from cards.fonts import FONT_PACKAGE, CjkFontMissing, FontFile, close_fonts, find_cjk_font
from cards.layout import (
    CARD_H,
    CARD_W,
    PER_PAGE,
    QR_X,
    CardBack,
    CardFace,
    Measure,
    card_origin,
    front_layout,
)
from cards.printing import PngRenderer, render_pdf
from tests.conftest import REQUIRE_SERVICES, ROOT
from tests.test_cli import lianka

pytestmark = pytest.mark.slow

DPI = 200
PT_PER_MM = 72 / 25.4
SIXTY = (
    "四川省遂宁市安居区玉丰镇现代农业综合开发与乡村振兴产业发展集团有限责任公司"
    "安居经济技术开发区第一分公司"
)
BOT = "AnjuLiankaBot"


def require(tool: str) -> str:
    path = shutil.which(tool)
    if path is None:
        message = f"{tool} is missing: apt-get install poppler-utils (make test does it)"
        if REQUIRE_SERVICES:
            pytest.fail(message)
        pytest.skip(message)
    return path


def rasterise(pdf: Path, tmp_path: Path) -> list[Image.Image]:
    prefix = tmp_path / "page"
    subprocess.run([require("pdftoppm"), "-r", str(DPI), "-png", str(pdf), str(prefix)], check=True)
    return [Image.open(p) for p in sorted(tmp_path.glob("page-*.png"))]


def qr_texts(image: Image.Image) -> list[str]:
    """Every QR code a real decoder finds in ``image``."""
    codes = zxingcpp.read_barcodes(image)
    return [code.text for code in codes if code.format == zxingcpp.BarcodeFormat.QRCode]


def decode_cards(page: Image.Image, count: int) -> list[list[str]]:
    """The QR texts found inside each card's trim box on a page, slot by slot."""
    scale = DPI / 25.4
    found = []
    for slot in range(count):
        x, y = card_origin(slot)
        box = (x * scale, y * scale, (x + CARD_W) * scale, (y + CARD_H) * scale)
        found.append(qr_texts(page.crop(box)))
    return found


def words(pdf: Path, page: int) -> list[tuple[float, float, float, float, str]]:
    out = subprocess.run(
        [require("pdftotext"), "-bbox", "-f", str(page), "-l", str(page), str(pdf), "-"],
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    pattern = r'xMin="([\d.]+)" yMin="([\d.]+)" xMax="([\d.]+)" yMax="([\d.]+)">([^<]*)<'
    return [(*(float(v) / PT_PER_MM for v in m[:4]), m[4]) for m in re.findall(pattern, out)]


@pytest.fixture(scope="module")
def installation(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, list[dict[str, object]]]:
    """23 enterprises imported through the command line into a fresh installation."""
    folder = tmp_path_factory.mktemp("installation")
    env = {"LIANKA_BOT_USERNAME": BOT}
    assert lianka("init", cwd=folder, env=env).returncode == 0
    names = [f"安居区第{n}号企业有限公司" for n in range(1, 23)] + [SIXTY]
    (folder / "list.csv").write_text(
        "企业名称,园区\n" + "".join(f"{name},\n" for name in names), encoding="utf-8"
    )
    result = lianka("cards", "import", "list.csv", "--json", cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    cards = json.loads(result.stdout)["issued"]
    assert len(cards) == 23
    return folder, cards


@pytest.fixture
def issued(installation, tmp_path: Path) -> tuple[Path, dict[str, str], list[dict[str, object]]]:
    """A copy of the installation for one test to change."""
    template, cards = installation
    folder = tmp_path / "lianka"
    shutil.copytree(template, folder)
    return folder, {"LIANKA_BOT_USERNAME": BOT}, cards


def test_every_qr_code_on_the_printed_sheets_opens_its_own_card(issued) -> None:
    folder, env, cards = issued
    result = lianka("cards", "print", "--all", "--out", "cards.pdf", cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    assert "23 张联系卡，3 页 A4" in result.stdout
    pages = rasterise(folder / "cards.pdf", folder)
    assert len(pages) == 3
    decoded = []
    for number, page in enumerate(pages):
        on_page = min(PER_PAGE, 23 - number * PER_PAGE)
        found = decode_cards(page, on_page)
        assert all(len(texts) == 1 for texts in found), found
        decoded += [texts[0] for texts in found]
    assert decoded == [card["link"] for card in cards]
    assert all(link.startswith(f"https://t.me/{BOT}?start=c_") for link in decoded)
    listing = json.loads(lianka("cards", "list", "--json", cwd=folder, env=env).stdout)
    assert [card["printed"] for card in listing] == [1] * 23


def test_a_sixty_character_name_stays_inside_its_card_beside_the_qr_code(tmp_path: Path) -> None:
    link = "https://t.me/LiankaBot?start=c_H1QQYBqTgVi1YC7nOD_IQQ"
    pdf = tmp_path / "one.pdf"
    pdf.write_bytes(render_pdf([CardFace("安居经开区纪工委", SIXTY, link, "0825-12388", "12388")]))
    x, y = card_origin(0)
    placed = words(pdf, 1)
    text = "".join(word for *_, word in placed)
    assert SIXTY in text
    for x_min, y_min, x_max, y_max, word in placed:
        assert x <= x_min and x_max <= x + CARD_W and y <= y_min and y_max <= y + CARD_H, word
        if word not in ("廉政监督联系卡", "安居经开区纪工委", "扫码反映问题"):
            assert x_max <= x + QR_X + 0.5, word
    (found,) = decode_cards(rasterise(pdf, tmp_path)[0], 1)
    assert found == [link]


def test_the_pdf_embeds_a_subset_of_the_chinese_font(tmp_path: Path) -> None:
    pdf = tmp_path / "cards.pdf"
    link = "https://t.me/LiankaBot?start=c_H1QQYBqTgVi1YC7nOD_IQQ"
    faces = [CardFace("安居经开区纪工委", SIXTY, link, "0825-12388", "12388")] * 20
    pdf.write_bytes(
        render_pdf(faces, back=CardBack("安居区纪委监委", ("严禁打击报复。",), "1", "2"))
    )
    fonts = subprocess.run(
        [require("pdffonts"), str(pdf)], check=True, capture_output=True, text=True
    ).stdout.splitlines()[2:]
    assert len(fonts) == 1
    name, *_, emb, sub, uni, _obj, _gen = fonts[0].split()
    assert "+" in name and (emb, sub, uni) == ("yes", "yes", "yes")
    assert pdf.stat().st_size < 150_000  # a subset, not the 5 MB font


def test_back_pages_follow_each_sheet_with_the_columns_swapped(issued) -> None:
    folder, env, _ = issued
    result = lianka("cards", "print", "--all", "--back", "--out", "duplex.pdf", cwd=folder, env=env)
    assert result.returncode == 0, result.stderr
    assert "6 页 A4" in result.stdout
    last_back = [w for w in words(folder / "duplex.pdf", 6) if w[4] == "廉政承诺"]
    # the last sheet has cards in slots 0, 1, 2; on its back they sit in slots 1, 0 and 3
    expected = sorted(card_origin(slot, mirrored=True) for slot in range(3))
    found = sorted(
        min(expected, key=lambda o: abs(o[0] - x_min) + abs(o[1] - y_min))
        for x_min, y_min, *_ in last_back
    )
    assert found == expected
    right_column = card_origin(1)[0]
    row_two = [w for w in last_back if w[1] > card_origin(2)[1]]
    assert len(row_two) == 1 and row_two[0][0] > right_column
    promises = "".join(w[4] for w in words(folder / "duplex.pdf", 2))
    assert "严格保密反映人信息，严禁打击报复。" in promises


def test_one_png_per_card_at_300_dpi_scans_to_its_link(issued) -> None:
    folder, env, cards = issued
    first, second = cards[0]["id"], cards[22]["id"]
    result = lianka(
        "cards", "print", "--card", str(second), "--card", str(first), "--png", "png",
        cwd=folder, env=env,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    for card in (cards[0], cards[22]):
        image = Image.open(folder / "png" / f"card-{card['id']}.png")
        assert image.size == (1063, 638)
        assert round(image.info["dpi"][0]) == 300
        assert qr_texts(image) == [card["link"]]


def test_printing_a_revoked_card_is_refused_with_a_clear_message(issued) -> None:
    folder, env, cards = issued
    card_id = str(cards[3]["id"])
    assert lianka("cards", "revoke", card_id, cwd=folder, env=env).returncode == 0
    result = lianka("cards", "print", "--card", card_id, "--out", "x.pdf", cwd=folder, env=env)
    assert result.returncode == 1
    assert f"联系卡 {card_id} 已作废，不能打印" in result.stderr
    assert "Traceback" not in result.stderr
    assert not (folder / "x.pdf").exists()


def test_the_png_breaks_and_places_lines_as_the_pdf_does() -> None:
    from fpdf import FPDF

    font = find_cjk_font()
    pdf = FPDF(unit="mm")
    pdf.add_font("cjk", fname=font.path, collection_font_number=font.index)
    pdf.set_font("cjk", size=10)
    pdf_measure = Measure(lambda ch: pdf.get_string_width(ch) / pdf.font_size)
    try:
        for name in (SIXTY, "Sichuan Anju Technology Development Co., Ltd.", "安居甲公司"):
            face = CardFace(
                "安居经开区纪工委", name, "https://t.me/x?start=c_1", "0825-12388", "12388"
            )
            in_pdf = front_layout(face, pdf_measure).texts
            in_png = front_layout(face, PngRenderer(font).measure).texts
            assert [(t.text, t.size) for t in in_png] == [(t.text, t.size) for t in in_pdf]
            for a, b in zip(in_png, in_pdf, strict=True):
                assert a.x == pytest.approx(b.x, abs=0.1)
                assert a.width == pytest.approx(b.width, abs=0.1)
    finally:
        close_fonts(pdf)


def test_without_a_chinese_font_the_error_names_the_debian_package(tmp_path: Path) -> None:
    with pytest.raises(CjkFontMissing) as missing:
        find_cjk_font([FontFile(tmp_path / "none.ttc", 0)])
    assert f"apt-get install {FONT_PACKAGE}" in str(missing.value)
    assert FONT_PACKAGE == "fonts-wqy-microhei"
    assert f"{FONT_PACKAGE}" in (ROOT / "Makefile").read_text(encoding="utf-8")
