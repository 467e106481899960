"""What the console's case forms type, read as the bot reads it: working days, amounts."""

from __future__ import annotations

import re
import unicodedata

from bot.services.requests import EXTENSION_MAX_DAYS
from models.errors import InvalidInput
from models.intake import parse_amount_yuan

_AMOUNT = re.compile(r"\d{1,15}(\.\d{1,4})?(万元|万|元)?")


def parse_days(text: str) -> int:
    """申请延期's working days as typed on the page ("5", "５", "5个工作日")."""
    raw = unicodedata.normalize("NFKC", text).strip().removesuffix("个工作日").removesuffix("天")
    if not raw.isdecimal() or len(raw) > 9:
        raise InvalidInput(f"请输入1至{EXTENSION_MAX_DAYS}之间的工作日数，例如 5。")
    return int(raw)


def parse_amount(text: str) -> int | None:
    """协调金额 on the page, read as the bot reads it (``parse_amount_yuan``: a bare number is
    万元, "125000元" is 元); empty is none."""
    raw = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace(" ", "")
    if not raw:
        return None
    if not _AMOUNT.fullmatch(raw):
        raise InvalidInput(
            "金额格式不正确，请输入数字（万元），例如 12.5 或 125000元；不涉及金额请留空。"
        )
    return parse_amount_yuan(raw)
