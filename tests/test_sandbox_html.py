"""The emulator reads HTML the way Telegram does, so a template that Telegram would refuse fails here."""

from __future__ import annotations

import html

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from sandbox.telegram_html import EntityParseError, command_entities, parse_html


def test_tags_become_entities_counted_in_utf16_units():
    text, entities = parse_html(
        "😀<b>受理</b> <i>编号 <u>AJ-1</u></i> <a href='https://x.cn/?a=1&amp;b=2'>链接</a>"
    )

    assert text == "😀受理 编号 AJ-1 链接"
    assert entities == [
        {"offset": 2, "length": 2, "type": "bold"},
        {"offset": 5, "length": 7, "type": "italic"},
        {"offset": 8, "length": 4, "type": "underline"},
        {"offset": 13, "length": 2, "type": "text_link", "url": "https://x.cn/?a=1&b=2"},
    ]


def test_named_and_numeric_entities_decode_and_unknown_ones_stay_literal():
    text, _ = parse_html("&lt;a&gt; &amp; &quot; &#20013;&#x6587; &nbsp;")

    assert text == '<a> & " 中文 &nbsp;'


def test_code_inside_pre_gives_the_block_its_language():
    text, entities = parse_html('<pre><code class="language-python">x = 1</code></pre>')

    assert text == "x = 1"
    assert entities == [{"offset": 0, "length": 5, "type": "pre", "language": "python"}]


def test_spoiler_and_blockquote_tags_are_accepted():
    _, entities = parse_html(
        '<tg-spoiler>a</tg-spoiler><span class="tg-spoiler">b</span><blockquote expandable>c</blockquote>'
    )

    assert [e["type"] for e in entities] == ["spoiler", "spoiler", "expandable_blockquote"]


def test_leading_and_trailing_space_is_dropped_like_telegram_does():
    text, entities = parse_html("\n  <b>您好</b>  \n")

    assert text == "您好"
    assert entities == [{"offset": 0, "length": 2, "type": "bold"}]


@pytest.mark.parametrize(
    ("markup", "error"),
    [
        ("<script>alert(1)</script>", 'Unsupported start tag "script" at byte offset 0'),
        ("<b>未闭合", 'Can\'t find end tag corresponding to start tag "b"'),
        (
            "<b>交错<i>标签</b></i>",
            'Unmatched end tag at byte offset 18, expected "</i>", found "</b>"',
        ),
        ("多余</b>", "Unexpected end tag at byte offset 6"),
        ("第一行<br>第二行", 'Unsupported start tag "br" at byte offset 9'),
        ("金额 < 100 万元", 'Unsupported start tag "" at byte offset 7'),
        ("<span>x</span>", 'Tag "span" must have class "tg-spoiler" at byte offset 0'),
        ('<a href="x', "Unclosed start tag at byte offset 0"),
    ],
)
def test_markup_telegram_refuses_is_refused_with_its_wording(markup, error):
    with pytest.raises(EntityParseError) as refused:
        parse_html(markup)

    assert str(refused.value) == error


@settings(deadline=None)  # no 200 ms limit per example: a busy machine exceeds it
@given(st.text())
def test_escaped_user_text_always_parses_back_to_itself(user_text):
    text, entities = parse_html(html.escape(user_text, quote=False))

    assert text == user_text.strip()
    assert entities == []


def test_commands_in_typed_text_are_marked():
    assert command_entities("/start c_abc") == [{"type": "bot_command", "offset": 0, "length": 6}]
    assert command_entities("请发送 /my@LiankaBot 查看") == [
        {"type": "bot_command", "offset": 4, "length": 13}
    ]
    assert command_entities("路径 a/b 不是命令") == []
