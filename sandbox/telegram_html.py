"""Telegram's HTML parse mode, as the Bot API server applies it: text plus entities, or an error.

The rules follow tdlib's ``parse_html`` (what ``api.telegram.org`` runs): only Telegram's tags,
only ``&lt; &gt; &amp; &quot;`` and numeric entities, every tag closed in order. An unescaped
``<`` in user text makes the whole message fail with "can't parse entities", which is the bug this
module exists to catch before production does. Offsets and lengths are in UTF-16 code units.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

ALLOWED_TAGS = frozenset(
    {
        "a",
        "b",
        "strong",
        "i",
        "em",
        "u",
        "ins",
        "s",
        "strike",
        "del",
        "span",
        "tg-spoiler",
        "tg-emoji",
        "code",
        "pre",
        "blockquote",
    }
)
_ENTITY_TYPE = {
    "b": "bold",
    "strong": "bold",
    "i": "italic",
    "em": "italic",
    "u": "underline",
    "ins": "underline",
    "s": "strikethrough",
    "strike": "strikethrough",
    "del": "strikethrough",
    "span": "spoiler",
    "tg-spoiler": "spoiler",
    "code": "code",
    "pre": "pre",
    "blockquote": "blockquote",
    "tg-emoji": "custom_emoji",
}
_NAMED_ENTITIES = {"lt": "<", "gt": ">", "amp": "&", "quot": '"'}
_SPACE = " \t\n\r\x0b\x0c"
_COMMAND = re.compile(r"(?<![\w/])/[A-Za-z0-9_]{1,32}(?:@[A-Za-z0-9_]{3,32})?(?![\w/])")
_URL_SCHEMES = ("http://", "https://", "tg://", "ftp://", "mailto:")


class EntityParseError(ValueError):
    """The text is not valid Telegram HTML; ``str(error)`` is tdlib's wording."""


