"""The bulk path: ``submit_case`` and the steps mirrored in memory, inserted in batches."""

from __future__ import annotations

import asyncio
import hashlib
import math
import multiprocessing
import secrets
from collections import Counter, defaultdict
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa

from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.case_notices import assigned_notice, waiting_notice
from bot.services.routing import FIRST_TEAM_REASON, RECUSED, routed_reason
from demo import chain
from demo.calendar import RememberingCalendar
from demo.parallel import Beside, write_in_parallel
from demo.plan import CasePlan, Plan, Routes
from demo.rows import Batch, Taken, plain, table_of, write
from demo.search import case_document
from demo.steps import STEPS, Ledger, Row, ladder_of, ladders
from demo.world import World
from models import keys
from models.calendar import SHANGHAI, WorkCalendar
from models.case import (
    OPEN_STATUSES,
    Case,
    CaseCounter,
    CaseStatus,
    link_reporter,
    reporter_of,
    submission,
)
from models.case import format_case_number as case_number
from models.clock import CaseClock, ClockKind
from models.disposition import ClueDisposition
from models.event import (
    SYSTEM,
    Actor,
    ActorType,
    CaseEvent,
    EventKind,
)
from models.notification import (
    Notice,
    Notification,
    NotificationStatus,
    Offer,
    Offering,
    Recipient,
    work_offer,
)
from models.org import Track
from models.rectification import Rectification, RectificationState
from models.reporter import (
    RECEIPT_ALPHABET,
    RECEIPT_LENGTH,
    Reporter,
    ReporterContact,
    contact_context,
    phone_index,
    rekey_receipt_digest,
)
from models.request import ApprovalRequest
from models.routing import Candidate, RoutingDecision, pick_assignee
from models.search import CaseSearch
from models.team import AssignmentMode, Inspector, Role
from models.types import utc
from notifications.outbox import queued

BATCH = 10_000
"""Cases a batch: their rows are written in one transaction, then forgotten."""
YIELD_EVERY = 50
"""Cases worked out between two turns of the event loop, in which the batch before moves on
to the database."""

PlainClock = plain(CaseClock)
"""A clock of the bulk path: ``CaseClock``'s own methods on a plain object."""
PLAIN: dict[Any, Any] = {m: plain(m) for m in (ApprovalRequest, ClueDisposition, Rectification)}
"""What the steps make new rows of on the bulk path (``Ledger.made``)."""
PlainCase = plain(Case)
"""A case of the bulk path: its columns on a plain object, which the steps change as they
change a ``Case``."""


PlainContact = plain(ReporterContact)

_CODES = len(RECEIPT_ALPHABET) ** RECEIPT_LENGTH


def receipt_code() -> str:
    """A fresh receipt code as ``new_receipt_code`` makes it (12 characters of its alphabet, each
    drawn alike by ``secrets``), in its canonical form, without the dashes: one draw of a number
    below 31¹², written in base 31, instead of twelve ``secrets.choice``."""
    number, alphabet, base = secrets.randbelow(_CODES), RECEIPT_ALPHABET, len(RECEIPT_ALPHABET)
    digits = []
    for _ in range(RECEIPT_LENGTH):
        number, digit = divmod(number, base)
        digits.append(alphabet[digit])
    return "".join(digits)


def new_receipt_hash() -> str:
    """``receipt_hash(new_receipt_code())`` (the code itself is shown to no one here): the code
    drawn by ``receipt_code``, already canonical (what ``receipt_digest`` hashes)."""
    digest = hashlib.sha256(receipt_code().encode("ascii")).hexdigest()
    return rekey_receipt_digest(digest)


DRY_TIME = datetime(2000, 1, 1, tzinfo=UTC)


def sealed(case_id: int, *, name: str, phone: str) -> ReporterContact:
    """``sealed_contact``'s row, on a plain object."""
    ring = keys.current()
    contact: ReporterContact = PlainContact(
        case_id=case_id,
        name=ring.seal(name, context=contact_context("name", case_id)),
        phone=ring.seal(phone, context=contact_context("phone", case_id)),
        phone_index=phone_index(phone),
    )
    return contact


