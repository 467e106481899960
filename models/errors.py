"""Domain errors. Each carries a short Chinese message fit to show the person who caused it."""

from __future__ import annotations


class DomainError(Exception):
    """A business rule refused the action; ``message`` is shown to the user as is."""

    message: str = "操作未能完成，请稍后重试。"

    def __init__(self, message: str | None = None, *, detail: str | None = None) -> None:
        if message is not None:
            self.message = message
        self.detail = detail
        super().__init__(detail or self.message)


class NotFound(DomainError):
    message = "未找到相关记录。"


class PermissionDenied(DomainError):
    message = "您无权进行此操作。"


class InvalidTransition(DomainError):
    message = "该问题当前状态下不能进行此操作。"

    def __init__(self, current: str, target: str) -> None:
        self.current = current
        self.target = target
        super().__init__(detail=f"transition {current} -> {target} is not allowed")


class StaleAction(DomainError):
    message = "此操作已过期，请重新开始。"


class ConcurrentChange(DomainError):
    message = "该问题刚被他人处理过，请刷新后重试。"


class InvalidInput(DomainError):
    message = "输入内容不符合要求，请检查后重新输入。"
