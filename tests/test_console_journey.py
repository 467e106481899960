"""The office console, one working day, in Chromium at 1366×768 against ``lianka run`` as a
real process (the Bot API emulator stands in for Telegram).

A reporter reports in Telegram an issue no routing rule matches; the 信访室 dispatcher signs in
with a TOTP code, finds the case with the search box by three characters of its description and
routes it to the 重点项目建设 team; the team's inspector, who has no Telegram, signs for it in the
console, asks the reporter (who answers in Telegram), records progress and asks for 5 more
working days, which the team leader approves in the console; the inspector resolves it with an
amount, and the reporter is told in Telegram. A leader marks another case 督办; an admin
checks a CSV of enterprises with bad lines, imports the good one and downloads the printed batch.
A screenshot of every page is written to ``var/screenshots/console-journey/``."""

from __future__ import annotations

import asyncio
import json
import re
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

import pyotp
import pytest
from sqlalchemy import create_engine as create_sync_engine
from sqlalchemy import text

from sandbox import Emulator
from tests.cli_helpers import run_in_process
from tests.conftest import ROOT
from tests.live import STEP_WITHIN, LiankaProcess, lianka, prepared, report
from tests.test_e2e_journey import expect, newest
from tests.test_sandbox_page import CHROMIUM, CHROMIUM_ARGS, _need_browser

pytestmark = [pytest.mark.slow, pytest.mark.timeout(420)]

STEP_MS = 45_000  # only to stop a hang: one page through the process on a busy 2-core machine
WEB_SECRET = "console-journey-secret-0123456789abcdefghij"
PASSWORD = "a passphrase for the console"
SHOTS = ROOT / "var" / "screenshots" / "console-journey"
ROADWORKS = "园区道路施工占用企业唯一出入口已三个月，多次反映无人协调，货车无法进出。"
QUESTION = "请问道路施工是哪家单位负责的？"
ANSWER = "是园区城建公司，现场负责人姓刘。"
PROGRESS = "已约谈施工单位，要求三日内恢复临时通道。"
SUMMARY = "临时通道已恢复，施工单位承诺十日内完工并补偿企业误工损失。"
USCC_GOOD = "91510904MA6BTKT3Y"  # 17 characters; the check character is computed
CSV = (
    "企业名称,统一社会信用代码,园区,法定代表人\n"
    "遂宁安居示范机械有限公司,{good},安居经开区,张三\n"
    "遂宁安居错误代码有限公司,915109040000000000,安居经开区,李四\n"
    "遂宁安居火星有限公司,,火星园区,\n"
)


def _uscc(body: str) -> str:
    from models.enterprise import uscc_check_char

    return body + uscc_check_char(body)


async def report_in_telegram(
    emulator: Emulator, user_id: int, *, category: str, description: str
) -> str:
    """A reporter scans the demo card in Telegram and reports anonymously; the case number."""
    submitted = await report(emulator, user_id, category=category, description=description)
    found = re.search(r"AJ-\d{4}-\d{5}", submitted)
    assert found is not None
    return found.group(0)


async def create_account(env: dict[str, str], cwd: Path, *args: str) -> dict[str, Any]:
    """``lianka accounts create … --password-stdin --json``, as the server's admin types it (in
    the test process: ``tests.cli_helpers``)."""
    done = await asyncio.to_thread(
        run_in_process,
        ("accounts", "create", *args, "--password-stdin", "--json"),
        cwd=cwd,
        env=env,
        stdin=f"{PASSWORD}\n",
    )
    assert done.returncode == 0, done.stderr
    made: dict[str, Any] = json.loads(done.stdout)
    return made


class Desk:
    """One person at an office PC: a browser context of their own, signed in to the console."""

    def __init__(self, context: Any, base: str, who: str) -> None:
        self.context = context
        self.base = base
        self.who = who
        self.page: Any = None
        self.shots = 0

    async def sign_in(self, username: str, secret: str | None = None) -> None:
        from playwright.async_api import expect as see

        self.page = await self.context.new_page()
        await self.page.goto(f"{self.base}/console/login")
        await self.page.get_by_label("用户名").fill(username)
        await self.page.get_by_label("密码", exact=True).fill(PASSWORD)
        await self.shot("login")
        await self.page.get_by_role("button", name="登录").click()
        if secret is not None:
            await see(self.page.get_by_label("动态验证码")).to_be_visible()
            await self.shot("code")
            await self.page.get_by_label("动态验证码").fill(pyotp.TOTP(secret).now())
            await self.page.get_by_role("button", name="验证").click()
        await see(self.page.get_by_role("link", name="工作台")).to_be_visible()
        await self.shot("home")

    async def shot(self, name: str) -> None:
        self.shots += 1
        await self.page.screenshot(
            path=str(SHOTS / f"{self.who}-{self.shots:02d}-{name}.png"), full_page=True
        )
        width = await self.page.evaluate("document.documentElement.scrollWidth")
        assert width <= 1366, f"{self.who} {name}: the page is {width} px wide"

    async def open_case(self, number: str) -> None:
        """案件: the number in the search box, 查询, the case's page."""
        await self.search(number)
        await self.page.get_by_role("link", name=number).click()
        await self.page.get_by_role("heading", name=re.compile(number)).first.wait_for()

    async def search(self, words: str) -> None:
        await self.page.get_by_role("link", name="案件", exact=True).click()
        await self.page.locator("input[name=q]").fill(words)
        await self.page.get_by_role("button", name="查询").click()

    async def act(self, summary: str, fill: Callable[[Any], Awaitable[None]], button: str) -> None:
        """Open an action (its <details>), fill its form, press its button; the page says so."""
        form = self.page.locator("details", has=self.page.locator("summary", has_text=summary))
        await form.locator("summary").click()
        await fill(form)
        await form.get_by_role("button", name=button, exact=True).click()
        await self.page.locator(".notice").first.wait_for()

    async def reload_until(self, shown: str) -> None:
        for _ in range(int(STEP_WITHIN / 0.5)):
            if await self.page.get_by_text(shown).count():
                return
            await self.page.wait_for_timeout(500)
            await self.page.reload()
        raise AssertionError(f"{shown!r} never shown to {self.who}")


