"""The rules of a report as the reporter enters it: lengths, amounts, contact details."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation

from models.attachment import MediaKind
from models.errors import InvalidInput

DESCRIPTION_MIN = 10
DESCRIPTION_MAX = 2000
EVIDENCE_MAX = 10
FILE_MAX_BYTES = 20 * 1024 * 1024  # what a bot may download from Telegram
AMOUNT_MAX_YUAN = 10**13  # 十亿万元: anything larger is a typo
NAME_MAX = 30

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_MOBILE = re.compile(r"1[3-9]\d{9}")


def clean_text(text: str) -> str:
    """Text as given, minus control characters (tabs and newlines stay) and outer blanks."""
    return _CONTROL.sub("", text).strip()


def check_description(text: str) -> str:
    """10–2000 characters after cleaning, else a Chinese message saying which way it is off."""
    cleaned = clean_text(text)
    if len(cleaned) < DESCRIPTION_MIN:
        raise InvalidInput(
            f"问题描述太短（{len(cleaned)}字），请至少写{DESCRIPTION_MIN}个字，"
            "说明什么事、涉及哪个单位、什么时间。"
        )
    if len(cleaned) > DESCRIPTION_MAX:
        raise InvalidInput(
            f"问题描述太长（{len(cleaned)}字），请精简到{DESCRIPTION_MAX}字以内；"
            "详细材料可在下一步以图片或文件上传。"
        )
    return cleaned


def parse_amount_yuan(text: str) -> int:
    """An amount as people type it, in 元: "12.5" and "12.5万" are 万元, "125000元" is 元."""
    raw = unicodedata.normalize("NFKC", text).strip().replace(",", "").replace("，", "")
    raw = raw.replace(" ", "")
    unit = Decimal(10000)
    for suffix, factor in (("万元", 10000), ("万", 10000), ("元", 1)):
        if raw.endswith(suffix):
            raw, unit = raw.removesuffix(suffix), Decimal(factor)
            break
    try:
        value = Decimal(raw) * unit
    except InvalidOperation:
        raise InvalidInput(
            "金额格式不正确，请输入数字，例如 12.5（万元）或 125000元；不涉及金额请点“跳过”。"
        ) from None
    if not value.is_finite() or value < 0 or value > AMOUNT_MAX_YUAN:
        raise InvalidInput("金额超出范围，请核对后重新输入。")
    return int(value.quantize(Decimal(1)))


def normalize_mobile(text: str) -> str:
    """A mainland mobile number (11 digits starting 13–19), with +86, spaces or dashes allowed."""
    digits = re.sub(r"[\s\-()（）]", "", unicodedata.normalize("NFKC", text))
    digits = digits.removeprefix("+86").removeprefix("0086")
    if digits.startswith("86") and len(digits) == 13:
        digits = digits[2:]
    if not _MOBILE.fullmatch(digits):
        raise InvalidInput("手机号码格式不正确，请输入11位大陆手机号码，例如 13812345678。")
    return digits


def check_name(text: str) -> str:
    """A person's name: 1–30 characters, no digits-only."""
    name = clean_text(text)
    if not name or len(name) > NAME_MAX or name.isdigit():
        raise InvalidInput(f"请输入您的姓名（{NAME_MAX}字以内）。")
    return name


@dataclass(frozen=True, slots=True)
class Evidence:
    """A file the reporter attached, as Telegram described it."""

    kind: MediaKind
    file_id: str
    file_unique_id: str
    file_name: str | None = None
    mime_type: str | None = None
    file_size: int | None = None


@dataclass(frozen=True, slots=True)
class CaseDraft:
    """Everything the reporter entered, checked, ready to submit."""

    category_code: str
    description: str
    evidence: tuple[Evidence, ...] = ()
    amount_yuan: int | None = None
    anonymous: bool = True
    contact_name: str | None = None
    contact_phone: str | None = None
