"""How netsword writes values for people: one price format everywhere (console, CLI, demo pages)."""

from __future__ import annotations

#: what a missing price is shown as
NO_PRICE = "—"


def format_price(value: float | None) -> str:
    """``¥1,299.00``; ``—`` when there is no price."""
    return NO_PRICE if value is None else f"¥{value:,.2f}"
