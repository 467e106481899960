"""Prometheus metrics of one ``lianka run`` process, served at ``/metrics``."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram
from prometheus_client.core import CounterMetricFamily, Metric
from prometheus_client.exposition import generate_latest
from prometheus_client.registry import Collector
from sqlalchemy import func
from sqlmodel import col, select

from bot.db import SessionFactory
from models.notification import Channel, Notification, NotificationStatus
from notifications.sender import SenderStats

CONTENT_TYPE = "text/plain; version=0.0.4; charset=utf-8"


class Metrics:
    """The process's counters; one registry per process (and per test), no globals."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.updates = Counter(
            "lianka_updates_handled",
            "Telegram updates handled, by type.",
            ["type"],
            registry=self.registry,
        )
        self.cases_submitted = Counter(
            "lianka_cases_submitted",
            "Reports submitted through this process.",
            registry=self.registry,
        )
        self.sweep_seconds = Histogram(
            "lianka_sweep_duration_seconds",
            "Duration of one run of the deadline-sweep job (its sweeps, one after the other).",
            buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
            registry=self.registry,
        )
        self.outbox_depth = Gauge(
            "lianka_outbox_depth",
            "Notifications waiting to be sent (all instances).",
            registry=self.registry,
        )
        self.webhook_refused = Counter(
            "lianka_webhook_refused",
            "Webhook requests refused for a missing or wrong secret token.",
            registry=self.registry,
        )

    def watch_sender(self, stats: SenderStats) -> None:
        """Expose the sender's counts of sent and failed messages."""
        self.registry.register(_SenderCollector(stats))

    async def render(self, sessions: SessionFactory) -> bytes:
        """The exposition text, with the outbox depth read from the database now."""
        async with sessions() as session:
            depth = (
                await session.exec(
                    select(func.count())
                    .select_from(Notification)
                    .where(
                        col(Notification.channel) == Channel.TELEGRAM,
                        col(Notification.status).in_(
                            (NotificationStatus.PENDING, NotificationStatus.SENDING)
                        ),
                    )
                )
            ).one()
        self.outbox_depth.set(int(depth))
        return generate_latest(self.registry)


class _SenderCollector(Collector):
    def __init__(self, stats: SenderStats) -> None:
        self._stats = stats

    def collect(self) -> Iterator[Metric]:
        sent = CounterMetricFamily("lianka_messages_sent", "Messages delivered by this process.")
        sent.add_metric([], self._stats.sent)
        yield sent
        failures = CounterMetricFamily(
            "lianka_send_failures",
            "Send attempts that failed, by outcome: retried later, given up, or blocked (403).",
            labels=["outcome"],
        )
        failures.add_metric(["retried"], self._stats.retried)
        failures.add_metric(["failed"], self._stats.failed)
        failures.add_metric(["undeliverable"], self._stats.undeliverable)
        yield failures
        resent = CounterMetricFamily(
            "lianka_messages_resent_unknown",
            "Messages sent again because a sender stopped with their request in flight "
            "(Telegram may show them twice).",
        )
        resent.add_metric([], self._stats.resent_unknown)
        yield resent
