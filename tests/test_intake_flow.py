"""反映问题 through the production dispatcher: a reporter scans the card and reports, start to
finish, anonymously or by name, and the rows and messages are what they should be."""

from __future__ import annotations

import re

from aiogram.types import Location
from sqlmodel import col, select

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from handlers.states import Intake
from models.attachment import Attachment, MediaKind
from models.calendar import WorkCalendar
from models.card import Card, CardScan
from models.case import Case, CaseStatus, reporter_of
from models.event import CaseEvent, EventKind
from models.org import Category
from models.reporter import Reporter, ReporterContact, receipt_hash
from notifications.telegram import IntakeAct, IntakeAction
from tests.harness import Telegram, TgUser
from tests.intake_helpers import (
    ENTERPRISE,
    REFUND,
    TOKEN,
    Transcript,
    assert_telegram_html,
    build,
    make_card,
    state_of,
)

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
    "打击报复",  # not one of the nine areas: a reporter may also report it directly
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
    # Thursday 26 Nov 2026 10:00: 受理 (told at 签收) within the 受理告知 deadline, 3 working days
    assert "受理编号：<code>AJ-2026-00001</code>" in done and "案件编号" not in done
    assert "2026年12月01日（周二） 18:00 前受理您反映的问题，受理后即告知您" in done
    assert "签收" not in done
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
    assert case.reporter_id is None and reporter_of(case) == reporter.id
    assert case.description == f"{REFUND}\n补充：涉及金额约1700万元。"
    assert case.amount_involved_yuan == 17_000_000
    assert case.card_id == card.id and case.enterprise_id == card.enterprise_id
    assert case.status is CaseStatus.SUBMITTED  # no inspector registered: the leader assigns
    assert [(f.kind, f.file_size) for f in files] == [
        (MediaKind.PHOTO, 350_000),
        (MediaKind.DOCUMENT, 500_000),
        (MediaKind.VOICE, 40_000),
    ]
    # anonymous: the name on the reporter's phone is not kept (staff see 材料2.pdf)
    assert files[1].file_name is None and files[1].mime_type == "application/pdf"
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
    assert_telegram_html(telegram)
    script.save()


STEPS = ["category", "description", "evidence", "amount", "identity", "contact", "name", "phone"]


async def reach(user: TgUser, step: str) -> None:
    """Scan the card and fill the report up to ``step`` (or to the summary)."""
    await user.start(TOKEN)
    await user.click("反映问题")
    if step == "category":
        return
    await user.click("营商环境")
    if step == "description":
        return
    await user.send(REFUND)
    if step == "evidence":
        return
    await user.send_photo()
    await user.click("完成")
    if step == "amount":
        return
    await user.send("12.5")
    if step == "identity":
        return
    if step == "summary":
        await user.click("匿名")
        return
    await user.click("实名")
    if step == "contact":
        return
    await user.click("手动输入")
    if step == "name":
        return
    await user.send("宋利剑")
    assert step == "phone"


async def cases(sessions: SessionFactory) -> list[Case]:
    async with sessions() as session:
        return list((await session.exec(select(Case))).all())


