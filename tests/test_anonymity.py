"""Anonymity that means what it says: an anonymous clue's enterprise reaches no inspector (the
notice, 查看材料, /case, the console's page), an anonymous appeal's does and says why; a
confidential case's files reach staff cleaned and named 材料N; and the 反映方式 texts of the chat
and the web say the same, plainly, about who can see what."""

from __future__ import annotations

import io
import struct
import zipfile
from collections.abc import AsyncGenerator
from typing import Any

import pytest
from aiogram.types import BufferedInputFile
from PIL import Image
from pypdf import PdfReader
from pypdf.generic import NameObject, TextStringObject

from bot.clock import FrozenClock
from bot.config import LiankaConfig
from bot.db import SessionFactory
from models.anonymity import ANONYMOUS_APPEAL_ENTERPRISE, ANONYMOUS_CLUE_ENTERPRISE
from models.attachment import Attachment, MediaKind
from models.calendar import WorkCalendar
from models.errors import InvalidInput
from models.event import ActorType
from models.filecheck import UNCLEANABLE, blank_property_set, clean_material
from models.intake import NAME_MAX, IntakeDraft
from models.team import Inspector
from notifications.render import render
from notifications.texts import IDENTITY_CHOICES
from reports.html import render_html_report
from reports.periods import custom, local_today
from tests.console_support import console_app, sign_in, text_of
from tests.inspector_support import (
    ADMIN,
    INSPECTOR,
    REPORTER,
    SOE_INSPECTOR,
    SOE_LEADER,
    build,
    deliver,
    make_people,
    submit,
    user,
)
from tests.report_history import read_report
from tests.test_filecheck import docx_bytes, pdf_with_author, photo_with_gps
from web.render import render_page

ENTERPRISE = "四川坤天新能源科技有限公司"  # the reporter's card's enterprise (tests.factories)
BROKEN = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"  # nothing a PDF reader can read
CLUE = "某国企负责人在工程分包中收受好处费，指定关系户承接项目，金额巨大。"

CORE_XML = (
    '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>'
    '<cp:coreProperties xmlns:cp="http://schemas.openxmlformats.org/package/2006/metadata/'
    'core-properties" xmlns:dc="http://purl.org/dc/elements/1.1/" '
    'xmlns:dcterms="http://purl.org/dc/terms/">'
    "<dc:creator>张三</dc:creator><cp:lastModifiedBy>张三</cp:lastModifiedBy>"
    "<dcterms:created>2026-11-30T08:00:00Z</dcterms:created></cp:coreProperties>"
)
APP_XML = (
    '<Properties xmlns="http://schemas.openxmlformats.org/officeDocument/2006/'
    'extended-properties"><Company>坤天新能源财务部</Company></Properties>'
)


def docx_with_creator() -> bytes:
    properties = {"docProps/core.xml": CORE_XML.encode(), "docProps/app.xml": APP_XML.encode()}
    return docx_bytes(extra=properties)


# --- files: cleaned and renamed ---


def test_a_photo_with_gps_reaches_staff_as_material_n_without_exif() -> None:
    material = clean_material(photo_with_gps(), 1)
    assert material.file_name == "材料1.jpg"
    with Image.open(io.BytesIO(material.data)) as shown:
        assert not shown.getexif() and shown.size == (40, 20)


def test_a_pdf_with_an_author_reaches_staff_without_it() -> None:
    original = pdf_with_author("张三（举报人）")
    info = PdfReader(io.BytesIO(original)).metadata
    assert info is not None and info.author == "张三（举报人）"
    material = clean_material(original, 2)
    assert material.file_name == "材料2.pdf"
    cleaned = PdfReader(io.BytesIO(material.data))
    assert cleaned.metadata is None and cleaned.xmp_metadata is None
    assert "contract page" in cleaned.pages[0].extract_text()  # the content is all there
    for trace in (b"Zhangsan", b"XmpAuthor", "张三".encode("utf-16-be"), b"Title by"):
        assert trace not in material.data


