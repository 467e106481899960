"""The outbox: every message Lianka sends is first a row here, written with the change."""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, TypeAlias

import sqlalchemy as sa
from sqlmodel import Field, SQLModel

from models.types import JSONType, UTCDateTime, enum_type

if TYPE_CHECKING:
    from models.reporter import Reporter
    from models.team import Inspector


class NotificationStatus(enum.StrEnum):
    PENDING = "pending"
    SENDING = "sending"  # claimed by a sender until ``claimed_until``; ``attempted_at`` set:
    # its request was handed to Telegram and the answer is not recorded (it may have arrived)
    SENT = "sent"
    FAILED = "failed"  # gave up after the retry budget
    UNDELIVERABLE = "undeliverable"  # 403: the person blocked the bot
    DIGESTED = "digested"  # folded into one digest message by the sweep; never sent alone
    WITHDRAWN = "withdrawn"  # its staff recipient was deactivated before it went out: never sent


class Channel(enum.StrEnum):
    """Where a notice is shown. Stored in the row, so never rename one."""

    TELEGRAM = "telegram"  # sent to ``chat_id`` by the sender
    WEB = "web"  # for a reporter with no chat: never sent, read by a page
    CONSOLE = "console"  # for a staff member with no chat: never sent, read in the console


class RecipientKind(enum.StrEnum):
    REPORTER = "reporter"
    INSPECTOR = "inspector"


@dataclass(frozen=True, slots=True)
class Recipient:
    """Someone a notice goes to: an inspector (``i<id>``) or a reporter (``r<id>``), and where
    it reaches them."""

    kind: RecipientKind
    id: int
    chat_id: int | None  # None for a web reporter: the notice waits for their page
    name: str = ""
    channel: Channel = Channel.TELEGRAM

    @classmethod
    def inspector(cls, person: Inspector) -> Recipient:
        assert person.id is not None
        channel = Channel.TELEGRAM if person.chat_id is not None else Channel.CONSOLE
        return cls(RecipientKind.INSPECTOR, person.id, person.chat_id, person.name, channel)

    @classmethod
    def reporter(cls, reporter: Reporter) -> Recipient:
        assert reporter.id is not None
        return cls(RecipientKind.REPORTER, reporter.id, reporter.chat_id, channel=reporter.channel)

    def in_chat(self, chat_id: int) -> Recipient:
        """The same person, told in another chat (a report asked for in a group)."""
        return replace(self, chat_id=chat_id, channel=Channel.TELEGRAM)

    @property
    def tag(self) -> str:
        """The recipient part of an idempotency key."""
        return f"{'r' if self.kind is RecipientKind.REPORTER else 'i'}{self.id}"


class SendMethod(enum.StrEnum):
    MESSAGE = "message"
    DOCUMENT = "document"


class Offer(enum.StrEnum):
    """What a notice lets its recipient do; each channel shows it its own way (Telegram: the
    buttons under the message). The value is stored in the outbox row, so never rename one."""

    CASE_WORK = "case_work"  # the assignee's work: 签收 · 退回 · 查看材料 · 提问 · 记录进展 · 申请延期 · 反馈整改 · 核验整改 · 办结
    CASE_MATERIALS = "case_materials"  # 查看材料
    LEADER_ASSIGN = "leader_assign"  # 分派, for a case waiting in the team's queue
    FOLLOWUP = "followup"  # 满意 · 基本满意 · 不满意, the reporter at 回访
    REQUEST_DECISION = "request_decision"  # 同意 · 不同意, on a request (the ref is the request)
    RELAY_REPLY = "relay_reply"  # 回复 to a relayed question (the ref is the relay message)
    DISPOSITION_REVIEW = "disp_review"  # 同意 · 不同意, 组长审核 (the ref is the disposition)
    DISPOSITION_APPROVAL = "disp_approval"  # 同意 · 不同意, 委领导审批 (the ref is the disposition)
    CLUE_OBJECTION = "clue_objection"  # 提出异议, a 实名 clue reporter on the result (the case)
    SUPERVISION_REPLY = "supervision_reply"  # 督办回复 · 查看材料, on a 督办 notice
    REPEAT_MERGE = (
        "repeat_merge"  # 合并办理 · 查看材料, on a 疑似重复件 notice (the ref: the repeat)
    )
    ASSIST_PROGRESS = "assist_progress"  # 协办进展 · 查看材料, to a 协办 team (the ref: the case)
    AFTERCARE = "aftercare"  # 没有 · 有, the reporter at 防打击报复回访 (the ref: the case)
    CLUE_WORK = "clue_work"  # a clue's assignee's work: CASE_WORK with 提出处置意见 in place of 办结 · 反馈整改 · 核验整改

    def on(self, ref: int | None) -> Offering:
        """This offer on one case, request or relay message."""
        assert ref is not None, f"{self} needs the id it acts on"
        return Offering(self, ref)


