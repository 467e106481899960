"""What a reporter's uploaded file really is, told by its bytes (never its name or the type the
browser claims), and the file made safe to keep: photos re-encoded from their pixels alone, so no
EXIF, GPS, camera or XMP survives. Pure: bytes in, bytes out, or ``InvalidInput`` in Chinese.

The accepted formats are a closed list, so they are recognised here by their own signatures and
container structure (ZIP content types, OLE2 streams, ISO-BMFF brands) rather than by a general
guesser: a whitelist that says exactly what passes.
"""

from __future__ import annotations

import io
import os
import re
import unicodedata
import warnings
import zipfile
from dataclasses import dataclass
from pathlib import PurePosixPath, PureWindowsPath
from typing import Any

import olefile
import pillow_heif
from PIL import Image, ImageCms, ImageOps

from models.attachment import MediaKind
from models.errors import InvalidInput

pillow_heif.register_heif_opener()

PHOTO_BLOCKS_KEPT = 4
"""Freed image blocks Pillow keeps for the next photo instead of handing them back to the system
(a block is at most 16 MB, so at most 64 MB kept; a 1600x1200 photo's image is one block of
7.7 MB): a fresh block is zeroed page by page by the system as it is filled, about 5 ms of CPU
for each such image, and each photo makes two. Set for the whole process (bot, web, commands)
when this module is imported; ``PILLOW_BLOCKS_MAX`` or ``PILLOW_BLOCK_SIZE`` in the environment
leave Pillow's own settings alone (a larger block size would make four blocks more than 64 MB)."""
if not {"PILLOW_BLOCKS_MAX", "PILLOW_BLOCK_SIZE"} & os.environ.keys():
    Image.core.set_blocks_max(PHOTO_BLOCKS_KEPT)  # type: ignore[attr-defined]

PHOTO_MAX_PIXELS = 50_000_000  # a 50-megapixel photo; larger is a decompression bomb or a scan
JPEG_QUALITY = 90
_CONTENT_TYPES_MAX = 1 << 20  # [Content_Types].xml of a real Office file is a few KB
FILE_NAME_MAX = 80

REFUSED = (
    "无法接收此文件：仅支持图片（JPG、PNG、WebP、HEIC）、PDF、Word/Excel/PowerPoint 文档、"
    "音频（MP3、M4A、AMR、WAV）和视频（MP4、MOV）。"
)
_MACROS = (
    "此文件含有宏，出于安全考虑无法接收。请另存为不含宏的文档（如 .docx、.xlsx）或 PDF 后重新上传。"
)
_BROKEN_PHOTO = "图片已损坏或无法识别，请重新拍摄或选择其他图片。"


@dataclass(frozen=True, slots=True)
class Format:
    """One accepted format: how it is kept, shown and sent."""

    name: str
    kind: MediaKind
    mime_type: str
    extension: str


JPEG = Format("jpeg", MediaKind.PHOTO, "image/jpeg", "jpg")
PNG = Format("png", MediaKind.PHOTO, "image/png", "png")
WEBP = Format("webp", MediaKind.PHOTO, "image/webp", "webp")
HEIC = Format("heic", MediaKind.PHOTO, "image/heic", "heic")
PDF = Format("pdf", MediaKind.DOCUMENT, "application/pdf", "pdf")
DOCX = Format(
    "docx",
    MediaKind.DOCUMENT,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "docx",
)
XLSX = Format(
    "xlsx",
    MediaKind.DOCUMENT,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "xlsx",
)
PPTX = Format(
    "pptx",
    MediaKind.DOCUMENT,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "pptx",
)
DOC = Format("doc", MediaKind.DOCUMENT, "application/msword", "doc")
XLS = Format("xls", MediaKind.DOCUMENT, "application/vnd.ms-excel", "xls")
PPT = Format("ppt", MediaKind.DOCUMENT, "application/vnd.ms-powerpoint", "ppt")
MP3 = Format("mp3", MediaKind.AUDIO, "audio/mpeg", "mp3")
M4A = Format("m4a", MediaKind.AUDIO, "audio/mp4", "m4a")
AMR = Format("amr", MediaKind.AUDIO, "audio/amr", "amr")
WAV = Format("wav", MediaKind.AUDIO, "audio/wav", "wav")
MP4 = Format("mp4", MediaKind.VIDEO, "video/mp4", "mp4")
MOV = Format("mov", MediaKind.VIDEO, "video/quicktime", "mov")

