"""The report as it is being entered: one typed draft whose steps keep every rule, whatever the
channel (chat or web page) — no database, no Telegram."""

from __future__ import annotations

import pytest

from models.attachment import MediaKind
from models.errors import InvalidInput
from models.intake import DESCRIPTION_MAX, EVIDENCE_MAX, Evidence, IntakeDraft, MaterialDraft

DESCRIPTION = "开发区管委会拖欠我公司工程款三个月，多次催要无果。"


def photo(n: int, size: int | None = 1000) -> Evidence:
    return Evidence(kind=MediaKind.PHOTO, file_id=f"f{n}", file_unique_id=f"u{n}", file_size=size)


def described() -> IntakeDraft:
    draft = IntakeDraft(draft_id="d1").choose_category("tax_refund", "退税退费", clue=False)
    return draft.describe(DESCRIPTION)


def test_a_too_short_description_is_refused_and_the_draft_keeps_what_it_had() -> None:
    draft = described()
    with pytest.raises(InvalidInput, match="问题描述太短"):
        draft.describe("太短")
    assert draft.description == DESCRIPTION


def test_text_added_later_joins_the_description_only_while_it_fits() -> None:
    draft = described().append_text("  补充：涉及金额约50万元。 ")
    assert draft.description == f"{DESCRIPTION}\n补充：涉及金额约50万元。"
    with pytest.raises(InvalidInput, match="超过2000字上限"):
        draft.append_text("字" * DESCRIPTION_MAX)
    with pytest.raises(InvalidInput, match="内容为空"):
        draft.append_text("\x00  ")


def test_a_caption_that_does_not_fit_is_reported_as_not_added() -> None:
    draft, added = described().add_caption("字" * DESCRIPTION_MAX)
    assert not added and draft.description == DESCRIPTION
    draft, added = draft.add_caption("发票照片")
    assert added and draft.description.endswith("\n发票照片")


def test_files_are_limited_in_number_and_size_and_each_is_kept_once() -> None:
    draft = described()
    for n in range(EVIDENCE_MAX):
        draft = draft.add_evidence(photo(n))
    with pytest.raises(InvalidInput, match="最多上传10个附件"):
        draft.add_evidence(photo(99))
    with pytest.raises(InvalidInput, match="已经添加过"):
        described().add_evidence(photo(1)).add_evidence(photo(1))
    with pytest.raises(InvalidInput, match="超过20MB"):
        described().add_evidence(photo(2, size=21 * 1024 * 1024))
    assert draft.evidence_kinds == "图片10"
    assert draft.clear_evidence().evidence == ()


def test_amounts_are_read_in_wan_yuan_unless_yuan_is_written() -> None:
    assert described().set_amount("12.5").amount_yuan == 125_000
    assert described().set_amount("125000元").amount_yuan == 125_000
    with pytest.raises(InvalidInput, match="金额格式不正确"):
        described().set_amount("很多")
    assert described().set_amount("3").skip_amount().amount_yuan is None


def test_a_named_report_needs_a_valid_name_and_mobile_and_anonymity_forgets_them() -> None:
    named = described().start_named().give_name("张三")
    assert named.anonymous and named.contact_name == "张三"
    named = named.go_named("张三", "+86 138-1234-5678")
    assert not named.anonymous and named.contact_phone == "13812345678"
    with pytest.raises(InvalidInput, match="手机号码格式不正确"):
        described().go_named("张三", "12345")
    anonymous = named.go_anonymous()
    assert anonymous.anonymous and anonymous.contact_name is None
    assert anonymous.contact_phone is None


def test_a_phone_shared_before_the_name_completes_the_draft_when_the_name_comes() -> None:
    draft = described().start_named().hold_phone("13812345678").give_name("李四")
    assert not draft.anonymous
    assert (draft.contact_name, draft.contact_phone, draft.pending_phone) == (
        "李四",
        "13812345678",
        None,
    )


def test_submission_checks_every_rule_again() -> None:
    with pytest.raises(InvalidInput, match="请先选择问题类别"):
        IntakeDraft(draft_id="d").ready()
    no_description = IntakeDraft(draft_id="d").choose_category("x", "X", clue=False)
    with pytest.raises(InvalidInput, match="问题描述太短"):
        no_description.ready()
    half_named = IntakeDraft.from_data({**described().to_data(), "anonymous": False})
    with pytest.raises(InvalidInput, match="实名反映请填写姓名和手机号"):
        half_named.ready()
    ready = described().add_evidence(photo(1)).set_amount("2").ready()
    assert (ready.category_code, ready.amount_yuan, ready.anonymous) == ("tax_refund", 20_000, True)
    assert ready.contact_name is None and len(ready.evidence) == 1


def test_a_saved_draft_reads_back_the_same_from_the_keys_drafts_in_progress_already_use() -> None:
    draft = described().add_evidence(photo(1)).set_amount("1").go_named("王五", "13900001111")
    data = draft.to_data()
    assert {"draft_id", "category", "description", "evidence", "amount_yuan"} <= data.keys()
    assert data["evidence"][0]["kind"] == "photo"
    assert IntakeDraft.from_data(data) == draft
    legacy = {"draft_id": "abcd1234", "evidence": []}
    assert IntakeDraft.from_data(legacy) == IntakeDraft(draft_id="abcd1234")


def test_added_material_keeps_the_file_rules_and_a_note_within_the_description_limit() -> None:
    material = MaterialDraft(case_id=7).add_file(photo(1)).add_note("补充：付款凭证")
    with pytest.raises(InvalidInput, match="已经添加过"):
        material.add_file(photo(1))
    with pytest.raises(InvalidInput, match="补充说明超过2000字上限"):
        material.add_note("字" * DESCRIPTION_MAX)
    assert material.ready() == ((photo(1),), "补充：付款凭证")
    assert MaterialDraft.from_data(material.to_data()) == material
    with pytest.raises(InvalidInput, match="请先发送图片、文件、语音或文字说明"):
        MaterialDraft(case_id=7).ready()
