"""The configuration file: the shipped example is valid; every mistake is named, never a traceback."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from bot.config import ConfigError, load_config, parse_config
from models.org import Track
from models.routing import choose_team
from tests.conftest import ROOT

EXAMPLE = (ROOT / "lianka.example.toml").read_text(encoding="utf-8")


def with_old_jkq_rule(example: str) -> str:
    """The example as it shipped before issue 17: the rule 经开区资金返还 with zones and keywords
    but no categories, so it also routed clues to the business-environment team."""
    text, count = re.subn(
        r'(name = "经开区资金返还"\nteam = "business_env"\n)categories = \[[^\]]*\][^\n]*\n',
        r"\1",
        example,
    )
    assert count == 1, "the example's 经开区资金返还 rule has changed shape"
    return text


OLD_JKQ_PROBLEM = (
    "routing[1]: 分办规则 “经开区资金返还” 没有限定监督事项，会把问题线索（国资国企腐败、“四风”问题、打击报复）"
    "也分给 “营商环境”立项监督组（该组不办理问题线索）；请用 categories 列出该规则分办的监督事项"
    " (a rule without categories also routes clue categories: list its categories)"
)


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
    assert len(names) == 10  # the nine areas, and 打击报复 ([aftercare])
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


def test_the_old_jkq_rule_without_categories_is_refused_naming_it() -> None:
    assert problems_of(with_old_jkq_rule(EXAMPLE)) == [OLD_JKQ_PROBLEM]


def test_a_rule_sending_a_clue_category_to_a_team_without_clues_is_refused() -> None:
    text = EXAMPLE.replace(
        'name = "营商环境"\nteam = "business_env"\ncategories = ["business_env", "enterprise_policy"]',
        'name = "营商环境"\nteam = "business_env"\ncategories = ["business_env", "four_styles"]',
    )
    assert problems_of(text) == [
        "routing[2].categories: 分办规则 “营商环境” 把问题线索（“四风”问题）分给 “营商环境”立项监督组，"
        "但该组不办理问题线索；请分给办理问题线索的监督组"
        " (the rule sends clue categories to a team that handles no clues)"
    ]


def test_a_rule_without_categories_is_refused_even_for_a_team_that_handles_clues() -> None:
    text = EXAMPLE + '\n[[routing]]\nteam = "soe"\nzones = ["anju"]\n'
    assert problems_of(text) == [
        "routing[10]: 分办规则 “→soe” 没有限定监督事项，会把问题线索（国资国企腐败、“四风”问题、打击报复）也分给 "
        "“国资国企腐败”立项监督组；请用 categories 列出该规则分办的监督事项"
        " (a rule without categories also routes clue categories: list its categories)"
    ]


def test_clue_categories_may_be_routed_to_a_clue_team_or_the_dispatcher() -> None:
    text = EXAMPLE + (
        '\n[[routing]]\nname = "四风·国资"\nteam = "soe"\ncategories = ["four_styles"]\n'
        '\n[[routing]]\nname = "信访室"\nteam = "dispatch"\ncategories = ["soe_corruption"]\n'
    )
    assert len(parse_config(text, Path("x.toml")).routing) == 11


def test_the_example_routes_a_jkq_clue_about_refunds_to_its_clue_team() -> None:
    config = load_config(ROOT / "lianka.example.toml")

    def team(category: str) -> str:
        return choose_team(
            config.routing,
            category_code=category,
            zone_code="jkq",
            description="国企负责人截留企业扶持资金返还款。",
            dispatcher_code=config.dispatcher.code,
        ).team_code

    assert (team("soe_corruption"), team("four_styles")) == ("soe", "four_styles")
    assert team("other") == "business_env"  # an appeal about a refund still goes to the team
