"""The link a card encodes: the web landing page on the commission's address when
``LIANKA_PUBLIC_URL`` is set, the Telegram deep link otherwise; and the address's checks."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from PIL import Image
from pydantic import ValidationError

from bot.settings import Settings
from cards.tokens import card_link, printed_card_link, web_card_link
from tests.test_cards_print import qr_texts
from tests.test_cli import lianka

BOT = "AnjuLiankaBot"
TOKEN = "c_Kq7TzW3mXc9PvR2hLs8d"
SECRET = "test-web-secret-0123456789abcdefghijklmnop"


def settings(**values: str) -> Settings:
    if values.get("public_url"):
        values.setdefault("web_secret", SECRET)
    return Settings(_env_file=None, **values)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("given", "kept"),
    [
        ("https://jubao.example.gov.cn", "https://jubao.example.gov.cn"),
        ("https://jubao.example.gov.cn/", "https://jubao.example.gov.cn"),
        ("  https://jubao.example.gov.cn:8443/ ", "https://jubao.example.gov.cn:8443"),
        ("http://localhost:8088", "http://localhost:8088"),
        ("http://127.0.0.1:8088/", "http://127.0.0.1:8088"),
        ("http://[::1]:8088", "http://[::1]:8088"),
        ("", None),
    ],
)
def test_a_public_address_is_kept_as_its_origin(given: str, kept: str | None) -> None:
    assert settings(public_url=given).public_url == kept


@pytest.mark.parametrize(
    "given",
    [
        "http://jubao.example.gov.cn",  # a report must not cross the internet in clear
        "jubao.example.gov.cn",
        "ftp://jubao.example.gov.cn",
        "https://",
        "https://jubao.example.gov.cn/lianka",  # the pages are served at the host's root
        "https://jubao.example.gov.cn/?a=1",
        "https://jubao.example.gov.cn/#top",
        "https://user:secret@jubao.example.gov.cn",
        "https://jubao.example.gov.cn:port",
    ],
)
def test_a_public_address_that_is_not_a_plain_https_origin_is_refused(given: str) -> None:
    with pytest.raises(ValidationError) as refused:
        settings(public_url=given)
    assert "public_url" in str(refused.value)


def test_a_card_encodes_the_landing_page_when_an_address_is_set_else_the_deep_link() -> None:
    assert web_card_link("https://jubao.example.gov.cn", TOKEN) == (
        f"https://jubao.example.gov.cn/c/{TOKEN}"
    )
    assert printed_card_link(
        TOKEN, bot_username=BOT, public_url="https://jubao.example.gov.cn"
    ) == (f"https://jubao.example.gov.cn/c/{TOKEN}")
    assert printed_card_link(TOKEN, bot_username=f"@{BOT}", public_url=None) == (
        f"https://t.me/{BOT}?start={TOKEN}"
    )
    assert card_link(BOT, TOKEN) == f"https://t.me/{BOT}?start={TOKEN}"


@pytest.mark.slow
def test_printed_cards_scan_to_whichever_link_is_configured(tmp_path: Path) -> None:
    env = {"LIANKA_BOT_USERNAME": BOT}
    assert lianka("init", cwd=tmp_path, env=env).returncode == 0
    issued = lianka(
        "cards", "issue", "--enterprise", "遂宁安居某某有限公司", "--json", cwd=tmp_path, env=env
    )
    assert issued.returncode == 0, issued.stderr
    card = json.loads(issued.stdout)
    assert card["link"] == f"https://t.me/{BOT}?start={card['token']}"
    on_web = {
        **env,
        "LIANKA_PUBLIC_URL": "https://jubao.example.gov.cn/",
        "LIANKA_WEB_SECRET": SECRET,
    }
    listed = json.loads(lianka("cards", "list", "--json", cwd=tmp_path, env=on_web).stdout)
    assert [c["link"] for c in listed] == [f"https://jubao.example.gov.cn/c/{card['token']}"]
    for name, environment, link in (
        ("telegram", env, f"https://t.me/{BOT}?start={card['token']}"),
        ("web", on_web, f"https://jubao.example.gov.cn/c/{card['token']}"),
    ):
        printed = lianka(
            "cards",
            "print",
            "--card",
            str(card["id"]),
            "--png",
            name,
            cwd=tmp_path,
            env=environment,
        )
        assert printed.returncode == 0, printed.stderr
        image = Image.open(tmp_path / name / f"card-{card['id']}.png")
        assert qr_texts(image) == [link]
    refused = lianka("cards", "list", cwd=tmp_path, env={"LIANKA_PUBLIC_URL": "http://example.org"})
    assert refused.returncode == 2
    assert "LIANKA_PUBLIC_URL" in refused.stderr


def test_a_public_address_needs_a_long_web_secret() -> None:
    with pytest.raises(ValidationError, match="LIANKA_WEB_SECRET"):
        Settings(_env_file=None, public_url="https://jubao.example.gov.cn")
    with pytest.raises(ValidationError, match="at least 32"):
        settings(public_url="https://jubao.example.gov.cn", web_secret="short")
    kept = settings(public_url="https://jubao.example.gov.cn")
    assert kept.web_secret is not None and SECRET not in repr(kept)
    assert settings().web_secret is None  # no public address: each process makes its own


def test_trusted_proxies_are_addresses_or_networks() -> None:
    assert [
        str(n) for n in settings(trusted_proxies="127.0.0.1, 10.0.0.0/8,::1").proxy_networks()
    ] == [
        "127.0.0.1/32",
        "10.0.0.0/8",
        "::1/128",
    ]
    assert settings().proxy_networks() == ()
    with pytest.raises(ValidationError, match="nginx"):
        settings(trusted_proxies="127.0.0.1, nginx")
