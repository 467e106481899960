"""企业: the enterprises that hold cards, and the 统一社会信用代码 (GB 32100-2015) check."""

from __future__ import annotations

from datetime import datetime

from sqlmodel import Field, SQLModel

from models.types import UTCDateTime

USCC_ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
USCC_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
_USCC_VALUE = {ch: i for i, ch in enumerate(USCC_ALPHABET)}


def normalize_uscc(code: str) -> str:
    """Trim, upper-case and turn full-width characters into ASCII, as people type them."""
    ascii_code = "".join(
        chr(ord(ch) - 0xFEE0) if "\uff01" <= ch <= "\uff5e" else ch for ch in code.strip()
    )
    return ascii_code.upper().replace(" ", "")


def uscc_check_char(first17: str) -> str:
    """The 18th character of a 统一社会信用代码 for its first 17 (GB 32100-2015, mod 31)."""
    if len(first17) != 17 or any(ch not in _USCC_VALUE for ch in first17):
        raise ValueError("need 17 characters of the USCC alphabet")
    total = sum(_USCC_VALUE[ch] * w for ch, w in zip(first17, USCC_WEIGHTS, strict=True))
    return USCC_ALPHABET[(31 - total % 31) % 31]


def uscc_problem(code: str) -> str | None:
    """Why ``code`` is not a valid 统一社会信用代码, in Chinese, or None when it is valid."""
    if len(code) != 18:
        return f"统一社会信用代码应为18位，当前为{len(code)}位"
    bad = sorted({ch for ch in code if ch not in _USCC_VALUE})
    if bad:
        return f"统一社会信用代码含有无效字符：{''.join(bad)}"
    if not code[2:8].isdigit():
        return "统一社会信用代码第3至8位应为行政区划代码（数字）"
    if uscc_check_char(code[:17]) != code[17]:
        return "统一社会信用代码校验位不正确"
    return None


def is_valid_uscc(code: str) -> bool:
    """True when ``code`` (already normalised) passes the GB 32100-2015 check."""
    return uscc_problem(code) is None


class Enterprise(SQLModel, table=True):
    """An enterprise that received a contact card."""

    __tablename__ = "enterprises"

    id: int | None = Field(default=None, primary_key=True)
    name: str = Field(max_length=200, index=True)
    uscc: str | None = Field(default=None, max_length=18, unique=True)
    zone_id: int | None = Field(default=None, foreign_key="zones.id", index=True)
    legal_rep: str | None = Field(default=None, max_length=100)
    created_at: datetime = Field(sa_type=UTCDateTime)
