"""Reading the enterprise list: UTF-8 with or without BOM, GBK, Chinese or English headers,
and bad rows named by the line a person sees in the file."""

from __future__ import annotations

import pytest

from cards.csvfile import CsvFileError, read_enterprise_list

GOOD_USCC = "91350100M000100Y43"
BAD_USCC = "91350100M000100Y44"

LIST = (
    "企业名称,统一社会信用代码,园区,法定代表人\n"
    "遂宁安居某某新材料科技有限公司,91350100M000100Y43,安居经开区,张三\n"
    "安居区玉丰镇某某农业发展有限公司,,yufeng,\n"
)


def test_utf8_with_and_without_bom_and_gbk_read_the_same() -> None:
    plain = read_enterprise_list(LIST.encode("utf-8"))
    with_bom = read_enterprise_list(LIST.encode("utf-8-sig"))
    gbk = read_enterprise_list(LIST.encode("gbk"))
    assert plain.rows == with_bom.rows == gbk.rows
    assert (plain.encoding, with_bom.encoding, gbk.encoding) == ("utf-8", "utf-8", "gbk")
    first, second = plain.rows
    assert (first.line, first.name, first.uscc, first.zone, first.legal_rep) == (
        2,
        "遂宁安居某某新材料科技有限公司",
        GOOD_USCC,
        "安居经开区",
        "张三",
    )
    assert (second.line, second.uscc, second.zone, second.legal_rep) == (3, None, "yufeng", None)
    assert plain.problems == []


def test_english_headers_in_any_order_and_extra_columns_are_accepted() -> None:
    text = "Zone,Remarks,Name,USCC,Legal_Rep\njkq,备注,安居某某公司,91350100m000100y43,李四\n"
    (row,) = read_enterprise_list(text.encode()).rows
    assert (row.name, row.uscc, row.zone, row.legal_rep) == (
        "安居某某公司",
        GOOD_USCC,
        "jkq",
        "李四",
    )


def test_bad_rows_are_named_by_their_line_in_the_file_and_the_good_ones_kept() -> None:
    text = (
        "企业名称,统一社会信用代码,园区,法定代表人\n"  # line 1
        "好企业甲,,,\n"  # 2
        ",91350100M000100Y43,,\n"  # 3: no name
        "\n"  # 4: blank, ignored
        '"两行\n的企业乙",,,\n'  # 5–6: a quoted line break
        f"校验位错误的企业,{BAD_USCC},,\n"  # 7
        "位数不够的企业,9135010,,\n"  # 8
        "好企业丙,９１３５０１００Ｍ０００１００Ｙ４３,,\n"  # 9: full-width digits are fine
    )
    result = read_enterprise_list(text.encode("gbk"))
    assert [(row.line, row.name) for row in result.rows] == [
        (2, "好企业甲"),
        (5, "两行 的企业乙"),
        (9, "好企业丙"),
    ]
    assert result.rows[2].uscc == GOOD_USCC
    assert [(p.line, p.message) for p in result.problems] == [
        (3, "企业名称为空"),
        (7, "统一社会信用代码校验位不正确"),
        (8, "统一社会信用代码应为18位，当前为7位"),
    ]


def test_a_file_without_a_name_column_is_refused_as_a_whole() -> None:
    with pytest.raises(CsvFileError, match="企业名称"):
        read_enterprise_list("公司,代码\n甲,1\n".encode())


def test_an_empty_file_is_refused() -> None:
    with pytest.raises(CsvFileError, match="文件为空"):
        read_enterprise_list(b"\n\n")


def test_a_file_in_neither_utf8_nor_gbk_is_refused_with_advice() -> None:
    with pytest.raises(CsvFileError, match="UTF-8 或 GBK"):
        read_enterprise_list(b"\xff\xfe\x00\x00name\n\x81\x30")