@dataclass(frozen=True, slots=True)
class Offering:
    """An offer and the id of what it acts on: a case, a request (REQUEST_DECISION) or a relay
    message (RELAY_REPLY)."""

    offer: Offer
    ref: int


def work_offer(case_id: int | None, *, clue: bool) -> Offering:
    """The assignee's buttons on a case: a clue is disposed of (处置, 集体研判), never 办结 or
    整改, so its notices offer 提出处置意见 instead (``CLUE_WORK``)."""
    return (Offer.CLUE_WORK if clue else Offer.CASE_WORK).on(case_id)


JSON: TypeAlias = bool | int | float | str | list["JSON"] | dict[str, "JSON"] | None

# A datetime in a notice's parameters is stored as ``{"$utc": "<ISO 8601 in UTC>"}``.
DATETIME_TAG = "$utc"


_AS_THEY_ARE = frozenset({str, int, float, bool, type(None)})
"""The exact types ``encode_param`` keeps as they are."""


def encode_param(value: Any) -> JSON:
    """A template parameter as JSON: plain values as they are, an aware datetime as tagged UTC
    ISO text, an enum as its value, mappings and sequences element by element. Anything else
    (an ORM object, a naive datetime) is refused: pass the fields the template uses."""
    if type(value) in _AS_THEY_ARE:  # the usual case, told by the exact type (not a subclass)
        plain: JSON = value
        return plain
    if value is None or (
        isinstance(value, bool | int | float) and not isinstance(value, enum.Enum)
    ):
        return value
    if isinstance(value, enum.Enum):
        return encode_param(value.value)
    if isinstance(value, str):
        return value
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime in a notice: {value!r}")
        return {DATETIME_TAG: value.astimezone(UTC).isoformat()}
    if isinstance(value, Mapping):
        encoded: dict[str, JSON] = {}
        for key, item in value.items():
            if not isinstance(key, str) or key == DATETIME_TAG:
                raise TypeError(f"notice parameter key {key!r} is not a plain name")
            encoded[key] = encode_param(item)
        return encoded
    if isinstance(value, list | tuple):
        return [encode_param(item) for item in value]
    raise TypeError(f"{type(value).__name__} is not a plain value for a notice")


def decode_param(value: JSON) -> Any:
    """The inverse of ``encode_param``: tagged datetimes come back aware, in UTC."""
    if isinstance(value, dict):
        stamp = value.get(DATETIME_TAG)
        if len(value) == 1 and isinstance(stamp, str):
            return datetime.fromisoformat(stamp).astimezone(UTC)
        return {key: decode_param(item) for key, item in value.items()}
    if isinstance(value, list):
        return [decode_param(item) for item in value]
    return value


@dataclass(frozen=True, slots=True)
class Notice:
    """What to say, not how: a template name and its parameters as JSON (``encode_param``).
    Each channel renders it its own way (``notifications.render``)."""

    template: str
    params: Mapping[str, JSON] = field(default_factory=dict)

    @classmethod
    def of(cls, template: str, /, **context: Any) -> Notice:
        """The notice of ``template`` with ``context`` encoded (plain values only)."""
        encoded = encode_param(context)
        assert isinstance(encoded, dict)
        return cls(template, encoded)

    def context(self) -> dict[str, Any]:
        """The parameters as the template gets them (datetimes aware again)."""
        return {key: decode_param(value) for key, value in self.params.items()}


