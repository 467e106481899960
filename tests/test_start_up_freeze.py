"""The server freezes what start-up built out of the collector's generations: full collections
then walk only what the work since made, and garbage made afterwards is still collected."""

from __future__ import annotations

import gc
import weakref

from bot.web_app import freeze_start_up


class _Node:
    def __init__(self) -> None:
        self.other: _Node | None = None


def test_start_up_objects_are_left_out_of_later_collections_and_new_cycles_still_freed() -> None:
    tracked_before = len(gc.get_objects())
    try:
        freeze_start_up()
        assert gc.get_freeze_count() >= tracked_before // 2
        assert len(gc.get_objects()) < tracked_before // 10
        first, second = _Node(), _Node()
        first.other, second.other = second, first  # a cycle only the collector frees
        gone = weakref.ref(first)
        del first, second
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()
