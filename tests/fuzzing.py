"""What the handler fuzzing sends and what it checks: hostile text, every kind of media, forged
button data, and the rules every reply must keep (valid Telegram HTML, user text escaped, within
Telegram's sizes)."""

from __future__ import annotations

import json
import os
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from aiogram.client.default import Default
from aiogram.types import (
    Animation,
    Audio,
    Contact,
    Dice,
    Document,
    InlineKeyboardMarkup,
    Location,
    PhotoSize,
    Sticker,
    Video,
    VideoNote,
    Voice,
)
from hypothesis import strategies as st

from sandbox.telegram_html import EntityParseError, parse_html

# Each hostile fragment ends in a marker of its own: wherever the marker shows in a reply, the
# text before it, as the person reads it, must be the fragment as typed (escaped, not obeyed).
HOSTILE = {
    "①": "<b>",
    "②": "</b>",
    "③": "<script>alert(1)</script>",
    "④": "&amp;",
    "⑤": "&lt;",
    "⑥": "&",
    "⑦": "<",
    "⑧": '<a href="tg://user?id=1">',
    "⑨": "&#60;",
    "⑩": "<i>",
    "⑪": "<code>",
    "⑫": "<tg-spoiler>",
}
ODD = [
    "",
    " ",
    "\n",
    "\u200b",  # zero-width space
    "\u200c\u200d",  # zero-width (non-)joiner
    "\ufeff",  # byte order mark
    "\u200f",  # right-to-left mark
    "\u202e",  # right-to-left override
    "\u2066\u2069",  # isolates
    "\u0645\u0631\u062d\u0628\u0627",  # Arabic
    "😀",
    "👨\u200d👩\u200d👧\u200d👦",
    "🇨🇳",
    "\U0001f9d1🏽\u200d💻",
    "\x00",
    "\x1b[31m",
    "\r\n",
    "\t",
    "　",  # ideographic space
    "１２３",  # full-width digits
    "12.5万",
    "-1",
    "1e309",
    "0",
    "5",
    "99999999999999999999999",
    "²",
    "５",
    "١٢",
    "13812345678",
    "+86 138 1234 5678",
    "宋利剑",
    "经开区管委会承诺的土地出让金返还和建筑物配套费至今未到位，企业资金链断裂。",
    "/cancel",
    "完成",
    "跳过",
    "手动输入",
    "确认提交",
]
LONG = [
    "字" * 100_000,
    "a" * 100_000,
    "<b>①" * 20_000,
    "中" * 2_000,
    "中" * 2_001,
    "x" * 4_097,
    "9" * 5_000,
    "\u200b" * 5_000,
    "😀" * 3_000,
]
fragments = st.one_of(
    st.sampled_from(ODD),
    st.sampled_from([value + marker for marker, value in HOSTILE.items()]),
    st.text(st.characters(exclude_characters="".join(HOSTILE)), max_size=20),
)
texts = st.one_of(
    st.lists(fragments, max_size=6).map("".join),
    st.sampled_from(LONG),
)
COMMANDS = [
    "/start",
    "/start ",
    "/start c_nosuchcard",
    "/start c_",
    "/start i_nosuchinvite",
    "/start i_",
    "/start <b>①",
    "/start " + "x" * 300,
    "/cancel",
    "/report",
    "/my",
    "/track",
    "/track ABCD-1234",
    "/track <script>③",
    "/help",
    "/queue",
    "/case",
    "/case AJ-2026-0001",
    "/case &amp;④",
    "/stats",
    "/reroute",
    "/reroute 1 2",
    "/inspectors",
    "/nosuchcommand",
    "/start@LiankaTestBot",
    "/cancel@OtherBot",
]
commands = st.one_of(
    st.sampled_from(COMMANDS),
    st.tuples(st.sampled_from(COMMANDS), texts).map(lambda c: f"{c[0]} {c[1]}"),
)


@dataclass(frozen=True)
class Media:
    """A message that is not plain text."""

    kind: str
    fields: dict[str, Any]


