"""A router's messages gated in one check: a message that none of the router's handlers could take
goes on to the next router without each handler's filters being tried in turn.

aiogram tries a message on every handler of every router until one takes it: a reporter's
description, typed in the intake's state, was tried on some eighty handlers of the staff's and the
other journeys' routers first. Every message handler Lianka registers is taken only in some
conversation states (``StateFilter``) or only for some commands (``Command``): a router whose
handlers are all of these kinds gets a root filter (``MessageGate``) that lets through only a
message in one of those states or naming one of those commands, worked out from the handlers
themselves when the dispatcher is built (``gate_messages``). The gate lets through at least every
message a handler of the router would take (a necessary condition of each, never a sufficient
one), so which handler takes a message does not change; a router with a handler of any other kind
is left as it is.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from inspect import isclass

from aiogram import Router
from aiogram.dispatcher.event.handler import HandlerObject
from aiogram.filters import Command, Filter, StateFilter
from aiogram.fsm.state import State, StatesGroup
from aiogram.types import Message


class _Open(Exception):
    """A handler the gate cannot speak for: its router stays ungated."""


class MessageGate(Filter):
    """Lets a message through when the conversation's state is one of ``states`` (None: no
    state), or when its text (or caption) starts with a command whose prefix is one of
    ``prefixes`` and whose name, case aside, is one of ``commands`` (``any_command``: a handler
    matches commands by a pattern), read as aiogram's ``Command`` reads it. A ``Filter``, so
    that aiogram awaits it in the event loop."""

    __slots__ = ("any_command", "commands", "prefixes", "states")

    def __init__(
        self,
        states: frozenset[str | None],
        prefixes: str,
        commands: frozenset[str],
        *,
        any_command: bool = False,
    ) -> None:
        self.states = states
        self.prefixes = prefixes
        self.commands = commands
        self.any_command = any_command

    def __str__(self) -> str:
        return self._signature_to_string(
            states=sorted(self.states, key=str),
            prefixes=self.prefixes,
            commands=sorted(self.commands),
            any_command=self.any_command,
        )

    async def __call__(self, message: Message, raw_state: str | None = None) -> bool:
        if raw_state in self.states:
            return True
        if not self.prefixes:
            return False
        text = message.text or message.caption
        words = text.split(maxsplit=1) if text else None
        if not words or words[0][0] not in self.prefixes:
            return False
        if self.any_command:
            return True
        return words[0][1:].partition("@")[0].casefold() in self.commands


STATES = (State, StatesGroup)
"""What aiogram takes as a filter of states besides a ``StateFilter``: a state or a group of
states, each called with the conversation's state. (A group's class is taken only inside a
``StateFilter``: called as a filter of its own, it would be made, not asked.)"""


def _state_names(states: Iterable[object]) -> set[str | None]:
    names: set[str | None] = set()
    for state in states:
        if isinstance(state, State):
            state = state.state
        if state is None or (isinstance(state, str) and state != "*"):
            names.add(state)
        elif isinstance(state, StatesGroup):
            names.update(type(state).__all_states_names__)
        elif isclass(state) and issubclass(state, StatesGroup):
            names.update(state.__all_states_names__)
        else:  # "*" (any state), or a kind of state the gate does not know
            raise _Open
    return names


def _gate_of(handlers: Iterable[HandlerObject]) -> MessageGate:
    """The gate of a router whose message handlers are ``handlers``; ``_Open`` if one of them
    is taken neither only in some states nor only for some commands."""
    states: set[str | None] = set()
    prefixes: set[str] = set()
    commands: set[str] = set()
    any_command = False
    for handler in handlers:
        checks = [each.callback for each in handler.filters or ()]
        in_states = next((c for c in checks if isinstance(c, (StateFilter, *STATES))), None)
        command = next((c for c in checks if isinstance(c, Command)), None)
        if isinstance(in_states, StateFilter):
            states |= _state_names(in_states.states)
        elif in_states is not None:  # a state or a group registered as a filter of its own
            states |= _state_names([in_states])
        elif command is not None:
            prefixes.update(command.prefix)
            for name in command.commands:
                if isinstance(name, re.Pattern):
                    any_command = True
                else:
                    commands.add(name.casefold())
        else:
            raise _Open
    return MessageGate(
        frozenset(states), "".join(sorted(prefixes)), frozenset(commands), any_command=any_command
    )


def gate_messages(router: Router) -> None:
    """A ``MessageGate`` on the messages of every router under ``router`` that has message
    handlers, all of them taken only in some states or for some commands, and no routers of its
    own (a root filter would keep a message from those too)."""
    for each in router.chain_tail:
        observer = each.message
        if each.sub_routers or not observer.handlers:
            continue
        try:
            gate = _gate_of(observer.handlers)
        except _Open:
            continue
        observer.filter(gate)
