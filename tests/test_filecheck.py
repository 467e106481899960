"""Uploaded files told by their bytes, and cleaned: real files made here, not mocks."""

from __future__ import annotations

import io
import struct
import wave
import zipfile

import pytest
from PIL import Image

from models.attachment import MediaKind
from models.errors import InvalidInput
from models.filecheck import (
    PHOTO_BLOCKS_KEPT,
    REFUSED,
    check_file,
    identify,
    safe_file_name,
    strip_movie_metadata,
)

GPS_IFD = 0x8825
ORIENTATION = 0x0112
MAKE = 0x010F


def photo_with_gps(fmt: str = "JPEG", size: tuple[int, int] = (40, 20), orientation: int = 1):
    """A photo carrying EXIF: a camera make, GPS coordinates and an orientation."""
    img = Image.new("RGB", size, (200, 30, 30))
    img.paste((0, 0, 255), (0, 0, 8, 8))  # a blue corner, to see which way it turned
    exif = Image.Exif()
    exif[MAKE] = "TestCam"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (30.0, 30.0, 0.0), 3: "E", 4: (105.0, 30.0, 0.0)})
    out = io.BytesIO()
    img.save(out, fmt, exif=exif.tobytes())
    return out.getvalue()


def pdf_with_author(author: str = "张三（举报人）") -> bytes:
    """A real one-page PDF (fpdf2) whose document information and XMP name its author."""
    from fpdf import FPDF

    pdf = FPDF()
    pdf.add_page()
    pdf.set_font("helvetica", size=12)
    pdf.cell(text="contract page")
    pdf.set_author(author)
    pdf.set_creator("WPS Office of Zhangsan")
    pdf.set_title("Title by the reporter")
    pdf.set_xmp_metadata(
        '<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF '
        'xmlns:rdf="http://www.w3.org/1999/02/22-rdf-syntax-ns#"><rdf:Description '
        'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>XmpAuthorZhangsan</dc:creator>'
        "</rdf:Description></rdf:RDF></x:xmpmeta>"
    )
    return bytes(pdf.output())


def docx_bytes(
    main: str = "openxmlformats-officedocument.wordprocessingml.document.main+xml",
    extra: dict[str, bytes] | None = None,
) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr(
            "[Content_Types].xml",
            '<?xml version="1.0"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
            'content-types"><Override PartName="/word/document.xml" ContentType="application/'
            f'vnd.{main}"/></Types>',
        )
        archive.writestr("word/document.xml", "<w:document/>")
        for name, body in (extra or {}).items():
            archive.writestr(name, body)
    return out.getvalue()


def ole_bytes(*streams: str) -> bytes:
    """A minimal OLE2 compound file (one FAT sector, one directory sector) whose directory
    holds empty streams of these names: what a legacy Office file or an installer is."""
    sector = 512
    endofchain, freesect, fatsect = 0xFFFFFFFE, 0xFFFFFFFF, 0xFFFFFFFD
    header = bytearray(sector)
    header[0:8] = b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"
    struct.pack_into("<HHHHH", header, 24, 0x3E, 3, 0xFFFE, 9, 6)
    struct.pack_into("<I", header, 44, 1)  # FAT sectors
    struct.pack_into("<I", header, 48, 1)  # first directory sector
    struct.pack_into("<I", header, 56, 4096)  # mini stream cutoff
    struct.pack_into("<I", header, 60, endofchain)  # first mini FAT sector
    struct.pack_into("<I", header, 68, endofchain)  # first DIFAT sector
    header[76:80] = struct.pack("<I", 0)
    header[80:sector] = b"\xff" * (sector - 80)
    fat = bytearray(b"\xff" * sector)
    struct.pack_into("<II", fat, 0, fatsect, endofchain)

    def entry(name: str, kind: int, child: int = freesect, right: int = freesect) -> bytes:
        raw = bytearray(128)
        encoded = (name + "\0").encode("utf-16-le")
        raw[0 : len(encoded)] = encoded
        struct.pack_into("<HBB", raw, 64, len(encoded), kind, 1)
        struct.pack_into("<III", raw, 68, freesect, right, child)
        struct.pack_into("<I", raw, 116, endofchain)
        return bytes(raw)

    entries = [entry("Root Entry", 5, child=1 if streams else freesect)]
    for i, name in enumerate(streams):
        right = i + 2 if i + 1 < len(streams) else freesect
        entries.append(entry(name, 2, right=right))
    directory = b"".join(entries).ljust(sector, b"\0")
    return bytes(header) + bytes(fat) + directory