def _media(kind: str, n: int, size: int, name: str, caption: str | None) -> Media:
    f: dict[str, Any] = {"file_id": f"fz-{kind}-{n}", "file_unique_id": f"ufz-{kind}-{n}"}
    content: dict[str, Any]
    if kind == "photo":
        content = {"photo": [PhotoSize(**f, width=1280, height=960, file_size=size)]}
    elif kind == "document":
        content = {"document": Document(**f, file_name=name[:255] or None, file_size=size)}
    elif kind == "voice":
        content = {"voice": Voice(**f, duration=n, file_size=size)}
    elif kind == "audio":
        content = {"audio": Audio(**f, duration=n, file_name=name[:255] or None)}
    elif kind == "video":
        content = {"video": Video(**f, width=640, height=480, duration=n, file_size=size)}
    elif kind == "video_note":
        content = {"video_note": VideoNote(**f, length=240, duration=n)}
    elif kind == "animation":
        content = {"animation": Animation(**f, width=1, height=1, duration=n)}
    elif kind == "sticker":
        content = {
            "sticker": Sticker(
                **f, type="regular", width=512, height=512, is_animated=False, is_video=False
            )
        }
        caption = None
    elif kind == "contact_own":
        content = {"contact": Contact(phone_number=name[:30] or "1", first_name="x", user_id=0)}
        caption = None
    elif kind == "contact_other":
        content = {"contact": Contact(phone_number="13812345678", first_name=name[:60] or "x")}
        caption = None
    elif kind == "location":
        content = {"location": Location(latitude=30.5, longitude=105.6)}
        caption = None
    else:
        content = {"dice": Dice(emoji="🎲", value=3)}
        caption = None
    if caption is not None:
        content["caption"] = caption
    return Media(kind, content)


MEDIA_KINDS = [
    "photo",
    "document",
    "voice",
    "audio",
    "video",
    "video_note",
    "animation",
    "sticker",
    "contact_own",
    "contact_other",
    "location",
    "dice",
]
media = st.builds(
    _media,
    st.sampled_from(MEDIA_KINDS),
    st.integers(0, 10**6),
    st.sampled_from([0, 1, 200_000, 20 * 2**20, 2 * 2**30]),
    texts,
    st.none() | texts,
)


@dataclass(frozen=True)
class Text:
    text: str


@dataclass(frozen=True)
class Press:
    """Raw callback data, as a forged or stale button press sends it."""

    data: str


@dataclass(frozen=True)
class Click:
    """Press one of the buttons the bot showed last (picked by index when played)."""

    index: int


Action = Text | Media | Press | Click


def callback_data(case_ids: list[int], other_ids: list[int], drafts: list[str]) -> Any:
    """Button data for every button kind, with real and foreign ids, and forgeries."""
    ids = st.sampled_from([*case_ids, 0, -1, 2**31, 2**63, 10**40])
    others = st.sampled_from([*other_ids, 0, -5, 2**63])
    value = st.sampled_from(
        ["", "solved", "partly", "x", "0", "1", "5", "999", "-3", "ʘ", "²", "9" * 40, "５"]
    )
    draft = st.sampled_from([*drafts, "", "x", "AAAAAAAAAAAA", "<b>①"])
    formats = [
        st.builds(lambda a, i: f"ca1:{a}:{i}", st.sampled_from(CA), ids),
        st.builds(lambda a, i, v: f"cs1:{a}:{i}:{v}", st.sampled_from(CS), ids, value),
        st.builds(
            lambda a, i, p, t: f"ta1:{a}:{i}:{p}:{t}", st.sampled_from(TA), ids, others, others
        ),
        st.builds(
            lambda r, y, t: f"rq1:{r}:{y}:{t}", others, st.sampled_from(["0", "1", "2"]), others
        ),
        st.builds(lambda i, r: f"fu1:{i}:{r}", ids, st.sampled_from(["s", "b", "u", "x"])),
        st.builds(lambda r: f"rr1:{r}", others),
        st.builds(lambda p: f"qp1:{p}", st.integers(-3, 10**6)),
        st.builds(lambda a, i: f"ad1:{a}:{i}", st.sampled_from(["off", "offok", "on"]), others),
        st.builds(lambda a, i: f"rk1:{a}:{i}", st.sampled_from(RK), ids),
        st.builds(lambda a: f"rm1:{a}", st.sampled_from(["rep", "my", "con", "zzz"])),
        st.builds(
            lambda d, a, v: f"ri1:{d}:{a}:{v}", draft, st.sampled_from(RI), st.integers(-1, 99)
        ),
        st.builds(
            lambda p, t: f"{p}:{t}",
            st.sampled_from(["ca1", "cs1", "ta1", "rq1", "fu1", "rr1", "qp1", "ad1", "rk1", "ri1"]),
            st.text(max_size=40),
        ),
        st.text(max_size=64),
        st.binary(max_size=64).map(lambda b: b.decode(errors="replace")),
    ]
    return st.one_of(*formats).map(lambda data: data.encode()[:64].decode(errors="ignore"))


CA = ["acc", "ret", "mat", "ask", "prg", "ext", "res", "zzz"]
CS = ["out", "days", "vis", "amt", "to", "zz"]
TA = ["asg", "to", "rte", "rt", "sup", "zz"]
RK = ["v", "l", "m", "d", "c", "w", "ws", "zz"]
RI = [
    "cat",
    "done",
    "clr",
    "skip",
    "real",
    "anon",
    "ok",
    "edit",
    "part",
    "back",
    "cxl",
    "cxy",
    "cxn",
]