class MemoryLedger(Ledger):
    """The same steps in memory, and ``submit_case`` mirrored, for inserting in batches."""

    def __init__(
        self,
        config: LiankaConfig,
        calendar: WorkCalendar,
        world: World,
        *,
        next_case_id: int,
        referenced: frozenset[str],
        sent_until: datetime | None = None,
    ) -> None:
        self.config = config
        self.sent_until = sent_until
        """Notices queued until then are written as sent (``generate_demo`` marks them so)."""
        self.calendar = (
            calendar
            if isinstance(calendar, RememberingCalendar)
            else RememberingCalendar.of(calendar)
        )
        self.world = world
        self.category_codes = world.category_codes
        self.ladders = ladders(config, world.category_codes)
        self.warn_before = config.deadlines.warn_before
        self.next_case_id = next_case_id
        self.referenced = referenced
        self.counters: dict[int, int] = defaultdict(int)
        self.open_cases: Counter[int] = Counter()
        self.clocks: dict[tuple[int, ClockKind], CaseClock] = {}
        self.batch = Batch(TABLE_ORDER)
        self._event, self._clock, self._notification, self._case, self._search = (
            self.batch.adder(m) for m in (CaseEvent, CaseClock, Notification, Case, CaseSearch)
        )  # (what a case adds most, each list looked up once)
        # who is in which team does not change during the history
        self.members = {t: world.members(t) for t in world.teams}
        self.leaders = {t: world.team_leaders(t) for t in world.teams}
        self.proposals: dict[int, list[ClueDisposition]] = defaultdict(list)
        self.last_disposition_id = 0
        # 受理编号 → id of the cases a later one names (重复件, a 防打击报复回访 clue's first case)
        self.case_ids: dict[str, int] = {}
        self.cases: dict[int, Case] = {}  # id → case, for a 防打击报复回访 clue's first case
        self.reporters = {r.id: r for r in world.reporters if r.id is not None}
        self.rectifications: dict[int, list[Rectification]] = defaultdict(list)
        self.case_reporters: dict[int, int] = {}  # case id → reporter id, of the batch
        self.routes = Routes(config)  # the routing decisions, each worked out once
        self.dry = False
        """Only what later cases depend on (statuses, assignees, who was assigned when, the
        numbers and ids given): no rows, no events, no hashes, no deadlines (``demo.parallel``)."""
        self._dry_clock: CaseClock = PlainClock.new(
            case_id=0, kind=ClockKind.ACCEPT, started_at=DRY_TIME, workdays=0, due_at=DRY_TIME
        )
        """What ``start_clock`` gives a dry pass: the steps read a deadline off it, into
        values no one keeps."""

    def add(self, row: Any) -> None:
        if not self.dry:
            self.batch.add(type(row), row)

    def made(self, model: type[Row]) -> type[Row]:
        made: type[Row] = PLAIN[model]
        return made

    def keep_event(self, values: dict[str, Any]) -> None:
        if not self.dry:
            self._event(values)

    def record(
        self,
        case: Case,
        kind: EventKind,
        actor: Actor,
        at: datetime,
        *,
        note: str | None = None,
        data: dict[str, Any] | None = None,
        public: bool = False,
        from_status: CaseStatus | None = None,
        to_status: CaseStatus | None = None,
    ) -> None:
        """``Ledger.record``, chained by ``demo.chain`` (the same values, sooner)."""
        if self.dry:
            return
        self._event(chain.chained(
            case, kind, actor, at, note=note, data=data, public=public,
            from_status=from_status, to_status=to_status,
        ))  # fmt: skip

    def move(
        self,
        case: Case,
        target: CaseStatus,
        kind: EventKind,
        actor: Actor,
        at: datetime,
        *,
        note: str | None = None,
        data: dict[str, Any] | None = None,
        public: bool = False,
    ) -> None:
        """``Ledger.move``, chained by ``demo.chain``."""
        if self.dry:
            chain.move(case, target)
            return
        self._event(chain.moved(
            case, target, kind, actor, at, note=note, data=data, public=public
        ))  # fmt: skip

    async def start_clock(
        self,
        case: Case,
        kind: ClockKind,
        workdays: int,
        at: datetime,
        *,
        warn_before: int | None = None,
    ) -> CaseClock:
        assert case.id is not None
        warn = self.warn_before if warn_before is None else warn_before
        if self.dry:  # no later case depends on a deadline or a clock: none is worked out
            return self._dry_clock
        # ``CaseClock.start``, its deadline and warning remembered by the day (held equal by
        # tests/test_demo_shortcuts.py)
        deadline, warning = self.calendar.started(at, workdays, warn)
        key = (case.id, kind)
        clock = self.clocks.get(key)
        if clock is not None:
            clock.begin(at, workdays, deadline, warning)
            return clock
        # ``new_clock`` on a plain clock: what ``begin`` sets, the rest its defaults (running,
        # at the first stage, not extended, paused or met)
        made: CaseClock = PlainClock(
            case_id=case.id, kind=kind, started_at=at if at.tzinfo is UTC else utc(at),
            workdays=workdays, due_at=deadline.due_at, provisional=deadline.provisional,
            next_action_at=warning,
        )  # fmt: skip
        self.clocks[key] = made
        self._clock(made)
        return made

    async def get_clock(self, case: Case, kind: ClockKind) -> CaseClock | None:
        return self.clocks.get((case.id or 0, kind))

    async def reporter(self, case: Case) -> Reporter | None:
        """The reporter ``submit`` gave the case (what ``reporter_of`` opens its seal to)."""
        reporter_id = self.case_reporters.get(case.id or 0)
        if reporter_id is None:
            reporter_id = reporter_of(case)
        return self.reporters.get(reporter_id) if reporter_id is not None else None

    async def add_rectification(self, rectification: Rectification) -> None:
        self.rectifications[rectification.case_id].append(rectification)
        self.add(rectification)

    async def open_rectification(self, case: Case) -> Rectification | None:
        return next(
            (r for r in self.rectifications[case.id or 0] if r.state is RectificationState.OPEN),
            None,
        )

    async def add_disposition(self, proposal: ClueDisposition) -> None:
        """Numbered as the database numbers them (the demo starts on an empty table)."""
        self.last_disposition_id += 1
        proposal.id = self.last_disposition_id
        self.proposals[proposal.case_id].append(proposal)
        self.add(proposal)

    def dispositions(self, case: Case) -> list[ClueDisposition]:
        return self.proposals[case.id or 0]

    async def case_id(self, number: str) -> int:
        return self.case_ids[number]

    async def prompting(self, case: Case) -> Case | None:
        return self.cases.get(case.prompted_by_id) if case.prompted_by_id else None

    async def meet_clock(self, case: Case, kind: ClockKind, at: datetime) -> None:
        clock = self.clocks.get((case.id or 0, kind))
        if clock is not None:
            clock.meet(at)

    async def cancel_clock(self, case: Case, kind: ClockKind) -> None:
        clock = self.clocks.get((case.id or 0, kind))
        if clock is not None:
            clock.cancel()

    async def extend_clock(self, case: Case, kind: ClockKind, days: int, at: datetime) -> None:
        if self.dry:
            return
        self.clocks[(case.id or 0, kind)].extend(
            days, calendar=self.calendar, now=at, warn_before=self.warn_before
        )

    async def team_leader(self, team_id: int) -> Inspector:
        return self.leaders[team_id][0]

    async def team_inspectors(self, team_id: int) -> list[Inspector]:
        return self.members[team_id]

    async def leader(self) -> Inspector:
        return next(p for p in self.world.people if p.role is Role.LEADER)

    async def assign(self, case: Case, inspector: Inspector, at: datetime, actor: Actor) -> None:
        """``bot.services.routing.assign_case`` in memory: the same domain steps (``assign_to``,
        the 签收 clock, ``assigned_notice``), the notice kept as a row."""
        assert case.id is not None
        if self.dry:
            chain.assign(case, inspector, at)
        else:
            self._event(chain.assigned(case, inspector, actor, at))
        if case.status is CaseStatus.ASSIGNED:
            await self.start_clock(case, ClockKind.ACCEPT, ladder_of(self, case).accept, at)
        if self.dry:
            return
        world = self.world
        notice = assigned_notice(
            case,
            category=world.categories[case.category_id].name,
            zone=world.zones[case.zone_id].name if case.zone_id else None,
            enterprise=world.enterprises[case.enterprise_id or 0].name,
            accept=self.clocks[(case.id, ClockKind.ACCEPT)],
            attachments=0,
        )
        self._notify(
            case,
            inspector,
            kind="assigned",
            notice=notice,
            offer=work_offer(case.id, clue=case.track is Track.CLUE),
            at=at,
        )

    def _notify(
        self,
        case: Case,
        person: Inspector,
        *,
        kind: str,
        notice: Notice,
        offer: Offering,
        at: datetime,
    ) -> None:
        """A queued notice, as ``notifications.outbox.enqueue`` writes it."""
        if self.dry:
            return
        assert person.chat_id is not None
        row = queued(
            kind=kind,
            to=Recipient.inspector(person),
            case_id=case.id,
            stage=case.event_count,
            notice=notice,
            offer=offer,
            now=at,
        )
        row["params"] = chain.as_json(row["params"])  # encoded here, once, by the C encoder
        if self.sent_until is not None and row["created_at"] <= self.sent_until:
            # what ``generate_demo`` makes of it once written, written so at once
            row["status"], row["sent_at"] = NotificationStatus.SENT, row["created_at"]
        self._notification(row)

    async def submit(self, plan_case: CasePlan) -> Case:
        """``submit_case`` with ``route_case`` and ``place_case`` in memory, on the same domain
        steps (``submitted_case``, ``submitted``, ``route_to``, ``choose_team``, ``pick_assignee``)."""
        world, at, dry = self.world, plan_case.created_at, self.dry
        reporter = world.reporters[plan_case.enterprise]
        category = world.category_by_code[plan_case.category]
        year = at.astimezone(SHANGHAI).year
        self.counters[year] += 1
        anonymous = plan_case.contact is None
        case: Case = PlainCase.new(  # ``submitted_case``, on a plain case
            **submission(
                reporter,
                number=case_number(self.config.organisation.case_prefix, year, self.counters[year]),
                track=category.track,
                category_id=category.id or 0,
                anonymous=anonymous,
                receipt_hash=new_receipt_hash() if anonymous and not dry else None,
                submission_key=None,
                description=plan_case.description,
                amount_yuan=plan_case.amount_yuan,
                now=at,
            )
        )
        if plan_case.prompted_by is not None:  # a 有 at 防打击报复回访 opened it
            case.prompted_by_id = self.case_ids[plan_case.prompted_by]
        case.id = self.next_case_id
        self.next_case_id += 1
        if case.number in self.referenced:
            self.case_ids[case.number] = case.id
            self.cases[case.id] = case
        if anonymous and reporter.id is not None and not dry:  # (a dry pass finds the
            link_reporter(case, reporter.id)  # reporter by ``case_reporters``: no seal)
        if reporter.id is not None:
            self.case_reporters[case.id] = reporter.id
        if not dry:
            self._submitted(case, plan_case.contact)
        ladder = self.ladders[case.category_id]
        await self.start_clock(case, ClockKind.FIRST_REPLY, ladder.first_reply, at)
        if case.card_id is None:  # reported without a card: 信访室 routes by hand
            decision = RoutingDecision(self.config.dispatcher.code, None)
        else:
            decision = self.routes.decision(
                category.code,
                world.zones[case.zone_id].code if case.zone_id else None,
                case.description,
            )
        team = world.team_by_code[decision.team_code]
        first = await self.prompting(case)  # as route_case and place_case treat such a clue
        recused_from = team.name
        if first is not None and team.id == first.team_id and not team.is_dispatcher:
            decision = RoutingDecision(self.config.dispatcher.code, RECUSED)
            team = world.team_by_code[decision.team_code]
        if dry:
            chain.route(case, team, rule=decision.rule)
        else:
            self._event(chain.routed(case, team, rule=decision.rule, actor=SYSTEM, now=at))
        await self.start_clock(case, ClockKind.ACCEPT, ladder.accept, at)
        assert team.id is not None
        reason = routed_reason(decision.rule, recused_from)
        if first is not None and first.team_id == team.id:
            reason = FIRST_TEAM_REASON
        elif team.assignment is AssignmentMode.AUTO and not team.is_dispatcher:
            recused = first.assignee_id if first is not None else None
            members = [m for m in self.members[team.id] if m.id != recused]
            chosen = pick_assignee(
                [
                    Candidate(m.id, self.open_cases[m.id], m.last_assigned_at, m.active)
                    for m in members
                    if m.id is not None
                ]
            )
            assert chosen is not None, "the demo gives every team inspectors"
            await self.assign(
                case, next(m for m in members if m.id == chosen), at, Actor(ActorType.SYSTEM)
            )
            return case
        if dry:
            return case
        notice = waiting_notice(
            case,
            team=team.name,
            category=category.name,
            zone=world.zones[case.zone_id].name if case.zone_id else None,
            reason=reason,
            accept=self.clocks[(case.id or 0, ClockKind.ACCEPT)],
        )
        for leader in self.leaders[team.id]:
            self._notify(
                case,
                leader,
                kind="waiting",
                notice=notice,
                offer=Offer.LEADER_ASSIGN.on(case.id or 0),
                at=at,
            )
        return case

    def _submitted(self, case: Case, contact: tuple[str, str] | None) -> None:
        """The new case's rows: the case, its first event, its search document, its sealed
        contact."""
        self._case(case)
        self._event(chain.submitted(case, case.created_at, contact=contact))
        enterprise = self.world.enterprises.get(case.enterprise_id or 0)
        document = case_document(  # ``indexed``
            number=case.number,
            enterprise=enterprise.name if enterprise else None,
            description=case.description,
            track=case.track,
        )
        self._search({"case_id": case.id, "document": document})
        if contact is not None:
            name, phone = contact
            self.add(sealed(case.id or 0, name=name, phone=phone))

    def forget(self) -> None:
        """The cases worked out so far are done (their rows taken or left out): what only their
        own steps read goes (their clocks, proposals, 整改 and reporters)."""
        self.clocks.clear()
        self.proposals.clear()
        self.rectifications.clear()
        self.case_reporters.clear()

    def finish(self, case: Case) -> None:
        """The case is done for now: its load counts for the next assignment."""
        if case.status in OPEN_STATUSES and case.assignee_id is not None:
            self.open_cases[case.assignee_id] += 1


