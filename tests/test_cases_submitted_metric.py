"""``lianka_cases_submitted`` counts every new case once, whichever channel it came through: the
use case both channels call (``submit_case``) counts it, so a web report counts like a chat
report and a 确认提交 sent twice counts once."""

from __future__ import annotations

from pathlib import Path

from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer
from sqlmodel import select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.metrics import Metrics
from bot.services.intake import submit_case
from bot.services.policy import Policy
from bot.settings import Settings
from bot.web_app import web_channel
from models.calendar import WorkCalendar
from models.case import Case
from models.intake import CaseDraft
from models.org import Category
from tests.casework import REFUND
from tests.factories import make_reporter
from tests.intake_helpers import make_card
from tests.test_web_report import BOT, SECRET, Browser
from web.channel import MIDDLEWARES, add_web_channel


def submitted(metrics: Metrics) -> float:
    value = metrics.registry.get_sample_value("lianka_cases_submitted_total")
    return value or 0.0


async def test_a_chat_report_counts_once_even_when_confirmed_twice(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    metrics = Metrics()
    draft = CaseDraft(category_code="business_env", description=REFUND)
    async with sessions() as session:
        reporter = await make_reporter(session, clock.now())
        for _ in range(2):
            await submit_case(
                session,
                reporter,
                draft,
                policy=Policy(catalog, calendar),
                now=clock.now(),
                draft_id="d1",
                counted=metrics.cases_submitted,
            )
    assert submitted(metrics) == 1.0


async def test_a_web_report_counts_in_the_same_metric_once(
    sessions: SessionFactory, catalog: LiankaConfig, clock: FrozenClock, tmp_path: Path
) -> None:
    metrics = Metrics()
    async with sessions() as session:
        await make_card(session, clock.now())
        categories = (await session.exec(select(Category))).all()
    refund = next(c for c in categories if c.code == "business_env")
    settings = Settings(_env_file=None, bot_username=BOT, web_secret=SECRET, var_dir=tmp_path)
    app = web.Application(middlewares=MIDDLEWARES)
    add_web_channel(
        app,
        web_channel(settings, catalog, sessions, clock, cases_submitted=metrics.cases_submitted),
    )
    async with TestClient(TestServer(app)) as client:
        browser = Browser(client)
        summary = await browser.through_to_summary(refund)
        await browser.send("submit")
        assert browser.status == 200 and submitted(metrics) == 1.0
        await browser.send("submit", form=summary)  # the same 确认提交 again
    async with sessions() as session:
        assert len((await session.exec(select(Case))).all()) == 1
    assert submitted(metrics) == 1.0
