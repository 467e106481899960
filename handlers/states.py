"""The reporter's conversation states. The data beside them is JSON (it lives in the database)."""

from __future__ import annotations

from aiogram.fsm.state import State, StatesGroup


class Intake(StatesGroup):
    """反映问题: category → description → evidence → amount → identity → summary."""

    category = State()
    description = State()
    evidence = State()
    amount = State()
    identity = State()
    contact = State()  # 实名: the contact button, or typing the name
    name = State()
    phone = State()
    summary = State()


class Material(StatesGroup):
    """补充材料 to an open case: files and text until 完成."""

    collect = State()


class Track(StatesGroup):
    """/track without a code: waiting for the receipt code."""

    code = State()
