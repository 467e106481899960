"""The rules of a report as the reporter enters it: lengths, amounts, contact details."""

from __future__ import annotations

import re
import unicodedata
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from models import keys
from models.attachment import Attachment, MediaKind
from models.errors import InvalidInput, StaleAction
from models.event import ActorType
from models.search import is_han

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


def profile_name(first: str, last: str | None) -> str:
    """The name on a Telegram profile (a shared contact) as the person writes it: a Chinese
    name family name first, without a space (利剑 + 宋 → 宋利剑); any other, first then last."""
    first, last = first.strip(), (last or "").strip()
    if last and all(is_han(ch) for ch in first + last):
        return f"{last}{first}"
    return f"{first} {last}".strip()


@dataclass(frozen=True, slots=True)
class Evidence:
    """A file the reporter attached: from the chat as Telegram described it, from the web as
    checked and kept in the blob store (``blob_sha256``; no Telegram ids yet, so empty)."""

    kind: MediaKind
    file_id: str
    file_unique_id: str
    file_name: str | None = None
    mime_type: str | None = None
    file_size: int | None = None
    blob_sha256: str | None = None

    @classmethod
    def from_blob(
        cls, kind: MediaKind, sha256: str, *, file_name: str, mime_type: str, file_size: int
    ) -> Evidence:
        """A web upload, checked and stored under the SHA-256 of its (cleaned) bytes."""
        return cls(
            kind=kind,
            file_id="",
            file_unique_id="",
            file_name=file_name,
            mime_type=mime_type,
            file_size=file_size,
            blob_sha256=sha256,
        )

    @property
    def identity(self) -> str:
        """What makes two files the same: their content hash, or Telegram's unique id."""
        return f"sha256:{self.blob_sha256}" if self.blob_sha256 else self.file_unique_id


def reporter_file(
    case_id: int, item: Evidence, now: datetime, *, keep_name: bool = True
) -> Attachment:
    """A file the reporter sent, kept on the case (at submission or as 补充材料); without
    ``keep_name`` (an anonymous case, a clue) the name it had on the reporter's phone is not
    kept — "张三举报.docx" names its author — and staff see it as 材料N."""
    return Attachment(
        case_id=case_id,
        kind=item.kind,
        file_id=item.file_id or None,
        file_unique_id=item.file_unique_id or None,
        blob_sha256=item.blob_sha256,
        file_name=item.file_name if keep_name else None,
        mime_type=item.mime_type,
        file_size=item.file_size,
        added_by=ActorType.REPORTER,
        created_at=now,
    )


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


def _evidence_from(item: dict[str, Any]) -> Evidence:
    return Evidence(
        kind=MediaKind(item["kind"]),
        file_id=item["file_id"],
        file_unique_id=item["file_unique_id"],
        file_name=item.get("file_name"),
        mime_type=item.get("mime_type"),
        file_size=item.get("file_size"),
        blob_sha256=item.get("blob_sha256"),
    )


def _evidence_data(item: Evidence) -> dict[str, Any]:
    return {
        "kind": item.kind.value,
        "file_id": item.file_id,
        "file_unique_id": item.file_unique_id,
        "file_name": item.file_name,
        "mime_type": item.mime_type,
        "file_size": item.file_size,
        "blob_sha256": item.blob_sha256,
    }


def kinds_label(evidence: Iterable[Evidence]) -> str:
    """``图片2、文件1``."""
    counts = Counter(item.kind for item in evidence)
    return "、".join(f"{kind.label}{n}" for kind, n in counts.items())


def with_file(files: tuple[Evidence, ...], item: Evidence) -> tuple[Evidence, ...]:
    """``files`` and one more: at most 10 of at most 20 MB each, each file once."""
    if (item.file_size or 0) > FILE_MAX_BYTES:
        raise InvalidInput("文件超过20MB，无法接收。请压缩或分成几个文件后重新发送。")
    if any(existing.identity == item.identity for existing in files):
        raise InvalidInput("这个文件已经添加过了。")
    if len(files) >= EVIDENCE_MAX:
        raise InvalidInput(f"最多上传{EVIDENCE_MAX}个附件，已达上限，不能再添加。")
    return (*files, item)


