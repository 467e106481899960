"""The garbage collector's search for reference cycles, held off while deadline sweeps run
(``bot.services.sweep``)."""

from __future__ import annotations

import gc


class CyclesAfterwards:
    """The garbage collector's search for reference cycles held off while sweeps run, and
    resumed when the last one ends. A sweep makes some ten objects a clock (rows, plans,
    notices), nearly all freed by their reference counts as soon as they are done with; while it
    runs, the collector would walk them and every long-lived object of the process again and
    again (a sweep of 10,000 clocks: three full collections, about a tenth of its time). The
    sweep makes no cycles to speak of; whatever other code makes meanwhile is collected once the
    sweep is over. A process that turned the collector off itself is left as it is."""

    def __init__(self) -> None:
        self.running = 0
        self.paused = False

    def __enter__(self) -> None:
        if self.running == 0 and gc.isenabled():
            gc.disable()
            self.paused = True
        self.running += 1

    def __exit__(self, *_exc: object) -> None:
        self.running -= 1
        if self.running == 0 and self.paused:
            gc.enable()
            self.paused = False


cycles_afterwards = CyclesAfterwards()
"""The one each process's sweeps share."""