def test_a_comment_in_a_pdf_reaches_staff_without_who_wrote_it() -> None:
    from pypdf import PdfWriter
    from pypdf.annotations import Text

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    note = Text(rect=(10, 10, 60, 60), text="请核实此项")
    note[NameObject("/T")] = TextStringObject("ZhangSanCommenter")
    writer.add_annotation(page_number=0, annotation=note)
    original = io.BytesIO()
    writer.write(original)
    assert b"ZhangSanCommenter" in original.getvalue()
    material = clean_material(original.getvalue(), 1)
    assert b"ZhangSanCommenter" not in material.data
    annots: Any = PdfReader(io.BytesIO(material.data)).pages[0]["/Annots"]
    assert [a.get_object()["/Subtype"] for a in annots] == ["/Text"]  # the comment stays


def test_a_comment_written_inline_in_a_pages_annotations_loses_its_author_too() -> None:
    from pypdf import PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, FloatObject

    writer = PdfWriter()
    writer.add_blank_page(width=200, height=200)
    note = DictionaryObject(
        {
            NameObject("/Type"): NameObject("/Annot"),
            NameObject("/Subtype"): NameObject("/Text"),
            NameObject("/Rect"): ArrayObject([FloatObject(v) for v in (10, 10, 60, 60)]),
            NameObject("/Contents"): TextStringObject("请核实此项"),
            NameObject("/T"): TextStringObject("InlineZhangSan"),
            NameObject("/M"): TextStringObject("D:20261101093000+08'00'"),
        }
    )
    writer.pages[0][NameObject("/Annots")] = ArrayObject([note])  # inline, no object of its own
    original = io.BytesIO()
    writer.write(original)
    assert b"InlineZhangSan" in original.getvalue() and b"20261101" in original.getvalue()
    material = clean_material(original.getvalue(), 1)
    assert b"InlineZhangSan" not in material.data and b"20261101" not in material.data
    annots: Any = PdfReader(io.BytesIO(material.data)).pages[0]["/Annots"]
    assert [a.get_object()["/Contents"] for a in annots] == ["请核实此项"]  # the comment stays


def test_a_docx_with_a_creator_reaches_staff_with_empty_properties() -> None:
    material = clean_material(docx_with_creator(), 3)
    assert material.file_name == "材料3.docx"
    with zipfile.ZipFile(io.BytesIO(material.data)) as archive:
        core = archive.read("docProps/core.xml").decode()
        app = archive.read("docProps/app.xml").decode()
        assert "张三" not in core and "2026" not in core and "coreProperties" in core
        assert "坤天" not in app
        assert archive.read("word/document.xml") == b"<w:document/>"
        assert {info.date_time for info in archive.infolist()} == {(1980, 1, 1, 0, 0, 0)}
    assert "张三".encode() not in material.data


def test_who_revised_or_commented_a_docx_is_blanked_and_the_text_stays() -> None:
    document = (
        '<w:document xmlns:w="w"><w:body><w:ins w:id="1" w:author="张三" w:date="2026-11-30">'
        "<w:r><w:t>合同第三条</w:t></w:r></w:ins></w:body></w:document>"
    )
    comments = '<w:comments><w:comment w:id="0" w:author="张三" w:initials="ZS"/></w:comments>'
    people = (
        '<w15:people><w15:person w15:author="张三"><w15:presenceInfo w15:providerId="AD" '
        'w15:userId="S::zhangsan@kuntian.cn::1"/></w15:person></w15:people>'
    )
    original = docx_bytes(
        extra={
            "word/comments.xml": comments.encode(),
            "word/people.xml": people.encode(),
            "xl/comments1.xml": "<comments><authors><author>张三</author></authors></comments>".encode(),
        }
    )
    with zipfile.ZipFile(io.BytesIO(original)) as archive:
        parts = {info.filename: archive.read(info) for info in archive.infolist()}
    parts["word/document.xml"] = document.encode()  # a tracked insertion, with its author
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        for name, body in parts.items():
            archive.writestr(name, body)
    material = clean_material(out.getvalue(), 1)
    assert "张三".encode() not in material.data and b"zhangsan" not in material.data
    with zipfile.ZipFile(io.BytesIO(material.data)) as archive:
        assert "合同第三条" in archive.read("word/document.xml").decode()


