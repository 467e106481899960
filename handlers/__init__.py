"""Telegram presentation: routers by journey. A handler parses, calls one use case, renders."""

from __future__ import annotations

from aiogram import Router

from handlers import (
    admin,
    aftercare,
    assist,
    clue,
    errors,
    followup,
    inspector,
    intake,
    leader,
    my_cases,
    rectification,
    registration,
    relay,
    reports,
    start,
    supervision,
)


def routers() -> list[Router]:
    """Fresh routers for one dispatcher, in the order updates should try them.

    The draft's buttons come first (``intake.setup_buttons``: callback data nobody else claims).
    Then the inspectors' side: ``registration`` claims ``/start i_<code>`` before the reporters'
    ``/start``; its conversations (the inspector's steps, the reporter's 回复) take only their
    own states, and their ``/cancel`` only in those states.
    """
    return [
        errors.setup(),
        intake.setup_buttons(),  # the intake's own callback data: nobody else claims it
        registration.setup(),
        relay.setup(),
        clue.setup(),  # before inspector: 办结 on a clue is 提出处置意见
        inspector.setup(),
        leader.setup(),
        supervision.setup(),
        assist.setup(),
        rectification.setup(),  # 反馈整改 · 核验整改 on the case card
        admin.setup(),
        reports.setup(),  # before intake: a leader's /report is the analysis report
        start.setup(),
        my_cases.setup(),
        followup.setup(),
        aftercare.setup(),  # 防打击报复回访: its description step before the intake's text
        clue.setup_reporter(),  # a clue reporter's 异议, before the intake takes any text
        intake.setup(),  # after the commands: its steps take any text
        start.setup_fallback(),  # keep last: what no journey claimed
    ]