_OOXML_MAIN = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml": DOCX,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet.main+xml": XLSX,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation.main+xml": PPTX,
}
_OOXML_MACRO = re.compile(rb"macroEnabled|vbaProject", re.IGNORECASE)
_HEIF_BRANDS = frozenset({b"heic", b"heix", b"heim", b"heis", b"hevc", b"hevx"})
_M4A_BRANDS = frozenset({b"M4A ", b"M4B ", b"M4P "})
_MP4_BRANDS = frozenset(
    {b"isom", b"iso2", b"iso4", b"iso5", b"iso6", b"mp41", b"mp42", b"avc1", b"M4V ", b"MSNV"}
    | {b"3gp4", b"3gp5", b"3gp6", b"3g2a", b"dash", b"f4v ", b"mmp4"}
)
_QUICKTIME_ATOMS = frozenset({b"moov", b"mdat", b"wide", b"free", b"skip", b"pnot"})


@dataclass(frozen=True, slots=True)
class CheckedFile:
    """A file that passed: its format, the bytes to keep (cleaned) and a name safe to show."""

    format: Format
    data: bytes
    file_name: str

    @property
    def kind(self) -> MediaKind:
        return self.format.kind

    @property
    def mime_type(self) -> str:
        return self.format.mime_type


def _ftyp_brands(data: bytes) -> set[bytes] | None:
    """The major and compatible brands of an ISO-BMFF file (MP4, MOV, M4A, HEIC), else None."""
    if len(data) < 16 or data[4:8] != b"ftyp":
        return None
    size = int.from_bytes(data[0:4], "big")
    if size < 16 or size > min(len(data), 4096):
        return None
    brands = {data[8:12]}
    brands.update(data[i : i + 4] for i in range(16, size - 3, 4))
    return brands


