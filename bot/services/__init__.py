"""The use cases: one function per thing a person (or the clock) does, named as DESIGN.md names it.

Every casework use case re-reads the case and checks, from the database, who acts (role, team,
assignment) and where the case stands before it changes anything; then it writes the change,
its event and its notices in one transaction. The session comes first, then the one or two
things acted on; everything else is passed by name, and the configuration with the working-day
calendar travels as one ``policy`` (``policy.Policy``).

Where to look:

- reporters: ``reporters`` (opening a card, the greeting), ``intake`` (submitting a report),
  ``my_cases`` (我的问题, 补充材料, 撤回, 跟踪), ``followup`` (回访 and 重办; past the 重办 limit,
  the 委领导's decision), ``aftercare`` (防打击报复回访: asked after 办结, 有 opens a linked
  clue), ``tracking`` (the web tracking page by receipt code, on the same rules);
- routing: ``routing`` (分办 by the rules, 分派 to the least-loaded inspector; a 防打击报复回访
  clue never back to the first case's team nor to its assignee);
- casework: ``permissions`` (who may do what), ``acceptance`` (签收), ``progress`` (记录进展),
  ``relay`` (提问 and the reporter's answer), ``requests`` (退回 / 转办 / 延期 asked),
  ``decisions`` (the team leader's decisions on them), ``assignment`` (分办 / 分派 / 改派 by
  hand), ``resolution`` (办结, with 组长审核), ``rectification`` (反馈整改 and its 核验, which
  办结 waits for), ``supervision`` (督办, 督办回复, 超期通报),
  ``repeats`` (重复件 and 合并办理), ``dispositions`` (a clue's 处置 by 集体研判, 异议; read by
  ``clue_view``, counted by ``clue_figures``, which names ``reports.counts``; ``clue_lapse``:
  proposals that lapse on 改派, 转办, 退回 or 合并办理), ``materials`` (查看材料), with ``notices`` for
  what they tell the reporter and the inspectors;
- lists and people: ``case_lists``, ``inspectors`` (with ``deciders``: who decides a request),
  ``people``; deadlines: ``clocks``, ``sweep`` (its plans in ``sweep_plan``, written in batches
  by ``sweep_batch``, digests in ``sweep_digest``), ``agenda``, ``calendar``, ``schedule``; the
  rest: ``cards``, ``catalog``, ``reports``, ``audit``, ``updates``;
- 室组联动: ``assist`` (协办 teams: add, remove, 协办进展; who sees a case as 协办 is in
  ``case_lists``), ``assist_notices`` (the 协办 teams told of every change, in one listener);
- the office console: ``accounts`` (accounts, passwords, TOTP, lock-out, the sign-in log),
  ``console_sessions`` (who a console request acts as, 退出), ``console_home`` (工作台),
  ``case_search`` (案件 list and search), ``case_view`` (the 案件 page and its files;
  ``case_forms`` reads what its forms type),
  ``card_admin`` and ``people_admin`` (联系卡 and 人员 for admins), ``console_reports`` (报表),
  ``audit_runs`` (审计's 核验, run in the background, its progress and result kept) —
  the pages' reads; every action they offer is one of the casework use cases above.
"""

# The 协办 teams hear of every change of a case from one listener on the session's flush
# (``assist_notices``): registered whenever a use case can run.
from bot.services import assist_notices as assist_notices