ANONYMOUS_KEY = "anon:"
"""The key prefix of a notice to the chat of an anonymous case's reporter: the rest is a keyed
hash, the row carries no case, and the sender clears its chat and reporter once it is done."""


class Notification(SQLModel, table=True):
    """One outbound message; ``key`` (case, kind, stage, recipient) makes it exactly-once."""

    __tablename__ = "notifications"

    __table_args__ = (
        sa.Index("ix_notifications_due", "status", "next_attempt_at"),
        # the 工作台's notices of one person (partial: the console's are few among millions)
        sa.Index(
            "ix_notifications_console_recipient",
            "recipient_kind",
            "recipient_id",
            "created_at",
            sqlite_where=sa.text("channel = 'console'"),
            postgresql_where=sa.text("channel = 'console'"),
        ),
    )

    id: int | None = Field(default=None, primary_key=True)
    key: str = Field(max_length=200, unique=True)
    case_id: int | None = Field(default=None, foreign_key="cases.id", index=True)
    kind: str = Field(max_length=40)
    channel: Channel = Field(
        default=Channel.TELEGRAM,
        sa_type=enum_type(Channel, 12),
        sa_column_kwargs={"server_default": Channel.TELEGRAM.value},
    )
    chat_id: int | None = Field(default=None, sa_type=sa.BigInteger)  # None: web (no index: 0026)
    recipient_kind: RecipientKind = Field(sa_type=enum_type(RecipientKind, 12))
    recipient_id: int | None = None
    method: SendMethod = Field(default=SendMethod.MESSAGE, sa_type=enum_type(SendMethod, 12))
    # what to say: a template and its parameters (``Notice``), rendered by the channel;
    # ``params``, ``text`` and ``reply_markup`` are cleared after ``[retention]
    # notification_text_days`` (bot.services.retention), the rest of the row is kept
    template: str | None = Field(default=None, max_length=64)
    params: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    # Telegram HTML rendered when queued: rows queued before ``template`` existed
    text: str | None = Field(default=None, sa_type=sa.Text)
    # what the recipient may do, rendered by the channel when the notice is sent
    offer: Offer | None = Field(default=None, sa_type=enum_type(Offer, 24))
    offer_ref: int | None = None
    # a Telegram keyboard as the Bot API takes it: rows queued before ``offer`` existed
    reply_markup: dict[str, Any] | None = Field(default=None, sa_type=JSONType)
    document_id: int | None = Field(default=None, foreign_key="documents.id")
    status: NotificationStatus = Field(
        default=NotificationStatus.PENDING, sa_type=enum_type(NotificationStatus, 16)
    )
    attempts: int = 0
    next_attempt_at: datetime = Field(sa_type=UTCDateTime)
    claimed_by: str | None = Field(default=None, max_length=64)
    claimed_until: datetime | None = Field(default=None, sa_type=UTCDateTime)
    # set, and committed, just before each request to Telegram; cleared with its answer
    attempted_at: datetime | None = Field(default=None, sa_type=UTCDateTime)
    last_error: str | None = Field(default=None, max_length=500)
    telegram_message_id: int | None = None
    created_at: datetime = Field(sa_type=UTCDateTime)
    sent_at: datetime | None = Field(default=None, sa_type=UTCDateTime)

    @property
    def notice(self) -> Notice | None:
        """What the row says, if it was queued as a notice (older rows carry ``text``); None
        too once retention has removed its text (``params`` cleared, the template kept)."""
        if self.template is None or self.params is None:
            return None
        return Notice(self.template, self.params or {})

    @property
    def offering(self) -> Offering | None:
        """What the notice offers, if anything (rows from before ``offer`` carry a keyboard)."""
        if self.offer is None or self.offer_ref is None:
            return None
        return Offering(self.offer, self.offer_ref)
