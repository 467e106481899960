"""A web upload in the draft: the same file rules as the chat, and old drafts still read."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from models.attachment import MediaKind
from models.errors import InvalidInput
from models.intake import EVIDENCE_MAX, Evidence, IntakeDraft, reporter_file

SHA = "ab" * 32


def web_file(n: int = 0, size: int = 1000) -> Evidence:
    return Evidence.from_blob(
        MediaKind.PHOTO,
        f"{n:064x}",
        file_name=f"IMG_{n}.jpg",
        mime_type="image/jpeg",
        file_size=size,
    )


def test_web_files_follow_the_one_file_rule() -> None:
    draft = IntakeDraft(draft_id="d1")
    for n in range(EVIDENCE_MAX):
        draft = draft.add_evidence(web_file(n))
    with pytest.raises(InvalidInput, match="最多上传10个"):
        draft.add_evidence(web_file(99))
    with pytest.raises(InvalidInput, match="这个文件已经添加过了"):
        IntakeDraft(draft_id="d2").add_evidence(web_file(1)).add_evidence(web_file(1))
    with pytest.raises(InvalidInput, match="超过20MB"):
        IntakeDraft(draft_id="d3").add_evidence(web_file(1, size=21 * 1024 * 1024))


def test_a_chat_file_and_a_web_file_are_never_the_same_file() -> None:
    chat = Evidence(kind=MediaKind.PHOTO, file_id="AgAD", file_unique_id="")
    draft = IntakeDraft(draft_id="d").add_evidence(chat).add_evidence(web_file(1))
    assert len(draft.evidence) == 2


def test_web_files_survive_the_draft_storage_and_old_drafts_still_read() -> None:
    draft = IntakeDraft(draft_id="d").add_evidence(web_file(7))
    assert IntakeDraft.from_data(draft.to_data()) == draft
    old = {
        "draft_id": "old",
        "evidence": [
            {
                "kind": "photo",
                "file_id": "AgAD",
                "file_unique_id": "AQAD",
                "file_name": None,
                "mime_type": None,
                "file_size": 1,
            }
        ],
    }
    (item,) = IntakeDraft.from_data(old).evidence
    assert item.blob_sha256 is None and item.identity == "AQAD"


def test_a_web_file_becomes_an_attachment_pointing_at_its_blob() -> None:
    item = Evidence.from_blob(
        MediaKind.DOCUMENT, SHA, file_name="a.pdf", mime_type="application/pdf", file_size=9
    )
    row = reporter_file(5, item, datetime(2026, 12, 5, tzinfo=UTC))
    assert row.blob_sha256 == SHA
    assert row.file_id is None and row.file_unique_id is None
    assert row.file_name == "a.pdf" and row.mime_type == "application/pdf"


def test_deleting_a_file_keeps_the_others_in_order() -> None:
    draft = IntakeDraft(draft_id="d")
    for n in range(3):
        draft = draft.add_evidence(web_file(n))
    draft = draft.remove_evidence(web_file(1).identity).remove_evidence("sha256:unknown")
    assert [e.file_name for e in draft.evidence] == ["IMG_0.jpg", "IMG_2.jpg"]
