"""Lianka's sandbox: a Telegram Bot API emulator and a chat page to try the bot without Telegram."""

from sandbox.emulator import BotSpec, Emulator
from sandbox.faults import FaultPlan, RateLimits
from sandbox.personas import DEFAULT_PERSONAS, Persona
from sandbox.world import SandboxError, SandboxUser

__all__ = [
    "DEFAULT_PERSONAS",
    "BotSpec",
    "Emulator",
    "FaultPlan",
    "Persona",
    "RateLimits",
    "SandboxError",
    "SandboxUser",
]