def rows(env: dict[str, str], sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = create_sync_engine(env["LIANKA_DATABASE_URL"].replace("+aiosqlite", ""))
    try:
        with engine.connect() as connection:
            return [tuple(row) for row in connection.execute(text(sql), params)]
    finally:
        engine.dispose()


async def test_the_console_works_a_case_from_dispatch_to_resolution_with_a_reporter_in_telegram(
    tmp_path: Path, emulator: Emulator
) -> None:
    _need_browser()
    from playwright.async_api import async_playwright

    SHOTS.mkdir(parents=True, exist_ok=True)
    for old in SHOTS.glob("*.png"):
        old.unlink()
    process = LiankaProcess(tmp_path, {})
    process.env = await prepared(
        tmp_path, emulator, LIANKA_PUBLIC_URL=process.url, LIANKA_WEB_SECRET=WEB_SECRET
    )
    env, cwd = process.env, tmp_path
    dispatcher = await create_account(env, cwd, "xinfang", "--role", "dispatcher", "--totp")
    await create_account(env, cwd, "qian", "--role", "team_leader", "--team", "key_projects")
    zhao = await create_account(env, cwd, "zhao", "--role", "inspector", "--team", "key_projects")
    leader = await create_account(env, cwd, "wangshuji", "--role", "leader", "--name", "王书记")
    admin = await create_account(env, cwd, "admin", "--role", "admin")
    await process.start()
    try:
        roadworks = await report_in_telegram(
            emulator, 7_100_101, category="其他", description=ROADWORKS
        )
        refund = await report_in_telegram(
            emulator, 7_100_102, category="营商环境", description="区住建局拖延退还履约保证金。"
        )
        reporter = emulator.user(7_100_101)
        assert rows(env, "SELECT t.code FROM cases c JOIN teams t ON t.id = c.team_id "
                    "WHERE c.number = :n", n=roadworks) == [("dispatch",)]  # fmt: skip
        async with async_playwright() as playwright:
            browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)

            async def desk(who: str) -> Desk:
                context = await browser.new_context(
                    viewport={"width": 1366, "height": 768}, locale="zh-CN", accept_downloads=True
                )
                context.set_default_timeout(STEP_MS)
                return Desk(context, process.url, who)

            # 信访室: finds the case by three characters of its description, routes it
            xinfang = await desk("dispatcher")
            await xinfang.sign_in("xinfang", dispatcher["totp_secret"])
            await xinfang.search("出入口")
            await xinfang.shot("search")
            await xinfang.page.get_by_role("link", name=roadworks).click()
            await xinfang.shot("case")

            async def to_key_projects(form: Any) -> None:
                await form.get_by_label("分办至").select_option(label="“重点项目建设”立项监督组")

            await xinfang.act("分办", to_key_projects, "分办")
            await xinfang.shot("routed")
            assert rows(env, "SELECT assignee_id, status FROM cases WHERE number = :n",
                        n=roadworks) == [(zhao["person"], "assigned")]  # fmt: skip

            # the inspector with no Telegram: 签收, 提问, 记录进展, 申请延期
            inspector = await desk("inspector")
            await inspector.sign_in("zhao")
            await inspector.page.get_by_role("link", name=roadworks).first.click()
            await inspector.shot("case")
            mark = newest(reporter)
            await inspector.page.get_by_role("button", name="签收").click()
            await inspector.page.locator(".notice").first.wait_for()
            await expect(reporter, "已受理", mark)

            async def question(form: Any) -> None:
                await form.get_by_label(re.compile("向反映人提问")).fill(QUESTION)

            mark = newest(reporter)
            await inspector.act("提问", question, "发送提问")
            await expect(reporter, QUESTION, mark)
            reporter.click("回复")
            reporter.send(ANSWER)
            await inspector.reload_until(ANSWER)
            await inspector.shot("answered")

            async def progress(form: Any) -> None:
                await form.get_by_label(re.compile("办理进展")).fill(PROGRESS)
                await form.get_by_label("告知反映人").check()

            mark = newest(reporter)
            await inspector.act("记录进展", progress, "记录进展")
            await expect(reporter, "恢复临时通道", mark)

            due_before = rows(env, "SELECT k.due_at FROM case_clocks k JOIN cases c ON "
                              "c.id = k.case_id WHERE c.number = :n AND k.kind = 'resolve'",
                              n=roadworks)  # fmt: skip

            async def five_days(form: Any) -> None:
                await form.get_by_label(re.compile("延期工作日数")).fill("5")
                await form.get_by_label("延期理由").fill("施工单位须报园区管委会研究补偿方案。")

            await inspector.act("申请延期", five_days, "提交延期申请")
            await inspector.shot("extension-asked")

            # the team leader approves in the console
            team_leader = await desk("team-leader")
            await team_leader.sign_in("qian")
            await team_leader.page.get_by_text("待我审批").first.wait_for()
            notices = team_leader.page.locator("section", has_text="通知").last
            assert roadworks in await notices.inner_text()  # no Telegram: told on the 工作台
            await team_leader.page.get_by_role("link", name=roadworks).first.click()
            await team_leader.shot("request")
            mark = newest(reporter)
            await team_leader.page.get_by_role("button", name="同意", exact=True).click()
            await team_leader.page.locator(".notice").first.wait_for()
            await team_leader.shot("approved")
            await expect(reporter, "延期", mark)
            due_after = rows(env, "SELECT k.due_at FROM case_clocks k JOIN cases c ON "
                             "c.id = k.case_id WHERE c.number = :n AND k.kind = 'resolve'",
                             n=roadworks)  # fmt: skip
            assert due_after != due_before

            # 办结 with the amount; the reporter hears it in Telegram
            async def resolved(form: Any) -> None:
                await form.get_by_label("办理结果").select_option(label="问题已解决")
                await form.get_by_label(re.compile("办理情况")).fill(SUMMARY)
                await form.get_by_label(re.compile("协调金额")).fill("12.5万")

            await inspector.page.reload()
            mark = newest(reporter)
            await inspector.act("办结", resolved, "办结")
            await inspector.shot("resolved")
            told = await expect(reporter, "已办结", mark)
            assert "12.5万元" in told
            assert rows(env, "SELECT status, amount_coordinated_yuan FROM cases WHERE number = :n",
                        n=roadworks) == [("resolved", 125_000)]  # fmt: skip

            # a leader marks another case 督办
            wang = await desk("leader")
            await wang.sign_in("wangshuji", leader["totp_secret"])
            await wang.open_case(refund)
            await wang.shot("case")

            async def supervise(form: Any) -> None:
                await form.get_by_label(re.compile("督办意见")).fill("请一周内反馈办理情况。")

            await wang.act("督办", supervise, "督办")
            await wang.shot("supervised")
            (supervised,) = rows(env, "SELECT supervised FROM cases WHERE number = :n", n=refund)
            assert bool(supervised[0])

            # an admin: a CSV with bad lines, then the good line, then the printed batch
            csv_file = tmp_path / "企业名单.csv"
            csv_file.write_bytes(CSV.format(good=_uscc(USCC_GOOD)).encode("gbk"))
            office = await desk("admin")
            await office.sign_in("admin", admin["totp_secret"])
            before = rows(env, "SELECT count(*) FROM enterprises")
            await office.page.get_by_role("link", name="联系卡", exact=True).click()
            await office.shot("cards")
            await office.page.get_by_role("link", name="导入企业名单（CSV）").click()
            await office.page.get_by_label("导入文件（CSV）").set_input_files(str(csv_file))
            await office.page.get_by_role("button", name="检查").click()
            await office.page.get_by_text("第 3 行").first.wait_for()
            await office.page.get_by_text("第 4 行").first.wait_for()
            await office.shot("import-checked")
            assert rows(env, "SELECT count(*) FROM enterprises") == before  # nothing written
            await office.page.get_by_role("button", name=re.compile("仅导入无误的行")).click()
            await office.page.get_by_text("发卡 1 张").wait_for()
            await office.shot("imported-to-print")  # the print form, the new batch chosen
            async with office.page.expect_download() as download_info:
                await office.page.get_by_role("button", name="下载打印文件（PDF）").click()
            download = await download_info.value
            saved = tmp_path / "cards.pdf"
            await download.save_as(str(saved))
            assert saved.read_bytes().startswith(b"%PDF")
            await browser.close()
        code, output = await lianka("audit", "verify", cwd=cwd, env=env)
        assert code == 0, output
        # every call was valid (before stopping: the stop's last getUpdates ends the waiting one)
        assert not emulator.stats.errors, emulator.stats.as_json()
    finally:
        exit_code = await process.stop()
    assert exit_code == 0, process.output()
