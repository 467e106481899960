"""Submitting a report: the case, its number, history, clocks, routing and notices, at once."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.services.clocks import get_clock, start_ladder_clock
from bot.services.policy import Policy
from bot.services.repeats import flag_repeat
from bot.services.routing import Deciders, route_case
from models import keys
from models.anonymity import confidential
from models.calendar import SHANGHAI
from models.case import Case, CaseCounter, format_case_number, link_reporter, submitted_case
from models.clock import ClockKind
from models.enterprise import Enterprise
from models.errors import InvalidInput, NotFound
from models.event import material_ref, submitted
from models.intake import EVIDENCE_MAX, CaseDraft, check_description, reporter_file
from models.org import Category, Zone
from models.reporter import (
    Reporter,
    needs_receipt,
    new_receipt_code,
    receipt_hash,
    sealed_contact,
)
from models.search import indexed


@dataclass(frozen=True, slots=True)
class Submitted:
    """What the reporter is told on submission."""

    case: Case
    receipt_code: str | None  # anonymous reports only; shown once, stored hashed
    accept_due_at: datetime  # "将于…前受理": the 受理告知 deadline, which 签收 meets (DESIGN.md)
    accept_provisional: bool
    duplicate: bool = False  # the same draft was submitted before (a re-delivered update)
    renewed: bool = False  # a new receipt code for a case submitted before: the earlier one is void


async def next_case_number(session: AsyncSession, prefix: str, year: int) -> str:
    """The next number of the year, atomically (an upsert that returns the new counter)."""
    dialect = session.bind.dialect.name if session.bind is not None else "sqlite"
    table = CaseCounter.__table__  # type: ignore[attr-defined]
    insert = postgresql.insert(table) if dialect == "postgresql" else sqlite.insert(table)
    statement = (
        insert.values(prefix=prefix, year=year, last=1)
        .on_conflict_do_update(index_elements=["prefix", "year"], set_={"last": table.c.last + 1})
        .returning(table.c.last)
    )
    seq = (await session.exec(statement)).scalar_one()
    return format_case_number(prefix, year, int(seq))


class Counter(Protocol):
    """What counts the cases submitted (``Metrics.cases_submitted``, a Prometheus counter)."""

    def inc(self, amount: float = 1) -> None: ...


async def submit_case(
    session: AsyncSession,
    reporter: Reporter,
    draft: CaseDraft,
    *,
    policy: Policy,
    now: datetime,
    draft_id: str | None = None,
    counted: Counter | None = None,
    prompted_by: Case | None = None,
    commit: bool = True,
) -> Submitted:
    """One transaction: number, case, first event, contact, evidence, clocks, routing, notices.
    A draft submitted twice (same ``draft_id``) yields the first case again, not a second one.
    A new case is ``counted`` (``lianka_cases_submitted``), whichever channel sent it. A clue
    opened at 防打击报复回访 names the case that ``prompted_by`` it, and its caller, whose
    transaction it joins (``commit=False``), commits."""
    assert reporter.id is not None
    key = _submission_key(reporter, draft_id) if draft_id else None
    existing, category, enterprise, zone = await _earlier_and_more(
        session, key, draft.category_code, reporter
    )
    if existing is not None:
        return await _duplicate(session, existing, now)
    if category is None or not category.active:
        raise NotFound("该监督事项已停用，请重新选择。")
    description = check_description(draft.description)
    if len(draft.evidence) > EVIDENCE_MAX:
        raise InvalidInput(f"最多上传{EVIDENCE_MAX}个附件。")
    if not draft.anonymous and not (draft.contact_name and draft.contact_phone):
        raise InvalidInput("实名反映需要填写姓名和手机号码。")

    receipt_code = (
        new_receipt_code() if needs_receipt(reporter, anonymous=draft.anonymous) else None
    )
    number = await next_case_number(
        session, policy.config.organisation.case_prefix, now.astimezone(SHANGHAI).year
    )
    case = submitted_case(
        reporter,
        number=number,
        track=category.track,
        category_id=category.id or 0,
        anonymous=draft.anonymous,
        receipt_hash=receipt_hash(receipt_code) if receipt_code else None,
        submission_key=key,
        description=description,
        amount_yuan=draft.amount_yuan,
        now=now,
    )
    case.prompted_by_id = prompted_by.id if prompted_by is not None else None
    session.add(case)
    await session.flush()
    assert case.id is not None
    # nothing read from here on is a row written here: the writes go out in two flushes (routing's
    # and the commit's), not one before each read
    with session.no_autoflush:
        if draft.anonymous:
            link_reporter(case, reporter.id)
        session.add(
            submitted(
                case,
                now,
                evidence=len(draft.evidence),
                materials=[material_ref(item) for item in draft.evidence],
                contact=None
                if draft.anonymous
                else (draft.contact_name or "", draft.contact_phone or ""),
            )
        )
        assert zone is None or zone.id == case.zone_id  # held: routing finds it in the session
        session.add(indexed(case, enterprise.name if enterprise else None))
        if not draft.anonymous:
            assert draft.contact_name is not None and draft.contact_phone is not None
            session.add(sealed_contact(case.id, name=draft.contact_name, phone=draft.contact_phone))
        for item in draft.evidence:
            session.add(reporter_file(case.id, item, now, keep_name=not confidential(case)))
        accept = await start_ladder_clock(
            session,
            case,
            ClockKind.FIRST_REPLY,
            config=policy.config,
            calendar=policy.calendar,
            now=now,
            new=True,
        )  # routing and the repeat check start and stop other clocks, never this one
        deciders = Deciders()  # the team's leaders, looked up once for routing and 疑似重复件
        await route_case(session, case, policy=policy, now=now, new=True, deciders=deciders)
        await flag_repeat(session, case, policy.config.repeats, now, deciders=deciders)
    if commit:
        await session.commit()
    if counted is not None:
        counted.inc()
    return Submitted(case, receipt_code, accept.due_at, accept.provisional)


async def _earlier_and_more(
    session: AsyncSession, key: str | None, category_code: str, reporter: Reporter
) -> tuple[Case | None, Category | None, Enterprise | None, Zone | None]:
    """In one statement (a row of nothing joined to each): the case a draft already became (by
    its submission ``key``, if it has one), the draft's category, and the enterprise and zone
    the case will have (the reporter's: the search index names the enterprise, routing reads
    the zone)."""
    nothing = sa.select(sa.literal(1).label("one")).subquery()
    earlier = col(Case.submission_key) == key if key is not None else sa.false()
    enterprise_id, zone_id = reporter.enterprise_id, reporter.zone_id
    row = (
        await session.exec(
            select(Case, Category, Enterprise, Zone)
            .select_from(nothing)
            .outerjoin(Case, earlier)
            .outerjoin(Category, col(Category.code) == category_code)
            .outerjoin(
                Enterprise,
                col(Enterprise.id) == enterprise_id if enterprise_id is not None else sa.false(),
            )
            .outerjoin(Zone, col(Zone.id) == zone_id if zone_id is not None else sa.false())
        )
    ).first()
    return (row[0], row[1], row[2], row[3]) if row is not None else (None, None, None, None)


def _submission_key(reporter: Reporter, draft_id: str) -> str:
    """Keyed, so an anonymous case's row does not name its reporter (migration 0015 re-keys the
    plain ``"<reporter id>:<draft id>"`` of older rows the same way)."""
    return keys.current().keyed_hash("submission", f"{reporter.id}:{draft_id}")


async def _duplicate(session: AsyncSession, existing: Case, now: datetime) -> Submitted:
    """What the reporter is told of a draft submitted before: its case, no receipt code."""
    accept = await get_clock(session, existing.id or 0, ClockKind.FIRST_REPLY)
    return Submitted(
        existing,
        None,
        accept.due_at if accept else now,
        accept.provisional if accept else False,
        duplicate=True,
    )


async def confirm_again(
    session: AsyncSession,
    reporter: Reporter,
    draft_id: str,
    now: datetime,
    *,
    shown: str | None = None,
    commit: bool = True,
) -> Submitted | None:
    """The confirmation of a submitted draft, for a reporter a crash (or, on the web, a double
    tap) may have left without it. Only a receipt code's hash is kept, so a case that has a code
    (anonymous, or made on the web) gets a fresh one (``renewed``): the first one was never
    shown, or is void from now on (accounts that already follow the case keep following) —
    unless the caller kept the code it showed moments ago (``shown``, the web's double tap) and
    it still opens the case: then that one, as it is. ``commit=False``: the caller, which writes
    the new code somewhere of its own in the same transaction, commits."""
    assert reporter.id is not None
    key = _submission_key(reporter, draft_id)
    case = (await session.exec(select(Case).where(Case.submission_key == key))).first()
    if case is None:
        return None
    receipt_code: str | None
    if shown is not None and case.receipt_hash == receipt_hash(shown):
        receipt_code, renewed = shown, False
    else:
        receipt_code = (
            new_receipt_code() if needs_receipt(reporter, anonymous=case.anonymous) else None
        )
        renewed = receipt_code is not None
        if receipt_code is not None:
            case.receipt_hash = receipt_hash(receipt_code)
            case.updated_at = now
            session.add(case)
    accept = await get_clock(session, case.id or 0, ClockKind.FIRST_REPLY)
    if commit:
        await session.commit()
    return Submitted(
        case,
        receipt_code,
        accept.due_at if accept else now,
        accept.provisional if accept else False,
        renewed=renewed,
    )
