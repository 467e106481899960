"""Who a person can be in the sandbox: a Telegram account with a name, a role and maybe a link."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sandbox.world import START_PAYLOAD

SANDBOX_BOT_TOKEN = "7000000001:sandbox-lianka-local-not-a-real-token"  # noqa: S105 (public)
SANDBOX_BOT_USERNAME = "LiankaSandboxBot"
SANDBOX_BOT_NAME = "廉卡 Lianka"
# The card the demo data prints for the demo enterprise; the reporter persona "scans" it.
DEMO_CARD_TOKEN = "c_sandboxDemoCard0001"  # noqa: S105 (printed on a demo card)


@dataclass(frozen=True)
class Persona:
    """A Telegram user the page lets a person act as."""

    key: str
    user_id: int
    name: str
    role: str = ""
    start_payload: str | None = None
    phone_number: str | None = None
    description: str = ""

    def __post_init__(self) -> None:
        if self.user_id <= 0:
            raise ValueError(f"persona {self.key}: the user id must be positive")
        if self.start_payload is not None and not START_PAYLOAD.fullmatch(self.start_payload):
            raise ValueError(
                f"persona {self.key}: a start link takes 1–64 characters of A–Z a–z 0–9 _ -"
            )

    def as_json(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "user_id": self.user_id,
            "name": self.name,
            "role": self.role,
            "start_payload": self.start_payload,
            "phone_number": self.phone_number,
            "description": self.description,
        }


DEFAULT_PERSONAS: tuple[Persona, ...] = (
    Persona(
        key="reporter",
        user_id=7100001,
        name="王立新",
        role="企业反映人",
        start_payload=DEMO_CARD_TOKEN,
        phone_number="+8613800000001",
        description="手持演示企业的廉政监督联系卡",
    ),
    Persona(
        key="inspector",
        user_id=7100002,
        name="李监督员",
        role="监督员",
        phone_number="+8613800000002",
        description="立项监督组成员，签收并办理问题",
    ),
    Persona(
        key="team_leader",
        user_id=7100003,
        name="陈组长",
        role="组长",
        phone_number="+8613800000003",
        description="监督组组长，分办、审批延期和退回",
    ),
)


def parse_persona(spec: str) -> Persona:
    """``ID:NAME[:ROLE[:START_PAYLOAD[:PHONE]]]`` from the command line."""
    parts = spec.split(":")
    if len(parts) < 2 or not parts[0].isdigit() or not parts[1]:
        raise ValueError(f"persona {spec!r}: write ID:NAME[:ROLE[:START_PAYLOAD[:PHONE]]]")
    user_id = int(parts[0])
    role = parts[2] if len(parts) > 2 else ""
    payload = parts[3] if len(parts) > 3 and parts[3] else None
    phone = parts[4] if len(parts) > 4 and parts[4] else None
    return Persona(
        key=f"u{user_id}",
        user_id=user_id,
        name=parts[1],
        role=role,
        start_payload=payload,
        phone_number=phone,
    )
