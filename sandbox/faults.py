"""What can go wrong between a bot and Telegram, on purpose: injected faults and Telegram's limits."""

from __future__ import annotations

import math
import random
from collections import Counter, deque
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

# Methods that are the session's plumbing rather than the bot's work: a fault there only delays
# polling, so they are left alone unless a plan names them.
PLUMBING_METHODS = frozenset(
    {"getMe", "getUpdates", "getWebhookInfo", "setWebhook", "deleteWebhook"}
)

# Methods that put a message into a chat; Telegram's flood limits count these.
SENDING_METHODS = frozenset(
    {
        "sendMessage",
        "sendPhoto",
        "sendDocument",
        "sendVoice",
        "sendVideo",
        "sendAudio",
        "sendAnimation",
        "sendMediaGroup",
        "sendContact",
        "copyMessage",
        "forwardMessage",
    }
)


@dataclass(frozen=True)
class FaultPlan:
    """A fraction of calls answered 429 (with ``retry_after``), 500, late, or with a proxy's
    502 page that is not Bot API JSON (``error_html``).

    Rates are fractions of the calls in scope (``methods``, or every method but the plumbing).
    A faulted call has no effect; a slow one is answered normally after ``slow_seconds``.
    The same seed and the same sequence of calls give the same faults.
    """

    error_429: float = 0.0
    error_500: float = 0.0
    slow: float = 0.0
    slow_seconds: float = 2.0
    retry_after: int = 1
    seed: int = 0
    methods: frozenset[str] | None = None
    error_html: float = 0.0

    def __post_init__(self) -> None:
        for name in ("error_429", "error_500", "slow", "error_html"):
            rate = getattr(self, name)
            if not 0.0 <= rate <= 1.0:
                raise ValueError(f"{name} must be between 0 and 1, not {rate}")
        if self.total > 1.0:
            raise ValueError("the fault rates add up to more than 1")
        if self.retry_after < 1:
            raise ValueError("retry_after must be at least 1 second")

    @property
    def total(self) -> float:
        return self.error_429 + self.error_500 + self.slow + self.error_html

    @property
    def active(self) -> bool:
        return self.total > 0.0

    def applies_to(self, method: str) -> bool:
        if self.methods is not None:
            return method in self.methods
        return method not in PLUMBING_METHODS

    def as_json(self) -> dict[str, Any]:
        return {
            "error_429": self.error_429,
            "error_500": self.error_500,
            "slow": self.slow,
            "error_html": self.error_html,
            "slow_seconds": self.slow_seconds,
            "retry_after": self.retry_after,
            "seed": self.seed,
            "methods": sorted(self.methods) if self.methods is not None else None,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FaultPlan:
        methods = data.get("methods")
        return cls(
            error_429=float(data.get("error_429", 0.0)),
            error_500=float(data.get("error_500", 0.0)),
            slow=float(data.get("slow", 0.0)),
            error_html=float(data.get("error_html", 0.0)),
            slow_seconds=float(data.get("slow_seconds", 2.0)),
            retry_after=int(data.get("retry_after", 1)),
            seed=int(data.get("seed", 0)),
            methods=frozenset(methods) if methods is not None else None,
        )


@dataclass(frozen=True)
class Fault:
    kind: str  # "429", "500", "slow" or "html"
    delay: float = 0.0
    retry_after: int = 0


class FaultInjector:
    """Draws one number per call in scope, from a generator seeded by the plan."""

    def __init__(self, plan: FaultPlan) -> None:
        self.plan = plan
        self._random = random.Random(plan.seed)  # noqa: S311 (reproducible faults, not secrets)

    def draw(self, method: str) -> Fault | None:
        plan = self.plan
        if not plan.active or not plan.applies_to(method):
            return None
        roll = self._random.random()
        if roll < plan.error_429:
            return Fault("429", retry_after=plan.retry_after)
        if roll < plan.error_429 + plan.error_500:
            return Fault("500")
        if roll < plan.error_429 + plan.error_500 + plan.slow:
            return Fault("slow", delay=plan.slow_seconds)
        if roll < plan.total:  # drawn last: the older kinds fall as before for the same seed
            return Fault("html")
        return None


@dataclass(frozen=True)
class RateLimits:
    """Telegram's flood limits for sending: about 30 messages a second overall, 1 a second per chat."""

    enabled: bool = False
    overall_per_second: int = 30
    per_chat_per_second: int = 1

    def as_json(self) -> dict[str, Any]:
        return {
            "enabled": self.enabled,
            "overall_per_second": self.overall_per_second,
            "per_chat_per_second": self.per_chat_per_second,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> RateLimits:
        return cls(
            enabled=bool(data.get("enabled", True)),
            overall_per_second=int(data.get("overall_per_second", 30)),
            per_chat_per_second=int(data.get("per_chat_per_second", 1)),
        )


@dataclass
class FloodControl:
    """Sliding one-second windows of accepted sends, overall and per chat, for one bot."""

    limits: RateLimits
    monotonic: Callable[[], float]
    _overall: deque[float] = field(default_factory=deque)
    _per_chat: dict[int, deque[float]] = field(default_factory=dict)

    def retry_after(self, chat_ids: Iterable[int]) -> int | None:
        """Seconds to wait before a send to ``chat_ids`` is allowed, or None if it is allowed now."""
        if not self.limits.enabled:
            return None
        now = self.monotonic()
        waits: list[float] = []
        window = self._trim(self._overall, now)
        if len(window) >= self.limits.overall_per_second:
            waits.append(window[-self.limits.overall_per_second] + 1.0 - now)
        for chat_id in chat_ids:
            chat_window = self._trim(self._per_chat.setdefault(chat_id, deque()), now)
            if len(chat_window) >= self.limits.per_chat_per_second:
                waits.append(chat_window[-self.limits.per_chat_per_second] + 1.0 - now)
        if not waits:
            return None
        return max(1, math.ceil(max(waits)))

    def record(self, chat_ids: Iterable[int]) -> None:
        now = self.monotonic()
        self._overall.append(now)
        for chat_id in chat_ids:
            self._per_chat.setdefault(chat_id, deque()).append(now)

    @staticmethod
    def _trim(window: deque[float], now: float) -> deque[float]:
        while window and window[0] <= now - 1.0:
            window.popleft()
        return window


@dataclass
class Stats:
    """What the emulator served: calls per method and the errors it answered with."""

    calls: Counter[str] = field(default_factory=Counter)
    injected: Counter[str] = field(default_factory=Counter)
    rate_limited: int = 0
    errors: Counter[int] = field(default_factory=Counter)
    webhook_deliveries: int = 0
    webhook_failures: int = 0

    @property
    def served_429(self) -> int:
        return self.errors[429]

    def as_json(self) -> dict[str, Any]:
        return {
            "calls": dict(self.calls),
            "injected": dict(self.injected),
            "rate_limited": self.rate_limited,
            "served_429": self.served_429,
            "errors": {str(code): count for code, count in self.errors.items()},
            "webhook_deliveries": self.webhook_deliveries,
            "webhook_failures": self.webhook_failures,
        }