def _office_zip(data: bytes) -> Format:
    """A ZIP is an Office document only with the main part's content type; macros refused."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            names = archive.namelist()
            info = archive.getinfo("[Content_Types].xml")
            if info.file_size > _CONTENT_TYPES_MAX:
                raise InvalidInput(REFUSED)
            types = archive.read(info)
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError, NotImplementedError):
        raise InvalidInput(REFUSED) from None
    if _OOXML_MACRO.search(types) or any(name.lower().endswith("vbaproject.bin") for name in names):
        raise InvalidInput(_MACROS)
    for content_type, fmt in _OOXML_MAIN.items():
        if content_type.encode() in types:
            return fmt
    raise InvalidInput(REFUSED)


def _office_ole(data: bytes) -> Format:
    """An OLE2 file is a legacy Word, Excel or PowerPoint file by its main stream; installers
    (MSI), encrypted packages and anything else are refused, and so are macros."""
    try:
        with olefile.OleFileIO(data) as ole:
            streams = {
                "/".join(entry).lower() for entry in ole.listdir(streams=True, storages=True)
            }
    except (OSError, ValueError, IndexError, TypeError):
        raise InvalidInput(REFUSED) from None
    if any("vba" in name or name.startswith("macros") for name in streams):
        raise InvalidInput(_MACROS)
    if "worddocument" in streams:
        return DOC
    if "workbook" in streams or "book" in streams:
        return XLS
    if "powerpoint document" in streams:
        return PPT
    raise InvalidInput(REFUSED)


def identify(data: bytes) -> Format:
    """The accepted format these bytes are, by their content alone; else ``InvalidInput``."""
    head = data[:64]
    if head.startswith(b"\xff\xd8\xff"):
        return JPEG
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return PNG
    if head[:4] == b"RIFF" and head[8:12] == b"WEBP":
        return WEBP
    if head[:4] == b"RIFF" and head[8:12] == b"WAVE":
        return WAV
    if head.startswith(b"%PDF-"):
        return PDF
    if head.startswith(b"PK\x03\x04"):
        return _office_zip(data)
    if head.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return _office_ole(data)
    if head.startswith((b"#!AMR\n", b"#!AMR-WB\n")):
        return AMR
    if head.startswith(b"ID3") or (
        len(head) >= 2 and head[0] == 0xFF and head[1] & 0xE0 == 0xE0 and head[1] & 0x06 == 0x02
    ):
        return MP3  # an ID3 tag, or an MPEG audio layer III frame
    brands = _ftyp_brands(data)
    if brands is not None:
        if brands & _HEIF_BRANDS:
            return HEIC
        if brands & _M4A_BRANDS:
            return M4A
        if b"qt  " in brands:
            return MOV
        if brands & _MP4_BRANDS:
            return MP4
        raise InvalidInput(REFUSED)
    if head[4:8] in _QUICKTIME_ATOMS and int.from_bytes(head[0:4], "big") >= 8:
        return MOV  # an old QuickTime movie, without a ftyp box
    raise InvalidInput(REFUSED)


def _srgb(img: Image.Image) -> Image.Image:
    """Colours converted to sRGB from an embedded profile (Display P3 on phones), so dropping
    the profile does not dull them; a profile that cannot be read is simply dropped."""
    icc = img.info.get("icc_profile")
    if not icc or img.mode not in ("RGB", "RGBA"):
        return img
    try:
        source = ImageCms.ImageCmsProfile(io.BytesIO(icc))
        converted = ImageCms.profileToProfile(
            img, source, ImageCms.createProfile("sRGB"), outputMode=img.mode
        )
    except (ImageCms.PyCMSError, OSError, ValueError):
        return img
    return converted if converted is not None else img


def clean_photo(data: bytes, fmt: Format) -> tuple[Format, bytes]:
    """A photo rebuilt from its pixels: turned upright by its EXIF orientation first, then saved
    with no metadata at all (EXIF, GPS, camera, XMP, ICC, text chunks). Photos and HEIC become
    JPEG; PNG (screenshots, drawings) stays PNG, keeping sharp edges, and so does a transparent
    WebP; other WebP become JPEG."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            with Image.open(io.BytesIO(data), formats=["JPEG", "PNG", "WEBP", "HEIF"]) as opened:
                if opened.width * opened.height > PHOTO_MAX_PIXELS:
                    raise InvalidInput("图片尺寸过大，请缩小后重新上传。")
                opened.load()
                ImageOps.exif_transpose(opened, in_place=True)  # turned, not copied
                img = _srgb(opened)
                transparent = img.mode in ("RGBA", "LA", "PA") or (
                    img.mode == "P" and "transparency" in img.info
                )
                lossless = fmt is PNG or (fmt is WEBP and transparent)
                if transparent and lossless:
                    mode = "RGBA"
                elif img.mode in ("L", "LA", "1", "I", "I;16", "F"):
                    mode = "L"
                else:
                    mode = "RGB"
                if img.mode != mode:
                    img = img.convert(mode)
                # A new image (no info, no EXIF, no palette: what ``Image.frombytes`` makes)
                # given the pixels alone, copied in place of a round trip through bytes.
                clean = Image.new(mode, img.size, None)
                clean.paste(img)
    except InvalidInput:
        raise
    except (Image.DecompressionBombWarning, Image.DecompressionBombError):
        raise InvalidInput("图片尺寸过大，请缩小后重新上传。") from None
    except (OSError, ValueError, SyntaxError, MemoryError, Warning):
        raise InvalidInput(_BROKEN_PHOTO) from None
    out = io.BytesIO()
    if lossless:
        clean.save(out, "PNG", optimize=True)
        return PNG, out.getvalue()
    # Without optimize=True (a second pass for Huffman tables of its own): about 8 ms of CPU a
    # 1600x1200 photo instead of 21, for a file about 4 % larger.
    clean.save(out, "JPEG", quality=JPEG_QUALITY)
    return JPEG, out.getvalue()