TABLE_ORDER = (
    Case,
    CaseSearch,
    ReporterContact,
    CaseClock,
    ApprovalRequest,
    ClueDisposition,
    Rectification,
    Notification,
    CaseEvent,
)


def balanced(cases: int, workers: int) -> int:
    """The batch size, at most ``BATCH``, that splits ``cases`` into whole rounds of ``workers``
    batches of one size: 50,000 cases on two workers in batches of 10,000 left the fifth batch
    alone on one core while the other idled (six of 8,334 keep both busy to the end)."""
    rounds = max(1, math.ceil(cases / (workers * BATCH)))
    return max(1, math.ceil(cases / (workers * rounds)))


def referenced_numbers(plan: Plan) -> frozenset[str]:
    """The 受理编号 a later case names: the earlier case of a 重复件, the first case of a
    防打击报复回访 clue."""
    named = {p.prompted_by for p in plan.cases if p.prompted_by is not None}
    named |= {s.ref for p in plan.cases for s in p.steps if s.ref is not None}
    return frozenset(named)


async def _write_in_turn(
    sessions: SessionFactory, ledger: MemoryLedger, plan: Plan, *, tick: Callable[[int], None]
) -> None:
    """One process: each batch written while the next one is worked out."""
    writing: asyncio.Task[None] | None = None  # the batch before, still being written

    async def written(taken: list[Taken]) -> None:
        async with sessions() as session:
            await write(await session.connection(), taken)
            await session.commit()

    async def flush() -> None:
        """Take the batch and write it while the next one is worked out: the database works
        on one batch while this process works out the next (a batch starts once the one
        before it is committed: its cases name earlier ones)."""
        nonlocal writing
        taken = ledger.batch.take()
        ledger.forget()
        if writing is not None:
            await writing
        writing = asyncio.ensure_future(written(taken))

    done = 0
    try:
        for plan_case in plan.cases:
            case = await ledger.submit(plan_case)
            for step in plan_case.steps:
                await STEPS[step.kind](ledger, case, step)
            ledger.finish(case)
            done += 1
            if done % BATCH == 0:
                await flush()
                tick(BATCH)
            elif done % YIELD_EVERY == 0:
                await asyncio.sleep(0)  # the batch being written moves on
        await flush()
        assert writing is not None
        await writing
    finally:
        if writing is not None and not writing.done():
            writing.cancel()
            await asyncio.gather(writing, return_exceptions=True)
    tick(done % BATCH)