def _property_set(author: str) -> bytes:
    """A SummaryInformation stream with a code page and an author (VT_LPSTR), as Word writes."""
    value = author.encode("gbk") + b"\0"
    value += bytes(-len(value) % 4)
    properties = struct.pack("<IIII", 1, 24, 4, 32)  # (id, offset): code page, author
    body = struct.pack("<HH", 2, 0) + struct.pack("<i", 936)
    body += struct.pack("<HHI", 0x1E, 0, len(author.encode("gbk")) + 1) + value
    section = struct.pack("<II", 8 + len(properties) + len(body), 2) + properties + body
    header = struct.pack("<HHI16sI", 0xFFFE, 0, 0x20006, bytes(16), 1)
    header += bytes(16) + struct.pack("<I", 48)
    return header + section


def test_a_legacy_office_files_author_is_blanked_in_place() -> None:
    stream = _property_set("张三")
    cleaned = blank_property_set(stream)
    assert len(cleaned) == len(stream) and "张三".encode("gbk") not in cleaned
    assert struct.unpack_from("<i", cleaned, 48 + 24 + 4)[0] == 936  # the code page stays


def doc_with_author(author: str) -> bytes:
    """A legacy Word file (OLE2: one FAT sector, one directory sector, then the 4096-byte
    SummaryInformation stream in eight sectors) whose summary names its author."""
    sector, end, free = 512, 0xFFFFFFFE, 0xFFFFFFFF
    header = bytearray(sector)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<III", header, 44, 1, 1, 0)  # FAT sectors, first directory sector
    struct.pack_into("<III", header, 56, 4096, end, 0)  # mini cutoff, no mini FAT
    struct.pack_into("<II", header, 68, end, 0)  # no DIFAT
    header[76:80] = struct.pack("<I", 0)
    header[80:] = b"\xff" * (sector - 80)
    fat = bytearray(b"\xff" * sector)
    struct.pack_into("<II", fat, 0, 0xFFFFFFFD, end)
    for at in range(2, 9):
        struct.pack_into("<I", fat, at * 4, at + 1)
    struct.pack_into("<I", fat, 9 * 4, end)

    def entry(
        name: str, kind: int, *, child: int = free, right: int = free, size: int = 0
    ) -> bytes:
        raw = bytearray(128)
        encoded = (name + "\0").encode("utf-16-le")
        raw[0 : len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 64, len(encoded), kind, 1)
        struct.pack_into("<III", raw, 68, free, right, child)
        struct.pack_into("<II", raw, 116, 2 if size else end, size)
        return bytes(raw)

    directory = (
        entry("Root Entry", 5, child=1)
        + entry("WordDocument", 2, right=2)
        + entry("\x05SummaryInformation", 2, size=4096)
    ).ljust(sector, b"\0")
    summary = _property_set(author).ljust(4096, b"\0")
    return bytes(header) + bytes(fat) + directory + summary


def test_a_legacy_word_files_summary_reaches_staff_without_its_author() -> None:
    original = doc_with_author("张三")
    assert "张三".encode("gbk") in original
    material = clean_material(original, 5)
    assert material.file_name == "材料5.doc" and len(material.data) == len(original)
    assert "张三".encode("gbk") not in material.data


def test_a_file_that_cannot_be_cleaned_is_withheld_not_shown_with_its_author() -> None:
    with pytest.raises(InvalidInput) as refused:
        clean_material(BROKEN, 1)
    assert refused.value.message == UNCLEANABLE
    assert clean_material(b"OggS\0\2voice", 4).file_name == "材料4.ogg"  # a Telegram voice note


# --- what inspectors see of the enterprise ---