async def test_a_named_report_through_the_contact_button_keeps_the_contact_apart(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    user = telegram.user(first_name="宋利剑")
    await reach(user, "identity")
    await user.click("实名")
    keyboard = user.messages[-1]
    assert keyboard.button_texts == ["发送手机号", "手动输入", "改为匿名"]
    assert keyboard.reply_buttons[0].request_contact is True

    await user.click("发送手机号")  # Telegram shares the account's own number
    assert user.replies[0] == "已记录您的姓名和手机号。"
    assert user.messages[-2].reply_markup is None  # the contact keyboard is taken away
    assert "实名（宋利剑，13800000000）" in user.last

    await user.click("确认提交")
    assert "AJ-2026-00001" in user.last and "回执码" not in user.last
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        contact = (await session.exec(select(ReporterContact))).one()
    assert case.anonymous is False and case.receipt_hash is None
    assert (contact.case_id, contact.name_plain(), contact.phone_plain()) == (
        case.id,
        "宋利剑",
        "13800000000",
    )
    assert "13800000000" not in case.description


async def test_a_chinese_profile_name_is_taken_family_name_first(telegram: Telegram) -> None:
    user = telegram.user()
    await reach(user, "identity")
    await user.click("实名")
    await user.send_contact("+8613800000000", first_name="利剑", last_name="宋")
    assert "实名（宋利剑，13800000000）" in user.last  # not 利剑 宋


async def test_a_named_report_typed_by_hand_checks_the_mobile_number(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    user = telegram.user()
    await reach(user, "phone")
    await user.send("12345")
    assert "手机号码格式不正确" in user.last
    assert (await state_of(telegram, user))[0] == Intake.phone.state

    await user.send("138 1234 5678")
    assert "实名（宋利剑，13812345678）" in user.last
    await user.click("确认提交")
    async with sessions() as session:
        contact = (await session.exec(select(ReporterContact))).one()
    assert (contact.name_plain(), contact.phone_plain()) == ("宋利剑", "13812345678")


async def test_a_name_typed_instead_of_pressing_a_button_is_taken_as_the_name(
    telegram: Telegram,
) -> None:
    user = telegram.user()
    await reach(user, "contact")
    await user.send("宋利剑")
    assert "请输入您的手机号码" in user.last
    assert user.messages[-1].button_texts == ["发送手机号", "改为匿名"]
    await user.click("发送手机号")
    assert "实名（宋利剑，13800000000）" in user.last


async def test_a_reporter_who_chose_named_by_mistake_goes_back_to_anonymous_keeping_nothing(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    user = telegram.user()
    await reach(user, "phone")  # 实名 chosen, the name already typed
    await user.click("改为匿名")
    assert user.messages[-2].text == "反映方式：匿名" and user.messages[-2].reply_markup is None
    assert "匿名" in user.last and "宋利剑" not in user.last  # the summary
    _, draft = await state_of(telegram, user)
    assert (draft["contact_name"], draft["contact_phone"], draft["pending_phone"]) == (
        None,
        None,
        None,
    )
    await user.click("确认提交")
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        assert (await session.exec(select(ReporterContact))).all() == []
    assert case.anonymous is True and case.receipt_hash is not None


async def test_someone_elses_contact_card_is_refused(telegram: Telegram) -> None:
    user = telegram.user()
    await reach(user, "contact")
    await user.send_contact("+8613900000000", own=False)
    assert "不能发送他人的名片" in user.last
    state, data = await state_of(telegram, user)
    assert state == Intake.contact.state and data.get("contact_phone") is None


async def test_a_contact_whose_profile_name_is_no_name_asks_for_the_name(
    telegram: Telegram,
) -> None:
    user = telegram.user()
    await reach(user, "contact")
    await user.send_contact("+86 139 0000 0000", first_name="888888")
    assert "已收到您的手机号" in user.last and "请输入您的姓名" in user.last
    await user.send("宋利剑")
    assert "实名（宋利剑，13900000000）" in user.last


async def test_a_description_too_short_or_too_long_repeats_the_step_and_keeps_the_rest(
    telegram: Telegram,
) -> None:
    user = telegram.user()
    await reach(user, "description")
    await user.send("太短了")
    assert user.replies == [
        "问题描述太短（3字），请至少写10个字，说明什么事、涉及哪个单位、什么时间。"
    ]
    await user.send("长" * 2001)
    assert user.last.startswith("问题描述太长（2001字）")
    state, data = await state_of(telegram, user)
    assert state == Intake.description.state and data["category"] == "business_env"

    await user.send(REFUND)
    assert "请上传相关材料" in user.last


async def test_unsupported_content_is_refused_at_every_step_and_nothing_is_lost(
    telegram: Telegram,
) -> None:
    user = telegram.user()
    await reach(user, "description")
    await user.send_sticker()
    assert user.last == "不支持此类内容。请用文字描述问题（10–2000字）。"
    await user.send(REFUND)
    await user.send_sticker()
    assert user.last == "不支持此类内容，请发送图片、文件、语音或视频。"
    assert user.messages[-1].button_texts == ["完成", "取消"]
    await user._send(location=Location(latitude=30.36, longitude=105.45))
    assert user.last == "不支持此类内容，请发送图片、文件、语音或视频。"
    await user.click("完成")
    await user.send_sticker()
    assert user.last == "不支持此类内容。请输入金额，例如 12.5，或点“跳过”。"
    assert user.messages[-1].button_texts == ["跳过", "取消"]
    state, data = await state_of(telegram, user)
    assert state == Intake.amount.state and data["description"] == REFUND


async def test_a_file_over_20_mb_is_refused_with_the_reason(telegram: Telegram) -> None:
    user = telegram.user()
    await reach(user, "evidence")
    await user.send_document(file_name="监控录像.zip", file_size=21 * 1024 * 1024)
    assert user.last == "文件超过20MB，无法接收。请压缩或分成几个文件后重新发送。"
    assert (await state_of(telegram, user))[1]["evidence"] == []


async def test_evidence_stops_at_ten_files_with_a_running_count(telegram: Telegram) -> None:
    user = telegram.user()
    await reach(user, "evidence")
    for _ in range(10):
        await user.send_photo()
    assert user.last == "已收到10个附件（图片10）。已达10个上限，请点“完成”。"
    await user.send_voice()
    assert user.last == "最多上传10个附件，已达上限，不能再添加。"
    await user.send_photo(caption=None)
    assert len((await state_of(telegram, user))[1]["evidence"]) == 10


async def test_text_at_the_evidence_step_is_added_to_the_description_within_2000_characters(
    telegram: Telegram,
) -> None:
    user = telegram.user()
    await reach(user, "description")
    long = "企" * 1990
    await user.send(long)
    await user.send("这段补充说明会让描述超过两千字")
    assert "超过2000字上限，未添加" in user.last
    assert (await state_of(telegram, user))[1]["description"] == long
    await user.send("补充一句")
    assert user.last.startswith("已补充到问题描述（共1995字）")
    assert (await state_of(telegram, user))[1]["description"] == long + "\n补充一句"


async def test_the_amount_is_read_in_wan_or_yuan_as_typed(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    user = telegram.user()
    for typed in ["12.5", "12.5万", "125000元"]:
        await reach(user, "amount")
        await user.send("十二万五")
        assert "金额格式不正确" in user.last
        assert (await state_of(telegram, user))[0] == Intake.amount.state
        await user.send(typed)
        assert "涉及金额：12.5万元" in user.last, typed
        await user.click("匿名")
        assert "涉及金额：12.5万元" in user.last, typed
        await user.click("确认提交")
    assert [c.amount_involved_yuan for c in await cases(sessions)] == [125_000] * 3


async def test_the_amount_can_be_skipped(telegram: Telegram, sessions: SessionFactory) -> None:
    user = telegram.user()
    await reach(user, "amount")
    await user.click("跳过")
    await user.click("匿名")
    assert "涉及金额：未填写" in user.last
    await user.click("确认提交")
    assert [c.amount_involved_yuan for c in await cases(sessions)] == [None]


async def test_cancel_clears_the_draft_at_every_step(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    user = telegram.user()
    for step in [*STEPS, "summary"]:
        await reach(user, step)
        await user.send("/cancel")
        assert user.replies[0] == "已取消本次反映，填写的内容已清除。", step
        assert "反映问题" in user.messages[-1].button_texts, step
        assert all(not m.reply_buttons for m in user.messages[-2:]), step
        assert await state_of(telegram, user) == (None, {}), step
    assert await cases(sessions) == []

    await user.click("反映问题")  # a fresh draft, nothing of the old ones
    state, data = await state_of(telegram, user)
    assert state == Intake.category.state and data["evidence"] == [] and not data["description"]


async def test_the_cancel_button_asks_first_and_going_on_keeps_everything(
    telegram: Telegram,
) -> None:
    user = telegram.user()
    await reach(user, "amount")
    await user.click("取消")
    assert user.last == "确定取消本次反映吗？已填写的内容将被清除。"
    assert user.messages[-1].button_texts == ["确定取消", "继续填写"]
    await user.click("继续填写")
    assert "问题涉及的金额是多少" in user.last
    state, data = await state_of(telegram, user)
    assert state == Intake.amount.state and data["description"] == REFUND

    await user.click("取消")
    await user.click("确定取消")
    assert user.messages[-2].text == "已取消本次反映，填写的内容已清除。"
    assert await state_of(telegram, user) == (None, {})


async def test_changing_parts_from_the_summary_returns_to_the_summary(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    user = telegram.user(first_name="宋利剑")
    await reach(user, "summary")
    await user.click("修改")
    assert user.messages[-1].button_texts == [
        "问题类别",
        "问题描述",
        "附件",
        "涉及金额",
        "反映方式",
        "返回",
    ]
    await user.click("返回")
    assert user.messages[-1].button_texts == ["确认提交", "修改", "取消"]

    await user.click("修改")
    await user.click("问题描述")
    assert "将替换原来的描述" in user.last
    await user.send("厂房租金减免政策未落实，多次申请无人答复。")
    assert "请核对" in user.last and "厂房租金减免政策未落实" in user.last

    await user.click("修改")
    await user.click("涉及金额")
    await user.send("30")
    assert "请核对" in user.last and "涉及金额：30万元" in user.last

    await user.click("修改")
    await user.click("问题类别")
    await user.click("惠企政策落实")
    assert "请核对" in user.last and "问题类别：惠企政策落实" in user.last

    await user.click("修改")
    await user.click("附件")
    assert "当前已有1个附件" in user.last
    await user.click("清空附件")
    await user.click("完成")
    assert "请核对" in user.last and "附件：无" in user.last

    await user.click("修改")
    await user.click("反映方式")
    await user.click("实名")
    await user.click("发送手机号")
    assert "请核对" in user.last and "实名（宋利剑，13800000000）" in user.last

    await user.click("确认提交")
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        category = await session.get(Category, case.category_id)
        files = (await session.exec(select(Attachment))).all()
    assert case.description == "厂房租金减免政策未落实，多次申请无人答复。"
    assert case.amount_involved_yuan == 300_000 and case.anonymous is False
    assert category is not None and category.code == "enterprise_policy"
    assert files == []


async def test_a_stale_button_is_refused_and_changes_nothing(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    user = telegram.user()
    await reach(user, "category")
    old_category = user.messages[-1]
    category_data = old_category.inline_buttons[0].callback_data
    await user.click("营商环境")
    await user.send(REFUND)
    done_data = user.messages[-1].inline_buttons[0].callback_data

    await user.press(category_data, message=old_category)  # a button from an old message
    assert user.alerts[-1] == "此操作已过期，请重新开始。"
    state, data = await state_of(telegram, user)
    assert state == Intake.evidence.state and data["description"] == REFUND

    await user.click("完成")
    await user.press(done_data)  # the right draft, but the wrong step
    assert user.alerts[-1] == "此操作已过期，请重新开始。"
    assert (await state_of(telegram, user))[0] == Intake.amount.state

    await user.click("跳过")
    await user.click("匿名")
    submit_data = user.messages[-1].inline_buttons[0].callback_data
    await user.click("确认提交")
    await user.press(submit_data)  # pressed again after the report went in
    assert user.alerts[-1] == "此操作已过期，请重新开始。"
    assert len(await cases(sessions)) == 1

    await user.press(IntakeAction(draft="ffffffff", act=IntakeAct.SUBMIT).pack())
    assert user.alerts[-1] == "此操作已过期，请重新开始。"
    assert len(await cases(sessions)) == 1


async def test_a_submission_delivered_twice_is_one_case(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    user = telegram.user()
    await reach(user, "summary")
    before = await state_of(telegram, user)
    submit = user.messages[-1]
    submit_data = submit.inline_buttons[0].callback_data
    await user.click("确认提交")
    number = (await cases(sessions))[0].number

    # The process died after the case was committed and before the draft was cleared.
    context = telegram.dispatcher.fsm.get_context(telegram.bot, chat_id=user.id, user_id=user.id)
    await context.set_state(before[0])
    await context.set_data(before[1])
    await user.press(submit_data, message=submit)
    assert number in user.last and "此反映已提交过" in user.last
    assert [c.number for c in await cases(sessions)] == [number]


async def test_the_conversation_survives_a_restart_of_the_bot(
    telegram: Telegram,
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    user = telegram.user()
    await reach(user, "evidence")
    await user.send_photo()

    restarted = build(sessions, catalog, calendar, clock)  # new dispatcher, same database
    again = restarted.user(first_name=user.first_name, user_id=user.id)
    await again.send_document()
    assert again.last.startswith("已收到2个附件（图片1、文件1）")
    await again.click("完成")
    await again.click("跳过")
    await again.click("匿名")
    await again.click("确认提交")
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        files = (await session.exec(select(Attachment))).all()
    assert case.description == REFUND and len(files) == 2


async def test_a_draft_saved_by_the_code_before_the_typed_draft_resumes(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    user = telegram.user()
    await reach(user, "description")
    _, data = await state_of(telegram, user)
    photo = {"kind": "photo", "file_id": "f1", "file_unique_id": "u1", "file_name": None}
    legacy = {  # only the keys the dict-based handlers had written by the evidence step
        "draft_id": data["draft_id"],
        "evidence": [{**photo, "mime_type": "image/jpeg", "file_size": 1000}],
        "category": data["category"],
        "category_name": "营商环境",
        "clue": False,
        "description": REFUND,
    }
    context = telegram.dispatcher.fsm.get_context(telegram.bot, chat_id=user.id, user_id=user.id)
    await context.set_data(legacy)
    await context.set_state(Intake.evidence)

    await user.send("/report")
    assert "您有一份尚未提交的反映，请继续填写。" in user.last
    assert "当前已有1个附件（图片1）。" in user.last
    await user.click("完成")
    await user.click("跳过")
    await user.click("匿名")
    await user.click("确认提交")
    async with sessions() as session:
        case = (await session.exec(select(Case))).one()
        files = (await session.exec(select(Attachment))).all()
    assert case.description == REFUND and [f.file_unique_id for f in files] == ["u1"]


async def test_html_and_control_characters_are_stored_as_given_and_escaped_on_output(
    telegram: Telegram, sessions: SessionFactory
) -> None:
    user = telegram.user()
    await reach(user, "description")
    typed = "<b>某局</b> & <script>alert(1)</script>\x07要求企业缴纳额外“服务费”"
    await user.send(typed)
    await user.click("完成")
    await user.click("跳过")
    await user.click("匿名")
    summary = user.last
    assert "&lt;b&gt;某局&lt;/b&gt; &amp; &lt;script&gt;alert(1)&lt;/script&gt;" in summary
    assert "<script>" not in summary and "\x07" not in summary
    await user.click("确认提交")
    assert [c.description for c in await cases(sessions)] == [typed.replace("\x07", "")]
    assert_telegram_html(telegram)


async def test_files_sent_before_the_description_are_kept(telegram: Telegram) -> None:
    user = telegram.user()
    await reach(user, "description")
    await user.send_photo()
    assert user.last.startswith("已保存这个附件（共1个）。请先用文字描述问题")
    await user.send(REFUND)
    assert "当前已有1个附件（图片1）" in user.last


async def test_a_clue_category_is_announced_as_confidential(telegram: Telegram) -> None:
    user = telegram.user()
    await reach(user, "category")
    await user.click("国资国企腐败")
    assert "保密办理" in user.last and "“已受理”“已办结”" in user.last


async def test_pressing_report_again_resumes_the_draft(telegram: Telegram) -> None:
    user = telegram.user()
    await reach(user, "amount")
    await user.start(TOKEN)
    assert "您有一份尚未提交的反映" in user.last
    await user.click("反映问题")
    assert user.last.startswith("您有一份尚未提交的反映，请继续填写。")
    assert "问题涉及的金额是多少" in user.last
    state, data = await state_of(telegram, user)
    assert state == Intake.amount.state and data["description"] == REFUND


async def test_reporting_without_a_card_asks_to_scan_it_first(telegram: Telegram) -> None:
    user = telegram.user()
    await user.send("/report")
    assert "请先扫描贵企业廉政监督联系卡上的二维码" in user.last
    assert "0825-12388" in user.last and "12388" in user.last
    assert await state_of(telegram, user) == (None, {})
