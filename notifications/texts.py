"""Small helpers shared by templates' callers: shortening text people typed, naming reporters."""

from __future__ import annotations

PREVIEW_LIMIT = 600


def preview(text: str, limit: int = PREVIEW_LIMIT) -> str:
    """At most ``limit`` characters of a description, marking the cut."""
    text = text.strip()
    if len(text) <= limit:
        return text
    return text[:limit].rstrip() + "……（全文请点“查看材料”）"
