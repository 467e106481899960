"""Synthetic history for demos, screenshots and benchmarks (``lianka demo-data``).

A seeded plan (enterprises with valid 统一社会信用代码, cards and scans, cases over the categories,
zones and teams, and each case's life: assignment, 签收, progress, 延期, 办结, 回访, 重办, 督办,
withdrawal — some late, some still open and overdue at ``now``; a clue's 处置 by 集体研判 —
proposed, reviewed by the team leader, approved by a 委领导, each approved 谈话函询 / 初步核实 /
暂存待查 on its clock, some 初步核实 then 立案审查 with 1–3 people, some waiting for a decision;
重复件 of an enterprise's matter flagged and linked as the intake's check does, some merged
into the earlier case; 反馈整改 before an appeal's 办结 as 已整改 — what, which unit, within how
many working days, its 核验 mostly on time, some late, a few not passed once first, a few still
open and overdue at ``now``; 防打击报复回访 asked ``[aftercare] days`` after 办结, answered
没有, now and then left 未答复, rarely 有 — a 有 opens a 打击报复 clue by the same reporter,
linked to the first case, received in its place in the history, which keeps its size) is
written one of two ways:

- through the use cases (``demo.use_cases``): ``submit_case`` for every submission, then one small
  function per lifecycle step (``demo.steps.STEPS``) on a ``SessionLedger``;
- in bulk (``demo.bulk``), for large histories: the same submission mirrored in memory and the
  same step functions on a ``MemoryLedger``, inserted in batches.

The rows are the use cases' rows (a test compares both paths table by table), except surrogate
ids, ``cases.version`` (the optimistic-lock counter) and anonymous receipt hashes (random by
design).

Submissions and assignments go through the real use cases (``submit_case``, ``assign_case``).
The later steps (``STEPS``) write the case, event, clock, request, disposition and
rectification rows that the inspectors' use cases (``bot/services/``: ``acceptance``,
``resolution``, ``followup``, ``dispositions``, ``repeats``, ``rectification``, ``aftercare`` …)
and the deadline sweep (the 回访 question, 未答复) write, but not their notifications: a past history is news to
no one, and the outbox of a demo must not fill with thousands of messages to accounts that do
not exist. Those use cases also check who may act and load a fresh case each time; the steps act
as the assignee (the team leader and a 委领导 for a clue's review and approval, the team leader
for a merge) on the case in hand.

The package: ``plan`` (the seeded plan), ``world`` (people, enterprises, cards), ``steps`` (the
lifecycle steps and the ``Ledger`` they write to), ``use_cases`` and ``bulk`` (the two paths),
``generate`` (``generate_demo``). The bulk path's shortcuts, each held equal to the domain's
own function by ``tests/test_demo_shortcuts.py``: ``chain`` (events chained and hashed as
``models.event`` does), ``calendar`` (working days remembered), ``search`` (documents from texts
cut once); ``rows`` (plain objects, COPY); ``parallel`` (on PostgreSQL, the batches worked out
by one process a core while this one goes through the history dry); ``load`` (on PostgreSQL,
the tables filled in bulk without their non-unique indexes and foreign keys, made again and
validated at the end). Clocks move by the domain's rules (``models.clock.CaseClock``)
on either path. ``bot.cli`` may import this package; ``bot.services`` never does.
"""

from demo.generate import DemoSummary, NotEmpty, generate_demo

__all__ = ["DemoSummary", "NotEmpty", "generate_demo"]