_BOX_HEADER = 8
_MOVIE_CONTAINERS = frozenset({b"moov", b"trak"})
_MOVIE_METADATA = frozenset({b"udta", b"meta"})


def _boxes(data: bytearray, start: int, end: int) -> list[tuple[bytes, int, int]]:
    """(type, offset, size) of the ISO-BMFF boxes between ``start`` and ``end``."""
    found = []
    at = start
    while at + _BOX_HEADER <= end:
        size = int.from_bytes(data[at : at + 4], "big")
        kind = bytes(data[at + 4 : at + 8])
        if size == 1 and at + 16 <= end:
            size = int.from_bytes(data[at + 8 : at + 16], "big")
        elif size == 0:
            size = end - at
        if size < _BOX_HEADER or at + size > end:
            break
        found.append((kind, at, size))
        at += size
    return found


def strip_movie_metadata(data: bytes) -> bytes:
    """An MP4, MOV or M4A with its user data and metadata boxes (``udta``, ``meta`` in the movie
    and its tracks: a phone's location, model and software) blanked into ``free`` boxes of the
    same size, so every media offset stays valid and the file still plays."""
    out = bytearray(data)
    pending = [(0, len(out))]
    while pending:
        start, end = pending.pop()
        for kind, at, size in _boxes(out, start, end):
            if kind in _MOVIE_CONTAINERS:
                pending.append((at + _BOX_HEADER, at + size))
            elif kind in _MOVIE_METADATA and start > 0:
                header = 16 if int.from_bytes(out[at : at + 4], "big") == 1 else _BOX_HEADER
                out[at + 4 : at + 8] = b"free"
                out[at + header : at + size] = bytes(size - header)
    return bytes(out)


def strip_id3(data: bytes) -> bytes:
    """An MP3 without its ID3 tags (title, artist, comments, pictures, the recorder's name)."""
    while data.startswith(b"ID3") and len(data) >= 10:
        size = 0
        for byte in data[6:10]:
            size = (size << 7) | (byte & 0x7F)
        footer = 10 if data[5] & 0x10 else 0
        data = data[10 + size + footer :]
    if len(data) >= 128 and data[-128:-125] == b"TAG":
        data = data[:-128]
    if not data:
        raise InvalidInput(REFUSED)
    return data


def clean_name(name: str | None) -> str:
    """A file's own name fit to show and keep: no path, no control or direction marks, at most
    ``FILE_NAME_MAX`` characters before its extension; empty if nothing is left."""
    raw = unicodedata.normalize("NFC", name or "")
    base = PureWindowsPath(PurePosixPath(raw).name).name
    base = "".join(ch for ch in base if unicodedata.category(ch)[0] not in ("C", "Z") or ch == " ")
    stem, dot, extension = base.rpartition(".")
    if not dot:
        stem, extension = base, ""
    stem = stem.strip(" .")[:FILE_NAME_MAX]
    return f"{stem}.{extension[:10]}" if stem and extension else stem


def safe_file_name(name: str | None, fmt: Format) -> str:
    """The file's own name, cleaned, with the extension of what it really is."""
    stem = clean_name(name)
    if "." in stem:
        stem = stem.rsplit(".", 1)[0]
    return f"{stem or '材料'}.{fmt.extension}"


def check_file(data: bytes, name: str | None = None) -> CheckedFile:
    """An uploaded file recognised by its content and made safe to keep; ``InvalidInput``
    (in Chinese, naming what is accepted) for anything else."""
    if not data:
        raise InvalidInput("文件为空，请重新选择。")
    fmt, data = without_metadata(data, identify(data))
    return CheckedFile(format=fmt, data=data, file_name=safe_file_name(name, fmt))


def without_metadata(data: bytes, fmt: Format) -> tuple[Format, bytes]:
    """What can name the person who made a file taken out: a photo rebuilt from its pixels;
    a movie's or an M4A's user data and metadata boxes blanked; an MP3's ID3 tags removed; a
    PDF's document information and XMP, an Office document's properties cleared. A document
    this cannot read is kept as sent here (a reporter's upload is not refused for it):
    ``clean_material`` is the strict form, for what staff are shown of a confidential case."""
    try:
        return clean_strictly(data, fmt)
    except InvalidInput:
        if fmt.kind is MediaKind.DOCUMENT:
            return fmt, data
        raise