def box(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", 8 + len(payload)) + kind + payload


def ftyp(major: bytes, *compatible: bytes) -> bytes:
    return box(b"ftyp", major + b"\0\0\0\0" + b"".join(compatible))


def wav_bytes() -> bytes:
    out = io.BytesIO()
    with wave.open(out, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(8000)
        w.writeframes(b"\0\0" * 800)
    return out.getvalue()


def test_jpeg_loses_exif_and_gps_and_stays_upright():
    original = photo_with_gps(orientation=6)  # 6: the camera was turned; shown rotated 90°
    assert Image.open(io.BytesIO(original)).getexif()[GPS_IFD]
    checked = check_file(original, "IMG_0001.JPG")
    assert checked.kind is MediaKind.PHOTO and checked.mime_type == "image/jpeg"
    cleaned = Image.open(io.BytesIO(checked.data))
    assert cleaned.format == "JPEG"
    assert dict(cleaned.getexif()) == {}
    assert not {"exif", "xmp", "icc_profile", "XML:com.adobe.xmp"} & set(cleaned.info)
    assert b"Exif" not in checked.data and b"TestCam" not in checked.data
    assert cleaned.size == (20, 40)  # upright: the orientation applied before it was dropped
    pixel = cleaned.getpixel((17, 2))  # the blue corner moved to the top right
    assert isinstance(pixel, tuple)
    red, _green, blue = pixel
    assert blue > 150 and red < 100
    assert checked.file_name == "IMG_0001.jpg"


_JPEG_KEPT = {0xD8, 0xE0, 0xDB, 0xC0, 0xC4, 0xDA}
"""What a cleaned JPEG may hold before its scan: SOI, the JFIF header (APP0), quantisation
tables, the frame, Huffman tables, the scan's start — no APPn, comment or anything else."""


def _jpeg_markers(data: bytes) -> set[int]:
    markers, at = {data[1]}, 2
    while data[at + 1] != 0xDA:
        markers.add(data[at + 1])
        at += 2 + struct.unpack(">H", data[at + 2 : at + 4])[0]
    return markers | {0xDA}


def _png_chunks(data: bytes) -> set[bytes]:
    chunks, at = set(), 8
    while at < len(data):
        length = struct.unpack(">I", data[at : at + 4])[0]
        chunks.add(data[at + 4 : at + 8])
        at += 12 + length
    return chunks


def _srgb_profile() -> bytes:
    from PIL import ImageCms

    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


_XMP = (
    b'<x:xmpmeta xmlns:x="adobe:ns:meta/"><rdf:RDF><rdf:Description '
    b'xmlns:dc="http://purl.org/dc/elements/1.1/"><dc:creator>XmpAuthorZhangsan</dc:creator>'
    b"</rdf:Description></rdf:RDF></x:xmpmeta>"
)


@pytest.mark.parametrize("profile", [True, False])  # colours converted, or kept as they are
@pytest.mark.parametrize("orientation", [1, 6])  # kept as it was opened, or turned
def test_a_jpeg_loses_its_comment_xmp_icc_and_exif_whether_turned_or_not(orientation, profile):
    img = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[MAKE] = "TestCam"
    exif[ORIENTATION] = orientation
    exif.get_ifd(GPS_IFD).update({1: "N", 2: (30.0, 30.0, 0.0), 3: "E", 4: (105.0, 30.0, 0.0)})
    out = io.BytesIO()
    img.save(
        out,
        "JPEG",
        exif=exif.tobytes(),
        xmp=_XMP,
        icc_profile=_srgb_profile() if profile else None,
        comment=b"Zhangsan's phone",
    )
    original = Image.open(io.BytesIO(out.getvalue()))
    assert {"exif", "xmp", "comment"} <= set(original.info)
    assert ("icc_profile" in original.info) is profile
    checked = check_file(out.getvalue(), "IMG_0002.jpg")
    cleaned = Image.open(io.BytesIO(checked.data))
    assert not {"exif", "xmp", "icc_profile", "comment"} & set(cleaned.info)
    assert dict(cleaned.getexif()) == {}
    for trace in (b"Exif", b"TestCam", b"XmpAuthorZhangsan", b"ICC_PROFILE", b"Zhangsan's"):
        assert trace not in checked.data
    assert _jpeg_markers(checked.data) <= _JPEG_KEPT  # whatever a later Pillow carries over
    assert cleaned.size == ((40, 20) if orientation == 1 else (20, 40))


def test_a_png_loses_its_colour_profile():
    out = io.BytesIO()
    Image.new("RGBA", (10, 10), (0, 0, 0, 0)).save(out, "PNG", icc_profile=_srgb_profile())
    assert "icc_profile" in Image.open(io.BytesIO(out.getvalue())).info
    checked = check_file(out.getvalue(), "截图.png")
    cleaned = Image.open(io.BytesIO(checked.data))
    assert cleaned.format == "PNG" and "icc_profile" not in cleaned.info
    assert b"iCCP" not in checked.data
    assert _png_chunks(checked.data) == {b"IHDR", b"IDAT", b"IEND"}


def test_pillow_keeps_a_few_freed_blocks_for_the_next_photo():
    """Four freed image blocks kept (the photos' CPU), no more (the process's memory)."""
    assert Image.core.get_blocks_max() == PHOTO_BLOCKS_KEPT == 4  # type: ignore[attr-defined]


def test_png_text_chunks_and_exif_are_dropped_and_it_stays_png():
    from PIL import PngImagePlugin

    info = PngImagePlugin.PngInfo()
    info.add_text("Author", "张三")
    img = Image.new("RGBA", (10, 10), (0, 0, 0, 0))
    out = io.BytesIO()
    exif = Image.Exif()
    exif[MAKE] = "TestCam"
    img.save(out, "PNG", pnginfo=info, exif=exif.tobytes())
    checked = check_file(out.getvalue(), "截图.png")
    cleaned = Image.open(io.BytesIO(checked.data))
    assert cleaned.format == "PNG" and cleaned.mode == "RGBA"
    assert "Author" not in cleaned.info and "exif" not in cleaned.info
    assert "张三".encode() not in checked.data and b"TestCam" not in checked.data


def test_webp_photo_becomes_a_clean_jpeg():
    checked = check_file(photo_with_gps("WEBP"), "a.webp")
    assert checked.mime_type == "image/jpeg" and checked.file_name == "a.jpg"
    assert dict(Image.open(io.BytesIO(checked.data)).getexif()) == {}


def test_heic_is_decoded_and_kept_as_a_clean_jpeg():
    pillow_heif = pytest.importorskip("pillow_heif")
    img = Image.new("RGB", (64, 32), (10, 120, 10))
    exif = Image.Exif()
    exif[MAKE] = "TestCam"
    out = io.BytesIO()
    try:
        pillow_heif.from_pillow(img).save(out, exif=exif.tobytes())
    except Exception as error:  # a libheif built without an HEVC encoder
        pytest.skip(f"no HEIC encoder here: {error}")
    data = out.getvalue()
    assert identify(data).name == "heic"
    checked = check_file(data, "IMG_2001.HEIC")
    assert checked.mime_type == "image/jpeg" and checked.file_name == "IMG_2001.jpg"
    cleaned = Image.open(io.BytesIO(checked.data))
    assert cleaned.size == (64, 32) and dict(cleaned.getexif()) == {}


def test_a_broken_photo_is_refused_plainly():
    with pytest.raises(InvalidInput, match="图片已损坏"):
        check_file(b"\xff\xd8\xff\xe0" + b"\0" * 100, "x.jpg")


def test_a_decompression_bomb_is_refused():
    out = io.BytesIO()
    Image.new("1", (10_000, 10_000)).save(out, "PNG")
    with pytest.raises(InvalidInput, match="尺寸过大"):
        check_file(out.getvalue(), "big.png")


@pytest.mark.parametrize(
    ("data", "name", "kind", "mime"),
    [
        (
            b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n",
            "报告.pdf",
            "document",
            "application/pdf",
        ),
        (
            docx_bytes(),
            "a.docx",
            "document",
            "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        ),
        (
            docx_bytes("openxmlformats-officedocument.presentationml.presentation.main+xml"),
            "a.pptx",
            "document",
            "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        ),
        (ole_bytes("WordDocument", "1Table"), "a.doc", "document", "application/msword"),
        (ole_bytes("Workbook"), "a.xls", "document", "application/vnd.ms-excel"),
        (ole_bytes("PowerPoint Document"), "a.ppt", "document", "application/vnd.ms-powerpoint"),
        (
            b"ID3\x04\0\0\0\0\0\x00" + b"\xff\xfb\x90\x00" + b"\0" * 400,
            "录音.mp3",
            "audio",
            "audio/mpeg",
        ),
        (b"\xff\xfb\x90\x00" + b"\0" * 400, "b.mp3", "audio", "audio/mpeg"),
        (b"#!AMR\n" + b"\x3c" * 32, "录音.amr", "audio", "audio/amr"),
        (wav_bytes(), "录音.wav", "audio", "audio/wav"),
        (
            ftyp(b"M4A ", b"M4A ", b"mp42", b"isom") + box(b"mdat", b"\0" * 16),
            "a.m4a",
            "audio",
            "audio/mp4",
        ),
        (
            ftyp(b"isom", b"isom", b"iso2", b"avc1", b"mp41") + box(b"mdat", b"\0" * 16),
            "v.mp4",
            "video",
            "video/mp4",
        ),
        (ftyp(b"qt  ", b"qt  ") + box(b"mdat", b"\0" * 16), "v.MOV", "video", "video/quicktime"),
        (box(b"wide", b"") + box(b"mdat", b"\0" * 16), "old.mov", "video", "video/quicktime"),
    ],
)
def test_accepted_formats_are_told_by_their_content(data, name, kind, mime):
    checked = check_file(data, name)
    assert checked.kind.value == kind and checked.mime_type == mime


def test_a_real_xlsx_from_openpyxl_is_a_spreadsheet():
    openpyxl = pytest.importorskip("openpyxl")
    book = openpyxl.Workbook()
    book.active["A1"] = "金额"
    out = io.BytesIO()
    book.save(out)
    assert check_file(out.getvalue(), "台账.xlsx").format.name == "xlsx"


def test_the_name_does_not_decide_the_type():
    checked = check_file(b"%PDF-1.7\n%%EOF\n", "照片.jpg")
    assert checked.format.name == "pdf" and checked.file_name == "照片.pdf"


@pytest.mark.parametrize(
    ("data", "name"),
    [
        (
            b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff" + b"\0" * 200,
            "photo.jpg",
        ),  # Windows exe
        (b"\x7fELF\x02\x01\x01" + b"\0" * 200, "photo.jpg"),  # Linux executable
        (b"#!/bin/sh\nrm -rf /\n", "photo.jpg"),
        (b"<html><script>alert(1)</script></html>", "a.pdf"),
        (b"@echo off\r\nformat c:\r\n", "a.doc"),
        (b"PK\x03\x04" + b"\0" * 100, "a.docx"),  # a broken zip
        (docx_bytes("oasis.opendocument.text"), "a.docx"),
        (ole_bytes("SummaryInformation", "!_StringData"), "setup.doc"),  # an MSI installer's shape
        (ftyp(b"avif", b"avif", b"mif1"), "a.heic"),
        (b"GIF89a\x01\x00\x01\x00", "a.gif"),
    ],
)
def test_anything_else_is_refused_with_the_list_of_what_is_accepted(data, name):
    with pytest.raises(InvalidInput) as error:
        check_file(data, name)
    assert str(error.value) == REFUSED
    assert "无法接收此文件" in REFUSED and "PDF" in REFUSED


@pytest.mark.parametrize(
    "data",
    [
        docx_bytes(extra={"word/vbaProject.bin": b"\0"}),
        docx_bytes("ms-word.document.macroEnabled.main+xml"),
        ole_bytes("WordDocument", "Macros"),
        ole_bytes("Workbook", "_VBA_PROJECT_CUR"),
    ],
)
def test_office_files_with_macros_are_refused(data):
    with pytest.raises(InvalidInput, match="含有宏"):
        check_file(data, "a.doc")


def test_empty_file_is_refused():
    with pytest.raises(InvalidInput, match="文件为空"):
        check_file(b"", "a.jpg")


def test_movie_location_and_camera_are_blanked_and_offsets_kept():
    location = box(b"\xa9xyz", b"+30.5+105.6/")
    udta = box(b"udta", location + box(b"\xa9mak", b"Apple"))
    meta = box(b"meta", b"\0\0\0\0" + box(b"keys", b"com.apple.quicktime.location.ISO6709"))
    trak = box(b"trak", box(b"tkhd", b"\0" * 20) + box(b"udta", box(b"name", b"ZhangSan")))
    moov = box(b"moov", box(b"mvhd", b"\0" * 20) + udta + meta + trak)
    mdat = box(b"mdat", b"frames")
    original = ftyp(b"qt  ", b"qt  ") + moov + mdat
    cleaned = check_file(original, "v.mov").data
    assert len(cleaned) == len(original)
    assert cleaned.endswith(mdat)
    for secret in (b"+30.5+105.6", b"Apple", b"location", b"ZhangSan"):
        assert secret not in cleaned
    assert b"mvhd" in cleaned and b"tkhd" in cleaned
    assert strip_movie_metadata(cleaned) == cleaned


def test_mp3_tags_are_dropped():
    tag = b"TIT2" + struct.pack(">I", 6) + b"\0\0" + b"\0name"
    id3 = b"ID3\x03\0\0" + bytes([0, 0, 0, len(tag)]) + tag
    frames = b"\xff\xfb\x90\x00" + b"\x11" * 400
    v1 = b"TAG" + b"ZhangSan".ljust(125, b"\0")
    cleaned = check_file(id3 + frames + v1, "a.mp3").data
    assert cleaned == frames


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("C:\\Users\\张三\\Desktop\\举报材料.docx", "举报材料.pdf"),
        ("../../etc/passwd", "passwd.pdf"),
        ("\u202egpj.exe", "gpj.pdf"),
        (None, "材料.pdf"),
        ("...", "材料.pdf"),
        ("x" * 300 + ".pdf", "x" * 80 + ".pdf"),
    ],
)
def test_file_names_are_cleaned_and_take_the_real_extension(name, expected):
    from models.filecheck import PDF

    assert safe_file_name(name, PDF) == expected
