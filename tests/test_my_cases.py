"""我的问题: the reporter's cases with status and the due date that matters, the public timeline,
补充材料 to an open case, and /track by receipt code from any account."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta

from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from bot.services.clocks import start_clock
from models import keys
from models.attachment import Attachment
from models.calendar import WorkCalendar
from models.case import Case, CaseStatus
from models.clock import ClockKind
from models.event import Actor, ActorType, CaseEvent, EventKind, record_event, transition
from models.notification import Notification
from models.reporter import CaseFollower
from models.team import Role
from notifications.render import telegram_html
from notifications.telegram import MyAct, MyCase, notice_keyboard
from tests.factories import make_inspector
from tests.harness import Telegram
from tests.inspector_support import REPORTER, SOE, build, make_people, submit
from tests.inspector_support import user as support_user
from tests.intake_helpers import assert_telegram_html, report

SAFETY = "厂区消防通道被占用，多次反映未整改，存在重大安全隐患，请督促整改。"
INSPECTOR = Actor(ActorType.INSPECTOR, 1)


async def only_case(sessions: SessionFactory) -> Case:
    async with sessions() as session:
        return (await session.exec(select(Case).order_by(col(Case.id)))).first()  # type: ignore[return-value]


async def move(
    sessions: SessionFactory,
    *steps: tuple[CaseStatus, EventKind],
    now: datetime,
    note: str | None = None,
    public: bool = True,
) -> None:
    """The commission's side moves the first case along (as issue 5's use cases will)."""
    async with sessions() as session:
        case = (await session.exec(select(Case).order_by(col(Case.id)))).first()
        assert case is not None
        for status, kind in steps:
            session.add(transition(case, status, kind, INSPECTOR, now, note=note, public=public))
        session.add(case)
        await session.commit()


async def test_my_lists_cases_newest_first_with_status_and_the_date_told_for_acceptance(
    telegram: Telegram, clock: FrozenClock
) -> None:
    user = telegram.user()
    await report(user)
    clock.advance(timedelta(hours=1))
    await report(user, category="安全生产", description=SAFETY)
    await user.send("/my")
    text = user.last
    assert text.index("AJ-2026-00002 安全生产") < text.index("AJ-2026-00001 营商环境")
    assert text.count("状态：已提交，待受理") == 2
    assert "受理期限：2026年12月01日（周二） 18:00" in text
    assert user.messages[-1].button_texts == [
        "AJ-2026-00002 · 已提交，待受理",
        "AJ-2026-00001 · 已提交，待受理",
        "反映新问题",
    ]


async def test_after_acceptance_the_resolve_deadline_is_shown(
    telegram: Telegram,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    user = telegram.user()
    await report(user)
    await move(
        sessions,
        (CaseStatus.ASSIGNED, EventKind.ASSIGNED),
        (CaseStatus.ACCEPTED, EventKind.ACCEPTED),
        now=clock.now(),
    )
    async with sessions() as session:
        case = await session.get(Case, (await only_case(sessions)).id)
        assert case is not None
        await start_clock(
            session,
            case,
            ClockKind.RESOLVE,
            workdays=15,
            calendar=calendar,
            now=clock.now(),
            warn_before=1,
        )
        await session.commit()
    await user.send("/my")
    assert "状态：已受理" in user.last
    # 15 working days from Thursday 26 Nov 2026: Thursday 17 Dec
    assert "办结期限：2026年12月17日（周四） 18:00" in user.last
    assert "受理期限" not in user.last


async def test_a_case_shows_its_public_timeline_only(
    telegram: Telegram, sessions: SessionFactory, clock: FrozenClock
) -> None:
    user = telegram.user()
    await report(user)
    clock.advance(timedelta(hours=2))
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        session.add(
            record_event(
                case,
                EventKind.PROGRESS,
                INSPECTOR,
                clock.now(),
                note="内部：与管委会沟通口径",
                public=False,
            )
        )
        session.add(
            record_event(
                case,
                EventKind.PROGRESS,
                INSPECTOR,
                clock.now(),
                note="已约谈管委会，<b>督促</b>返还",
                public=True,
            )
        )
        session.add(case)
        await session.commit()
    await user.send("/my")
    await user.click("AJ-2026-00001 · 已提交，待受理")
    view = user.last
    assert "<b>AJ-2026-00001</b> 营商环境" in view
    assert "11-26 10:00 已提交" in view
    assert "11-26 12:00 办理进展：已约谈管委会，&lt;b&gt;督促&lt;/b&gt;返还" in view
    assert "内部" not in view and "分办" not in view
    assert user.messages[-1].button_texts == ["补充材料", "撤回", "返回列表"]
    await user.click("返回列表")
    assert user.last.startswith("<b>我的问题</b>")
    assert_telegram_html(telegram)


async def test_a_clue_shows_the_reporter_only_submitted_accepted_by_a_person_and_resolved(
    telegram: Telegram, sessions: SessionFactory, clock: FrozenClock
) -> None:
    user = telegram.user()
    await report(
        user, category="国资国企腐败", description="某国有公司负责人在工程发包中收受好处费。"
    )
    await user.send("/my")
    assert "状态：已提交，待受理" in user.last and "期限" not in user.last
    clock.advance(timedelta(days=5))
    await move(
        sessions,
        (CaseStatus.ASSIGNED, EventKind.ASSIGNED),
        (CaseStatus.ACCEPTED, EventKind.ACCEPTED),
        (CaseStatus.RESOLVED, EventKind.RESOLVED),
        now=clock.now(),
        note="已移交审查调查部门",
    )
    await user.send("/my")
    await user.click("AJ-2026-00001 · 已办结")
    view = user.last
    timeline = view.split("<b>办理记录</b>")[1]
    assert [line.split(" ", 2)[2] for line in timeline.strip().splitlines()] == [
        "已提交",
        "已受理",
        "已办结",
    ]
    assert "移交" not in view and "签收" not in view
    assert user.messages[-1].button_texts == ["返回列表"]  # no material to a resolved case


async def test_material_reaches_the_assignee_and_shows_on_the_timeline(
    telegram: Telegram, sessions: SessionFactory, clock: FrozenClock
) -> None:
    async with sessions() as session:
        inspector = await make_inspector(
            session, clock.now(), team_code="business_env", telegram_user_id=501
        )
    user = telegram.user()
    await report(user)
    await user.send("/my")
    await user.click("AJ-2026-00001 · 已提交，待受理")
    await user.click("补充材料")
    assert "为问题 AJ-2026-00001 补充材料" in user.last
    context = telegram.dispatcher.fsm.get_context(telegram.bot, chat_id=user.id, user_id=user.id)
    kept = (await context.get_data())["material_case"]  # the case, not in plain beside the account
    assert isinstance(kept, str) and keys.is_sealed(kept)
    await user.send_photo()
    assert user.last.startswith("已收到1个附件")
    await user.send("管委会2023年的会议纪要，<i>承诺</i>年底前返还。")
    await user.send_sticker()
    assert user.last == "不支持此类内容，请发送图片、文件、语音或视频。"
    await user.click("完成")
    assert user.last == "已为问题 AJ-2026-00001 补充附件1个和文字说明，已转交办理人员。"

    async with sessions() as session:
        files = (await session.exec(select(Attachment).order_by(col(Attachment.id)))).all()
        event = (
            await session.exec(select(CaseEvent).where(CaseEvent.kind == EventKind.MATERIAL_ADDED))
        ).one()
        notice = (
            await session.exec(select(Notification).where(Notification.kind == "material"))
        ).one()
    assert [(f.added_by, f.kind.value) for f in files] == [(ActorType.REPORTER, "photo")]
    assert event.public and event.note == "管委会2023年的会议纪要，<i>承诺</i>年底前返还。"
    assert (notice.chat_id, notice.recipient_id) == (501, inspector.id)
    assert "&lt;i&gt;承诺&lt;/i&gt;" in telegram_html(notice) and "新增附件 1 个" in telegram_html(
        notice
    )
    keyboard = notice_keyboard(notice)
    assert keyboard is not None
    assert [b.text for row in keyboard.inline_keyboard for b in row] == ["查看材料"]

    await user.click("查看详情")
    assert "补充材料：管委会2023年的会议纪要" in user.last
    assert_telegram_html(telegram)


async def test_a_photo_with_an_over_long_caption_is_kept_and_only_the_caption_refused(
    telegram: Telegram, sessions: SessionFactory, clock: FrozenClock
) -> None:
    async with sessions() as session:
        await make_inspector(session, clock.now(), team_code="business_env", telegram_user_id=501)
    user = telegram.user()
    await report(user)
    await user.send("/my")
    await user.click("AJ-2026-00001 · 已提交，待受理")
    await user.click("补充材料")
    await user.send_photo(caption="会" * 2100)
    assert user.last.startswith("已收到1个附件")
    assert "补充说明超过2000字上限，未添加" in user.last
    await user.click("完成")
    assert user.last == "已为问题 AJ-2026-00001 补充附件1个，已转交办理人员。"
    async with sessions() as session:
        assert len((await session.exec(select(Attachment))).all()) == 1


async def test_material_without_an_assignee_goes_to_the_team_leaders(
    telegram: Telegram, sessions: SessionFactory, clock: FrozenClock
) -> None:
    async with sessions() as session:
        leader = await make_inspector(
            session,
            clock.now(),
            team_code="safety",
            role=Role.TEAM_LEADER,
            name="王组长",
            telegram_user_id=601,
        )
    user = telegram.user()
    await report(user, category="安全生产", description=SAFETY)
    await user.send("/my")
    await user.click("AJ-2026-00001 · 已提交，待受理")
    await user.click("补充材料")
    await user.send("现场照片稍后补充，通道至今仍被占用。")
    await user.click("完成")
    async with sessions() as session:
        notice = (
            await session.exec(select(Notification).where(Notification.kind == "material"))
        ).one()
    assert (notice.chat_id, notice.recipient_id) == (601, leader.id)


async def test_material_cannot_be_added_once_the_case_is_resolved(
    telegram: Telegram, sessions: SessionFactory, clock: FrozenClock
) -> None:
    user = telegram.user()
    await report(user)
    case = await only_case(sessions)
    await move(
        sessions,
        (CaseStatus.ASSIGNED, EventKind.ASSIGNED),
        (CaseStatus.ACCEPTED, EventKind.ACCEPTED),
        (CaseStatus.RESOLVED, EventKind.RESOLVED),
        now=clock.now(),
    )
    await user.press(MyCase(act=MyAct.MATERIAL, case_id=case.id or 0).pack())
    assert user.alerts[-1] == "该问题已办结，不能再补充材料。如有新情况，请重新反映。"
    assert user.replies == []


async def test_nobody_else_sees_or_adds_to_a_case(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    owner, stranger = telegram.user(), telegram.user()
    await report(owner)
    case = await only_case(sessions)
    await stranger.press(MyCase(act=MyAct.VIEW, case_id=case.id or 0).pack())
    assert stranger.alerts[-1] == "未找到该问题。"
    await stranger.press(MyCase(act=MyAct.MATERIAL, case_id=case.id or 0).pack())
    assert stranger.alerts[-1] == "未找到该问题。"
    assert stranger.replies == []


async def test_a_receipt_code_lets_another_account_follow_the_case(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    reporter = telegram.user()
    done = await report(reporter)
    code = re.search(r"回执码：<code>([0-9A-Z-]+)</code>", done)
    assert code is not None
    typed = " ".join(code.group(1).lower().split("-"))  # as read aloud: spaces, lower case

    phone = telegram.user(first_name="新手机")
    await phone.send(f"/track {typed}")
    assert phone.last.startswith("已关注问题 <b>AJ-2026-00001</b>（营商环境）")
    assert "状态：已提交，待受理" in phone.last
    await phone.send("/my")
    assert "（凭回执码关注）" in phone.last
    await phone.click("AJ-2026-00001 · 已提交，待受理")
    assert "已提交" in phone.last and phone.messages[-1].button_texts == [
        "补充材料",
        "撤回",
        "返回列表",
    ]

    await phone.send(f"/track {code.group(1)}")  # twice is still one follower
    async with sessions() as session:
        followers = (await session.exec(select(CaseFollower))).all()
    assert len(followers) == 1


async def test_track_alone_asks_for_the_code(telegram: Telegram) -> None:
    reporter = telegram.user()
    done = await report(reporter)
    code = re.search(r"回执码：<code>([0-9A-Z-]+)</code>", done)
    assert code is not None
    phone = telegram.user()
    await phone.send("/track")
    assert phone.last == "请输入回执码（12位，例如 7KQM-4TXD-92HP）："
    for _ in range(6):  # messages meant for something else: answered, never counted as guesses
        await phone.send("我还想再反映一个问题")
        assert phone.last.startswith("回执码为12位字母和数字") and "/cancel" in phone.last
    await phone.send(code.group(1))
    assert phone.last.startswith("已关注问题")


async def test_wrong_receipt_codes_are_refused_and_guessing_is_cut_off(
    telegram: Telegram, clock: FrozenClock
) -> None:
    user = telegram.user()
    for _ in range(5):
        await user.send("/track ABCD-EFGH-JKMN")
        assert user.last.startswith("未找到该回执码对应的问题，请核对后重新输入")
    await user.send("/track ABCD-EFGH-JKMP")
    assert user.replies == ["尝试次数过多，请稍后再试。"]
    await user.send("/track ABCD-EFGH-JKMQ")
    assert user.replies == []
    clock.advance(timedelta(minutes=11))
    await user.send("/track ABCD-EFGH-JKMN")
    assert user.last.startswith("未找到该回执码")


async def test_my_without_cases_offers_to_report(telegram: Telegram) -> None:
    user = telegram.user()
    await user.send("/my")
    assert user.last.startswith("您还没有反映过问题。")
    assert user.messages[-1].button_texts == ["反映问题"]


def test_due_dates_are_shown_in_shanghai_time() -> None:
    from bot.services.my_cases import CaseSummary
    from models.org import Track
    from notifications.render import render

    summary = CaseSummary(
        id=1,
        number="AJ-2026-00042",
        category="营商环境",
        track=Track.APPEAL,
        status=CaseStatus.ASSIGNED,
        status_label="已提交，待受理",
        created_at=datetime(2026, 12, 31, 2, 0, tzinfo=UTC),
        due_label="受理期限",
        due_at=datetime(2027, 1, 4, 10, 0, tzinfo=UTC),
        due_provisional=True,
        followed=False,
    )
    text = render("reporter_my_cases", cases=[summary], full=False)
    assert "受理期限：2027年01月04日（周一） 18:00（暂定）" in text


async def test_material_can_be_cancelled_and_waits_for_a_report_in_progress(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    user = telegram.user()
    await report(user)
    await user.send("/my")
    await user.click("AJ-2026-00001 · 已提交，待受理")
    await user.click("补充材料")
    await user.send_photo()
    await user.click("取消")
    assert user.last == "已取消补充材料。"

    await user.click("反映问题")  # a second report, half done
    await user.click("营商环境")
    await user.send("/my")
    await user.click("AJ-2026-00001 · 已提交，待受理")
    await user.click("补充材料")
    assert user.alerts[-1] == "您正在进行其他操作，请先完成，或发送 /cancel 取消。"
    async with sessions() as session:
        assert (await session.exec(select(Attachment))).all() == []
        assert (
            await session.exec(select(CaseEvent).where(CaseEvent.kind == EventKind.MATERIAL_ADDED))
        ).all() == []


async def test_a_long_history_still_fits_one_telegram_message(
    telegram: Telegram, sessions: SessionFactory, clock: FrozenClock
) -> None:
    user = telegram.user()
    await report(user)
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        for n in range(30):
            clock.advance(timedelta(hours=1))
            note = (
                f"第{n + 1}次进展："
                + "已与经开区财政局、自然资源局逐项核对返还金额与拨付进度，" * 8
            )
            session.add(
                record_event(
                    case, EventKind.PROGRESS, INSPECTOR, clock.now(), note=note, public=True
                )
            )
        session.add(case)
        await session.commit()
    await user.send("/my")
    await user.click("AJ-2026-00001 · 已提交，待受理")
    view = user.last
    assert "第30次进展" in view  # the newest entries are shown
    assert len(view) <= 4096
    assert_telegram_html(telegram)


async def test_a_reporter_withdraws_a_case_nobody_has_signed_for(
    telegram: Telegram, sessions: SessionFactory, clock: FrozenClock
) -> None:
    async with sessions() as session:
        await make_inspector(session, clock.now(), team_code="business_env", telegram_user_id=501)
    user = telegram.user()
    await report(user)
    await user.send("/my")
    await user.click("AJ-2026-00001 · 已提交，待受理")
    assert "撤回" in user.messages[-1].button_texts
    await user.click("撤回")
    assert "确定撤回问题 AJ-2026-00001 吗" in user.last
    confirm = next(b for b in user.messages[-1].inline_buttons if b.text == "确认撤回")
    await user.click("确认撤回")
    assert user.last.startswith("问题 AJ-2026-00001 已撤回。")
    assert "AJ-2026-00001 · 已撤回" in user.messages[-1].button_texts
    assert confirm.callback_data is not None
    await user.press(confirm.callback_data)  # tapped twice: said as it is
    assert user.alerts[-1] == "该问题已撤回，无需再次操作。"
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        notices = (
            await session.exec(select(Notification).where(Notification.kind == "withdrawn"))
        ).all()
    assert case.status is CaseStatus.WITHDRAWN
    assert [(n.chat_id, telegram_html(n)) for n in notices] == [
        (501, "【撤回】反映人已撤回问题 AJ-2026-00001，无需再办理。")
    ]


async def test_a_signed_case_cannot_be_withdrawn(
    telegram: Telegram, sessions: SessionFactory, clock: FrozenClock
) -> None:
    user = telegram.user()
    await report(user)
    await user.send("/my")
    await user.click("AJ-2026-00001 · 已提交，待受理")
    withdraw = user.messages[-1]
    await move(sessions, (CaseStatus.ASSIGNED, EventKind.ASSIGNED), now=clock.now())
    await move(sessions, (CaseStatus.ACCEPTED, EventKind.ACCEPTED), now=clock.now())
    await user.click("撤回", message=withdraw)  # the button of a view shown before 签收
    await user.click("确认撤回")
    assert user.alerts[-1] == "该问题已受理，不能撤回。如有需要，请通过“补充材料”说明情况。"
    assert (await only_case(sessions)).status is CaseStatus.ACCEPTED


async def test_a_clues_withdrawal_waiting_for_the_team_leader_is_said_and_not_offered_again(
    sessions: SessionFactory, catalog: LiankaConfig, calendar: WorkCalendar, clock: FrozenClock
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    case = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
        description=SOE,
    )  # fmt: skip
    reporter = support_user(tg, REPORTER)
    await reporter.send("/my")
    await reporter.click(next(t for t in reporter.messages[-1].button_texts if case.number in t))
    await reporter.click("撤回")
    await reporter.click("确认撤回")
    assert reporter.alerts[-1].startswith("问题线索的撤回须由组长决定")
    await reporter.send("/my")
    await reporter.click(next(t for t in reporter.messages[-1].button_texts if case.number in t))
    assert "您的撤回申请已收到，正在等待组长决定" in reporter.last
    assert "撤回" not in reporter.messages[-1].button_texts
