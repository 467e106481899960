"""``lianka cards`` as an admin uses it: import a spreadsheet, see what failed, list, revoke, reissue."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import lianka

pytestmark = pytest.mark.slow

USCC = "91350100M000100Y43"
SHEET = (
    "企业名称,统一社会信用代码,园区,法定代表人\n"
    f"遂宁安居某某新材料科技有限公司,{USCC},安居经开区,张三\n"
    "安居区玉丰镇某某农业发展有限公司,,玉丰镇,\n"
    "校验位错误的企业,91350100M000100Y44,,\n"
    "园区不存在的企业,,火星,\n"
)


@pytest.fixture
def installed(tmp_path: Path) -> Path:
    assert lianka("init", cwd=tmp_path).returncode == 0
    return tmp_path


def test_every_cards_command_has_help(tmp_path: Path) -> None:
    for command in ("issue", "import", "list", "print", "revoke", "reissue"):
        result = lianka("cards", command, "--help", cwd=tmp_path)
        assert result.returncode == 0, result.stderr
        assert "Usage: lianka cards" in result.stdout
    import_help = lianka("cards", "import", "--help", cwd=tmp_path).stdout
    assert "1  some rows failed" in import_help
    assert "企业名称" in import_help


def test_a_gbk_sheet_with_bad_rows_imports_the_good_ones_and_exits_1(installed: Path) -> None:
    (installed / "名单.csv").write_bytes(SHEET.encode("gbk"))
    result = lianka("cards", "import", "名单.csv", cwd=installed)
    assert result.returncode == 1
    assert "已发卡 2 张（新建企业 2 家）" in result.stdout
    assert "失败 2 行" in result.stdout
    assert "│ 4    │ 统一社会信用代码校验位不正确" in result.stdout
    assert "│ 5    │ 未知的园区“火星”" in result.stdout
    assert "lianka cards print --batch 1" in result.stdout
    assert "Traceback" not in result.stderr

    again = lianka("cards", "import", "名单.csv", "--json", cwd=installed)
    assert again.returncode == 1
    report = json.loads(again.stdout)  # no progress bar mixed into the JSON
    assert report["encoding"] == "gbk"
    assert report["issued"] == []
    assert [row["line"] for row in report["already_carded"]] == [2, 3]
    assert [row["line"] for row in report["failed"]] == [4, 5]


def test_a_clean_sheet_exits_0_and_an_unreadable_one_exits_2(installed: Path) -> None:
    (installed / "ok.csv").write_text("name,zone\n安居某某公司,jkq\n", encoding="utf-8-sig")
    assert lianka("cards", "import", "ok.csv", cwd=installed).returncode == 0
    (installed / "bad.csv").write_text("公司,代码\n甲,1\n", encoding="utf-8")
    result = lianka("cards", "import", "bad.csv", cwd=installed)
    assert result.returncode == 2
    assert "缺少“企业名称”列" in result.stderr


def test_issue_revoke_reissue_and_list(installed: Path) -> None:
    env = {"LIANKA_BOT_USERNAME": "AnjuLiankaBot"}
    issued = json.loads(
        lianka(
            "cards", "issue", "--enterprise", "安居某某公司", "--zone", "ximei", "--json",
            cwd=installed, env=env,
        ).stdout
    )  # fmt: skip
    assert issued["issuing_unit"] == "西眉镇纪委"
    assert issued["link"] == f"https://t.me/AnjuLiankaBot?start={issued['token']}"
    second = lianka(
        "cards", "issue", "--enterprise", "安居某某公司", "--zone", "ximei", cwd=installed
    )
    assert second.returncode == 1
    assert f"lianka cards reissue {issued['id']}" in second.stderr

    reissued = lianka("cards", "reissue", str(issued["id"]), "--json", cwd=installed, env=env)
    assert reissued.returncode == 0, reissued.stderr
    new = json.loads(reissued.stdout)
    assert new["old_id"] == issued["id"] and new["token"] != issued["token"]
    revoked = lianka("cards", "revoke", str(new["id"]), cwd=installed)
    assert revoked.returncode == 0 and f"联系卡 {new['id']} 已作废" in revoked.stdout
    twice = lianka("cards", "revoke", str(new["id"]), cwd=installed)
    assert twice.returncode == 1 and "已作废" in twice.stderr

    listing = json.loads(lianka("cards", "list", "--json", cwd=installed, env=env).stdout)
    assert [(c["id"], c["status"], c["replaced_by"]) for c in listing] == [
        (issued["id"], "revoked", new["id"]),
        (new["id"], "revoked", None),
    ]
    assert listing[1]["link"] == new["link"]
    assert listing[0]["scans"] == 0 and listing[0]["last_scan"] is None
    people = lianka("cards", "list", "--status", "revoked", "--zone", "西眉镇", cwd=installed)
    assert people.returncode == 0 and "已作废" in people.stdout


def test_listing_cards_loads_neither_aiogram_nor_the_pdf_library(installed: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "bot", "cards", "list", "--json"],
        cwd=installed,
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = {line.rsplit("|", 1)[-1].strip() for line in result.stderr.splitlines()}
    assert "sqlmodel" in loaded  # the measurement works
    assert not {name for name in loaded if name.split(".")[0] in ("aiogram", "fpdf", "PIL")}