@dataclass(frozen=True, slots=True)
class IntakeDraft:
    """A report while it is being entered, in whatever channel: each step returns a new draft
    or raises ``InvalidInput`` with what to fix, so a refused input loses nothing entered.

    ``to_data``/``from_data`` give the flat JSON the chat keeps in its FSM storage (the keys
    are those drafts already saved use, so a draft in progress survives an upgrade)."""

    draft_id: str
    category: str | None = None
    category_name: str = ""
    clue: bool = False
    description: str = ""
    evidence: tuple[Evidence, ...] = ()
    amount_yuan: int | None = None
    anonymous: bool = True
    contact_name: str | None = None
    contact_phone: str | None = None
    pending_phone: str | None = None
    editing: bool = False

    # --- the steps ---------------------------------------------------------------------------

    def choose_category(self, code: str, name: str, *, clue: bool) -> IntakeDraft:
        return replace(self, category=code, category_name=name, clue=clue)

    def describe(self, text: str) -> IntakeDraft:
        """The description, replacing any before it (10–2000 characters)."""
        return replace(self, description=check_description(text))

    def append_text(self, text: str) -> IntakeDraft:
        """Text sent after the description, added to it within the length limit."""
        addition = clean_text(text)
        if not addition:
            raise InvalidInput("内容为空，请重新发送。")
        combined = f"{self.description}\n{addition}" if self.description else addition
        if len(combined) > DESCRIPTION_MAX:
            raise InvalidInput(
                f"补充后问题描述将达到{len(combined)}字，超过{DESCRIPTION_MAX}字上限，未添加。"
                "请精简后重新发送，或以文件形式上传。"
            )
        return replace(self, description=combined)

    def add_evidence(self, item: Evidence) -> IntakeDraft:
        """One more file: at most 10 of at most 20 MB each, each file once."""
        return replace(self, evidence=with_file(self.evidence, item))

    def remove_evidence(self, identity: str) -> IntakeDraft:
        """删除 on one file (by ``Evidence.identity``); an unknown one changes nothing."""
        return replace(self, evidence=tuple(e for e in self.evidence if e.identity != identity))

    def clear_evidence(self) -> IntakeDraft:
        return replace(self, evidence=())

    def set_amount(self, text: str) -> IntakeDraft:
        return replace(self, amount_yuan=parse_amount_yuan(text))

    def skip_amount(self) -> IntakeDraft:
        return replace(self, amount_yuan=None)

    def go_anonymous(self) -> IntakeDraft:
        """匿名 (chosen, or 实名 given up half way): no name or phone is kept."""
        return replace(
            self, anonymous=True, contact_name=None, contact_phone=None, pending_phone=None
        )

    def start_named(self) -> IntakeDraft:
        """实名 chosen: name and phone are asked next (a phone shared before is forgotten)."""
        return replace(self, pending_phone=None)

    def hold_phone(self, phone: str) -> IntakeDraft:
        """A phone number that came before the name (a shared contact without a usable name)."""
        return replace(self, pending_phone=normalize_mobile(phone))

    def give_name(self, name: str) -> IntakeDraft:
        """The name; with a phone already held, the draft is 实名 and complete."""
        if self.pending_phone:
            return self.go_named(name, self.pending_phone)
        return replace(self, contact_name=check_name(name))

    def add_caption(self, text: str) -> tuple[IntakeDraft, bool]:
        """A file's caption added to the description if it fits; whether it was added."""
        try:
            return self.append_text(text), True
        except InvalidInput:
            return self, False

    def editing_part(self, editing: bool) -> IntakeDraft:
        """修改 from the summary: after the part is entered again, back to the summary."""
        return replace(self, editing=editing)

    def go_named(self, name: str, phone: str) -> IntakeDraft:
        """实名: both checked here, whichever channel asked for them."""
        return replace(
            self,
            anonymous=False,
            contact_name=check_name(name),
            contact_phone=normalize_mobile(phone),
            pending_phone=None,
        )

    @property
    def evidence_kinds(self) -> str:
        return kinds_label(self.evidence)

    # --- submission --------------------------------------------------------------------------

    def ready(self) -> CaseDraft:
        """The draft as submitted; every rule checked again, whatever the channel let through."""
        if not self.category:
            raise InvalidInput("请先选择问题类别。")
        description = check_description(self.description)
        if len(self.evidence) > EVIDENCE_MAX:
            raise InvalidInput(f"最多上传{EVIDENCE_MAX}个附件。")
        if self.anonymous:
            name = phone = None
        else:
            if not self.contact_name or not self.contact_phone:
                raise InvalidInput("实名反映请填写姓名和手机号。")
            name, phone = check_name(self.contact_name), normalize_mobile(self.contact_phone)
        if self.amount_yuan is not None and not 0 <= self.amount_yuan <= AMOUNT_MAX_YUAN:
            raise InvalidInput("金额超出范围，请核对后重新输入。")
        return CaseDraft(
            category_code=self.category,
            description=description,
            evidence=self.evidence,
            amount_yuan=self.amount_yuan,
            anonymous=self.anonymous,
            contact_name=name,
            contact_phone=phone,
        )

    # --- storage -----------------------------------------------------------------------------

    def to_data(self) -> dict[str, Any]:
        return {
            "draft_id": self.draft_id,
            "category": self.category,
            "category_name": self.category_name,
            "clue": self.clue,
            "description": self.description,
            "evidence": [_evidence_data(item) for item in self.evidence],
            "amount_yuan": self.amount_yuan,
            "anonymous": self.anonymous,
            "contact_name": seal_draft_value(self.contact_name, "contact_name", self.draft_id),
            "contact_phone": seal_draft_value(self.contact_phone, "contact_phone", self.draft_id),
            "pending_phone": seal_draft_value(self.pending_phone, "pending_phone", self.draft_id),
            "editing": self.editing,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> IntakeDraft:
        return cls(
            draft_id=str(data["draft_id"]),
            category=data.get("category"),
            category_name=data.get("category_name", ""),
            clue=bool(data.get("clue", False)),
            description=data.get("description", ""),
            evidence=tuple(_evidence_from(item) for item in data.get("evidence", [])),
            amount_yuan=data.get("amount_yuan"),
            anonymous=bool(data.get("anonymous", True)),
            contact_name=open_draft_value(data, "contact_name"),
            contact_phone=open_draft_value(data, "contact_phone"),
            pending_phone=open_draft_value(data, "pending_phone"),
            editing=bool(data.get("editing", False)),
        )


DRAFT_SEALED = ("contact_name", "contact_phone", "pending_phone")
"""The fields of a stored draft (the bot's FSM data, a web draft's row) kept sealed."""


def draft_context(field_name: str, draft_id: str) -> str:
    return f"drafts.{field_name}:{draft_id}"


def seal_draft_value(value: str | None, field_name: str, draft_id: str) -> str | None:
    """A name or phone in a stored draft: sealed under the data key, bound to the draft."""
    if value is None:
        return None
    return keys.current().seal(value, context=draft_context(field_name, draft_id))


def open_draft_value(data: dict[str, Any], field_name: str) -> str | None:
    """The stored draft's value opened; one that no longer opens (its key was dropped) is
    asked for again, and a plain one (stored before sealing) is read as it is."""
    value = data.get(field_name)
    if not isinstance(value, str) or not keys.is_sealed(value):
        return value if isinstance(value, str) else None
    try:
        return keys.current().open(value, context=draft_context(field_name, str(data["draft_id"])))
    except keys.SealBroken:
        return None


SEALED_REFS = (
    "material_case",
    "relay_id",
    "followup_case_id",
    "aftercare_case_id",
    "objection_case_id",
)
"""The conversation state's keys whose values ``seal_ref`` seals (``lianka keys rotate`` seals
them again under a new key)."""


def ref_context(purpose: str) -> str:
    return f"fsm.{purpose}"


def seal_ref(purpose: str, ref: int | None) -> str:
    """The id of a case (or of a question) kept in a reporter's conversation state while a step
    waits for them (补充材料, 回复, 不满意的原因, 异议, 防打击报复回访's details): sealed under the
    data key, so a copy of the database does not link the Telegram account the state is kept
    under to an anonymous case (SECURITY.md). ``ref``: a stored row's id."""
    assert ref is not None, f"{purpose}: a row not stored yet"
    assert purpose in SEALED_REFS, purpose
    return keys.current().seal(str(ref), context=ref_context(purpose))


def open_ref(purpose: str, value: object) -> int | None:
    """The id ``seal_ref`` sealed; a plain one (kept before sealing) as it is; None when there
    is none or it no longer opens (its key was dropped): the step is then out of date."""
    if isinstance(value, int) and not isinstance(value, bool):
        return value
    if not isinstance(value, str) or not keys.is_sealed(value):
        return None
    try:
        return int(keys.current().open(value, context=ref_context(purpose)))
    except (keys.SealBroken, ValueError):
        return None


@dataclass(frozen=True, slots=True)
class MaterialDraft:
    """补充材料 while it is being entered: files and a note for one case, with the rules of
    the report (files) and of the description (the note's length), in whatever channel."""

    case_id: int
    files: tuple[Evidence, ...] = ()
    note: str = ""

    def add_file(self, item: Evidence) -> MaterialDraft:
        return replace(self, files=with_file(self.files, item))

    def add_note(self, text: str) -> MaterialDraft:
        """Text joins the note while the note stays within the description's limit."""
        addition = clean_text(text)
        if not addition:
            raise InvalidInput("内容为空，请重新发送。")
        combined = f"{self.note}\n{addition}" if self.note else addition
        if len(combined) > DESCRIPTION_MAX:
            raise InvalidInput(f"补充说明超过{DESCRIPTION_MAX}字上限，未添加。请精简后重新发送。")
        return replace(self, note=combined)

    def ready(self) -> tuple[tuple[Evidence, ...], str | None]:
        """The files and note as sent; every rule checked again, whatever the channel let by."""
        note = clean_text(self.note) or None
        if not self.files and note is None:
            raise InvalidInput("请先发送图片、文件、语音或文字说明，再点“完成”。")
        if len(self.files) > EVIDENCE_MAX:
            raise InvalidInput(f"每次最多补充{EVIDENCE_MAX}个附件。")
        if note is not None and len(note) > DESCRIPTION_MAX:
            raise InvalidInput(f"补充说明请精简到{DESCRIPTION_MAX}字以内。")
        if any((item.file_size or 0) > FILE_MAX_BYTES for item in self.files):
            raise InvalidInput("文件超过20MB，无法接收。")
        return self.files, note

    def to_data(self) -> dict[str, Any]:
        """The chat's FSM keys (those a 补充材料 in progress already uses)."""
        return {
            "material_case": seal_ref("material_case", self.case_id),
            "items": [_evidence_data(item) for item in self.files],
            "note": self.note,
        }

    @classmethod
    def from_data(cls, data: dict[str, Any]) -> MaterialDraft:
        case_id = open_ref("material_case", data.get("material_case"))
        if case_id is None:
            raise StaleAction(detail="补充材料: no case in the conversation state")
        return cls(
            case_id=case_id,
            files=tuple(_evidence_from(item) for item in data.get("items", [])),
            note=data.get("note", ""),
        )