def clean_strictly(data: bytes, fmt: Format) -> tuple[Format, bytes]:
    """``without_metadata``, refusing (``InvalidInput``) a document it cannot clean."""
    if fmt.kind is MediaKind.PHOTO:
        return clean_photo(data, fmt)
    if fmt in (MP4, MOV, M4A):
        return fmt, strip_movie_metadata(data)
    if fmt is MP3:
        return fmt, strip_id3(data)
    if fmt is PDF:
        return fmt, clean_pdf(data)
    if fmt in (DOCX, XLSX, PPTX):
        return fmt, clean_ooxml(data)
    if fmt in (DOC, XLS, PPT):
        return fmt, clean_ole(data)
    return fmt, data


UNCLEANABLE = "该文件无法自动清除作者等属性信息，为保护反映人身份，未向承办人员提供。"


@dataclass(frozen=True, slots=True)
class Material:
    """A file of a confidential case as staff get it: cleaned and named 材料N.ext."""

    data: bytes
    file_name: str


def material_name(number: int, extension: str) -> str:
    """``材料3.pdf``: the name staff see for the third file of an anonymous case or a clue."""
    return f"材料{number}.{extension}" if extension else f"材料{number}"


def clean_material(data: bytes, number: int, *, stored: bool = False) -> Material:
    """A file of an anonymous case or a clue made fit for staff: cleaned by what it really is
    and named ``材料N.ext``. ``stored``: a web upload, whose photo or recording was cleaned
    when it was kept (documents are cleaned again: older ones were kept as sent). A Telegram
    voice note (Ogg, recorded in the app) is passed as it is; anything else that cannot be
    cleaned is ``InvalidInput`` (``UNCLEANABLE``): withheld rather than shown with its author."""
    if data.startswith(b"OggS"):
        return Material(data, material_name(number, "ogg"))
    try:
        fmt = identify(data)
        if stored and fmt.kind is not MediaKind.DOCUMENT:
            return Material(data, material_name(number, fmt.extension))
        fmt, clean = clean_strictly(data, fmt)
    except InvalidInput:
        raise InvalidInput(UNCLEANABLE) from None
    return Material(clean, material_name(number, fmt.extension))


_PDF_UNREADABLE = "PDF 文件无法读取（可能已加密或损坏），请另存为普通 PDF 后重新上传。"
_PDF_PRIVATE = ("/Metadata", "/PieceInfo")


def _is_comment(holder: dict[object, object]) -> bool:
    """An annotation someone added (a note, a highlight, a stamp): not a form field (whose /T
    is the field's name) nor a link."""
    return "/Rect" in holder and holder.get("/Subtype") not in (None, "/Widget", "/Link")


def _forget_author(holder: Any) -> None:
    """A comment's /T is who wrote it, its dates when: removed (a form field keeps its name)."""
    from pypdf.generic import NameObject

    if _is_comment(holder):
        for key in ("/T", "/M", "/CreationDate"):
            holder.pop(NameObject(key), None)


def clean_pdf(data: bytes) -> bytes:
    """A PDF rewritten without its document information (author, creator, producer, title,
    dates) and its XMP metadata streams (the document's, a page's, an image's), and without
    the objects nothing refers to any more; an encrypted or unreadable PDF is ``InvalidInput``."""
    from pypdf import PdfReader, PdfWriter
    from pypdf.generic import ArrayObject, DictionaryObject, NameObject

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            reader = PdfReader(io.BytesIO(data), strict=False)
            if reader.is_encrypted:
                raise InvalidInput(_PDF_UNREADABLE)
            writer = PdfWriter(clone_from=reader)
            writer.metadata = None
            for holder in writer._objects:  # the catalog, pages, images and fonts alike
                if isinstance(holder, DictionaryObject):
                    for key in _PDF_PRIVATE:
                        holder.pop(NameObject(key), None)
                    _forget_author(holder)
            for page in writer.pages:  # annotations written inline in a page's /Annots
                annotations = page.get("/Annots")
                annotations = annotations.get_object() if annotations is not None else None
                for item in annotations if isinstance(annotations, ArrayObject) else []:
                    annotation = item.get_object()
                    if isinstance(annotation, DictionaryObject):
                        _forget_author(annotation)
                        popup = annotation.get("/Popup")
                        if isinstance(popup, DictionaryObject):
                            _forget_author(popup)
            writer.compress_identical_objects(remove_duplicates=False, remove_unreferenced=True)
            out = io.BytesIO()
            writer.write(out)
    except InvalidInput:
        raise
    except Exception:  # pypdf's errors on a malformed file are many and not one family
        raise InvalidInput(_PDF_UNREADABLE) from None
    return out.getvalue()


