"""``python -m bot`` is ``lianka``."""

from bot.cli import main

main()
