"""Deployment settings and secrets: only from the environment or ``.env``, never the config file."""

from __future__ import annotations

import ipaddress
import logging
from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import Field, SecretStr, field_validator, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_DATABASE_URL = "sqlite+aiosqlite:///var/lianka.db"
WEB_SECRET_MIN = 32
_LOCAL_HOSTS = frozenset({"localhost", "127.0.0.1", "::1"})


IPNetwork = ipaddress.IPv4Network | ipaddress.IPv6Network


def proxy_networks(value: str) -> tuple[IPNetwork, ...]:
    """``"127.0.0.1, 10.0.0.0/8"`` as networks; a bad entry is named."""
    networks = []
    for item in value.split(","):
        if item.strip():
            try:
                networks.append(ipaddress.ip_network(item.strip(), strict=False))
            except ValueError:
                raise ValueError(f"not an IP address or network: {item.strip()!r}") from None
    return tuple(networks)


def public_origin(value: str) -> str:
    """A public address as ``scheme://host[:port]`` without a trailing slash: HTTPS, or plain
    HTTP only for this machine (a reporter's report must not cross the internet in clear). The
    web channel is served at the root of its host, so a path, query or fragment is refused."""
    parsed = urlsplit(value.strip())
    try:
        parsed.port  # noqa: B018 (raises on a port that is not a number)
    except ValueError:
        raise ValueError("the port must be a number") from None
    if parsed.scheme not in ("https", "http") or not parsed.hostname:
        raise ValueError("must be an https:// address, e.g. https://jubao.example.gov.cn")
    if parsed.scheme == "http" and parsed.hostname not in _LOCAL_HOSTS:
        raise ValueError("must use https:// (plain http only for localhost)")
    if parsed.path not in ("", "/") or parsed.query or parsed.fragment or parsed.username:
        raise ValueError("must be the address of a host only (https://host[:port]), no path")
    return f"{parsed.scheme}://{parsed.netloc}"


class Settings(BaseSettings):
    """``LIANKA_*`` environment variables (or ``.env``)."""

    model_config = SettingsConfigDict(
        env_prefix="LIANKA_", env_file=".env", env_file_encoding="utf-8", extra="ignore"
    )

    bot_token: SecretStr | None = None
    bot_username: str = "LiankaBot"
    webhook_secret: SecretStr | None = None
    webhook_url: str | None = None
    public_url: str | None = None
    """The commission's own HTTPS address of the web channel (``https://jubao.example.gov.cn``):
    cards then encode ``<public_url>/c/<token>``; without it, the Telegram deep link."""
    web_secret: SecretStr | None = None
    """The key that signs the web channel's session cookies and form tokens (at least 32
    characters, e.g. ``python -c "import secrets; print(secrets.token_urlsafe(48))"``); the same
    on every instance. Required with ``public_url``; without it (the sandbox, tests) each process
    makes its own, and a restart ends every web session."""
    data_key: SecretStr | None = None
    """The key that seals reporters' identities at rest (``lianka keys generate``); never in the
    config file or the database. Losing it loses the sealed names and phones."""
    old_data_keys: SecretStr | None = None
    """Earlier data keys, comma-separated, kept while ``lianka keys rotate`` re-seals with the
    new one; drop them once it reports nothing left."""
    audit_key: SecretStr | None = None
    """The key of the audit chain and the keyed hashes (receipt codes, the phone index). Losing
    it means the chains can no longer be verified and receipt codes no longer match."""
    audit_anchor: bool = True
    """Whether this instance writes the daily audit anchor (``var/audit-anchors.log``). With
    several instances, exactly one should (the others: ``false``), and ``lianka audit verify``
    runs where its anchor file is."""
    trusted_proxies: str = ""
    """Addresses or networks of the reverse proxies in front of Lianka, comma-separated
    (``127.0.0.1, 10.0.0.0/8``): from them, the client's address is read from
    ``X-Forwarded-For``; from anyone else the header is ignored."""
    database_url: str = DEFAULT_DATABASE_URL
    redis_url: str | None = None
    telegram_api_base: str | None = None
    config: Path = Path("lianka.toml")
    var_dir: Path = Path("var")
    blob_store: Literal["directory", "database"] = "directory"
    """Where web uploads are kept: ``directory`` (files under ``blob_dir``, one machine) or
    ``database`` (the ``blobs`` table: what several instances on PostgreSQL share)."""
    blob_dir: Path | None = None
    """The directory store's folder; ``<var_dir>/blobs`` when not set."""
    log_level: str = "INFO"
    # Messages a second this instance's sender may start. Telegram allows a bot about 30 a
    # second in all: with several instances, give each its share (25 / N).
    send_per_second: float = Field(default=25.0, gt=0, le=30)
    sender_lease_seconds: float = 300.0
    """How long a claimed outbox row is held before another sender may take it: a process that
    died mid-send has its rows sent by the next one after this long."""

    @field_validator(
        "bot_token",
        "webhook_secret",
        "public_url",
        "web_secret",
        "data_key",
        "old_data_keys",
        "audit_key",
        mode="before",
    )
    @classmethod
    def _empty_is_none(cls, value: object) -> object:
        return None if value == "" else value

    @field_validator("telegram_api_base", "webhook_url", mode="after")
    @classmethod
    def _http_url(cls, value: str | None) -> str | None:
        if value is not None and not value.startswith(("http://", "https://")):
            raise ValueError("must start with http:// or https://")
        return value

    @field_validator("public_url", mode="after")
    @classmethod
    def _public_origin(cls, value: str | None) -> str | None:
        return None if value is None else public_origin(value)

    @field_validator("web_secret", mode="after")
    @classmethod
    def _long_secret(cls, value: SecretStr | None) -> SecretStr | None:
        if value is not None and len(value.get_secret_value()) < WEB_SECRET_MIN:
            raise ValueError(f"must be at least {WEB_SECRET_MIN} characters")
        return value

    @model_validator(mode="after")
    def _secret_with_public_url(self) -> Settings:
        if self.public_url is not None and self.web_secret is None:
            raise ValueError(
                "LIANKA_PUBLIC_URL 已设置，还需要 LIANKA_WEB_SECRET（至少32个字符的随机字符串）"
                " (the web channel needs LIANKA_WEB_SECRET, 32+ random characters)"
            )
        return self

    @field_validator("trusted_proxies", mode="after")
    @classmethod
    def _networks(cls, value: str) -> str:
        proxy_networks(value)
        return value

    def proxy_networks(self) -> tuple[IPNetwork, ...]:
        return proxy_networks(self.trusted_proxies)

    @field_validator("bot_username", mode="after")
    @classmethod
    def _strip_at(cls, value: str) -> str:
        return value.removeprefix("@")

    def safe_database_url(self) -> str:
        """The database URL with any password masked, fit for logs and messages."""
        from sqlalchemy.engine import make_url

        return make_url(self.database_url).render_as_string(hide_password=True)


def configure_logging(settings: Settings) -> None:
    """Our INFO; the libraries' chatter (a line per scheduler tick, per migration plugin) only
    from WARNING up."""
    logging.basicConfig(
        level=settings.log_level.upper(),
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
    )
    for noisy in ("apscheduler", "alembic", "aiogram.event"):
        logging.getLogger(noisy).setLevel(max(logging.WARNING, logging.root.level))