def utf16_len(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


@dataclass
class _Open:
    tag: str
    argument: str
    offset: int
    byte_offset: int


def _decode_entity(text: str, i: int) -> tuple[str, int] | None:
    """The character of the HTML entity at ``text[i] == '&'`` and the index after it, if any."""
    end = text.find(";", i + 1, i + 12)
    if end == -1:
        return None
    body = text[i + 1 : end]
    if body.startswith("#"):
        digits, base = (body[2:], 16) if body[1:2] in ("x", "X") else (body[1:], 10)
        allowed = "0123456789abcdefABCDEF" if base == 16 else "0123456789"
        if not digits or any(c not in allowed for c in digits):
            return None
        code = int(digits, base)
        if code == 0 or code > 0x10FFFF or 0xD800 <= code <= 0xDFFF:
            return None
        return chr(code), end + 1
    if body in _NAMED_ENTITIES:
        return _NAMED_ENTITIES[body], end + 1
    return None


def _valid_url(url: str) -> bool:
    lowered = url.lower()
    if lowered.startswith(_URL_SCHEMES):
        return len(url) > lowered.find(":") + 1
    return bool(re.fullmatch(r"[\w.-]+\.[A-Za-z]{2,}(/\S*)?", url))


def parse_html(text: str) -> tuple[str, list[dict[str, Any]]]:
    """Plain text and Bot API ``MessageEntity`` dicts for ``text`` in HTML parse mode."""
    byte_at = _ByteOffsets(text)
    out: list[str] = []
    offset = 0  # UTF-16 position in the output
    stack: list[_Open] = []
    entities: list[dict[str, Any]] = []
    n = len(text)
    i = 0
    while i < n:
        c = text[i]
        if c == "&":
            decoded = _decode_entity(text, i)
            if decoded is not None:
                char, i = decoded
                out.append(char)
                offset += utf16_len(char)
                continue
        if c != "<":
            out.append(c)
            offset += utf16_len(c)
            i += 1
            continue
        begin = i
        i += 1
        if i < n and text[i] == "/":
            if not stack:
                raise EntityParseError(f"Unexpected end tag at byte offset {byte_at(begin)}")
            j = i + 1
            while j < n and text[j] not in _SPACE and text[j] != ">":
                j += 1
            end_name = text[i + 1 : j].lower()
            while j < n and text[j] in _SPACE:
                j += 1
            if j >= n or text[j] != ">":
                raise EntityParseError(f"Unclosed end tag at byte offset {byte_at(begin)}")
            opened = stack.pop()
            if end_name and end_name != opened.tag:
                raise EntityParseError(
                    f'Unmatched end tag at byte offset {byte_at(begin)}, expected "</{opened.tag}>", '
                    f'found "</{end_name}>"'
                )
            _close(opened, "".join(out), offset, entities)
            i = j + 1
            continue
        j = i
        while j < n and text[j] not in _SPACE and text[j] != ">":
            j += 1
        if j >= n:
            raise EntityParseError(f"Unclosed start tag at byte offset {byte_at(begin)}")
        tag = text[i:j].lower()
        if tag not in ALLOWED_TAGS:
            raise EntityParseError(f'Unsupported start tag "{tag}" at byte offset {byte_at(begin)}')
        argument, i = _attributes(text, j, tag, begin, byte_at)
        if tag == "span" and argument != "spoiler":
            raise EntityParseError(
                f'Tag "span" must have class "tg-spoiler" at byte offset {byte_at(begin)}'
            )
        if tag == "tg-emoji" and not argument.isdigit():
            raise EntityParseError(
                f"Custom emoji identifier must be non-empty at byte offset {byte_at(begin)}"
            )
        stack.append(_Open(tag, argument, offset, byte_at(begin)))
    if stack:
        raise EntityParseError(f'Can\'t find end tag corresponding to start tag "{stack[-1].tag}"')
    for entity in entities:
        entity.pop("_language", None)
    entities.sort(key=lambda e: (e["offset"], -e["length"]))
    return _strip("".join(out), entities)


def _attributes(text: str, i: int, tag: str, begin: int, byte_at: _ByteOffsets) -> tuple[str, int]:
    """Read a start tag's attributes from ``text[i]``; the tag's argument and the index after '>'."""
    n = len(text)
    argument = ""
    expandable = False
    while True:
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {byte_at(begin)}')
        if text[i] == ">":
            break
        name_start = i
        while i < n and text[i] not in _SPACE and text[i] not in "=>":
            i += 1
        name = text[name_start:i].lower()
        if not name:
            raise EntityParseError(
                f'Empty attribute name in the tag "{tag}" at byte offset {byte_at(begin)}'
            )
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {byte_at(begin)}')
        if text[i] != "=":
            if tag == "blockquote" and name == "expandable":
                expandable = True
            continue
        i += 1
        while i < n and text[i] in _SPACE:
            i += 1
        if i >= n:
            raise EntityParseError(f'Unclosed start tag "{tag}" at byte offset {byte_at(begin)}')
        value: list[str] = []
        if text[i] not in "'\"":
            token_start = i
            while i < n and (text[i].isalnum() or text[i] in ".-"):
                i += 1
            value.append(text[token_start:i].lower())
            if i >= n or (text[i] not in _SPACE and text[i] != ">"):
                raise EntityParseError(
                    f"Unexpected end of name token at byte offset {byte_at(token_start)}"
                )
        else:
            quote = text[i]
            i += 1
            while i < n and text[i] != quote:
                if text[i] == "&":
                    decoded = _decode_entity(text, i)
                    if decoded is not None:
                        value.append(decoded[0])
                        i = decoded[1]
                        continue
                value.append(text[i])
                i += 1
            if i >= n:
                raise EntityParseError(f"Unclosed start tag at byte offset {byte_at(begin)}")
            i += 1
        attribute = "".join(value)
        if tag == "a" and name == "href":
            argument = attribute
        elif tag == "code" and name == "class" and attribute.startswith("language-"):
            argument = attribute.removeprefix("language-")
        elif tag == "span" and name == "class" and attribute.startswith("tg-"):
            argument = attribute.removeprefix("tg-")
        elif (tag == "tg-emoji" and name == "emoji-id") or (tag == "pre" and name == "language"):
            argument = attribute
    if tag == "blockquote" and expandable:
        argument = "expandable"
    return argument, i + 1


def _close(opened: _Open, output: str, offset: int, entities: list[dict[str, Any]]) -> None:
    length = offset - opened.offset
    if length <= 0:
        return
    entity: dict[str, Any] = {"offset": opened.offset, "length": length}
    if opened.tag == "a":
        url = opened.argument or _utf16_slice(output, opened.offset, offset)
        if url.startswith("tg://user?id=") and url.removeprefix("tg://user?id=").isdigit():
            entity |= {
                "type": "text_mention",
                "user": {"id": int(url[13:]), "is_bot": False, "first_name": ""},
            }
        elif _valid_url(url):
            entity |= {"type": "text_link", "url": url}
        else:
            return
    elif opened.tag == "code":
        entity["type"] = "code"
        if opened.argument:
            entity["_language"] = opened.argument
    elif opened.tag == "pre":
        entity["type"] = "pre"
        language = opened.argument
        for inner in [e for e in entities if e["type"] == "code"]:
            if inner["offset"] == opened.offset and inner["length"] == length:
                entities.remove(inner)
                language = language or inner.get("_language", "")
        if language:
            entity["language"] = language
    elif opened.tag == "blockquote":
        entity["type"] = (
            "expandable_blockquote" if opened.argument == "expandable" else "blockquote"
        )
    elif opened.tag == "tg-emoji":
        entity |= {"type": "custom_emoji", "custom_emoji_id": opened.argument}
    else:
        entity["type"] = _ENTITY_TYPE[opened.tag]
    entities.append(entity)


def _utf16_slice(text: str, start: int, end: int) -> str:
    encoded = text.encode("utf-16-le")
    return encoded[start * 2 : end * 2].decode("utf-16-le")


def _strip(text: str, entities: list[dict[str, Any]]) -> tuple[str, list[dict[str, Any]]]:
    """Telegram drops leading and trailing white space and clips the entities to what is left."""
    stripped = text.strip()
    if stripped == text:
        return text, entities
    lead = utf16_len(text[: len(text) - len(text.lstrip())])
    total = utf16_len(stripped)
    kept: list[dict[str, Any]] = []
    for entity in entities:
        start = max(entity["offset"] - lead, 0)
        end = min(entity["offset"] + entity["length"] - lead, total)
        if end > start:
            kept.append(entity | {"offset": start, "length": end - start})
    return stripped, kept


def command_entities(text: str) -> list[dict[str, Any]]:
    """The ``bot_command`` entities a Telegram client marks in text a user types."""
    return [
        {
            "type": "bot_command",
            "offset": utf16_len(text[: match.start()]),
            "length": utf16_len(match.group()),
        }
        for match in _COMMAND.finditer(text)
    ]


def check_entities(text: str, entities: Any) -> list[dict[str, Any]]:
    """Entities given explicitly must be objects with a type and lie within the text."""
    if not isinstance(entities, list):
        raise EntityParseError("entities must be an array")
    total = utf16_len(text)
    checked: list[dict[str, Any]] = []
    for entity in entities:
        if not isinstance(entity, dict) or not isinstance(entity.get("type"), str):
            raise EntityParseError("entity must be an object with a type")
        offset, length = entity.get("offset"), entity.get("length")
        if not isinstance(offset, int) or not isinstance(length, int) or offset < 0 or length <= 0:
            raise EntityParseError("entity offset and length must be non-negative integers")
        if offset + length > total:
            continue
        checked.append(entity)
    return checked


class _ByteOffsets:
    """Maps a character index to tdlib's UTF-8 byte offset, for error messages."""

    def __init__(self, text: str) -> None:
        self._text = text

    def __call__(self, index: int) -> int:
        return len(self._text[:index].encode("utf-8"))
