"""反映问题 through the production dispatcher: a reporter scans the card and reports, start to
finish, anonymously or by name, and the rows and messages are what they should be."""

from __future__ import annotations

import re

from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.attachment import Attachment, MediaKind
from models.calendar import WorkCalendar
from models.card import Card, CardScan
from models.case import Case, CaseStatus
from models.event import CaseEvent, EventKind
from models.reporter import Reporter, ReporterContact, receipt_hash
from tests.intake_helpers import ENTERPRISE, REFUND, TOKEN, Transcript, build, make_card, state_of

CATEGORY_NAMES = [
    "营商环境",
    "重点项目建设",
    "国资国企腐败",
    "脱贫攻坚同乡村振兴有效衔接",
    "安全生产",
    "“四风”问题",
    "惠企政策落实",
    "涉企执法检查",
    "其他",
]


async def test_a_reporter_scans_the_card_and_reports_anonymously_start_to_finish(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    async with sessions() as session:
        card = await make_card(session, clock.now())
    telegram = build(sessions, catalog, calendar, clock)
    user = telegram.user()
    script = Transcript(telegram)

    await script.user(f"扫描联系卡（/start {TOKEN}）", user.start(TOKEN))
    greeting = user.messages[-1]
    assert "安居经开区纪工委" in greeting.text and ENTERPRISE in greeting.text
    for line in catalog.organisation.privacy_notice:
        assert line in greeting.text
    assert greeting.button_texts == ["反映问题", "我的问题", "联系我们"]

    await script.user("点“反映问题”", user.click("反映问题"))
    assert user.messages[-1].button_texts == [*CATEGORY_NAMES, "取消"]

    await script.user("点“营商环境”", user.click("营商环境"))
    assert user.messages[-2].text == "问题类别：营商环境"  # the choice replaces the buttons
    assert user.messages[-2].button_texts == []
    assert "10–2000字" in user.last

    await script.user(REFUND, user.send(REFUND))
    assert f"已记录问题描述（{len(REFUND)}字）" in user.last
    assert user.messages[-1].button_texts == ["完成", "取消"]

    await script.user("发送一张图片", user.send_photo(file_size=350_000))
    assert user.last.startswith("已收到1个附件（图片1）")
    await script.user("发送文件《协议书.pdf》", user.send_document(file_name="协议书.pdf"))
    await script.user("发送一段语音", user.send_voice())
    assert user.last.startswith("已收到3个附件（图片1、文件1、语音1）")
    assert user.messages[-1].button_texts == ["完成", "清空附件", "取消"]
    await script.user("补充：涉及金额约1700万元。", user.send("补充：涉及金额约1700万元。"))
    assert "已补充到问题描述" in user.last

    await script.user("点“完成”", user.click("完成"))
    assert "万元" in user.last and user.messages[-1].button_texts == ["跳过", "取消"]

    await script.user("1700", user.send("1700"))
    assert "涉及金额：1700万元" in user.last
    assert user.messages[-1].button_texts == ["实名", "匿名", "取消"]

    await script.user("点“匿名”", user.click("匿名"))
    summary = user.messages[-1]
    assert "请核对" in summary.text and REFUND in summary.text
    assert "附件：3个" in summary.text and "1700万元" in summary.text and "匿名" in summary.text
    assert summary.button_texts == ["确认提交", "修改", "取消"]

    await script.user("点“确认提交”", user.click("确认提交"))
    done = user.last
    assert "AJ-2026-00001" in done
    # Thursday 26 Nov 2026 10:00: 签收 by the end of Friday 27 Nov (Asia/Shanghai)
    assert "2026年11月27日（周五） 18:00 前签收" in done
    code = re.search(r"回执码：<code>([0-9A-Z-]+)</code>", done)
    assert code is not None and "/track" in done and "妥善保存" in done
    assert user.messages[-1].button_texts == ["反映问题", "我的问题", "联系我们"]

    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        files = (await session.exec(select(Attachment).order_by(col(Attachment.id)))).all()
        scans = (await session.exec(select(CardScan))).all()
        stored_card = await session.get(Card, card.id)
        reporter = (await session.exec(select(Reporter))).one()
        events = (await session.exec(select(CaseEvent).order_by(col(CaseEvent.seq)))).all()
        contacts = (await session.exec(select(ReporterContact))).all()
    assert case.anonymous and case.receipt_hash == receipt_hash(code.group(1))
    assert case.description == f"{REFUND}\n补充：涉及金额约1700万元。"
    assert case.amount_involved_yuan == 17_000_000
    assert case.card_id == card.id and case.enterprise_id == card.enterprise_id
    assert case.status is CaseStatus.SUBMITTED  # no inspector registered: the leader assigns
    assert [(f.kind, f.file_size) for f in files] == [
        (MediaKind.PHOTO, 350_000),
        (MediaKind.DOCUMENT, 500_000),
        (MediaKind.VOICE, 40_000),
    ]
    assert files[1].file_name == "协议书.pdf" and files[1].mime_type == "application/pdf"
    assert all(f.file_unique_id for f in files)
    assert stored_card is not None and stored_card.scan_count == 1
    assert stored_card.last_scan_at == clock.now()
    assert [(s.card_id, s.reporter_id) for s in scans] == [(card.id, reporter.id)]
    assert (reporter.telegram_user_id, reporter.card_id, reporter.zone_id) == (
        user.id,
        card.id,
        card.zone_id,
    )
    assert events[0].kind is EventKind.SUBMITTED and contacts == []
    assert await state_of(telegram, user) == (None, {})
    script.save()