async def write_in_bulk(
    sessions: SessionFactory,
    config: LiankaConfig,
    calendar: WorkCalendar,
    plan: Plan,
    world: World,
    *,
    tick: Callable[[int], None],
    workers: int = 1,
    world_rows: Beside | None = None,
) -> None:
    """Every case mirrored in memory and written in batches of ``BATCH`` cases (COPY on
    PostgreSQL), each batch forgotten once written; on PostgreSQL with ``workers`` > 1, the
    batches worked out by that many processes (``demo.parallel``), and ``world_rows`` written
    by one more beside them, else first."""
    ledger = MemoryLedger(
        config,
        calendar,
        world,
        next_case_id=1,
        referenced=referenced_numbers(plan),
        sent_until=plan.now,
    )

    forks = "fork" in multiprocessing.get_all_start_methods()
    if workers > 1 and forks and sessions.kw["bind"].dialect.name == "postgresql":
        await write_in_parallel(
            sessions,
            ledger,
            plan.cases,
            batch=balanced(len(plan.cases), workers),
            workers=workers,
            tick=tick,
            beside=world_rows,
        )
    else:
        if world_rows is not None:
            await world_rows(sessions)
        await _write_in_turn(sessions, ledger, plan, tick=tick)
    async with sessions() as session:
        connection = await session.connection()
        prefix = config.organisation.case_prefix
        for year, last in sorted(ledger.counters.items()):
            await connection.execute(
                sa.insert(table_of(CaseCounter)).values(prefix=prefix, year=year, last=last)
            )
        for person in world.people:
            if person.last_assigned_at is not None:
                await connection.execute(
                    sa.update(table_of(Inspector))
                    .where(table_of(Inspector).c.id == person.id)
                    .values(last_assigned_at=person.last_assigned_at)
                )
        await session.commit()