_OFFICE_UNREADABLE = "文档无法读取或已损坏，请另存后重新上传。"
_OOXML_MAX = 200 * 1024 * 1024  # unpacked: a 20 MB document of text does not come near
_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)
_CP = "http://schemas.openxmlformats.org/package/2006/metadata/core-properties"
_EP = "http://schemas.openxmlformats.org/officeDocument/2006/extended-properties"
_UP = "http://schemas.openxmlformats.org/officeDocument/2006/custom-properties"
_VT = "http://schemas.openxmlformats.org/officeDocument/2006/docPropsVTypes"
_XML = '<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\r\n'
_EMPTY_PROPERTIES = {
    "docprops/core.xml": (
        f'{_XML}<cp:coreProperties xmlns:cp="{_CP}" '
        'xmlns:dc="http://purl.org/dc/elements/1.1/" xmlns:dcterms="http://purl.org/dc/terms/" '
        'xmlns:dcmitype="http://purl.org/dc/dcmitype/" '
        'xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"></cp:coreProperties>'
    ),
    "docprops/app.xml": f'{_XML}<Properties xmlns="{_EP}" xmlns:vt="{_VT}"></Properties>',
    "docprops/custom.xml": f'{_XML}<Properties xmlns="{_UP}" xmlns:vt="{_VT}"></Properties>',
}


_WORD_PEOPLE = re.compile(rb'(\s(?:w\d*:author|w\d*:initials|w15:userId|w15:providerId)=)"[^"]*"')
_LISTED_PEOPLE = re.compile(rb'(\s(?:name|initials|displayName|userId|providerId)=)"[^"]*"')
_EXCEL_AUTHORS = re.compile(rb"(<author>)[^<]*(</author>)")
_PEOPLE_PARTS = ("xl/persons/", "ppt/commentauthors.xml", "ppt/authors.xml")


def _without_people(name: str, body: bytes) -> bytes:
    """An Office part with the names it keeps of people blanked: who made a revision or a
    comment (Word's ``w:author``, ``w:initials``, and ``people.xml``'s account ids), Excel's
    comment authors and persons, PowerPoint's comment authors. The text itself is unchanged."""
    body = _WORD_PEOPLE.sub(rb'\1""', body)
    body = _EXCEL_AUTHORS.sub(rb"\1\2", body)
    if name.startswith(_PEOPLE_PARTS):
        body = _LISTED_PEOPLE.sub(rb'\1""', body)
    return body


def clean_ooxml(data: bytes) -> bytes:
    """A Word, Excel or PowerPoint file (a ZIP) rewritten with empty document properties
    (``docProps/core.xml``: author, last modified by, title, dates; ``app.xml``: company,
    manager, application; ``custom.xml``), the names of who revised or commented blanked, and
    every entry dated 1980-01-01 (a ZIP entry's time is the author's clock). The text, tables
    and pictures are copied unchanged."""
    out = io.BytesIO()
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as source:
            entries = source.infolist()
            if sum(entry.file_size for entry in entries) > _OOXML_MAX:
                raise InvalidInput(_OFFICE_UNREADABLE)
            with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
                for entry in entries:
                    empty = _EMPTY_PROPERTIES.get(entry.filename.lower())
                    body = empty.encode() if empty is not None else source.read(entry)
                    if empty is None and entry.filename.lower().endswith(".xml"):
                        body = _without_people(entry.filename.lower(), body)
                    info = zipfile.ZipInfo(entry.filename, date_time=_ZIP_EPOCH)
                    info.compress_type = zipfile.ZIP_DEFLATED
                    target.writestr(info, body)
    except InvalidInput:
        raise
    except (zipfile.BadZipFile, KeyError, OSError, EOFError, ValueError, NotImplementedError):
        raise InvalidInput(_OFFICE_UNREADABLE) from None
    return out.getvalue()


