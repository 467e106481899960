"""The configuration file: the shipped example is valid; every mistake is named, never a traceback."""

from __future__ import annotations

from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, parse_config
from models.org import Track
from tests.conftest import ROOT

EXAMPLE = (ROOT / "lianka.example.toml").read_text(encoding="utf-8")


def problems_of(text: str) -> list[str]:
    with pytest.raises(ConfigError) as raised:
        parse_config(text, Path("lianka.toml"))
    return [str(p) for p in raised.value.problems]


def test_the_example_reproduces_the_article() -> None:
    config = load_config(ROOT / "lianka.example.toml")
    assert config.organisation.name == "安居区纪委监委"
    assert config.organisation.case_prefix == "AJ"
    assert config.zone("jkq").issuing_unit == "安居经开区纪工委"
    names = [c.name for c in config.categories]
    assert len(names) == 9
    for area in (
        "营商环境",
        "重点项目建设",
        "国资国企腐败",
        "脱贫攻坚同乡村振兴有效衔接",
        "安全生产",
        "“四风”问题",
        "惠企政策落实",
        "涉企执法检查",
        "其他",
    ):
        assert area in names
    assert config.category("soe_corruption").track is Track.CLUE
    assert config.category("four_styles").track is Track.CLUE
    assert config.dispatcher.name == "信访室"


def test_deadline_ladders_default_to_the_design_and_categories_can_override() -> None:
    config = load_config(ROOT / "lianka.example.toml")
    appeal = config.ladder_for("business_env")
    assert (appeal.accept, appeal.first_reply, appeal.resolve) == (1, 3, 15)
    assert (appeal.followup_ask, appeal.followup_wait) == (1, 3)
    assert config.ladder_for("soe_corruption").resolve == 30
    assert config.ladder_for("work_safety").resolve == 10


def test_a_typo_in_a_key_is_named_with_the_team_it_is_in() -> None:
    text = EXAMPLE.replace(
        'categories = ["key_projects"]\nassignment', 'catgories = ["key_projects"]\nassignment'
    )
    assert problems_of(text) == ["teams[key_projects].catgories: 未知的配置项 (unknown key)"]


def test_a_team_naming_an_unknown_category_is_refused() -> None:
    text = EXAMPLE.replace(
        'categories = ["four_styles"]\nassignment', 'categories = ["4feng"]\nassignment'
    )
    assert problems_of(text) == [
        "teams[four_styles].categories: 未知的监督事项 “4feng” (unknown category)"
    ]


def test_a_rule_naming_an_unknown_team_or_zone_is_refused() -> None:
    text = EXAMPLE.replace('team = "safety"', 'team = "safty"').replace(
        'zones = ["jkq"]\nkeywords', 'zones = ["kaifaqu"]\nkeywords'
    )
    assert problems_of(text) == [
        "routing[1].zones: 未知的园区 “kaifaqu” (unknown zone)",
        "routing[6].team: 未知的监督组 “safty” (unknown team)",
    ]


def test_a_wrong_track_lists_the_allowed_values() -> None:
    text = EXAMPLE.replace('track = "clue"', 'track = "secret"', 1)
    assert problems_of(text) == [
        "categories[soe_corruption].track: 取值无效，可选 'appeal' or 'clue' (invalid value)"
    ]


def test_a_missing_section_and_a_bad_prefix_are_both_reported() -> None:
    text = EXAMPLE.replace('case_prefix = "AJ"', 'case_prefix = "aj-"')
    text = text.replace('hotline = "0825-12388"', "")
    problems = problems_of(text)
    assert (
        "organisation.case_prefix: 应为1至8个大写英文字母 (1–8 upper-case letters), e.g. AJ"
        in problems
    )
    assert "organisation.hotline: 缺少必填项 (required key is missing)" in problems


def test_without_a_dispatcher_team_the_config_is_refused() -> None:
    text = EXAMPLE.replace("dispatcher = true", "dispatcher = false")
    assert problems_of(text) == [
        "teams: 需要恰好一个 dispatcher = true 的分办组（如信访室） (exactly one dispatcher team, found 0)"
    ]


def test_duplicate_codes_are_refused() -> None:
    text = EXAMPLE.replace('code = "yufeng"', 'code = "anju"')
    assert problems_of(text) == [
        "zones[anju]: 编码 “anju” 重复 (duplicate code)",
        "teams[business_env].zones: 未知的园区 “yufeng” (unknown zone)",
    ]


def test_broken_toml_syntax_gives_the_line() -> None:
    (problem,) = problems_of(EXAMPLE.replace('name = "安居区纪委监委"', 'name = "安居区纪委监委'))
    assert problem.startswith("(TOML): 文件格式错误 (syntax error)")
    assert "line" in problem


def test_a_missing_file_says_how_to_create_one(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as raised:
        load_config(tmp_path / "lianka.toml")
    assert "lianka init" in raised.value.render()


def test_calendar_overrides_are_read_as_dates() -> None:
    text = EXAMPLE + '\n[[calendar.days]]\ndate = 2027-01-01\nworkday = false\nname = "元旦"\n'
    config = parse_config(text, Path("x.toml"))
    (day,) = config.calendar.days
    assert (day.date.isoformat(), day.workday, day.name) == ("2027-01-01", False, "元旦")