def actions(case_ids: list[int], other_ids: list[int], drafts: list[str]) -> Any:
    action = st.one_of(
        st.builds(Text, texts),
        st.builds(Text, commands),
        media,
        st.builds(Press, callback_data(case_ids, other_ids, drafts)),
        st.builds(Click, st.integers(0, 1_000)),
        st.builds(Click, st.integers(0, 1_000)),
    )
    return st.lists(action, min_size=1, max_size=4)


# --- what every reply must be --------------------------------------------------------------


class Malformed(AssertionError):
    """A reply the real Bot API would refuse, or user text that reaches the reader unescaped."""


def check_html(text: str, limit: int, where: str) -> None:
    """``text`` is valid Telegram HTML, non-empty, within ``limit`` characters once parsed, and
    every hostile fragment in it reads exactly as it was typed."""
    try:
        plain, _entities = parse_html(text)
    except EntityParseError as error:
        raise Malformed(f"{where}: not valid Telegram HTML ({error}): {text[:300]!r}") from None
    if not plain.strip():
        raise Malformed(f"{where}: empty text")
    if len(plain) > limit:
        raise Malformed(f"{where}: {len(plain)} characters, over Telegram's {limit}")
    for marker, fragment in HOSTILE.items():
        start = 0
        while (i := plain.find(marker, start)) >= 0:
            if not plain[:i].endswith(fragment):
                raise Malformed(
                    f"{where}: user text {fragment!r} reached the reader as "
                    f"{plain[max(0, i - 30) : i + 1]!r} (raw {text[:300]!r})"
                )
            start = i + 1


def _markup(markup: Any, where: str) -> None:
    if not isinstance(markup, InlineKeyboardMarkup):
        return
    for row in markup.inline_keyboard:
        for button in row:
            if not button.text or len(button.text) > 200:
                raise Malformed(f"{where}: button text {button.text!r}")
            data = button.callback_data
            if data is not None and not 1 <= len(data.encode()) <= 64:
                raise Malformed(f"{where}: callback data of {len(data.encode())} bytes")


def _is_html(call: Any) -> bool:
    mode = getattr(call, "parse_mode", None)
    return isinstance(mode, Default) or mode == "HTML"


def check_calls(calls: list[Any]) -> None:
    """Every Bot API call the update caused is one Telegram would accept."""
    for call in calls:
        name = type(call).__name__
        values = call.model_dump()
        if name in ("SendMessage", "EditMessageText"):
            if _is_html(call):
                check_html(values["text"], 4096, name)
            elif not 1 <= len(values["text"]) <= 4096:
                raise Malformed(f"{name}: {len(values['text'])} characters")
        elif values.get("caption") is not None and _is_html(call):
            check_html(values["caption"], 1024, name)
        elif name == "AnswerCallbackQuery" and len(values.get("text") or "") > 200:
            raise Malformed(f"{name}: alert of {len(values['text'])} characters")
        _markup(getattr(call, "reply_markup", None), name)


# --- how many ran --------------------------------------------------------------------------


@dataclass
class Tally:
    """Examples and updates per persona, for the closing note."""

    profile: str
    examples: dict[str, int] = field(default_factory=dict)
    updates: dict[str, int] = field(default_factory=dict)
    states: dict[str, set[str]] = field(default_factory=dict)

    def count(self, persona: str, state: str, updates: int) -> None:
        self.examples[persona] = self.examples.get(persona, 0) + 1
        self.updates[persona] = self.updates.get(persona, 0) + updates
        self.states.setdefault(persona, set()).add(state)

    def line(self, persona: str) -> str:
        return (
            f"fuzz[{self.profile}] {persona}: {self.examples.get(persona, 0)} examples, "
            f"{self.updates.get(persona, 0)} updates, "
            f"{len(self.states.get(persona, ()))} states"
        )

    def record(self, persona: str, seconds: float) -> None:
        """One line on stdout, and a JSON line where ``LIANKA_FUZZ_SUMMARY`` says."""
        print(self.line(persona) + f", {seconds:.1f} s")
        path = os.environ.get("LIANKA_FUZZ_SUMMARY")
        if path:
            row = {
                "at": datetime.now(UTC).isoformat(timespec="seconds"),
                "profile": self.profile,
                "persona": persona,
                "examples": self.examples.get(persona, 0),
                "updates": self.updates.get(persona, 0),
                "states": sorted(self.states.get(persona, ())),
                "seconds": round(seconds, 1),
            }
            with Path(path).open("a", encoding="utf-8") as out:
                out.write(json.dumps(row, ensure_ascii=False) + "\n")