_PROPERTY_STREAMS = ("\x05SummaryInformation", "\x05DocumentSummaryInformation")
_VT_LPSTR, _VT_LPWSTR, _VT_FILETIME, _VT_BLOB, _VT_CF = 0x1E, 0x1F, 0x40, 0x41, 0x47
_VT_VECTOR, _VT_VARIANT = 0x1000, 0x0C
_FIXED_SIZES = {0x02: 4, 0x03: 4, 0x0B: 4, 0x12: 4, 0x13: 4, 0x05: 8, 0x14: 8, 0x15: 8}


def _u32(data: bytearray, at: int) -> int:
    if at < 0 or at + 4 > len(data):
        raise ValueError("outside the stream")
    return int.from_bytes(data[at : at + 4], "little")


def _blank(data: bytearray, start: int, length: int) -> None:
    if length < 0 or start + length > len(data):
        raise ValueError("outside the stream")
    data[start : start + length] = bytes(length)


def _blank_value(data: bytearray, at: int, vt: int) -> int:
    """Zero the text, times and blobs of one typed value at ``at``; where it ends."""
    if vt & _VT_VECTOR:
        count, at = _u32(data, at), at + 4
        for _ in range(min(count, 10_000)):
            item = vt & ~_VT_VECTOR
            if item == _VT_VARIANT:
                item, at = _u32(data, at) & 0xFFFF, at + 4
            at = _blank_value(data, at, item)
        return at
    if vt in (_VT_LPSTR, _VT_BLOB, _VT_CF, 0x08):
        size = _u32(data, at)
        _blank(data, at + 4, size)
        return at + 4 + (size + 3) // 4 * 4
    if vt == _VT_LPWSTR:
        size = _u32(data, at) * 2
        _blank(data, at + 4, size)
        return at + 4 + (size + 3) // 4 * 4
    if vt == _VT_FILETIME:
        _blank(data, at, 8)
        return at + 8
    if vt in _FIXED_SIZES:
        return at + _FIXED_SIZES[vt]
    raise ValueError(f"property type {vt:#x} not known")


def blank_property_set(stream: bytes) -> bytes:
    """An OLE property set (SummaryInformation: title, author, last saved by, dates, the
    thumbnail; DocumentSummaryInformation: company, manager, custom properties) with every
    text, time and blob value zeroed in place, so its size and layout are unchanged."""
    data = bytearray(stream)
    sections = _u32(data, 24)
    for number in range(min(sections, 8)):
        section = _u32(data, 28 + number * 20 + 16)
        count = _u32(data, section + 4)
        for index in range(min(count, 10_000)):
            ident = _u32(data, section + 8 + index * 8)
            if ident in (0, 1):  # the dictionary of names, the code page
                continue
            at = section + _u32(data, section + 12 + index * 8)
            _blank_value(data, at + 4, _u32(data, at) & 0xFFFF)
    return bytes(data)


def clean_ole(data: bytes) -> bytes:
    """A legacy .doc, .xls or .ppt with its summary information (author, last saved by,
    company, title, dates, thumbnail) blanked in place; one this cannot read is refused."""
    buffer = io.BytesIO(data)
    try:
        with olefile.OleFileIO(buffer, write_mode=True) as ole:
            for name in _PROPERTY_STREAMS:
                if ole.exists(name):
                    ole.write_stream(name, blank_property_set(ole.openstream(name).read()))
    except (OSError, ValueError, IndexError, TypeError):
        raise InvalidInput(_OFFICE_UNREADABLE) from None
    return buffer.getvalue()
