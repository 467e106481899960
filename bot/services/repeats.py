"""重复件: a new report of a matter already before the commission.

At intake (the chat's and the web's, both through ``intake.submit_case``) a new case is compared
with the open cases and those reported within ``[repeats] window_days``, of its own track:

- an appeal from the same enterprise in the same category is a repeat;
- otherwise, a case in the same zone whose description is alike — the Jaccard index of the two
  descriptions' character bigrams (``models.search.tokens``) at least ``[repeats] similarity``.

Nothing about the reporter counts: an anonymous report is never matched by who sent it, so a
link never tells staff that two anonymous reports came from one person. A clue is compared by
its text only, and only with the clues of its own team (a clue's enterprise is hidden from its
handlers, and another team's clue is not theirs to know of). A clue opened at 防打击报复回访
(``prompted_by_id``) is never flagged nor offered as the earlier case: each one opens with the
same sentence, and one reporter's retaliation must never be merged into another's.

The repeat is flagged (``repeat_of_id``, a 疑似重复件 event) and its assignee, or its team's
leaders while nobody has it, told "疑似重复件，关联 <number>"; the assignee or a team leader may
merge it into the earlier case of the same team (合并办理): the repeat closes, its report becomes
a progress record of the earlier case, and its reporter is told which 受理编号 carries it now.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from functools import cache, lru_cache
from typing import Any

import sqlalchemy as sa
from sqlalchemy import ColumnElement, and_, func
from sqlmodel import col, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from bot.config import RepeatsConfig
from bot.services.clue_lapse import LAPSE_MERGED, lapse_proposals
from bot.services.notices import tell_inspectors, tell_reporter
from bot.services.permissions import actor_of, load_case, moved_on, works_on
from bot.services.rectification import lapse_rectification
from bot.services.relay import cancel_open_questions
from bot.services.requests import cancel_pending
from bot.services.routing import Deciders
from models.attachment import Attachment
from models.case import OPEN_STATUSES, Case, CaseStatus
from models.clock import CaseClock
from models.errors import InvalidInput, PermissionDenied
from models.event import SYSTEM, EventKind, record_event
from models.notification import Offer
from models.org import Track
from models.search import BREAK, tokens
from models.team import Inspector, Role
from models.types import utc
from notifications.texts import preview
from reports.counts import RepeatCounts as RepeatCounts  # counted there, as the report does
from reports.counts import repeat_counts as repeat_counts

CANDIDATES_MAX = 300
"""The most recent cases compared by text (a busy zone's older cases fall out first)."""

MERGEABLE = OPEN_STATUSES - {CaseStatus.REOPENED}
"""A repeat may be merged while it is open and has not been through a 办结 of its own."""


@lru_cache(maxsize=512)
def shingles(text: str) -> frozenset[str]:
    """The character bigrams (and ASCII words) of a description. Kept for the texts seen
    last (more than one comparison's ``CANDIDATES_MAX``): every report in a zone is compared
    with the same recent cases, whose descriptions would otherwise be cut into bigrams again at
    each submission. The text is the key, so a kept set is always the text's own."""
    return frozenset(token for token in tokens(text) if token != BREAK)


def similarity(a: str, b: str) -> float:
    """The Jaccard index of two descriptions' bigrams: 1.0 the same words, 0.0 nothing shared."""
    return _jaccard(shingles(a), shingles(b))


def _jaccard(left: frozenset[str], right: frozenset[str]) -> float:
    if not left or not right:
        return 0.0
    shared = len(left & right)
    return shared / (len(left) + len(right) - shared)  # |A ∪ B| without building it


@dataclass(frozen=True, slots=True)
class Earlier:
    """What the repeat check tells of the earlier case: enough to link, name and offer it."""

    id: int
    number: str
    status: CaseStatus
    team_id: int | None


@dataclass(frozen=True, slots=True)
class Match:
    earlier: Earlier
    reason: str  # "enterprise": same enterprise and category; "text": alike descriptions
    score: float


def _scope(case: Case) -> tuple[bool, str | None, dict[str, Any]]:
    """Where the earlier case may be: whether among the same enterprise's cases of the same
    category (an appeal's, whatever its zone), which column the cases compared by text share with
    it (the clue's team, or the zone; None if it has none), and the values the two look for."""
    same = case.track is Track.APPEAL and case.enterprise_id is not None
    values: dict[str, Any] = {}
    if same:
        values.update(enterprise_id=case.enterprise_id, category_id=case.category_id)
    by_text = "team_id" if case.track is Track.CLUE else "zone_id"
    if getattr(case, by_text) is None:
        return same, None, values
    values[by_text] = getattr(case, by_text)
    return same, by_text, values


async def find_earlier(
    session: AsyncSession, case: Case, rules: RepeatsConfig, now: datetime
) -> Match | None:
    """The case this one most likely repeats, or None. One statement: the newest of the same
    enterprise's cases first (it is the match), then the newest of the text's scope, each with
    what a match needs (its description, number, status and team, no whole case). Each part is
    ordered and limited on its own, so that each reads its index newest first and stops: a
    zone's tens of thousands of cases are not read and sorted for every submission."""
    same, by_text, values = _scope(case)
    if not same and by_text is None:
        return None
    since = utc(now) - timedelta(days=rules.window_days)
    # not itself (an id not yet given matches no case: ids start at 1)
    values.update(case_id=case.id or 0, track=case.track, since=since)
    rows = await (await session.connection()).execute(_earlier_statement(same, by_text), values)
    best: tuple[Any, float] | None = None
    own = shingles(case.description)  # once, not once per earlier case
    for row in rows.all():
        if row.same:
            return Match(_earlier(row), "enterprise", 1.0)
        score = _jaccard(own, shingles(row.description))
        if score >= rules.similarity and (best is None or score > best[1]):
            best = (row, score)
    return None if best is None else Match(_earlier(best[0]), "text", best[1])


@cache
def _earlier_statement(same: bool, by_text: str | None) -> sa.Select[Any]:
    """``find_earlier``'s statement for a scope, built once (there are four) and run with the
    case's values as parameters: building it afresh cost more than running it (a tenth of the
    intake's own time in ``bench/intake_bench.py``'s profile)."""
    parts = []
    if same:
        scope = and_(
            col(Case.enterprise_id) == sa.bindparam("enterprise_id"),
            col(Case.category_id) == sa.bindparam("category_id"),
        )
        parts.append(_candidates(scope, limit=1, is_same=True))
    if by_text is not None:
        scope = Case.__table__.c[by_text] == sa.bindparam(by_text)  # type: ignore[attr-defined]
        parts.append(_candidates(scope, limit=CANDIDATES_MAX, is_same=False))
    if len(parts) == 1:
        return parts[0]
    both = sa.union_all(*(sa.select(part.subquery()) for part in parts)).subquery()
    return sa.select(both).order_by(both.c.same.desc(), both.c.created_at.desc(), both.c.id.desc())


def _candidates(
    scope: ColumnElement[bool], *, limit: int, is_same: bool
) -> sa.Select[*tuple[Any, ...]]:
    """The newest ``limit`` cases of ``scope`` that the case (``case_id``) may repeat."""
    return (
        sa.select(
            col(Case.id),
            col(Case.description),
            col(Case.number),
            col(Case.status),
            col(Case.team_id),
            col(Case.created_at),
            sa.literal(1 if is_same else 0).label("same"),
        )
        .where(
            col(Case.id) != sa.bindparam("case_id"),
            col(Case.track) == sa.bindparam("track"),
            col(Case.merged_into_id).is_(None),
            col(Case.prompted_by_id).is_(None),  # a 防打击报复回访 clue is never the earlier case
            col(Case.status) != CaseStatus.WITHDRAWN,
            or_(col(Case.status).in_(OPEN_STATUSES), col(Case.created_at) >= sa.bindparam("since")),
            scope,
        )
        .order_by(col(Case.created_at).desc(), col(Case.id).desc())
        .limit(limit)
    )


def _earlier(row: Any) -> Earlier:
    return Earlier(row.id, row.number, CaseStatus(row.status), row.team_id)


async def flag_repeat(
    session: AsyncSession,
    case: Case,
    rules: RepeatsConfig,
    now: datetime,
    *,
    deciders: Deciders | None = None,
) -> Match | None:
    """At intake, once the case is routed: link it to the case it repeats, record why, and tell
    whoever has it (its team leaders while nobody does: ``deciders``, those routing found).
    Flushes nothing the caller must not commit; the caller commits with the submission."""
    if not rules.enabled or case.prompted_by_id is not None:
        return None  # a 防打击报复回访 clue: its fixed opening is alike in every one of them
    match = await find_earlier(session, case, rules, now)
    if match is None:
        return None
    assert case.id is not None
    earlier = match.earlier
    case.repeat_of_id = earlier.id
    event = record_event(
        case,
        EventKind.REPEAT_FLAGGED,
        SYSTEM,
        now,
        data={"of": earlier.number, "reason": match.reason, "score": round(match.score, 2)},
    )
    session.add_all([case, event])
    if case.assignee_id is not None:
        person = await session.get(Inspector, case.assignee_id)
        people = [person] if person is not None else []
    else:
        people = await (deciders or Deciders()).of(session, case.team_id, case.track)
    mergeable = earlier.team_id == case.team_id and earlier.status in OPEN_STATUSES
    await tell_inspectors(
        session,
        case,
        people,
        "inspector_repeat",
        stage=event.seq,
        now=now,
        offer=Offer.REPEAT_MERGE.on(case.id) if mergeable else Offer.CASE_MATERIALS.on(case.id),
        earlier=earlier.number,
        earlier_status=earlier.status.label,
        reason="同一企业反映的同类问题" if match.reason == "enterprise" else "反映内容相近",
        mergeable=mergeable,
    )
    return match


def in_team(actor: Inspector, case: Case) -> bool:
    """The case's assignee, or a team leader of its team."""
    leader = actor.role is Role.TEAM_LEADER and case.team_id is not None
    return works_on(actor, case) or (leader and actor.team_id == case.team_id)


def may_merge(actor: Inspector, case: Case) -> bool:
    """合并办理: the repeat's assignee or a team leader of its team, while it is open."""
    return in_team(actor, case) and case.repeat_of_id is not None and case.status in MERGEABLE


@dataclass(frozen=True, slots=True)
class Merged:
    case: Case  # the repeat, closed
    into: Case  # the earlier case that carries it now


async def _check_merge(session: AsyncSession, actor: Inspector, case: Case) -> Case:
    """The earlier case the repeat may be merged into, or the refusal."""
    if not in_team(actor, case):
        raise PermissionDenied(
            "只有承办人或本组组长可以合并办理。",
            detail=f"case {case.id}: inspector {actor.id} may not merge it",
        )
    if case.repeat_of_id is None:
        raise InvalidInput(f"问题 {case.number} 未关联其他问题，无法合并办理。")
    if case.status not in MERGEABLE:
        raise moved_on(case, "合并办理")
    earlier = await load_case(session, case.repeat_of_id)
    if earlier.team_id != case.team_id:
        raise InvalidInput(f"关联问题 {earlier.number} 由其他组办理，请联系该组，不能在此合并。")
    if earlier.status not in OPEN_STATUSES or earlier.merged_into_id is not None:
        raise InvalidInput(f"关联问题 {earlier.number} 已办结，不能合并，请作为新问题办理。")
    return earlier


async def _lapse_open_work(session: AsyncSession, case: Case, now: datetime) -> None:
    """The merged repeat's open work lapses with it: questions to its reporter, requests waiting
    for a decision (延期, 退回, 撤回, 办结审核 …) and a clue's disposition proposals."""
    assert case.id is not None
    assert case.id is not None
    await cancel_open_questions(session, case.id)
    await cancel_pending(session, case.id, now=now, why="已合并办理")
    await lapse_proposals(session, case, why=LAPSE_MERGED, now=now)
    await lapse_rectification(session, case, now, why="已合并办理")


async def merge_repeat(
    session: AsyncSession, actor: Inspector, case_id: int, *, now: datetime
) -> Merged:
    """合并办理: the repeat closes (its clocks stop), its description and the count of its
    materials go into the earlier case's history as a progress record, the earlier case's
    assignee is told, and the repeat's reporter is told — through ``tell_reporter``, which keeps
    the anonymous rules — which 受理编号 carries the matter now."""
    case = await load_case(session, case_id)
    earlier = await _check_merge(session, actor, case)
    assert case.id is not None and earlier.id is not None
    materials = (
        await session.exec(
            select(func.count()).select_from(Attachment).where(Attachment.case_id == case.id)
        )
    ).one()
    from_status = case.status
    case.status = CaseStatus.CLOSED  # 合并办理 closes a repeat at any open step
    case.closed_at = now
    case.merged_into_id = earlier.id
    closed = record_event(
        case,
        EventKind.MERGED,
        actor_of(actor),
        now,
        note=f"已并入受理编号 {earlier.number} 一并办理",
        data={"into": earlier.number},
        public=True,
        from_status=from_status,
        to_status=CaseStatus.CLOSED,
    )
    record = record_event(
        earlier,
        EventKind.PROGRESS,
        actor_of(actor),
        now,
        note=f"重复件 {case.number} 合并办理，反映内容：{case.description}"
        + (f"（附材料{materials}件，见 {case.number}）" if materials else ""),
        data={"merged_from": case.number, "materials": materials},
    )
    clocks = await session.exec(select(CaseClock).where(CaseClock.case_id == case.id))
    for clock in clocks.all():
        if clock.cancel():
            session.add(clock)
    await _lapse_open_work(session, case, now)
    session.add_all([case, closed, earlier, record])
    await tell_reporter(
        session, case, "reporter_merged", stage=closed.seq, now=now, into=earlier.number
    )
    if earlier.assignee_id is not None and earlier.assignee_id != actor.id:
        holder = await session.get(Inspector, earlier.assignee_id)
        await tell_inspectors(
            session,
            earlier,
            [holder] if holder is not None else [],
            "inspector_merged_in",
            stage=record.seq,
            now=now,
            offer=Offer.CASE_MATERIALS.on(earlier.id),
            repeat=case.number,
            description=preview(case.description, 300),
            materials=materials,
        )
    await session.commit()
    return Merged(case, earlier)