def _files_by_path(files: dict[str, bytes]) -> Any:
    """The recording session's download, answering with these bytes by Telegram file id."""

    async def stream_content(url: str, *args: Any, **kwargs: Any) -> AsyncGenerator[bytes, None]:
        yield files[url.rsplit("/", 1)[-1]]

    return stream_content


async def _attach(sessions: SessionFactory, case_id: int, now: Any, **fields: Any) -> None:
    async with sessions() as session:
        session.add(
            Attachment(case_id=case_id, added_by=ActorType.REPORTER, created_at=now, **fields)
        )
        await session.commit()


async def test_an_anonymous_clue_names_no_enterprise_to_its_inspector_anywhere(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    leader, inspector = user(tg, SOE_LEADER), user(tg, SOE_INSPECTOR)
    case = await submit(
        sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
        description=CLUE, photo=True,
    )  # fmt: skip
    assert case.id is not None and case.anonymous
    await _attach(
        sessions, case.id, clock.now(), kind=MediaKind.DOCUMENT, file_id="doc-contract",
        file_unique_id="u-doc-contract", file_name="张三的合同.pdf", mime_type="application/pdf",
    )  # fmt: skip
    await _attach(
        sessions, case.id, clock.now(), kind=MediaKind.DOCUMENT, file_id="doc-broken",
        file_unique_id="u-doc-broken", file_name="扫描件.pdf", mime_type="application/pdf",
    )  # fmt: skip
    tg.session.stream_content = _files_by_path(  # type: ignore[method-assign]
        {"ph-evidence": photo_with_gps(), "doc-contract": pdf_with_author(), "doc-broken": BROKEN}
    )
    await deliver(tg, sessions)
    await leader.click("分派")
    await leader.click("周监督（0）")
    await deliver(tg, sessions)
    assignment = inspector.messages[-1]
    assert ENTERPRISE not in assignment.text and ANONYMOUS_CLUE_ENTERPRISE in assignment.text

    await inspector.click("查看材料", message=assignment)
    assert ENTERPRISE not in inspector.replies[0]
    assert f"企业：{ANONYMOUS_CLUE_ENTERPRISE}" in inspector.replies[0]
    files = [s for s in tg.in_chat(SOE_INSPECTOR) if s.method in ("sendPhoto", "sendDocument")]
    assert [type(s.document) for s in files] == [BufferedInputFile, BufferedInputFile]
    photo, contract = (s.document for s in files)  # uploads, never the reporter's file ids
    assert (photo.filename, contract.filename) == ("材料1.jpg", "材料2.pdf")
    with Image.open(io.BytesIO(photo.data)) as shown:
        assert not shown.getexif()
    assert PdfReader(io.BytesIO(contract.data)).metadata is None
    assert f"材料3：{UNCLEANABLE}" in inspector.replies  # withheld, and said so

    await inspector.send(f"/case {case.number}")
    assert ENTERPRISE not in inspector.last and CLUE[:6] in inspector.last

    async with console_app(sessions, catalog, clock=clock) as desk:
        for person in (SOE_INSPECTOR, SOE_LEADER):
            async with sessions() as session:
                staff = await session.get(Inspector, people.id(person))
            signed = await sign_in(desk, sessions, person=staff)
            answer = await signed.get(f"/console/cases/{case.id}")
            page = text_of(await answer.text())
            assert answer.status == 200 and ENTERPRISE not in page
            assert ANONYMOUS_CLUE_ENTERPRISE in page and "张三的合同" not in page
            assert "材料1.jpg" in page and "材料2.pdf" in page
            listing = text_of(await (await signed.get("/console/cases")).text())
            assert case.number in listing and ENTERPRISE not in listing
            found = text_of(await (await signed.get("/console/cases?q=坤天新能源")).text())
            assert case.number not in found  # nor found by its enterprise's name


async def test_an_admin_gets_a_named_appeals_files_cleaned_and_renamed_never_as_sent(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    """Admins see an appeal but never who reported it (SECURITY.md): a file's name or its
    metadata can say, so they get it as 材料N, as a 协办 team does; its handler gets it as sent."""
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    case = await submit(sessions, catalog, calendar, clock, people.reporter, named=True)
    assert case.id is not None and not case.anonymous
    await _attach(
        sessions, case.id, clock.now(), kind=MediaKind.DOCUMENT, file_id="doc-letter",
        file_unique_id="u-doc-letter", file_name="宋利剑-四川坤天-举报信.pdf",
        mime_type="application/pdf",
    )  # fmt: skip
    tg.session.stream_content = _files_by_path(  # type: ignore[method-assign]
        {"doc-letter": pdf_with_author()}
    )
    admin = user(tg, ADMIN)
    await admin.send(f"/case {case.number}")
    await admin.click("查看材料")
    (sent,) = [s for s in tg.in_chat(ADMIN) if s.method == "sendDocument"]
    assert isinstance(sent.document, BufferedInputFile)  # an upload, not the reporter's file id
    assert sent.document.filename == "材料1.pdf"
    assert PdfReader(io.BytesIO(sent.document.data)).metadata is None
    assert "宋利剑" not in " ".join(admin.replies)

    await deliver(tg, sessions)
    inspector = user(tg, INSPECTOR)
    await inspector.click("查看材料", message=inspector.messages[-1])
    (theirs,) = [s for s in tg.in_chat(INSPECTOR) if s.method == "sendDocument"]
    assert theirs.document == "doc-letter"  # the handler of a named appeal: the file as sent


async def test_an_anonymous_appeal_shows_its_enterprise_and_says_it_is_needed(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    tg = build(sessions, catalog, calendar, clock)
    inspector = user(tg, INSPECTOR)
    case = await submit(sessions, catalog, calendar, clock, people.reporter)
    assert case.anonymous
    await deliver(tg, sessions)
    assignment = inspector.messages[-1]
    assert f"企业：{ENTERPRISE}{ANONYMOUS_APPEAL_ENTERPRISE}" in assignment.text
    assert "办理需要" in assignment.text and "反映人：匿名" in assignment.text
    await inspector.click("查看材料", message=assignment)
    assert ENTERPRISE in inspector.replies[0] and str(REPORTER) not in inspector.replies[0]


async def test_the_report_names_no_enterprise_of_its_clues_even_a_recurring_one(
    sessions: SessionFactory,
    catalog: LiankaConfig,
    calendar: WorkCalendar,
    clock: FrozenClock,
) -> None:
    people = await make_people(sessions, clock)
    for _ in range(3):  # three clues from one enterprise's card: a "recurring" enterprise
        await submit(
            sessions, catalog, calendar, clock, people.reporter, category="soe_corruption",
            description=CLUE,
        )  # fmt: skip
    today = local_today(clock.now())
    report = await read_report(
        sessions, catalog, calendar, period=custom(today.replace(day=1), today), now=clock.now()
    )
    assert report.figures.received == 3 and report.figures.clues == 3
    assert ENTERPRISE not in render_html_report(report)
    assert report.cases == []  # the case list names no clue: they are counted only


# --- the 反映方式 texts ---


def test_the_chat_and_the_web_say_the_same_about_who_sees_what() -> None:
    chat = render(
        "reply_reporter_step", step="identity", draft=IntakeDraft("d1"), note=None, evidence_max=10
    )
    blank = {"identity": "", "name": "", "phone": ""}
    web = text_of(render_page("report_identity", errors=blank, values=blank, name_max=NAME_MAX))
    for said in (chat, web):
        assert IDENTITY_CHOICES["named"] in said and IDENTITY_CHOICES["anonymous"] in said
        assert "不留身份信息" not in said  # the old promise the system did not keep
    named, anonymous = IDENTITY_CHOICES["named"], IDENTITY_CHOICES["anonymous"]
    assert "仅承办人员" in named and "每次查看都有记录" in named
    assert "不留姓名和电话" in anonymous and "回执码" in anonymous
    assert "诉求件中企业名称承办人员可见（办理需要）" in anonymous
    assert "问题线索中企业名称也不向承办人员显示" in anonymous
